//! Local days in the configured time zone: the unit of rollups and visits files.
//!
//! A day is an `i32` count of days since 1970-01-01 (of the local calendar) on hot paths, and a
//! `NaiveDate` everywhere else.

use chrono::{NaiveDate, Offset, TimeZone};
use chrono_tz::Tz;

pub fn to_date(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + 719_163).unwrap_or_default()
}

pub fn from_date(date: NaiveDate) -> i32 {
    date.signed_duration_since(NaiveDate::default()).num_days() as i32
}

/// Maps instants to local days, caching the UTC offset per quarter hour: every zone's offset
/// changes only on quarter-hour boundaries of UTC, so a cached bucket is exact, and a log's
/// consecutive lines almost always fall in the same bucket.
pub struct DayResolver {
    tz: Tz,
    bucket: i64,
    offset: i64,
}

impl DayResolver {
    pub fn new(tz: Tz) -> DayResolver {
        DayResolver {
            tz,
            bucket: i64::MIN,
            offset: 0,
        }
    }

    pub fn day(&mut self, secs: i64) -> i32 {
        let bucket = secs.div_euclid(900);
        if bucket != self.bucket {
            let utc = chrono::DateTime::from_timestamp(secs, 0)
                .unwrap_or_default()
                .naive_utc();
            self.offset = i64::from(
                self.tz
                    .offset_from_utc_datetime(&utc)
                    .fix()
                    .local_minus_utc(),
            );
            self.bucket = bucket;
        }
        (secs + self.offset).div_euclid(86_400) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn day_of(tz: Tz, rfc3339: &str) -> NaiveDate {
        let secs = DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp();
        to_date(DayResolver::new(tz).day(secs))
    }

    #[test]
    fn days_follow_dst() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // Winter: UTC+1. 23:30Z on the 28th is 00:30 on the 29th.
        assert_eq!(
            day_of(berlin, "2026-03-28T23:30:00Z"),
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
        );
        // Summer (after 01:00Z on the 29th): UTC+2. 22:30Z on the 29th is 00:30 on the 30th.
        assert_eq!(
            day_of(berlin, "2026-03-29T22:30:00Z"),
            NaiveDate::from_ymd_opt(2026, 3, 30).unwrap()
        );
        assert_eq!(
            day_of(berlin, "2026-03-29T21:59:59Z"),
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
        );
        // Autumn: 22:30Z on 24 Oct is 00:30 on the 25th (UTC+2); 23:30Z on the 25th is 00:30 on the 26th (UTC+1).
        assert_eq!(
            day_of(berlin, "2026-10-24T22:30:00Z"),
            NaiveDate::from_ymd_opt(2026, 10, 25).unwrap()
        );
        assert_eq!(
            day_of(berlin, "2026-10-25T22:30:00Z"),
            NaiveDate::from_ymd_opt(2026, 10, 25).unwrap()
        );
        assert_eq!(
            day_of(berlin, "2026-10-25T23:30:00Z"),
            NaiveDate::from_ymd_opt(2026, 10, 26).unwrap()
        );
    }

    #[test]
    fn date_round_trip() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(to_date(from_date(d)), d);
        assert_eq!(from_date(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()), 1);
    }
}
