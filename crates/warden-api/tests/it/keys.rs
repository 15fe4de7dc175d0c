//! API keys through the API: issued once, listed without the key, rotated with an
//! overlap during which both work, and revoked.

use reqwest::StatusCode;
use serde_json::json;
use warden_store::{AccessStore, AuditFilter};
use warden_testkit::backend_tests;

use crate::support::{ADMIN_ENV_KEY, TestApp};

backend_tests!(
    keys_are_issued_once_rotated_with_overlap_and_audited,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let made = app
            .post(
                "/api/v1/keys",
                ADMIN_ENV_KEY,
                json!({"name": "ci", "role": "scheduler", "principal": "team-a", "expires": "90d"}),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let key = made.body["data"]["key"].as_str().unwrap().to_owned();
        assert!(key.starts_with("wdn_") && key.len() == 68, "{key}");
        assert_eq!(made.body["data"]["principal"], "team-a");
        assert!(made.body["data"]["expiresAt"].is_string());
        let id = made.body["data"]["id"].as_str().unwrap().to_owned();

        let created = app
            .post(
                "/api/v1/jobs",
                &key,
                json!({"jobType": "send-email", "delayMs": 60000}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        let job = app
            .get(
                &format!(
                    "/api/v1/jobs/{}",
                    created.body["data"]["jobId"].as_str().unwrap()
                ),
                &key,
            )
            .await;
        assert_eq!(job.body["data"]["owner"], "team-a");

        // Listing shows the prefix and last use, never the key or its hash.
        let listed = app.get("/api/v1/keys", ADMIN_ENV_KEY).await;
        let text = listed.body.to_string();
        assert!(!text.contains(&key[12..]), "a listing showed the key");
        let stored = app.store.api_key_list(None).await.unwrap();
        assert!(!text.contains(&stored[0].hash), "a listing showed the hash");
        assert_eq!(listed.body["data"][0]["prefix"], &key[..12]);

        let rotated = app
            .post(
                &format!("/api/v1/keys/{id}/rotate"),
                ADMIN_ENV_KEY,
                json!({"overlap": "1h"}),
            )
            .await;
        assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
        let new_key = rotated.body["data"]["key"].as_str().unwrap().to_owned();
        assert_ne!(new_key, key);
        assert_eq!(rotated.body["data"]["rotatedFrom"], id.as_str());
        // Both work during the overlap; the old one has an expiry an hour out.
        assert_eq!(app.get("/api/v1/jobs", &key).await.status, StatusCode::OK);
        assert_eq!(
            app.get("/api/v1/jobs", &new_key).await.status,
            StatusCode::OK
        );
        let old = app.store.api_key_get(id.parse().unwrap()).await.unwrap();
        let left = old
            .expires_at
            .unwrap()
            .duration_since(jiff::Timestamp::now())
            .as_secs();
        assert!((3500..=3600).contains(&left), "{left}");

        // Only admins manage keys.
        let denied = app
            .post(
                "/api/v1/keys",
                &new_key,
                json!({"name": "x", "role": "admin"}),
            )
            .await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        let bad_role = app
            .post(
                "/api/v1/keys",
                ADMIN_ENV_KEY,
                json!({"name": "x", "role": "root"}),
            )
            .await;
        assert!(
            bad_role.message().contains("`role`"),
            "{}",
            bad_role.message()
        );

        let actions: Vec<warden_core::AuditAction> = app
            .store
            .audit_list(AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.record.action)
            .collect();
        for a in [
            warden_core::AuditAction::KeyCreate,
            warden_core::AuditAction::KeyRotate,
            warden_core::AuditAction::AuthzDenied,
        ] {
            assert!(actions.contains(&a), "{a} missing from {actions:?}");
        }
    }
);
