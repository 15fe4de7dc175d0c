//! Running the real binary, talking HTTP to it, and searching what it leaves behind.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::Duration,
};

use warden_testkit::{DEADLINE, eventually_blocking};

pub(crate) fn warden() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.env_remove("WARDEN_DATABASE_URL").env_remove("RUST_LOG");
    cmd
}

pub(crate) fn run(args: &[&str]) -> Output {
    warden().args(args).output().expect("run warden")
}

/// A `warden serve` process; killed on drop if still running.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    logs: mpsc::Receiver<String>,
    /// The lines [`Server::wait_for_log`] read, given back by [`Server::terminate`].
    read: Vec<String>,
}

impl Server {
    /// Starts `warden serve --listen 127.0.0.1:0 <extra>` and waits for its address.
    pub(crate) fn start(extra: &[&str]) -> Server {
        Self::start_with_env(extra, &[])
    }

    /// As [`start`](Self::start), with extra environment variables.
    #[expect(
        clippy::zombie_processes,
        reason = "the child moves into `Server`, whose Drop waits for it"
    )]
    pub(crate) fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = warden()
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn warden serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        loop {
            let line = logs
                .recv_timeout(Duration::from_secs(30))
                .expect("warden serve did not report its address");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if v["message"] == "warden is serving" {
                let addr = v["addr"].as_str().unwrap().parse().unwrap();
                return Server {
                    child,
                    addr,
                    logs,
                    read: Vec::new(),
                };
            }
        }
    }

    /// GET `path`: (status, body).
    pub(crate) fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.request("GET", path, &[], None)
    }

    /// Any request with extra headers and an optional JSON body: (status, body).
    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        write!(s, "{head}\r\n{body}").unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = raw.split("\r\n\r\n").nth(1).unwrap_or("");
        (status, serde_json::from_str(body).unwrap_or_default())
    }

    /// Waits for the first log line that `matches` accepts and returns it (the server
    /// logs JSON); the lines read on the way are kept for [`Server::terminate`].
    pub(crate) fn wait_for_log(&mut self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        loop {
            let line = self
                .logs
                .recv_timeout(DEADLINE)
                .unwrap_or_else(|_| panic!("no log line: {what}"));
            self.read.push(line.clone());
            if matches(&line) {
                return line;
            }
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns the log lines since the start
    /// (those [`Server::wait_for_log`] read included).
    pub(crate) fn terminate(mut self) -> Vec<String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = eventually_blocking("warden serve to stop on SIGTERM", || {
            self.child.try_wait().unwrap()
        });
        assert!(status.success(), "warden serve exited with {status}");
        let mut lines = std::mem::take(&mut self.read);
        lines.extend(self.logs.try_iter());
        lines
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts that no `warden.db*` file in `dir` (the database, its WAL and shared memory)
/// holds any of `secrets`.
pub(crate) fn assert_no_database_file_holds(dir: &Path, secrets: &[&str]) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if !name.starts_with("warden.db") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret is in {}",
                path.display()
            );
        }
    }
}
