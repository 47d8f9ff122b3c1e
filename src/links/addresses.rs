//! The links store's address index (`data_dir/links.addresses`, mode 0600): every address a
//! sighting holds, 16 bytes each (IPv4 as mapped IPv6), sorted. A scan reads it instead of the
//! whole store to learn that no new visit and no new lead comes from an address any user was
//! seen at, which is the common tick: the store is then not read at all.
//!
//! It is written before the store, from the store about to be written, so that the index on
//! disk always covers the store on disk as it grows (a run killed between the two leaves
//! addresses the store does not hold yet: they only cost a read). A store without an index (a
//! build before wrote it) is read whole, and the index written then.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::LinkStore;

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("links.addresses")
}

/// The addresses of the sightings.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Addresses(Vec<[u8; 16]>);

fn key(ip: IpAddr) -> [u8; 16] {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

impl Addresses {
    pub fn of(store: &LinkStore) -> Addresses {
        let mut all: Vec<[u8; 16]> = store.sightings.iter().map(|s| key(s.ip)).collect();
        all.sort_unstable();
        all.dedup();
        Addresses(all)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.binary_search(&key(ip)).is_ok()
    }

    /// The index, or none when it was never written (no store, or one of a build before).
    pub fn load(data_dir: &Path) -> Result<Option<Addresses>> {
        let path = path(data_dir);
        let Some(bytes) = crate::fsutil::read_if_exists(&path)? else {
            return Ok(None);
        };
        if bytes.len() % 16 != 0 {
            bail!(
                "{} is not an address index arkwatch wrote (its length is not a multiple of \
                 16); remove it and arkwatch rebuilds it from links.json",
                path.display()
            );
        }
        let all = bytes
            .chunks_exact(16)
            .map(|c| c.try_into().unwrap_or_default())
            .collect();
        Ok(Some(Addresses(all)))
    }

    pub fn save(&self, data_dir: &Path) -> Result<()> {
        crate::fsutil::write_atomic(&path(data_dir), &self.0.concat(), 0o600)
    }

    /// Whether any of `ips` may be in the store: the index says so, or there is no index.
    pub fn may_hold(data_dir: &Path, ips: impl IntoIterator<Item = IpAddr>) -> Result<bool> {
        Ok(match Addresses::load(data_dir)? {
            Some(index) => ips.into_iter().any(|ip| index.contains(ip)),
            None => super::path(data_dir).exists(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn an_index_written_is_read_back_and_answers_for_both_families() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Addresses::load(dir.path()).unwrap(), None);
        let ips: Vec<IpAddr> = ["203.0.113.45", "2001:db8::1", "198.51.100.7"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let mut all: Vec<[u8; 16]> = ips.iter().map(|ip| key(*ip)).collect();
        all.sort_unstable();
        Addresses(all).save(dir.path()).unwrap();
        let back = Addresses::load(dir.path()).unwrap().unwrap();
        for ip in &ips {
            assert!(back.contains(*ip), "{ip}");
        }
        assert!(back.contains("::ffff:203.0.113.45".parse().unwrap()));
        assert!(!back.contains("203.0.113.46".parse().unwrap()));
        assert!(!back.contains(Ipv6Addr::LOCALHOST.into()));
    }

    #[test]
    fn a_torn_index_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), [0u8; 17]).unwrap();
        let err = format!("{:#}", Addresses::load(dir.path()).unwrap_err());
        assert!(err.contains("links.addresses"), "{err}");
    }
}
