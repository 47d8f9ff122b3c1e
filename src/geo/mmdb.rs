//! The offline databases (`country_db`, `city_db`, `asn_db`): MaxMind DB files read with the
//! `maxminddb` crate, in the layouts their publishers use: GeoIP2/GeoLite2 and DB-IP Lite
//! (`country.names.en`, `city.names.en`, `autonomous_system_number`), and IPinfo Lite (`country`,
//! `country_code`, `asn` as `"AS64500"`, `as_name`, `as_domain`). A database that is missing or
//! corrupt is reported once and the lookups go on without it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What the databases know of one address; every field absent when no database has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub country: Option<String>,
    pub country_code: Option<String>,
    pub city: Option<String>,
    pub asn: Option<u32>,
    pub organisation: Option<String>,
    /// IPinfo's `as_domain`: the network owner's own domain.
    pub domain: Option<String>,
}

/// Addresses whose records `health` decodes: both halves of the IPv4 space and of the
/// IPv6 space in use.
const PROBES: &[&str] = &[
    "1.1.1.1",
    "100.64.0.1",
    "203.0.113.1",
    "2001:db8::1",
    "2a00::1",
];

/// One configured database.
pub struct Database {
    pub role: &'static str,
    pub path: PathBuf,
    reader: Result<maxminddb::Reader<maxminddb::Mmap>, String>,
}

/// Maps the file. Reading a city database whole (20 to 60 MB) would cost a scan more than all
/// its other work; a lead's lookup touches a few pages of the map.
#[allow(unsafe_code)]
fn map(path: &Path) -> Result<maxminddb::Reader<maxminddb::Mmap>, maxminddb::MaxMindDbError> {
    // SAFETY: the map is valid while the file is not changed in place. Database updates
    // replace the file by a rename (geoipupdate writes a temporary file and renames it; the
    // README says to do the same by hand), which leaves the mapped inode as it was. A file
    // truncated in place while a scan maps it could end that scan with SIGBUS; the state is
    // saved atomically, so the next run starts from the last commit.
    unsafe { maxminddb::Reader::open_mmap(path) }
}

/// A database's health, for `status`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Health {
    pub role: &'static str,
    pub path: PathBuf,
    /// `GeoLite2-City`, as the file names itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Database {
    pub fn open(role: &'static str, path: &Path) -> Database {
        let reader = map(path).map_err(|err| format!("{role} database {}: {err}", path.display()));
        Database {
            role,
            path: path.to_path_buf(),
            reader,
        }
    }

    /// The error of a database that could not be opened.
    pub fn error(&self) -> Option<&str> {
        self.reader.as_ref().err().map(String::as_str)
    }

    /// Opens the file (a truncated one has no metadata) and decodes the records of a few
    /// addresses spread over the tree, so that `status` finds a broken file before a lead
    /// does. (The crate's `verify` walks every node, seconds on a city database, and refuses
    /// files every reader uses, such as one without a description.)
    pub fn health(&self) -> Health {
        let mut health = Health {
            role: self.role,
            path: self.path.clone(),
            database_type: None,
            built: None,
            error: None,
        };
        match &self.reader {
            Ok(reader) => {
                let meta = reader.metadata();
                health.database_type = Some(meta.database_type.clone());
                health.built = i64::try_from(meta.build_epoch)
                    .ok()
                    .and_then(|s| chrono::DateTime::from_timestamp(s, 0));
                let mut found = Found::default();
                if let Some(err) = PROBES.iter().find_map(|ip| {
                    self.lookup(ip.parse().expect("a valid address"), &mut found)
                        .err()
                }) {
                    health.error = Some(format!("{err} (the file is corrupt)"));
                }
            }
            Err(err) => health.error = Some(err.clone()),
        }
        health
    }

    /// Adds what this database knows of `ip` to `found` (a field already set is kept: the
    /// city database's country does not override the country database's). A lookup error is
    /// returned, naming the file.
    pub fn lookup(&self, ip: IpAddr, found: &mut Found) -> Result<(), String> {
        let Ok(reader) = &self.reader else {
            return Ok(());
        };
        let record: Option<Record> = reader
            .lookup(ip)
            .and_then(|r| r.decode())
            .map_err(|err| format!("{} database {}: {err}", self.role, self.path.display()))?;
        let Some(r) = record else {
            return Ok(());
        };
        let (country, country_code) = match r.country {
            Some(Country::Map(c)) => (c.names.and_then(name), c.iso_code),
            Some(Country::Name(n)) => (Some(n), None),
            None => (None, None),
        };
        set(&mut found.country, country.filter(|c| !c.is_empty()));
        set(&mut found.country_code, country_code.or(r.country_code));
        set(&mut found.city, r.city.and_then(|c| c.names).and_then(name));
        let asn = r.autonomous_system_number.or_else(|| match r.asn {
            Some(Asn::Number(n)) => Some(n),
            Some(Asn::Text(t)) => t.trim_start_matches("AS").parse().ok(),
            None => None,
        });
        set(&mut found.asn, asn);
        set(
            &mut found.organisation,
            r.autonomous_system_organization.or(r.as_name),
        );
        set(&mut found.domain, r.as_domain.filter(|d| !d.is_empty()));
        Ok(())
    }
}

fn set<T>(field: &mut Option<T>, value: Option<T>) {
    if field.is_none() {
        *field = value;
    }
}

fn name(names: BTreeMap<String, String>) -> Option<String> {
    let mut names = names;
    names.remove("en").or_else(|| names.into_values().next())
}

/// The fields of every supported layout; unknown ones are skipped.
#[derive(Deserialize)]
struct Record {
    country: Option<Country>,
    country_code: Option<String>,
    city: Option<City>,
    autonomous_system_number: Option<u32>,
    autonomous_system_organization: Option<String>,
    asn: Option<Asn>,
    as_name: Option<String>,
    as_domain: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Country {
    Map(Named),
    Name(String),
}

#[derive(Deserialize)]
struct Named {
    iso_code: Option<String>,
    names: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct City {
    names: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Asn {
    Number(u32),
    Text(String),
}
