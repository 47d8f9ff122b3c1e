//! The clock seam: every "now" of a run comes from one [`Clock`], so that a whole run can be
//! replayed at a fixed instant (snapshot tests, and a hidden deterministic mode, as hyperfine
//! has one). `ARKWATCH_NOW=2026-11-23T10:00:00Z` fixes it; it is not meant for production.

use chrono::{DateTime, Utc};

use crate::exit::Fatal;

/// The environment variable that fixes the clock.
pub const NOW_ENV: &str = "ARKWATCH_NOW";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    #[default]
    Real,
    /// Always this instant.
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The clock `ARKWATCH_NOW` asks for, else the system clock.
    pub fn from_env() -> anyhow::Result<Clock> {
        match std::env::var(NOW_ENV) {
            Ok(text) if !text.trim().is_empty() => DateTime::parse_from_rfc3339(text.trim())
                .map(|t| Clock::Fixed(t.with_timezone(&Utc)))
                .map_err(|err| {
                    Fatal::Usage(format!(
                        "{NOW_ENV}={text:?} is not an RFC 3339 time ({err})"
                    ))
                    .into()
                }),
            _ => Ok(Clock::Real),
        }
    }

    pub fn now(self) -> DateTime<Utc> {
        match self {
            Clock::Real => Utc::now(),
            Clock::Fixed(t) => t,
        }
    }
}
