//! GeoIP through real mmdb files written with `mmdb-writer` and read with `maxminddb`:
//! lookups, missing and corrupt files, hot reload, concurrent use.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use detect::{Geo, NetClass};
use enrich::{EnrichError, Enricher, GeoIpConfig, GeoLookup};
use mmdb_writer::Writer;
use mmdb_writer::ipnet::IpNet;
use serde::Serialize;

#[derive(Serialize)]
struct Iso<'a> {
    iso_code: &'a str,
}

#[derive(Serialize)]
struct City<'a> {
    names: BTreeMap<&'a str, &'a str>,
    geoname_id: u32,
}

#[derive(Serialize)]
struct Location {
    latitude: f64,
    longitude: f64,
    accuracy_radius: u16,
    time_zone: &'static str,
}

#[derive(Serialize)]
struct CityRecord<'a> {
    city: City<'a>,
    country: Iso<'a>,
    subdivisions: Vec<Iso<'a>>,
    location: Location,
}

#[derive(Serialize)]
struct AsnRecord<'a> {
    autonomous_system_number: u32,
    autonomous_system_organization: &'a str,
}

/// `(network, country, subdivisions, city, asn, org)`
type Row<'a> = (&'a str, &'a str, &'a [&'a str], &'a str, u32, &'a str);

fn city_db(rows: &[Row<'_>], epoch_secs: u64) -> Vec<u8> {
    let mut w = Writer::builder("GeoIP2-City")
        .build_epoch(UNIX_EPOCH + Duration::from_secs(epoch_secs))
        .build();
    for (i, &(net, country, subdivisions, city, _, _)) in rows.iter().enumerate() {
        let record = CityRecord {
            city: City {
                names: BTreeMap::from([("en", city), ("de", "Stadt")]),
                geoname_id: 1000 + i as u32,
            },
            country: Iso { iso_code: country },
            subdivisions: subdivisions.iter().map(|s| Iso { iso_code: s }).collect(),
            location: Location {
                latitude: 10.0 + i as f64,
                longitude: -20.5 - i as f64,
                accuracy_radius: 50 + i as u16,
                time_zone: "Etc/UTC",
            },
        };
        w.insert(net.parse::<IpNet>().unwrap(), &record).unwrap();
    }
    w.to_bytes().unwrap()
}

fn asn_db(rows: &[Row<'_>], epoch_secs: u64) -> Vec<u8> {
    let mut w = Writer::builder("GeoLite2-ASN")
        .build_epoch(UNIX_EPOCH + Duration::from_secs(epoch_secs))
        .build();
    for &(net, _, _, _, asn, org) in rows {
        w.insert(
            net.parse::<IpNet>().unwrap(),
            &AsnRecord {
                autonomous_system_number: asn,
                autonomous_system_organization: org,
            },
        )
        .unwrap();
    }
    w.to_bytes().unwrap()
}

const FIRST: &[Row<'static>] = &[
    (
        "198.51.99.0/24",
        "US",
        &["WA", "KC"],
        "Seattle",
        64500,
        "First Corp",
    ),
    (
        "2a02:c000::/29",
        "NL",
        &["NH"],
        "Amsterdam",
        64501,
        "Hosting NL",
    ),
    ("11.0.0.0/8", "JP", &[], "Tokyo", 64502, "Tokyo Net"),
];

const SECOND: &[Row<'static>] = &[(
    "198.51.99.0/24",
    "BR",
    &["SP"],
    "São Paulo",
    64600,
    "Second Corp",
)];

fn config(dir: &Path, cache_entries: usize) -> GeoIpConfig {
    GeoIpConfig {
        city_db_path: Some(dir.join("City.mmdb")),
        asn_db_path: Some(dir.join("ASN.mmdb")),
        cache_entries,
    }
}

fn write_both(dir: &Path, rows: &[Row<'_>], epoch: u64) {
    fs::write(dir.join("City.mmdb"), city_db(rows, epoch)).unwrap();
    fs::write(dir.join("ASN.mmdb"), asn_db(rows, epoch)).unwrap();
}

/// Replace `name` the way geoipupdate does: write a temporary file, rename it over.
fn replace(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp: PathBuf = dir.join(format!("{name}.tmp"));
    fs::write(&tmp, bytes).unwrap();
    fs::rename(&tmp, dir.join(name)).unwrap();
}

#[test]
fn looks_up_city_and_asn_fields() {
    let dir = tempfile::tempdir().unwrap();
    write_both(dir.path(), FIRST, 1_700_000_000);
    let (e, warnings) = Enricher::open(&config(dir.path(), 1024)).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");

    let (class, geo) = e.lookup("198.51.99.17");
    assert_eq!(class, NetClass::Public);
    assert_eq!(
        geo,
        Geo {
            country: Some("US".into()),
            subdivision: Some("WA".into()),
            city: Some("Seattle".into()),
            latitude: Some(10.0),
            longitude: Some(-20.5),
            accuracy_km: Some(50),
            asn: Some(64500),
            as_org: Some("First Corp".into()),
        }
    );
    let (_, v6) = e.lookup("2a02:c007:ffff::1");
    assert_eq!(
        (v6.country.as_deref(), v6.city.as_deref(), v6.asn),
        (Some("NL"), Some("Amsterdam"), Some(64501))
    );
    // IPv4-mapped IPv6 finds the IPv4 record.
    let (_, mapped) = e.lookup("::ffff:11.2.3.4");
    assert_eq!(
        (mapped.country.as_deref(), mapped.subdivision, mapped.asn),
        (Some("JP"), None, Some(64502))
    );
    // Public but not in the database; reserved; service; invalid.
    assert_eq!(e.lookup("8.8.8.8"), (NetClass::Public, Geo::default()));
    assert_eq!(e.lookup("10.0.0.1"), (NetClass::Private, Geo::default()));
    assert_eq!(
        e.lookup("AWS Internal"),
        (NetClass::AwsService, Geo::default())
    );
    assert_eq!(
        e.lookup("035.249.253.232"),
        (NetClass::Invalid, Geo::default())
    );

    let summary = e.describe();
    assert!(
        summary.contains("GeoIP2-City") && summary.contains("GeoLite2-ASN"),
        "{summary}"
    );
    assert!(summary.contains("2023-11-14T22:13:20"), "{summary}");
}

#[test]
fn cache_answers_repeat_lookups() {
    let dir = tempfile::tempdir().unwrap();
    write_both(dir.path(), FIRST, 1);
    let (e, _) = Enricher::open(&config(dir.path(), 1024)).unwrap();
    let first = e.lookup("198.51.99.1");
    for _ in 0..9 {
        assert_eq!(e.lookup("198.51.99.1"), first);
    }
    let stats = e.cache_stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (9, 1, 1));
}

#[test]
fn missing_databases_are_warnings_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (e, warnings) = Enricher::open(&config(dir.path(), 16)).unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("City.mmdb not found: country/city features off"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("ASN.mmdb not found: ASN features off"),
        "{warnings:?}"
    );
    assert_eq!(e.loaded(), (false, false));
    assert_eq!(e.lookup("198.51.99.1"), (NetClass::Public, Geo::default()));

    // Only the ASN database present.
    fs::write(dir.path().join("ASN.mmdb"), asn_db(FIRST, 1)).unwrap();
    let (e, warnings) = Enricher::open(&config(dir.path(), 16)).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let (_, geo) = e.lookup("198.51.99.1");
    assert_eq!((geo.country, geo.asn), (None, Some(64500)));

    // Not configured at all.
    let (e, warnings) = Enricher::open(&GeoIpConfig {
        city_db_path: None,
        asn_db_path: None,
        cache_entries: 0,
    })
    .unwrap();
    assert_eq!(warnings.len(), 2);
    assert_eq!(e.describe(), "GeoIP city: off; GeoIP ASN: off");
}

#[test]
fn corrupt_database_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    write_both(dir.path(), FIRST, 1);
    let city = dir.path().join("City.mmdb");
    for bytes in [
        b"not an mmdb file".to_vec(),
        Vec::new(),
        city_db(FIRST, 1)[..200].to_vec(),
    ] {
        fs::write(&city, &bytes).unwrap();
        let err = Enricher::open(&config(dir.path(), 16)).unwrap_err();
        assert!(
            matches!(err, EnrichError::Database { role: "city", .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&city.display().to_string()),
            "{err}"
        );
    }
}

#[test]
fn wrong_database_type_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    // ASN data at the city path and vice versa.
    fs::write(dir.path().join("City.mmdb"), asn_db(FIRST, 1)).unwrap();
    fs::write(dir.path().join("ASN.mmdb"), city_db(FIRST, 1)).unwrap();
    let (_, warnings) = Enricher::open(&config(dir.path(), 16)).unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("\"GeoLite2-ASN\""), "{warnings:?}");
}

#[test]
fn reload_picks_up_a_replaced_database_and_clears_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    write_both(dir.path(), FIRST, 1_700_000_000);
    let (e, _) = Enricher::open(&config(dir.path(), 1024)).unwrap();
    assert_eq!(e.lookup("198.51.99.1").1.asn, Some(64500));
    assert!(!e.reload_if_changed().unwrap(), "nothing changed yet");

    replace(dir.path(), "City.mmdb", &city_db(SECOND, 1_800_000_000));
    replace(dir.path(), "ASN.mmdb", &asn_db(SECOND, 1_800_000_000));
    assert!(e.reload_if_changed().unwrap());
    let (_, geo) = e.lookup("198.51.99.1");
    assert_eq!(
        (
            geo.country.as_deref(),
            geo.subdivision.as_deref(),
            geo.city.as_deref(),
            geo.asn,
            geo.as_org.as_deref()
        ),
        (
            Some("BR"),
            Some("SP"),
            Some("São Paulo"),
            Some(64600),
            Some("Second Corp")
        )
    );
    // Ranges only the old database had are gone.
    assert_eq!(e.lookup("11.1.1.1").1, Geo::default());
    assert!(e.describe().contains("2027-01-15"), "{}", e.describe());
    assert!(!e.reload_if_changed().unwrap());
}

#[test]
fn reload_loads_a_database_that_appears_and_survives_one_that_disappears() {
    let dir = tempfile::tempdir().unwrap();
    let (e, warnings) = Enricher::open(&config(dir.path(), 1024)).unwrap();
    assert_eq!(warnings.len(), 2);
    assert_eq!(e.lookup("198.51.99.1").1.city, None);

    write_both(dir.path(), FIRST, 1);
    assert!(e.reload_if_changed().unwrap());
    assert_eq!(e.lookup("198.51.99.1").1.city.as_deref(), Some("Seattle"));

    fs::remove_file(dir.path().join("City.mmdb")).unwrap();
    assert!(!e.reload_if_changed().unwrap());
    assert_eq!(e.lookup("198.51.99.1").1.city.as_deref(), Some("Seattle"));
}

#[test]
fn failed_reload_keeps_the_old_database() {
    let dir = tempfile::tempdir().unwrap();
    write_both(dir.path(), FIRST, 1);
    let (e, _) = Enricher::open(&config(dir.path(), 1024)).unwrap();
    replace(dir.path(), "City.mmdb", b"truncated garbage");
    let err = e.reload_if_changed().unwrap_err();
    assert!(err.to_string().contains("City.mmdb"), "{err}");
    assert_eq!(e.lookup("198.51.99.1").1.city.as_deref(), Some("Seattle"));
    // A good file afterwards is picked up.
    replace(dir.path(), "City.mmdb", &city_db(SECOND, 2));
    assert!(e.reload_if_changed().unwrap());
    assert_eq!(e.lookup("198.51.99.1").1.city.as_deref(), Some("São Paulo"));
}

#[test]
fn shared_across_threads_while_reloading() {
    let dir = tempfile::tempdir().unwrap();
    write_both(dir.path(), FIRST, 1);
    let (e, _) = Enricher::open(&config(dir.path(), 64)).unwrap();
    let e: Arc<dyn GeoLookup> = Arc::new(e);
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let e = Arc::clone(&e);
            std::thread::spawn(move || {
                for i in 0..2_000u32 {
                    let ip = format!("198.51.99.{}", (i * 7 + t) % 256);
                    let (class, geo) = e.lookup(&ip);
                    assert_eq!(class, NetClass::Public);
                    assert!(
                        matches!(geo.asn, Some(64500) | Some(64600)),
                        "{ip}: {geo:?}"
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn lookups_agree_with_reader_during_concurrent_reload() {
    let dir = tempfile::tempdir().unwrap();
    write_both(dir.path(), FIRST, 1);
    let (e, _) = Enricher::open(&config(dir.path(), 64)).unwrap();
    let e = Arc::new(e);
    let reader = {
        let e = Arc::clone(&e);
        std::thread::spawn(move || {
            for i in 0..5_000u32 {
                let geo = e.lookup(&format!("198.51.99.{}", i % 256)).1;
                // Each database answers from its old or its new version (the two files
                // are swapped one after the other), never garbage or a panic.
                let pair = (geo.country.as_deref(), geo.asn);
                assert!(
                    matches!(
                        pair,
                        (Some("US"), Some(64500))
                            | (Some("BR"), Some(64600))
                            | (Some("US"), Some(64600))
                            | (Some("BR"), Some(64500))
                    ),
                    "{geo:?}"
                );
            }
        })
    };
    for round in 0..20u64 {
        let rows = if round % 2 == 0 { SECOND } else { FIRST };
        replace(dir.path(), "City.mmdb", &city_db(rows, round));
        replace(dir.path(), "ASN.mmdb", &asn_db(rows, round));
        e.reload_if_changed().unwrap();
    }
    reader.join().unwrap();
    // After the last reload (FIRST), the cache holds no stale answers.
    assert_eq!(e.lookup("198.51.99.1").1.asn, Some(64500));
    assert_eq!(e.lookup("198.51.99.200").1.country.as_deref(), Some("US"));
}
