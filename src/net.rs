//! Addresses and networks as people write them: a core type the configuration (`ignore_ips`)
//! and `purge-ip` both parse.

use std::net::IpAddr;

use ipnet::IpNet;

/// An address or a CIDR; a bare address is a /32 or /128, and a CIDR's host bits are dropped.
pub fn parse_net(spec: &str) -> Option<IpNet> {
    let spec = spec.trim();
    if let Ok(net) = spec.parse::<IpNet>() {
        return Some(net.trunc());
    }
    spec.parse::<IpAddr>().ok().map(IpNet::from)
}
