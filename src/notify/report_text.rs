//! A report on the chat and webhook channels: the key figures as a table in monospace and the
//! period's top hot leads in words (email carries the whole report as its two parts).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::story;
use crate::alerts::digest::{Digest, KpiLine, ReportText};

/// Leads a chat report shows.
pub const TOP_LEADS: usize = 5;

/// The key figures as aligned columns (arkwatch's words and numbers only).
pub fn table(kpis: &[KpiLine]) -> String {
    let w_name = kpis.iter().map(|k| k.name.chars().count()).max().unwrap_or(0);
    let w_value = kpis.iter().map(|k| k.value.chars().count()).max().unwrap_or(0);
    kpis.iter()
        .map(|k| {
            format!(
                "{:<w_name$}  {:>w_value$}  {}",
                crate::escape::one_line(&k.name),
                crate::escape::one_line(&k.value),
                crate::escape::one_line(&k.change)
            )
            .trim_end()
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn stories(report: &ReportText, digest_hosts: &[String]) -> Vec<story::LeadStory> {
    report
        .top_leads
        .iter()
        .take(TOP_LEADS)
        .map(|j| story::journey(j, format!("{} lead", capital(j.top_tier.words())), digest_hosts))
        .collect()
}

fn capital(words: &str) -> String {
    let mut c = words.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

pub fn slack_blocks(digest: &Digest, report: &ReportText) -> Vec<Value> {
    let esc = super::slack::escape;
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text":
        super::slack::clip(&format!("*{}*\n```{}```", esc(&report.title), esc(&table(&report.kpis))), 2_900)}})];
    for s in stories(report, &digest.site_hosts) {
        let sentence: String = s
            .sentence
            .iter()
            .map(|p| match p {
                story::Piece::Words(w) => esc(w),
                story::Piece::Visitor(v) | story::Piece::Page(v) => super::slack::code(v),
            })
            .collect();
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text":
            super::slack::clip(&format!("*{}* · score {} · {}\n{sentence}", esc(&s.title), s.score, esc(&s.ip)), 2_900)}}));
    }
    blocks
}

pub fn telegram_blocks(digest: &Digest, report: &ReportText) -> Vec<String> {
    let html = crate::escape::html;
    let mut blocks = vec![format!(
        "<b>{}</b>\n<pre>{}</pre>",
        html(&report.title),
        html_lines(&table(&report.kpis))
    )];
    for s in stories(report, &digest.site_hosts) {
        let sentence: String = s
            .sentence
            .iter()
            .map(|p| match p {
                story::Piece::Words(w) => html(w),
                story::Piece::Visitor(v) | story::Piece::Page(v) => {
                    format!("<code>{}</code>", html(&crate::escape::defuse(v)))
                }
            })
            .collect();
        blocks.push(format!(
            "<b>{}</b> · score {} · <code>{}</code>\n{sentence}",
            html(&s.title),
            s.score,
            html(&s.ip)
        ));
    }
    blocks
}

/// Escaped line by line, keeping the line breaks (`html` makes one line).
fn html_lines(text: &str) -> String {
    text.lines()
        .map(crate::escape::html)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A report as one Alertmanager alert (`alertname` `Report`), its table in `description`.
pub fn webhook_alert(digest: &Digest, report: &ReportText, now: DateTime<Utc>) -> Value {
    let leads: Vec<String> = stories(report, &digest.site_hosts)
        .iter()
        .map(|s| {
            format!(
                "{} {} (score {}): {}",
                s.title,
                s.ip,
                s.score,
                story::plain(&s.sentence, super::webhook::inert)
            )
        })
        .collect();
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "status": "resolved",
        "labels": {
            "alertname": "Report",
            "severity": "info",
            "site": crate::escape::one_line(&digest.site_name),
        },
        "annotations": {
            "summary": report.title,
            "description": table(&report.kpis),
            "journey": leads.join("\n"),
        },
        "startsAt": at,
        "endsAt": at,
        "generatorURL": "",
        "fingerprint": super::webhook::fingerprint(&["Report", &digest.site_name, &report.title]),
    })
}
