//! Untrusted text (paths, queries, referrers, User-Agents, event names) on its way to a person:
//! one home for every rule, used by alerts, reports, the dashboard and the terminal.
//!
//! - [`one_line`]: control characters (CR and LF above all) become spaces, for headers and lines;
//! - [`defuse`]: link syntax made inert (`hxxps[:]//evil[.]example/`, `javascript[:]`), so no
//!   mail or chat client turns visitor text into a link; words that merely contain "http"
//!   (`APT-HTTP/1.3`) are left alone;
//! - [`html`]: escaped for HTML text and attributes;
//! - [`terminal`]: control characters shown as `\u{1b}` escapes, so a log line cannot move the
//!   cursor or recolour a terminal;
//! - [`csv_cell`]: quoted for CSV, and a cell that a spreadsheet would run as a formula (`=`,
//!   `+`, `-`, `@`, tab, CR) is prefixed with `'`;
//! - [`code_span`]: a Markdown inline code span that holds anything.

/// Control characters (CR and LF above all) become spaces.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Schemes that run or address something when clicked, made inert by `[:]`.
const ACTIVE_SCHEMES: [&str; 6] = ["javascript", "vbscript", "data", "mailto", "file", "tel"];

/// Text that no mail or chat client turns into a link: every URL-like token is defanged, by
/// one rule for every host: `scheme://` becomes `scheme[:]//` (with `http` spelled `hxxp`),
/// every dot of a host name becomes `[.]`, and active schemes (`javascript:`) get `[:]`.
pub fn defuse(text: &str) -> String {
    let text = one_line(text);
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let boundary = rest.find(|c: char| is_separator(c)).unwrap_or(rest.len());
        let (token, tail) = rest.split_at(boundary);
        out.push_str(&defuse_token(token));
        let sep_len = tail.chars().next().map_or(0, char::len_utf8);
        out.push_str(&tail[..sep_len]);
        rest = &tail[sep_len..];
    }
    out
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '(' | ')' | ',' | ';' | '`')
}

fn defuse_token(token: &str) -> String {
    if let Some(sep) = token.find("://") {
        let (scheme, rest) = (&token[..sep], &token[sep + 3..]);
        // ASCII lowercasing keeps byte positions, so an index found in `lower` cuts `scheme`.
        let lower = scheme.to_ascii_lowercase();
        let scheme = match (lower.rfind("http"), lower.rfind("ftp")) {
            (Some(i), _) => format!("{}hxxp{}", &scheme[..i], &scheme[i + 4..]),
            (None, Some(i)) => format!("{}fxp{}", &scheme[..i], &scheme[i + 3..]),
            (None, None) => scheme.to_string(),
        };
        let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (host, path) = rest.split_at(host_end);
        return format!(
            "{scheme}[:]//{}{}",
            host.replace('.', "[.]"),
            defuse_schemes(path)
        );
    }
    let lower = token.to_ascii_lowercase();
    if !token.starts_with('/') && looks_like_domain(&lower) {
        let host_end = token.find(['/', '?', '#', ':']).unwrap_or(token.len());
        let (host, path) = token.split_at(host_end);
        return format!("{}{}", host.replace('.', "[.]"), defuse_schemes(path));
    }
    defuse_schemes(token)
}

/// `javascript:` (and the other active schemes) anywhere in a token, in any case.
fn defuse_schemes(token: &str) -> String {
    let mut out = token.to_string();
    for scheme in ACTIVE_SCHEMES {
        let needle = format!("{scheme}:");
        let mut from = 0;
        while let Some(pos) = out[from..].to_ascii_lowercase().find(&needle) {
            let at = from + pos;
            let colon = at + scheme.len();
            out.replace_range(colon..=colon, "[:]");
            from = colon + 3;
        }
    }
    out
}

/// `www.x`, or `name.tld` (letters, digits and hyphens, the last label two letters or more),
/// possibly followed by a path or port: what a client may turn into a link.
fn looks_like_domain(token: &str) -> bool {
    let host = token.split(['/', '?', '#', ':']).next().unwrap_or("");
    let host = host.split('@').next_back().unwrap_or("");
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return false;
    }
    let label_ok = |l: &&str| l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let tld = labels[labels.len() - 1];
    labels.iter().all(label_ok) && tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Text safe inside HTML elements and attributes (and on one line).
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in one_line(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Visitor text for HTML: defused (some clients turn any URL-looking text into a link), then
/// escaped.
pub fn safe_html(text: &str) -> String {
    html(&defuse(text))
}

/// Text safe to print on a terminal: control characters (ESC, BEL, CR…) as `\u{…}` escapes.
pub fn terminal(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The first 200 bytes of a raw line, safe to print on a terminal.
pub fn excerpt(line: &[u8]) -> String {
    let cut = &line[..line.len().min(200)];
    String::from_utf8_lossy(cut).escape_debug().to_string()
}

/// One CSV cell: quoted when it must be, control characters escaped, and a value a
/// spreadsheet would evaluate (`=cmd|…`, `+1`, `-1+1`, `@SUM(…)`) prefixed with `'`.
pub fn csv_cell(text: &str) -> String {
    let mut text = terminal(text);
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_number(&text) {
        text.insert(0, '\'');
    }
    if text.contains([',', '"', '\n']) || text.starts_with(' ') || text.ends_with(' ') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// A plain number (`-5`, `12.5`) is data, not a formula, and keeps its sign.
fn is_number(text: &str) -> bool {
    text.parse::<f64>().is_ok() && !text.contains(['e', 'E', 'i', 'I', 'n', 'N'])
}

/// Visitor text as a Markdown inline code span: defused (no link in any client), on one line,
/// fenced with more backticks than it holds, and with `|` escaped for tables.
pub fn code_span(text: &str) -> String {
    let text = defuse(text).replace('|', "\\|");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A Markdown code span of text shown as it is (a User-Agent): escaped for Markdown and put on
/// one line, but not defused.
pub fn code_span_plain(text: &str) -> String {
    let text = one_line(text).replace('|', "\\|");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defused_text_has_no_link_and_no_line_break() {
        let d = defuse(
            "javascript:alert(1) https://evil.example/x www.evil.example JAVASCRIPT:x\r\nBcc: x@y",
        );
        assert!(!d.to_ascii_lowercase().contains("javascript:"), "{d}");
        assert!(
            !d.contains("://") && !d.contains("www.") && !d.contains("http"),
            "{d}"
        );
        assert!(!d.contains('\r') && !d.contains('\n'), "{d}");
        assert!(d.contains("hxxps[:]//evil[.]example/x"), "{d}");
    }

    #[test]
    fn one_rule_for_every_host_and_words_left_alone() {
        assert_eq!(defuse("www.google.com"), "www[.]google[.]com");
        assert_eq!(defuse("duckduckgo.com"), "duckduckgo[.]com");
        assert_eq!(
            defuse("https://duckduckgo.com/?q=a"),
            "hxxps[:]//duckduckgo[.]com/?q=a"
        );
        assert_eq!(defuse("APT-HTTP/1.3 (2.6.1)"), "APT-HTTP/1.3 (2.6.1)");
        assert_eq!(defuse("/pricing/team"), "/pricing/team");
        assert_eq!(defuse("/downloads/app.tar.gz"), "/downloads/app.tar.gz");
        assert_eq!(
            defuse("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
            "Mozilla/5.0 (compatible; Googlebot/2.1; +hxxp[:]//www[.]google[.]com/bot.html)"
        );
        assert_eq!(defuse("Safari 17.5 on Mac OSX"), "Safari 17.5 on Mac OSX");
    }

    #[test]
    fn escaped_html_has_no_markup() {
        assert_eq!(
            html("<script>alert('1')</script>&\""),
            "&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }

    #[test]
    fn terminal_text_cannot_move_the_cursor() {
        assert_eq!(
            terminal("/\u{1b}[2J\u{1b}[31mPWNED"),
            "/\\u{1b}[2J\\u{1b}[31mPWNED"
        );
        assert_eq!(terminal("plain é"), "plain é");
        assert_eq!(excerpt(b"a\x1b[31mred\x07"), "a\\u{1b}[31mred\\u{7}");
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_cell("+1+1"), "'+1+1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-5"), "-5");
        assert_eq!(csv_cell("12.5"), "12.5");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("x\u{1b}y"), "x\\u{1b}y");
    }

    #[test]
    fn code_spans_hold_anything() {
        assert_eq!(code_span("/a`b"), "``/a`b``");
        assert_eq!(code_span("x|y"), "`x\\|y`");
        assert!(code_span("https://evil.example/").contains("hxxps[:]//"));
    }
}
