//! Dev-only test harness: each test gets its own real database, dropped afterwards.
//!
//! - [`TestDb::sqlite`]: a SQLite file in a fresh temporary directory.
//! - [`TestDb::postgres`]: a fresh schema in the PostgreSQL server named by
//!   `WARDEN_TEST_DATABASE_URL`, dropped (with everything in it) when the `TestDb` drops.
//!
//! When `WARDEN_TEST_DATABASE_URL` is unset, PostgreSQL tests are skipped with a notice
//! (printed to stderr, which the test harness shows only for failing tests) — except under
//! CI (`CI` set to anything but empty, `0` or `false`), where a missing URL or an
//! unreachable server fails the test, so the PostgreSQL half can never be skipped silently.
//!
//! [`TestDb::execute`] runs raw SQL beside the store, to sabotage a database (a row edited
//! by hand) and prove the code copes.
//!
//! # Layout
//!
//! - this file: [`TestDb`], [`Backend`] and the [`backend_tests!`] macro.
//! - `wait`: [`eventually`], [`eventually_some`] and [`eventually_blocking`], which poll a
//!   real condition with a deadline so that no test sleeps in its place.

use std::{ffi::OsStr, path::PathBuf, str::FromStr, time::Duration};

use sqlx::{
    Connection, PgConnection, SqliteConnection, postgres::PgConnectOptions,
    sqlite::SqliteConnectOptions,
};
use tempfile::TempDir;
use warden_store::{AnyStore, PgStore, SqliteStore, Store, StoreLocation};

mod wait;

pub use wait::{DEADLINE, POLL_EVERY, eventually, eventually_blocking, eventually_some};

/// The environment variable naming the PostgreSQL server for tests.
pub const PG_URL_VAR: &str = "WARDEN_TEST_DATABASE_URL";

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An isolated, migrated store for one test.
pub struct TestDb {
    store: AnyStore,
    location: StoreLocation,
    url: Option<String>,
    _guard: Guard,
}

enum Guard {
    Sqlite(#[expect(dead_code, reason = "held for its Drop, which deletes the directory")] TempDir),
    Postgres { admin_url: String, schema: String },
}

impl TestDb {
    /// A store on `backend`, or `None` when PostgreSQL is not configured outside CI.
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A migrated SQLite store in a fresh temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let store = SqliteStore::open_in_dir(dir.path())
            .await
            .expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        Self {
            store: AnyStore::Sqlite(store),
            location: StoreLocation::SqliteDir(dir.path().to_path_buf()),
            url: None,
            _guard: Guard::Sqlite(dir),
        }
    }

    /// A migrated store in a fresh PostgreSQL schema; `None` (with a notice) when
    /// `WARDEN_TEST_DATABASE_URL` is unset outside CI.
    pub async fn postgres() -> Option<Self> {
        let Some(admin_url) = pg_url() else {
            eprintln!(
                "skipping PostgreSQL test: set {PG_URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            return None;
        };
        let schema = format!("warden_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but the server is unreachable: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut admin)
            .await
            .expect("create schema");
        admin.close().await.ok();
        let url = warden_store::postgres::url_with_search_path(&admin_url, &schema);
        let options = PgConnectOptions::from_str(&url).expect("test url");
        let store = PgStore::connect(options.clone(), 8)
            .await
            .expect("connect postgres");
        store.migrate().await.expect("migrate postgres");
        Some(Self {
            store: AnyStore::Postgres(store),
            location: StoreLocation::Postgres(Box::new(options)),
            url: Some(url),
            _guard: Guard::Postgres { admin_url, schema },
        })
    }

    pub fn store(&self) -> &AnyStore {
        &self.store
    }

    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// The `--database-url` for this database (PostgreSQL only).
    pub fn database_url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Runs `sql` (one or more statements) on this test's database through a connection
    /// of its own, bypassing the store and its checks: for tests that sabotage the data,
    /// e.g. a schedule row whose time zone no longer parses. Panics if the SQL fails.
    pub async fn execute(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match (&self.location, &self.url) {
            (StoreLocation::SqliteDir(dir), _) => {
                let options = SqliteConnectOptions::new()
                    .filename(dir.join("warden.db"))
                    .busy_timeout(Duration::from_secs(10));
                let mut conn = SqliteConnection::connect_with(&options)
                    .await
                    .expect("open the test database");
                sqlx::raw_sql(sql)
                    .execute(&mut conn)
                    .await
                    .expect("run SQL");
                conn.close().await.ok();
            }
            (StoreLocation::Postgres(_), Some(url)) => {
                let mut conn = PgConnection::connect(url)
                    .await
                    .expect("connect to the test database");
                sqlx::raw_sql(sql)
                    .execute(&mut conn)
                    .await
                    .expect("run SQL");
                conn.close().await.ok();
            }
            (StoreLocation::Postgres(_), None) => unreachable!("a PostgreSQL TestDb has a URL"),
        }
    }

    /// Opens a transaction on a connection of its own and runs `sql` in it (PostgreSQL
    /// only), leaving it open with the row locks it took, until [`OpenTransaction::release`]:
    /// for tests that make the store wait on a row. Panics if the SQL fails.
    pub async fn open_transaction(&self, sql: &str) -> OpenTransaction {
        let url = self
            .url
            .as_deref()
            .expect("open_transaction is for PostgreSQL");
        let mut conn = PgConnection::connect(url)
            .await
            .expect("connect to the test database");
        let sql = sqlx::AssertSqlSafe(format!("BEGIN; {sql}"));
        sqlx::raw_sql(sql)
            .execute(&mut conn)
            .await
            .expect("run SQL");
        OpenTransaction { conn }
    }

    /// How many statements of other sessions whose text starts with `prefix` wait on a lock
    /// (PostgreSQL only).
    pub async fn statements_waiting_on_locks(&self, prefix: &str) -> i64 {
        let url = self.url.as_deref().expect("for PostgreSQL");
        let mut conn = PgConnection::connect(url)
            .await
            .expect("connect to the test database");
        let n = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND starts_with(query, $1)",
        )
        .bind(prefix)
        .fetch_one(&mut conn)
        .await
        .expect("read pg_stat_activity");
        conn.close().await.ok();
        n
    }

    /// The data directory (SQLite only).
    pub fn data_dir(&self) -> Option<PathBuf> {
        match &self.location {
            StoreLocation::SqliteDir(dir) => Some(dir.clone()),
            StoreLocation::Postgres(_) => None,
        }
    }
}

/// A transaction left open by [`TestDb::open_transaction`]; dropping it without
/// [`Self::release`] ends it when the connection closes.
pub struct OpenTransaction {
    conn: PgConnection,
}

impl OpenTransaction {
    /// Rolls the transaction back, releasing its locks.
    pub async fn release(mut self) {
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut self.conn)
            .await
            .expect("roll back");
        self.conn.close().await.ok();
    }
}

/// The PostgreSQL URL for tests; panics under CI when it is missing.
pub fn pg_url() -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if under_ci(std::env::var_os("CI").as_deref()) => {
            panic!("{PG_URL_VAR} must be set under CI: the PostgreSQL tests may not be skipped")
        }
        _ => None,
    }
}

/// Whether the value of `CI` means "running under CI": set, and not empty, `0` or
/// `false` (any case), so `CI=false` on a developer's machine still allows skipping.
fn under_ci(value: Option<&OsStr>) -> bool {
    let Some(value) = value else {
        return false;
    };
    let value = value.to_string_lossy();
    let value = value.trim();
    !(value.is_empty() || value == "0" || value.eq_ignore_ascii_case("false"))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Guard::Postgres { admin_url, schema } = &self._guard {
            let (url, schema) = (admin_url.clone(), schema.clone());
            // Drop cannot await: drop the schema from a thread with its own runtime.
            let handle = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&url).await {
                        let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                            .execute(&mut conn)
                            .await;
                        let _ = conn.close().await;
                    }
                });
            });
            let _ = handle.join();
        }
    }
}

/// Runs `$body` (an async block using `db: TestDb`) once per backend, as two tests.
///
/// ```ignore
/// backend_tests!(inserts_a_job, |db| async move { … });
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::TestDb::sqlite().await;
                $crate::within_deadline(($body)(db)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::TestDb::postgres().await else {
                    return;
                };
                $crate::within_deadline(($body)(db)).await;
            }
        }
    };
}

/// How long one backend test may run before it fails: far above any test's real time,
/// so only a hang reaches it, and a hang then fails its test instead of stalling CI.
pub const TEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs a test body, failing it if it has not finished within [`TEST_DEADLINE`].
pub async fn within_deadline<T>(body: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(TEST_DEADLINE, body).await {
        Ok(v) => v,
        Err(_) => panic!("the test did not finish within {TEST_DEADLINE:?}: something hangs"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_counts_only_when_set_to_a_true_value() {
        let ci = |v: Option<&str>| under_ci(v.map(OsStr::new));
        assert!(!ci(None));
        for off in ["", " ", "0", "false", "FALSE", "False"] {
            assert!(!ci(Some(off)), "CI={off:?} is not CI");
        }
        for on in ["true", "1", "yes", "github-actions"] {
            assert!(ci(Some(on)), "CI={on:?} is CI");
        }
    }
}
