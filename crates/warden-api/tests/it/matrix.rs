//! The authorisation matrix: every endpoint × every role × the caller's own object and
//! another principal's. A refused permission is 403, another's object is 404 for roles
//! confined to their own, and everything else is answered without 401/403/404/5xx.
//! Endpoints that need no permission beyond authentication (the OpenAPI document)
//! answer 200 to every role.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use warden_api::{PUBLIC_ROUTES, Route, routes_table};
use warden_core::{Permission, Role};
use warden_store::AnyStore;
use warden_testkit::backend_tests;

use crate::support::{ADMIN_ENV_KEY, TestApp};

/// What an endpoint acts on.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    None,
    Job,
    Schedule,
    Key,
    Principal,
    /// A run of one of the owner's jobs.
    Run,
    /// A declared queue (not owned by anyone).
    Queue,
}

/// The permission an endpoint needs (`None`: any authenticated caller) and what it acts on.
fn spec() -> HashMap<(Method, &'static str), (Option<Permission>, Target)> {
    use Permission::*;
    use Target::*;
    let needing = HashMap::from([
        ((Method::POST, "/api/jobs/schedule"), (JobsWrite, None)),
        ((Method::POST, "/api/v1/jobs"), (JobsWrite, None)),
        ((Method::GET, "/api/v1/jobs"), (JobsRead, None)),
        ((Method::POST, "/api/v1/jobs/batch"), (JobsWrite, None)),
        ((Method::GET, "/api/v1/jobs/{id}"), (JobsRead, Job)),
        ((Method::POST, "/api/v1/jobs/{id}/cancel"), (JobsWrite, Job)),
        ((Method::POST, "/api/v1/jobs/{id}/retry"), (JobsWrite, Job)),
        ((Method::GET, "/api/v1/jobs/{id}/runs"), (JobsRead, Job)),
        ((Method::POST, "/api/v1/schedules"), (SchedulesWrite, None)),
        ((Method::GET, "/api/v1/schedules"), (SchedulesRead, None)),
        (
            (Method::GET, "/api/v1/schedules/{id}"),
            (SchedulesRead, Schedule),
        ),
        (
            (Method::PUT, "/api/v1/schedules/{id}"),
            (SchedulesWrite, Schedule),
        ),
        (
            (Method::DELETE, "/api/v1/schedules/{id}"),
            (SchedulesWrite, Schedule),
        ),
        (
            (Method::POST, "/api/v1/schedules/{id}/pause"),
            (SchedulesWrite, Schedule),
        ),
        (
            (Method::POST, "/api/v1/schedules/{id}/resume"),
            (SchedulesWrite, Schedule),
        ),
        (
            (Method::POST, "/api/v1/schedules/{id}/trigger"),
            (SchedulesWrite, Schedule),
        ),
        (
            (Method::GET, "/api/v1/schedules/{id}/next"),
            (SchedulesRead, Schedule),
        ),
        (
            (Method::GET, "/api/v1/schedules/{id}/occurrences"),
            (SchedulesRead, Schedule),
        ),
        ((Method::GET, "/api/v1/queues"), (QueuesRead, None)),
        (
            (Method::POST, "/api/v1/queues/{name}/pause"),
            (QueuesWrite, Queue),
        ),
        (
            (Method::POST, "/api/v1/queues/{name}/resume"),
            (QueuesWrite, Queue),
        ),
        ((Method::GET, "/api/v1/runs"), (JobsRead, None)),
        ((Method::GET, "/api/v1/runs/{id}"), (JobsRead, Run)),
        ((Method::POST, "/api/v1/keys"), (KeysWrite, None)),
        ((Method::GET, "/api/v1/keys"), (KeysRead, None)),
        ((Method::DELETE, "/api/v1/keys/{id}"), (KeysWrite, Key)),
        ((Method::POST, "/api/v1/keys/{id}/rotate"), (KeysWrite, Key)),
        ((Method::GET, "/api/v1/principals"), (PrincipalsRead, None)),
        (
            (Method::GET, "/api/v1/principals/{id}"),
            (PrincipalsRead, Principal),
        ),
        (
            (Method::PUT, "/api/v1/principals/{id}"),
            (PrincipalsWrite, Principal),
        ),
        ((Method::GET, "/api/v1/audit"), (AuditRead, None)),
        (
            (Method::GET, "/api/v1/health/scheduler"),
            (SchedulerRead, None),
        ),
        ((Method::GET, "/api/v1/cron-runs"), (SchedulerRead, None)),
    ]);
    needing
        .into_iter()
        .map(|(route, (permission, target))| (route, (Some(permission), target)))
        .chain([((Method::GET, "/api/v1/openapi.json"), (Option::None, None))])
        .collect()
}

fn body(method: &Method, path: &str, n: usize) -> Option<Value> {
    let name = format!("m{n}");
    Some(match (method.as_str(), path) {
        ("POST", "/api/jobs/schedule") => {
            json!({"type": "immediate", "jobType": "send-email", "data": {}, "queueName": "default"})
        }
        ("POST", "/api/v1/jobs") => json!({"jobType": "send-email", "delayMs": 60000}),
        ("POST", "/api/v1/jobs/batch") => {
            json!({"jobs": [{"jobType": "send-email", "delayMs": 60000}]})
        }
        ("POST", "/api/v1/schedules") | ("PUT", "/api/v1/schedules/{id}") => {
            json!({"name": name, "cron": "0 3 * * *", "jobType": "report"})
        }
        ("POST", "/api/v1/keys") => json!({"name": name, "role": "viewer"}),
        ("PUT", "/api/v1/principals/{id}") => json!({"disabled": false}),
        ("POST", _) => json!({}),
        _ => return None,
    })
}

/// Makes a fresh object of `target` owned by `owner` and returns its id.
async fn object(app: &TestApp, target: Target, owner: &str, owner_key: &str, n: usize) -> String {
    match target {
        Target::None => String::new(),
        Target::Job => app
            .post(
                "/api/v1/jobs",
                owner_key,
                json!({"jobType": "send-email", "delayMs": 60000}),
            )
            .await
            .body["data"]["jobId"]
            .as_str()
            .unwrap()
            .to_owned(),
        Target::Schedule => app
            .post(
                "/api/v1/schedules",
                owner_key,
                json!({"name": format!("obj{n}"), "cron": "0 3 * * *", "jobType": "report"}),
            )
            .await
            .body["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        Target::Key => app
            .post(
                "/api/v1/keys",
                ADMIN_ENV_KEY,
                json!({"name": format!("k{n}"), "role": "viewer", "principal": owner}),
            )
            .await
            .body["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        Target::Principal => owner.to_owned(),
        Target::Queue => "default".to_owned(),
        Target::Run => {
            let job = app
                .post(
                    "/api/v1/jobs",
                    owner_key,
                    json!({"jobType": "send-email", "queueName": "COMMUNICATIONS"}),
                )
                .await
                .body["data"]["jobId"]
                .as_str()
                .unwrap()
                .to_owned();
            let path = format!("/api/v1/runs?job={job}");
            let run = warden_testkit::eventually_some("the job's run", || async {
                app.get(&path, owner_key).await.body["data"][0]["id"].as_i64()
            })
            .await;
            run.to_string()
        }
    }
}

backend_tests!(
    every_endpoint_for_every_role_on_own_and_others_objects,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let spec = spec();
        let routes: Vec<(&str, Method)> = routes_table::<AnyStore>()
            .into_iter()
            .filter(|r| !PUBLIC_ROUTES.contains(&r.path))
            .map(|Route { path, method, .. }| (path, method))
            .collect();
        for (path, method) in &routes {
            assert!(
                spec.contains_key(&(method.clone(), *path)),
                "{method} {path} is missing from the matrix"
            );
        }
        assert_eq!(routes.len(), spec.len());
        let owners = [
            ("alice", app.key("alice", Role::Scheduler).await),
            ("bob", app.key("bob", Role::Scheduler).await),
        ];
        let mut n = 0;
        for role in Role::ALL {
            let caller = app.key("alice", role).await;
            for (path, method) in &routes {
                let (permission, target) = spec[&(method.clone(), *path)];
                for (owner, owner_key) in &owners {
                    n += 1;
                    let id = object(&app, target, owner, owner_key, n).await;
                    let url = path.replace("{id}", &id).replace("{name}", &id);
                    let a = app
                        .call(method.clone(), &url, Some(&caller), body(method, path, n))
                        .await;
                    let others = *owner != "alice"
                        && matches!(target, Target::Job | Target::Schedule | Target::Run);
                    let what = format!(
                        "{role} {method} {path} on {owner}'s object: {} {}",
                        a.status, a.body
                    );
                    if permission.is_none() {
                        assert_eq!(a.status, StatusCode::OK, "{what}");
                    } else if permission.is_some_and(|p| !role.grants(p)) {
                        assert_eq!(a.status, StatusCode::FORBIDDEN, "{what}");
                        assert_eq!(a.code(), "forbidden", "{what}");
                    } else if others && !role.sees_all() {
                        assert_eq!(a.status, StatusCode::NOT_FOUND, "{what}");
                    } else {
                        assert!(
                            !matches!(a.status.as_u16(), 401 | 403 | 404)
                                && !a.status.is_server_error(),
                            "{what}"
                        );
                    }
                }
            }
        }
    }
);

/// Every method a client might send, including ones no route answers.
const EVERY_METHOD: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PURGE",
];

backend_tests!(
    every_method_on_every_private_route_is_401_without_credentials,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let mut paths: Vec<&str> = routes_table::<AnyStore>()
            .into_iter()
            .map(|r| r.path)
            .filter(|p| !PUBLIC_ROUTES.contains(p))
            .collect();
        paths.sort_unstable();
        paths.dedup();
        let admin = app.key("root", Role::Admin).await;
        let mut refused_methods = 0;
        for path in paths {
            let url = path.replace("{id}", "0193a000-0000-7000-8000-000000000000");
            let url = url.replace("{name}", "default");
            for m in EVERY_METHOD {
                let method = Method::from_bytes(m.as_bytes()).unwrap();
                let a = app.call(method.clone(), &url, None, None).await;
                let what = format!("anonymous {m} {path}: {} {:?}", a.status, a.headers);
                assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}");
                assert!(!a.headers.contains_key("allow"), "{what}");
                // With credentials, a method the route does not answer is still a 405.
                let a = app.call(method, &url, Some(&admin), None).await;
                if a.status == StatusCode::METHOD_NOT_ALLOWED {
                    refused_methods += 1;
                    if m != "HEAD" {
                        assert_eq!(a.code(), "method_not_allowed", "{m} {path}");
                    }
                }
            }
        }
        assert!(refused_methods > 0, "no authenticated call got a 405");
    }
);
