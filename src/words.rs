//! Numbers in sentences, one rule for every output: `1 lead`, `2 leads`; `12 min`, `3 h 5 min`.

/// `1 call`, `2 calls` (`many` for every count but 1).
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A count with a noun made plural by `s`: `count(1, "lead")` is `1 lead`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The verb after a count: `1 day differs`, `2 days differ`.
pub fn differ(n: u64) -> &'static str {
    if n == 1 { "differs" } else { "differ" }
}

/// `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn minutes(secs: i64) -> String {
    let m = secs / 60;
    match m {
        m if m < 60 => format!("{m} min"),
        m if m < 24 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} d {} h", m / (24 * 60), m % (24 * 60) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_and_plural() {
        assert_eq!(count(1u64, "call"), "1 call");
        assert_eq!(count(0u64, "call"), "0 calls");
        assert_eq!(plural(2u64, "entry", "entries"), "2 entries");
        assert_eq!(minutes(12 * 60), "12 min");
        assert_eq!(minutes(3 * 3600 + 300), "3 h 5 min");
    }
}
