//! Warden's durable storage: one [`Store`] trait, a SQLite and a PostgreSQL backend.
//!
//! # Layout
//! - [`store`]: the `Store` trait (batch-first, `noun_verb_many` methods).
//! - [`store_access`]: `AccessStore`, principals, API keys and the audit trail.
//! - [`store_ops`]: `OpsStore`, the `/cron/run` history, named locks, scheduler health.
//! - [`model`]: params and rows crossing the seam (`model_access`: principals, keys, audit;
//!   `model_ops`: cron runs).
//! - [`sqlite`], [`postgres`]: the backends; their SQL lives beside them in `.sql` files
//!   with the same names per backend.
//! - [`any`]: `AnyStore`, the backend chosen at start (`open`).
//! - `ledger`: the occurrence-recording algorithm both backends run in a transaction.
//! - `migrations`: numbered migrations per backend (`migrations/{sqlite,postgres}`).
//! - `rows`, `convert`: decoding shared by both backends.
//!
//! Times are stored as integer microseconds since the Unix epoch in both backends.

pub mod any;
mod convert;
pub mod error;
mod ledger;
mod migrations;
pub mod model;
mod model_access;
mod model_ops;
pub mod postgres;
mod rows;
mod rows_access;
mod rows_ops;
pub mod sqlite;
pub mod store;
pub mod store_access;
pub mod store_ops;

pub use any::{AnyStore, StoreLocation};
pub use error::StoreError;
pub use model::*;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use store::Store;
pub use store_access::AccessStore;
pub use store_ops::OpsStore;
