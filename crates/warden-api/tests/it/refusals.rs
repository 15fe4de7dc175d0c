//! Refused credentials write a bounded number of rows: the first refusals of an address
//! in a window are kept in full, the rest are counted into one summary row per window
//! (the audit trail for the API, `cron_runs` for `/cron/run`), on both backends.

use std::time::Duration;
use warden_core::AuditAction;

use reqwest::{Method, StatusCode};
use warden_api::{HttpLimits, refusals::RefusalLimits};
use warden_store::{AccessStore, AuditFilter, OpsStore};
use warden_testkit::{TestDb, backend_tests, eventually};

use crate::support::{Options, TestApp, unlimited};

/// Windows short enough to see end in a test, long enough to hold 30 quick calls.
fn limits() -> HttpLimits {
    HttpLimits {
        refusals: RefusalLimits {
            window: Duration::from_secs(2),
            recorded_per_window: 5,
            max_addresses: 10_000,
        },
        ..unlimited()
    }
}

/// How many refusals a summary's `detail` says it stands for.
fn counted(detail: Option<&str>) -> u64 {
    let detail = detail.unwrap_or_default();
    detail
        .strip_prefix("refusals counted, not recorded one by one: ")
        .and_then(|rest| rest.split_once(" from this address"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("not a summary: {detail:?}"))
}

backend_tests!(
    repeated_bad_keys_from_one_address_write_a_bounded_trail,
    |db: TestDb| async move {
        let app = TestApp::spawn_with(db, limits()).await;
        for _ in 0..30 {
            let a = app
                .call(Method::GET, "/api/v1/jobs", Some("wdn_not-a-key"), None)
                .await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        }
        // Another address has a window of its own.
        let other = reqwest::Client::builder()
            .no_proxy()
            .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        for _ in 0..3 {
            let req = other.get(app.url("/api/v1/jobs")).bearer_auth("wdn_nope");
            assert_eq!(app.send(req, None).await.status, StatusCode::UNAUTHORIZED);
        }
        let trail = || async { app.store.audit_list(AuditFilter::default()).await.unwrap() };
        eventually("the summary of the window", || async {
            trail()
                .await
                .iter()
                .any(|e| e.record.action == AuditAction::AuthFailureRepeated)
        })
        .await;
        let trail = trail().await;
        let full = |ip: &str| {
            trail
                .iter()
                .filter(|e| {
                    e.record.action == AuditAction::AuthFailure
                        && e.record.client_ip.as_deref() == Some(ip)
                })
                .count()
        };
        assert_eq!(full("127.0.0.1"), 5);
        assert_eq!(full("127.0.0.2"), 3);
        let summaries: Vec<_> = trail
            .iter()
            .filter(|e| e.record.action == AuditAction::AuthFailureRepeated)
            .collect();
        assert_eq!(summaries.len(), 1);
        let summary = &summaries[0].record;
        assert_eq!(counted(summary.detail.as_deref()), 25);
        assert_eq!(summary.client_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(summary.outcome, warden_core::AuditOutcome::Unauthenticated);
        assert!(
            summary.detail.as_deref().unwrap().contains("unknown key"),
            "{summary:?}"
        );
        // A new window records in full again.
        let a = app
            .call(Method::GET, "/api/v1/jobs", Some("wdn_not-a-key"), None)
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        let trail = app.store.audit_list(AuditFilter::default()).await.unwrap();
        assert_eq!(trail[0].record.action, AuditAction::AuthFailure);
    }
);

backend_tests!(
    repeated_bad_cron_tokens_from_one_address_write_bounded_records,
    |db: TestDb| async move {
        let mut config = warden_api::cron_run::CronConfig::new(vec![
            warden_security::envkey::StaticKey::new(
                "CRON_TOKEN",
                secrecy::SecretString::from("cron-token-0123456789abcdef0123456789abcdef"),
            )
            .unwrap(),
        ]);
        // No guess limit: every call is an `unauthorized` refusal.
        config.rate_limit = 0;
        let app = TestApp::spawn_opts(
            db,
            Options {
                cron: Some(config),
                limits: limits(),
                ..Options::default()
            },
        )
        .await;
        for _ in 0..30 {
            let a = app
                .call(Method::POST, "/cron/run", Some("wrong-token"), None)
                .await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        }
        let runs = || async { app.store.cron_run_list(None, 0).await.unwrap() };
        eventually("the summary of the window", || async {
            runs().await.len() == 6
        })
        .await;
        let runs = runs().await;
        assert!(
            runs.iter()
                .all(|r| r.record.outcome == warden_core::CronRunOutcome::Unauthorized)
        );
        // Newest first: the summary, then the five recorded in full.
        assert_eq!(counted(runs[0].record.detail.as_deref()), 25);
        assert_eq!(runs[0].record.request_id, None);
        assert!(runs[1..].iter().all(|r| r.record.request_id.is_some()));
    }
);
