//! Lists: every list pages with a cursor, and list answers carry summaries (no payloads,
//! no run outputs), which only the single-object routes show.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use warden_core::{OccurrenceOutcome, Plan, Role, ScheduleId, Scope};
use warden_store::{OccurrenceBatch, OccurrenceItem, Store};
use warden_testkit::backend_tests;

use crate::support::TestApp;

/// Every item of a list, following `nextCursor` with `page` items a page.
async fn walk(app: &TestApp, path: &str, key: &str, page: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{sep}limit={page}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&after={c}"));
        }
        let a = app.get(&url, key).await;
        assert_eq!(a.status, 200, "{url}: {}", a.body);
        let data = a.body["data"].as_array().unwrap().clone();
        assert!(data.len() <= page, "{url} gave {} items", data.len());
        items.extend(data);
        match a.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
    panic!("{path} never ended");
}

backend_tests!(
    a_schedules_occurrences_page_with_a_cursor,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let alice = app.key("alice", Role::Scheduler).await;
        let made = app
            .post(
                "/api/v1/schedules",
                &alice,
                json!({"name": "nightly", "cron": "0 3 * * *", "jobType": "report"}),
            )
            .await;
        let id: ScheduleId = made.body["data"]["id"].as_str().unwrap().parse().unwrap();
        let first = app
            .store
            .schedule_get(id, Scope::All)
            .await
            .unwrap()
            .next_fire_at
            .unwrap();
        let day = |n: i64| first + SignedDuration::from_hours(24 * n);
        let items = (0..7)
            .map(|n| OccurrenceItem {
                scheduled_at: day(n),
                plan: Plan::Record(OccurrenceOutcome::MissedDowntime),
                job: None,
            })
            .collect();
        app.store
            .occurrence_record_many(OccurrenceBatch {
                schedule_id: id,
                expected_next_fire_at: first,
                new_next_fire_at: Some(day(7)),
                overlap: warden_core::OverlapPolicy::Allow,
                now: Timestamp::now(),
                items,
                forbidden: None,
                quota: None,
                blocked_audit: warden_store::AuditContext::default().record(
                    Timestamp::now(),
                    warden_core::AuditAction::ScheduleBlocked,
                    Some(id.to_string()),
                    warden_core::AuditOutcome::Denied,
                ),
            })
            .await
            .unwrap();
        let path = format!("/api/v1/schedules/{id}/occurrences");
        let all = walk(&app, &path, &alice, 3).await;
        let times: Vec<Timestamp> = all
            .iter()
            .map(|o| o["scheduledAt"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(times, (0..7).map(day).collect::<Vec<_>>());
        let bad = app.get(&format!("{path}?after=yesterday"), &alice).await;
        assert_eq!(bad.status, 400);
        assert!(bad.message().contains("`after`"), "{}", bad.body);
    }
);

backend_tests!(
    lists_carry_summaries_and_the_single_routes_the_payloads,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let alice = app.key("alice", Role::Scheduler).await;
        let big = "x".repeat(64 * 1024);
        let job = app
            .post(
                "/api/v1/jobs",
                &alice,
                json!({"jobType": "send-email", "delayMs": 60000, "data": {"big": big}}),
            )
            .await;
        let job = job.body["data"]["jobId"].as_str().unwrap().to_owned();
        let schedule = app
            .post(
                "/api/v1/schedules",
                &alice,
                json!({"name": "n", "cron": "0 3 * * *", "jobType": "report", "data": {"big": big}}),
            )
            .await;
        let schedule = schedule.body["data"]["id"].as_str().unwrap().to_owned();
        let ran = app
            .post("/api/v1/jobs", &alice, json!({"jobType": "leaky-http"}))
            .await;
        let ran = ran.body["data"]["jobId"].as_str().unwrap().to_owned();
        let runs_of_job = format!("/api/v1/runs?job={ran}");
        warden_testkit::eventually("the job ran", || async {
            app.get(&runs_of_job, &alice).await.body["data"][0]["id"].is_i64()
        })
        .await;

        for (list, field) in [
            ("/api/v1/jobs".to_owned(), "data"),
            ("/api/v1/schedules".to_owned(), "data"),
            (runs_of_job.clone(), "output"),
            (format!("/api/v1/jobs/{ran}/runs"), "output"),
        ] {
            let a = app.get(&list, &alice).await;
            let items = a.body["data"].as_array().unwrap();
            assert!(!items.is_empty(), "{list}: {}", a.body);
            for item in items {
                assert!(
                    item.get(field).is_none(),
                    "{list} carried `{field}`: {item}"
                );
                assert!(item["id"].is_string() || item["id"].is_i64(), "{item}");
            }
        }
        let run = app.get(&runs_of_job, &alice).await.body["data"][0]["id"]
            .as_i64()
            .unwrap();
        for (one, field) in [
            (format!("/api/v1/jobs/{job}"), "data"),
            (format!("/api/v1/schedules/{schedule}"), "data"),
            (format!("/api/v1/runs/{run}"), "output"),
        ] {
            let a = app.get(&one, &alice).await;
            assert!(
                a.body["data"][field].is_object(),
                "{one} lacks `{field}`: {}",
                a.body
            );
        }
        let one = app.get(&format!("/api/v1/jobs/{job}"), &alice).await;
        assert_eq!(
            one.body["data"]["data"]["big"].as_str().unwrap().len(),
            big.len()
        );
    }
);
