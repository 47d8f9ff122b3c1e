//! What `purge-ip` erases, as every store sees it: the [`Target`] (an address or a network,
//! matched in every spelling: IPv4-mapped IPv6, compressed and expanded IPv6 in either case,
//! inside lists such as `X-Forwarded-For`, never as part of a longer address), what a store
//! reports having erased ([`Erased`]), and the one file operation several stores share:
//! blanking lines in place ([`blank_lines`]), so that every byte offset the state holds
//! (committed lengths, scan offsets, log checkpoints) stays valid without a second commit.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use anyhow::{Context, Result};
use ipnet::{IpNet, Ipv4Net};
use memchr::memmem;
use serde::Serialize;

use crate::fsutil;

/// The widest networks purged without `--force`.
const WIDEST_V4: u8 = 16;
const WIDEST_V6: u8 = 48;
/// Networks up to this many IPv4 addresses are enumerated (every address's keyed hashes are
/// recomputed).
const ENUMERATE_V4: u32 = 1 << 16;

/// What to purge: one address, or a network.
#[derive(Clone, Debug)]
pub struct Target {
    pub net: IpNet,
    /// Set for one address: the spellings searched for in text.
    needles: Vec<Needle>,
}

#[derive(Clone, Debug)]
struct Needle {
    text: Vec<u8>,
    v4: bool,
}

/// Why a target was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadTarget(pub String);

impl Target {
    /// Parses `spec` (an address or a CIDR). `0.0.0.0/0` and `::/0` are always refused;
    /// networks wider than /16 (IPv4) or /48 (IPv6) need `force`.
    pub fn parse(spec: &str, force: bool) -> Result<Target, BadTarget> {
        let net = crate::net::parse_net(spec).ok_or_else(|| {
            BadTarget(format!(
                "{spec:?} is neither an IP address nor a CIDR (examples: 203.0.113.7, \
                 2001:db8::1, 203.0.113.0/24)"
            ))
        })?;
        // An IPv4-mapped IPv6 address (or network) is the IPv4 one.
        let net = match net {
            IpNet::V6(n) if n.prefix_len() >= 96 => match n.network().to_ipv4_mapped() {
                Some(v4) => IpNet::V4(
                    Ipv4Net::new(v4, n.prefix_len() - 96).expect("a prefix of at most 32"),
                ),
                None => net,
            },
            _ => net,
        };
        if net.prefix_len() == 0 {
            return Err(BadTarget(format!(
                "{net} is every address; arkwatch never purges everything (delete data_dir \
                 for that)"
            )));
        }
        let widest = if matches!(net, IpNet::V4(_)) {
            WIDEST_V4
        } else {
            WIDEST_V6
        };
        if net.prefix_len() < widest && !force {
            return Err(BadTarget(format!(
                "{net} is a network wider than /{widest}; purging it removes the data of many \
                 people. Check the prefix, and add --force if it is what you mean"
            )));
        }
        let needles = if net.prefix_len() == net.max_prefix_len() {
            spellings(net.addr())
        } else {
            Vec::new()
        };
        Ok(Target { net, needles })
    }

    pub fn single(&self) -> bool {
        !self.needles.is_empty()
    }

    /// The addresses whose keyed hashes are recomputed: one address, every address of an IPv4
    /// network up to a /16, or (a network that cannot be enumerated) the addresses of the
    /// target met in the other stores.
    pub fn addresses(&self, seen: &BTreeSet<IpAddr>) -> Vec<IpAddr> {
        match self.net {
            IpNet::V4(net) if net.prefix_len() >= 32 - ENUMERATE_V4.trailing_zeros() as u8 => net
                .hosts()
                .map(IpAddr::V4)
                .chain([IpAddr::V4(net.network()), IpAddr::V4(net.broadcast())])
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            _ if self.single() => vec![self.net.addr()],
            _ => seen
                .iter()
                .copied()
                .filter(|ip| self.matches(*ip))
                .collect(),
        }
    }

    /// The target as shown: the address, or the network.
    pub fn describe(&self) -> String {
        if self.single() {
            self.net.addr().to_string()
        } else {
            self.net.to_string()
        }
    }

    /// Renames the entries of a count map whose name holds the address (merging counts that
    /// meet under the redacted name); returns how many were renamed.
    pub fn redact_names(&self, map: &mut std::collections::BTreeMap<String, u64>) -> u64 {
        self.redactions(map).len() as u64
    }

    /// As [`Target::redact_names`], returning each name as it was and as it is now.
    pub fn redactions(
        &self,
        map: &mut std::collections::BTreeMap<String, u64>,
    ) -> Vec<(String, String)> {
        let named: Vec<String> = map
            .keys()
            .filter(|k| self.in_text(k.as_bytes()))
            .cloned()
            .collect();
        let mut renamed = Vec::new();
        for name in named {
            let count = map.remove(&name).unwrap_or_default();
            let new = self.redact(&name);
            *map.entry(new.clone()).or_default() += count;
            renamed.push((name, new));
        }
        renamed
    }

    /// Whether `ip` is (in) the target, in any spelling.
    pub fn matches(&self, ip: IpAddr) -> bool {
        self.net.contains(&ip.to_canonical())
    }

    /// Whether `text` names a matching address anywhere.
    pub fn in_text(&self, text: &[u8]) -> bool {
        if self.single() {
            self.needles
                .iter()
                .any(|n| memmem::find_iter(text, &n.text).any(|at| bounded(text, at, n)))
        } else {
            addresses_in(text).any(|ip| self.matches(ip))
        }
    }

    /// The byte ranges of `bytes` that spell a matching address.
    pub fn spans(&self, bytes: &[u8]) -> Vec<(usize, usize)> {
        let mut cut: Vec<(usize, usize)> = Vec::new();
        if self.single() {
            for n in &self.needles {
                for at in memmem::find_iter(bytes, &n.text) {
                    if bounded(bytes, at, n) {
                        cut.push((at, at + n.text.len()));
                    }
                }
            }
        } else {
            for (start, end) in address_spans(bytes) {
                if std::str::from_utf8(&bytes[start..end])
                    .ok()
                    .and_then(parse_token)
                    .is_some_and(|ip| self.matches(ip))
                {
                    cut.push((start, end));
                }
            }
        }
        cut.sort_unstable();
        cut
    }

    /// The lines of `text` (start, end without the newline) that name a matching address. For
    /// one address the whole text is searched for its spellings at once (SIMD memmem), and only
    /// the lines around a hit are looked at.
    pub fn matching_lines(&self, text: &[u8]) -> Vec<(usize, usize)> {
        let line_of = |at: usize| {
            let start = memchr::memrchr(b'\n', &text[..at]).map_or(0, |i| i + 1);
            let stop = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |i| at + i);
            (start, stop)
        };
        let mut lines: Vec<(usize, usize)> = if self.single() {
            self.spans(text)
                .into_iter()
                .map(|(at, _)| line_of(at))
                .collect()
        } else {
            let mut out = Vec::new();
            let mut start = 0;
            while start < text.len() {
                let stop = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |i| start + i);
                if self.in_text(&text[start..stop]) {
                    out.push((start, stop));
                }
                start = stop + 1;
            }
            out
        };
        lines.sort_unstable();
        lines.dedup();
        lines
    }

    /// `text` with every matching address replaced by `[purged]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = String::new();
        let mut at = 0;
        for (start, end) in self.spans(text.as_bytes()) {
            if start < at {
                continue;
            }
            out.push_str(&text[at..start]);
            out.push_str("[purged]");
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Overwrites every matching address in `bytes` with `x` (same length, so a JSON string
    /// stays valid and a file keeps its offsets).
    pub fn mask(&self, bytes: &mut [u8]) {
        for (start, end) in self.spans(bytes) {
            bytes[start..end].fill(b'x');
        }
    }
}

/// The spellings of one address that text may hold.
fn spellings(ip: IpAddr) -> Vec<Needle> {
    let mut out: Vec<Needle> = Vec::new();
    let mut add = |text: String, v4: bool| {
        for t in [text.to_ascii_lowercase(), text.to_ascii_uppercase()] {
            if !out.iter().any(|n| n.text == t.as_bytes()) {
                out.push(Needle {
                    text: t.into_bytes(),
                    v4,
                });
            }
        }
    };
    match ip {
        IpAddr::V4(v4) => {
            // Also inside `::ffff:1.2.3.4`.
            add(v4.to_string(), true);
            let mapped = v4.to_ipv6_mapped();
            add(expanded(mapped, false), false);
            add(expanded(mapped, true), false);
            let seg = mapped.segments();
            add(format!("::ffff:{:x}:{:x}", seg[6], seg[7]), false);
        }
        IpAddr::V6(v6) => {
            add(v6.to_string(), false);
            add(expanded(v6, false), false);
            add(expanded(v6, true), false);
        }
    }
    out
}

fn expanded(ip: Ipv6Addr, padded: bool) -> String {
    ip.segments()
        .iter()
        .map(|s| {
            if padded {
                format!("{s:04x}")
            } else {
                format!("{s:x}")
            }
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// Whether the needle found at `at` is a whole address, not part of a longer one.
fn bounded(text: &[u8], at: usize, n: &Needle) -> bool {
    let before = at.checked_sub(1).map(|i| text[i]);
    let after = text.get(at + n.text.len()).copied();
    if n.v4 {
        // `::ffff:1.2.3.4` holds 1.2.3.4; `11.2.3.45` and `1.2.3.4.5` do not.
        let next = text.get(at + n.text.len() + 1);
        let longer = match after {
            Some(b) if b.is_ascii_digit() => true,
            Some(b'.') => next.is_some_and(u8::is_ascii_digit),
            _ => false,
        };
        !before.is_some_and(|b| b.is_ascii_digit() || b == b'.') && !longer
    } else {
        let part = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
        !before.is_some_and(part) && !after.is_some_and(part)
    }
}

/// The byte ranges of everything in `text` that could be an address (runs of hex digits,
/// colons and dots holding a colon or a dot).
fn address_spans(text: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let part = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < text.len() {
            while i < text.len() && !part(text[i]) {
                i += 1;
            }
            let start = i;
            while i < text.len() && part(text[i]) {
                i += 1;
            }
            let run = &text[start..i];
            if run.len() >= 3 && run.iter().any(|&b| b == b'.' || b == b':') {
                return Some((start, i));
            }
        }
        None
    })
}

/// An address in one run: `1.2.3.4`, `2001:db8::1`, `::ffff:1.2.3.4`, `1.2.3.4:8080`.
fn parse_token(token: &str) -> Option<IpAddr> {
    let token = token.trim_matches('.');
    if let Ok(ip) = token.parse() {
        return Some(ip);
    }
    let (host, port) = token.rsplit_once(':')?;
    if port.bytes().all(|b| b.is_ascii_digit()) {
        host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    } else {
        None
    }
}

/// Every address named in `text`.
fn addresses_in(text: &[u8]) -> impl Iterator<Item = IpAddr> + '_ {
    address_spans(text).filter_map(|(start, end)| {
        std::str::from_utf8(&text[start..end])
            .ok()
            .and_then(parse_token)
    })
}

/// What one store held of the target.
#[derive(Debug, Default, Serialize)]
pub struct Erased {
    /// Records removed (or, in a dry run, found).
    pub records: u64,
    /// Files rewritten or deleted.
    pub files: u64,
    /// What happened to each file changed (`outbox/ID.eml: 1 lead removed, written again`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// In a dry run: the records themselves.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub found: Vec<serde_json::Value>,
    /// Addresses of the target met on the way (their visitor keys are recomputed when the
    /// target is a network that cannot be enumerated).
    #[serde(skip)]
    pub seen: BTreeSet<IpAddr>,
    /// Things the user should know (the live access log holds the address, say).
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl Erased {
    /// Notes a file this store changed (or, in a dry run, would change), with what happened.
    pub fn changed(&mut self, file: &Path, what: impl std::fmt::Display) {
        self.files += 1;
        self.changes.push(format!("{}: {what}", file.display()));
    }
}

/// Which address a line is the record of.
pub type Owner = dyn Fn(&[u8]) -> Option<IpAddr>;

/// Overwrites with spaces every line of `path` that names the target (keeping the newline, so
/// the file keeps its length and every offset into it), through a temporary file and a rename.
/// With `owner` (the address a line is the record of), a line owned by another address only has
/// the mention masked. Returns how many lines matched; `found` sees each one before, with its
/// byte offset in the file.
pub fn blank_lines(
    path: &Path,
    target: &Target,
    dry: bool,
    owner: Option<&Owner>,
    found: &mut dyn FnMut(u64, &[u8]),
) -> Result<u64> {
    const CHUNK: usize = 4 << 20;
    let read_err = || format!("cannot read {}", path.display());
    let mut file = fsutil::open_read(path).with_context(read_err)?;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
    let mut done: u64 = 0; // bytes of the file already handled
    let mut out: Option<fsutil::TempFile> = None;
    let mut matched = 0u64;
    let mut eof = false;
    while !eof {
        let old = buf.len();
        buf.resize(old + CHUNK, 0);
        let n = read_full(&mut file, &mut buf[old..]).with_context(read_err)?;
        buf.truncate(old + n);
        eof = n == 0 || n < CHUNK;
        // Whole lines only, unless this is the end of the file.
        let end = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => i + 1,
                None => continue,
            }
        };
        let region = &mut buf[..end];
        let hits = target.matching_lines(region);
        for &(start, stop) in &hits {
            let line = &mut region[start..stop];
            found(done + start as u64, line);
            // A record of someone else that merely mentions the address keeps its place, with
            // the address masked.
            match owner.map(|f| f(line)) {
                Some(Some(ip)) if !target.matches(ip) => target.mask(line),
                _ => line.fill(b' '),
            }
        }
        matched += hits.len() as u64;
        if !dry && !hits.is_empty() && out.is_none() {
            let mut tmp = fsutil::TempFile::beside(path, 0o600)?;
            let mut original = fsutil::open_read(path).with_context(read_err)?;
            std::io::copy(&mut (&mut original).take(done), tmp.file())
                .with_context(|| format!("cannot write {}", tmp.path().display()))?;
            out = Some(tmp);
        }
        if let Some(tmp) = &mut out {
            tmp.write_all(region)?;
        }
        done += end as u64;
        buf.drain(..end);
    }
    if let Some(tmp) = out {
        tmp.commit()?;
    }
    Ok(matched)
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
