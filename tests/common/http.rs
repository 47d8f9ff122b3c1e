//! A real HTTP server for the channel tests: `tests/support/http_server.py` on Debian's
//! python3 (standard library only), on a free loopback port, answering as Slack, the Telegram
//! Bot API and an Alertmanager receiver do, recording every request. Stopped when dropped.

use std::path::PathBuf;
use std::process::{Child, Command};

const PYTHON: &str = "/usr/bin/python3";

pub struct HttpServer {
    child: Option<Child>,
    pub port: u16,
    tls: bool,
    token: String,
    dir: tempfile::TempDir,
}

impl HttpServer {
    /// A server whose Telegram bot accepts `token`; over TLS (a test CA) when `tls`.
    pub fn start(token: &str, tls: bool) -> HttpServer {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("requests")).unwrap();
        if tls {
            super::smtp::make_certificates(dir.path());
        }
        let mut server = HttpServer {
            child: None,
            port: super::redis::free_port(),
            tls,
            token: token.to_string(),
            dir,
        };
        server.restart();
        server
    }

    pub fn restart(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/http_server.py");
        let mut cmd = Command::new(PYTHON);
        cmd.arg(script)
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path().join("requests"))
            .args(["--telegram-token", &self.token]);
        if self.tls {
            cmd.arg("--cert")
                .arg(self.dir.path().join("cert.pem"))
                .arg("--key")
                .arg(self.dir.path().join("key.pem"));
        }
        let child = super::smtp::spawn_ready(
            &mut cmd,
            "the test HTTP server did not start; it needs Debian's python3 (apt-get install python3)",
        );
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `http://127.0.0.1:PORT` (or https).
    pub fn base(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The CA certificate a client must trust (TLS).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The next answers for requests whose path starts with `prefix`, in order.
    pub fn script(&self, prefix: &str, answers: serde_json::Value) {
        let path = self.dir.path().join("requests/script.json");
        let mut script: serde_json::Value = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        script[prefix] = answers;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, script.to_string()).unwrap();
        std::fs::rename(tmp, path).unwrap();
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let dir = self.dir.path().join("requests");
        let mut numbers: Vec<u64> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".json").and_then(|n| n.parse().ok())
            })
            .collect();
        numbers.sort_unstable();
        numbers
            .into_iter()
            .map(|n| {
                let raw = std::fs::read(dir.join(format!("{n}.json"))).unwrap();
                serde_json::from_slice(&raw).unwrap()
            })
            .collect()
    }

    /// The messages posted to paths that start with `prefix`, parsed as JSON (the checks of
    /// `status`, a GET or an empty `{}`, are left out).
    pub fn bodies(&self, prefix: &str) -> Vec<serde_json::Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["path"].as_str().unwrap_or("").starts_with(prefix))
            .filter(|r| r["method"] == "POST" && !matches!(r["body"].as_str(), Some("" | "{}")))
            .map(|r| serde_json::from_str(r["body"].as_str().unwrap_or("null")).unwrap())
            .collect()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
