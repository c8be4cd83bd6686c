//! A real `gridwatch serve` process on a free port, for what an in-process server
//! cannot show: its memory (RSS), several processes on one database, signals.

use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::{FreshDb, gridwatch_cmd};

/// A server process; killed when dropped.
pub struct ServerProcess {
    pub base: String,
    pub client: reqwest::Client,
    child: Child,
    _evidence: tempfile::TempDir,
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl ServerProcess {
    /// Starts `gridwatch serve` on `db` (already migrated and seeded) with extra
    /// `GRIDWATCH__…` settings, and waits until `/healthz` answers.
    pub async fn start(db: &FreshDb, env: &[(&str, &str)]) -> Self {
        Self::start_url(&db.url, env).await
    }

    /// Like [`ServerProcess::start`], on any database URL.
    pub async fn start_url(url: &str, env: &[(&str, &str)]) -> Self {
        Self::start_on(url, free_port(), env).await
    }

    /// Like [`ServerProcess::start_url`], listening on `port`.
    pub async fn start_on(url: &str, port: u16, env: &[(&str, &str)]) -> Self {
        let evidence = tempfile::tempdir().unwrap();
        let mut cmd = gridwatch_cmd(url);
        cmd.arg("serve")
            .env("GRIDWATCH__SERVER__ADDR", format!("127.0.0.1:{port}"))
            .env("GRIDWATCH__STORAGE__FS_ROOT", evidence.path())
            .env("GRIDWATCH__DATABASE__MAX_CONNECTIONS", "5")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("gridwatch serve starts");
        let me = Self {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            child,
            _evidence: evidence,
        };
        for _ in 0..300 {
            if let Ok(r) = me.client.get(format!("{}/healthz", me.base)).send().await
                && r.status().is_success()
            {
                return me;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("gridwatch serve did not come up on {}", me.base);
    }

    /// Sends SIGTERM and waits (at most `within`) for the process to exit; its status.
    pub async fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM");
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "gridwatch serve still running {within:?} after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the process, in KiB (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// POSTs a GraphQL request with an optional token; the JSON body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    /// Logs a demo account in; its access token.
    pub async fn login(&self, username: &str) -> String {
        let b = self
            .gql(
                None,
                "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
                json!({ "u": username, "p": gridwatch::seed::DEMO_PASSWORD }),
            )
            .await;
        b["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login {username}: {b}"))
            .to_owned()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
