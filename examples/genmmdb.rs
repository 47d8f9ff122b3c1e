//! MaxMind DB files for benchmarks, in the GeoLite2 layouts, covering the addresses `genlog`
//! writes (1.0.0.0 to 223.255.255.255, and `2001:db8::/32`) with networks of one size:
//!
//!     cargo run --release --example genmmdb -- --dir DIR [--city-prefix 22] [--asn-prefix 18]
//!
//! writes DIR/country.mmdb and DIR/asn.mmdb (one record per /asn-prefix network) and
//! DIR/city.mmdb (one per /city-prefix: 3,653,632 networks at /22, as many as GeoLite2-City
//! has). Records cycle through 1,000 cities, 200 countries and 2,000 networks, one in
//! ten of them a hosting network.

use std::net::Ipv4Addr;
use std::path::PathBuf;

#[path = "support/geolite.rs"]
mod geolite;
use geolite::{AsnRecord, CountryRecord, en};

/// One of 200 countries, with a two-letter code of its own.
fn country(i: u32) -> geolite::Country {
    let code: String = [b'A' + (i / 26 % 26) as u8, b'A' + (i % 26) as u8]
        .iter()
        .map(|b| *b as char)
        .collect();
    geolite::country(&code, &format!("Country {}", i % 200))
}

/// Every network of `prefix` bits from 1.0.0.0 to 223.255.255.255, then `2001:db8::/32`.
fn networks(prefix: u8) -> impl Iterator<Item = (u32, ipnet::IpNet)> {
    let step = 1u64 << (32 - prefix);
    let first = u64::from(u32::from(Ipv4Addr::new(1, 0, 0, 0)));
    let end = u64::from(u32::from(Ipv4Addr::new(224, 0, 0, 0)));
    (0..)
        .map(move |i| (i, first + u64::from(i) * step))
        .take_while(move |(_, a)| *a < end)
        .map(move |(i, a)| {
            let net = ipnet::Ipv4Net::new(Ipv4Addr::from(a as u32), prefix).unwrap();
            (i, ipnet::IpNet::V4(net))
        })
        .chain(std::iter::once((7, "2001:db8::/32".parse().unwrap())))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut dir, mut city_prefix, mut asn_prefix) = (PathBuf::from("."), 22u8, 18u8);
    while let Some(a) = args.next() {
        let v = args.next().expect("a value after each option");
        match a.as_str() {
            "--dir" => dir = PathBuf::from(v),
            "--city-prefix" => city_prefix = v.parse().unwrap(),
            "--asn-prefix" => asn_prefix = v.parse().unwrap(),
            other => panic!("unknown option {other}"),
        }
    }
    let hosting = [16509, 14061, 24940, 16276, 8075];
    let mut asn = mmdb_writer::Writer::new("GeoLite2-ASN");
    let mut countries = mmdb_writer::Writer::new("GeoLite2-Country");
    for (i, net) in networks(asn_prefix) {
        let n = i % 2000;
        let record = if n % 10 == 0 {
            AsnRecord {
                autonomous_system_number: hosting[(n / 10 % 5) as usize],
                autonomous_system_organization: "HOSTING-AS".into(),
            }
        } else {
            AsnRecord {
                autonomous_system_number: 64_512 + n,
                autonomous_system_organization: format!("Company {n} Ltd"),
            }
        };
        asn.insert(net, &record).unwrap();
        countries
            .insert(
                net,
                &CountryRecord {
                    country: country(i % 200),
                },
            )
            .unwrap();
    }
    let mut city = mmdb_writer::Writer::new("GeoLite2-City");
    for (i, net) in networks(city_prefix) {
        let record = geolite::CityRecord {
            city: geolite::Names {
                names: en(&format!("City {}", i % 1000)),
            },
            country: country(i % 1000 % 200),
        };
        city.insert(net, &record).unwrap();
    }
    for (name, w) in [("asn", &asn), ("country", &countries), ("city", &city)] {
        let path = dir.join(format!("{name}.mmdb"));
        std::fs::write(&path, w.to_bytes().unwrap()).unwrap();
        eprintln!(
            "{}: {} bytes",
            path.display(),
            std::fs::metadata(&path).unwrap().len()
        );
    }
}
