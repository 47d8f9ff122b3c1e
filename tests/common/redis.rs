//! A real `redis-server` for tests, on a free loopback port with a temporary directory, stopped
//! when dropped. A missing server fails the test with how to install it.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    /// Serve TLS only (a self-signed certificate made with openssl).
    tls: bool,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut server = RedisServer {
            child: None,
            port,
            dir,
            tls: false,
        };
        server.restart();
        server
    }

    /// A server that speaks only TLS, with a self-signed certificate for 127.0.0.1.
    pub fn start_tls() -> RedisServer {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is needed for the TLS test: apt-get install openssl");
        assert!(status.success(), "openssl could not make a certificate");
        let port = free_port();
        let mut server = RedisServer {
            child: None,
            port,
            dir,
            tls: true,
        };
        server.restart();
        server
    }

    /// Starts the server (again, after [`RedisServer::stop`], with the data it saved).
    pub fn restart(&mut self) {
        let port = self.port;
        let mut cmd = Command::new("redis-server");
        if self.tls {
            let file = |name: &str| self.dir.path().join(name).display().to_string();
            cmd.args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--tls-auth-clients",
                "no",
            ])
            .args([
                "--tls-cert-file",
                &file("cert.pem"),
                "--tls-key-file",
                &file("key.pem"),
            ])
            .args(["--tls-ca-cert-file", &file("cert.pem")]);
        } else {
            cmd.args(["--port", &port.to_string()]);
        }
        let child = cmd
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start redis-server ({err}): install it with `apt-get install redis-server` \
                     (scripts/test.sh does this when run as root)"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cli(&["PING"]).as_deref() != Some("PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {port} did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        if self.tls {
            // The certificate is self-signed: no CA to verify it against.
            format!("rediss://127.0.0.1:{}/0#insecure", self.port)
        } else {
            format!("redis://127.0.0.1:{}/0", self.port)
        }
    }

    /// Runs `redis-cli -p PORT ARGS…` and returns its trimmed output (None if it failed).
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-p", &self.port.to_string()]);
        if self.tls {
            cmd.args(["--tls", "--insecure"]);
        }
        let out = cmd
            .args(args)
            .output()
            .expect("redis-cli is installed with redis-server (apt-get install redis-server)");
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !text.starts_with("Could not connect")).then_some(text)
    }

    /// Stops the server and starts it again with none of its data: a restart without
    /// persistence.
    pub fn restart_empty(&mut self) {
        self.stop();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "pem") {
                continue;
            }
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
        self.restart();
    }

    /// Shuts the server down cleanly (its append-only file keeps the data for a restart).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = self.cli(&["SHUTDOWN"]);
            if child.wait_timeout_secs(10).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

trait WaitTimeout {
    fn wait_timeout_secs(&mut self, secs: u64) -> Option<std::process::ExitStatus>;
}

impl WaitTimeout for Child {
    fn wait_timeout_secs(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(Some(status)) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
