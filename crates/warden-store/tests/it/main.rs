//! The storage conformance suite: every `Store` method, run against SQLite and PostgreSQL.

mod jobs;
mod schedules;
mod support;
