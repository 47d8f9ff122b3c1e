//! Visitor keys recently computed on the hot path, so that a visitor's page and assets pay
//! for the keyed hashes once.

use std::net::IpAddr;

use crate::rollup::keys::VisitorKeys;

/// Visitor keys recently computed, by (address, User-Agent hash, day): a key costs two keyed
/// hashes, and a visitor's page, assets and next pages come close together in a log, so a
/// small direct-mapped table answers most lines with one comparison.
pub struct VisitorCache(Box<[Option<CachedKey>]>);

/// (address, User-Agent hash, day) and their visitor key.
type CachedKey = (IpAddr, u64, i32, u64);

/// Slots of [`VisitorCache`], a power of two; a busy hour's visitors fit.
const VISITOR_SLOTS: usize = 4096;

impl Default for VisitorCache {
    fn default() -> Self {
        VisitorCache(vec![None; VISITOR_SLOTS].into_boxed_slice())
    }
}

impl VisitorCache {
    pub fn key(&mut self, keys: &VisitorKeys, ip: IpAddr, agent: u64, day: i32) -> u64 {
        // The agent hash is already uniform; the address's last bits and the day spread it.
        let low = match ip {
            IpAddr::V4(v4) => u64::from(v4.to_bits()),
            IpAddr::V6(v6) => v6.to_bits() as u64,
        };
        let mixed = (agent ^ low ^ u64::from(day.cast_unsigned()).rotate_left(32))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = &mut self.0[(mixed >> 52) as usize & (VISITOR_SLOTS - 1)];
        if let Some((i, a, d, key)) = *slot
            && (i, a, d) == (ip, agent, day)
        {
            return key;
        }
        let key = keys.visitor(ip, agent, day);
        *slot = Some((ip, agent, day, key));
        key
    }
}
