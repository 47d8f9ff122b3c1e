//! Reverse DNS for leads: one UDP socket, every PTR question sent at once, answers read until
//! all came or the run's budget (`dns_timeout_ms`) is spent. A server that is down or slow
//! costs at most the budget, once per run; after that the run asks nothing more.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use simple_dns::rdata::RData;
use simple_dns::{CLASS, Name, Packet, PacketFlag, Question, RCODE, TYPE};

/// What a run may still spend on reverse DNS, and where it asks.
pub struct Resolver {
    server: SocketAddr,
    budget: Duration,
    /// Why the run stopped asking (the server refused, did not answer in time).
    pub failure: Option<String>,
}

/// One address's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The PTR name, without the final dot, in lower case.
    Name(String),
    /// The server answered that there is none.
    NoName,
}

impl Resolver {
    pub fn new(server: SocketAddr, budget: Duration) -> Resolver {
        Resolver {
            server,
            budget,
            failure: None,
        }
    }

    /// The first `nameserver` of `/etc/resolv.conf`, or the local resolver.
    pub fn system_nameserver() -> SocketAddr {
        std::fs::read_to_string("/etc/resolv.conf")
            .ok()
            .and_then(|text| {
                text.lines().find_map(|line| {
                    let mut words = line.split_whitespace();
                    (words.next() == Some("nameserver"))
                        .then(|| words.next()?.parse::<IpAddr>().ok())
                        .flatten()
                })
            })
            .map_or_else(
                || SocketAddr::from(([127, 0, 0, 1], 53)),
                |ip| SocketAddr::new(ip, 53),
            )
    }

    /// Asks for the PTR name of every address. Addresses without an answer (time out, error)
    /// are missing from the result; `failure` then says why.
    pub fn lookup(&mut self, addresses: &[IpAddr]) -> HashMap<IpAddr, Answer> {
        let mut out = HashMap::new();
        if addresses.is_empty() || self.budget.is_zero() {
            return out;
        }
        let started = Instant::now();
        if let Err(err) = self.ask(addresses, &mut out, started) {
            self.failure = Some(format!("reverse DNS at {}: {err}", self.server));
        }
        // What this run spent comes off what it may still spend.
        self.budget = self.budget.saturating_sub(started.elapsed());
        if self.failure.is_some() {
            self.budget = Duration::ZERO;
        }
        out
    }

    fn ask(
        &self,
        addresses: &[IpAddr],
        out: &mut HashMap<IpAddr, Answer>,
        started: Instant,
    ) -> std::io::Result<()> {
        let bind: SocketAddr = if self.server.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(bind)?;
        socket.connect(self.server)?;
        // Query ids: a random base, so a late answer to an earlier run is not taken for ours.
        let mut seed = [0u8; 2];
        getrandom::fill(&mut seed).map_err(|e| std::io::Error::other(e.to_string()))?;
        let base = u16::from_le_bytes(seed);
        let mut waiting: HashMap<u16, IpAddr> = HashMap::new();
        for (i, ip) in addresses.iter().enumerate() {
            let id = base.wrapping_add(i as u16);
            socket.send(&query(id, *ip))?;
            waiting.insert(id, *ip);
        }
        let mut buf = [0u8; 4096];
        while !waiting.is_empty() {
            let left = self.budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no answer within {} ms for {} of {} addresses",
                        self.budget.as_millis(),
                        waiting.len(),
                        addresses.len()
                    ),
                ));
            }
            socket.set_read_timeout(Some(left))?;
            let n = match socket.recv(&mut buf) {
                Ok(n) => n,
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(err) => return Err(err),
            };
            let Ok(packet) = Packet::parse(&buf[..n]) else {
                continue;
            };
            let Some(ip) = waiting.get(&packet.id()).copied() else {
                continue;
            };
            // The answer must be to the question asked.
            let asked = arpa(ip);
            if packet
                .questions
                .first()
                .is_none_or(|q| !q.qname.to_string().eq_ignore_ascii_case(&asked))
            {
                continue;
            }
            waiting.remove(&packet.id());
            let name = packet.answers.iter().find_map(|rr| match &rr.rdata {
                RData::PTR(ptr) => Some(ptr.0.to_string()),
                _ => None,
            });
            match (name, packet.rcode()) {
                (Some(name), _) => {
                    let name = name.trim_end_matches('.').to_ascii_lowercase();
                    out.insert(ip, Answer::Name(name));
                }
                (None, RCODE::NoError | RCODE::NameError) => {
                    out.insert(ip, Answer::NoName);
                }
                (None, _) => {}
            }
        }
        Ok(())
    }
}

/// `45.113.0.203.in-addr.arpa`, or the nibbles of an IPv6 address under `ip6.arpa`.
pub fn arpa(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                let _ = write!(name, "{:x}.{:x}.", byte & 0xf, byte >> 4);
            }
            name.push_str("ip6.arpa");
            name
        }
    }
}

fn query(id: u16, ip: IpAddr) -> Vec<u8> {
    let name = arpa(ip);
    let mut packet = Packet::new_query(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED);
    packet.questions.push(Question::new(
        Name::new_unchecked(&name),
        TYPE::PTR.into(),
        CLASS::IN.into(),
        false,
    ));
    packet
        .build_bytes_vec()
        .expect("a PTR question of a valid address always encodes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arpa_names_reverse_the_address() {
        assert_eq!(
            arpa("203.0.113.45".parse().unwrap()),
            "45.113.0.203.in-addr.arpa"
        );
        let v6 = arpa("2001:db8::1".parse().unwrap());
        assert!(v6.starts_with("1.0.0.0.0.0.0.0."), "{v6}");
        assert!(v6.ends_with("8.b.d.0.1.0.0.2.ip6.arpa"), "{v6}");
    }

    #[test]
    fn a_silent_server_costs_the_budget_once() {
        // A bound socket that never answers.
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut r = Resolver::new(silent.local_addr().unwrap(), Duration::from_millis(150));
        let started = Instant::now();
        let first = r.lookup(&["192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap()]);
        let second = r.lookup(&["192.0.2.3".parse().unwrap()]);
        let took = started.elapsed();
        assert!(first.is_empty() && second.is_empty());
        assert!(took >= Duration::from_millis(150), "{took:?}");
        assert!(took < Duration::from_millis(600), "{took:?}");
        assert!(
            r.failure
                .as_deref()
                .unwrap()
                .contains("no answer within 150 ms")
        );
    }
}
