//! The formats of servers other than nginx and Apache, field by field: on the real logs of
//! `../shared/data/formats/` (written outside this project; where the folder is absent these
//! checks say they did not run) and on fixtures of this project's own that cover what those
//! files lack (a Referer in Caddy's headers and its ISO 8601 `ts`, Traefik's `-` status,
//! HAProxy without syslog and with three captured headers, CloudFront's tab-separated W3C).
//! `format = "auto"` must name each of them (HAProxy's captured headers by what their values
//! look like), and read the same requests as the format named.

mod common;

use std::path::{Path, PathBuf};

use arkwatch::accesslog::detect;
use arkwatch::accesslog::parser::{Malformed, Parser, unescape};
use arkwatch::log_format::LogFormat;

fn shared() -> Option<PathBuf> {
    common::shared_data("formats")
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/formats")
        .join(name)
}

/// One request's fields in words, unescaped: `ip time method path ?query status bytes host |
/// referer | agent`.
fn fields(format: &LogFormat, line: &[u8]) -> Result<String, Malformed> {
    let mut parser = Parser::new(format);
    let r = parser.parse(line)?;
    let text = |b: &[u8]| String::from_utf8_lossy(&unescape(b, format.escape)).into_owned();
    Ok(format!(
        "{} {} {} {} ?{} {} {} {} | {} | {}",
        text(r.remote_addr),
        r.time.to_datetime().to_rfc3339(),
        text(r.method),
        text(r.path),
        text(r.query),
        r.status,
        r.bytes,
        text(r.host),
        text(r.referer),
        text(r.user_agent)
    ))
}

fn lines(path: &Path) -> Vec<Vec<u8>> {
    std::fs::read(path)
        .unwrap()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The format `spec` names, as a run uses it (a bare `w3c` takes the file's `#Fields:` line).
fn format_for(spec: &str, path: &Path) -> LogFormat {
    let f = LogFormat::compile(spec).unwrap();
    if f.is_resolved() {
        f
    } else {
        detect::resolve(&f, path).expect("the format is found in the file")
    }
}

/// Every line of `path` read with `spec`: the requests' fields, and the lines that were not.
fn read_all(spec: &str, path: &Path) -> (Vec<String>, Vec<(usize, Malformed)>) {
    let format = format_for(spec, path);
    let mut ok = Vec::new();
    let mut not = Vec::new();
    for (i, line) in lines(path).iter().enumerate() {
        match fields(&format, line) {
            Ok(f) => ok.push(f),
            Err(e) => not.push((i + 1, e)),
        }
    }
    (ok, not)
}

#[test]
fn caddy_real_and_own() {
    if let Some(dir) = shared() {
        let (ok, not) = read_all(
            "caddy",
            &dir.join("caddy__tstack_lnav__logfile_caddy_log.1"),
        );
        assert!(not.is_empty(), "{not:?}");
        assert_eq!(ok.len(), 4);
        assert_eq!(
            ok[0],
            "10.10.10.117 2024-05-26T11:42:52+00:00 GET /gentoo/gentoo-distfiles/distfiles/9b/tl-hrlatex.source-2021.tar.xz ? 200 3768 mirrors.tnonline.net |  | facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
        );
        assert!(ok[1].starts_with("10.10.10.134 2024-05-26T11:43:50+00:00 GET /gentoo/gentoo-portage/app-emulation/metadata.xml ? 200 "), "{}", ok[1]);
        assert!(
            ok[1].ends_with("| Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"),
            "{}",
            ok[1]
        );
    }
    let (ok, not) = read_all("caddy", &fixture("caddy.log"));
    assert_eq!(
        ok[0],
        "203.0.113.45 2026-11-23T09:04:05+00:00 GET /pricing ?utm_source=linkedin&utm_campaign=autumn 200 5120 acme.example | https://www.linkedin.com/feed/ | Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
    );
    assert_eq!(
        ok[1],
        "2001:db8::7 2026-11-23T09:05:00+00:00 POST /trial/start ? 303 0 acme.example |  | curl/8.5.0"
    );
    assert_eq!(
        not,
        [(2, Malformed::Comment)],
        "the error log's line is not a request"
    );
}

#[test]
fn traefik_common_real_and_own() {
    if let Some(dir) = shared() {
        let (ok, not) = read_all(
            "traefik",
            &dir.join("traefik__crowdsecurity_hub__traefik_clf.log"),
        );
        assert!(not.is_empty(), "{not:?}");
        assert_eq!(ok.len(), 7);
        assert_eq!(
            ok[0],
            "172.17.0.1 2021-12-08T09:16:05+00:00 GET /scripts/cpshost.dll ? 200 414  | - | -"
        );
        assert_eq!(
            ok[1],
            "172.17.0.1 2021-12-08T09:16:05+00:00 GET /upload.asp ?test=toto&tata=test 200 405  | - | -"
        );
        assert_eq!(
            ok[2],
            "172.17.0.1 2021-12-08T13:59:39+00:00 GET /cgi.cgi/ ? 200 352  | - | Nikto"
        );
    }
    let (ok, not) = read_all("traefik", &fixture("traefik.log"));
    assert!(not.is_empty(), "{not:?}");
    assert!(ok[0].starts_with("203.0.113.45 2026-11-23T09:04:05+01:00 GET /pricing ?plan=team 200 5120  | https://www.google.com/ | Mozilla/5.0 (Windows NT 10.0"), "{}", ok[0]);
    assert_eq!(
        ok[1], "203.0.113.46 2026-11-23T09:05:00+01:00 GET /trial ? 0 0  | - | curl/8.5.0",
        "a `-` status is 0, no class"
    );
    // Plain combined lines are not Traefik's: `auto` must tell them apart.
    let combined = LogFormat::compile("traefik").unwrap();
    assert!(
        fields(
            &combined,
            br#"1.2.3.4 - - [23/Nov/2026:09:04:05 +0100] "GET / HTTP/1.1" 200 1 "-" "x""#
        )
        .is_err()
    );
}

#[test]
fn traefik_json_real() {
    let Some(dir) = shared() else { return };
    let (ok, not) = read_all(
        "traefik-json",
        &dir.join("traefik-json__crowdsecurity_hub__traefik_base-http-scenario.log"),
    );
    assert!(not.is_empty(), "{not:?}");
    assert_eq!(ok.len(), 80);
    assert_eq!(
        ok[0],
        "172.17.0.1 2021-12-08T14:02:43+00:00 GET /594VAEoi.dtd ? 404 356 test.docker.localhost |  | Nikto"
    );
    assert!(
        ok.iter().all(|l| l.starts_with("172.17.0.1 2021-12-08T")),
        "{ok:#?}"
    );
}

#[test]
fn haproxy_real_and_own() {
    if let Some(dir) = shared() {
        let (ok, not) = read_all(
            "haproxy",
            &dir.join("haproxy__tstack_lnav__logfile_haproxy.0"),
        );
        assert_eq!(ok.len(), 13);
        assert_eq!(
            not,
            [
                (1, Malformed::Comment),
                (2, Malformed::Comment),
                (3, Malformed::Comment),
                (14, Malformed::Comment)
            ],
            "HAProxy's own messages"
        );
        assert_eq!(
            ok[0],
            "141.35.244.171 2019-02-25T16:19:48+00:00 GET /admin/colt/administration ?survey=130&input_stats=1&ajax=1&&ajax=1&refresh=1&ihandle=1 200 11394  |  | Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:65.0) Gecko/20100101 Firefox/65.0"
        );
        assert!(ok[1].starts_with("92.193.212.151 2019-02-25T16:19:49+00:00 POST /portal/ ?Script=934&onlinetest=speichereKorrektur&anm=10347 200 306  |  | Mozilla/5.0 (Macintosh;"), "{}", ok[1]);
    }
    let (ok, not) = read_all("haproxy:Host,User-Agent,Referer", &fixture("haproxy.log"));
    assert!(not.is_empty(), "{not:?}");
    assert_eq!(
        ok[0],
        "203.0.113.45 2026-11-23T08:04:05+00:00 GET /pricing ?ref=ddg 200 11394 acme.example | https://duckduckgo.com/ | Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    );
    assert_eq!(
        ok[1],
        "2001:db8::9 2026-11-23T08:05:00+00:00 HEAD /missing ? 404 512 acme.example | - | curl/8.5.0",
        "syslog with an ISO time, IPv6, logasap's +"
    );
}

#[test]
fn load_balancers_real() {
    let Some(dir) = shared() else { return };
    let (ok, not) = read_all("alb", &dir.join("alb__crowdsecurity_hub__aws-alb-logs.log"));
    assert!(not.is_empty(), "{not:?}");
    assert_eq!(ok.len(), 14);
    assert_eq!(
        ok[0],
        "192.168.1.10 2023-04-26T12:22:55+00:00 GET / ? 200 366 www.example.com |  | curl/7.46.0"
    );
    assert_eq!(
        ok[1],
        "192.168.1.11 2023-04-26T12:23:00+00:00 GET /robots.txt ? 200 57 www.example.com |  | curl/7.46.0"
    );
    assert_eq!(
        ok[2],
        "192.168.1.12 2023-04-26T12:23:14+00:00 GET /index.html ? 200 257 10.0.2.105 |  | curl/7.46.0"
    );
    let (ok, not) = read_all(
        "elb",
        &dir.join("elb__matomo-org_matomo-log-analytics__elb.log"),
    );
    assert_eq!(
        ok[0],
        "1.2.3.4 2015-05-13T23:39:43+00:00 GET /path/index.html ? 200 57 www.example.com |  | Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/535.11 (KHTML, like Gecko) Chrome/17.0.963.56 Safari/535.11"
    );
    assert_eq!(
        ok[1], "192.168.131.39 2015-05-13T23:39:43+00:00   ? 0 305  |  | -",
        "a TCP listener's entry: no request, no status"
    );
    assert_eq!(not.len(), 1, "the file's own comment line: {not:?}");
}

#[test]
fn w3c_iis_real_and_cloudfront_own() {
    if let Some(dir) = shared() {
        let (ok, not) = read_all("w3c", &dir.join("w3c__tstack_lnav__logfile_w3c_big.0"));
        assert_eq!(ok.len(), 210);
        assert!(not.iter().all(|(_, e)| *e == Malformed::Comment), "{not:?}");
        assert_eq!(not.len(), 44, "the header lines, repeated at each restart");
        assert_eq!(
            ok[0],
            "157.55.39.146 2015-01-13T00:32:17+00:00 GET /robots.txt ? 404 1405  | - | Mozilla/5.0 (compatible; bingbot/2.0;  http://www.bing.com/bingbot.htm)"
        );
    }
    let (ok, not) = read_all("w3c", &fixture("cloudfront.log"));
    assert_eq!(not.len(), 2, "#Version and #Fields");
    assert_eq!(
        ok[0],
        "203.0.113.45 2026-11-23T08:04:05+00:00 GET /pricing ?plan=team 200 5120 d111111abcdef8.cloudfront.net | https://www.google.com/ | Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
    );
    assert_eq!(
        ok[1],
        "2001:db8::5 2026-11-23T08:05:00+00:00 GET /trial ? 302 0 d111111abcdef8.cloudfront.net | - | curl/8.5.0"
    );
}

#[test]
fn auto_names_every_format_and_reads_what_the_named_one_reads() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut cases: Vec<(PathBuf, &str)> = vec![
        (fixture("caddy.log"), "caddy"),
        (fixture("traefik.log"), "traefik"),
        (fixture("cloudfront.log"), "w3c"),
        (fixture("haproxy.log"), "haproxy:Host,User-Agent,Referer"),
        (fixture("haproxy-no-captures.log"), "haproxy:-"),
        (root.join("fixtures/logs/common.log"), "common"),
        (root.join("fixtures/logs/vcombined.log"), "vcombined"),
        (root.join("fixtures/demo/access.log"), "combined"),
    ];
    if let Some(dir) = shared() {
        for (file, name) in [
            ("caddy__tstack_lnav__logfile_caddy_log.1", "caddy"),
            ("traefik__crowdsecurity_hub__traefik_clf.log", "traefik"),
            (
                "traefik-json__crowdsecurity_hub__traefik_base-http-scenario.log",
                "traefik-json",
            ),
            ("haproxy__tstack_lnav__logfile_haproxy.0", "haproxy"),
            ("alb__crowdsecurity_hub__aws-alb-logs.log", "alb"),
            ("elb__matomo-org_matomo-log-analytics__elb.log", "elb"),
            ("w3c__tstack_lnav__logfile_w3c_big.0", "w3c"),
            ("../real-logs/elastic_nginx_logs.log", "combined"),
        ] {
            cases.push((dir.join(file), name));
        }
    }
    for (path, name) in cases {
        let d = detect::detect(&path).unwrap();
        assert_eq!(
            d.format.as_deref(),
            Some(name),
            "{}: {:#?}",
            path.display(),
            d.candidates
        );
        let auto = read_all("auto", &path);
        let named = read_all(name, &path);
        assert_eq!(auto.0, named.0, "{}", path.display());
    }
}

#[test]
fn a_site_with_format_auto_ingests_caddy_cloudfront_and_haproxy_logs() {
    for (fixture_name, visits) in [("caddy.log", 2), ("cloudfront.log", 2), ("haproxy.log", 1)] {
        let site = common::Site::new(
            "[pages]\n\"/pricing\" = \"hot\"\n\"/trial\" = \"very_hot\"\n[filters]\nexclude_bots = false\nmethods = [\"GET\", \"POST\", \"HEAD\"]\nstatuses = [\"2xx\", \"3xx\", \"4xx\"]\n",
        );
        let config = std::fs::read_to_string(&site.config).unwrap();
        std::fs::write(
            &site.config,
            config.replace(
                "path = \"logs/access.log\"\n",
                "path = \"logs/access.log\"\nformat = \"auto\"\n",
            ),
        )
        .unwrap();
        std::fs::copy(fixture(fixture_name), &site.log).unwrap();
        let s = site.ingest();
        assert_eq!(s["malformed"], 0, "{fixture_name}: {s:#}");
        assert_eq!(
            s["by_tier"]["hot"].as_u64().unwrap() + s["by_tier"]["very_hot"].as_u64().unwrap(),
            visits,
            "{fixture_name}: {s:#}"
        );
    }
}

#[test]
fn detect_format_prints_a_haproxy_format_with_its_captures_and_the_share() {
    let run = |file: &str| {
        let out = std::process::Command::new(common::BIN)
            .arg("detect-format")
            .arg(fixture(file))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = run("haproxy.log");
    assert_eq!(code, Some(0));
    assert!(
        text.contains("format = \"haproxy:Host,User-Agent,Referer\" (2 of 2 requests read)"),
        "{text}"
    );
    let (code, text) = run("caddy.log");
    assert_eq!(code, Some(0));
    assert!(
        text.contains("format = \"caddy\" (2 of 2 requests read; 1 other line is not a request)"),
        "{text}"
    );
}

#[test]
fn ingest_nginx_with_format_auto_on_a_path_finds_the_format() {
    let site = common::Site::new("[filters]\nexclude_bots = false\n");
    let out = site
        .command()
        .args(["ingest-nginx", "--json", "--format", "auto"])
        .arg(fixture("caddy.log"))
        .output()
        .unwrap();
    common::assert_success(&out);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (s["parsed"].as_u64(), s["malformed"].as_u64()),
        (Some(2), Some(0)),
        "{s:#}"
    );
}
