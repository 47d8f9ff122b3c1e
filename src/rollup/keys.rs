//! Keyed hashing of visitors: unique visitors are counted by a keyed hash of (IP, User-Agent,
//! local day), never by the raw address.
//!
//! A visitor key is 64 bits: the high half hashes (IP, day) alone and the low half hashes
//! (IP, User-Agent, day). `purge-ip` can therefore find every key of one address on a day by
//! recomputing the high half, without knowing the User-Agents it used.

use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use siphasher::sip::SipHasher13;
use std::hash::Hasher;

const KEY_FILE: &str = "secret.key";

/// The secret that keys every hash arkwatch stores about an address.
#[derive(Clone)]
pub struct VisitorKeys {
    key: [u8; 16],
}

impl VisitorKeys {
    pub fn new(key: [u8; 16]) -> VisitorKeys {
        VisitorKeys { key }
    }

    /// Reads `data_dir/secret.key`, creating it (mode 0600) on first use. Call under the state
    /// lock so two first runs cannot create two keys.
    pub fn load_or_create(data_dir: &Path) -> Result<VisitorKeys> {
        let path = data_dir.join(KEY_FILE);
        match crate::fsutil::read_to_string(&path) {
            Ok(text) => {
                let text = text.trim();
                let mut key = [0u8; 16];
                if text.len() != 32 {
                    bail!(
                        "{} is not a 32-digit hex key; restore it from a backup",
                        path.display()
                    );
                }
                for (i, byte) in key.iter_mut().enumerate() {
                    *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).with_context(|| {
                        format!(
                            "{} is not a hex key; restore it from a backup",
                            path.display()
                        )
                    })?;
                }
                Ok(VisitorKeys { key })
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 16];
                getrandom::fill(&mut key)
                    .map_err(|err| anyhow::anyhow!("cannot get random bytes for a key: {err}"))?;
                let hex = crate::fsutil::hex(&key);
                crate::fsutil::write_atomic(&path, format!("{hex}\n").as_bytes(), 0o600)?;
                Ok(VisitorKeys { key })
            }
            Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Reads the key for a run that writes nothing (a dry run, perhaps on a read-only
    /// `data_dir`): a missing key is a fresh one that lives only in memory, since nothing this
    /// run computes is kept.
    pub fn load_for_reading(data_dir: &Path) -> Result<VisitorKeys> {
        let path = data_dir.join(KEY_FILE);
        if crate::fsutil::read_if_exists(&path)?.is_some() {
            return VisitorKeys::load_or_create(data_dir);
        }
        let mut key = [0u8; 16];
        getrandom::fill(&mut key)
            .map_err(|err| anyhow::anyhow!("cannot get random bytes for a key: {err}"))?;
        Ok(VisitorKeys { key })
    }

    fn hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_key(&self.key)
    }

    pub fn agent_hash(&self, user_agent: &[u8]) -> u64 {
        let mut h = self.hasher();
        h.write_u8(b'a');
        h.write(user_agent);
        h.finish()
    }

    fn write_ip(h: &mut SipHasher13, ip: IpAddr) {
        match ip.to_canonical() {
            IpAddr::V4(v4) => h.write(&v4.octets()),
            IpAddr::V6(v6) => h.write(&v6.octets()),
        }
    }

    /// The high half of every visitor key of `ip` on `day` (days since 1970-01-01, local).
    pub fn ip_day(&self, ip: IpAddr, day: i32) -> u32 {
        let mut h = self.hasher();
        h.write_u8(b'i');
        h.write_i32(day);
        Self::write_ip(&mut h, ip);
        (h.finish() >> 32) as u32
    }

    /// The high half of a visitor key: its (ip, day) part, as [`VisitorKeys::ip_day`] gives it.
    pub fn ip_day_of(visitor_key: u64) -> u32 {
        (visitor_key >> 32) as u32
    }

    /// Every visitor key `ip` can have on `day`, as a range (they share the high half).
    pub fn keys_of(&self, ip: IpAddr, day: i32) -> std::ops::RangeInclusive<u64> {
        let high = u64::from(self.ip_day(ip, day)) << 32;
        high..=high | 0xffff_ffff
    }

    /// The visitor key of (ip, User-Agent, day); `agent` is [`VisitorKeys::agent_hash`].
    pub fn visitor(&self, ip: IpAddr, agent: u64, day: i32) -> u64 {
        let mut h = self.hasher();
        h.write_u8(b'v');
        h.write_i32(day);
        h.write_u64(agent);
        Self::write_ip(&mut h, ip);
        (u64::from(self.ip_day(ip, day)) << 32) | (h.finish() & 0xffff_ffff)
    }

    /// A keyed hash of a product user id: activity rollups count distinct users with it, over
    /// any period, without storing the ids.
    pub fn user(&self, user: &str) -> u64 {
        let mut h = self.hasher();
        h.write_u8(b'u');
        h.write(user.as_bytes());
        h.finish()
    }

    /// A keyed hash of a name (a page that held a purged address), for the erasure ledger:
    /// the name can be recognised again without being kept.
    pub fn name(&self, text: &str) -> u64 {
        let mut h = self.hasher();
        h.write_u8(b'n');
        h.write(text.as_bytes());
        h.finish()
    }

    /// A keyed hash of an address alone, for the audit log.
    pub fn address(&self, ip: IpAddr) -> u64 {
        let mut h = self.hasher();
        h.write_u8(b'p');
        Self::write_ip(&mut h, ip);
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_separate_visitors() {
        let keys = VisitorKeys::new([1; 16]);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        let ua = keys.agent_hash(b"Firefox");
        assert_eq!(keys.visitor(ip, ua, 100), keys.visitor(mapped, ua, 100));
        assert_ne!(keys.visitor(ip, ua, 100), keys.visitor(ip, ua, 101));
        assert_ne!(
            keys.visitor(ip, ua, 100),
            keys.visitor(ip, keys.agent_hash(b"Chrome"), 100)
        );
        assert_eq!(
            VisitorKeys::ip_day_of(keys.visitor(ip, ua, 100)),
            keys.ip_day(ip, 100)
        );
        let other = VisitorKeys::new([2; 16]);
        assert_ne!(
            keys.visitor(ip, ua, 100),
            other.visitor(ip, other.agent_hash(b"Firefox"), 100)
        );
    }

    #[test]
    fn key_file_is_created_once_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = VisitorKeys::load_or_create(dir.path()).unwrap();
        let b = VisitorKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(a.key, b.key);
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
