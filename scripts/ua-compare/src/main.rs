//! Recall on crawlers and libraries, browsers taken for bots, and time per User-Agent, for
//! each bot detector measured (scripts/bench-ua.sh).

use std::time::Instant;
fn load(p: &str) -> Vec<String> { std::fs::read_to_string(p).unwrap().lines().map(String::from).collect() }
fn main() {
    let dir = std::env::args().nth(1).expect("usage: ua-compare USER_AGENTS_DIR REGEXES_YAML") + "/";
    let sets = [("browsers", load(&format!("{dir}browsers.txt"))), ("crawlers", load(&format!("{dir}bots.txt"))), ("libraries", load(&format!("{dir}libraries.txt")))];
    let isbot = isbot::Bots::default();
    let woothee = woothee::parser::Parser::new();
    let t = Instant::now();
    let regexes = std::env::args().nth(2).expect("usage: ua-compare USER_AGENTS_DIR REGEXES_YAML");
    let uap = uaparser::UserAgentParser::from_yaml(&regexes).unwrap();
    println!("uaparser: loading uap-core's regexes took {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let tools: Vec<(&str, Box<dyn Fn(&str) -> bool>)> = vec![
        ("isbot", Box::new(move |u: &str| isbot.is_bot(u))),
        ("woothee (category crawler)", Box::new(move |u: &str| woothee.parse(u).is_some_and(|r| r.category == "crawler"))),
        ("uaparser (uap-core, device Spider)", Box::new(move |u: &str| { use uaparser::Parser; uap.parse_device(u).family == "Spider" })),
        ("arkwatch (BotList, all layers)", Box::new({ let b = arkwatch::accesslog::classify::BotList::new(&[]); move |u: &str| b.is_bot(u.as_bytes()) })),
    ];
    for (name, f) in &tools {
        let mut line = format!("{name:32}");
        let t = Instant::now();
        let mut n = 0;
        for (set, list) in &sets {
            let hit = list.iter().filter(|u| f(u)).count();
            n += list.len();
            let pct = 100.0 * hit as f64 / list.len() as f64;
            line += &format!(" {set} {hit}/{} ({pct:.1}%)", list.len());
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!("{line}  {us:.1} µs/UA");
    }
}
