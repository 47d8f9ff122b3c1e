//! The behaviour layer's record: what each visitor of a day did besides their pageviews (assets,
//! `HEAD`s, `robots.txt`, other requests, tracked pages), and the verdict of
//! `[filters.behaviour]` on it. The record is kept as counts that add up in any order, so a day
//! folded over many runs and threads is judged as if read at once; the verdict is taken when a
//! day is read, so a visitor found automated at 11:00 stops counting from every report.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::bots::Category;
use super::sessions::Sessions;
use crate::config::Behaviour;
use crate::page_tier::PageTier;

/// One visitor's requests of a day that passed the User-Agent layers, by kind. Pageviews are
/// the visitor's sessions (see [`Sessions`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conduct {
    /// Requests of a static file (`filters.static_extensions`), `robots.txt` aside.
    pub assets: u32,
    pub heads: u32,
    pub robots: u32,
    /// Requests that are none of these nor a pageview (a `POST`, a 404).
    pub others: u32,
    /// Visits of tracked pages, by [`crate::page_tier::PageTier::index`].
    pub tiers: [u32; 3],
}

/// One request the behaviour layer counts, by the count it adds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    Asset,
    Head,
    RobotsTxt,
    Other,
    /// A visit of a tracked page.
    Tier(PageTier),
}

impl Conduct {
    /// Counts one request.
    pub fn count(&mut self, what: Counted) {
        let n = match what {
            Counted::Asset => &mut self.assets,
            Counted::Head => &mut self.heads,
            Counted::RobotsTxt => &mut self.robots,
            Counted::Other => &mut self.others,
            Counted::Tier(t) => &mut self.tiers[t.index()],
        };
        *n = n.saturating_add(1);
    }

    pub fn add(&mut self, other: &Conduct) {
        self.assets = self.assets.saturating_add(other.assets);
        self.heads = self.heads.saturating_add(other.heads);
        self.robots = self.robots.saturating_add(other.robots);
        self.others = self.others.saturating_add(other.others);
        for (a, b) in self.tiers.iter_mut().zip(other.tiers) {
            *a = a.saturating_add(b);
        }
    }

    fn numbers(&self) -> [u32; 7] {
        let [a, b, c] = self.tiers;
        [self.assets, self.others, self.heads, self.robots, a, b, c]
    }
}

/// Stored as a list of counts with trailing zeros left off (`[12]` for a person who loaded
/// twelve assets): a busy day holds one per visitor.
impl Serialize for Conduct {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let numbers = self.numbers();
        let len = numbers.iter().rposition(|n| *n != 0).map_or(0, |i| i + 1);
        numbers[..len].serialize(s)
    }
}

impl<'de> Deserialize<'de> for Conduct {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(Counts)
    }
}

/// Reads the list of counts straight into an array: a day file holds one list per visitor,
/// and a vector each was most of the time to read one.
struct Counts;

impl<'de> serde::de::Visitor<'de> for Counts {
    type Value = Conduct;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of at most 7 counts")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Conduct, A::Error> {
        let mut n = [0u32; 7];
        let mut len = 0;
        while let Some(count) = seq.next_element::<u32>()? {
            if len == n.len() {
                return Err(serde::de::Error::invalid_length(len + 1, &self));
            }
            n[len] = count;
            len += 1;
        }
        Ok(Conduct {
            assets: n[0],
            others: n[1],
            heads: n[2],
            robots: n[3],
            tiers: [n[4], n[5], n[6]],
        })
    }
}

/// Why the behaviour layer holds a visitor automated: the rule, the visitor's figure and the
/// threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding {
    RobotsTxt { fetches: u32 },
    HeadOnly { heads: u32, threshold: u32 },
    NoAssets { pageviews: u32, threshold: u32 },
    Rate { per_hour: u32, threshold: u32 },
}

impl Finding {
    /// The rule's name, as `[filters.behaviour]` spells it.
    pub fn rule(&self) -> &'static str {
        match self {
            Finding::RobotsTxt { .. } => "robots_txt",
            Finding::HeadOnly { .. } => "head_only",
            Finding::NoAssets { .. } => "pages_without_assets",
            Finding::Rate { .. } => "max_pages_per_hour",
        }
    }

    /// The category the rule files the visitor under.
    pub fn category(&self) -> Category {
        match self {
            Finding::HeadOnly { .. } => Category::Monitor,
            _ => Category::Unknown,
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::RobotsTxt { fetches } => write!(f, "fetched /robots.txt ({fetches}×)"),
            Finding::HeadOnly { heads, threshold } => {
                write!(
                    f,
                    "{heads} HEAD requests and nothing else (threshold {threshold})"
                )
            }
            Finding::NoAssets {
                pageviews,
                threshold,
            } => write!(
                f,
                "{pageviews} pageviews without loading one asset (threshold {threshold})"
            ),
            Finding::Rate {
                per_hour,
                threshold,
            } => write!(
                f,
                "{per_hour} pageviews per hour of a session (threshold {threshold})"
            ),
        }
    }
}

/// The highest pageview rate of the visitor's sessions, per hour, a session shorter than an
/// hour counting as one.
pub fn peak_rate(sessions: &Sessions) -> u32 {
    sessions
        .iter()
        .map(|(first, last, views)| {
            let secs = u64::try_from(last - first).unwrap_or(0).max(3600);
            u32::try_from(u64::from(views) * 3600 / secs).unwrap_or(u32::MAX)
        })
        .max()
        .unwrap_or(0)
}

/// The behaviour layer's verdict on a visitor's day; `None` when no rule holds (or the layer
/// is off).
pub fn judge(conduct: &Conduct, sessions: Option<&Sessions>, rules: &Behaviour) -> Option<Finding> {
    if !rules.enabled {
        return None;
    }
    if rules.robots_txt && conduct.robots > 0 {
        return Some(Finding::RobotsTxt {
            fetches: conduct.robots,
        });
    }
    let pageviews = sessions.map_or(0, |s| s.iter().map(|s| s.2).sum::<u32>());
    if rules.head_only > 0
        && conduct.heads >= rules.head_only
        && pageviews == 0
        && conduct.assets == 0
        && conduct.others == 0
    {
        return Some(Finding::HeadOnly {
            heads: conduct.heads,
            threshold: rules.head_only,
        });
    }
    let per_hour = sessions.map_or(0, peak_rate);
    if rules.max_pages_per_hour > 0 && per_hour > rules.max_pages_per_hour {
        return Some(Finding::Rate {
            per_hour,
            threshold: rules.max_pages_per_hour,
        });
    }
    if rules.pages_without_assets > 0
        && pageviews >= rules.pages_without_assets
        && conduct.assets == 0
    {
        return Some(Finding::NoAssets {
            pageviews,
            threshold: rules.pages_without_assets,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(times: &[i32]) -> Sessions {
        let mut s = Sessions::view(times[0]);
        for t in &times[1..] {
            s.add((*t, *t, 1));
        }
        s
    }

    #[test]
    fn counts_are_stored_without_trailing_zeros_and_read_back() {
        let person = Conduct {
            assets: 12,
            ..Conduct::default()
        };
        assert_eq!(serde_json::to_string(&person).unwrap(), "[12]");
        let tracked = Conduct {
            tiers: [0, 2, 0],
            ..person
        };
        let json = serde_json::to_string(&tracked).unwrap();
        assert_eq!(json, "[12,0,0,0,0,2]");
        assert_eq!(serde_json::from_str::<Conduct>(&json).unwrap(), tracked);
        assert_eq!(
            serde_json::from_str::<Conduct>("[]").unwrap(),
            Conduct::default()
        );
        assert!(serde_json::from_str::<Conduct>("[1,2,3,4,5,6,7,8]").is_err());
    }

    #[test]
    fn each_rule_at_its_threshold() {
        let rules = Behaviour::default();
        let nothing = Conduct::default();
        let robots = Conduct {
            robots: 1,
            assets: 3,
            ..nothing
        };
        assert_eq!(
            judge(&robots, Some(&sessions(&[0])), &rules),
            Some(Finding::RobotsTxt { fetches: 1 })
        );
        let heads = Conduct {
            heads: 3,
            ..nothing
        };
        assert!(matches!(
            judge(&heads, None, &rules),
            Some(Finding::HeadOnly { heads: 3, .. })
        ));
        let two_heads = Conduct {
            heads: 2,
            ..nothing
        };
        assert_eq!(judge(&two_heads, None, &rules), None);
        // A page every 12 s for an hour: 300 an hour.
        let scraper: Vec<i32> = (0..300).map(|i| i * 12).collect();
        let with_assets = Conduct {
            assets: 1,
            ..nothing
        };
        assert!(matches!(
            judge(&with_assets, Some(&sessions(&scraper)), &rules),
            Some(Finding::Rate { per_hour: 300, .. })
        ));
        // 30 pages in three hours, no asset.
        let slow: Vec<i32> = (0..30).map(|i| i * 360).collect();
        assert!(matches!(
            judge(&nothing, Some(&sessions(&slow)), &rules),
            Some(Finding::NoAssets { pageviews: 30, .. })
        ));
        assert_eq!(judge(&nothing, Some(&sessions(&slow[..29])), &rules), None);
        // A person: 12 pages in ten minutes with their assets.
        let person: Vec<i32> = (0..12).map(|i| 36_000 + i * 50).collect();
        let assets = Conduct {
            assets: 40,
            ..nothing
        };
        assert_eq!(judge(&assets, Some(&sessions(&person)), &rules), None);
        let off = Behaviour {
            enabled: false,
            ..rules
        };
        assert_eq!(judge(&robots, None, &off), None);
    }
}
