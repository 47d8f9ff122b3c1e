//! Delivery to a real SMTP server on loopback (Debian's python3-aiosmtpd, started by the test):
//! STARTTLS with a password, implicit TLS, plain to localhost; a server that is down for three
//! runs; a refused password; hostile visitor text as it arrives.

mod common;

use chrono::{Duration, Utc};
use common::Site;
use common::smtp::{Mode, SmtpServer};
use mailparse::MailHeaderMap;
use serde_json::Value;
use std::fmt::Write as _;

const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const PASSWORD: &str = "s3cret-hunter2";

fn req(ip: &str, path: &str, referer: &str, ua: &str, mins_ago: i64) -> String {
    let t = Utc::now() - Duration::minutes(mins_ago);
    format!(
        "{ip} - - [{}] \"GET {path} HTTP/1.1\" 200 512 \"{referer}\" \"{ua}\"",
        t.format("%d/%b/%Y:%H:%M:%S +0000")
    )
}

/// A site that sends through `server` (`security` as configured).
fn site(server: &SmtpServer, security: &str, auth: bool) -> Site {
    let mut smtp = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"{security}\"\ntimeout_secs = 5\n",
        server.port
    );
    if security != "none" {
        let _ = writeln!(smtp, "ca_file = \"{}\"", server.ca().display());
    }
    if auth {
        smtp += "username = \"arkwatch\"\n";
    }
    let site = Site::new(&format!(
        "site_name = \"Acme\"\n[alerts]\nfrom = \"ArkWatch <arkwatch@acme.example>\"\n\
         to = [\"founders@acme.example\", \"Sales <sales@acme.example>\"]\n\
         max_emails_per_hour = 100\n{smtp}"
    ));
    site.append("access.log", &[]);
    site
}

fn scan(site: &Site) -> (Value, std::process::Output) {
    let out = site
        .command()
        .env("ARKWATCH_SMTP_PASSWORD", PASSWORD)
        .args(["scan", "--json"])
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (json, out)
}

fn never_shows_the_password(out: &std::process::Output) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains(PASSWORD),
            "the password leaked"
        );
    }
}

#[test]
fn starttls_with_a_password_delivers_one_multipart_message() {
    let server = SmtpServer::start(Mode::Starttls, Some(("arkwatch", PASSWORD)));
    let site = site(&server, "starttls", true);
    site.append(
        "access.log",
        &[
            req(
                "203.0.113.45",
                "/demo",
                "https://www.google.com/",
                SAFARI,
                20,
            ),
            req(
                "203.0.113.45",
                "/trial?utm_source=linkedin",
                "https://www.linkedin.com/",
                SAFARI,
                8,
            ),
        ],
    );
    let (report, out) = scan(&site);
    common::assert_success(&out);
    never_shows_the_password(&out);
    assert_eq!(report["delivery"]["outcome"], "sent", "{report:#}");
    assert_eq!(
        report["delivery"]["to"],
        format!("smtp://127.0.0.1:{}", server.port)
    );

    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let (raw, envelope) = &messages[0];
    assert_eq!(envelope["tls"], true, "upgraded with STARTTLS");
    assert_eq!(envelope["auth"], true, "logged in");
    assert_eq!(envelope["mail_from"], "arkwatch@acme.example");
    assert_eq!(
        envelope["rcpt_tos"],
        serde_json::json!(["founders@acme.example", "sales@acme.example"])
    );

    let mail = mailparse::parse_mail(raw).unwrap();
    let h = &mail.headers;
    assert_eq!(
        h.get_first_value("Subject").as_deref(),
        Some("[Acme] 1 hot lead")
    );
    assert_eq!(
        h.get_first_value("From").as_deref(),
        Some("ArkWatch <arkwatch@acme.example>")
    );
    assert!(
        h.get_first_value("To")
            .unwrap()
            .contains("sales@acme.example")
    );
    assert!(h.get_first_value("Message-ID").is_some());
    assert!(h.get_first_value("Date").is_some());
    assert_eq!(mail.ctype.mimetype, "multipart/alternative");
    assert_eq!(mail.subparts.len(), 2);
    assert_eq!(mail.subparts[0].ctype.mimetype, "text/plain");
    assert_eq!(mail.subparts[1].ctype.mimetype, "text/html");
    let text = mail.subparts[0].get_body().unwrap();
    assert!(
        text.starts_with("Acme: 1 hot lead\r\n\r\nNew very hot lead (score 65) - 203.0.113.45, "),
        "{text}"
    );
    assert!(
        text.contains("Safari on a Mac, from LinkedIn, read /demo, then /trial 12 minutes later."),
        "{text}"
    );
    let html = mail.subparts[1].get_body().unwrap();
    assert!(html.contains(">New very hot lead</div>"), "{html}");
    assert!(html.contains("score 65 · 203.0.113.45 · "), "{html}");
    assert!(html.contains(">/trial</span> 12 minutes later."), "{html}");
}

#[test]
fn implicit_tls_and_plain_localhost_deliver_too() {
    for (mode, security) in [(Mode::Tls, "tls"), (Mode::Plain, "none")] {
        let server = SmtpServer::start(mode, None);
        let site = site(&server, security, false);
        site.append(
            "access.log",
            &[req("203.0.113.9", "/pricing", "-", SAFARI, 3)],
        );
        let (report, out) = scan(&site);
        common::assert_success(&out);
        assert_eq!(
            report["delivery"]["outcome"], "sent",
            "{security}: {report:#}"
        );
        let messages = server.messages();
        assert_eq!(messages.len(), 1, "{security}");
        assert_eq!(messages[0].1["tls"], mode == Mode::Tls, "{security}");
    }
}

#[test]
fn smtp_down_for_three_runs_then_one_message_holds_every_alert() {
    let mut server = SmtpServer::new(Mode::Starttls, Some(("arkwatch", PASSWORD)));
    let site = site(&server, "starttls", true);
    let ips = ["203.0.113.1", "203.0.113.2", "203.0.113.3"];
    for (run, ip) in ips.iter().enumerate() {
        site.append(
            "access.log",
            &[req(
                ip,
                "/pricing",
                "-",
                SAFARI,
                10 - i64::try_from(run).unwrap(),
            )],
        );
        let (report, out) = scan(&site);
        never_shows_the_password(&out);
        assert_eq!(out.status.code(), Some(75), "run {run}: {report:#}");
        assert_eq!(report["delivery"]["outcome"], "failed");
        assert_eq!(report["pending"], run + 1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("smtp://127.0.0.1:{}", server.port)),
            "names the server: {stderr}"
        );
    }
    let status = site
        .command()
        .args(["status", "--json"])
        .env("ARKWATCH_SMTP_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1), "SMTP down needs attention");

    server.restart();
    let (report, out) = scan(&site);
    common::assert_success(&out);
    assert_eq!(report["delivery"]["outcome"], "sent");
    assert_eq!(report["delivery"]["leads"], 3);
    assert_eq!(report["pending"], 0);
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "exactly one message");
    let mail = mailparse::parse_mail(&messages[0].0).unwrap();
    assert_eq!(
        mail.headers.get_first_value("Subject").as_deref(),
        Some("[Acme] 3 hot leads")
    );
    let text = mail.subparts[0].get_body().unwrap();
    for ip in ips {
        assert_eq!(
            text.matches(&format!(") - {ip}, ")).count(),
            1,
            "{ip}: {text}"
        );
    }
    let (_, out) = scan(&site);
    common::assert_success(&out);
    assert_eq!(server.messages().len(), 1, "nothing is sent twice");
}

#[test]
fn a_refused_password_keeps_the_alert_and_is_not_shown() {
    let server = SmtpServer::start(Mode::Starttls, Some(("arkwatch", "the-right-one")));
    let site = site(&server, "starttls", true);
    site.append(
        "access.log",
        &[req("203.0.113.1", "/pricing", "-", SAFARI, 3)],
    );
    let (report, out) = scan(&site);
    never_shows_the_password(&out);
    // Authentication failures of every server are one documented status, 77 (it was 1 for
    // SMTP and 75 for Redis).
    assert_eq!(
        out.status.code(),
        Some(77),
        "a permanent refusal: {report:#}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused the login"),
        "{report:#}"
    );
    assert_eq!(report["pending"], 1);
    assert!(server.messages().is_empty());
}

#[test]
fn hostile_visitor_text_arrives_escaped_unclickable_and_harmless() {
    let server = SmtpServer::start(Mode::Plain, None);
    let site = site(&server, "none", false);
    // nginx writes control characters of a request as \xHH.
    site.append(
        "access.log",
        &[req(
            "203.0.113.66",
            "/pricing/\\x0D\\x0ABcc:x@y?utm_source=https://evil.example/&utm_content=<b>x</b>",
            "javascript:alert(1)",
            "<script>alert(1)</script> (X11; Linux x86_64)",
            2,
        )],
    );
    let (report, out) = scan(&site);
    common::assert_success(&out);
    assert_eq!(report["leads"].as_array().unwrap().len(), 1, "{report:#}");
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let (raw, envelope) = &messages[0];
    assert_eq!(
        envelope["rcpt_tos"],
        serde_json::json!(["founders@acme.example", "sales@acme.example"]),
        "no recipient was injected"
    );
    let mail = mailparse::parse_mail(raw).unwrap();
    assert!(
        mail.headers.get_first_value("Bcc").is_none(),
        "no header was injected"
    );
    assert!(mail.headers.iter().all(|h| !h.get_value().contains("x@y")));

    let text = mail.subparts[0].get_body().unwrap();
    assert!(text.contains("from hxxps[:]//evil[.]example/"), "{text}");
    assert!(!text.to_ascii_lowercase().contains("javascript:"), "{text}");
    assert!(!text.contains("https://"), "{text}");
    assert!(
        text.contains("/pricing/  Bcc:x@y"),
        "CR LF became spaces: {text}"
    );

    let html = mail.subparts[1].get_body().unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("<b>x</b>"), "{html}");
    assert!(!html.contains("href"), "no link at all: {html}");
    assert!(!html.to_ascii_lowercase().contains("javascript:"), "{html}");
    assert!(!html.contains("https://evil"), "{html}");
}
