//! Fast timestamp parsing for `$time_local`, `$time_iso8601` and `$msec`, keeping the UTC offset
//! the server wrote.

use chrono::{DateTime, FixedOffset};

/// A request time: seconds since the Unix epoch (UTC) and the offset the log line carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub secs: i64,
    pub offset_secs: i32,
}

impl Timestamp {
    /// The time as the server wrote it (same instant, same offset).
    pub fn to_datetime(self) -> DateTime<FixedOffset> {
        let offset = FixedOffset::east_opt(self.offset_secs)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"));
        DateTime::from_timestamp(self.secs, 0)
            .unwrap_or_default()
            .with_timezone(&offset)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut n: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Some(n)
}

fn month_number(m: &[u8]) -> Option<u32> {
    Some(match m {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

fn date_days(year: u32, month: u32, day: u32) -> Option<i64> {
    let year = i64::from(year);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

fn clock_secs(h: &[u8], m: &[u8], s: &[u8]) -> Option<i64> {
    let (h, m, s) = (digits(h)?, digits(m)?, digits(s)?);
    // 60 allows a leap second as some servers write it.
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(i64::from(h * 3600 + m * 60 + s))
}

/// Parses `+0100`, `-0530`, `+01:00`, `Z`.
fn offset_secs(b: &[u8]) -> Option<i32> {
    let (sign, rest) = match b.first()? {
        b'Z' if b.len() == 1 => return Some(0),
        b'+' => (1, &b[1..]),
        b'-' => (-1, &b[1..]),
        _ => return None,
    };
    let (h, m) = match rest.len() {
        4 => (&rest[..2], &rest[2..]),
        5 if rest[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return None,
    };
    let (h, m) = (digits(h)?, digits(m)?);
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * i32::try_from(h * 3600 + m * 60).ok()?)
}

/// Remembers the last date seen, because consecutive lines almost always share it.
#[derive(Default)]
pub struct TimeCache {
    date: [u8; 11],
    offset: [u8; 5],
    /// Epoch seconds of local midnight of `date`, minus the offset.
    base: i64,
    offset_secs: i32,
    valid: bool,
}

impl TimeCache {
    /// `10/Oct/2000:13:55:36 -0700`
    pub fn time_local(&mut self, b: &[u8]) -> Option<Timestamp> {
        if b.len() != 26 || b[11] != b':' || b[14] != b':' || b[17] != b':' || b[20] != b' ' {
            return None;
        }
        let clock = clock_secs(&b[12..14], &b[15..17], &b[18..20])?;
        if !(self.valid && b[..11] == self.date && b[21..26] == self.offset) {
            if b[2] != b'/' || b[6] != b'/' {
                return None;
            }
            let day = digits(&b[0..2])?;
            let month = month_number(&b[3..6])?;
            let year = digits(&b[7..11])?;
            let offset_secs = offset_secs(&b[21..26])?;
            self.base = date_days(year, month, day)? * 86_400 - i64::from(offset_secs);
            self.offset_secs = offset_secs;
            self.date.copy_from_slice(&b[..11]);
            self.offset.copy_from_slice(&b[21..26]);
            self.valid = true;
        }
        Some(Timestamp {
            secs: self.base + clock,
            offset_secs: self.offset_secs,
        })
    }
}

/// `2000-10-10T13:55:36-07:00` (also `Z`, and fractional seconds, which are dropped).
pub fn time_iso8601(b: &[u8]) -> Option<Timestamp> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = date_days(digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?)?;
    let clock = clock_secs(&b[11..13], &b[14..16], &b[17..19])?;
    let mut rest = &b[19..];
    if rest.first() == Some(&b'.') {
        let frac = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        rest = &rest[1 + frac..];
    }
    let offset_secs = offset_secs(rest)?;
    Some(Timestamp {
        secs: days * 86_400 + clock - i64::from(offset_secs),
        offset_secs,
    })
}

/// `2015-01-13`: days since the epoch (W3C's `date`).
pub fn iso_date(b: &[u8]) -> Option<i64> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    date_days(digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// `00:32:17` (or with fractions, dropped): seconds since midnight (W3C's `time`).
pub fn clock(b: &[u8]) -> Option<i64> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    if b.len() > 8 && (b[8] != b'.' || !b[9..].iter().all(u8::is_ascii_digit)) {
        return None;
    }
    clock_secs(&b[0..2], &b[3..5], &b[6..8])
}

/// `25/Feb/2019:16:19:48.143`: HAProxy's accept date, which carries no offset (read as UTC).
pub fn haproxy_date(cache: &mut TimeCache, b: &[u8]) -> Option<Timestamp> {
    if b.len() < 20 {
        return None;
    }
    let mut buf = [0u8; 26];
    buf[..20].copy_from_slice(&b[..20]);
    buf[20..].copy_from_slice(b" +0000");
    if b.len() > 20 && (b[20] != b'.' || !b[21..].iter().all(u8::is_ascii_digit)) {
        return None;
    }
    cache.time_local(&buf)
}

/// `1700000000.123` (seconds since the epoch, UTC).
pub fn msec(b: &[u8]) -> Option<Timestamp> {
    let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if int_len == 0 || int_len > 12 {
        return None;
    }
    let rest = &b[int_len..];
    if !(rest.is_empty() || (rest[0] == b'.' && rest[1..].iter().all(u8::is_ascii_digit))) {
        return None;
    }
    Some(Timestamp {
        secs: i64::from(digits(&b[..int_len])?),
        offset_secs: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(rfc3339: &str) -> Timestamp {
        let dt = DateTime::parse_from_rfc3339(rfc3339).unwrap();
        Timestamp {
            secs: dt.timestamp(),
            offset_secs: dt.offset().local_minus_utc(),
        }
    }

    #[test]
    fn time_local_keeps_offset() {
        let mut cache = TimeCache::default();
        assert_eq!(
            cache.time_local(b"10/Oct/2000:13:55:36 -0700"),
            Some(expect("2000-10-10T13:55:36-07:00"))
        );
        // Same date, cached path.
        assert_eq!(
            cache.time_local(b"10/Oct/2000:23:59:59 -0700"),
            Some(expect("2000-10-10T23:59:59-07:00"))
        );
        assert_eq!(
            cache.time_local(b"29/Feb/2024:00:00:00 +0530"),
            Some(expect("2024-02-29T00:00:00+05:30"))
        );
    }

    #[test]
    fn time_local_rejects_nonsense() {
        let mut cache = TimeCache::default();
        for bad in [
            &b"30/Feb/2023:00:00:00 +0000"[..],
            b"10/Foo/2000:13:55:36 -0700",
            b"10/Oct/2000:24:00:00 -0700",
            b"10/Oct/2000:13:55:36 -07",
            b"10/Oct/2000 13:55:36 -0700",
            b"",
        ] {
            assert_eq!(
                cache.time_local(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn iso8601_variants() {
        assert_eq!(
            time_iso8601(b"2026-03-29T01:30:00+01:00"),
            Some(expect("2026-03-29T01:30:00+01:00"))
        );
        assert_eq!(
            time_iso8601(b"2026-03-29T01:30:00.250Z"),
            Some(expect("2026-03-29T01:30:00Z"))
        );
        assert_eq!(time_iso8601(b"2026-13-29T01:30:00Z"), None);
    }

    #[test]
    fn msec_is_utc() {
        assert_eq!(
            msec(b"1700000000.123"),
            Some(Timestamp {
                secs: 1_700_000_000,
                offset_secs: 0
            })
        );
        assert_eq!(msec(b"17x"), None);
    }

    #[test]
    fn civil_days_match_chrono() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2026, 11, 23), (1969, 12, 31)] {
            let expected = chrono::NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                .num_days();
            assert_eq!(days_from_civil(i64::from(y), m, d), expected);
        }
    }
}
