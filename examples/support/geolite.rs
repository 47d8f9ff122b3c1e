//! The GeoLite2 record layouts as `mmdb-writer` writes them, shared by `examples/genmmdb.rs`
//! and the `[geo]` tests (`tests/common/geo.rs`).

#![allow(dead_code)] // each user takes a part

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Serialize)]
pub struct Names {
    pub names: BTreeMap<String, String>,
}

#[derive(Serialize)]
pub struct Country {
    pub iso_code: String,
    pub names: BTreeMap<String, String>,
}

#[derive(Serialize)]
pub struct CountryRecord {
    pub country: Country,
}

#[derive(Serialize)]
pub struct CityRecord {
    pub city: Names,
    pub country: Country,
}

#[derive(Serialize)]
pub struct AsnRecord {
    pub autonomous_system_number: u32,
    pub autonomous_system_organization: String,
}

/// An English name, as `names` holds it.
pub fn en(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("en".to_string(), name.to_string())])
}

pub fn country(code: &str, name: &str) -> Country {
    Country {
        iso_code: code.into(),
        names: en(name),
    }
}

pub fn city(city: &str, code: &str, name: &str) -> CityRecord {
    CityRecord {
        city: Names { names: en(city) },
        country: country(code, name),
    }
}
