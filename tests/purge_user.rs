//! `purge-user` (acceptance item e): after it, no file under `data_dir` and no key under the
//! prefix in a real Redis holds the id or its keyed hash, and the other user's numbers are
//! what they were.

mod common;

use common::Site;
use common::redis::RedisServer;
use serde_json::Value;

const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const USER: &str = "acct-7f3a9c";
const OTHER: &str = "acct-b2d4e6";
const NOW: &str = "2026-12-01T12:00:00Z";

fn ok(site: &Site, now: &str, args: &[&str]) -> Value {
    let out = site
        .command()
        .args(args)
        .env("ARKWATCH_NOW", now)
        .output()
        .unwrap();
    common::assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn dump(redis: &RedisServer) -> String {
    let keys = redis.cli(&["--scan", "--pattern", "arkwatch:*"]).unwrap();
    let mut out = keys.clone();
    for key in keys.lines() {
        let value = match redis.cli(&["TYPE", key]).unwrap().as_str() {
            "stream" => redis.cli(&["XRANGE", key, "-", "+"]),
            "hash" => redis.cli(&["HGETALL", key]),
            "set" => redis.cli(&["SMEMBERS", key]),
            _ => redis.cli(&["GET", key]),
        };
        out.push_str(&value.unwrap_or_default());
        out.push('\n');
    }
    out
}

fn line(ip: &str, path: &str, minute: u32, ua: &str) -> String {
    format!(
        "{ip} - - [01/Dec/2026:10:{minute:02}:00 +0000] \"GET {path} HTTP/1.1\" 200 512 \"https://www.linkedin.com/\" \"{ua}\""
    )
}

fn track(site: &Site, kind: &str, user: &str, fields: &[String]) {
    let mut args = vec!["track", kind, "--user", user];
    args.extend(fields.iter().map(String::as_str));
    ok(site, NOW, &args);
}

/// The other user's numbers: its lead, its cost line, its projection record.
fn others(site: &Site, redis: &RedisServer) -> (Value, Value, String) {
    let leads = ok(site, NOW, &["leads", "--json", "--days", "7"]);
    let lead = leads
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["ip"] == "198.51.100.9")
        .cloned()
        .unwrap();
    let m = ok(
        site,
        NOW,
        &["metrics", "customers", "--json", "--days", "7"],
    );
    let cost = m["customers"]["top_by_cost"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["user"] == OTHER)
        .cloned()
        .unwrap();
    let record = redis.cli(&["HGET", "arkwatch:users", OTHER]).unwrap();
    (lead, cost, record)
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom, one step after the other"
)]
fn a_purged_user_leaves_every_file_and_key_and_the_other_user_stays() {
    let redis = RedisServer::start();
    let site = Site::new(&format!(
        "[events]\nstore = \"{}\"\n[alerts]\nmax_emails_per_hour = 100\n\
         [alerts.rules.user_cost]\nenabled = true\npercent_of_mrr = 1\n",
        redis.url()
    ));
    site.append(
        "access.log",
        &[
            line("203.0.113.50", "/pricing", 0, SAFARI),
            line("198.51.100.9", "/pricing", 1, FIREFOX),
            line("203.0.113.50", "/trial", 5, SAFARI),
        ],
    );
    ok(&site, "2026-12-01T10:30:00Z", &["scan", "--json"]);
    for (user, ip, ua, mrr, cost) in [
        (USER, "203.0.113.50", SAFARI, "29.00", "2.50"),
        (OTHER, "198.51.100.9", FIREFOX, "49.00", "1.25"),
    ] {
        let ts = |t: &str| format!("ts=2026-12-01T{t}:00Z");
        let at = [format!("ip={ip}"), format!("user_agent={ua}"), ts("11:00")];
        track(&site, "registration", user, &at);
        let paid = ["plan=pro".to_string(), format!("mrr={mrr}"), ts("11:30")];
        track(&site, "conversion", user, &paid);
        let call = [
            "provider=openai".to_string(),
            format!("cost={cost}"),
            ts("11:40"),
        ];
        track(&site, "api_call", user, &call);
    }
    let scanned = ok(&site, NOW, &["scan", "--json"]);
    let names: Vec<&str> = scanned["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["alert"].is_null())
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"lead_outcome") && names.contains(&"user_cost:acct-7f3a9c"),
        "the user is in the alerts before the purge: {names:?}"
    );
    let hash = arkwatch::rollup::keys::VisitorKeys::load_for_reading(&site.data)
        .unwrap()
        .user(USER);
    let marks = [USER.to_string(), hash.to_string(), format!("{hash:016x}")];
    let held = |text: &str| marks.iter().any(|m| text.contains(m.as_str()));
    let files_holding = || -> Vec<String> {
        common::files_under(&site.data)
            .into_iter()
            .filter(|(_, bytes)| held(&String::from_utf8_lossy(bytes)))
            .map(|(p, _)| p.display().to_string())
            .collect()
    };
    assert!(files_holding().len() >= 4, "{:?}", files_holding());
    assert!(held(&dump(&redis)));
    let before = others(&site, &redis);

    let dry = ok(&site, NOW, &["purge-user", USER, "--dry-run", "--json"]);
    assert_eq!(dry["events"]["records"], 3, "{dry:#}");
    assert!(held(&dump(&redis)), "a dry run changes nothing");
    let purged = ok(&site, NOW, &["purge-user", USER, "--json"]);
    assert_eq!(purged["events"]["records"], 3);
    assert_eq!(purged["projection"]["records"], 1);
    assert!(
        purged["links"]["records"].as_u64().unwrap() >= 2,
        "{purged:#}"
    );

    assert!(
        files_holding().is_empty(),
        "still held: {:?}",
        files_holding()
    );
    let after_redis = dump(&redis);
    assert!(!held(&after_redis), "{after_redis}");
    assert_eq!(
        others(&site, &redis),
        before,
        "the other user's numbers are unchanged"
    );
    let audit = std::fs::read_to_string(site.data.join("audit.log")).unwrap();
    assert!(audit.contains("\"command\":\"purge-user\"") && audit.contains("\"phase\":\"done\""));
    // Running it again finds nothing more.
    let again = ok(&site, NOW, &["purge-user", USER, "--json"]);
    assert_eq!(again["events"]["records"], 0);
    assert_eq!(again["projection"]["records"], 0);
}
