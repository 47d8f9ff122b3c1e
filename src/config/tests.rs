//! Validation of every section: defaults, and errors that name the file and the key.

use super::*;
use crate::exit::Status;
use std::net::IpAddr;

fn parse(text: &str) -> Result<Config> {
    Config::parse(Path::new("/etc/arkwatch/arkwatch.toml"), text)
}

fn message(text: &str) -> String {
    let err = parse(text).unwrap_err();
    assert_eq!(Status::for_error(&err), Status::Config);
    format!("{err:#}")
}

#[test]
fn minimal_config_gets_defaults() {
    let c = parse("data_dir = \"data\"\n").unwrap();
    assert_eq!(c.data_dir, Path::new("/etc/arkwatch/data"));
    assert_eq!(c.timezone, chrono_tz::UTC);
    assert_eq!(c.pages[0], ("/pricing".to_string(), PageTier::Hot));
    assert!(c.filters.statuses[200] && c.filters.statuses[304] && !c.filters.statuses[404]);
    assert_eq!(c.filters.methods, ["GET"]);
}

#[test]
fn errors_name_file_and_key() {
    let msg = message("data_dir = \"d\"\ntimezone = \"Europe/Berln\"\n");
    assert!(msg.contains("/etc/arkwatch/arkwatch.toml"), "{msg}");
    assert!(msg.contains("timezone"), "{msg}");

    let msg = message("data_dir = \"d\"\n[filters]\nignore_ips = [\"10.0.0.1\", \"300.1.1.1\"]\n");
    assert!(msg.contains("filters.ignore_ips[1]"), "{msg}");

    let msg =
        message("data_dir = \"d\"\n[[access_log]]\npath = \"a\"\nformat = \"$remote_addr\"\n");
    assert!(msg.contains("access_log[0].format"), "{msg}");

    let msg = message("data_dir = \"d\"\ntypo_key = 1\n");
    assert!(msg.contains("typo_key"), "{msg}");

    let msg = message("data_dir = \"d\"\n[pages]\n\"/x\" = \"scorching\"\n");
    assert!(msg.contains("scorching"), "{msg}");

    let msg = message("data_dir = \"d\"\n[filters]\nstatuses = [\"2xx\", \"7xx\"]\n");
    assert!(msg.contains("filters.statuses[1]"), "{msg}");
}

#[test]
fn ignore_ips_accepts_v4_v6_and_cidrs() {
    let c = parse(
        "data_dir = \"d\"\n[filters]\nignore_ips = [\"203.0.113.7\", \"10.0.0.0/8\", \"2001:db8::/32\", \"::1\"]\n",
    )
    .unwrap();
    let nets = &c.filters.ignore_ips;
    assert!(
        nets.iter()
            .any(|n| n.contains(&"10.9.8.7".parse::<IpAddr>().unwrap()))
    );
    assert!(
        nets.iter()
            .any(|n| n.contains(&"2001:db8::5".parse::<IpAddr>().unwrap()))
    );
    assert!(
        !nets
            .iter()
            .any(|n| n.contains(&"203.0.113.8".parse::<IpAddr>().unwrap()))
    );
}

#[test]
fn event_store_choice_and_no_password_in_errors() {
    let c = parse("data_dir = \"d\"\n").unwrap();
    assert_eq!(c.events.store, EventStoreKind::File);
    assert_eq!(
        (c.events.prefix.as_str(), c.events.retention_days),
        ("arkwatch:", 30)
    );
    let c = parse("data_dir = \"d\"\n[events]\nstore = \"redis://127.0.0.1:6379/2\"\n").unwrap();
    assert_eq!(
        c.events.store,
        EventStoreKind::Redis("redis://127.0.0.1:6379/2".into())
    );
    let msg = message("data_dir = \"d\"\n[events]\nstore = \"mysql://u:hunter2@db/x\"\n");
    assert!(
        msg.contains("events.store") && !msg.contains("hunter2"),
        "{msg}"
    );
}

#[test]
fn alerts_and_smtp_defaults_and_errors() {
    let c = parse("data_dir = \"d\"\n").unwrap();
    assert!(c.smtp.is_none(), "no [smtp]: the outbox");
    assert_eq!(c.alerts.max_emails_per_hour, 1);
    assert_eq!(c.alerts.rules.error_rate, Some(ErrorRateRule::default()));
    assert_eq!(
        c.alerts.rules.api_cost.unwrap().per_day,
        rust_decimal::Decimal::new(5, 0)
    );

    let c = parse(
        "data_dir = \"d\"\n[alerts]\nto = [\"a@b.example\"]\n\
         [alerts.rules.silence]\nenabled = false\n[alerts.rules.api_cost]\nper_day = \"20.50\"\n\
         [smtp]\nhost = \"smtp.b.example\"\nsecurity = \"tls\"\nusername = \"u\"\n",
    )
    .unwrap();
    assert_eq!(c.alerts.rules.silence, None);
    assert_eq!(
        c.alerts.rules.api_cost.unwrap().per_day,
        rust_decimal::Decimal::new(2050, 2)
    );
    let smtp = c.smtp.unwrap();
    assert_eq!(
        (smtp.port, smtp.address()),
        (465, "smtps://smtp.b.example:465".into())
    );

    let msg = message(
        "data_dir = \"d\"\n[alerts]\nto = [\"a@b.example\"]\n[smtp]\nhost = \"mail.b.example\"\nsecurity = \"none\"\n",
    );
    assert!(
        msg.contains("smtp.security") && msg.contains("loopback"),
        "{msg}"
    );
    assert!(
        parse("data_dir = \"d\"\n[alerts]\nto = [\"a@b.example\"]\n[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n")
            .is_ok(),
        "plain to a local relay"
    );
    let msg = message("data_dir = \"d\"\n[smtp]\nhost = \"mail.b.example\"\n");
    assert!(msg.contains("alerts.to"), "{msg}");
    let msg = message("data_dir = \"d\"\n[alerts]\nto = [\"a@b.example\", \"not an address\"]\n");
    assert!(msg.contains("alerts.to[1]"), "{msg}");
    let msg = message("data_dir = \"d\"\n[alerts]\nmax_emails_per_hour = 0\n");
    assert!(msg.contains("alerts.max_emails_per_hour"), "{msg}");
    let msg = message("data_dir = \"d\"\n[alerts.rules.error_rate]\npercent = 150\n");
    assert!(msg.contains("alerts.rules.error_rate.percent"), "{msg}");
    let msg = message("data_dir = \"d\"\n[alerts.rules.error_rate]\nprecent = 5\n");
    assert!(msg.contains("precent"), "a typo is an error: {msg}");
}

#[test]
fn pages_longest_prefix_first() {
    let c = parse(
        "data_dir = \"d\"\n[pages]\n\"/p\" = \"warm\"\n\"/pricing/enterprise\" = \"very_hot\"\n",
    )
    .unwrap();
    assert_eq!(c.pages[0].0, "/pricing/enterprise");
}

#[test]
fn pages_that_name_the_same_prefix_twice_are_an_error() {
    let msg = message(
        "data_dir = \"d\"\n[pages]\n\"/pricing\" = \"hot\"\n\"/pricing/\" = \"very_hot\"\n",
    );
    assert!(
        msg.contains("pages") && msg.contains("\"/pricing\"") && msg.contains("\"/pricing/\""),
        "{msg}"
    );
}

#[test]
fn an_invalid_redis_url_is_a_config_error_at_load_time() {
    let msg =
        message("data_dir = \"d\"\n[events]\nstore = \"redis://:hunter2@127.0.0.1:notaport/0\"\n");
    assert!(
        msg.contains("events.store") && msg.contains("/etc/arkwatch/arkwatch.toml"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "{msg}");
}

#[test]
fn shown_paths_are_normalised() {
    let c = Config::parse(
        Path::new("/srv/app/fixtures/demo/arkwatch.toml"),
        "data_dir = \"../../target/demo\"\n[[access_log]]\npath = \"./logs/../access.log\"\n",
    )
    .unwrap();
    assert_eq!(c.data_dir, Path::new("/srv/app/target/demo"));
    assert_eq!(
        c.access_logs[0].path,
        Path::new("/srv/app/fixtures/demo/access.log")
    );
}

#[test]
fn durations_beyond_ten_years_are_refused() {
    let msg = message("data_dir = \"d\"\n[alerts]\nlead_max_age_hours = 4294967295\n");
    assert!(msg.contains("alerts.lead_max_age_hours"), "{msg}");
}
