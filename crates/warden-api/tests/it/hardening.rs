//! What a security review of the API found, each kept from coming back: per-owner
//! idempotency, an atomic quota, every `X-Forwarded-For` line, envelopes on 405/408/413,
//! who a refused known key belonged to, case-insensitive `Bearer`, disabled env keys.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use warden_api::HttpLimits;
use warden_core::{PrincipalId, Role};
use warden_store::{AccessStore, AuditFilter};
use warden_testkit::backend_tests;

use crate::support::{ADMIN_ENV_KEY, TestApp, rate_limited, unlimited};

backend_tests!(
    idempotency_keys_and_quotas_hold_per_principal_under_concurrency,
    |db: warden_testkit::TestDb| async move {
        let app = std::sync::Arc::new(TestApp::spawn(db).await);
        let alice = app.key("alice", Role::Scheduler).await;
        let bob = app.key("bob", Role::Scheduler).await;
        let body = json!({"jobType": "send-email", "idempotencyKey": "order-42", "delayMs": 60000});
        let a = app.post("/api/v1/jobs", &alice, body.clone()).await;
        let b = app.post("/api/v1/jobs", &bob, body).await;
        assert_eq!(
            b.body["data"]["existing"], false,
            "bob learnt of alice's key: {}",
            b.body
        );
        assert_ne!(a.body["data"]["jobId"], b.body["data"]["jobId"]);

        let put = app
            .call(
                Method::PUT,
                "/api/v1/principals/carol",
                Some(ADMIN_ENV_KEY),
                Some(json!({"limits": {"maxActive": 5}})),
            )
            .await;
        assert_eq!(put.status, StatusCode::OK);
        let carol = app.key("carol", Role::Scheduler).await;
        let mut calls = Vec::new();
        for _ in 0..30 {
            let (app, carol) = (app.clone(), carol.clone());
            calls.push(tokio::spawn(async move {
                app.post(
                    "/api/v1/jobs",
                    &carol,
                    json!({"jobType": "send-email", "delayMs": 60000}),
                )
                .await
                .status
            }));
        }
        let mut created = 0;
        for c in calls {
            match c.await.unwrap() {
                StatusCode::CREATED => created += 1,
                StatusCode::TOO_MANY_REQUESTS => {}
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(created, 5, "the quota of 5 was passed under concurrency");
    }
);

backend_tests!(
    every_error_answer_has_the_envelope_and_a_request_id,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn_with(
            db,
            HttpLimits {
                max_body_bytes: 64,
                ..unlimited()
            },
        )
        .await;
        let key = app.key("alice", Role::Admin).await;
        let wrong = app
            .call(Method::PATCH, "/api/v1/jobs", Some(&key), None)
            .await;
        assert_eq!(
            (wrong.status, wrong.code()),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
        );
        assert!(wrong.headers.contains_key("x-request-id"));
        let big = app
            .post(
                "/api/v1/keys/0190f5e4-0000-7000-8000-000000000000/rotate",
                &key,
                json!({"overlap": "x".repeat(200)}),
            )
            .await;
        assert_eq!(
            (big.status, big.code()),
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
        );
    }
);

backend_tests!(
    a_request_over_the_timeout_gets_408_in_the_envelope,
    |db: warden_testkit::TestDb| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let app = TestApp::spawn_with(
            db,
            HttpLimits {
                request_timeout: Duration::from_millis(300),
                ..unlimited()
            },
        )
        .await;
        let key = app.key("alice", Role::Scheduler).await;
        // A client that sends half of its body and stalls.
        let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let head = format!(
            "POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"jobType\""
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(10), conn.read_to_string(&mut answer))
            .await
            .expect("the server answered within its timeout")
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            answer.contains("\"code\":\"request_timeout\"") && answer.contains("x-request-id"),
            "{answer}"
        );
    }
);

backend_tests!(
    forwarded_for_lines_after_the_clients_own_decide_its_bucket,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn_with(db, rate_limited(4, 0, &["127.0.0.0/8"])).await;
        // The client forges a first line; the proxy appends the real address on its own line.
        let mut statuses = Vec::new();
        for i in 0..3 {
            let req = app
                .client
                .get(app.url("/healthz"))
                .header("x-forwarded-for", format!("6.6.6.{i}"))
                .header("x-forwarded-for", "203.0.113.9");
            statuses.push(app.send(req, None).await.status.as_u16());
        }
        assert_eq!(
            statuses,
            [200, 429, 429],
            "a forged first line chose the bucket"
        );
    }
);

backend_tests!(
    refusals_of_known_keys_name_them_and_env_keys_obey_disabling,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let key = app.key("alice", Role::Scheduler).await;
        // The scheme is case-insensitive.
        assert_eq!(
            app.get_with(
                "/api/v1/jobs",
                &[("authorization", &format!("BEARER {key}"))]
            )
            .await
            .status,
            StatusCode::OK
        );
        app.set_disabled("alice", true).await;
        assert_eq!(
            app.get("/api/v1/jobs", &key).await.status,
            StatusCode::UNAUTHORIZED
        );
        let failure = &app
            .audit_with_action(warden_core::AuditAction::AuthFailure)
            .await[0];
        assert_eq!(
            failure
                .record
                .principal_id
                .as_ref()
                .map(PrincipalId::as_str),
            Some("alice")
        );
        assert!(failure.record.key_id.is_some());
        // Disabling `admin` stops the JOB_SCHEDULER_API_KEY too.
        app.set_disabled("admin", true).await;
        assert_eq!(
            app.get("/api/v1/jobs", ADMIN_ENV_KEY).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
);

backend_tests!(
    no_service_credential_works_from_a_browser,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let key = app.key("batch", Role::Service).await;
        assert_eq!(app.get("/api/v1/jobs", &key).await.status, StatusCode::OK);
        for (h, v) in [
            ("origin", "https://evil.example"),
            ("cookie", "a=b"),
            ("sec-fetch-dest", "empty"),
        ] {
            let req = app
                .client
                .get(app.url("/api/v1/jobs"))
                .bearer_auth(&key)
                .header(h, v);
            assert_eq!(
                app.send(req, None).await.status,
                StatusCode::UNAUTHORIZED,
                "{h}"
            );
        }
        // Huge paths are cut in the trail.
        let long = format!("/api/v1/{}", "x".repeat(5000));
        app.call(Method::GET, &long, None, None).await;
        let trail = app.store.audit_list(AuditFilter::default()).await.unwrap();
        assert!(trail.iter().all(|e| {
            e.record
                .target
                .as_ref()
                .is_none_or(|t| t.chars().count() <= 256)
        }));
    }
);

backend_tests!(
    silent_connections_are_capped_per_address_and_closed_when_idle,
    |db: warden_testkit::TestDb| async move {
        use tokio::io::AsyncReadExt;
        use warden_api::conn_limit::ConnLimits;
        let limits = ConnLimits {
            max_per_address: 2,
            idle_timeout: Duration::from_millis(400),
            ..ConnLimits::default()
        };
        let app = TestApp::spawn_conn_limited(db, limits).await;
        // Two connections that never send a byte are held...
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(tokio::net::TcpStream::connect(app.addr).await.unwrap());
        }
        // ...a third from the same address is closed at once...
        let mut third = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
            .await
            .expect("the extra connection was closed at once")
            .unwrap_or(0);
        assert_eq!(n, 0);
        // ...and the held ones are closed once idle, which frees the address.
        for mut c in held {
            let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
                .await
                .expect("an idle connection was closed")
                .unwrap_or(0);
            assert_eq!(n, 0);
        }
        assert_eq!(
            app.call(Method::GET, "/healthz", None, None).await.status,
            StatusCode::OK
        );
    }
);
