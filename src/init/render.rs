//! The configuration file `init` writes, every choice commented with where it came from.

use chrono::{DateTime, Utc};

use super::{Proposal, Proposed};

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// One `[[access_log]]` block per log, commented out when the server has not written it yet
/// or its format is one arkwatch cannot read.
fn render_logs(t: &mut String, logs: &[Proposed]) {
    use std::fmt::Write as _;
    for log in logs {
        let _ = writeln!(t, "\n# {}", log.origin);
        let hash = if let Some(why) = &log.unreadable {
            let _ = writeln!(
                t,
                "# arkwatch cannot read this format: {}",
                crate::escape::one_line(why)
            );
            "# "
        } else if log.exists {
            if log.sampled > 0 {
                let _ = writeln!(
                    t,
                    "# {} of its first {} lines parse with this format.",
                    log.parsed, log.sampled
                );
            } else {
                let _ = writeln!(t, "# Empty now: its format is not confirmed yet.");
            }
            ""
        } else {
            let _ = writeln!(
                t,
                "# Not written yet: uncomment these lines once the server has written it."
            );
            "# "
        };
        let _ = writeln!(t, "{hash}[[access_log]]");
        let _ = writeln!(
            t,
            "{hash}path = {}",
            quoted(&log.path.display().to_string())
        );
        let _ = writeln!(t, "{hash}format = {}", quoted(&log.spec));
    }
}

/// The configuration file: every choice commented with where it came from.
pub fn render(p: &Proposal, now: DateTime<Utc>) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Written by `arkwatch init` on {}.",
        now.format("%Y-%m-%d")
    );
    for read in &p.read {
        let _ = writeln!(t, "# Read: {read}.");
    }
    let _ = writeln!(
        t,
        "# Every key is in the README and `man arkwatch`. Check it with\n#   arkwatch --config THIS_FILE scan --dry-run\n"
    );
    let _ = writeln!(
        t,
        "data_dir = {}",
        quoted(&p.data_dir.display().to_string())
    );
    let _ = writeln!(t, "site_name = {}", quoted(&p.site_name));
    let _ = writeln!(
        t,
        "timezone = {}    # {}",
        quoted(&p.timezone),
        p.timezone_from
    );
    let hosts: Vec<String> = p.site_hosts.iter().map(|h| quoted(h)).collect();
    let _ = writeln!(
        t,
        "site_hosts = [{}]    # the server names; their subdomains are internal too",
        hosts.join(", ")
    );
    render_logs(&mut t, &p.logs);
    let seen = p.pages.iter().any(|g| g.views.is_some());
    let _ = writeln!(
        t,
        "\n# Tracked pages: path prefix = very_hot | hot | warm.\n# {}",
        if seen {
            "The intent pages the logs' recent pageviews reached most."
        } else {
            "None of the usual ones (/pricing, /trial, /signup...) is in the logs: the defaults."
        }
    );
    let _ = writeln!(t, "[pages]");
    for g in &p.pages {
        let views = g
            .views
            .map(|n| format!("    # {}", crate::words::count(n, "pageview")))
            .unwrap_or_default();
        let _ = writeln!(
            t,
            "{} = {}{views}",
            quoted(&g.prefix),
            quoted(g.tier.name())
        );
    }
    t.push_str(TAIL);
    t
}

const TAIL: &str = r#"
[filters]
exclude_bots = true
# ignore_ips = ["203.0.113.7", "10.0.0.0/8"]   # the team's own addresses

# Product events: the embedded store (a file in data_dir) until Redis is named here.
[events]
store = "file"
# store = "redis://127.0.0.1:6379/0"

# Who a lead is, offline: MaxMind DB files (GeoLite2, DB-IP Lite, IPinfo Lite), reverse DNS.
# [geo]
# country_db = "/var/lib/GeoIP/GeoLite2-Country.mmdb"
# city_db = "/var/lib/GeoIP/GeoLite2-City.mmdb"
# asn_db = "/var/lib/GeoIP/GeoLite2-ASN.mmdb"
# reverse_dns = true

# Without [smtp], alert messages are written to data_dir/outbox, one mail file each.
[alerts]
# to = ["founders@example.com"]

# [smtp]
# host = "smtp.example.com"
# security = "tls"
# username = "alerts@example.com"
# password_file = "/etc/arkwatch/smtp-password"
"#;
