//! Jobs and schedules through the API: the seed endpoint, creation, listing, cancel,
//! retry, limits and quotas, and clear errors.

use reqwest::{Method, StatusCode};
use serde_json::json;
use warden_api::HttpLimits;
use warden_core::{PrincipalId, Priority, Role};
use warden_store::{AccessStore, AuditFilter, Limits};
use warden_testkit::{backend_tests, eventually};

use crate::support::{ADMIN_ENV_KEY, TestApp, unlimited};

backend_tests!(
    the_seed_endpoint_schedules_immediate_delayed_and_cron_jobs,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let key = app.key("alice", Role::Scheduler).await;
        let a = app
            .post(
                "/api/jobs/schedule",
                &key,
                json!({"type": "immediate", "jobType": "send-email", "data": {"to": "a@example.com"}, "queueName": "COMMUNICATIONS"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        assert_eq!(a.body["ok"], true);
        let job_id = a.body["data"]["jobId"].as_str().unwrap().to_owned();
        eventually("the immediate job succeeds", || async {
            app.get(&format!("/api/v1/jobs/{job_id}"), &key).await.body["data"]["state"]
                == "succeeded"
        })
        .await;
        let job = app.get(&format!("/api/v1/jobs/{job_id}"), &key).await.body;
        assert_eq!(job["data"]["owner"], "alice");
        assert_eq!(job["data"]["queueName"], "COMMUNICATIONS");
        let runs = app
            .get(&format!("/api/v1/jobs/{job_id}/runs"), &key)
            .await
            .body;
        assert_eq!(runs["data"][0]["outcome"], "succeeded");

        let delayed = app
            .post(
                "/api/jobs/schedule",
                &key,
                json!({"type": "delayed", "jobType": "send-email", "data": {}, "queueName": "COMMUNICATIONS", "delayMs": 3_600_000, "priority": "high"}),
            )
            .await;
        assert_eq!(delayed.status, StatusCode::CREATED);
        let id = delayed.body["data"]["jobId"].as_str().unwrap();
        let job = app.get(&format!("/api/v1/jobs/{id}"), &key).await.body;
        assert_eq!(
            (
                job["data"]["state"].as_str(),
                job["data"]["priority"].as_str()
            ),
            (Some("scheduled"), Some("high"))
        );

        let cron = app
            .post(
                "/api/jobs/schedule",
                &key,
                json!({"type": "cron", "jobType": "report", "data": {}, "queueName": "default", "cron": "0 9 * * MON-FRI", "timezone": "Europe/Paris"}),
            )
            .await;
        assert_eq!(cron.status, StatusCode::CREATED, "{}", cron.body);
        let sid = cron.body["data"]["scheduleId"].as_str().unwrap();
        let s = app
            .get(&format!("/api/v1/schedules/{sid}"), &key)
            .await
            .body;
        assert_eq!(s["data"]["timezone"], "Europe/Paris");
        assert_eq!(s["data"]["owner"], "alice");
        let next = app
            .get(&format!("/api/v1/schedules/{sid}/next?n=3"), &key)
            .await
            .body;
        assert_eq!(next["data"].as_array().unwrap().len(), 3);
        assert!(
            next["data"][0]["local"]
                .as_str()
                .unwrap()
                .contains("T09:00:00")
        );

        // Every create is in the audit trail with who and how.
        let trail = app
            .store
            .audit_list(AuditFilter {
                principal_id: Some(PrincipalId::parse("alice").unwrap()),
                ..Default::default()
            })
            .await
            .unwrap();
        let creates: Vec<&str> = trail.iter().map(|e| e.record.action.as_str()).collect();
        assert_eq!(creates, ["schedule.create", "job.create", "job.create"]);
        assert!(
            trail
                .iter()
                .all(|e| e.record.key_id.is_some() && e.record.request_id.is_some())
        );
    }
);

backend_tests!(
    bad_requests_name_the_field_and_write_nothing,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let key = app.key("alice", Role::Scheduler).await;
        for (body, needle) in [
            (
                json!({"type": "soon", "jobType": "send-email", "data": {}, "queueName": "default"}),
                "`type`",
            ),
            (
                json!({"type": "immediate", "jobType": "send-sms", "data": {}, "queueName": "default"}),
                "`jobType`",
            ),
            (
                json!({"type": "immediate", "jobType": "send-email", "data": {}, "queueName": "nope"}),
                "`queueName`",
            ),
            (
                json!({"type": "immediate", "jobType": "send-email", "data": {}, "queueName": "default", "priority": "urgent"}),
                "priority",
            ),
            (
                json!({"type": "delayed", "jobType": "send-email", "data": {}, "queueName": "default"}),
                "delayMs",
            ),
            (
                json!({"type": "delayed", "jobType": "send-email", "data": {}, "queueName": "default", "runAt": "tomorrow"}),
                "`runAt`",
            ),
            (
                json!({"type": "cron", "jobType": "report", "data": {}, "queueName": "default", "cron": "0 0 0 31 2 *"}),
                "`cron`",
            ),
            (
                json!({"type": "cron", "jobType": "report", "data": {}, "queueName": "default", "cron": "0 9 * * *", "timezone": "Mars/Olympus"}),
                "`timezone`",
            ),
            (
                json!({"type": "immediate", "jobType": "send-email", "data": {}, "queueName": "default", "owner": "bob"}),
                "owner",
            ),
            (
                json!({"type": "immediate", "jobType": "send-email", "data": {}, "queueName": "default", "state": "succeeded"}),
                "state",
            ),
        ] {
            let a = app.post("/api/jobs/schedule", &key, body.clone()).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {}", a.body);
            assert_eq!(a.code(), "invalid_request");
            assert!(a.message().contains(needle), "{body}: {}", a.message());
        }
        let bad_json = app
            .send(
                app.client
                    .post(app.url("/api/v1/jobs"))
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body("{not json"),
                None,
            )
            .await;
        assert_eq!(
            (bad_json.status, bad_json.code()),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );
        // A batch with one bad job inserts none.
        let batch = app
            .post(
                "/api/v1/jobs/batch",
                &key,
                json!({"jobs": [{"jobType": "send-email"}, {"jobType": "send-sms"}]}),
            )
            .await;
        assert_eq!(batch.status, StatusCode::BAD_REQUEST);
        assert!(
            batch.message().starts_with("invalid `jobType`"),
            "{}",
            batch.message()
        );
        let listed = app.get("/api/v1/jobs", &key).await;
        assert_eq!(listed.body["data"].as_array().unwrap().len(), 0);
        assert_eq!(
            app.get("/api/v1/schedules", &key).await.body["data"]
                .as_array()
                .unwrap()
                .len(),
            0
        );
    }
);

backend_tests!(
    jobs_are_batched_paged_cancelled_and_retried,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let key = app.key("alice", Role::Scheduler).await;
        let jobs: Vec<_> = (0..5)
            .map(|i| json!({"jobType": "send-email", "data": {"n": i}, "delayMs": 3_600_000}))
            .collect();
        let a = app
            .post("/api/v1/jobs/batch", &key, json!({"jobs": jobs}))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        let ids: Vec<String> = a.body["data"]["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["jobId"].as_str().unwrap().to_owned())
            .collect();
        // Pages of two, following the cursor.
        let mut seen = Vec::new();
        let mut path = "/api/v1/jobs?limit=2".to_owned();
        loop {
            let page = app.get(&path, &key).await.body;
            seen.extend(
                page["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|j| j["id"].as_str().unwrap().to_owned()),
            );
            match page["nextCursor"].as_str() {
                Some(c) => path = format!("/api/v1/jobs?limit=2&after={c}"),
                None => break,
            }
        }
        assert_eq!(seen, ids);
        let capped = app.get("/api/v1/jobs?limit=100000", &key).await;
        assert_eq!(capped.status, StatusCode::OK);
        let filtered = app
            .get("/api/v1/jobs?state=scheduled&queue=default", &key)
            .await;
        assert_eq!(filtered.body["data"].as_array().unwrap().len(), 5);
        let bad = app.get("/api/v1/jobs?state=finished", &key).await;
        assert!(bad.message().contains("`state`"), "{}", bad.message());
        let unknown = app.get("/api/v1/jobs?owner=bob", &key).await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

        let cancel = app
            .post(&format!("/api/v1/jobs/{}/cancel", ids[0]), &key, json!({}))
            .await;
        assert_eq!(cancel.status, StatusCode::OK, "{}", cancel.body);
        let again = app
            .post(&format!("/api/v1/jobs/{}/cancel", ids[0]), &key, json!({}))
            .await;
        assert_eq!(
            (again.status, again.code()),
            (StatusCode::CONFLICT, "wrong_state")
        );
        let not_dead = app
            .post(&format!("/api/v1/jobs/{}/retry", ids[1]), &key, json!({}))
            .await;
        assert_eq!(not_dead.status, StatusCode::CONFLICT);
        let retry = app
            .post(&format!("/api/v1/jobs/{}/retry", ids[0]), &key, json!({}))
            .await;
        assert_eq!(retry.status, StatusCode::OK);
        eventually("the retried job runs", || async {
            app.get(&format!("/api/v1/jobs/{}", ids[0]), &key)
                .await
                .body["data"]["state"]
                == "succeeded"
        })
        .await;
        // Idempotency: the same key in the same queue answers the first job.
        let body = json!({"jobType": "send-email", "idempotencyKey": "order-42", "delayMs": 60000});
        let first = app.post("/api/v1/jobs", &key, body.clone()).await;
        let second = app.post("/api/v1/jobs", &key, body).await;
        assert_eq!(first.body["data"]["jobId"], second.body["data"]["jobId"]);
        assert_eq!(second.body["data"]["existing"], true);
        let missing = app
            .get("/api/v1/jobs/0190f5e4-0000-7000-8000-000000000000", &key)
            .await;
        assert_eq!(
            (missing.status, missing.code()),
            (StatusCode::NOT_FOUND, "not_found")
        );
        let malformed = app.get("/api/v1/jobs/42", &key).await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    }
);

backend_tests!(
    schedules_are_updated_paused_triggered_and_deleted,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let key = app.key("alice", Role::Scheduler).await;
        let body = json!({"name": "nightly", "cron": "0 3 * * *", "jobType": "report", "overlap": "allow"});
        let s = app.post("/api/v1/schedules", &key, body.clone()).await;
        assert_eq!(s.status, StatusCode::CREATED, "{}", s.body);
        let sid = s.body["data"]["id"].as_str().unwrap().to_owned();
        let dup = app.post("/api/v1/schedules", &key, body).await;
        assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "conflict"));
        let updated = app
            .call(Method::PUT, &format!("/api/v1/schedules/{sid}"), Some(&key), Some(json!({"name": "nightly", "cron": "30 4 * * *", "jobType": "report", "timezone": "Asia/Tokyo"})))
            .await;
        assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
        assert_eq!(
            (
                updated.body["data"]["cron"].as_str(),
                updated.body["data"]["timezone"].as_str()
            ),
            (Some("30 4 * * *"), Some("Asia/Tokyo"))
        );
        assert_eq!(
            app.post(&format!("/api/v1/schedules/{sid}/pause"), &key, json!({}))
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            app.get(&format!("/api/v1/schedules/{sid}"), &key)
                .await
                .body["data"]["paused"],
            true
        );
        assert_eq!(
            app.post(&format!("/api/v1/schedules/{sid}/resume"), &key, json!({}))
                .await
                .status,
            StatusCode::OK
        );
        let t = app
            .post(&format!("/api/v1/schedules/{sid}/trigger"), &key, json!({}))
            .await;
        assert_eq!(t.status, StatusCode::CREATED);
        let job = t.body["data"]["jobId"].as_str().unwrap().to_owned();
        eventually("the triggered job runs", || async {
            app.get(&format!("/api/v1/jobs/{job}"), &key).await.body["data"]["state"] == "succeeded"
        })
        .await;
        let by_schedule = app.get(&format!("/api/v1/jobs?schedule={sid}"), &key).await;
        assert_eq!(by_schedule.body["data"][0]["id"], job.as_str());
        let occ = app
            .get(&format!("/api/v1/schedules/{sid}/occurrences"), &key)
            .await;
        assert_eq!(occ.status, StatusCode::OK);
        let del = app
            .call(
                Method::DELETE,
                &format!("/api/v1/schedules/{sid}"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(del.status, StatusCode::OK);
        assert_eq!(
            app.get(&format!("/api/v1/schedules/{sid}"), &key)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
);

backend_tests!(
    principal_limits_are_enforced_when_creating,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let key = app.key("alice", Role::Scheduler).await;
        let limits = json!({"allowedJobTypes": ["send-email"], "allowedPriorities": ["low", "medium"], "maxActive": 2});
        let put = app
            .call(
                Method::PUT,
                "/api/v1/principals/alice",
                Some(ADMIN_ENV_KEY),
                Some(json!({"limits": limits})),
            )
            .await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.body);
        let job = |t: &str, p: &str| json!({"jobType": t, "priority": p, "delayMs": 60000});
        let a = app.post("/api/v1/jobs", &key, job("report", "low")).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::FORBIDDEN, "limit_not_allowed")
        );
        assert!(a.message().contains("allowedJobTypes"), "{}", a.message());
        let a = app
            .post("/api/v1/jobs", &key, job("send-email", "critical"))
            .await;
        assert!(a.message().contains("allowedPriorities"), "{}", a.message());
        for _ in 0..2 {
            assert_eq!(
                app.post("/api/v1/jobs", &key, job("send-email", "low"))
                    .await
                    .status,
                StatusCode::CREATED
            );
        }
        let over = app
            .post("/api/v1/jobs", &key, job("send-email", "low"))
            .await;
        assert_eq!(
            (over.status, over.code()),
            (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded")
        );
        assert!(over.headers.contains_key("retry-after"));
        assert!(over.message().contains("maxActive"), "{}", over.message());
        // Other principals are not held by alice's quota.
        let bob = app.key("bob", Role::Scheduler).await;
        assert_eq!(
            app.post("/api/v1/jobs", &bob, job("report", "critical"))
                .await
                .status,
            StatusCode::CREATED
        );
        let stored = app.store.principal_get("alice").await.unwrap();
        assert_eq!(
            stored.limits,
            Limits {
                allowed_job_types: Some(vec!["send-email".into()]),
                allowed_priorities: Some(vec![Priority::Low, Priority::Medium]),
                max_active: Some(2),
                max_concurrent: None
            }
        );
    }
);

backend_tests!(
    oversized_bodies_are_refused_with_413,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn_with(
            db,
            HttpLimits {
                max_body_bytes: 2048,
                ..unlimited()
            },
        )
        .await;
        let key = app.key("alice", Role::Scheduler).await;
        let big = json!({"jobType": "send-email", "data": {"blob": "x".repeat(4096)}});
        let a = app.post("/api/v1/jobs", &key, big).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
        );
        let trail = app
            .audit_with_action(warden_core::AuditAction::JobCreate)
            .await;
        assert!(trail.is_empty());
    }
);

backend_tests!(
    queues_are_paused_through_the_api_and_runs_are_listed,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let key = app.key("alice", Role::Scheduler).await;
        let paused = app
            .post(
                "/api/v1/queues/COMMUNICATIONS/pause",
                ADMIN_ENV_KEY,
                json!({}),
            )
            .await;
        assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
        assert_eq!(
            paused.body["data"],
            json!({"queue": "COMMUNICATIONS", "paused": true})
        );
        let unknown = app
            .post("/api/v1/queues/nope/pause", ADMIN_ENV_KEY, json!({}))
            .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert!(
            unknown.message().contains("COMMUNICATIONS"),
            "{}",
            unknown.message()
        );
        // Only admins pause queues.
        assert_eq!(
            app.post("/api/v1/queues/default/pause", &key, json!({}))
                .await
                .status,
            StatusCode::FORBIDDEN
        );

        let made = app
            .post(
                "/api/v1/jobs",
                &key,
                json!({"jobType": "send-email", "queueName": "COMMUNICATIONS"}),
            )
            .await;
        let id = made.body["data"]["jobId"].as_str().unwrap().to_owned();
        let state =
            app.get(&format!("/api/v1/jobs/{id}"), &key).await.body["data"]["state"].clone();
        assert_eq!(state, "available");
        assert_eq!(
            app.post(
                "/api/v1/queues/COMMUNICATIONS/resume",
                ADMIN_ENV_KEY,
                json!({})
            )
            .await
            .status,
            StatusCode::OK
        );
        eventually("the job runs once its queue is resumed", || async {
            app.get(&format!("/api/v1/jobs/{id}"), &key).await.body["data"]["state"] == "succeeded"
        })
        .await;
        let trail = app
            .store
            .audit_list(AuditFilter {
                target: Some("COMMUNICATIONS".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let actions: Vec<&str> = trail.iter().map(|e| e.record.action.as_str()).collect();
        assert_eq!(actions, ["queue.resume", "queue.pause"]);

        // Runs: by job, by id, by schedule.
        let runs = app.get(&format!("/api/v1/runs?job={id}"), &key).await;
        assert_eq!(runs.status, StatusCode::OK, "{}", runs.body);
        let run_id = runs.body["data"][0]["id"].as_i64().unwrap();
        let run = app.get(&format!("/api/v1/runs/{run_id}"), &key).await;
        assert_eq!(
            (
                run.body["data"]["jobId"].as_str(),
                run.body["data"]["outcome"].as_str()
            ),
            (Some(id.as_str()), Some("succeeded"))
        );
        let bob = app.key("bob", Role::Scheduler).await;
        assert_eq!(
            app.get(&format!("/api/v1/runs/{run_id}"), &bob)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get(&format!("/api/v1/runs?job={id}"), &bob)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let s = app
            .post(
                "/api/v1/schedules",
                &key,
                json!({"name": "n", "cron": "0 3 * * *", "jobType": "report"}),
            )
            .await;
        let sid = s.body["data"]["id"].as_str().unwrap().to_owned();
        let t = app
            .post(&format!("/api/v1/schedules/{sid}/trigger"), &key, json!({}))
            .await;
        let job = t.body["data"]["jobId"].as_str().unwrap().to_owned();
        eventually("the triggered job runs", || async {
            app.get(&format!("/api/v1/runs?schedule={sid}"), &key)
                .await
                .body["data"][0]["jobId"]
                == job.as_str()
        })
        .await;
        let both = app
            .get(&format!("/api/v1/runs?job={id}&schedule={sid}"), &key)
            .await;
        assert_eq!(both.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            app.get("/api/v1/runs/0", &key).await.status,
            StatusCode::BAD_REQUEST
        );
    }
);
