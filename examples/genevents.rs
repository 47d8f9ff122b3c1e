//! Deterministic product-event generator for benchmarks.
//!
//!     cargo run --release --example genevents -- --events 1000000 [--days 30] [--users 20000]
//!         [--seed 1] [--now-ids] [--key arkwatch:events] > events.resp
//!     redis-cli --pipe < events.resp
//!
//! Writes Redis protocol (one XADD per event) for `redis-cli --pipe`. Ids are explicit and spread
//! evenly over the last DAYS days, so a stream looks a month old; `--now-ids` uses `*` instead
//! (new events appended after everything else). The mix: commands, API calls with cost and
//! latency, errors, registrations, conversions, plan changes and cancellations.

use std::io::{BufWriter, Write};

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

fn resp(out: &mut impl Write, args: &[&str]) {
    write!(out, "*{}\r\n", args.len()).unwrap();
    for a in args {
        write!(out, "${}\r\n{a}\r\n", a.len()).unwrap();
    }
}

struct Options {
    events: u64,
    days: u64,
    users: u64,
    seed: u64,
    now_ids: bool,
    key: String,
}

impl Options {
    fn parse() -> Options {
        let mut o = Options {
            events: 1_000_000,
            days: 30,
            users: 20_000,
            seed: 1,
            now_ids: false,
            key: "arkwatch:events".to_string(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
            match arg.as_str() {
                "--events" => o.events = value().parse().expect("--events N"),
                "--days" => o.days = value().parse().expect("--days N"),
                "--users" => o.users = value().parse().expect("--users N"),
                "--seed" => o.seed = value().parse().expect("--seed N"),
                "--key" => o.key = value(),
                "--now-ids" => o.now_ids = true,
                other => panic!("unknown argument {other}"),
            }
        }
        o
    }
}

const COMMANDS: [&str; 7] = [
    "/price",
    "/chart",
    "/alert",
    "/portfolio",
    "/news",
    "/help",
    "/settings",
];
const PROVIDERS: [&str; 3] = ["openai", "coingecko", "anthropic"];

/// The fields of one event of a random user, in the mix the module describes.
fn event(rng: &mut Rng, users: u64) -> Vec<String> {
    let user = format!("{}", 1 + rng.below(users));
    let roll = rng.below(1000);
    let fields: Vec<String> = match roll {
        0..=9 => vec!["type".into(), "registration".into(), "user".into(), user],
        10..=14 => {
            let mrr = format!("{}.00", [9, 19, 49][rng.below(3) as usize]);
            let f = [
                "type",
                "conversion",
                "user",
                &user,
                "plan",
                "pro",
                "mrr",
                &mrr,
            ];
            f.iter().map(ToString::to_string).collect()
        }
        15..=16 => vec!["type".into(), "cancellation".into(), "user".into(), user],
        17..=40 => {
            let name = COMMANDS[rng.below(COMMANDS.len() as u64) as usize];
            let f = [
                "type", "error", "user", &user, "name", "Timeout", "command", name,
            ];
            f.iter().map(ToString::to_string).collect()
        }
        41..=340 => {
            let cost = format!("0.{:04}", rng.below(200));
            let latency = format!("{}", 50 + rng.below(2000));
            let name = PROVIDERS[rng.below(3) as usize];
            let f = [
                "type",
                "api_call",
                "user",
                &user,
                "provider",
                name,
                "cost",
                &cost,
                "latency_ms",
                &latency,
            ];
            f.iter().map(ToString::to_string).collect()
        }
        _ => {
            let name = COMMANDS[rng.below(COMMANDS.len() as u64) as usize];
            let f = ["type", "command", "user", &user, "name", name];
            f.iter().map(ToString::to_string).collect()
        }
    };
    fields
}

fn main() {
    let o = Options::parse();
    let mut rng = Rng::new(o.seed);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let start_ms = now_ms - o.days * 86_400_000;
    let step = (o.days * 86_400_000 / o.events.max(1)).max(1);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    for n in 0..o.events {
        let id = if o.now_ids {
            "*".to_string()
        } else {
            format!("{}-0", start_ms + n * step)
        };
        let fields = event(&mut rng, o.users);
        let mut args = vec!["XADD", o.key.as_str(), id.as_str()];
        args.extend(fields.iter().map(String::as_str));
        resp(&mut out, &args);
    }
    out.flush().unwrap();
}
