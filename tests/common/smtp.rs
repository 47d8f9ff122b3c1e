//! A real SMTP server for tests: Debian's python3-aiosmtpd, run by `tests/support/smtp_server.py`
//! on a free loopback port, saving what it accepts into a temporary directory. Stopped when
//! dropped. A missing aiosmtpd fails the test with how to install it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The Debian interpreter: python3-aiosmtpd installs into its dist-packages, whatever other
/// python3 comes first in PATH.
const PYTHON: &str = "/usr/bin/python3";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Starttls,
    Tls,
}

pub struct SmtpServer {
    child: Option<Child>,
    pub port: u16,
    mode: Mode,
    auth: Option<(String, String)>,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    /// A server on a free port, not started yet (so a test can show it down first).
    pub fn new(mode: Mode, auth: Option<(&str, &str)>) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("mail")).unwrap();
        if mode != Mode::Plain {
            make_certificates(dir.path());
        }
        SmtpServer {
            child: None,
            port: super::redis::free_port(),
            mode,
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
            dir,
        }
    }

    pub fn start(mode: Mode, auth: Option<(&str, &str)>) -> SmtpServer {
        let mut server = SmtpServer::new(mode, auth);
        server.restart();
        server
    }

    /// The CA certificate a client must trust (TLS modes).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn restart(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
        let mut cmd = Command::new(PYTHON);
        cmd.arg(script)
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path().join("mail"))
            .args([
                "--mode",
                match self.mode {
                    Mode::Plain => "plain",
                    Mode::Starttls => "starttls",
                    Mode::Tls => "tls",
                },
            ]);
        if self.mode != Mode::Plain {
            cmd.arg("--cert")
                .arg(self.dir.path().join("cert.pem"))
                .arg("--key")
                .arg(self.dir.path().join("key.pem"));
        }
        if let Some((user, pass)) = &self.auth {
            cmd.args(["--auth", &format!("{user}:{pass}")]);
        }
        let child = spawn_ready(
            &mut cmd,
            "the test SMTP server did not start. It needs Debian's python3-aiosmtpd: apt-get \
             install python3-aiosmtpd (scripts/test.sh does this when run as root)",
        );
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The messages accepted so far, in order, each with its envelope (JSON).
    pub fn messages(&self) -> Vec<(Vec<u8>, serde_json::Value)> {
        let dir = self.dir.path().join("mail");
        let mut numbers: Vec<u64> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".eml").and_then(|n| n.parse().ok())
            })
            .collect();
        numbers.sort_unstable();
        numbers
            .into_iter()
            .map(|n| {
                let eml = std::fs::read(dir.join(format!("{n}.eml"))).unwrap();
                let meta = std::fs::read(dir.join(format!("{n}.json"))).unwrap();
                (eml, serde_json::from_slice(&meta).unwrap())
            })
            .collect()
    }
}

/// Starts a test server that prints READY once it listens; one that does not fails the test
/// with what it printed and `hint` (how to install what it needs).
pub fn spawn_ready(cmd: &mut Command, hint: &str) -> Child {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {PYTHON} ({err}): apt-get install python3"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.trim() != "READY" {
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
        let _ = child.kill();
        panic!("{hint}\n{err}");
    }
    child
}

/// A test CA and a server certificate it signed for 127.0.0.1 (webpki refuses a self-signed CA
/// certificate used as the server's own).
pub fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is needed for the TLS tests: apt-get install openssl");
        assert!(status.success(), "openssl {args:?} failed");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=arkwatch test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "server.ext",
        "-out",
        "cert.pem",
    ]);
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
