//! Deterministic, realistic nginx `combined` log generator for benchmarks and large tests.
//!
//!     cargo run --release --example genlog -- --lines 1000000 [--seed 1] [--days 7]
//!         [--start 2026-11-01] [--tz-offset +0100] > access.log
//!
//! Browsers and crawlers, IPv4 and IPv6 clients, query strings and UTM tags, static assets,
//! redirects and errors, and about one malformed line in ten thousand. The same arguments always
//! give the same bytes.

use std::io::{BufWriter, Write};

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

const BROWSERS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
];

const CRAWLERS: &[&str] = &[
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
];

const PAGES: &[&str] = &[
    "/",
    "/",
    "/",
    "/features",
    "/features/alerts",
    "/features/reports",
    "/about",
    "/blog",
    "/docs",
    "/docs/getting-started",
    "/docs/api",
    "/pricing",
    "/pricing",
    "/trial",
    "/demo",
    "/contact",
    "/login",
    "/signup",
    "/changelog",
    "/careers",
];

const ASSETS: &[&str] = &[
    "/assets/app.3f9a1c.js",
    "/assets/vendor.77b2e0.js",
    "/assets/app.9c1d4e.css",
    "/assets/logo.svg",
    "/assets/hero.webp",
    "/favicon.ico",
    "/assets/inter.woff2",
];

const REFERRERS: &[&str] = &[
    "https://www.google.com/",
    "https://www.linkedin.com/feed/",
    "https://news.ycombinator.com/",
    "https://t.co/x1Yz",
    "https://duckduckgo.com/",
    "https://www.reddit.com/r/SaaS/",
    "https://github.com/acme/arkwatch",
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).expect("a day of the month");
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).expect("a month");
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

struct Visitor {
    ip: String,
    agent: &'static str,
    bot: bool,
}

#[expect(
    clippy::too_many_lines,
    reason = "one loop writing lines in a fixed order, so the output stays the same across versions"
)]
fn main() {
    let mut lines: u64 = 1_000_000;
    let mut seed: u64 = 1;
    let mut days: u64 = 7;
    let mut start = (2026, 11, 1);
    let mut tz = "+0100".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--lines" => lines = value().parse().expect("--lines N"),
            "--seed" => seed = value().parse().expect("--seed N"),
            "--days" => days = value().parse().expect("--days N"),
            "--start" => {
                let v = value();
                let p: Vec<&str> = v.split('-').collect();
                start = (
                    p[0].parse().expect("year"),
                    p[1].parse().expect("month"),
                    p[2].parse().expect("day"),
                );
            }
            "--tz-offset" => tz = value(),
            other => panic!("unknown argument {other}"),
        }
    }
    let mut rng = Rng::new(seed);

    // A population of visitors, a few heavy hitters among them; ~15% of them crawlers.
    let population = (lines / 40).clamp(50, 50_000);
    let visitors: Vec<Visitor> = (0..population)
        .map(|i| {
            let bot = rng.chance(1500);
            let agent = if bot {
                *rng.pick(CRAWLERS)
            } else {
                *rng.pick(BROWSERS)
            };
            let ip = if rng.chance(1500) {
                format!(
                    "2001:db8:{:x}:{:x}::{:x}",
                    rng.below(0xffff),
                    rng.below(0xffff),
                    i + 1
                )
            } else {
                format!(
                    "{}.{}.{}.{}",
                    1 + rng.below(222),
                    rng.below(256),
                    rng.below(256),
                    1 + rng.below(254)
                )
            };
            Visitor { ip, agent, bot }
        })
        .collect();

    let start_secs = days_from_civil(start.0, start.1, start.2) * 86_400;
    let span = days * 86_400;
    let out = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, out.lock());
    for n in 0..lines {
        if rng.chance(1) {
            writeln!(out, "\\x16\\x03\\x01 garbage {n} that is not a log line").unwrap();
            continue;
        }
        let secs = start_secs + i64::try_from(n * span / lines.max(1)).expect("a time");
        let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
        let tod = secs.rem_euclid(86_400);
        let v = &visitors[((rng.below(population) * rng.below(population)) / population) as usize];
        let asset = !v.bot && rng.chance(3500);
        let path = if asset {
            *rng.pick(ASSETS)
        } else {
            *rng.pick(PAGES)
        };
        let blog;
        let path = if path == "/blog" && rng.chance(7000) {
            blog = format!("/blog/post-{}", rng.below(300));
            blog.as_str()
        } else {
            path
        };
        let query = if asset {
            String::new()
        } else if rng.chance(800) {
            format!(
                "?utm_source={}&utm_medium=social&utm_campaign=c{}",
                ["linkedin", "twitter", "newsletter"][rng.below(3) as usize],
                rng.below(20)
            )
        } else if rng.chance(300) {
            format!("?q=search+term+{}", rng.below(1000))
        } else {
            String::new()
        };
        let method = if rng.chance(9000) {
            "GET"
        } else if rng.chance(5000) {
            "POST"
        } else {
            "HEAD"
        };
        let status = match rng.below(1000) {
            0..=2 => 500,
            3..=40 => 404,
            41..=90 => 304,
            91..=110 => 301,
            _ => 200,
        };
        let bytes = if status == 304 {
            0
        } else {
            200 + rng.below(60_000)
        };
        let referrer = if asset {
            "https://acme.example/".to_string()
        } else if rng.chance(3000) {
            rng.pick(REFERRERS).to_string()
        } else if rng.chance(5000) {
            format!("https://acme.example{}", rng.pick(PAGES))
        } else {
            "-".to_string()
        };
        writeln!(
            out,
            "{} - - [{:02}/{}/{}:{:02}:{:02}:{:02} {}] \"{} {}{} HTTP/1.1\" {} {} \"{}\" \"{}\"",
            v.ip,
            d,
            MONTHS[mo as usize - 1],
            y,
            tod / 3600,
            tod / 60 % 60,
            tod % 60,
            tz,
            method,
            path,
            query,
            status,
            bytes,
            referrer,
            v.agent
        )
        .unwrap();
    }
    out.flush().unwrap();
}
