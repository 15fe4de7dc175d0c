//! The HTTP API end to end: a real server on 127.0.0.1 over a real database (SQLite and
//! PostgreSQL), called with real HTTP.

mod auth;
mod connections;
mod controls;
mod cron_run;
mod fuzz_regressions;
mod hardening;
mod isolation;
mod jobs;
mod keys;
mod lists;
mod matrix;
mod metrics;
mod oidc;
mod openapi;
mod refusals;
mod support;
