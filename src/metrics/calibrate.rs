//! `leads --calibrate`: how well the lead score ranked the leads whose outcome is known, and
//! score weights that would have ranked them better. Nothing is changed: the suggested
//! `[alerts.score]` block is printed for a person to judge.
//!
//! The method (also in `docs/metrics.md`, "Calibration"): the outcome of a lead is whether its
//! linked user first paid within `link_days` of the first visit; only leads whose outcome is
//! known are used (they paid, or their `link_days` are over). For each signal of the score —
//! reached a very hot page, reached a hot page, reached a warm page, came back (a visit after
//! the first) — the log odds ratio with Haldane's correction,
//! `ln(((a + ½)(d + ½)) / ((b + ½)(c + ½)))`, where `a`/`b` are the leads with the signal that
//! paid / did not and `c`/`d` those without it. The repeat-visit weight is that of "came back"
//! divided by the mean number of visits after the first among leads that came back, so a
//! typical returning lead gets the signal's whole weight. Points are `round(10 × log odds)`,
//! at least 0. Ranking quality is the area under the ROC curve of the score (the chance that a
//! lead that paid outscores one that did not, ties counting half).

use serde::Serialize;

use super::leads::{BANDS, Lead};
use crate::config::ScoreWeights;
use crate::page_tier::PageTier;

/// Points per unit of log odds.
pub const POINTS_PER_LOG_ODDS: f64 = 10.0;

/// Leads and the share that paid, of one group.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Rate {
    pub name: String,
    pub leads: u64,
    pub paid: u64,
    pub rate: Option<f64>,
}

/// One signal's weight.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Signal {
    pub name: String,
    /// Leads with the signal that paid and did not; without it, paid and did not.
    pub with_paid: u64,
    pub with_unpaid: u64,
    pub without_paid: u64,
    pub without_unpaid: u64,
    pub log_odds: f64,
    /// The weight in points (for `came back`: per visit after the first).
    pub points: u32,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Calibration {
    /// Leads whose outcome is known, and of them those that paid.
    pub leads: u64,
    pub paid: u64,
    pub by_tier: Vec<Rate>,
    pub by_visits: Vec<Rate>,
    pub by_score: Vec<Rate>,
    pub signals: Vec<Signal>,
    /// The mean number of visits after the first, among leads that came back.
    pub mean_repeats: Option<f64>,
    pub current: ScoreWeights,
    pub suggested: ScoreWeights,
    /// ROC AUC of the current and the suggested score (None without both outcomes).
    pub auc_current: Option<f64>,
    pub auc_suggested: Option<f64>,
}

/// The score `weights` give a lead.
pub fn score(lead: &Lead, w: ScoreWeights) -> u32 {
    let mut s = 0;
    if lead.pages.very_hot > 0 {
        s += w.very_hot;
    }
    if lead.pages.hot > 0 {
        s += w.hot;
    }
    if lead.pages.warm > 0 {
        s += w.warm;
    }
    s + w.repeat_visit * u32::try_from(lead.visits.saturating_sub(1)).unwrap_or(u32::MAX)
}

/// The area under the ROC curve of `scores` against `outcomes`: pairs (paid, unpaid) where
/// the paid one scores higher, ties half, over all such pairs.
#[allow(clippy::cast_precision_loss)]
pub fn auc(scored: &[(u32, bool)]) -> Option<f64> {
    let positives = scored.iter().filter(|(_, y)| *y).count() as f64;
    let negatives = scored.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    let mut sorted = scored.to_vec();
    sorted.sort_by_key(|(s, _)| *s);
    // For each run of equal scores: the positives in it beat every negative below the run,
    // and tie with the negatives in it.
    let (mut below_neg, mut wins, mut i) = (0.0, 0.0, 0);
    while i < sorted.len() {
        let j = i + sorted[i..]
            .iter()
            .take_while(|(s, _)| *s == sorted[i].0)
            .count();
        let pos = sorted[i..j].iter().filter(|(_, y)| *y).count() as f64;
        let neg = (j - i) as f64 - pos;
        wins += pos * below_neg + 0.5 * pos * neg;
        below_neg += neg;
        i = j;
    }
    Some(wins / (positives * negatives))
}

fn rate(name: &str, leads: &[&Lead]) -> Rate {
    let paid = leads.iter().filter(|l| l.paid_within).count() as u64;
    Rate {
        name: name.to_string(),
        leads: leads.len() as u64,
        paid,
        rate: super::ratio(paid, leads.len() as u64),
    }
}

fn signal(name: &str, leads: &[&Lead], has: impl Fn(&Lead) -> bool) -> Signal {
    let count = |with: bool, paid: bool| {
        leads
            .iter()
            .filter(|l| has(l) == with && l.paid_within == paid)
            .count() as u64
    };
    let (a, b, c, d) = (
        count(true, true),
        count(true, false),
        count(false, true),
        count(false, false),
    );
    #[allow(clippy::cast_precision_loss)]
    let h = |n: u64| n as f64 + 0.5;
    let log_odds = ((h(a) * h(d)) / (h(b) * h(c))).ln();
    Signal {
        name: name.to_string(),
        with_paid: a,
        with_unpaid: b,
        without_paid: c,
        without_unpaid: d,
        log_odds,
        points: points(log_odds),
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn points(log_odds: f64) -> u32 {
    // Bounded: at most ln(n + ½)·2 for n leads, far below u32's range.
    (log_odds * POINTS_PER_LOG_ODDS).round().clamp(0.0, 1000.0) as u32
}

/// Calibrates over `leads` (those whose outcome is known).
pub fn calibrate(leads: &[&Lead], current: ScoreWeights) -> Calibration {
    let by_tier = [PageTier::VeryHot, PageTier::Hot]
        .iter()
        .map(|t| {
            let of: Vec<&Lead> = leads.iter().copied().filter(|l| l.tier == *t).collect();
            rate(t.name(), &of)
        })
        .collect();
    let by_visits = (1..=5)
        .map(|n| {
            let of: Vec<&Lead> = leads
                .iter()
                .copied()
                .filter(|l| if n == 5 { l.visits >= 5 } else { l.visits == n })
                .collect();
            rate(&if n == 5 { "5+".into() } else { n.to_string() }, &of)
        })
        .collect();
    let by_score = BANDS
        .iter()
        .map(|(_, band)| {
            let of: Vec<&Lead> = leads
                .iter()
                .copied()
                .filter(|l| l.band() == *band)
                .collect();
            rate(band, &of)
        })
        .collect();
    let mut signals = vec![
        signal("very_hot", leads, |l| l.pages.very_hot > 0),
        signal("hot", leads, |l| l.pages.hot > 0),
        signal("warm", leads, |l| l.pages.warm > 0),
        signal("repeat_visit", leads, |l| l.visits > 1),
    ];
    let returning: Vec<usize> = leads
        .iter()
        .filter(|l| l.visits > 1)
        .map(|l| l.visits - 1)
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let mean_repeats = (!returning.is_empty())
        .then(|| returning.iter().sum::<usize>() as f64 / returning.len() as f64);
    if let Some(mean) = mean_repeats {
        signals[3].points = points(signals[3].log_odds / mean);
    }
    let suggested = ScoreWeights {
        very_hot: signals[0].points,
        hot: signals[1].points,
        warm: signals[2].points,
        repeat_visit: signals[3].points,
    };
    let scored = |w: ScoreWeights| -> Vec<(u32, bool)> {
        leads.iter().map(|l| (score(l, w), l.paid_within)).collect()
    };
    Calibration {
        leads: leads.len() as u64,
        paid: leads.iter().filter(|l| l.paid_within).count() as u64,
        by_tier,
        by_visits,
        by_score,
        signals,
        mean_repeats,
        current,
        suggested,
        auc_current: auc(&scored(current)),
        auc_suggested: auc(&scored(suggested)),
    }
}

#[cfg(test)]
mod tests {
    use super::auc;

    #[test]
    fn auc_counts_pairs_and_ties_half() {
        assert_eq!(auc(&[(1, false), (2, true)]), Some(1.0));
        assert_eq!(auc(&[(2, false), (1, true)]), Some(0.0));
        assert_eq!(auc(&[(1, false), (1, true)]), Some(0.5));
        // Pairs: (3 vs 1) win, (3 vs 3) tie, (2 vs 1) win, (2 vs 3) loss: 2.5 of 4.
        assert_eq!(
            auc(&[(3, true), (2, true), (1, false), (3, false)]),
            Some(0.625)
        );
        assert_eq!(auc(&[(1, true)]), None);
    }
}
