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

fn main() {
    let (mut events, mut days, mut users, mut seed) = (1_000_000u64, 30u64, 20_000u64, 1u64);
    let mut now_ids = false;
    let mut key = "arkwatch:events".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--events" => events = value().parse().expect("--events N"),
            "--days" => days = value().parse().expect("--days N"),
            "--users" => users = value().parse().expect("--users N"),
            "--seed" => seed = value().parse().expect("--seed N"),
            "--key" => key = value(),
            "--now-ids" => now_ids = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let mut rng = Rng::new(seed);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let start_ms = now_ms - days * 86_400_000;
    let step = (days * 86_400_000 / events.max(1)).max(1);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let commands = [
        "/price",
        "/chart",
        "/alert",
        "/portfolio",
        "/news",
        "/help",
        "/settings",
    ];
    let providers = ["openai", "coingecko", "anthropic"];
    for n in 0..events {
        let id = if now_ids {
            "*".to_string()
        } else {
            format!("{}-0", start_ms + n * step)
        };
        let user = format!("{}", 1 + rng.below(users));
        let roll = rng.below(1000);
        let (cost, latency, mrr, name);
        let fields: Vec<&str> = match roll {
            0..=9 => vec!["type", "registration", "user", &user],
            10..=14 => {
                mrr = format!("{}.00", [9, 19, 49][rng.below(3) as usize]);
                vec![
                    "type",
                    "conversion",
                    "user",
                    &user,
                    "plan",
                    "pro",
                    "mrr",
                    &mrr,
                ]
            }
            15..=16 => vec!["type", "cancellation", "user", &user],
            17..=40 => {
                name = commands[rng.below(commands.len() as u64) as usize];
                vec![
                    "type", "error", "user", &user, "name", "Timeout", "command", name,
                ]
            }
            41..=340 => {
                cost = format!("0.{:04}", rng.below(200));
                latency = format!("{}", 50 + rng.below(2000));
                name = providers[rng.below(3) as usize];
                vec![
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
                ]
            }
            _ => {
                name = commands[rng.below(commands.len() as u64) as usize];
                vec!["type", "command", "user", &user, "name", name]
            }
        };
        let mut args = vec!["XADD", key.as_str(), id.as_str()];
        args.extend(fields);
        resp(&mut out, &args);
    }
    out.flush().unwrap();
}
