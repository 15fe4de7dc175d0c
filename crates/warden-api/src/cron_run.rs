//! `/cron/run`'s guard: its configuration, its tokens and its limiters, checked before
//! the engine's locked tick ([`warden_engine::Ticker::tick_locked`]). The route, its
//! answers and its records are `routes/cron_run.rs`.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use axum::http::HeaderMap;
use governor::{
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter, clock::QuantaInstant,
};
use ipnet::IpNet;
use warden_engine::Ticker;
use warden_security::envkey::StaticKey;

use crate::{
    auth::{NotBearer, bearer},
    ratelimit::bucket,
};

/// How `/cron/run` is guarded and how long it may work.
pub struct CronConfig {
    /// Accepted tokens (at least 32 characters each, see [`StaticKey`]).
    pub tokens: Vec<StaticKey>,
    /// Accept `?token=` as well as the `Authorization` header (off by default: URLs end up
    /// in proxy and provider logs).
    pub allow_query_token: bool,
    /// When not empty, only these networks may call.
    pub allow_ips: Vec<IpNet>,
    /// Calls allowed per [`Self::rate_window`] (0: no limit).
    pub rate_limit: u32,
    pub rate_window: Duration,
    /// Time allowed to dispatch due jobs before answering.
    pub budget: Duration,
    /// How long the single-flight lock lives if its holder dies.
    pub lock_ttl: Duration,
}

impl CronConfig {
    /// The defaults of issue 5: 10 calls per 10 minutes, a 10 s budget, a 600 s lock.
    pub fn new(tokens: Vec<StaticKey>) -> Self {
        Self {
            tokens,
            allow_query_token: false,
            allow_ips: Vec::new(),
            rate_limit: 10,
            rate_window: Duration::from_secs(600),
            budget: Duration::from_secs(10),
            lock_ttl: Duration::from_secs(600),
        }
    }
}

/// The endpoint's configuration, limiters and the engine's ticker.
pub struct CronTrigger<S> {
    pub(crate) config: CronConfig,
    pub(crate) ticker: Ticker<S>,
    calls: Option<DefaultDirectRateLimiter>,
    guesses: Option<DefaultKeyedRateLimiter<IpAddr>>,
    guess_calls: AtomicU64,
}

/// A spent bucket: when it has room again.
pub(crate) type Spent = governor::NotUntil<QuantaInstant>;

impl<S> CronTrigger<S> {
    pub fn new(config: CronConfig, ticker: Ticker<S>) -> Self {
        let quota = NonZeroU32::new(config.rate_limit).map(|n| {
            let period = (config.rate_window / n.get()).max(Duration::from_millis(1));
            Quota::with_period(period)
                .expect("a period of at least 1 ms")
                .allow_burst(n)
        });
        Self {
            calls: quota.map(RateLimiter::direct),
            guesses: quota.map(RateLimiter::keyed),
            guess_calls: AtomicU64::new(0),
            config,
            ticker,
        }
    }

    /// Whether `ip` may call: every address when the allowlist is empty, else one inside
    /// it (an unknown address is refused).
    pub(crate) fn allows(&self, ip: Option<IpAddr>) -> bool {
        let allow = &self.config.allow_ips;
        allow.is_empty() || ip.is_some_and(|ip| allow.iter().any(|n| n.contains(&ip)))
    }

    /// Spends one failed guess of `ip`'s bucket (IPv6 per /64, as the API's limiter).
    pub(crate) fn check_guess(&self, ip: IpAddr) -> Result<(), Spent> {
        let Some(guesses) = &self.guesses else {
            return Ok(());
        };
        // The per-address state grows with guessers: forget the idle ones now and then.
        if self.guess_calls.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            guesses.retain_recent();
        }
        guesses.check_key(&bucket(ip))
    }

    /// Spends one call of the endpoint's own quota, shared by every authenticated caller.
    pub(crate) fn check_call(&self) -> Result<(), Spent> {
        self.calls.as_ref().map_or(Ok(()), |calls| calls.check())
    }

    /// The presented token (`Authorization: Bearer …`, else `?token=` when
    /// [`CronConfig::allow_query_token`]), or why there is none usable. Never logs or
    /// echoes it.
    pub(crate) fn presented<'a>(
        &self,
        headers: &'a HeaderMap,
        query: Option<&'a str>,
    ) -> Result<&'a str, &'static str> {
        if let Some(token) = bearer(headers) {
            return token.map_err(NotBearer::reason);
        }
        let from_query = query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("token="));
        match from_query {
            Some(_) if !self.config.allow_query_token => {
                Err("a ?token= was sent but query tokens are not allowed (cron.allow_query_token)")
            }
            // Tokens are URL-safe (`openssl rand -hex 32`); an encoded one is matched as sent.
            Some(token) => Ok(token),
            None => Err("no token was sent"),
        }
    }

    /// Whether `presented` is one of the tokens. Every token is compared (no early exit),
    /// each in constant time.
    pub(crate) fn accepts(&self, presented: &str) -> bool {
        self.config
            .tokens
            .iter()
            .fold(false, |found, token| token.matches(presented) | found)
    }
}
