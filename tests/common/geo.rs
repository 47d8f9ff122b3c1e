//! What the `[geo]` tests look things up in: small MaxMind DB files written at test time with a
//! writer crate (`mmdb-writer`), in the layouts of GeoLite2 and IPinfo Lite, and a real DNS
//! server on loopback (Debian's `dnsmasq`) answering PTR questions, stopped when dropped.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

#[path = "../../examples/support/geolite.rs"]
mod geolite;
use geolite::{AsnRecord, CountryRecord, country};

#[derive(Serialize)]
struct IpinfoLite {
    asn: String,
    as_name: String,
    as_domain: String,
    country: String,
    country_code: String,
}

fn write(path: &Path, writer: &mmdb_writer::Writer) {
    std::fs::write(path, writer.to_bytes().unwrap()).unwrap();
}

/// A GeoLite2-Country file: `(network, ISO code, name)`.
pub fn country_db(path: &Path, rows: &[(&str, &str, &str)]) {
    let mut w = mmdb_writer::Writer::new("GeoLite2-Country");
    for (net, code, name) in rows {
        let record = CountryRecord {
            country: country(code, name),
        };
        w.insert(net.parse::<ipnet::IpNet>().unwrap(), &record)
            .unwrap();
    }
    write(path, &w);
}

/// A GeoLite2-City file: `(network, city, ISO code, country)`.
pub fn city_db(path: &Path, rows: &[(&str, &str, &str, &str)]) {
    let mut w = mmdb_writer::Writer::new("GeoLite2-City");
    for (net, city, code, name) in rows {
        let record = geolite::city(city, code, name);
        w.insert(net.parse::<ipnet::IpNet>().unwrap(), &record)
            .unwrap();
    }
    write(path, &w);
}

/// A GeoLite2-ASN file: `(network, AS number, organisation)`.
pub fn asn_db(path: &Path, rows: &[(&str, u32, &str)]) {
    let mut w = mmdb_writer::Writer::new("GeoLite2-ASN");
    for (net, asn, org) in rows {
        let record = AsnRecord {
            autonomous_system_number: *asn,
            autonomous_system_organization: (*org).into(),
        };
        w.insert(net.parse::<ipnet::IpNet>().unwrap(), &record)
            .unwrap();
    }
    write(path, &w);
}

/// An IPinfo Lite file (country and network in one): `(network, "AS…", name, domain, ISO
/// code, country)`.
pub fn ipinfo_lite_db(path: &Path, rows: &[(&str, &str, &str, &str, &str, &str)]) {
    let mut w = mmdb_writer::Writer::new("ipinfo lite");
    for (net, asn, name, domain, code, country) in rows {
        let record = IpinfoLite {
            asn: (*asn).into(),
            as_name: (*name).into(),
            as_domain: (*domain).into(),
            country: (*country).into(),
            country_code: (*code).into(),
        };
        w.insert(net.parse::<ipnet::IpNet>().unwrap(), &record)
            .unwrap();
    }
    write(path, &w);
}

/// A free UDP port on loopback.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real `dnsmasq` on a loopback port answering the given PTR records (address, name) and
/// nothing else (no upstream, no hosts file).
pub struct Dnsmasq {
    child: Child,
    pub port: u16,
}

impl Dnsmasq {
    pub fn start(records: &[(&str, &str)]) -> Dnsmasq {
        let port = free_udp_port();
        let mut cmd = Command::new(dnsmasq());
        cmd.args([
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--user=",
            "--log-facility=/dev/null",
        ])
        .arg(format!("--port={port}"));
        for (ip, name) in records {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            cmd.arg(format!(
                "--ptr-record={},{name}",
                arkwatch::geo::dns::arpa(ip)
            ));
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start dnsmasq ({err}): the reverse-DNS tests need it \
                     (apt-get install dnsmasq)"
                )
            });
        let server = Dnsmasq { child, port };
        server.wait_ready();
        server
    }

    /// Asks until the server answers (it binds a moment after it starts).
    fn wait_ready(&self) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        // A query for `localhost` (id 7, one question, type A): any answer means it is up.
        let mut q = vec![0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9];
        q.extend_from_slice(b"localhost");
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 512];
        while Instant::now() < deadline {
            let _ = socket.send_to(&q, ("127.0.0.1", self.port));
            if socket.recv(&mut buf).is_ok() {
                return;
            }
        }
        panic!("dnsmasq on port {} did not answer within 10 s", self.port);
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dnsmasq() -> &'static str {
    ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("dnsmasq")
}
