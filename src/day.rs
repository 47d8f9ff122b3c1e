//! Local days in the configured time zone: the unit of rollups and visits files.
//!
//! A day is an `i32` count of days since 1970-01-01 (of the local calendar) on hot paths, and a
//! `NaiveDate` everywhere else.

use chrono::{DateTime, Duration, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

pub fn to_date(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + 719_163).unwrap_or_default()
}

pub fn from_date(date: NaiveDate) -> i32 {
    date.signed_duration_since(NaiveDate::default()).num_days() as i32
}

/// The first instant of local date `date` in `tz`. A day is [its first instant, the first
/// instant of the next day). Usually local midnight; when midnight does not exist (America/
/// Santiago, Havana and Asunción start DST at 00:00) the first local time that does; when
/// midnight happens twice (a fall-back at 00:00), the earlier; and a date the zone skipped
/// altogether (Pacific/Apia, 2011-12-30) begins where the next one does, so it is empty.
pub fn start_of(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight is a time");
    // Offsets change only on quarter hours; a day is skipped at most whole.
    for quarter in 0..=4 * 48 {
        let local = midnight + Duration::minutes(15 * quarter);
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
    }
    midnight.and_utc()
}

/// The first instant after local date `date`: the start of the next day.
pub fn end_of(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    match date.succ_opt() {
        Some(next) => start_of(tz, next),
        None => DateTime::<Utc>::MAX_UTC,
    }
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

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// In Santiago DST starts at 00:00 on the first Sunday of September (2026-09-06): that
    /// midnight does not exist, and Sep 5 ended at 04:00Z, not at 00:00 taken as UTC.
    #[test]
    fn a_day_without_a_midnight_starts_at_its_first_instant() {
        let santiago: Tz = "America/Santiago".parse().unwrap();
        assert_eq!(
            start_of(santiago, date(2026, 9, 6)),
            at("2026-09-06T04:00:00Z")
        );
        assert_eq!(
            end_of(santiago, date(2026, 9, 5)),
            at("2026-09-06T04:00:00Z")
        );
        let havana: Tz = "America/Havana".parse().unwrap();
        // Havana springs forward at 00:00 on the second Sunday of March (2026-03-08).
        assert_eq!(
            start_of(havana, date(2026, 3, 8)),
            at("2026-03-08T05:00:00Z")
        );
        let asuncion: Tz = "America/Asuncion".parse().unwrap();
        // Asunción sprang forward at 00:00 on 2023-10-01 (UTC-4 to UTC-3).
        assert_eq!(
            start_of(asuncion, date(2023, 10, 1)),
            at("2023-10-01T04:00:00Z")
        );
    }

    /// Lord Howe moves by 30 minutes, at 02:00.
    #[test]
    fn a_half_hour_shift_keeps_midnight() {
        let lord_howe: Tz = "Australia/Lord_Howe".parse().unwrap();
        // Summer (UTC+11) ends on 2026-04-05 at 02:00 local, back to UTC+10:30.
        assert_eq!(
            start_of(lord_howe, date(2026, 4, 5)),
            at("2026-04-04T13:00:00Z")
        );
        assert_eq!(
            start_of(lord_howe, date(2026, 4, 6)),
            at("2026-04-05T13:30:00Z")
        );
        let mut days = DayResolver::new(lord_howe);
        assert_eq!(
            to_date(days.day(at("2026-04-05T13:29:59Z").timestamp())),
            date(2026, 4, 5)
        );
    }

    /// Samoa skipped 2011-12-30 when it moved across the date line: that day is empty.
    #[test]
    fn a_skipped_day_is_empty() {
        let apia: Tz = "Pacific/Apia".parse().unwrap();
        assert_eq!(
            start_of(apia, date(2011, 12, 30)),
            start_of(apia, date(2011, 12, 31))
        );
        assert_eq!(
            start_of(apia, date(2011, 12, 31)),
            at("2011-12-30T10:00:00Z")
        );
        assert_eq!(end_of(apia, date(2011, 12, 29)), at("2011-12-30T10:00:00Z"));
    }

    #[test]
    fn date_round_trip() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(to_date(from_date(d)), d);
        assert_eq!(from_date(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()), 1);
    }
}
