//! Client addresses as logs write them: IPv4 and IPv6 read on the hot path without std's
//! generic parser, canonical (an IPv4-mapped IPv6 address is IPv4), the first address of an
//! X-Forwarded-For list, and the client a log's `client_ip` names.

use std::net::IpAddr;

use memchr::memchr;

/// Parses a client address, as nginx writes it, into its canonical form (an IPv4-mapped IPv6
/// address becomes IPv4, so both spellings are one client).
pub fn parse_ip(text: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = parse_ipv4(text) {
        return Some(IpAddr::V4(v4));
    }
    if let Some(v6) = parse_ipv6(text) {
        return Some(IpAddr::V6(v6).to_canonical());
    }
    let text = std::str::from_utf8(text).ok()?.trim();
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    text.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// Dotted-quad IPv4, as strict as std's parser (no leading zeros), without its UTF-8 check
/// and generic machinery: this runs once per log line.
fn parse_ipv4(text: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&b| b == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part[0] == b'0') {
            return None;
        }
        let mut n: u16 = 0;
        for &c in part {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u16::from(c - b'0');
        }
        *octet = u8::try_from(n).ok()?;
    }
    parts
        .next()
        .is_none()
        .then_some(std::net::Ipv4Addr::from(octets))
}

/// IPv6 in hex groups (`2001:db8::1`), as std's parser reads them, for the common spelling
/// only: anything else (an embedded IPv4 part, brackets, spaces, a zone) is `None` and left to
/// std. Half a busy log's clients may be IPv6, and std's generic parser was a twentieth of
/// the fold.
fn parse_ipv6(text: &[u8]) -> Option<std::net::Ipv6Addr> {
    let hex = |c: u8| char::from(c).to_digit(16);
    let mut groups = [[0u16; 8]; 2];
    let mut counts = [0usize; 2];
    // 0 before a `::`, 1 after it.
    let mut part = 0;
    let mut i = 0;
    if text.starts_with(b"::") {
        part = 1;
        i = 2;
        if text.len() == 2 {
            return Some(std::net::Ipv6Addr::UNSPECIFIED);
        }
    }
    loop {
        let start = i;
        let mut value: u32 = 0;
        while i < text.len() && i - start < 5 {
            let Some(d) = hex(text[i]) else { break };
            value = value * 16 + d;
            i += 1;
        }
        if i == start || i - start > 4 || counts[part] == 8 {
            return None;
        }
        groups[part][counts[part]] = u16::try_from(value).ok()?;
        counts[part] += 1;
        if i == text.len() {
            break;
        }
        if text[i] != b':' {
            return None;
        }
        i += 1;
        if text.get(i) == Some(&b':') {
            if part == 1 {
                return None;
            }
            part = 1;
            i += 1;
            if i == text.len() {
                break;
            }
        } else if i == text.len() {
            return None;
        }
    }
    let (head, tail) = (counts[0], counts[1]);
    let whole = if part == 1 {
        head + tail <= 7
    } else {
        head == 8
    };
    if !whole {
        return None;
    }
    let mut out = [0u16; 8];
    out[..head].copy_from_slice(&groups[0][..head]);
    out[8 - tail..].copy_from_slice(&groups[1][..tail]);
    Some(std::net::Ipv6Addr::from(out))
}

/// The client of a request, as `access_log.client_ip` names it.
pub fn client_address(
    req: &super::request::Request<'_>,
    from: crate::config::ClientIp,
) -> Option<IpAddr> {
    match from {
        crate::config::ClientIp::RemoteAddr => parse_ip(req.remote_addr),
        crate::config::ClientIp::XForwardedFor => {
            first_forwarded(req.x_forwarded_for).or_else(|| parse_ip(req.remote_addr))
        }
    }
}

/// The first address of an X-Forwarded-For list (`"203.0.113.5, 10.0.0.1"`).
pub fn first_forwarded(xff: &[u8]) -> Option<IpAddr> {
    let end = memchr(b',', xff).unwrap_or(xff.len());
    parse_ip(&xff[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_ipv4_agrees_with_std() {
        for text in [
            "1.2.3.4",
            "255.255.255.255",
            "0.0.0.0",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1..2.3",
            "1.2.3.4 ",
            "a.b.c.d",
            "",
            "1.2.3.-4",
            "1.2.3.4x",
        ] {
            assert_eq!(
                parse_ipv4(text.as_bytes()),
                text.parse::<std::net::Ipv4Addr>().ok(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn fast_ipv6_agrees_with_std() {
        let mut texts: Vec<String> = [
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "2001:DB8:0:0:8:800:200C:417A",
            "fe80::1:2:3:4:5:6",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "1::2::3",
            ":1::2",
            "1::2:",
            "1:::2",
            "12345::1",
            "0001:0002::",
            "g::1",
            "1:2:3:4:5:6:7:8::",
            "::1:2:3:4:5:6:7:8",
            "::ffff:1.2.3.4",
            "[::1]",
            " ::1",
            ":",
            "",
            "1",
            "1:",
            "::ffff:0102:0304",
            "ABCD:ef01::",
            "1:2::3:4:5:6:7",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        // Every spelling std writes of some addresses, and each with a character cut out.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut g = [0u16; 8];
            for (i, v) in g.iter_mut().enumerate() {
                *v = if (x >> (i * 3)).is_multiple_of(4) {
                    0
                } else {
                    (x >> (i * 8)) as u16
                };
            }
            let text = std::net::Ipv6Addr::from(g).to_string();
            if !text.contains('.') {
                assert_eq!(
                    parse_ipv6(text.as_bytes()),
                    Some(std::net::Ipv6Addr::from(g))
                );
            }
            let cut = (x as usize) % text.len();
            texts.push(format!("{}{}", &text[..cut], &text[cut + 1..]));
            texts.push(text.to_uppercase());
            texts.push(text);
        }
        for text in &texts {
            let fast = parse_ipv6(text.as_bytes());
            let std = text.parse::<std::net::Ipv6Addr>().ok();
            assert!(
                fast.is_none() || fast == std,
                "{text:?}: {fast:?} vs {std:?}"
            );
            let whole = parse_ip(text.as_bytes());
            let expected = text
                .trim()
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or(text.trim())
                .parse::<IpAddr>()
                .ok()
                .map(|ip| ip.to_canonical());
            assert_eq!(whole, expected, "{text:?}");
        }
    }

    #[test]
    fn addresses_are_canonical() {
        assert_eq!(parse_ip(b"::ffff:1.2.3.4"), "1.2.3.4".parse().ok());
        assert_eq!(parse_ip(b"2001:DB8:0:0::1"), "2001:db8::1".parse().ok());
        assert_eq!(parse_ip(b"unix:"), None);
        assert_eq!(
            first_forwarded(b"203.0.113.5, 10.0.0.1"),
            "203.0.113.5".parse().ok()
        );
        assert_eq!(first_forwarded(b"-"), None);
    }
}
