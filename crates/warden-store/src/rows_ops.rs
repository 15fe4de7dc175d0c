//! Decoding cron runs, shared by both backends.

use crate::{
    StoreError,
    convert::from_micros,
    model::{CronRun, CronRunRecord},
    rows::Cols,
};

pub(crate) fn cron_run_from_row(r: &impl Cols) -> Result<CronRun, StoreError> {
    Ok(CronRun {
        id: r.int("id")?,
        record: CronRunRecord {
            at: from_micros(r.int("at")?)?,
            outcome: r.text("outcome")?.parse()?,
            duration_ms: r.int("duration_ms")?,
            fired: r.int("fired")?,
            skipped: r.int("skipped")?,
            missed: r.int("missed")?,
            dispatched: r.int("dispatched")?,
            client_ip: r.opt_text("client_ip")?,
            user_agent: r.opt_text("user_agent")?,
            request_id: r.opt_text("request_id")?,
            detail: r.opt_text("detail")?,
        },
    })
}
