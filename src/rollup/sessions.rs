//! One visitor's sessions of a day: the connected runs of their pageviews, none closer than
//! the gap to another. Kept inline for the common visitor with one session, so a day of many
//! visitors costs no allocation each; stored in JSON as a list of `[first, last, pageviews]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A session: first and last pageview (seconds from the day's UTC midnight) and how many
/// pageviews.
pub type Session = (i32, i32, u32);

/// Pageviews further apart than this (30 minutes) belong to two sessions.
pub const SESSION_GAP_SECS: i32 = 1800;

/// Inline when there is one; several are a slice of exactly their length (no capacity left
/// over and no vector header to allocate: most visitors of a busy day have two or three).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sessions {
    One(Session),
    /// Two or more, by start.
    Many(Box<[Session]>),
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::Many(Box::default())
    }
}

fn near(a: Session, b: Session) -> bool {
    a.0.saturating_sub(SESSION_GAP_SECS) <= b.1 && b.0 <= a.1.saturating_add(SESSION_GAP_SECS)
}

fn union(a: Session, b: Session) -> Session {
    (a.0.min(b.0), a.1.max(b.1), a.2.saturating_add(b.2))
}

/// The one session of `list` that `s` joins without reaching another: the usual pageview of a
/// visitor with several sessions extends the latest in place, with no allocation.
fn in_place(list: &[Session], s: Session) -> Option<usize> {
    let i = list.iter().position(|o| near(*o, s))?;
    let u = union(list[i], s);
    let clear = |j: Option<usize>| j.and_then(|j| list.get(j)).is_none_or(|o| !near(*o, u));
    (clear(i.checked_sub(1)) && clear(Some(i + 1))).then_some(i)
}

/// Adds a session to a sorted list, joining every one within the gap. The ones it joins are
/// a run of neighbours, and the rest keep their order (a `swap_remove` here once left the list
/// unsorted, and the next pageview then judged its neighbours wrong).
fn join(list: &mut Vec<Session>, mut s: Session) {
    // In order, `s` only ever grows over the run it joins: the session before the run is
    // further than the gap from the run's first, and so from `s`.
    list.retain(|o| {
        let joined = near(*o, s);
        if joined {
            s = union(s, *o);
        }
        !joined
    });
    let at = list.partition_point(|o| o.0 < s.0);
    list.insert(at, s);
}

impl Sessions {
    /// The sessions of one pageview.
    pub fn view(at: i32) -> Sessions {
        Sessions::One((at, at, 1))
    }

    /// Adds a session (or a pageview, `(at, at, 1)`), joining every one within the gap.
    /// Sessions are the connected runs of pageviews, so the result does not depend on the order
    /// pageviews (or parts of a day folded by different threads and runs) arrive in.
    pub fn add(&mut self, s: Session) {
        match self {
            Sessions::One(o) if near(*o, s) => *o = union(*o, s),
            Sessions::One(o) => {
                let mut list = Vec::with_capacity(2);
                list.push(*o);
                join(&mut list, s);
                *self = Sessions::Many(list.into_boxed_slice());
            }
            Sessions::Many(list) => {
                if let Some(i) = in_place(list, s) {
                    list[i] = union(list[i], s);
                    return;
                }
                // Room for one more, allocated once: growing the boxed slice's vector doubled
                // it and shrinking it back reallocated twice per new session.
                let mut grown = Vec::with_capacity(list.len() + 1);
                grown.extend_from_slice(list);
                join(&mut grown, s);
                *self = match grown[..] {
                    [only] => Sessions::One(only),
                    _ => Sessions::Many(grown.into_boxed_slice()),
                };
            }
        }
    }

    /// Adds every session of `other`.
    pub fn merge(&mut self, other: &Sessions) {
        for s in other.iter() {
            self.add(s);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Session> + '_ {
        let list: &[Session] = match self {
            Sessions::One(s) => std::slice::from_ref(s),
            Sessions::Many(list) => list,
        };
        list.iter().copied()
    }

    pub fn len(&self) -> usize {
        match self {
            Sessions::One(_) => 1,
            Sessions::Many(list) => list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Serialize for Sessions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Sessions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let list = Vec::<Session>::deserialize(deserializer)?;
        // As written: in order, none within the gap of the next; taken as they are.
        let written = list.iter().all(|s| s.0 <= s.1)
            && list
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && !near(w[0], w[1]));
        if written && list.len() >= 2 {
            return Ok(Sessions::Many(list.into_boxed_slice()));
        }
        let mut sessions = Sessions::default();
        for s in list {
            sessions.add(s);
        }
        Ok(sessions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_costs_twenty_four_bytes() {
        assert_eq!(std::mem::size_of::<Sessions>(), 24);
    }

    #[test]
    fn a_pageview_joined_in_place_keeps_the_order_and_the_gap() {
        let mut s = Sessions::view(0);
        s.add((5000, 5000, 1));
        s.add((10_000, 10_000, 1));
        // Extends the middle one in place.
        s.add((5500, 5500, 1));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [(0, 0, 1), (5000, 5500, 2), (10_000, 10_000, 1)]
        );
        s.add((7300, 7300, 1));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [(0, 0, 1), (5000, 7300, 3), (10_000, 10_000, 1)]
        );
        // Within the gap of the next one: joined with it.
        s.add((9000, 9000, 1));
        assert_eq!(s.iter().collect::<Vec<_>>(), [(0, 0, 1), (5000, 10_000, 5)]);
        s.add((1800, 1800, 1));
        s.add((3500, 3500, 1));
        assert_eq!(s, Sessions::One((0, 10_000, 8)));
    }

    /// Regression: joining two sessions reordered the rest (`swap_remove`), and a later
    /// pageview between two of them was then not joined with both.
    #[test]
    fn sessions_stay_in_order_when_a_pageview_joins_two() {
        let mut s = Sessions::view(0);
        for t in [3000, 6000, 9000] {
            s.add((t, t, 1));
        }
        s.add((1500, 1500, 1));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [(0, 3000, 3), (6000, 6000, 1), (9000, 9000, 1)]
        );
        s.add((7500, 7500, 1));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [(0, 3000, 3), (6000, 9000, 3)]
        );
    }

    #[test]
    fn sessions_are_the_runs_of_pageviews_in_any_order() {
        // 0, 1000, 2700 (1700 after 1000): one session; 4600 (1900 after 2700): another.
        let times = [2700, 0, 4600, 1000];
        let mut a = Sessions::default();
        for t in times {
            a.add((t, t, 1));
        }
        let mut b = Sessions::view(4600);
        let mut c = Sessions::view(0);
        c.add((1000, 1000, 1));
        b.add((2700, 2700, 1));
        b.merge(&c);
        let expected = vec![(0, 2700, 3), (4600, 4600, 1)];
        assert_eq!(a.iter().collect::<Vec<_>>(), expected);
        assert_eq!(b.iter().collect::<Vec<_>>(), expected);
        // A pageview that bridges the gap joins both into one, inline again.
        a.add((3600, 3600, 1));
        assert_eq!(a, Sessions::One((0, 4600, 5)));
    }

    #[test]
    fn stored_as_a_list_of_triples() {
        let mut s = Sessions::view(10);
        assert_eq!(serde_json::to_string(&s).unwrap(), "[[10,10,1]]");
        s.add((5000, 5000, 1));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "[[10,10,1],[5000,5000,1]]");
        assert_eq!(serde_json::from_str::<Sessions>(&json).unwrap(), s);
        // Out of order or within the gap (an edited file): joined as pageviews are.
        let joined: Sessions =
            serde_json::from_str("[[5000,5000,1],[10,10,1],[900,900,1]]").unwrap();
        assert_eq!(
            joined.iter().collect::<Vec<_>>(),
            [(10, 900, 2), (5000, 5000, 1)]
        );
    }
}
