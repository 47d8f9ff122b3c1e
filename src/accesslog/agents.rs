//! What a User-Agent says beyond the crawler list: the marks every real browser sends, so that
//! a client without them is known as automated (`HTTPie/3.2.2`, `Klaviyo/1.0`, `GoogleOther`,
//! `Python-httplib2/0.18.1 (gzip)`), the signs only crawlers give (a web address, a crawler's
//! product token in the platform comment),
//! and a browser's own signature, so that a word of the crawler list that only names the
//! device (`Android 7.0; M bot 54`) does not make it a bot.

/// Words one of which every real browser's User-Agent holds, lower case: engines, browser
/// families, platforms, and the names feature phones and embedded browsers go by.
const BROWSER_MARKS: [&str; 52] = [
    "mozilla",
    "msie",
    "konqueror",
    "x11",
    "sunos",
    "bsd",
    "mosaic",
    "win10",
    "win32",
    "win64",
    "galaxy",
    "charon",
    "applewebkit",
    "khtml",
    "gecko",
    "trident",
    "presto",
    "safari",
    "chrome",
    "firefox",
    "opera",
    "browse",
    "android",
    "linux",
    "iphone",
    "ipad",
    "ipod",
    "midp",
    "cldc",
    "series60",
    "series40",
    "symbian",
    "nokia",
    "samsung",
    "dalvik",
    "darwin",
    "cfnetwork",
    "obigo",
    "windows",
    "macintosh",
    "blackberry",
    "playstation",
    "nintendo",
    "tizen",
    "kaios",
    "webos",
    "lynx",
    "links",
    "w3m",
    "dillo",
    "netsurf",
    "inferno",
];

/// No platform comment (`(…)`) and none of the marks of a browser: an HTTP library, a
/// script, a monitor or an unnamed crawler. The few real browsers without a comment
/// (`nook browser/1.0`, `Dalvik/2.1.0 Linux; U; Android …`, `QC-2255/1.0.08 UP.Browser/4.1`)
/// carry a mark.
pub fn not_a_browser(user_agent: &str) -> bool {
    automation_mark(user_agent).is_some()
}

/// Which rule of [`not_a_browser`] holds, in words (for `explain`).
pub fn automation_mark(user_agent: &str) -> Option<String> {
    let lower = user_agent.to_ascii_lowercase();
    if let Some(word) = AUTOMATION_WORDS.iter().find(|w| lower.contains(*w)) {
        return Some(format!("it holds `{word}`, a word only tools use"));
    }
    if has_email(&lower) {
        return Some("it holds an e-mail address, a crawler's contact".to_string());
    }
    if let Some(comment) = lower
        .strip_prefix("mozilla/5.0 (compatible")
        .or_else(|| lower.strip_prefix("mozilla/4.0 (compatible"))
    {
        // `compatible` is MSIE's and Konqueror's; anyone else is borrowing the word.
        return (!ENGINES.iter().any(|e| comment.contains(e))).then(|| {
            "a `compatible` comment without MSIE, Konqueror or a rendering engine".to_string()
        });
    }
    // Embedded IE builds carry their vendor's address in the MSIE comment; nothing else a
    // person runs does.
    if !lower.contains("msie") && has_address(&lower) {
        return Some("it holds a web address, as crawlers sign".to_string());
    }
    if let Some(token) = crawler_token(user_agent) {
        return Some(format!("its platform comment names `{token}`"));
    }
    // `Mozilla/5.0 infrawatch/0.1`, `Mozilla/5.0 (Exchange check)`: the product token alone
    // is no mark of a browser.
    let rest = lower.strip_prefix("mozilla/").map_or(lower.as_str(), |r| {
        r.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
    });
    (!BROWSER_MARKS.iter().any(|m| rest.contains(m)))
        .then(|| "no mark of a browser (engine, browser, platform)".to_string())
}

/// A URL (`http://`, `https://`, `www.`) or a host with a path (`onlyscans.com/about`).
fn has_address(lower: &str) -> bool {
    static ADDRESS: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    ADDRESS
        .get_or_init(|| {
            regex::Regex::new(
                r"https?://|\bwww\.|\b[a-z0-9-]+\.(com|io|ai|net|org|de|eu|co|app|dev)/",
            )
            .expect("a valid pattern")
        })
        .is_match(lower)
}

/// A crawler's product token in a comment (`Pixel 2 Build/OPD3; Storebot-Google/1.0)`): a
/// word with a version, unlike a phone's model name (`M bot 54`).
fn crawler_token(user_agent: &str) -> Option<&str> {
    static TOKEN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    TOKEN
        .get_or_init(|| {
            regex::Regex::new(r"(?i)[;(]\s*([\w.-]*(bot|google|crawl|spider)[\w.-]*/\d[\w.]*)")
                .expect("a valid pattern")
        })
        .captures(user_agent)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

/// What a browser's `compatible` comment comes with: MSIE, Konqueror, or an engine.
const ENGINES: [&str; 7] = [
    "msie",
    "konqueror",
    "applewebkit",
    "khtml",
    "gecko",
    "trident",
    "presto",
];

/// Words that only tools put in a User-Agent, lower case.
const AUTOMATION_WORDS: [&str; 16] = [
    "mailto:",
    "scanner",
    "monitor",
    "synthetic",
    "audit",
    "research",
    "survey",
    "checker",
    "inspector",
    "prober",
    "headless",
    "phantomjs",
    "selenium",
    "puppeteer",
    "jsdom",
    "slimerjs",
];

/// An e-mail address (`ops@example.com`): a crawler's contact, never a browser's.
fn has_email(lower: &str) -> bool {
    lower.match_indices('@').any(|(i, _)| {
        let before = lower[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        let after: String = lower[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .collect();
        before && after.contains('.') && !after.ends_with('.')
    })
}

/// Platforms a browser's first comment starts with.
const PLATFORMS: [&str; 7] = [
    "Linux;",
    "Windows",
    "Macintosh",
    "X11",
    "iPhone",
    "iPad",
    "compatible; MSIE",
];

/// A browser's signature (`Mozilla/5.0 (platform) engine…`) with its platform comment taken
/// out, or `None` when the User-Agent is not one. A crawler that says what it is does so
/// outside that comment (`… Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://…)`).
pub fn without_platform(user_agent: &str) -> Option<String> {
    let rest = user_agent
        .strip_prefix("Mozilla/5.0 (")
        .or_else(|| user_agent.strip_prefix("Mozilla/4.0 ("))?;
    let close = rest.find(')')?;
    let (comment, after) = (&rest[..close], &rest[close + 1..]);
    if !PLATFORMS.iter().any(|p| comment.starts_with(p)) {
        return None;
    }
    let engine = ["AppleWebKit/", "Gecko/", "like Gecko"]
        .iter()
        .any(|e| after.contains(e))
        || comment.contains("Trident/")
        || comment.contains("MSIE ");
    engine.then(|| format!("Mozilla/5.0 {after}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_without_a_browsers_marks_are_automated() {
        for ua in [
            "HTTPie/3.2.2",
            "Klaviyo/1.0",
            "Bitbucket-Webhooks/2.0",
            "GoogleOther",
            "Datadog/Synthetics",
            "python-requests/2.31.0",
            "Python-httplib2/0.18.1 (gzip)",
            "Mozilla/5.0 (Exchange check)",
            "Owler (ows.eu/owler)",
            "Mozilla/5.0 (X11; Linux x86_64; GTmetrix https://gtmetrix.com/) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/75.0.3770.100 Safari/537.36",
            "Mozilla/5.0 (Linux; Android 8.0; Pixel 2 Build/OPD3.170816.012; Storebot-Google/1.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Mobile Safari/537.36",
        ] {
            assert!(not_a_browser(ua), "{ua}");
        }
        for ua in [
            "nook browser/1.0",
            "iPhone13mini",
            "QC-2255/1.0.08 UP.Browser/4.1.22b1",
            "Dalvik/2.1.0 Linux; U; Android 8.1.0; LM-X410K Build/OPM1.171019.026",
            "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0",
            "Mozilla/4.08 (Charon; Inferno)",
            "GOGGalaxyClient/2.0.20.39 (GOG Galaxy) 83b6745cff679691b69876bc7ee33e05e5d90bda (win10 x64)",
            "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1; TuneUp HTML Client Embedded Web Browser from: http://bsalsa.com/)",
            "Mozilla/5.0 (Linux; Android 7.0; M bot 54) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0 Mobile Safari/537.36",
        ] {
            assert!(!not_a_browser(ua), "{ua}");
        }
    }

    #[test]
    fn the_platform_comment_comes_out_of_a_browsers_signature_only() {
        assert_eq!(
            without_platform("Mozilla/5.0 (Linux; Android 7.0; M bot 54) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0 Mobile Safari/537.36").as_deref(),
            Some("Mozilla/5.0  AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0 Mobile Safari/537.36")
        );
        assert_eq!(
            without_platform(
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
            ),
            None
        );
        assert_eq!(without_platform("Mozilla/5.0 (Linux; Android 6.0.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99 Mobile Safari/537.36 (compatible; Googlebot/2.1)").as_deref().map(|s| s.contains("Googlebot")), Some(true));
    }
}
