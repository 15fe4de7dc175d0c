//! Refused requests recorded without amplification: from one client address, the first
//! refusals of each window are recorded in full and the rest are counted into one
//! summary row when the window ends, so a flood of bad credentials cannot grow the
//! database by a row per request.
//!
//! # Model
//! Two channels: API authentication failures go to the audit trail (`auth.failure`,
//! summaries `auth.failure.repeated`), `/cron/run` refusals to `cron_runs` (a summary
//! keeps the refusal's outcome). An address is an IPv4 address or an IPv6 /64, as the
//! rate limiter counts them. A window opens with an address's first refusal and lasts
//! [`RefusalLimits::window`]; its first [`RefusalLimits::recorded_per_window`] refusals are
//! recorded as they happen, the rest only counted. When the first of them is counted a
//! task is started that writes the summary (how many, from when to when, the last one's
//! reason, path and user agent) once the window has ended.
//!
//! # Limits and failure
//! At most [`RefusalLimits::max_addresses`] addresses are tracked at once; beyond, further
//! addresses share one window of their own (summaries name no address). The windows
//! live in each process's memory: several processes each keep their own, and the counts
//! of a window still open when a process stops are lost (its first refusals are
//! recorded). Metrics (`warden_auth_failures_total`, `warden_cron_runs_total`) count
//! every refusal.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};
use warden_core::{AuditAction, CronRunOutcome};

use jiff::Timestamp;
use tokio::time::Instant;
use warden_store::{AuditRecord, CronRunRecord, Store};

use crate::{AppState, ratelimit::bucket};

/// How refusals are aggregated. Defaults: windows of 60 s, 5 recorded in full per
/// address and window, 10 000 addresses tracked.
#[derive(Debug, Clone)]
pub struct RefusalLimits {
    pub window: Duration,
    pub recorded_per_window: u32,
    pub max_addresses: usize,
}

impl Default for RefusalLimits {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            recorded_per_window: 5,
            max_addresses: 10_000,
        }
    }
}

/// Where a refusal is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Channel {
    Audit,
    /// `cron_runs`, by outcome (`unauthorized`, `forbidden`, `limited`).
    Cron(CronRunOutcome),
}

/// A refusal as it would be recorded in full.
#[derive(Debug, Clone)]
enum Refused {
    Audit(AuditRecord),
    Cron(CronRunRecord),
}

/// Which window a refusal falls in: its channel and the client's address (`None`: not
/// known, or past the tracked ones).
type Key = (Channel, Option<IpAddr>);

struct Window {
    ends: Instant,
    /// Refusals in this window, recorded or counted.
    seen: u64,
    /// The counted (unrecorded) refusals: how many, the first's time, the last one.
    counted: u64,
    first_counted_at: Option<Timestamp>,
    last: Option<Refused>,
}

/// What to do with one refusal.
enum Verdict {
    Record,
    /// Counted; when this is the window's first counted refusal, the summary of this
    /// window (key) is due at this instant.
    Counted(Option<(Instant, Key)>),
}

/// The windows of every address, shared by the routes of one router.
pub(crate) struct RefusalLog {
    limits: RefusalLimits,
    windows: Mutex<HashMap<Key, Window>>,
}

impl RefusalLog {
    pub(crate) fn new(limits: RefusalLimits) -> Self {
        Self {
            limits,
            windows: Mutex::default(),
        }
    }

    /// Places `refused` in its window; returns the verdict, and the summary of an ended
    /// window of the same key that was not written yet (written by the caller).
    fn admit(
        &self,
        channel: Channel,
        ip: Option<IpAddr>,
        refused: &Refused,
    ) -> (Verdict, Option<Refused>) {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("refusal windows");
        let mut key = (channel, ip.map(bucket));
        if !windows.contains_key(&key) && windows.len() >= self.limits.max_addresses {
            // Forget ended windows with nothing left to write, then fall back to the
            // shared window if there is still no room.
            windows.retain(|_, w| w.ends > now || w.counted > 0);
            if windows.len() >= self.limits.max_addresses {
                key = (channel, None);
            }
        }
        let mut ended = None;
        if windows.get(&key).is_some_and(|w| w.ends <= now) {
            ended = windows.remove(&key).and_then(|w| summary(&w));
        }
        let window = windows.entry(key).or_insert_with(|| Window {
            ends: now + self.limits.window,
            seen: 0,
            counted: 0,
            first_counted_at: None,
            last: None,
        });
        window.seen += 1;
        if window.seen <= u64::from(self.limits.recorded_per_window) {
            return (Verdict::Record, ended);
        }
        window.counted += 1;
        let at = at_of(refused);
        window.first_counted_at.get_or_insert(at);
        window.last = Some(refused.clone());
        let due = (window.counted == 1).then_some((window.ends, key));
        (Verdict::Counted(due), ended)
    }

    /// The summary of `key`'s window if it has ended, removing it.
    fn take_ended(&self, key: Key) -> Option<Refused> {
        let mut windows = self.windows.lock().expect("refusal windows");
        if windows.get(&key).is_some_and(|w| w.ends <= Instant::now()) {
            return windows.remove(&key).and_then(|w| summary(&w));
        }
        None
    }
}

fn at_of(refused: &Refused) -> Timestamp {
    match refused {
        Refused::Audit(r) => r.at,
        Refused::Cron(r) => r.at,
    }
}

/// The row that stands for a window's counted refusals: the last one's, saying how many
/// it stands for.
fn summary(window: &Window) -> Option<Refused> {
    let last = window.last.clone()?;
    let first = window.first_counted_at?;
    let what = format!(
        "refusals counted, not recorded one by one: {} from this address (IPv6: its /64) between {first} and {}",
        window.counted,
        at_of(&last)
    );
    Some(match last {
        Refused::Audit(mut r) => {
            r.action = AuditAction::AuthFailureRepeated;
            r.request_id = None;
            r.detail = Some(match r.detail {
                Some(reason) => format!("{what}; the last one's reason: {reason}"),
                None => what,
            });
            Refused::Audit(r)
        }
        Refused::Cron(mut r) => {
            r.request_id = None;
            r.duration_ms = 0;
            r.detail = Some(match r.detail {
                Some(reason) => format!("{what}; the last one's reason: {reason}"),
                None => what,
            });
            Refused::Cron(r)
        }
    })
}

/// Records an authentication failure (in full, or counted into its window's summary).
pub(crate) async fn record_audit<S: Store>(
    state: &AppState<S>,
    log: Option<&Arc<RefusalLog>>,
    record: AuditRecord,
) {
    let ip = record.client_ip.as_deref().and_then(|ip| ip.parse().ok());
    place(state, log, Channel::Audit, ip, Refused::Audit(record)).await;
}

/// Records a refused `/cron/run` call (its outcome `unauthorized`, `forbidden` or
/// `limited`); returns its `cron_runs` id (0 when it was only counted, or could not be
/// written).
pub(crate) async fn record_cron<S: Store>(
    state: &AppState<S>,
    log: Option<&Arc<RefusalLog>>,
    record: CronRunRecord,
) -> i64 {
    let ip = record.client_ip.as_deref().and_then(|ip| ip.parse().ok());
    place(
        state,
        log,
        Channel::Cron(record.outcome),
        ip,
        Refused::Cron(record),
    )
    .await
}

/// Writes `refused` if its window still records in full, else counts it (starting the
/// task that writes the window's summary when it is the first counted).
async fn place<S: Store>(
    state: &AppState<S>,
    log: Option<&Arc<RefusalLog>>,
    channel: Channel,
    ip: Option<IpAddr>,
    refused: Refused,
) -> i64 {
    let Some(log) = log else {
        return write(state, refused).await;
    };
    let (verdict, ended) = log.admit(channel, ip, &refused);
    if let Some(summary) = ended {
        write(state, summary).await;
    }
    match verdict {
        Verdict::Record => write(state, refused).await,
        Verdict::Counted(None) => 0,
        Verdict::Counted(Some((due, key))) => {
            let (state, log) = (state.clone(), log.clone());
            tokio::spawn(async move {
                tokio::time::sleep_until(due).await;
                if let Some(summary) = log.take_ended(key) {
                    write(&state, summary).await;
                }
            });
            0
        }
    }
}

/// Writes one row; returns the `cron_runs` id (0 for the audit trail, or on failure:
/// the failure is logged, the request's answer stands).
async fn write<S: Store>(state: &AppState<S>, refused: Refused) -> i64 {
    match refused {
        Refused::Audit(record) => {
            state.audit(vec![record]).await;
            0
        }
        Refused::Cron(record) => warden_engine::record_cron_run(&*state.store, record).await,
    }
}

#[cfg(test)]
mod tests {
    use warden_core::AuditOutcome;

    use super::*;

    fn refusal(ip: &str) -> (Option<IpAddr>, Refused) {
        let mut record = warden_store::AuditContext::default().record(
            Timestamp::now(),
            AuditAction::AuthFailure,
            None,
            AuditOutcome::Unauthenticated,
        );
        record.client_ip = Some(ip.into());
        record.detail = Some("unknown key".into());
        (ip.parse().ok(), Refused::Audit(record))
    }

    fn verdict(log: &RefusalLog, ip: &str) -> Verdict {
        let (ip, refused) = refusal(ip);
        let (verdict, ended) = log.admit(Channel::Audit, ip, &refused);
        assert!(ended.is_none());
        verdict
    }

    #[test]
    fn each_address_records_its_first_refusals_and_counts_the_rest_within_the_tracked_ones() {
        let log = RefusalLog::new(RefusalLimits {
            window: Duration::from_secs(3600),
            recorded_per_window: 1,
            max_addresses: 2,
        });
        assert!(matches!(verdict(&log, "203.0.113.7"), Verdict::Record));
        // The first counted one schedules the summary; later ones only count.
        assert!(matches!(
            verdict(&log, "203.0.113.7"),
            Verdict::Counted(Some(_))
        ));
        assert!(matches!(
            verdict(&log, "203.0.113.7"),
            Verdict::Counted(None)
        ));
        // An IPv6 /64 is one address.
        assert!(matches!(verdict(&log, "2001:db8:1:2::1"), Verdict::Record));
        assert!(matches!(
            verdict(&log, "2001:db8:1:2::ffff"),
            Verdict::Counted(Some(_))
        ));
        // Two addresses are tracked: further ones share one window.
        assert!(matches!(verdict(&log, "198.51.100.1"), Verdict::Record));
        assert!(matches!(
            verdict(&log, "198.51.100.2"),
            Verdict::Counted(Some(_))
        ));
        assert_eq!(log.windows.lock().unwrap().len(), 3);
        // Nothing is written before a window ends.
        assert!(
            log.take_ended((Channel::Audit, "203.0.113.7".parse().ok()))
                .is_none()
        );
    }

    #[test]
    fn an_ended_window_becomes_one_summary_of_its_counted_refusals() {
        let log = RefusalLog::new(RefusalLimits {
            window: Duration::ZERO,
            recorded_per_window: 0,
            max_addresses: 10,
        });
        let (ip, refused) = refusal("203.0.113.7");
        let (Verdict::Counted(Some((_, key))), None) = log.admit(Channel::Audit, ip, &refused)
        else {
            panic!("the refusal was not counted");
        };
        let Some(Refused::Audit(summary)) = log.take_ended(key) else {
            panic!("no summary");
        };
        assert_eq!(summary.action, AuditAction::AuthFailureRepeated);
        assert_eq!(summary.client_ip.as_deref(), Some("203.0.113.7"));
        let detail = summary.detail.unwrap();
        assert!(
            detail.starts_with("refusals counted, not recorded one by one: 1 from"),
            "{detail}"
        );
        assert!(
            detail.ends_with("the last one's reason: unknown key"),
            "{detail}"
        );
        assert!(log.take_ended(key).is_none(), "written twice");
    }
}
