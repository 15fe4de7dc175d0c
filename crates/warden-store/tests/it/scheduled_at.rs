//! Conformance: a job keeps the instant of the occurrence that made it through every claim,
//! with the plain claim and the limited one, whatever its retries.

use jiff::Timestamp;
use warden_store::{ClaimedJob, Completion, CompletionResult, Store};
use warden_testkit::backend_tests;

use crate::support::{at, claim, job, t0};
use warden_store::JobInsertParams;

fn retry(c: &ClaimedJob, run_at: Timestamp) -> Completion {
    Completion {
        id: c.id,
        lease_token: c.lease_token,
        attempt: c.attempt,
        worker: "worker-a".into(),
        started_at: c.run_at,
        finished_at: c.run_at,
        result: CompletionResult::Retry {
            run_at,
            error: "again".into(),
        },
        output: None,
    }
}

backend_tests!(
    a_jobs_occurrence_instant_comes_back_with_every_claim,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let mut occurrence = job("q");
        occurrence.scheduled_at = Some(at(-30));
        let plain = job("q");
        store
            .job_insert_many(JobInsertParams::new(vec![
                occurrence.clone(),
                plain.clone(),
            ]))
            .await
            .unwrap();

        let claimed = store.job_claim_many(claim("q", 10, t0())).await.unwrap();
        assert_eq!(claimed.len(), 2);
        let of = |id| claimed.iter().find(|c| c.id == id).unwrap().clone();
        assert_eq!(of(occurrence.id).scheduled_at, Some(at(-30)));
        assert_eq!(of(plain.id).scheduled_at, None);

        // A retry later, through the limited claim: the same instant.
        let first = of(occurrence.id);
        store
            .job_complete_many(vec![retry(&first, at(60))])
            .await
            .unwrap();
        let mut limited = claim("q", 10, at(61));
        limited.owner_limits = true;
        let again = store.job_claim_many(limited).await.unwrap();
        let [again] = again.try_into().unwrap();
        assert_eq!((again.id, again.attempt), (occurrence.id, 2));
        assert_eq!(again.run_at, at(60));
        assert_eq!(again.scheduled_at, Some(at(-30)));
    }
);
