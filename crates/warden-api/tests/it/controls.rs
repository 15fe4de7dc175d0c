//! A principal's limits hold after creation: a schedule whose job type is no longer
//! allowed is refused resume and trigger, a job of it is refused retry (403, as a create),
//! and its fires are recorded `skipped:forbidden` with the reason shown on the schedule.

use reqwest::{Method, StatusCode};
use serde_json::json;
use warden_core::Role;
use warden_testkit::{backend_tests, eventually};

use crate::support::{ADMIN_ENV_KEY, TestApp};

backend_tests!(
    limits_changed_after_creation_hold_for_resume_trigger_retry_and_fires,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let key = app.key("alice", Role::Scheduler).await;
        let schedule = |name: &str, cron: &str, paused: bool| json!({"name": name, "cron": cron, "jobType": "report", "overlap": "allow", "paused": paused});
        let made = app
            .post(
                "/api/v1/schedules",
                &key,
                schedule("nightly", "0 3 * * *", true),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let paused = made.body["data"]["id"].as_str().unwrap().to_owned();
        let made = app
            .post(
                "/api/v1/schedules",
                &key,
                schedule("every-second", "* * * * * *", false),
            )
            .await;
        let firing = made.body["data"]["id"].as_str().unwrap().to_owned();
        let job = app
            .post(
                "/api/v1/jobs",
                &key,
                json!({"jobType": "report", "delayMs": 60000}),
            )
            .await;
        let job = job.body["data"]["jobId"].as_str().unwrap().to_owned();
        let cancel = app
            .post(&format!("/api/v1/jobs/{job}/cancel"), &key, json!({}))
            .await;
        assert_eq!(cancel.status, StatusCode::OK, "{}", cancel.body);

        let put = app
            .call(
                Method::PUT,
                "/api/v1/principals/alice",
                Some(ADMIN_ENV_KEY),
                Some(json!({"limits": {"allowedJobTypes": ["send-email"]}})),
            )
            .await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.body);
        for who in [key.as_str(), ADMIN_ENV_KEY] {
            for path in [
                format!("/api/v1/schedules/{paused}/resume"),
                format!("/api/v1/schedules/{paused}/trigger"),
                format!("/api/v1/jobs/{job}/retry"),
            ] {
                let a = app.post(&path, who, json!({})).await;
                assert_eq!(
                    (a.status, a.code()),
                    (StatusCode::FORBIDDEN, "limit_not_allowed"),
                    "{path}: {}",
                    a.body
                );
                assert!(a.message().contains("allowedJobTypes"), "{}", a.message());
            }
        }

        // The firing schedule's occurrences are recorded, not run, and it says why.
        let path = format!("/api/v1/schedules/{firing}");
        eventually("the schedule shows why it is blocked", || async {
            let s = app.get(&path, &key).await;
            s.body["data"]["blocked"]
                .as_str()
                .is_some_and(|why| why.contains("allowedJobTypes"))
        })
        .await;
        let ledger = app.get(&format!("{path}/occurrences"), &key).await;
        let outcomes: Vec<&str> = ledger.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(outcomes.last(), Some(&"skipped:forbidden"), "{outcomes:?}");
    }
);
