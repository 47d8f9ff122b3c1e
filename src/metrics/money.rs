//! Money in outputs. Every amount is computed exact (a `Decimal`, never a float) and rounded
//! once, when it is written: to cents (2 places), half away from zero; per-unit costs (cost per
//! active user, API cost per paying user) to 4 places, since they are often fractions of a
//! cent. JSON carries the rounded amount as a number.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serializer;

/// `d` to `places` decimal places, half away from zero.
pub fn round(d: Decimal, places: u32) -> Decimal {
    d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
}

fn as_f64(d: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(0.0)
}

/// Serializes an amount rounded to cents.
pub fn cents<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(as_f64(round(*d, 2)))
}

/// Serializes an optional amount rounded to cents (null when absent).
pub fn cents_opt<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => cents(d, s),
        None => s.serialize_none(),
    }
}

/// Serializes an optional per-unit amount rounded to 4 places.
pub fn unit_opt<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(as_f64(round(*d, 4))),
        None => s.serialize_none(),
    }
}

/// `a + b`, or an error: only a corrupt rollup can hold sums that do not fit.
pub fn add(a: Decimal, b: Decimal) -> anyhow::Result<Decimal> {
    crate::rollup::activity::add(a, b).map_err(anyhow::Error::new)
}

/// `a × b`, or an error.
pub fn mul(a: Decimal, b: Decimal) -> anyhow::Result<Decimal> {
    a.checked_mul(b)
        .ok_or_else(|| anyhow::Error::new(crate::rollup::activity::Overflow))
}

/// `a ÷ b`; None when `b` is 0 or the quotient does not fit.
pub fn div(a: Decimal, b: Decimal) -> Option<Decimal> {
    a.checked_div(b)
}
