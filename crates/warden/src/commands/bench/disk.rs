//! The disk's durable-write rate, printed before a bench: durable throughput follows it,
//! and it varies from day to day on shared machines, so figures are read beside it.

use std::{
    io::Write,
    path::Path,
    time::{Duration, Instant},
};

/// How long the rate is measured.
const MEASURE_FOR: Duration = Duration::from_secs(1);
/// One write: a 4 KiB page, what a commit record costs at least.
const PAGE: [u8; 4096] = [0x5a; 4096];

/// `fdatasync` calls per second after rewriting one 4 KiB page, in a file under `dir`
/// (removed afterwards).
pub(super) fn fdatasync_rate(dir: &Path) -> anyhow::Result<f64> {
    let mut file = tempfile::tempfile_in(dir)?;
    let started = Instant::now();
    let mut syncs = 0u64;
    while started.elapsed() < MEASURE_FOR {
        file.write_all(&PAGE)?;
        file.sync_data()?;
        syncs += 1;
    }
    Ok(syncs as f64 / started.elapsed().as_secs_f64())
}
