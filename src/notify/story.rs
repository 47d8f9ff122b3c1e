//! A digest told in words, once for every channel: per lead a title, one summary sentence
//! (`Safari on a Mac, from LinkedIn (campaign autumn), read /pricing, then /trial 10 minutes
//! later`) and a line per session; per rule a title and what it measured.
//!
//! Text is kept as [`Piece`]s so that each channel escapes what a visitor wrote its own way and
//! can never mistake it for arkwatch's words: [`Piece::Words`] are arkwatch's, [`Piece::Visitor`]
//! came from a request (a referrer's host, a UTM value, a User-Agent) and [`Piece::Page`] is a
//! path of the site.

use chrono::{DateTime, FixedOffset};

use crate::accesslog::classify::{is_site_host, referrer_host};
use crate::alerts::ledger::{LeadAlert, RuleAlert};
use crate::alerts::{LeadItem, RuleItem};
use crate::page_tier::PageTier;
use crate::visits::journey::{Journey, Session};

/// A stretch of text, and who wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Words(String),
    Visitor(String),
    Page(String),
}

/// A lead in words.
#[derive(Clone, Debug)]
pub struct LeadStory {
    /// `New very hot lead`, `Now very hot`: arkwatch's words.
    pub title: String,
    pub tier: PageTier,
    pub score: u32,
    pub ip: String,
    /// When the last session began, in the log's time: `Mon 23 Nov 09:04`.
    pub when: String,
    pub sentence: Vec<Piece>,
    /// One line per session, oldest first.
    pub sessions: Vec<Vec<Piece>>,
    pub user_agent: String,
    /// Who the visitor is (`[geo]`), shown before the address: `Acme Corp (acme-corp.com,
    /// AS64500), Berlin, Germany`. The names come from databases and the address's PTR record,
    /// which whoever holds the address writes: they are visitor pieces.
    pub origin: Vec<Piece>,
}

/// A threshold alert in words (all arkwatch's).
#[derive(Clone, Debug)]
pub struct RuleStory {
    /// `Error rate: alert`, `API cost: resolved`.
    pub title: String,
    pub detail: String,
    pub resolved: bool,
}

pub fn lead(item: &LeadItem, site_hosts: &[String]) -> LeadStory {
    let j = &item.journey;
    let title = match item.kind {
        LeadAlert::New => format!("New {} lead", j.top_tier.words()),
        LeadAlert::Escalated => format!("Now {}", j.top_tier.words()),
    };
    let mut story = journey(j, title, site_hosts);
    if let Some(origin) = &item.origin {
        if let Some(headline) = origin.headline() {
            story.origin.push(Piece::Visitor(headline));
        }
        if origin.likely_automated() {
            if !story.origin.is_empty() {
                story.origin.push(Piece::Words(" ".into()));
            }
            story
                .origin
                .push(Piece::Words("(likely automated: a hosting network)".into()));
        }
    }
    if let Some(user) = &item.user {
        if !story.origin.is_empty() {
            story.origin.push(Piece::Words("; ".into()));
        }
        story.origin.push(Piece::Words("already ".into()));
        story.origin.push(Piece::Visitor(user.clone()));
    }
    story
}

/// A journey in words, under `title`.
pub fn journey(j: &Journey, title: String, site_hosts: &[String]) -> LeadStory {
    let mut sentence = who(&j.user_agent);
    if let Some(last) = j.sessions.last() {
        sentence.push(Piece::Words(", ".into()));
        sentence.extend(source(last, site_hosts));
        sentence.push(Piece::Words(", ".into()));
        sentence.extend(reading(last));
        if j.sessions.len() > 1 {
            let first = &j.sessions[0];
            sentence.push(Piece::Words(format!(
                "; {} visit, the first {}",
                ordinal(j.sessions.len()),
                ago(first.start, last.start)
            )));
        }
    }
    sentence.push(Piece::Words(".".into()));
    let sessions = j
        .sessions
        .iter()
        .map(|s| {
            let mut line = vec![Piece::Words(format!(
                "{}, ",
                s.start.format("%a %-d %b %H:%M")
            ))];
            line.extend(source(s, site_hosts));
            line.push(Piece::Words(": ".into()));
            line.extend(reading(s));
            line
        })
        .collect();
    LeadStory {
        title,
        tier: j.top_tier,
        score: j.score,
        ip: j.ip.to_string(),
        when: j
            .sessions
            .last()
            .map(|s| s.start.format("%a %-d %b %H:%M").to_string())
            .unwrap_or_default(),
        sentence,
        sessions,
        user_agent: j.user_agent.clone(),
        origin: Vec::new(),
    }
}

pub fn rule(item: &RuleItem) -> RuleStory {
    let what = rule_name(&item.name);
    if item.name == crate::alerts::outcomes::NAME {
        return RuleStory {
            title: "What a lead did next".into(),
            detail: item.detail.clone(),
            resolved: false,
        };
    }
    let (state, resolved) = match item.kind {
        RuleAlert::Fired => ("alert", false),
        RuleAlert::Repeated => ("still holds", false),
        RuleAlert::Resolved => ("resolved", true),
    };
    RuleStory {
        title: format!("{what}: {state}"),
        detail: item.detail.clone(),
        resolved,
    }
}

/// A rule's name in words: `error_rate` is `Error rate`.
pub fn rule_name(name: &str) -> String {
    if let Some(user) = name.strip_prefix("user_cost:") {
        return format!("API cost of user {user}");
    }
    match name {
        "api_cost" => "API cost".into(),
        other => {
            let words = other.replace('_', " ");
            let mut chars = words.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// `Safari on a Mac`, `Chrome on Windows`, or the agent as the visitor sent it.
fn who(user_agent: &str) -> Vec<Piece> {
    match woothee::parser::Parser::new().parse(user_agent) {
        Some(r) if r.name != "UNKNOWN" => {
            let os = match r.os {
                "Mac OSX" => Some("a Mac"),
                "iPhone" => Some("an iPhone"),
                "iPad" => Some("an iPad"),
                "iPod" => Some("an iPod"),
                "UNKNOWN" => None,
                os if os.starts_with("Windows") => Some("Windows"),
                os => Some(os),
            };
            let words = match os {
                Some(os) => format!("{} on {os}", r.name),
                None => r.name.to_string(),
            };
            vec![Piece::Words(words)]
        }
        _ if user_agent.is_empty() => vec![Piece::Words("A browser that gave no name".into())],
        _ => {
            let cut: String = user_agent.chars().take(60).collect();
            vec![
                Piece::Words("An agent calling itself ".into()),
                Piece::Visitor(cut),
            ]
        }
    }
}

/// Where a session came from: a UTM source (with its campaign) before the referrer, a known
/// site by its name, another page of this site as such.
fn source(s: &Session, site_hosts: &[String]) -> Vec<Piece> {
    let campaign = s.utm.get("utm_campaign").filter(|c| !c.is_empty());
    let mut out = if let Some(src) = s.utm.get("utm_source").filter(|v| !v.is_empty()) {
        match known_source(src) {
            Some(name) => vec![Piece::Words(format!("from {name}"))],
            None => vec![Piece::Words("from ".into()), Piece::Visitor(src.clone())],
        }
    } else {
        match s.referrer.as_deref() {
            None => vec![Piece::Words("with no referrer".into())],
            Some(r) => match referrer_host(r.as_bytes()) {
                None if !r.contains("://") => {
                    vec![Piece::Words(
                        "with a referrer that is not a web address".into(),
                    )]
                }
                None => vec![Piece::Words("with no referrer".into())],
                Some(host) if is_site_host(host, site_hosts.iter().map(String::as_bytes)) => {
                    vec![Piece::Words("from another page of the site".into())]
                }
                Some(host) => {
                    let host = String::from_utf8_lossy(host).to_ascii_lowercase();
                    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
                    match known_source(&host) {
                        Some(name) => vec![Piece::Words(format!("from {name}"))],
                        None => vec![Piece::Words("from a link on ".into()), Piece::Visitor(host)],
                    }
                }
            },
        }
    };
    if let Some(c) = campaign {
        out.push(Piece::Words(" (campaign ".into()));
        out.push(Piece::Visitor(c.clone()));
        out.push(Piece::Words(")".into()));
    }
    out
}

/// `read /pricing, then /trial 10 minutes later`.
fn reading(s: &Session) -> Vec<Piece> {
    let mut out = vec![Piece::Words("read ".into())];
    let mut previous: Option<DateTime<FixedOffset>> = None;
    for (i, page) in s.pages.iter().enumerate().take(8) {
        if i > 0 {
            out.push(Piece::Words(", then ".into()));
        }
        out.push(Piece::Page(page.path.clone()));
        if let Some(before) = previous {
            out.push(Piece::Words(format!(
                " {}",
                later((page.time - before).num_seconds())
            )));
        }
        previous = Some(page.time);
    }
    if s.pages.len() > 8 {
        out.push(Piece::Words(format!(
            " and {} more pages",
            s.pages.len() - 8
        )));
    }
    out
}

/// `right after`, `a minute later`, `10 minutes later`, `2 hours later`.
pub fn later(secs: i64) -> String {
    let minutes = secs / 60;
    match minutes {
        0 => "right after".into(),
        1 => "a minute later".into(),
        m if m < 120 => format!("{m} minutes later"),
        m if m < 48 * 60 => format!("{} hours later", m / 60),
        m => format!("{} days later", m / (24 * 60)),
    }
}

fn ago(first: DateTime<FixedOffset>, last: DateTime<FixedOffset>) -> String {
    let secs = (last - first).num_seconds();
    match secs / 3600 {
        h if h < 1 => "earlier this hour".into(),
        h if h < 48 => format!("{h} hours before"),
        h => format!("{} days before", h / 24),
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Sites and UTM sources people recognise, by name.
fn known_source(value: &str) -> Option<&'static str> {
    const KNOWN: [(&str, &str); 22] = [
        ("linkedin", "LinkedIn"),
        ("lnkd.in", "LinkedIn"),
        ("google", "Google"),
        ("bing", "Bing"),
        ("duckduckgo", "DuckDuckGo"),
        ("ecosia", "Ecosia"),
        ("yahoo", "Yahoo"),
        ("news.ycombinator", "Hacker News"),
        ("hackernews", "Hacker News"),
        ("reddit", "Reddit"),
        ("twitter", "X (Twitter)"),
        ("t.co", "X (Twitter)"),
        ("x.com", "X (Twitter)"),
        ("facebook", "Facebook"),
        ("instagram", "Instagram"),
        ("youtube", "YouTube"),
        ("github", "GitHub"),
        ("producthunt", "Product Hunt"),
        ("slack", "Slack"),
        ("newsletter", "the newsletter"),
        ("mastodon", "Mastodon"),
        ("substack", "Substack"),
    ];
    let v = value.to_ascii_lowercase();
    let host = v.split(['/', '?']).next().unwrap_or("");
    KNOWN.iter().find_map(|(key, name)| {
        let matches = if key.contains('.') {
            host == *key
                || host.starts_with(&format!("{key}."))
                || host.ends_with(&format!(".{key}"))
        } else {
            host == *key || host.split('.').any(|label| label == *key)
        };
        matches.then_some(*name)
    })
}

/// How a chat marks text up; each channel says it once, and [`chat_block`] lays a lead out.
pub trait Markup {
    /// arkwatch's own words, escaped for the channel.
    fn words(&self, text: &str) -> String;
    /// Text a visitor wrote, made inert: defused, escaped, in a code span.
    fn code(&self, text: &str) -> String;
    fn bold(&self, text: &str) -> String;

    fn pieces(&self, pieces: &[Piece]) -> String {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Words(w) => self.words(w),
                Piece::Visitor(v) | Piece::Page(v) => self.code(v),
            })
            .collect()
    }
}

/// A lead as a chat shows it: the title, score, address and time, the sentence, and when
/// `full` a line per session (of several) and the agent.
pub fn chat_block(s: &LeadStory, m: &dyn Markup, full: bool) -> String {
    let origin = if s.origin.is_empty() {
        String::new()
    } else {
        format!("{} · ", m.pieces(&s.origin))
    };
    let mut out = format!(
        "{} · score {} · {origin}{} · {}\n{}",
        m.bold(&s.title),
        s.score,
        m.code(&s.ip),
        m.words(&s.when),
        m.pieces(&s.sentence)
    );
    if full {
        if s.sessions.len() > 1 {
            for line in s.sessions.iter().take(6) {
                out.push_str("\n• ");
                out.push_str(&m.pieces(line));
            }
        }
        out.push('\n');
        out.push_str(&m.words("Agent: "));
        out.push_str(&m.code(&s.user_agent));
    }
    out
}

/// The pieces as plain text, each visitor piece passed through `visitor`.
pub fn plain(pieces: &[Piece], visitor: impl Fn(&str) -> String) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Words(w) => w.clone(),
            Piece::Visitor(v) | Piece::Page(v) => visitor(v),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_named_and_the_site_itself_is_navigation() {
        assert_eq!(known_source("linkedin"), Some("LinkedIn"));
        assert_eq!(known_source("www.google.com"), Some("Google"));
        assert_eq!(known_source("google.de"), Some("Google"));
        assert_eq!(known_source("t.co"), Some("X (Twitter)"));
        assert_eq!(known_source("notgoogle.example"), None);
        assert_eq!(known_source("https://evil.example/"), None);
        let own = |h: &str, site: &str| is_site_host(h.as_bytes(), [site.as_bytes()]);
        assert_eq!(
            referrer_host(b"https://www.Acme.example/blog"),
            Some(&b"www.Acme.example"[..])
        );
        assert!(own("acme.example", "acme.example"));
        assert!(own("blog.acme.example", "www.acme.example"));
        assert!(!own("notacme.example", "acme.example"));
    }

    #[test]
    fn times_and_names_in_words() {
        assert_eq!(later(0), "right after");
        assert_eq!(later(600), "10 minutes later");
        assert_eq!(later(3 * 3600), "3 hours later");
        assert_eq!(ordinal(2), "2nd");
        assert_eq!(ordinal(11), "11th");
        assert_eq!(rule_name("error_rate"), "Error rate");
        assert_eq!(rule_name("api_cost"), "API cost");
        assert_eq!(
            plain(
                &who(
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
                ),
                str::to_string
            ),
            "Safari on a Mac"
        );
    }
}
