//! The storage conformance suite: every `Store` method, run against SQLite and PostgreSQL.

mod access;
mod isolation;
mod jobs;
mod ops;
mod scheduled_at;
mod schedules;
mod support;
