//! Any receiver of Alertmanager's webhooks (version 4): one POST per digest, each lead and rule
//! an alert with `labels` (`alertname` such as `HotLead` or `ErrorRate`, `severity`, `tier`,
//! `site`), `annotations` (`summary`, `journey`), `startsAt`, `endsAt` and a `fingerprint` that
//! stays the same for one rule (or one visitor) from `firing` to `resolved`.
//!
//! Annotations are plain text, but receivers show them as HTML, Markdown or chat markup: visitor
//! strings in them are defused (no link), on one line each, and their angle brackets are
//! shown as `‹ ›`, so no receiver can take them for a tag or a mention (`<!channel>`).

use std::collections::BTreeMap;
use std::hash::Hasher as _;
use std::path::PathBuf;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::Notifier;
use super::http::{self, Client};
use super::report_text;
use super::story::{self, Piece};
use crate::alerts::digest::{Digest, ReportText};
use crate::alerts::ledger::RuleAlert;
use crate::alerts::{LeadItem, RuleItem};
use crate::config::{Channel, ChannelKind, Config};
use crate::escape::defuse;
use crate::page_tier::PageTier;

/// Alertmanager's "no end yet".
const NO_END: &str = "0001-01-01T00:00:00Z";

pub struct WebhookNotifier {
    config: PathBuf,
    channel: Channel,
}

impl WebhookNotifier {
    pub fn new(config: &Config, channel: &Channel) -> WebhookNotifier {
        WebhookNotifier {
            config: config.path.clone(),
            channel: channel.clone(),
        }
    }

    fn connect(&self) -> Result<(&str, Option<String>, Client)> {
        let ChannelKind::Webhook { url, bearer_token } = &self.channel.kind else {
            unreachable!("a webhook notifier is made for a webhook channel");
        };
        let token = http::read_secret(&self.config, bearer_token)?;
        let client = Client::new(
            "webhook",
            self.channel.timeout_secs,
            self.channel.ca_file.as_deref(),
            token.iter().cloned().collect(),
        )?;
        Ok((url, token, client))
    }
}

impl Notifier for WebhookNotifier {
    fn deliver(&self, digest: &Digest, done: &mut usize) -> Result<()> {
        if *done > 0 {
            return Ok(());
        }
        let (url, token, client) = self.connect()?;
        let body = payload(digest, &self.channel.name, Utc::now());
        let answer = client.post_json(url, token.as_deref(), &body)?;
        if (200..300).contains(&answer.status) {
            *done = 1;
            return Ok(());
        }
        let hint = "Check the channel's url and its bearer token";
        Err(client.refusal(&http::redact(url), &answer, hint))
    }

    /// Any HTTP answer to a GET means the receiver is there (most accept only POST).
    fn check(&self) -> Result<()> {
        let (url, token, client) = self.connect()?;
        let answer = client.get(url, token.as_deref())?;
        match answer.status {
            401 | 403 => Err(client.refusal(&http::redact(url), &answer, "Check the bearer token")),
            _ => Ok(()),
        }
    }

    fn describe(&self) -> String {
        match &self.channel.kind {
            ChannelKind::Webhook { url, .. } => format!("webhook {}", http::redact(url)),
            _ => "webhook".into(),
        }
    }
}

/// The Alertmanager payload of a digest, for the receiver named `receiver`.
pub fn payload(digest: &Digest, receiver: &str, now: DateTime<Utc>) -> Value {
    let mut alerts: Vec<Value> = digest.leads.iter().map(|l| lead_alert(digest, l)).collect();
    alerts.extend(digest.rules.iter().map(|r| rule_alert(digest, r)));
    if let Some(report) = &digest.report {
        alerts.push(report_alert(digest, report, now));
    }
    let firing = alerts.iter().any(|a| a["status"] == "firing");
    let common = |field: &str| -> Value {
        let mut maps = alerts.iter().filter_map(|a| a[field].as_object());
        let Some(first) = maps.next() else {
            return json!({});
        };
        let mut shared: serde_json::Map<String, Value> = first.clone();
        for m in maps {
            shared.retain(|k, v| m.get(k) == Some(v));
        }
        Value::Object(shared)
    };
    let site = crate::escape::one_line(&digest.site_name);
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{site=\"{}\"}}", site.replace('"', "'")),
        "truncatedAlerts": 0,
        "status": if firing { "firing" } else { "resolved" },
        "receiver": receiver,
        "groupLabels": {"site": site},
        "commonLabels": common("labels"),
        "commonAnnotations": common("annotations"),
        "externalURL": digest.site_hosts.first().map_or_else(String::new, |h| format!("https://{h}/")),
        "alerts": alerts,
    })
}

fn lead_alert(digest: &Digest, lead: &LeadItem) -> Value {
    let s = story::lead(lead, &digest.site_hosts);
    let severity = if s.tier == PageTier::VeryHot {
        "critical"
    } else {
        "warning"
    };
    let labels: BTreeMap<&str, String> = BTreeMap::from([
        ("alertname", "HotLead".to_string()),
        ("severity", severity.to_string()),
        ("tier", s.tier.name().to_string()),
        ("site", crate::escape::one_line(&digest.site_name)),
    ]);
    let journey: Vec<String> = s.sessions.iter().map(|line| text(line)).collect();
    json!({
        "status": "firing",
        "labels": labels,
        "annotations": {
            "summary": format!("{} (score {}): {}", s.title, s.score, text(&s.sentence)),
            "journey": journey.join("\n"),
            "ip": s.ip,
            "origin": text(&s.origin),
            "network": lead.origin.as_ref().map_or("", |o| o.network.words()),
            "user_agent": inert(&s.user_agent),
        },
        "startsAt": rfc3339(lead.raised_at),
        "endsAt": NO_END,
        "generatorURL": "",
        "fingerprint": fingerprint(&["HotLead", &digest.site_name, &lead.visitor]),
    })
}

fn rule_alert(digest: &Digest, rule: &RuleItem) -> Value {
    let r = story::rule(rule);
    let alertname: String = rule
        .name
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    let alertname = alertname.replace("Api", "API");
    let severity = if rule.name == "silence" {
        "critical"
    } else {
        "warning"
    };
    let resolved = rule.kind == RuleAlert::Resolved;
    let starts = rule.since.unwrap_or(rule.raised_at);
    json!({
        "status": if resolved { "resolved" } else { "firing" },
        "labels": {
            "alertname": alertname,
            "severity": severity,
            "rule": rule.name,
            "site": crate::escape::one_line(&digest.site_name),
        },
        "annotations": {
            "summary": r.title,
            "description": r.detail,
        },
        "startsAt": rfc3339(starts),
        "endsAt": if resolved { rfc3339(rule.raised_at) } else { NO_END.to_string() },
        "generatorURL": "",
        "fingerprint": fingerprint(&[&alertname, &digest.site_name, &rule.name]),
    })
}

/// Plain, defused text of pieces.
fn text(pieces: &[Piece]) -> String {
    story::plain(pieces, inert)
}

/// Visitor text that no receiver's renderer takes for a link, a tag or a mention.
pub fn inert(text: &str) -> String {
    defuse(text)
        .replace('<', "\u{2039}")
        .replace('>', "\u{203a}")
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// 16 hex digits, as Alertmanager's own fingerprints, from what names the alert.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = siphasher::sip::SipHasher13::new_with_keys(0x6172_6b77, 0x6174_6368);
    for p in parts {
        h.write(p.as_bytes());
        h.write_u8(0xff);
    }
    format!("{:016x}", h.finish())
}

/// A report as one Alertmanager alert (`alertname` `Report`), its table in `description`.
fn report_alert(digest: &Digest, report: &ReportText, now: DateTime<Utc>) -> Value {
    let leads: Vec<String> = report_text::stories(report, &digest.site_hosts)
        .iter()
        .map(|s| {
            format!(
                "{} {} (score {}): {}",
                s.title,
                s.ip,
                s.score,
                story::plain(&s.sentence, inert)
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
            "description": report_text::table(&report.kpis),
            "journey": leads.join("\n"),
        },
        "startsAt": at,
        "endsAt": at,
        "generatorURL": "",
        "fingerprint": fingerprint(&["Report", &digest.site_name, &report.title]),
    })
}
