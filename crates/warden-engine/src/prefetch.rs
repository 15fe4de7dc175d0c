//! Claiming ahead: how many jobs a producer holds beyond its free slots, and the jobs it
//! holds claimed but not yet started.
//!
//! # Why
//! With short jobs a slot frees up long before a claim's round trip ends, so a producer
//! that claims only for its free slots runs at about `concurrency ÷ claim latency` jobs a
//! second: ten slots and a 5 ms claim make 2,000 jobs/s, however fast the database is.
//! Holding a few claimed jobs ready keeps every slot busy while the next claim travels,
//! and makes claims large (one statement, one commit, for many jobs).
//!
//! # How far ahead
//! As far as the slots can use during one claim's round trip, doubled for headroom: each
//! slot runs `claim latency ÷ job duration` jobs while a claim travels, so the producer
//! holds up to `2 × concurrency × claim latency ÷ job duration` waiting jobs (both
//! latencies are moving averages), and never more than
//! `concurrency × EngineConfig::prefetch_per_slot`. Jobs of a second or more beside a
//! claim of a few milliseconds give less than one: a producer of slow jobs claims only
//! for its free slots, as before, and never hoards work that another process could start.
//! Until both averages are known nothing is held ahead.
//!
//! # Leases
//! A claim starts every job's lease, so a held job must never outlive it: the producer's
//! heartbeat extends held jobs with running ones, a held job cancelled or rescued
//! elsewhere (missing from the heartbeat's answer) is dropped, and a held job whose
//! lease has passed (heartbeats failing) is dropped unstarted rather than run without
//! its lease; the rescuer returns it. On shutdown, or when the queue is paused, held jobs
//! are released at once (the attempt is not counted); after a crash their leases expire
//! and the rescuer returns them, like running jobs.
//!
//! # Jobs claimed before they are due
//! A claim also takes jobs due within [`EARLY_CLAIM`] (a cron occurrence recorded ahead of
//! its instant, a delayed job about to come due), so that the claim's round trip is over
//! by the instant. Such a job waits in `later` until its `run_at`, then joins the ready
//! ones; the producer sleeps no longer than until the earliest of them. Its lease, like
//! every held job's, is kept by the heartbeat.

use std::{
    collections::{HashSet, VecDeque},
    time::Duration,
};

use jiff::Timestamp;
use warden_core::JobId;
use warden_store::ClaimedJob;

/// Weight of the newest sample in the moving averages.
const SMOOTHING: f64 = 0.2;
/// Headroom over what the slots use during one claim's round trip.
const HEADROOM: f64 = 2.0;
/// How long before its `run_at` a job may be claimed: longer than claiming every job due
/// at one instant takes (ten thousand cron occurrences are ten claims of a full batch,
/// 30–150 ms each on a loaded PostgreSQL, two in flight: up to 750 ms was measured; with
/// 500 ms the last batches came after the instant), so that they are all held by then;
/// short enough that a job is not kept from another process for long, and the job shows
/// `running` at most this early.
pub(crate) const EARLY_CLAIM: Duration = Duration::from_secs(1);

/// Moving averages of how long jobs run and how long a claim takes.
#[derive(Debug, Default)]
pub(crate) struct Pace {
    job_secs: Option<f64>,
    claim_secs: Option<f64>,
}

fn average(old: Option<f64>, sample: Duration) -> Option<f64> {
    let x = sample.as_secs_f64();
    Some(old.map_or(x, |avg| avg + SMOOTHING * (x - avg)))
}

impl Pace {
    pub(crate) fn job_ran(&mut self, took: Duration) {
        self.job_secs = average(self.job_secs, took);
    }

    pub(crate) fn claim_answered(&mut self, took: Duration) {
        self.claim_secs = average(self.claim_secs, took);
    }

    /// How many jobs to hold beyond the running ones, at most `cap`.
    pub(crate) fn ahead(&self, concurrency: usize, cap: usize) -> usize {
        let (Some(job), Some(claim)) = (self.job_secs, self.claim_secs) else {
            return 0;
        };
        // A job that takes no measurable time is as short as can be: hold the cap.
        let per_slot = claim / job.max(1e-9);
        let want = (HEADROOM * concurrency as f64 * per_slot).ceil();
        if want >= cap as f64 {
            cap
        } else {
            want as usize
        }
    }
}

/// A job claimed but not started, and how long its lease holds.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) job: ClaimedJob,
    pub(crate) lease_until: Timestamp,
}

/// The jobs held ahead: those due, in the order the queue would hand them out (higher
/// priority first, then the earlier `run_at`: a claim's answer comes in no particular
/// order, and a later claim may bring a more urgent job), and those claimed before they
/// are due, earliest first.
#[derive(Debug, Default)]
pub(crate) struct Holding {
    ready: VecDeque<Held>,
    later: VecDeque<Held>,
}

impl Holding {
    pub(crate) fn len(&self) -> usize {
        self.ready.len() + self.later.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.later.is_empty()
    }

    /// Holds claimed jobs: due ones (by `now`) ready to start, the others until their
    /// `run_at`.
    pub(crate) fn hold(&mut self, jobs: Vec<ClaimedJob>, lease_until: Timestamp, now: Timestamp) {
        let (ready, later): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .map(|job| Held { job, lease_until })
            .partition(|h| h.job.run_at <= now);
        if !later.is_empty() {
            self.later.extend(later);
            self.later.make_contiguous().sort_by_key(|h| h.job.run_at);
        }
        self.ready.extend(ready);
        self.sort_ready();
    }

    fn sort_ready(&mut self) {
        self.ready
            .make_contiguous()
            .sort_by_key(|h| (h.job.priority.rank(), h.job.run_at));
    }

    /// Moves the jobs claimed before they were due that are due at `now` to the ready
    /// ones (so that [`Self::next_due_at`] is always in the future).
    pub(crate) fn promote(&mut self, now: Timestamp) {
        if self.later.front().is_some_and(|h| h.job.run_at <= now) {
            while self.later.front().is_some_and(|h| h.job.run_at <= now) {
                self.ready.extend(self.later.pop_front());
            }
            self.sort_ready();
        }
    }

    /// When the earliest job claimed before it was due comes due.
    pub(crate) fn next_due_at(&self) -> Option<Timestamp> {
        self.later.front().map(|h| h.job.run_at)
    }

    /// The next job to start whose lease still holds at `now`; jobs whose lease has
    /// passed are dropped on the way (returned second, for the log).
    pub(crate) fn next(&mut self, now: Timestamp) -> (Option<ClaimedJob>, usize) {
        self.promote(now);
        let mut expired = 0;
        while let Some(held) = self.ready.pop_front() {
            if held.lease_until > now {
                return (Some(held.job), expired);
            }
            expired += 1;
        }
        (None, expired)
    }

    /// The held jobs' ids and lease tokens, for the heartbeat.
    pub(crate) fn leases(&self) -> impl Iterator<Item = (JobId, uuid::Uuid)> + '_ {
        self.ready
            .iter()
            .chain(&self.later)
            .map(|h| (h.job.id, h.job.lease_token))
    }

    /// After a heartbeat that asked about the attempts `asked` (job and lease token): keeps
    /// the jobs whose lease it extended, to `lease_until`, and drops the other asked ones
    /// (cancelled or rescued elsewhere); attempts claimed while it was in flight (a job
    /// claimed again included: a new token) are left as they are. Returns how many it
    /// dropped.
    pub(crate) fn extended(
        &mut self,
        asked: &HashSet<(JobId, uuid::Uuid)>,
        held: &HashSet<JobId>,
        lease_until: Timestamp,
    ) -> usize {
        let before = self.len();
        let mut keep = |h: &mut Held| {
            if !asked.contains(&(h.job.id, h.job.lease_token)) {
                return true;
            }
            let keep = held.contains(&h.job.id);
            if keep {
                h.lease_until = lease_until;
            }
            keep
        };
        self.ready.retain_mut(&mut keep);
        self.later.retain_mut(&mut keep);
        before - self.len()
    }

    /// Every held job, to release.
    pub(crate) fn take_all(&mut self) -> Vec<ClaimedJob> {
        self.ready
            .drain(..)
            .chain(self.later.drain(..))
            .map(|h| h.job)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_held_ahead_until_both_paces_are_known() {
        let mut pace = Pace::default();
        assert_eq!(pace.ahead(10, 100), 0);
        pace.job_ran(Duration::from_micros(10));
        assert_eq!(pace.ahead(10, 100), 0);
        pace.claim_answered(Duration::from_millis(5));
        assert_eq!(pace.ahead(10, 100), 100, "short jobs: the cap");
    }

    #[test]
    fn slow_jobs_are_not_held_ahead() {
        let mut pace = Pace::default();
        pace.job_ran(Duration::from_secs(2));
        pace.claim_answered(Duration::from_millis(5));
        // 2 × 10 slots × 5 ms ÷ 2 s = 0.05: rounds up to one job.
        assert_eq!(pace.ahead(10, 100), 1);
        for _ in 0..20 {
            pace.job_ran(Duration::from_millis(50));
        }
        // The average moves towards shorter jobs: more is held, still below the cap.
        let ahead = pace.ahead(10, 100);
        assert!((2..100).contains(&ahead), "{ahead}");
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn job(n: u128) -> ClaimedJob {
        ClaimedJob {
            id: JobId::from_uuid(uuid::Uuid::from_u128(n)),
            kind: warden_core::JobKind::parse("k").unwrap(),
            priority: warden_core::Priority::default(),
            payload: warden_core::Payload::from_stored(Vec::new()),
            attempt: 1,
            max_attempts: 1,
            timeout: warden_core::JobTimeout::default(),
            owner: warden_core::PrincipalId::parse("p").unwrap(),
            created_at: t(0),
            run_at: t(0),
            scheduled_at: None,
            lease_token: uuid::Uuid::from_u128(n),
        }
    }

    fn id(n: u128) -> JobId {
        JobId::from_uuid(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn a_job_claimed_before_it_is_due_starts_at_its_run_at() {
        let mut holding = Holding::default();
        let due_later = ClaimedJob {
            run_at: t(5),
            priority: warden_core::Priority::High,
            ..job(1)
        };
        holding.hold(vec![due_later, job(2)], t(100), t(4));
        assert_eq!(holding.len(), 2);
        assert_eq!(holding.next_due_at(), Some(t(5)));
        // At 4 only the due job starts, though the other's priority is higher.
        assert_eq!(holding.next(t(4)).0.map(|j| j.id), Some(id(2)));
        assert_eq!(holding.next(t(4)).0.map(|j| j.id), None);
        assert_eq!(holding.len(), 1, "still held until due");
        assert_eq!(holding.next(t(5)).0.map(|j| j.id), Some(id(1)));
        assert!(holding.is_empty() && holding.next_due_at().is_none());
    }

    #[test]
    fn jobs_that_came_due_are_promoted_even_when_none_can_start() {
        let mut holding = Holding::default();
        let later = ClaimedJob {
            run_at: t(5),
            ..job(1)
        };
        holding.hold(vec![later], t(100), t(4));
        holding.promote(t(6));
        // Nothing started, yet nothing waits for a time already past (the producer would
        // spin on it).
        assert_eq!(holding.next_due_at(), None);
        assert_eq!(holding.len(), 1);
        assert_eq!(holding.next(t(6)).0.map(|j| j.id), Some(id(1)));
    }

    #[test]
    fn a_heartbeat_answer_touches_only_the_jobs_it_asked_about() {
        let mut holding = Holding::default();
        holding.hold(vec![job(1), job(2)], t(10), t(0));
        // Asked about 1 and 2; 2 was cancelled meanwhile. 3 came in while it was in flight,
        // and so did 4, a job it asked about under its earlier attempt's token: the answer
        // (4 not extended, as that token is gone) is not about this attempt.
        let asked = HashSet::from([
            (id(1), job(1).lease_token),
            (id(2), job(2).lease_token),
            (id(4), uuid::Uuid::from_u128(400)),
        ]);
        holding.hold(vec![job(3), job(4)], t(11), t(0));
        let dropped = holding.extended(&asked, &HashSet::from([id(1)]), t(40));
        assert_eq!(dropped, 1);
        let mut left = Vec::new();
        while let (Some(job), _) = holding.next(t(10)) {
            left.push(job.id);
        }
        assert_eq!(left, [id(1), id(3), id(4)]);
        // 1's lease moved to 40; 3's and 4's (11) were left alone.
        holding.hold(vec![job(1), job(3), job(4)], t(11), t(0));
        holding.extended(&asked, &HashSet::from([id(1)]), t(40));
        let mut left = Vec::new();
        while let (Some(job), _) = holding.next(t(20)) {
            left.push(job.id);
        }
        assert_eq!(left, [id(1)]);
    }

    #[test]
    fn a_held_job_whose_lease_passed_is_dropped_not_started() {
        let mut holding = Holding::default();
        holding.hold(vec![job(1)], t(10), t(0));
        holding.hold(vec![job(2)], t(20), t(0));
        let (next, expired) = holding.next(t(15));
        assert_eq!(next.map(|j| j.id), Some(id(2)));
        assert_eq!(expired, 1);
        assert!(holding.is_empty());
    }
}
