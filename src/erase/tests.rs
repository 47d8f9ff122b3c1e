//! Targets in every spelling, and lines blanked or masked in place.

use super::*;

fn t(spec: &str) -> Target {
    Target::parse(spec, false).unwrap()
}

#[test]
fn every_spelling_of_one_address_and_nothing_longer() {
    let v4 = t("203.0.113.7");
    for yes in [
        "203.0.113.7",
        "x ::ffff:203.0.113.7 y",
        "::FFFF:CB00:7107",
        "0:0:0:0:0:ffff:cb00:7107",
        "198.51.100.1, 203.0.113.7",
        "\"ip\":\"203.0.113.7\"",
        "203.0.113.7:443",
    ] {
        assert!(v4.in_text(yes.as_bytes()), "{yes}");
    }
    for no in [
        "203.0.113.70",
        "1203.0.113.7",
        "203.0.113.7.5",
        "203.0.113.8",
    ] {
        assert!(!v4.in_text(no.as_bytes()), "{no}");
    }
    assert!(v4.matches("::ffff:203.0.113.7".parse().unwrap()));

    let v6 = t("2001:db8::1");
    for yes in [
        "2001:db8::1",
        "2001:DB8::1",
        "2001:0db8:0000:0000:0000:0000:0000:0001",
        "2001:db8:0:0:0:0:0:1",
        "[2001:db8::1]:443",
    ] {
        assert!(v6.in_text(yes.as_bytes()), "{yes}");
    }
    for no in ["2001:db8::10", "2001:db8::1:5", "12001:db8::1"] {
        assert!(!v6.in_text(no.as_bytes()), "{no}");
    }
    assert_eq!(
        t("::ffff:203.0.113.7").net,
        "203.0.113.7/32".parse::<IpNet>().unwrap(),
        "a mapped address is the IPv4 one"
    );
}

#[test]
fn networks_match_in_text_and_wide_ones_need_force() {
    let net = t("203.0.113.0/24");
    assert!(net.in_text(b"for 198.51.100.1, 203.0.113.99 via"));
    assert!(net.in_text(b"::ffff:203.0.113.5"));
    assert!(!net.in_text(b"203.0.114.1"));
    assert_eq!(net.redact("a 203.0.113.9 b"), "a [purged] b");
    assert!(Target::parse("10.0.0.1/8", false).is_err());
    assert!(Target::parse("10.0.0.1/8", true).is_ok());
    assert!(Target::parse("2001:db8::/32", false).is_err());
    assert!(Target::parse("2001:db8:1::/48", false).is_ok());
    assert!(
        Target::parse("0.0.0.0/0", true).is_err(),
        "never everything"
    );
    assert!(Target::parse("::/0", true).is_err());
    assert!(Target::parse("not-an-ip", true).is_err());
    assert_eq!(
        t("203.0.113.7").redact("x 203.0.113.7, 203.0.113.70"),
        "x [purged], 203.0.113.70"
    );
}

#[test]
fn blanking_keeps_the_length_and_every_other_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.jsonl");
    let text = "{\"ip\":\"203.0.113.7\"}\n{\"ip\":\"203.0.113.8\"}\n{\"ip\":\"203.0.113.7\"}";
    std::fs::write(&path, text).unwrap();
    let mut found = 0;
    let n = blank_lines(&path, &t("203.0.113.7"), false, None, &mut |_, _| {
        found += 1;
    })
    .unwrap();
    assert_eq!((n, found), (2, 2));
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(after.len(), text.len());
    assert_eq!(after.lines().nth(1), Some("{\"ip\":\"203.0.113.8\"}"));
    assert!(!after.contains("203.0.113.7"));
}
