//! Isolation: a principal reaches only its own objects, with every endpoint, and cannot
//! make an object someone else's.

use reqwest::{Method, StatusCode};
use serde_json::json;
use warden_core::AuditAction;
use warden_core::{PrincipalId, Role};
use warden_store::AccessStore;
use warden_testkit::{backend_tests, eventually};

use crate::support::{LEAKED_BODY, TestApp};

backend_tests!(
    another_principals_ids_are_not_found_through_any_endpoint,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let alice = app.key("alice", Role::Scheduler).await;
        let bob = app.key("bob", Role::Scheduler).await;
        let job = app
            .post(
                "/api/v1/jobs",
                &alice,
                json!({"jobType": "send-email", "delayMs": 60000, "data": {"secret": "alice's"}}),
            )
            .await;
        let job = job.body["data"]["jobId"].as_str().unwrap().to_owned();
        let s = app
            .post(
                "/api/v1/schedules",
                &alice,
                json!({"name": "mine", "cron": "0 3 * * *", "jobType": "report"}),
            )
            .await;
        let sid = s.body["data"]["id"].as_str().unwrap().to_owned();

        for (method, path, body) in [
            (Method::GET, format!("/api/v1/jobs/{job}"), None),
            (Method::GET, format!("/api/v1/jobs/{job}/runs"), None),
            (
                Method::POST,
                format!("/api/v1/jobs/{job}/cancel"),
                Some(json!({})),
            ),
            (
                Method::POST,
                format!("/api/v1/jobs/{job}/retry"),
                Some(json!({})),
            ),
            (Method::GET, format!("/api/v1/schedules/{sid}"), None),
            (
                Method::PUT,
                format!("/api/v1/schedules/{sid}"),
                Some(json!({"name": "stolen", "cron": "* * * * *", "jobType": "report"})),
            ),
            (
                Method::POST,
                format!("/api/v1/schedules/{sid}/pause"),
                Some(json!({})),
            ),
            (
                Method::POST,
                format!("/api/v1/schedules/{sid}/resume"),
                Some(json!({})),
            ),
            (
                Method::POST,
                format!("/api/v1/schedules/{sid}/trigger"),
                Some(json!({})),
            ),
            (Method::GET, format!("/api/v1/schedules/{sid}/next"), None),
            (
                Method::GET,
                format!("/api/v1/schedules/{sid}/occurrences"),
                None,
            ),
            (Method::DELETE, format!("/api/v1/schedules/{sid}"), None),
        ] {
            let a = app.call(method.clone(), &path, Some(&bob), body).await;
            assert_eq!(
                a.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {}",
                a.body
            );
            assert_eq!(a.code(), "not_found");
        }
        // Lists show bob nothing of alice's; filters cannot reach it either.
        for path in [
            "/api/v1/jobs",
            &format!("/api/v1/jobs?schedule={sid}"),
            "/api/v1/schedules",
        ] {
            let a = app.get(path, &bob).await;
            assert_eq!(a.body["data"].as_array().unwrap().len(), 0, "{path}");
        }
        // Alice's objects are untouched.
        let mine = app.get(&format!("/api/v1/jobs/{job}"), &alice).await;
        assert_eq!(mine.body["data"]["state"], "scheduled");
        let s = app.get(&format!("/api/v1/schedules/{sid}"), &alice).await;
        assert_eq!(
            (
                s.body["data"]["name"].as_str(),
                s.body["data"]["paused"].as_bool()
            ),
            (Some("mine"), Some(false))
        );
        // A batch from bob is his, whatever it says.
        let batch = app
            .post(
                "/api/v1/jobs/batch",
                &bob,
                json!({"jobs": [{"jobType": "send-email", "owner": "alice"}]}),
            )
            .await;
        assert_eq!(batch.status, StatusCode::BAD_REQUEST);
        let batch = app
            .post(
                "/api/v1/jobs/batch",
                &bob,
                json!({"jobs": [{"jobType": "send-email", "delayMs": 1000}]}),
            )
            .await;
        let id = batch.body["data"]["jobs"][0]["jobId"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            app.get(&format!("/api/v1/jobs/{id}"), &bob).await.body["data"]["owner"],
            "bob"
        );
        assert_eq!(
            app.get(&format!("/api/v1/jobs/{id}"), &alice).await.status,
            StatusCode::NOT_FOUND
        );
        // Every probe of alice's ids is in the trail, as bob's.
        let probes = app
            .store
            .audit_list(warden_store::AuditFilter {
                action: Some(AuditAction::AuthzNotFound),
                principal_id: Some(PrincipalId::parse("bob").unwrap()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(probes.len() >= 12, "{}", probes.len());
        // Queue counts span owners, so a scheduler sees the queues without them.
        let queues = app.get("/api/v1/queues", &bob).await;
        assert!(
            queues.body["data"][0].get("counts").is_none(),
            "{}",
            queues.body
        );
    }
);

backend_tests!(
    viewers_read_their_objects_with_sensitive_fields_redacted,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let writer = app.key("alice", Role::Scheduler).await;
        let viewer = app.key("alice", Role::Viewer).await;
        let job = app
            .post("/api/v1/jobs", &writer, json!({"jobType": "send-email", "delayMs": 60000, "data": {"to": "a@example.com", "smtpPassword": "hunter2"}}))
            .await;
        let id = job.body["data"]["jobId"].as_str().unwrap();
        let seen = app.get(&format!("/api/v1/jobs/{id}"), &viewer).await;
        assert_eq!(
            seen.body["data"]["data"],
            json!({"to": "a@example.com", "smtpPassword": "[REDACTED]"})
        );
        let listed = app.get("/api/v1/jobs", &viewer).await;
        assert!(!listed.body.to_string().contains("hunter2"));
        let own = app.get(&format!("/api/v1/jobs/{id}"), &writer).await;
        assert_eq!(own.body["data"]["data"]["smtpPassword"], "hunter2");
    }
);

backend_tests!(
    viewers_read_run_outputs_and_errors_with_credentials_redacted,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let writer = app.key("alice", Role::Scheduler).await;
        let viewer = app.key("alice", Role::Viewer).await;
        let job = app
            .post("/api/v1/jobs", &writer, json!({"jobType": "leaky-http"}))
            .await;
        let id = job.body["data"]["jobId"].as_str().unwrap().to_owned();
        let runs_of_job = format!("/api/v1/runs?job={id}");
        eventually("the job ran", || async {
            app.get(&runs_of_job, &writer).await.body["data"][0]["id"].is_i64()
        })
        .await;
        let run_id = app.get(&runs_of_job, &writer).await.body["data"][0]["id"]
            .as_i64()
            .unwrap();
        let own = app
            .get(&format!("/api/v1/runs/{run_id}"), &writer)
            .await
            .body;
        assert_eq!(own["data"]["output"]["body"], LEAKED_BODY, "{own}");
        for path in [
            runs_of_job.clone(),
            format!("/api/v1/jobs/{id}/runs"),
            format!("/api/v1/runs/{run_id}"),
        ] {
            let seen = app.get(&path, &viewer).await.body;
            let text = seen.to_string();
            for secret in ["tok-abc123", "pw-xyz", "pw-in-output"] {
                assert!(!text.contains(secret), "{path} showed {secret}: {seen}");
            }
            assert!(
                text.contains("[REDACTED]") && text.contains("kept"),
                "{seen}"
            );
        }
    }
);
