//! Authentication: deny by default, env keys, stored keys, request ids, refusals audited.

use reqwest::{Method, StatusCode};
use serde_json::json;
use warden_api::{PUBLIC_ROUTES, Route, routes_table};
use warden_core::Role;
use warden_core::{AuditAction, AuditOutcome, PrincipalId};
use warden_store::{AccessStore, AnyStore, AuditFilter};
use warden_testkit::backend_tests;

use crate::support::{ADMIN_ENV_KEY, INTERNAL_ENV_KEY, TestApp};

fn concrete(path: &str) -> String {
    path.replace("{id}", "0190f5e4-0000-7000-8000-000000000000")
        .replace("{name}", "default")
}

backend_tests!(
    every_route_but_the_public_ones_refuses_an_anonymous_call,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let table = routes_table::<AnyStore>();
        assert!(table.len() > 25, "the route table lost routes");
        for Route { path, method, .. } in table {
            let path_now = concrete(path);
            let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
            for key in [
                None,
                Some("wdn_0000000000000000000000000000000000000000000000000000000000000000"),
                Some("not-a-key"),
            ] {
                let a = app.call(method.clone(), &path_now, key, body.clone()).await;
                if path == "/cron/run" {
                    // It checks its own token (see cron_run.rs); without a CRON_TOKEN it
                    // is off.
                    assert_eq!(a.status, StatusCode::NOT_FOUND, "{method} {path}");
                    continue;
                }
                if PUBLIC_ROUTES.contains(&path) {
                    assert!(
                        a.status.is_success(),
                        "{method} {path} is public but answered {}",
                        a.status
                    );
                    continue;
                }
                assert_eq!(
                    a.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with {key:?}"
                );
                assert_eq!(a.code(), "unauthenticated");
                assert_eq!(
                    a.headers["www-authenticate"], r#"Bearer realm="warden""#,
                    "{method} {path}"
                );
                assert!(
                    a.body["error"]["request_id"]
                        .as_str()
                        .is_some_and(|r| !r.is_empty())
                );
            }
        }
        // Every refusal is in the audit trail, with why, and never the presented key.
        let trail = app
            .store
            .audit_list(AuditFilter {
                action: Some(AuditAction::AuthFailure),
                limit: 500,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(trail.len() >= 3 * 27, "{}", trail.len());
        for e in &trail {
            let detail = e.record.detail.clone().unwrap_or_default();
            assert!(
                !detail.contains("not-a-key") && !detail.contains("wdn_0000"),
                "{detail}"
            );
            assert_eq!(e.record.outcome, AuditOutcome::Unauthenticated);
            assert_eq!(e.record.client_ip.as_deref(), Some("127.0.0.1"));
        }
    }
);

backend_tests!(
    env_keys_give_admin_and_service_and_the_service_key_refuses_browsers,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        // JOB_SCHEDULER_API_KEY as `x-job-api-key` (seed 000) and as a bearer key.
        assert_eq!(
            app.get_with("/api/v1/keys", &[("x-job-api-key", ADMIN_ENV_KEY)])
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            app.get("/api/v1/audit", ADMIN_ENV_KEY).await.status,
            StatusCode::OK
        );
        let almost = format!("{}x", &ADMIN_ENV_KEY[..ADMIN_ENV_KEY.len() - 1]);
        assert_eq!(
            app.get("/api/v1/keys", &almost).await.status,
            StatusCode::UNAUTHORIZED
        );

        // INTERNAL_API_KEY as `x-internal-api-key`: the service role, across users,
        // but never keys or the audit trail.
        let service = |path: &str| {
            app.client
                .get(app.url(path))
                .header("x-internal-api-key", INTERNAL_ENV_KEY)
        };
        assert_eq!(
            app.send(service("/api/v1/jobs"), None).await.status,
            StatusCode::OK
        );
        let denied = app.send(service("/api/v1/keys"), None).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        assert_eq!(denied.code(), "forbidden");
        let browser = app
            .send(
                service("/api/v1/jobs").header("origin", "https://evil.example"),
                None,
            )
            .await;
        assert_eq!(browser.status, StatusCode::UNAUTHORIZED);
        let wrong = app
            .send(
                app.client
                    .get(app.url("/api/v1/jobs"))
                    .header("x-internal-api-key", ADMIN_ENV_KEY),
                None,
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        // The service role's reads and refusals are recorded.
        let trail = app.store.audit_list(AuditFilter::default()).await.unwrap();
        let actions: Vec<&str> = trail.iter().map(|e| e.record.action.as_str()).collect();
        assert!(actions.contains(&"service.read"), "{actions:?}");
        assert!(actions.contains(&"authz.denied"), "{actions:?}");
        let read = trail
            .iter()
            .find(|e| e.record.action == AuditAction::ServiceRead)
            .unwrap();
        assert_eq!(
            read.record.principal_id.as_ref().map(PrincipalId::as_str),
            Some("service")
        );
        assert_eq!(read.record.key_id.as_deref(), Some("INTERNAL_API_KEY"));
    }
);

backend_tests!(
    revoked_expired_and_disabled_credentials_are_refused_at_once,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let key = app.key("alice", Role::Scheduler).await;
        assert_eq!(app.get("/api/v1/jobs", &key).await.status, StatusCode::OK);
        // Also accepted as `x-job-api-key`.
        assert_eq!(
            app.get_with("/api/v1/jobs", &[("x-job-api-key", &key)])
                .await
                .status,
            StatusCode::OK
        );

        // Disabling the principal refuses its keys at once.
        app.set_disabled("alice", true).await;
        assert_eq!(
            app.get("/api/v1/jobs", &key).await.status,
            StatusCode::UNAUTHORIZED
        );
        app.set_disabled("alice", false).await;
        assert_eq!(app.get("/api/v1/jobs", &key).await.status, StatusCode::OK);

        // Revoking through the API.
        let listed = app.get("/api/v1/keys?principal=alice", ADMIN_ENV_KEY).await;
        let id = listed.body["data"][0]["id"].as_str().unwrap().to_owned();
        assert!(
            listed.body.to_string().find(&key).is_none(),
            "a listing showed the key"
        );
        let revoked = app
            .call(
                Method::DELETE,
                &format!("/api/v1/keys/{id}"),
                Some(ADMIN_ENV_KEY),
                None,
            )
            .await;
        assert_eq!(revoked.status, StatusCode::OK);
        assert_eq!(
            app.get("/api/v1/jobs", &key).await.status,
            StatusCode::UNAUTHORIZED
        );
        let reasons: Vec<String> = app
            .audit_with_action(warden_core::AuditAction::AuthFailure)
            .await
            .into_iter()
            .filter_map(|e| e.record.detail)
            .collect();
        assert!(reasons.iter().any(|r| r == "key revoked"), "{reasons:?}");
        assert!(
            reasons.iter().any(|r| r == "principal is disabled"),
            "{reasons:?}"
        );
    }
);

backend_tests!(
    request_ids_are_warden_s_own_the_client_s_is_echoed_apart_and_errors_carry_them,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let a = app
            .get_with("/api/v1/jobs", &[("x-request-id", "trace-123")])
            .await;
        let own = a.headers["x-request-id"].to_str().unwrap().to_owned();
        assert!(own != "trace-123" && own.len() == 36, "{own}");
        assert_eq!(a.headers["x-client-request-id"], "trace-123");
        assert_eq!(a.body["error"]["request_id"], own.as_str());
        // An id that could inject into logs is replaced.
        let a = app
            .get_with("/healthz", &[("x-request-id", "bad id\twith tab")])
            .await;
        let id = a.headers["x-request-id"].to_str().unwrap();
        assert!(!id.contains(' ') && id.len() == 36, "{id}");
        let a = app.get("/api/v1/nowhere", ADMIN_ENV_KEY).await;
        assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "no_route"));
    }
);

backend_tests!(
    a_caller_cannot_forge_the_audit_trail_s_request_id,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let bob = app.key("bob", Role::Scheduler).await;
        let create = |key: String, request_id: Option<String>| {
            let mut req = app.client.post(app.url("/api/v1/jobs")).bearer_auth(key);
            if let Some(id) = request_id {
                req = req.header("x-request-id", id);
            }
            app.send(
                req,
                Some(json!({"jobType": "send-email", "delayMs": 60000})),
            )
        };
        // The admin's request, and bob's, which names the admin's id as its own.
        let admins = create(ADMIN_ENV_KEY.to_owned(), None).await;
        let admins_id = admins.headers["x-request-id"].to_str().unwrap().to_owned();
        let bobs = create(bob.clone(), Some(admins_id.clone())).await;
        assert_eq!(bobs.status, StatusCode::CREATED, "{}", bobs.body);
        let trail = app
            .audit_with_action(warden_core::AuditAction::JobCreate)
            .await;
        let with_admins_id: Vec<_> = trail
            .iter()
            .filter(|e| e.record.request_id.as_deref() == Some(admins_id.as_str()))
            .map(|e| e.record.principal_id.as_ref().map(PrincipalId::as_str))
            .collect();
        assert_eq!(with_admins_id, [Some("admin")], "{trail:?}");
        let bobs_row = trail
            .iter()
            .find(|e| e.record.principal_id.as_ref().map(PrincipalId::as_str) == Some("bob"))
            .unwrap();
        assert_eq!(
            bobs_row.record.request_id.as_deref(),
            bobs.headers["x-request-id"].to_str().ok()
        );
        assert_eq!(
            bobs_row.record.client_request_id.as_deref(),
            Some(admins_id.as_str())
        );
        // The API's view of the trail shows both.
        let view = app
            .get("/api/v1/audit?action=job.create", ADMIN_ENV_KEY)
            .await;
        let bobs_view = view.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["principal"] == "bob")
            .unwrap();
        assert_eq!(bobs_view["clientRequestId"], admins_id.as_str());
        assert_ne!(bobs_view["requestId"], admins_id.as_str());
        // A word the trail never uses is a mistake to report, not an empty page.
        let typo = app
            .get("/api/v1/audit?action=job.creat", ADMIN_ENV_KEY)
            .await;
        assert_eq!(typo.status, StatusCode::BAD_REQUEST);
        let message = typo.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("`action`") && message.contains("job.create"),
            "{message}"
        );
    }
);

backend_tests!(
    clients_and_principals_over_their_rate_get_429_with_retry_after,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn_with(db, crate::support::rate_limited(40, 8, &[])).await;
        let alice = app.key("alice", Role::Scheduler).await;
        let bob = app.key("bob", Role::Scheduler).await;
        // Per principal: a burst of 2 (a quarter minute of 8/min), then 429.
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(app.get("/api/v1/jobs", &alice).await.status.as_u16());
        }
        assert_eq!(statuses, [200, 200, 429]);
        let limited = app.get("/api/v1/jobs", &alice).await;
        assert_eq!(limited.code(), "rate_limited");
        let wait: u64 = limited.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=8).contains(&wait), "{wait}");
        // Bob is not held up by alice.
        assert_eq!(app.get("/api/v1/jobs", &bob).await.status, StatusCode::OK);
        // Per IP, before authentication: anonymous floods are cut off too.
        let mut last = StatusCode::OK;
        for _ in 0..20 {
            last = app
                .call(Method::GET, "/api/v1/jobs", None, None)
                .await
                .status;
            if last == StatusCode::TOO_MANY_REQUESTS {
                break;
            }
        }
        assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            app.call(Method::GET, "/healthz", None, None).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
);
