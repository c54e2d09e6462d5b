//! The project's own demo GeoIP databases (`models/geoip/demo-City.mmdb`, `demo-ASN.mmdb`).
//!
//! The ranges are invented assignments of real public prefixes, fixed in
//! `models/geoip/README.md` (the simulator uses the same table). A unit test checks that
//! [`DEMO_RANGES`] and the README table agree and that the committed files are current.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mmdb_writer::Writer;
use mmdb_writer::ipnet::IpNet;
use serde::Serialize;

use crate::EnrichError;

/// File name of the demo city database.
pub const CITY_FILE: &str = "demo-City.mmdb";
/// File name of the demo ASN database.
pub const ASN_FILE: &str = "demo-ASN.mmdb";

/// Build epoch written into both files, so that regenerating them is byte-for-byte
/// reproducible (2026-01-01T00:00:00Z).
pub const DEMO_BUILD_EPOCH_SECS: u64 = 1_767_225_600;

/// One row of the demo table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoRange {
    /// CIDR prefix.
    pub network: &'static str,
    /// ISO 3166-1 alpha-2 country code.
    pub country: &'static str,
    /// First subdivision ISO code.
    pub subdivision: &'static str,
    /// City, English name.
    pub city: &'static str,
    /// Latitude, degrees.
    pub latitude: f64,
    /// Longitude, degrees.
    pub longitude: f64,
    /// Autonomous system number.
    pub asn: u32,
    /// Autonomous system organisation.
    pub as_org: &'static str,
}

const fn row(
    network: &'static str,
    country: &'static str,
    subdivision: &'static str,
    city: &'static str,
    (latitude, longitude): (f64, f64),
    asn: u32,
    as_org: &'static str,
) -> DemoRange {
    DemoRange {
        network,
        country,
        subdivision,
        city,
        latitude,
        longitude,
        asn,
        as_org,
    }
}

/// The demo assignments, in the order of `models/geoip/README.md`.
pub const DEMO_RANGES: &[DemoRange] = &[
    row(
        "64.124.0.0/16",
        "US",
        "WA",
        "Seattle",
        (47.61, -122.33),
        6461,
        "Example Corp Egress",
    ),
    row(
        "73.0.0.0/8",
        "US",
        "OR",
        "Portland",
        (45.52, -122.68),
        7922,
        "Comcast Cable",
    ),
    row(
        "24.0.0.0/12",
        "US",
        "NY",
        "New York",
        (40.71, -74.01),
        12271,
        "Charter Spectrum",
    ),
    row(
        "44.192.0.0/11",
        "US",
        "VA",
        "Ashburn",
        (39.04, -77.49),
        14618,
        "Amazon AES",
    ),
    row(
        "52.0.0.0/11",
        "US",
        "OR",
        "Boardman",
        (45.84, -119.70),
        16509,
        "Amazon.com",
    ),
    row(
        "3.120.0.0/14",
        "DE",
        "HE",
        "Frankfurt am Main",
        (50.11, 8.68),
        16509,
        "Amazon.com",
    ),
    row(
        "92.128.0.0/10",
        "FR",
        "IDF",
        "Paris",
        (48.86, 2.35),
        3215,
        "Orange",
    ),
    row(
        "81.2.64.0/18",
        "GB",
        "ENG",
        "London",
        (51.51, -0.13),
        2856,
        "British Telecommunications",
    ),
    row(
        "45.148.8.0/22",
        "NL",
        "NH",
        "Amsterdam",
        (52.37, 4.90),
        48090,
        "Example VPS Hosting",
    ),
    row(
        "5.188.0.0/16",
        "RU",
        "MOW",
        "Moscow",
        (55.75, 37.62),
        49505,
        "Example Hosting RU",
    ),
    row(
        "103.21.244.0/22",
        "SG",
        "01",
        "Singapore",
        (1.29, 103.85),
        14061,
        "DigitalOcean",
    ),
    row(
        "185.220.100.0/22",
        "DE",
        "BE",
        "Berlin",
        (52.52, 13.40),
        208294,
        "Example Anonymizer",
    ),
    row(
        "2001:db9::/32",
        "US",
        "WA",
        "Seattle",
        (47.61, -122.33),
        6461,
        "Example Corp Egress",
    ),
];

/// Accuracy radius written for every demo city record, kilometres.
pub const DEMO_ACCURACY_KM: u16 = 20;

#[derive(Serialize)]
struct IsoCode<'a> {
    iso_code: &'a str,
}

#[derive(Serialize)]
struct Names<'a> {
    names: BTreeMap<&'static str, &'a str>,
}

#[derive(Serialize)]
struct Location {
    latitude: f64,
    longitude: f64,
    accuracy_radius: u16,
}

/// A record shaped like MaxMind's GeoIP2-City (the fields bedguard reads, plus names).
#[derive(Serialize)]
struct CityRecord<'a> {
    city: Names<'a>,
    country: IsoCode<'a>,
    registered_country: IsoCode<'a>,
    subdivisions: [IsoCode<'a>; 1],
    location: Location,
}

/// A record shaped like MaxMind's GeoLite2-ASN.
#[derive(Serialize)]
struct AsnRecord<'a> {
    autonomous_system_number: u32,
    autonomous_system_organization: &'a str,
}

/// Serialised demo databases, `(city, asn)`.
///
/// # Errors
///
/// [`EnrichError::Writer`] if a range does not parse or the writer rejects a record.
pub fn demo_database_bytes() -> Result<(Vec<u8>, Vec<u8>), EnrichError> {
    let epoch = UNIX_EPOCH + Duration::from_secs(DEMO_BUILD_EPOCH_SECS);
    let mut city = writer(
        "GeoIP2-City",
        "bedguard demo city database (invented)",
        epoch,
    );
    let mut asn = writer(
        "GeoLite2-ASN",
        "bedguard demo ASN database (invented)",
        epoch,
    );
    for r in DEMO_RANGES {
        let net: IpNet = r
            .network
            .parse()
            .map_err(|e| EnrichError::Writer(format!("range {}: {e}", r.network)))?;
        let record = CityRecord {
            city: Names {
                names: BTreeMap::from([("en", r.city)]),
            },
            country: IsoCode {
                iso_code: r.country,
            },
            registered_country: IsoCode {
                iso_code: r.country,
            },
            subdivisions: [IsoCode {
                iso_code: r.subdivision,
            }],
            location: Location {
                latitude: r.latitude,
                longitude: r.longitude,
                accuracy_radius: DEMO_ACCURACY_KM,
            },
        };
        city.insert(net, &record).map_err(writer_error)?;
        asn.insert(
            net,
            &AsnRecord {
                autonomous_system_number: r.asn,
                autonomous_system_organization: r.as_org,
            },
        )
        .map_err(writer_error)?;
    }
    Ok((
        city.to_bytes().map_err(writer_error)?,
        asn.to_bytes().map_err(writer_error)?,
    ))
}

/// Write `demo-City.mmdb` and `demo-ASN.mmdb` into `dir` (created if missing) and return
/// their paths `(city, asn)`.
///
/// # Errors
///
/// [`EnrichError::Writer`] from the writer, [`EnrichError::Io`] naming the file that could
/// not be written.
pub fn write_demo_databases(dir: &Path) -> Result<(PathBuf, PathBuf), EnrichError> {
    let (city, asn) = demo_database_bytes()?;
    fs::create_dir_all(dir).map_err(|source| EnrichError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let city_path = dir.join(CITY_FILE);
    let asn_path = dir.join(ASN_FILE);
    for (path, bytes) in [(&city_path, city), (&asn_path, asn)] {
        fs::write(path, bytes).map_err(|source| EnrichError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok((city_path, asn_path))
}

fn writer(database_type: &str, description: &str, epoch: SystemTime) -> Writer {
    Writer::builder(database_type)
        .description(&[("en", description)])
        .build_epoch(epoch)
        .build()
}

fn writer_error(e: mmdb_writer::Error) -> EnrichError {
    EnrichError::Writer(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Enricher, GeoIpConfig};
    use detect::NetClass;

    fn models_geoip() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/geoip")
    }

    /// The table in `models/geoip/README.md` and [`DEMO_RANGES`] describe the same data.
    #[test]
    fn readme_table_matches_demo_ranges() {
        let readme = fs::read_to_string(models_geoip().join("README.md")).unwrap();
        let rows: Vec<Vec<String>> = readme
            .lines()
            .filter(|l| l.starts_with('|'))
            .map(|l| {
                l.trim_matches('|')
                    .split('|')
                    .map(|c| c.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|cells| cells[0].parse::<IpNet>().is_ok())
            .collect();
        assert_eq!(rows.len(), DEMO_RANGES.len(), "README rows: {rows:?}");
        for (cells, r) in rows.iter().zip(DEMO_RANGES) {
            assert_eq!(cells[0], r.network);
            assert_eq!(cells[1], r.country);
            assert_eq!(cells[2], r.subdivision);
            assert_eq!(cells[3], r.city);
            assert_eq!(cells[4], format!("{:.2}, {:.2}", r.latitude, r.longitude));
            assert_eq!(cells[5], r.asn.to_string());
            assert_eq!(cells[6], r.as_org);
        }
    }

    /// The committed files are what the generator writes today.
    #[test]
    fn committed_demo_files_are_current() {
        let (city, asn) = demo_database_bytes().unwrap();
        let dir = models_geoip();
        assert!(
            fs::read(dir.join(CITY_FILE)).unwrap() == city,
            "regenerate demo-City.mmdb"
        );
        assert!(
            fs::read(dir.join(ASN_FILE)).unwrap() == asn,
            "regenerate demo-ASN.mmdb"
        );
    }

    /// Every demo range answers through the real reader, first and last address alike.
    #[test]
    fn generated_databases_answer_every_range() {
        let dir = tempfile::tempdir().unwrap();
        let (city_path, asn_path) = write_demo_databases(dir.path()).unwrap();
        let (enricher, warnings) = Enricher::open(&GeoIpConfig {
            city_db_path: Some(city_path),
            asn_db_path: Some(asn_path),
            cache_entries: 64,
        })
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        for r in DEMO_RANGES {
            let net: IpNet = r.network.parse().unwrap();
            for ip in [net.network(), net.broadcast()] {
                let (class, geo) = enricher.lookup(&ip.to_string());
                assert_eq!(class, NetClass::Public, "{ip}");
                assert_eq!(geo.country.as_deref(), Some(r.country), "{ip}");
                assert_eq!(geo.subdivision.as_deref(), Some(r.subdivision), "{ip}");
                assert_eq!(geo.city.as_deref(), Some(r.city), "{ip}");
                assert_eq!(geo.latitude, Some(r.latitude), "{ip}");
                assert_eq!(geo.longitude, Some(r.longitude), "{ip}");
                assert_eq!(geo.accuracy_km, Some(u32::from(DEMO_ACCURACY_KM)), "{ip}");
                assert_eq!(geo.asn, Some(r.asn), "{ip}");
                assert_eq!(geo.as_org.as_deref(), Some(r.as_org), "{ip}");
            }
        }
        // Just outside a range: public, but unknown to the demo databases.
        let (class, geo) = enricher.lookup("64.125.0.1");
        assert_eq!(class, NetClass::Public);
        assert_eq!(geo, detect::Geo::default());
    }
}
