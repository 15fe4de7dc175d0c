//! The OpenAPI document: the checked-in golden file is what the code generates and what
//! the server serves; it is OpenAPI 3.1; it describes every route of the table and no
//! other; every `$ref` resolves; and authentication and errors are documented.
//!
//! Regenerate the golden file with `UPDATE_OPENAPI=1 cargo test -p warden-api openapi`.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;
use warden_api::{PUBLIC_ROUTES, Route, openapi, openapi_document, routes_table};
use warden_store::AnyStore;
use warden_testkit::backend_tests;

use crate::support::{ADMIN_ENV_KEY, TestApp};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
const REGENERATE: &str = "regenerate it with `UPDATE_OPENAPI=1 cargo test -p warden-api openapi` and commit crates/warden-api/openapi.json";

fn generated() -> String {
    openapi::to_json(&openapi_document::<AnyStore>())
}

fn golden() -> String {
    std::fs::read_to_string(GOLDEN)
        .unwrap_or_else(|e| panic!("cannot read {GOLDEN} ({e}); {REGENERATE}"))
}

fn golden_json() -> Value {
    serde_json::from_str(&golden())
        .unwrap_or_else(|e| panic!("{GOLDEN} is not JSON ({e}); {REGENERATE}"))
}

/// Where two texts first differ, for a readable failure.
fn first_difference(expected: &str, actual: &str) -> String {
    let (mut e, mut a) = (expected.lines(), actual.lines());
    for n in 1.. {
        match (e.next(), a.next()) {
            (None, None) => break,
            (x, y) if x == y => continue,
            (x, y) => {
                return format!(
                    "line {n}: the golden file has {:?}, the code generates {:?}",
                    x.unwrap_or("<end>"),
                    y.unwrap_or("<end>")
                );
            }
        }
    }
    "they differ only in line endings".into()
}

#[test]
fn openapi_golden_file_matches_the_code() {
    let generated = generated();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(GOLDEN, &generated).unwrap();
        return;
    }
    let golden = golden();
    assert!(
        golden == generated,
        "the OpenAPI golden file is out of date ({}); {REGENERATE}",
        first_difference(&golden, &generated)
    );
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every (path, method) a document describes.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.insert((path.clone(), method.to_owned()));
            }
        }
    }
    ops
}

#[test]
fn openapi_describes_every_route_of_the_table_and_no_other() {
    let routed: BTreeSet<(String, String)> = routes_table::<AnyStore>()
        .iter()
        .map(|r| (r.path.to_owned(), r.method.as_str().to_ascii_lowercase()))
        .collect();
    let generated = serde_json::to_value(openapi_document::<AnyStore>()).unwrap();
    for (name, doc) in [("generated", generated), ("golden", golden_json())] {
        let documented = operations(&doc);
        let missing: Vec<_> = routed.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routed).collect();
        assert!(
            missing.is_empty(),
            "routes missing from the {name} OpenAPI document: {missing:?} (does the handler's \
             #[utoipa::path] name the same path and method as routes_table?); {REGENERATE}"
        );
        assert!(
            extra.is_empty(),
            "the {name} OpenAPI document describes routes that routes_table does not serve: \
             {extra:?}; {REGENERATE}"
        );
    }
}

fn collect_refs(value: &Value, refs: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        refs.insert(r.clone());
                    }
                    _ => collect_refs(v, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

#[test]
fn openapi_is_3_1_with_resolvable_refs_security_and_error_answers() {
    let doc = golden_json();
    assert_eq!(doc["openapi"], "3.1.0");

    let mut refs = BTreeSet::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in &refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{r} is not a local reference"));
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }

    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["jobApiKey"]["name"], "x-job-api-key");
    assert_eq!(schemes["jobApiKey"]["in"], "header");
    assert_eq!(schemes["internalApiKey"]["name"], "x-internal-api-key");

    let mut operation_ids = BTreeSet::new();
    let mut linked = BTreeSet::new();
    for Route { path, method, .. } in routes_table::<AnyStore>() {
        let op = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
        let what = format!("{method} {path}");
        assert!(
            operation_ids.insert(op["operationId"].as_str().unwrap().to_owned()),
            "{what}: duplicate operationId"
        );
        let security = op["security"].as_array().unwrap();
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{what}: no success answer"
        );
        assert!(responses.contains_key("429"), "{what}: no 429");
        if PUBLIC_ROUTES.contains(&path) {
            assert!(security.is_empty(), "{what} is public: `security: []`");
            // `/cron/run` checks a token of its own (CRON_TOKEN) and answers 401 without.
            assert_eq!(responses.contains_key("401"), path == "/cron/run", "{what}");
            continue;
        }
        let named: BTreeSet<&str> = security
            .iter()
            .flat_map(|s| s.as_object().unwrap().keys().map(String::as_str))
            .collect();
        assert_eq!(
            named,
            BTreeSet::from(["bearer", "jobApiKey", "internalApiKey"]),
            "{what}"
        );
        assert!(responses.contains_key("401"), "{what}: no 401");
        if path != "/api/v1/openapi.json" {
            assert!(responses.contains_key("403"), "{what}: no 403");
        }
        // An id names an object that may be missing (a PUT of a principal creates it).
        if path.contains('{') && what != "PUT /api/v1/principals/{id}" {
            assert!(responses.contains_key("404"), "{what}: no 404");
        }
        if op.get("requestBody").is_some() {
            assert!(responses.contains_key("413"), "{what}: no 413");
        }
        // Links name operations that exist (checked below).
        for answer in responses.values() {
            if let Some(links) = answer.get("links").and_then(Value::as_object) {
                linked.extend(
                    links
                        .values()
                        .map(|l| l["operationId"].as_str().unwrap().to_owned()),
                );
            }
        }
        // Every error answer is the error envelope.
        for (status, answer) in responses {
            if status.starts_with('4') {
                let r = answer["$ref"].as_str().unwrap_or_default();
                assert!(
                    r.starts_with("#/components/responses/"),
                    "{what} {status}: {answer}"
                );
            }
        }
    }
    assert!(!linked.is_empty());
    let unknown: Vec<_> = linked.difference(&operation_ids).collect();
    assert!(
        unknown.is_empty(),
        "links to unknown operations: {unknown:?}"
    );
}

#[test]
fn request_bodies_refuse_unknown_fields() {
    let doc = golden_json();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "NewJob",
        "NewJobBatch",
        "NewSchedule",
        "NewDstPolicy",
        "SeedJob",
        "NewApiKey",
        "KeyRotation",
        "PrincipalSettings",
        "Limits",
    ] {
        assert_eq!(
            schemas[name]["additionalProperties"],
            Value::Bool(false),
            "{name}"
        );
    }
}

backend_tests!(
    the_served_openapi_document_is_the_golden_file,
    |db: warden_testkit::TestDb| async move {
        let app = TestApp::spawn(db).await;
        let res = app
            .client
            .get(app.url("/api/v1/openapi.json"))
            .bearer_auth(ADMIN_ENV_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "application/json");
        let served = res.text().await.unwrap();
        let golden = golden();
        assert!(
            served == golden,
            "the served document is not the golden file ({}); {REGENERATE}",
            first_difference(&golden, &served)
        );
        let anonymous = app
            .client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    }
);

/// The error codes the document lists are exactly [`ErrorCode`]'s: a code added to the
/// type and not to `ErrorBody::code`'s documentation (or the reverse) fails here.
#[test]
fn the_documented_error_codes_are_the_error_code_type_s() {
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let description =
        doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["description"]
            .as_str()
            .expect("ErrorBody.code has a description");
    let documented: BTreeSet<&str> = description.split('`').skip(1).step_by(2).collect();
    let declared: BTreeSet<&str> = warden_api::error::ErrorCode::NAMES
        .iter()
        .copied()
        .collect();
    assert_eq!(
        documented, declared,
        "ErrorBody::code's documentation and ErrorCode differ"
    );
}
