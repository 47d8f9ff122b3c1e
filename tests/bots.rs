//! Bot detection on real User-Agents (`../shared/data/user-agents/`, from Matomo Device
//! Detector's fixtures; where the folder is absent these checks say they did not run): no real
//! browser is classified as automated, and the recall on crawlers and on HTTP libraries and
//! scripts is printed and held to a floor.

mod common;

use arkwatch::accesslog::classify::BotList;

fn corpus(name: &str) -> Option<Vec<String>> {
    let path = common::shared_data("user-agents")?.join(name);
    Some(
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

fn share<'a>(list: &'a [String], bots: &BotList) -> (usize, Vec<&'a String>) {
    let caught = list.iter().filter(|u| bots.is_bot(u.as_bytes())).count();
    let missed = list.iter().filter(|u| !bots.is_bot(u.as_bytes())).collect();
    (caught, missed)
}

#[test]
fn no_browser_is_automated_and_crawlers_and_libraries_are_caught() {
    let (Some(browsers), Some(crawlers), Some(libraries)) = (
        corpus("browsers.txt"),
        corpus("bots.txt"),
        corpus("libraries.txt"),
    ) else {
        return;
    };
    let bots = BotList::new(&[]);
    let (wrong, _) = share(&browsers, &bots);
    let lost: Vec<&String> = browsers
        .iter()
        .filter(|u| bots.is_bot(u.as_bytes()))
        .collect();
    let (c, missed_crawlers) = share(&crawlers, &bots);
    let (l, missed_libraries) = share(&libraries, &bots);
    #[allow(clippy::cast_precision_loss)]
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of as f64;
    eprintln!(
        "user agents: browsers {} of {} kept; crawlers {c} of {} caught ({:.1}%); libraries {l} of {} caught ({:.1}%)",
        browsers.len() - wrong,
        browsers.len(),
        crawlers.len(),
        pct(c, crawlers.len()),
        libraries.len(),
        pct(l, libraries.len())
    );
    eprintln!("missed crawlers: {missed_crawlers:#?}\nmissed libraries: {missed_libraries:#?}");
    assert!(
        lost.is_empty(),
        "browsers classified as automated: {lost:#?}"
    );
    // Floors under the figures measured (97.5% and 91.7%; the issue asks 97% of crawlers).
    assert!(
        c * 1000 >= crawlers.len() * 970,
        "crawler recall fell to {c} of {}",
        crawlers.len()
    );
    assert!(
        l * 100 >= libraries.len() * 90,
        "library recall fell to {l} of {}",
        libraries.len()
    );
}
