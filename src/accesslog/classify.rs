//! Decides what a request is: a bot, a static asset, the team's own traffic, a request that does
//! not count as a visit, or a pageview (of a tracked page tier, perhaps).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;

use foldhash::HashMap;
use memchr::{memmem, memrchr};

use super::agents;
use crate::config::Config;
use crate::page_tier::PageTier;
use crate::rollup::bots::{Category, Layer};

/// What arkwatch knows about a User-Agent string, cached because a log repeats a few thousand
/// of them millions of times.
#[derive(Clone, Copy, Debug)]
pub struct AgentInfo {
    /// The layer that found it automated, and the kind of client; `None` for a browser.
    pub bot: Option<(Layer, Category)>,
    /// Keyed hash of the User-Agent, an input of the visitor key.
    pub hash: u64,
}

/// The crawler list, built on first use: compiling it costs milliseconds that a quiet run with
/// no new lines should not pay.
pub struct BotList {
    extra: Vec<String>,
    not_a_browser: bool,
    bots: OnceLock<isbot::Bots>,
}

impl BotList {
    /// The list with `extra` patterns, every layer on.
    pub fn new(extra: &[String]) -> BotList {
        BotList {
            extra: extra.to_vec(),
            not_a_browser: true,
            bots: OnceLock::new(),
        }
    }

    /// The layers `[filters]` asks for.
    pub fn configured(filters: &crate::config::Filters) -> BotList {
        BotList {
            not_a_browser: filters.not_a_browser,
            ..BotList::new(&filters.bot_patterns)
        }
    }

    /// A bot, by layer: no User-Agent at all; a `+http` URL in it (the convention crawlers
    /// follow to say who they are); the maintained crawler list and `bot_patterns`, unless the
    /// only match is the device named in a browser's own signature; and, with
    /// `filters.not_a_browser`, a client without any mark of a browser ([`agents`]).
    pub fn is_bot(&self, user_agent: &[u8]) -> bool {
        self.layer(user_agent).is_some()
    }

    /// The layer that finds `user_agent` automated (see [`BotList::is_bot`]).
    pub fn layer(&self, user_agent: &[u8]) -> Option<Layer> {
        self.decide(user_agent, false).map(|(layer, _)| layer)
    }

    /// The layer and, in words, the rule that finds `user_agent` automated (for `explain`).
    pub fn explain(&self, user_agent: &[u8]) -> Option<(Layer, String)> {
        self.decide(user_agent, true)
    }

    fn decide(&self, user_agent: &[u8], why: bool) -> Option<(Layer, String)> {
        let rule = |text: &dyn Fn() -> String| if why { text() } else { String::new() };
        if matches!(user_agent, b"" | b"-") {
            return Some((Layer::List, rule(&|| "no User-Agent".to_string())));
        }
        if memmem::find(user_agent, b"+http").is_some() {
            let text = || "a `+http` URL, the mark crawlers sign with".to_string();
            return Some((Layer::List, rule(&text)));
        }
        let bots = self.bots.get_or_init(|| {
            let mut bots = isbot::Bots::default();
            // Sogou's crawlers all say `spider`; the bare name is also Sogou's mobile browser.
            bots.remove(&["sogou"]);
            let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
            if !extra.is_empty() {
                bots.append(&extra);
            }
            bots
        });
        let text = String::from_utf8_lossy(user_agent);
        if bots.is_bot(&text)
            && agents::without_platform(&text).is_none_or(|rest| bots.is_bot(&rest))
        {
            return Some((Layer::List, rule(&|| listed_part(bots, &text))));
        }
        if !self.not_a_browser {
            return None;
        }
        if why {
            agents::automation_mark(&text).map(|m| (Layer::NotABrowser, m))
        } else {
            agents::not_a_browser(&text).then(|| (Layer::NotABrowser, String::new()))
        }
    }
}

/// The part of a User-Agent the crawler list (or `bot_patterns`) matches: the first word that
/// it matches alone (`Googlebot/2.1`), or the whole when only several words together do.
fn listed_part(bots: &isbot::Bots, user_agent: &str) -> String {
    let words = user_agent
        .split([' ', ';', '(', ')', ','])
        .filter(|w| !w.is_empty());
    match words.into_iter().find(|w| bots.is_bot(w)) {
        Some(word) => format!("the crawler list matches `{word}`"),
        None => "the crawler list matches it".to_string(),
    }
}

/// What a request is to the counts and the behaviour layer, in the order ingestion asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Asset,
    RobotsTxt,
    Head,
    /// A method or status that does not count as a visit, or no path.
    NotAVisit,
    Pageview,
}

impl RequestKind {
    /// The word `explain` shows.
    pub fn word(self) -> &'static str {
        match self {
            RequestKind::Asset => "asset",
            RequestKind::RobotsTxt => "robots.txt",
            RequestKind::Head => "HEAD",
            RequestKind::NotAVisit => "not a visit",
            RequestKind::Pageview => "pageview",
        }
    }
}

/// Per-thread classifier: shares the configuration and the crawler list, owns its caches.
pub struct Classifier<'c> {
    config: &'c Config,
    bots: &'c BotList,
    keys: &'c crate::rollup::keys::VisitorKeys,
    agents: HashMap<Box<[u8]>, AgentInfo>,
}

/// Bounds the User-Agent cache: a log of random User-Agents must not grow memory without limit.
const AGENT_CACHE_MAX: usize = 100_000;

impl<'c> Classifier<'c> {
    pub fn new(
        config: &'c Config,
        bots: &'c BotList,
        keys: &'c crate::rollup::keys::VisitorKeys,
    ) -> Classifier<'c> {
        Classifier {
            config,
            bots,
            keys,
            agents: HashMap::default(),
        }
    }

    pub fn agent(&mut self, user_agent: &[u8]) -> AgentInfo {
        if let Some(info) = self.agents.get(user_agent) {
            return *info;
        }
        let info = AgentInfo {
            bot: self.bots.layer(user_agent).map(|layer| {
                let kind = super::categories::category(&String::from_utf8_lossy(user_agent));
                (layer, kind)
            }),
            hash: self.keys.agent_hash(user_agent),
        };
        if self.agents.len() >= AGENT_CACHE_MAX {
            self.agents.clear();
        }
        self.agents.insert(user_agent.into(), info);
        info
    }

    /// What a request of a format without a User-Agent field is: not a bot by its agent, and
    /// the same agent for every request of an address.
    pub fn no_agent(&self) -> AgentInfo {
        AgentInfo {
            bot: None,
            hash: self.keys.agent_hash(b""),
        }
    }

    pub fn is_ignored(&self, ip: IpAddr) -> bool {
        self.config
            .filters
            .ignore_ips
            .iter()
            .any(|net| net.contains(&ip))
    }

    pub fn counts_as_visit(&self, method: &[u8], status: u16) -> bool {
        self.config.filters.statuses[usize::from(status) % 1000]
            && self
                .config
                .filters
                .methods
                .iter()
                .any(|m| m.as_bytes() == method)
    }

    pub fn is_static(&self, path: &[u8]) -> bool {
        let segment = match memrchr(b'/', path) {
            Some(i) => &path[i + 1..],
            None => path,
        };
        let Some(dot) = memrchr(b'.', segment) else {
            return false;
        };
        let ext = &segment[dot + 1..];
        self.config
            .filters
            .static_extensions
            .iter()
            .any(|e| e.as_bytes().eq_ignore_ascii_case(ext))
    }

    /// What a request (past the bot and address filters) is.
    pub fn kind(&self, path: &[u8], method: &[u8], status: u16) -> RequestKind {
        if self.is_static(path) {
            if path == b"/robots.txt" {
                RequestKind::RobotsTxt
            } else {
                RequestKind::Asset
            }
        } else if path.is_empty() || !self.counts_as_visit(method, status) {
            if method == b"HEAD" {
                RequestKind::Head
            } else {
                RequestKind::NotAVisit
            }
        } else {
            RequestKind::Pageview
        }
    }

    /// The tier of the longest configured prefix that `path` starts with, on a segment
    /// boundary: `/pricing` matches `/pricing` and `/pricing/team`, not `/pricingfoo`.
    pub fn tier(&self, path: &[u8]) -> Option<PageTier> {
        self.config.pages.iter().find_map(|(prefix, tier)| {
            let prefix = prefix.as_bytes();
            let prefix = prefix.strip_suffix(b"/").unwrap_or(prefix);
            let rest = path.strip_prefix(prefix)?;
            (rest.is_empty() || rest[0] == b'/').then_some(*tier)
        })
    }

    /// The referrer's host when it is another site, lowercased.
    pub fn external_referrer<'a>(&self, referer: &'a [u8], host: &[u8]) -> Option<Cow<'a, [u8]>> {
        let name = referrer_host(referer)?;
        let site = self.config.site_hosts.iter().map(String::as_bytes);
        if is_site_host(
            name,
            (!host.is_empty()).then_some(host).into_iter().chain(site),
        ) {
            return None;
        }
        Some(if name.iter().any(u8::is_ascii_uppercase) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        })
    }
}

/// The host of a referrer URL (`https://user@Acme.example:8080/x` is `Acme.example`); `None`
/// when it is no URL or names no host.
pub fn referrer_host(referer: &[u8]) -> Option<&[u8]> {
    let start = memmem::find(referer, b"://")? + 3;
    let rest = &referer[start..];
    let end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b':'))
        .unwrap_or(rest.len());
    let mut name = &rest[..end];
    if let Some(at) = memrchr(b'@', name) {
        name = &name[at + 1..];
    }
    (!name.is_empty()).then_some(name)
}

/// Whether `name` is one of `hosts` or a subdomain of one (`blog.acme.example`), `www.` and
/// case aside: a referrer from there is the site's own navigation.
pub fn is_site_host<'h>(name: &[u8], hosts: impl IntoIterator<Item = &'h [u8]>) -> bool {
    let bare = |h: &'h [u8]| h.strip_prefix(b"www.").unwrap_or(h);
    let name = name.strip_prefix(b"www.").unwrap_or(name);
    hosts.into_iter().map(bare).any(|other| {
        name.eq_ignore_ascii_case(other)
            || (name.len() > other.len() + 1
                && name[name.len() - other.len()..].eq_ignore_ascii_case(other)
                && name[name.len() - other.len() - 1] == b'.')
    })
}

pub use super::address::{client_address, first_forwarded, parse_ip};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollup::keys::VisitorKeys;
    use std::path::Path;

    fn config() -> Config {
        Config::parse(
            Path::new("/tmp/arkwatch.toml"),
            "data_dir = \"d\"\nsite_hosts = [\"acme.example\"]\n[filters]\nignore_ips = [\"10.1.0.0/16\"]\n",
        )
        .unwrap()
    }

    #[test]
    fn bots_by_list_by_url_and_by_absence() {
        let list = BotList::new(&["acmemonitor".to_string()]);
        for ua in [
            &b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"[..],
            b"Mozilla/5.0 (compatible; bingbot/2.0)",
            b"curl/8.5.0",
            b"SomethingNew/1.0 (+https://example.com/about-our-crawler)",
            b"AcmeMonitor/2",
            b"-",
            b"",
        ] {
            assert!(list.is_bot(ua), "{}", String::from_utf8_lossy(ua));
        }
        for ua in [
            &b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"[..],
            b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        ] {
            assert!(!list.is_bot(ua), "{}", String::from_utf8_lossy(ua));
        }
    }

    #[test]
    fn tiers_static_and_visit_rules() {
        let config = config();
        let bots = BotList::new(&[]);
        let keys = VisitorKeys::new([7; 16]);
        let c = Classifier::new(&config, &bots, &keys);
        assert_eq!(c.tier(b"/pricing"), Some(PageTier::Hot));
        assert_eq!(c.tier(b"/pricing/team"), Some(PageTier::Hot));
        assert_eq!(c.tier(b"/pricingfoo"), None);
        assert_eq!(c.tier(b"/trial"), Some(PageTier::VeryHot));
        assert_eq!(c.tier(b"/"), None);
        assert!(c.is_static(b"/assets/app.CSS"));
        assert!(!c.is_static(b"/v1.2/pricing"));
        assert!(!c.is_static(b"/pricing"));
        assert!(c.counts_as_visit(b"GET", 200) && c.counts_as_visit(b"GET", 304));
        assert!(!c.counts_as_visit(b"HEAD", 200) && !c.counts_as_visit(b"GET", 404));
        assert!(c.is_ignored("10.1.2.3".parse().unwrap()));
        assert!(!c.is_ignored("10.2.0.1".parse().unwrap()));
    }

    #[test]
    fn referrers_internal_and_external() {
        let config = config();
        let bots = BotList::new(&[]);
        let keys = VisitorKeys::new([7; 16]);
        let c = Classifier::new(&config, &bots, &keys);
        let ext = |r: &[u8], h: &[u8]| c.external_referrer(r, h).map(std::borrow::Cow::into_owned);
        assert_eq!(
            ext(b"https://www.LinkedIn.com/feed/", b""),
            Some(b"www.linkedin.com".to_vec())
        );
        assert_eq!(ext(b"https://acme.example/blog", b""), None);
        assert_eq!(ext(b"https://www.acme.example/", b""), None);
        assert_eq!(
            ext(b"https://blog.acme.example/post", b""),
            None,
            "a subdomain"
        );
        assert_eq!(
            ext(b"https://notacme.example/", b""),
            Some(b"notacme.example".to_vec()),
            "not a subdomain"
        );
        assert_eq!(ext(b"http://other.example:8080/x", b"other.example"), None);
        assert_eq!(ext(b"-", b""), None);
        assert_eq!(
            ext(b"android-app://com.slack/", b""),
            Some(b"com.slack".to_vec())
        );
    }
}
