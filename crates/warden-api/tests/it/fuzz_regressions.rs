//! Inputs the schemathesis run (`scripts/api-fuzz.sh`) found answered with a 5xx or a
//! dropped connection; each is now a 400 naming the field.

use reqwest::StatusCode;
use serde_json::json;
use warden_testkit::backend_tests;

use crate::support::{ADMIN_ENV_KEY, TestApp};

// A duration ending in a multi-byte character panicked the handler (the connection was
// dropped) instead of answering 400.
backend_tests!(
    non_ascii_durations_are_refused_not_a_panic,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        for expires in ["\u{80}", "1\nÀ", "90d\u{e9}"] {
            let a = app
                .post(
                    "/api/v1/keys",
                    ADMIN_ENV_KEY,
                    json!({"name": "ci", "role": "viewer", "expires": expires}),
                )
                .await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{expires:?}: {}", a.body);
            assert!(a.message().contains("`expires`"), "{}", a.message());
        }
        let made = app
            .post(
                "/api/v1/keys",
                ADMIN_ENV_KEY,
                json!({"name": "ci", "role": "viewer"}),
            )
            .await;
        let id = made.body["data"]["id"].as_str().unwrap().to_owned();
        let a = app
            .post(
                &format!("/api/v1/keys/{id}/rotate"),
                ADMIN_ENV_KEY,
                json!({"overlap": "\u{80}"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
        assert!(a.message().contains("`overlap`"), "{}", a.message());
    }
);

// A limit above 2^31 - 1 did not fit PostgreSQL's integer column: 500.
backend_tests!(
    limits_beyond_32_bits_are_refused,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        for field in ["maxActive", "maxConcurrent"] {
            let a = app
                .call(
                    reqwest::Method::PUT,
                    "/api/v1/principals/team-a",
                    Some(ADMIN_ENV_KEY),
                    Some(json!({"limits": {field: 2_147_483_648_u64}})),
                )
                .await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{field}: {}", a.body);
            assert!(a.message().contains(field), "{}", a.message());
        }
        let a = app
            .call(
                reqwest::Method::PUT,
                "/api/v1/principals/team-a",
                Some(ADMIN_ENV_KEY),
                Some(
                    json!({"limits": {"maxActive": 2_147_483_647, "maxConcurrent": 2_147_483_647}}),
                ),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
);

// PostgreSQL refuses NUL in text: a `%00` in a query filter, a cursor or a principal id
// reached the store and was answered 500.
backend_tests!(
    nul_characters_in_paths_and_queries_are_refused,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        for path in [
            "/api/v1/principals?after=a%00b",
            "/api/v1/principals/a%00b",
            "/api/v1/keys?principal=a%00",
            "/api/v1/audit?action=a%00",
            "/api/v1/audit?target=%00",
            "/api/v1/jobs?queue=a%00",
        ] {
            let a = app.get(path, ADMIN_ENV_KEY).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}: {}", a.body);
            assert!(a.message().contains("NUL"), "{path}: {}", a.message());
        }
    }
);
