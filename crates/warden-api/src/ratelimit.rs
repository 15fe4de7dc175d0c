//! Rate limits: a token bucket (GCRA) per client IP, checked before authentication so a
//! flood of bad credentials is throttled too, and one per principal, checked after.
//! Over the limit: 429 with `Retry-After`, counted in `warden_rate_limited_total` by scope
//! (`ip` or `principal`).
//!
//! The client IP is the connection's peer address. Only when the peer is a configured
//! trusted proxy is `X-Forwarded-For` read (its rightmost address that is not itself a
//! trusted proxy), so a client cannot choose its own bucket by sending the header.
//! IPv6 clients are bucketed by their /64, the unit an ISP hands out.

use std::{
    net::{IpAddr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use ipnet::IpNet;

use crate::{error::ApiError, metrics::RateLimitScope};

/// Rate-limit settings. A limit of 0 turns that limiter off.
#[derive(Debug, Clone, Default)]
pub struct RateLimitConfig {
    /// Requests per minute from one client IP (default 600).
    pub per_ip_per_minute: u32,
    /// Requests per minute by one principal (default 1200).
    pub per_principal_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl RateLimitConfig {
    pub fn standard() -> Self {
        Self {
            per_ip_per_minute: 600,
            per_principal_per_minute: 1200,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The client's address as warden sees it (after trusted-proxy resolution).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

pub struct Limiters {
    ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    principal: Option<DefaultKeyedRateLimiter<String>>,
    trusted: Vec<IpNet>,
    calls: AtomicU64,
}

/// A quota of `per_minute` with a burst of a quarter minute's worth.
fn quota(per_minute: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new((per_minute / 4).max(1)).expect("at least 1");
    Some(Quota::per_minute(rate).allow_burst(burst))
}

impl Limiters {
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            ip: quota(config.per_ip_per_minute).map(RateLimiter::keyed),
            principal: quota(config.per_principal_per_minute).map(RateLimiter::keyed),
            trusted: config.trusted_proxies.clone(),
            calls: AtomicU64::new(0),
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// The client IP of a request from `peer` carrying `forwarded` (`X-Forwarded-For`).
    pub fn client_ip(&self, peer: IpAddr, forwarded: Option<&str>) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return peer;
        }
        // From the right: skip our own proxies; the first other hop is the client. A hop
        // that is not an address stops the walk (never skip past it: what lies left of it
        // is the client's to write), and the peer stands for the client.
        for hop in forwarded.into_iter().flat_map(|f| f.rsplit(',')) {
            match parse_hop(hop) {
                Some(ip) if self.is_trusted(ip) => continue,
                Some(ip) => return ip,
                None => return peer,
            }
        }
        peer
    }

    /// Ok, or the 429 to answer.
    pub(crate) fn check_principal(&self, principal: &str) -> Result<(), ApiError> {
        match &self.principal {
            Some(l) => l.check_key(&principal.to_owned()).map_err(|n| {
                RateLimitScope::Principal.count();
                too_many(
                    "this principal",
                    n.wait_time_from(DefaultClock::default().now()),
                )
            }),
            None => Ok(()),
        }
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        // Keyed state grows with clients: forget idle ones now and then.
        if self.calls.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            if let Some(l) = &self.ip {
                l.retain_recent();
            }
            if let Some(l) = &self.principal {
                l.retain_recent();
            }
        }
        match &self.ip {
            Some(l) => l.check_key(&bucket(ip)).map_err(|n| {
                RateLimitScope::Ip.count();
                too_many(
                    "this address",
                    n.wait_time_from(DefaultClock::default().now()),
                )
            }),
            None => Ok(()),
        }
    }
}

/// One `X-Forwarded-For` hop: an address, with or without a port (`1.2.3.4:5555`,
/// `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// IPv6 addresses share a bucket per /64.
pub(crate) fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

fn too_many(who: &str, wait: std::time::Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::too_many(
        format!("too many requests from {who}; retry after {secs} s"),
        secs.max(1),
    )
}

/// Resolves the client IP (stored for handlers and the audit trail) and applies the
/// per-IP limit.
pub(crate) async fn limit_by_ip(
    State(limiters): State<Arc<Limiters>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        // Every `X-Forwarded-For` line, in order: a proxy may append its own line rather
        // than extend the client's, and the rightmost hops are the ones to believe.
        // A line that is not text becomes a hop that is not an address: it stops the walk.
        let lines: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().unwrap_or("?"))
            .collect();
        let forwarded = (!lines.is_empty()).then(|| lines.join(","));
        let ip = limiters.client_ip(peer, forwarded.as_deref());
        request.extensions_mut().insert(ClientIp(ip));
        if let Err(e) = limiters.check_ip(ip) {
            tracing::debug!(client.ip = %ip, "rate limited");
            return e.into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let l = Limiters::new(&RateLimitConfig {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..RateLimitConfig::standard()
        });
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        // An untrusted peer's header is ignored.
        assert_eq!(l.client_ip(client, Some("1.2.3.4")), client);
        // Through the proxy: the rightmost untrusted hop (a client-sent prefix is ignored).
        assert_eq!(l.client_ip(proxy, Some("6.6.6.6, 203.0.113.7")), client);
        assert_eq!(l.client_ip(proxy, Some("203.0.113.7, 10.9.9.9")), client);
        assert_eq!(l.client_ip(proxy, None), proxy);
        assert_eq!(l.client_ip(proxy, Some("garbage")), proxy);
        // A hop that is not an address is never skipped past; ports are tolerated.
        assert_eq!(l.client_ip(proxy, Some("6.6.6.6, unknown")), proxy);
        assert_eq!(l.client_ip(proxy, Some("6.6.6.6, ?, 203.0.113.7")), client);
        assert_eq!(
            l.client_ip(proxy, Some("6.6.6.6, 203.0.113.7:5555")),
            client
        );
        assert_eq!(
            l.client_ip(proxy, Some("[2001:db8::1]:443")),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        // IPv4-mapped IPv6 peers are their IPv4 address.
        assert_eq!(
            l.client_ip("::ffff:203.0.113.7".parse().unwrap(), None),
            client
        );
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64_and_limits_refuse_with_a_wait() {
        let l = Limiters::new(&RateLimitConfig {
            per_ip_per_minute: 8,
            per_principal_per_minute: 4,
            trusted_proxies: vec![],
        });
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2::ffff".parse().unwrap();
        assert!(l.check_ip(a).is_ok() && l.check_ip(b).is_ok());
        let refused = l.check_ip(a).unwrap_err();
        assert_eq!(refused.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.retry_after.unwrap() >= 1);
        assert!(l.check_ip("2001:db8:1:3::1".parse().unwrap()).is_ok());
        assert!(l.check_principal("alice").is_ok());
        assert!(l.check_principal("alice").is_err());
        assert!(l.check_principal("bob").is_ok());
        let off = Limiters::new(&RateLimitConfig::default());
        for _ in 0..100 {
            assert!(off.check_ip(a).is_ok() && off.check_principal("x").is_ok());
        }
    }
}
