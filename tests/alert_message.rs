//! The alert message as a mail client sees it: written to the outbox by lettre, parsed back with
//! a MIME parser. Hostile visitor text stays harmless in headers, text and HTML.

use arkwatch::alerts::digest::Digest;
use arkwatch::alerts::ledger::{LeadAlert, RuleAlert};
use arkwatch::alerts::{LeadItem, RuleItem};
use arkwatch::config::ScoreWeights;
use arkwatch::notify::outbox::OutboxNotifier;
use arkwatch::page_tier::PageTier;
use arkwatch::visits::Visit;
use arkwatch::visits::journey;
use chrono::{DateTime, Utc};
use mailparse::MailHeaderMap;

fn visit(ip: &str, ua: &str, path: &str, referrer: &str, tier: PageTier) -> Visit {
    Visit {
        time: DateTime::parse_from_rfc3339("2026-11-23T09:04:00+01:00").unwrap(),
        path: path.into(),
        tier,
        ip: ip.parse().unwrap(),
        user_agent: ua.into(),
        referrer: Some(referrer.into()),
        query: Default::default(),
        status: 200,
        source: "access.log".into(),
        offset: 0,
    }
}

fn lead(v: Visit) -> LeadItem {
    let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    LeadItem {
        visitor: arkwatch::alerts::leads::visitor_key(v.ip, &v.user_agent),
        raised_at: now,
        queued_at: Some(now),
        journey: journey::build(&[v], ScoreWeights::default()).unwrap(),
        origin: None,
        user: None,
        kind: LeadAlert::New,
    }
}

fn written(digest: &Digest) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let config = arkwatch::config::Config::parse(
        &dir.path().join("arkwatch.toml"),
        "data_dir = \"data\"\n[alerts]\nfrom = \"ArkWatch <arkwatch@acme.example>\"\nto = [\"founders@acme.example\"]\n",
    )
    .unwrap();
    OutboxNotifier::new(&config).unwrap().write(digest).unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path().join("data/outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert_eq!(files.len(), 1, "one message in the outbox");
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    std::fs::read(&files[0]).unwrap()
}

#[test]
fn hostile_visitor_text_is_harmless_in_headers_text_and_html() {
    let mut digest = Digest {
        id: Digest::new_id(),
        site_name: "Acme".into(),
        site_hosts: vec!["acme.example".into()],
        leads: vec![lead(visit(
            "203.0.113.45",
            "<script>alert(1)</script>",
            "/pricing\r\nBcc: x@y",
            "javascript:alert(1)",
            PageTier::Hot,
        ))],
        rules: vec![RuleItem {
            name: "error_rate".into(),
            kind: RuleAlert::Fired,
            raised_at: Utc::now(),
            since: None,
            detail: "error rate 7.5% over the last hour (3 of 40 commands)".into(),
        }],
        report: None,
    };
    digest.sort();
    let raw = written(&digest);
    let mail = mailparse::parse_mail(&raw).unwrap();

    assert_eq!(
        mail.headers.get_first_value("Subject").as_deref(),
        Some("[Acme] 1 hot lead, 1 alert")
    );
    assert!(
        mail.headers.get_first_value("Bcc").is_none(),
        "no header was injected"
    );
    assert!(mail.headers.iter().all(|h| !h.get_value().contains("x@y")));
    assert_eq!(mail.ctype.mimetype, "multipart/alternative");
    assert_eq!(mail.subparts.len(), 2);

    let text = mail.subparts[0].get_body().unwrap();
    assert_eq!(mail.subparts[0].ctype.mimetype, "text/plain");
    assert!(
        text.contains("with a referrer that is not a web address"),
        "{text}"
    );
    assert!(!text.contains("javascript:alert"), "{text}");
    assert!(
        text.contains("/pricing  Bcc: x@y"),
        "the line break is gone: {text}"
    );
    assert!(text.contains("error rate 7.5%"), "{text}");

    let html = mail.subparts[1].get_body().unwrap();
    assert_eq!(mail.subparts[1].ctype.mimetype, "text/html");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("href"), "no link at all: {html}");
}

#[test]
fn a_thousand_leads_make_one_digest_with_the_top_ones_and_a_count() {
    let mut digest = Digest {
        id: Digest::new_id(),
        site_name: "Acme".into(),
        site_hosts: vec!["acme.example".into()],
        leads: (0..1000)
            .map(|i| {
                let tier = if i == 777 {
                    PageTier::VeryHot
                } else {
                    PageTier::Hot
                };
                lead(visit(
                    &format!("198.51.{}.{}", i / 250, i % 250 + 1),
                    "Mozilla/5.0 Firefox/133.0",
                    "/pricing",
                    "https://t.co/x",
                    tier,
                ))
            })
            .collect(),
        rules: vec![],
        report: None,
    };
    digest.sort();
    assert_eq!(
        digest.leads[0].journey.ip.to_string(),
        "198.51.3.28",
        "the very hot lead first"
    );
    let raw = written(&digest);
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(
        mail.headers.get_first_value("Subject").as_deref(),
        Some("[Acme] 1000 hot leads")
    );
    let text = mail.subparts[0].get_body().unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("New ")).count(),
        arkwatch::alerts::digest::LISTED_LEADS
    );
    assert!(text.contains("…and 980 more leads."), "{text}");
}

fn many(n: usize, path: &str) -> Digest {
    let mut digest = Digest {
        id: Digest::new_id(),
        site_name: "Acme".into(),
        site_hosts: vec!["acme.example".into()],
        leads: (0..n)
            .map(|i| {
                lead(visit(
                    &format!("198.51.{}.{}", i / 250, i % 250 + 1),
                    "Mozilla/5.0 Firefox/133.0",
                    path,
                    "https://t.co/x",
                    PageTier::Hot,
                ))
            })
            .collect(),
        ..Digest::default()
    };
    digest.sort();
    digest
}

#[test]
fn a_thousand_leads_on_slack_stay_within_its_limits() {
    let long_path = format!("/pricing/{}", "a".repeat(10_000));
    for path in ["/pricing", long_path.as_str()] {
        let message = arkwatch::notify::slack::message(&many(1000, path));
        let blocks = message["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50, "{} blocks", blocks.len());
        assert_eq!(
            blocks.len(),
            1 + arkwatch::notify::slack::LISTED + 1,
            "the header, the top leads, the count"
        );
        assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= 150);
        for b in &blocks[1..] {
            let text = b["text"]["text"]
                .as_str()
                .or_else(|| b["elements"][0]["text"].as_str())
                .unwrap();
            assert!(text.chars().count() <= 3000, "{}", text.chars().count());
        }
        assert!(message["text"].as_str().unwrap().chars().count() <= 3000);
        assert_eq!(
            blocks.last().unwrap()["elements"][0]["text"],
            "…and 990 more leads with lower scores"
        );
    }
}

#[test]
fn a_thousand_leads_on_telegram_are_split_in_order_under_its_limit() {
    let long_path = format!("/pricing/{}", "a".repeat(10_000));
    for path in ["/pricing", long_path.as_str()] {
        let digest = many(1000, path);
        let parts = arkwatch::notify::telegram::messages(&digest);
        assert!(parts.len() > 1);
        let mut order = Vec::new();
        for p in &parts {
            assert!(p.chars().count() < 4096, "{}", p.chars().count());
            assert_eq!(p.matches("<code>").count(), p.matches("</code>").count());
            for lead in &digest.leads {
                let ip = format!("<code>{}</code>", lead.journey.ip);
                if p.contains(&ip) {
                    order.push(lead.journey.ip);
                }
            }
        }
        let expected: Vec<_> = digest.leads.iter().map(|l| l.journey.ip).collect();
        assert_eq!(order, expected, "every lead once, in the digest's order");
    }
}

/// Whoever holds an address writes its PTR record: a name made to look like markup or a line
/// break is text in the message, like any visitor's.
#[test]
fn a_hostile_ptr_name_is_harmless_in_text_and_html() {
    let mut item = lead(visit(
        "203.0.113.45",
        "Mozilla/5.0",
        "/pricing",
        "-",
        PageTier::Hot,
    ));
    item.origin = Some(arkwatch::geo::Origin {
        ptr: Some("<img src=x onerror=alert(1)>\r\nBcc: x@y.evil.example".into()),
        organisation: Some("<b>EVIL-NET</b>".into()),
        asn: Some(64666),
        ..arkwatch::geo::Origin::default()
    });
    let digest = Digest {
        id: Digest::new_id(),
        site_name: "Acme".into(),
        site_hosts: vec!["acme.example".into()],
        leads: vec![item],
        rules: vec![],
        report: None,
    };
    let raw = written(&digest);
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert!(mail.headers.get_first_value("Bcc").is_none());
    let text = mail.subparts[0].get_body().unwrap();
    assert!(text.contains("EVIL-NET"), "the name is shown: {text}");
    assert!(
        !text.contains("\nBcc:"),
        "no line break from the name: {text}"
    );
    let html = mail.subparts[1].get_body().unwrap();
    assert!(html.contains("&lt;b&gt;EVIL-NET&lt;/b&gt;"), "{html}");
    assert!(
        !html.contains("<img") && !html.contains("<b>EVIL"),
        "{html}"
    );
}
