//! The server secret is checked against the database: a process with another secret
//! refuses to start or to issue keys (instead of making keys the server rejects), and on
//! PostgreSQL `warden keys create` does not invent a secret where it happens to run.

use std::{
    io::Read,
    process::{Child, Output, Stdio},
};

use warden_testkit::eventually_blocking;

use crate::support::{Server, warden};

const SECRET_A: &str = "secret-a-0123456789abcdef0123456789abcdef";
const SECRET_B: &str = "secret-b-0123456789abcdef0123456789abcdef";

fn keys_create(args: &[&str], env: &[(&str, &str)]) -> Output {
    warden()
        .args([
            "keys", "create", "--name", "ops", "--role", "admin", "--json",
        ])
        .args(args)
        .env_remove("WARDEN_SECRET")
        .env_remove("WARDEN_DATA_DIR")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Kills and reaps the process it holds when dropped, should the test fail before the
/// process ends by itself.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `warden serve`, which must stop by itself with an error; its stderr.
fn serve_refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let child = warden()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("WARDEN_SECRET")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Reaped(child);
    let status = eventually_blocking(
        "warden serve to refuse a secret the database does not know",
        || server.0.try_wait().unwrap(),
    );
    assert!(!status.success());
    let mut stderr = Vec::new();
    server
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    String::from_utf8_lossy(&stderr).into_owned()
}

#[test]
fn a_process_with_another_secret_refuses_to_start_or_to_make_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // The first key is made with WARDEN_SECRET; the database remembers that secret.
    let made = keys_create(&["--data-dir", d], &[("WARDEN_SECRET", SECRET_A)]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    // A server started without it would use (and make) the data directory's secret file,
    // and reject that key: it refuses to start instead, naming the secret it used.
    let err = serve_refused(&["--data-dir", d], &[]);
    assert!(
        err.contains("server.secret") && err.contains("WARDEN_SECRET"),
        "{err}"
    );
    assert!(!err.contains(SECRET_A) && !err.contains(SECRET_B), "{err}");
    // Another WARDEN_SECRET makes no key either.
    let other = keys_create(&["--data-dir", d], &[("WARDEN_SECRET", SECRET_B)]);
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("from WARDEN_SECRET is not the one"), "{err}");
    assert!(other.stdout.is_empty(), "a key was printed");
    // With the right secret, the key made first is accepted.
    let key: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    let server = Server::start_with_env(&["--data-dir", d], &[("WARDEN_SECRET", SECRET_A)]);
    let bearer = format!("Bearer {}", key["key"].as_str().unwrap());
    let (status, body) = server.request("GET", "/api/v1/keys", &[("Authorization", &bearer)], None);
    assert_eq!(status, 200, "{body}");
    server.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_create_on_postgres_does_not_invent_a_secret() {
    let Some(db) = warden_testkit::TestDb::postgres().await else {
        return;
    };
    let url = db.database_url().unwrap().to_owned();
    let cwd = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let (cwd_path, data_dir) = (
        cwd.path().to_owned(),
        data.path().to_str().unwrap().to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        // Run from another directory, with neither WARDEN_SECRET nor --data-dir.
        let out = warden()
            .current_dir(&cwd_path)
            .args(["keys", "create", "--name", "ops", "--role", "admin"])
            .args(["--database-url", &url])
            .env_remove("WARDEN_SECRET")
            .env_remove("WARDEN_DATA_DIR")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("WARDEN_SECRET") && err.contains("--data-dir"),
            "{err}"
        );
        assert!(
            !cwd_path.join("warden-data").exists(),
            "a secret was invented in the working directory"
        );
        // The server's data directory works, and then a different secret is refused.
        let ok = keys_create(&["--database-url", &url, "--data-dir", &data_dir], &[]);
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let other = keys_create(&["--database-url", &url], &[("WARDEN_SECRET", SECRET_B)]);
        assert!(!other.status.success());
        let err = String::from_utf8_lossy(&other.stderr);
        assert!(err.contains("WARDEN_SECRET is not the one"), "{err}");
    })
    .await
    .unwrap();
}
