//! Decoding rows into model types, shared by both backends (and both SQLite drivers)
//! through the small [`Cols`] trait: they differ only in how a UUID, a boolean and an
//! integer are read.

use std::time::Duration;

use sqlx::{Row, postgres::PgRow, sqlite::SqliteRow};
use uuid::Uuid;
use warden_core::{
    CronSpec, DstPolicy, JobId, JobKind, JobTimeout, MaxAttempts, Payload, PrincipalId, QueueName,
    ScheduleId, schedule::CatchUpWindow,
};

use crate::{
    StoreError,
    convert::{from_micros, opt_from_micros, priority, state},
    model::{
        BrokenSchedule, ClaimedJob, DueSchedule, Job, JobSummary, JobTemplate, Occurrence, Run,
        RunSummary, Schedule, ScheduleSummary,
    },
};

type Result<T> = std::result::Result<T, StoreError>;

/// Typed column access that hides the backend's storage of UUIDs and booleans.
pub(crate) trait Cols {
    fn uuid(&self, col: &str) -> Result<Uuid>;
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>>;
    fn flag(&self, col: &str) -> Result<bool>;
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn bytes(&self, col: &str) -> Result<Vec<u8>>;
    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>>;
}

macro_rules! common_cols {
    () => {
        fn text(&self, col: &str) -> Result<String> {
            Ok(self.try_get(col)?)
        }
        fn opt_text(&self, col: &str) -> Result<Option<String>> {
            Ok(self.try_get(col)?)
        }
        fn bytes(&self, col: &str) -> Result<Vec<u8>> {
            Ok(self.try_get(col)?)
        }
        fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>> {
            Ok(self.try_get(col)?)
        }
        fn flag(&self, col: &str) -> Result<bool> {
            Ok(self.try_get(col)?)
        }
    };
}

impl Cols for PgRow {
    common_cols!();
    fn uuid(&self, col: &str) -> Result<Uuid> {
        Ok(self.try_get(col)?)
    }
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>> {
        Ok(self.try_get(col)?)
    }
    // PostgreSQL columns are SMALLINT, INTEGER or BIGINT: widen whichever it is.
    fn int(&self, col: &str) -> Result<i64> {
        self.opt_int(col)?
            .ok_or_else(|| StoreError::Corrupt(format!("{col} is NULL")))
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        if let Ok(v) = self.try_get::<Option<i64>, _>(col) {
            return Ok(v);
        }
        if let Ok(v) = self.try_get::<Option<i32>, _>(col) {
            return Ok(v.map(i64::from));
        }
        Ok(self.try_get::<Option<i16>, _>(col)?.map(i64::from))
    }
}

impl Cols for rusqlite::Row<'_> {
    fn uuid(&self, col: &str) -> Result<Uuid> {
        let s: String = self.get(col)?;
        Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
    }
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>> {
        let s: Option<String> = self.get(col)?;
        s.map(|s| Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
            .transpose()
    }
    fn flag(&self, col: &str) -> Result<bool> {
        Ok(self.get(col)?)
    }
    fn text(&self, col: &str) -> Result<String> {
        Ok(self.get(col)?)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(self.get(col)?)
    }
    fn int(&self, col: &str) -> Result<i64> {
        Ok(self.get(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.get(col)?)
    }
    fn bytes(&self, col: &str) -> Result<Vec<u8>> {
        Ok(self.get(col)?)
    }
    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get(col)?)
    }
}

impl Cols for SqliteRow {
    common_cols!();
    fn uuid(&self, col: &str) -> Result<Uuid> {
        let s: String = self.try_get(col)?;
        Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
    }
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>> {
        let s: Option<String> = self.try_get(col)?;
        s.map(|s| Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
            .transpose()
    }
    fn int(&self, col: &str) -> Result<i64> {
        Ok(self.try_get(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get(col)?)
    }
}

fn small(v: i64, col: &str) -> Result<i16> {
    i16::try_from(v).map_err(|_| StoreError::Corrupt(format!("{col} = {v}")))
}

fn int32(v: i64, col: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{col} = {v}")))
}

pub(crate) fn job_from_row(r: &impl Cols) -> Result<Job> {
    job_with(r, Payload::from_stored(r.bytes("payload")?))
}

/// A job of a list, whose query does not read the payload.
pub(crate) fn job_summary_from_row(r: &impl Cols) -> Result<JobSummary> {
    job_with(r, ())
}

fn job_with<P>(r: &impl Cols, payload: P) -> Result<Job<P>> {
    Ok(Job {
        id: JobId::from_uuid(r.uuid("id")?),
        kind: JobKind::parse(&r.text("kind")?)?,
        queue: QueueName::parse(&r.text("queue")?)?,
        priority: priority(small(r.int("priority")?, "priority")?)?,
        state: state(&r.text("state")?)?,
        payload,
        attempt: int32(r.int("attempt")?, "attempt")?,
        max_attempts: int32(r.int("max_attempts")?, "max_attempts")?,
        run_at: from_micros(r.int("run_at")?)?,
        timeout: JobTimeout::from_millis(r.int("timeout_ms")?)?,
        idempotency_key: r.opt_text("idempotency_key")?,
        owner: PrincipalId::parse(&r.text("owner")?)?,
        schedule_id: r.opt_uuid("schedule_id")?.map(ScheduleId::from_uuid),
        created_at: from_micros(r.int("created_at")?)?,
        attempted_at: opt_from_micros(r.opt_int("attempted_at")?)?,
        finished_at: opt_from_micros(r.opt_int("finished_at")?)?,
        last_error: r.opt_text("last_error")?,
        lease_owner: r.opt_text("lease_owner")?,
        lease_expires_at: opt_from_micros(r.opt_int("lease_expires_at")?)?,
    })
}

pub(crate) fn claimed_from_row(r: &impl Cols, lease_token: Uuid) -> Result<ClaimedJob> {
    Ok(ClaimedJob {
        id: JobId::from_uuid(r.uuid("id")?),
        kind: JobKind::parse(&r.text("kind")?)?,
        priority: priority(small(r.int("priority")?, "priority")?)?,
        payload: Payload::from_stored(r.bytes("payload")?),
        attempt: int32(r.int("attempt")?, "attempt")?,
        max_attempts: int32(r.int("max_attempts")?, "max_attempts")?,
        timeout: JobTimeout::from_millis(r.int("timeout_ms")?)?,
        owner: PrincipalId::parse(&r.text("owner")?)?,
        created_at: from_micros(r.int("created_at")?)?,
        run_at: from_micros(r.int("run_at")?)?,
        scheduled_at: opt_from_micros(r.opt_int("scheduled_at")?)?,
        lease_token,
    })
}

pub(crate) fn run_from_row(r: &impl Cols) -> Result<Run> {
    run_with(r, r.opt_bytes("output")?)
}

/// A run of a list, whose query does not read the output.
pub(crate) fn run_summary_from_row(r: &impl Cols) -> Result<RunSummary> {
    run_with(r, ())
}

fn run_with<O>(r: &impl Cols, output: O) -> Result<Run<O>> {
    Ok(Run {
        id: r.int("id")?,
        job_id: JobId::from_uuid(r.uuid("job_id")?),
        attempt: int32(r.int("attempt")?, "attempt")?,
        worker: r.text("worker")?,
        started_at: from_micros(r.int("started_at")?)?,
        finished_at: from_micros(r.int("finished_at")?)?,
        duration_ms: r.int("duration_ms")?,
        outcome: r.text("outcome")?.parse()?,
        error: r.opt_text("error")?,
        output,
    })
}

pub(crate) fn schedule_from_row(r: &impl Cols) -> Result<Schedule> {
    schedule_with(r, Payload::from_stored(r.bytes("job_payload")?))
}

/// A schedule of a list, whose query does not read the job's payload.
pub(crate) fn schedule_summary_from_row(r: &impl Cols) -> Result<ScheduleSummary> {
    schedule_with(r, ())
}

fn schedule_with<P>(r: &impl Cols, payload: P) -> Result<Schedule<P>> {
    let dst = DstPolicy {
        gap: r.text("dst_gap")?.parse()?,
        fold: r.text("dst_fold")?.parse()?,
    };
    let catch_up_ms = u64::try_from(r.int("catch_up_ms")?)
        .map_err(|_| StoreError::Corrupt("catch_up_ms".into()))?;
    Ok(Schedule {
        id: ScheduleId::from_uuid(r.uuid("id")?),
        name: r.text("name")?,
        owner: PrincipalId::parse(&r.text("owner")?)?,
        cron: CronSpec::parse(&r.text("cron")?, &r.text("timezone")?, dst)?,
        template: JobTemplate {
            kind: JobKind::parse(&r.text("job_kind")?)?,
            queue: QueueName::parse(&r.text("job_queue")?)?,
            priority: priority(small(r.int("job_priority")?, "job_priority")?)?,
            payload,
            max_attempts: MaxAttempts::new(r.int("job_max_attempts")?)?,
            timeout: JobTimeout::from_millis(r.int("job_timeout_ms")?)?,
        },
        paused: r.flag("paused")?,
        overlap: r.text("overlap")?.parse()?,
        missed: r.text("missed")?.parse()?,
        catch_up: CatchUpWindow::new(Duration::from_millis(catch_up_ms))?,
        next_fire_at: opt_from_micros(r.opt_int("next_fire_at")?)?,
        created_at: from_micros(r.int("created_at")?)?,
        updated_at: from_micros(r.int("updated_at")?)?,
        blocked: r.opt_text("blocked")?,
    })
}

/// Decodes one due schedule; a row that does not decode comes back as [`BrokenSchedule`]
/// (only an id that does not decode fails the whole read: it could not be reported).
pub(crate) fn due_schedule_from_row(r: &impl Cols) -> Result<DueSchedule> {
    match schedule_from_row(r) {
        Ok(s) => Ok(Ok(s)),
        Err(error) => Ok(Err(BrokenSchedule {
            id: ScheduleId::from_uuid(r.uuid("id")?),
            next_fire_at: r
                .opt_int("next_fire_at")
                .and_then(opt_from_micros)
                .unwrap_or(None),
            error,
        })),
    }
}

pub(crate) fn occurrence_from_row(r: &impl Cols) -> Result<Occurrence> {
    Ok(Occurrence {
        schedule_id: ScheduleId::from_uuid(r.uuid("schedule_id")?),
        scheduled_at: from_micros(r.int("scheduled_at")?)?,
        outcome: r.text("outcome")?.parse()?,
        job_id: r.opt_uuid("job_id")?.map(JobId::from_uuid),
        recorded_at: from_micros(r.int("recorded_at")?)?,
    })
}
