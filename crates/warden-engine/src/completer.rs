//! The completer: writes attempt outcomes in batches (group commit).
//!
//! Workers send their `Completion` over a channel; the completer takes whatever has
//! queued up (at most `completer_batch`) and writes it in one statement, fenced by each
//! job's lease token. While one batch is being written the next one accumulates, so the
//! batch size follows the load. If a write fails for good, the jobs' leases expire and
//! the rescuer returns them: an outcome may be lost, a job may not.
//!
//! A batch holds at most one outcome per attempt (job and lease token): if a shutdown
//! release and the worker's own outcome of the same attempt meet in one batch, the real
//! outcome is kept (`dedupe`), so the store never has to choose between them.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::sync::mpsc;
use uuid::Uuid;
use warden_core::JobId;
use warden_store::{Completion, CompletionResult, Store, StoreError};

use crate::stats::EngineStats;

pub(crate) struct Completer<S> {
    pub(crate) store: Arc<S>,
    pub(crate) rx: mpsc::UnboundedReceiver<Completion>,
    pub(crate) batch: usize,
    pub(crate) stats: Arc<EngineStats>,
}

impl<S: Store> Completer<S> {
    /// Runs until every sender is dropped and the queue is drained.
    pub(crate) async fn run(mut self) {
        let mut buf = Vec::with_capacity(self.batch);
        while self.rx.recv_many(&mut buf, self.batch).await > 0 {
            // Jobs of one claim tend to finish together: let their tasks run and report
            // before writing, so they share one write instead of trickling in one by one.
            for _ in 0..2 {
                if buf.len() >= self.batch {
                    break;
                }
                tokio::task::yield_now().await;
                while buf.len() < self.batch {
                    match self.rx.try_recv() {
                        Ok(c) => buf.push(c),
                        Err(_) => break,
                    }
                }
            }
            dedupe(&mut buf);
            self.write(&buf).await;
            buf.clear();
        }
    }

    async fn write(&self, batch: &[Completion]) {
        const ATTEMPTS: u32 = 5;
        for attempt in 1..=ATTEMPTS {
            match self.store.job_complete_many(batch.to_vec()).await {
                Ok(counted) => {
                    if counted.len() < batch.len() {
                        tracing::info!(
                            jobs.ignored = batch.len() - counted.len(),
                            "ignored completions from workers whose lease had moved on"
                        );
                    }
                    crate::instruments::completions_written(batch, &counted);
                    self.stats
                        .add_completed(counted.len(), batch.len() - counted.len());
                    return;
                }
                Err(StoreError::Unavailable(e)) if attempt < ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "writing completions failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(e) => {
                    tracing::error!(
                        error = ?e,
                        jobs = batch.len(),
                        "could not write completions; the jobs will be rescued when their leases expire"
                    );
                    return;
                }
            }
        }
    }
}

/// Keeps one completion per attempt (job id and lease token), preferring a real outcome
/// to a release, and otherwise the first one sent; the order of the rest is kept.
fn dedupe(batch: &mut Vec<Completion>) {
    let mut keep: HashMap<(JobId, Uuid), usize> = HashMap::with_capacity(batch.len());
    for (i, c) in batch.iter().enumerate() {
        let kept = keep.entry((c.id, c.lease_token)).or_insert(i);
        if is_release(&batch[*kept]) && !is_release(c) {
            *kept = i;
        }
    }
    if keep.len() == batch.len() {
        return;
    }
    let dropped = batch.len() - keep.len();
    let mut i = 0;
    batch.retain(|c| {
        let wanted = keep.get(&(c.id, c.lease_token)) == Some(&i);
        i += 1;
        wanted
    });
    tracing::warn!(
        completions.dropped = dropped,
        "dropped duplicate completions of one attempt (kept the real outcome)"
    );
}

fn is_release(c: &Completion) -> bool {
    matches!(c.result, CompletionResult::Released { .. })
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    fn completion(id: JobId, token: Uuid, result: CompletionResult) -> Completion {
        Completion {
            id,
            lease_token: token,
            attempt: 1,
            worker: "w".into(),
            started_at: Timestamp::UNIX_EPOCH,
            finished_at: Timestamp::UNIX_EPOCH,
            result,
            output: None,
        }
    }

    #[test]
    fn one_outcome_per_attempt_is_kept_and_a_real_one_beats_a_release() {
        let release = || CompletionResult::Released { error: "x".into() };
        let (a, b, c) = (JobId::new(), JobId::new(), JobId::new());
        let (ta, tb, tc, tc2) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let mut batch = vec![
            completion(a, ta, release()),
            completion(b, tb, CompletionResult::Succeeded),
            completion(a, ta, CompletionResult::Succeeded),
            completion(b, tb, release()),
            // Two attempts of one job (a stale token and a fresh one) are not duplicates.
            completion(c, tc, release()),
            completion(c, tc2, CompletionResult::Succeeded),
        ];
        dedupe(&mut batch);
        let kept: Vec<_> = batch
            .iter()
            .map(|c| (c.id, c.lease_token, c.result.clone()))
            .collect();
        assert_eq!(
            kept,
            [
                (b, tb, CompletionResult::Succeeded),
                (a, ta, CompletionResult::Succeeded),
                (c, tc, release()),
                (c, tc2, CompletionResult::Succeeded),
            ]
        );
    }
}
