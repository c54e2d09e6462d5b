//! GeoIP enrichment: city and ASN mmdb databases, a per-address cache and hot reload.

use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use detect::{Geo, NetClass, SmolStr};
use maxminddb::Reader;
use serde::Deserialize;

use crate::EnrichError;
use crate::cache::{CacheStats, GeoCache};
use crate::source::classify_source;

/// Default path of the city database (where `geoipupdate` puts it).
pub const DEFAULT_CITY_DB: &str = "/var/lib/GeoIP/GeoLite2-City.mmdb";
/// Default path of the ASN database.
pub const DEFAULT_ASN_DB: &str = "/var/lib/GeoIP/GeoLite2-ASN.mmdb";
/// Default number of cached addresses.
pub const DEFAULT_CACHE_ENTRIES: usize = 65_536;

/// Where the GeoIP databases are. A missing file only turns its features off.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoIpConfig {
    /// GeoIP2/GeoLite2/DB-IP city database; `None` disables country and city features.
    pub city_db_path: Option<PathBuf>,
    /// GeoLite2/DB-IP ASN database; `None` disables the ASN feature.
    pub asn_db_path: Option<PathBuf>,
    /// Addresses whose answers are cached (about; 0 disables the cache).
    pub cache_entries: usize,
}

impl Default for GeoIpConfig {
    fn default() -> Self {
        Self {
            city_db_path: Some(PathBuf::from(DEFAULT_CITY_DB)),
            asn_db_path: Some(PathBuf::from(DEFAULT_ASN_DB)),
            cache_entries: DEFAULT_CACHE_ENTRIES,
        }
    }
}

/// Something that turns a raw `sourceIPAddress` into network facts.
pub trait GeoLookup: Send + Sync {
    /// Classify `source_ip` and, for public addresses, geolocate it.
    fn lookup(&self, source_ip: &str) -> (NetClass, Geo);
}

/// Which of the two databases a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    City,
    Asn,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::City => "city",
            Role::Asn => "ASN",
        }
    }

    fn features(self) -> &'static str {
        match self {
            Role::City => "country/city features off",
            Role::Asn => "ASN features off",
        }
    }

    /// Whether a `database_type` looks like it carries this role's fields.
    fn accepts(self, database_type: &str) -> bool {
        let t = database_type.to_ascii_lowercase();
        match self {
            Role::City => t.contains("city") || t.contains("enterprise"),
            Role::Asn => t.contains("asn") || t.contains("isp"),
        }
    }
}

/// Identity of a file on disk, to notice a replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileStamp {
    fn of(meta: &fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

struct LoadedDb {
    reader: Reader<Vec<u8>>,
    stamp: FileStamp,
}

struct Slot {
    role: Role,
    path: Option<PathBuf>,
    db: RwLock<Option<Arc<LoadedDb>>>,
}

/// What opening or re-checking a database path found.
enum Probe {
    /// No path configured.
    Disabled,
    /// The file does not exist.
    Missing,
    /// The file exists with this stamp.
    Present(FileStamp),
}

impl Slot {
    fn current(&self) -> Option<Arc<LoadedDb>> {
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn probe(&self) -> Result<Probe, EnrichError> {
        let Some(path) = &self.path else {
            return Ok(Probe::Disabled);
        };
        match fs::metadata(path) {
            Ok(meta) => Ok(Probe::Present(FileStamp::of(&meta))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Probe::Missing),
            Err(source) => Err(EnrichError::Io {
                path: path.clone(),
                source,
            }),
        }
    }

    /// Read and validate the file; `warnings` gets notes a person should see.
    fn load(&self, path: &Path, warnings: &mut Vec<String>) -> Result<LoadedDb, EnrichError> {
        let bytes = fs::read(path).map_err(|source| EnrichError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // Stamp what we read: taken after the read, a replacement racing with us is
        // noticed on the next check at worst.
        let stamp = fs::metadata(path)
            .map(|m| FileStamp::of(&m))
            .map_err(|source| EnrichError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let reader = Reader::from_source(bytes).map_err(|source| EnrichError::Database {
            role: self.role.name(),
            path: path.to_path_buf(),
            source,
        })?;
        let database_type = &reader.metadata().database_type;
        if !self.role.accepts(database_type) {
            warnings.push(format!(
                "GeoIP {} database {} has type {database_type:?}, which does not look like a {} database",
                self.role.name(),
                path.display(),
                self.role.name()
            ));
        }
        Ok(LoadedDb { reader, stamp })
    }

    fn store(&self, db: LoadedDb) {
        *self.db.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(db));
    }
}

/// Classifies source addresses and geolocates public ones; `Send + Sync`, shared by
/// reference between workers.
pub struct Enricher {
    city: Slot,
    asn: Slot,
    cache: GeoCache,
}

impl std::fmt::Debug for Enricher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enricher")
            .field("databases", &self.describe())
            .finish_non_exhaustive()
    }
}

impl Enricher {
    /// Open the configured databases. A missing file is not an error: it yields a warning
    /// and the enricher works without it.
    ///
    /// # Errors
    ///
    /// [`EnrichError::Database`] naming the path when a file exists but is not a valid
    /// mmdb database; [`EnrichError::Io`] when it cannot be read.
    pub fn open(config: &GeoIpConfig) -> Result<(Self, Vec<String>), EnrichError> {
        let enricher = Self {
            city: Slot {
                role: Role::City,
                path: config.city_db_path.clone(),
                db: RwLock::new(None),
            },
            asn: Slot {
                role: Role::Asn,
                path: config.asn_db_path.clone(),
                db: RwLock::new(None),
            },
            cache: GeoCache::new(config.cache_entries),
        };
        let mut warnings = Vec::new();
        for slot in [&enricher.city, &enricher.asn] {
            match (slot.probe()?, &slot.path) {
                (Probe::Present(_), Some(path)) => slot.store(slot.load(path, &mut warnings)?),
                (Probe::Missing, Some(path)) => warnings.push(format!(
                    "GeoIP {} database {} not found: {}",
                    slot.role.name(),
                    path.display(),
                    slot.role.features()
                )),
                _ => warnings.push(format!(
                    "GeoIP {} database not configured: {}",
                    slot.role.name(),
                    slot.role.features()
                )),
            }
        }
        Ok((enricher, warnings))
    }

    /// An enricher without databases: it only classifies addresses.
    #[must_use]
    pub fn without_databases() -> Self {
        Self {
            city: Slot {
                role: Role::City,
                path: None,
                db: RwLock::new(None),
            },
            asn: Slot {
                role: Role::Asn,
                path: None,
                db: RwLock::new(None),
            },
            cache: GeoCache::new(0),
        }
    }

    /// Classify `source_ip` (see [`classify_source`]) and, when it is public, look it up
    /// in the databases (through the cache).
    pub fn lookup(&self, source_ip: &str) -> (NetClass, Geo) {
        match classify_source(source_ip) {
            (NetClass::Public, Some(ip)) => (NetClass::Public, self.lookup_ip(ip)),
            (class, _) => (class, Geo::default()),
        }
    }

    /// Geolocate an address, through the cache; no range checks.
    pub fn lookup_ip(&self, ip: IpAddr) -> Geo {
        if let Some(geo) = self.cache.get(&ip) {
            return geo;
        }
        let epoch = self.cache.epoch();
        let mut geo = Geo::default();
        if let Some(db) = self.city.current() {
            fill_city(&db.reader, ip, &mut geo);
        }
        if let Some(db) = self.asn.current() {
            fill_asn(&db.reader, ip, &mut geo);
        }
        self.cache.insert(epoch, ip, geo.clone());
        geo
    }

    /// Re-check the database files and load any that changed (size, modification time or
    /// inode), appeared, or were not loaded yet; clears the cache when anything changed.
    /// A file that disappeared keeps its last loaded version.
    ///
    /// # Errors
    ///
    /// As [`Enricher::open`]; on error the previously loaded databases stay in use.
    pub fn reload_if_changed(&self) -> Result<bool, EnrichError> {
        let mut changed = false;
        for slot in [&self.city, &self.asn] {
            let (Probe::Present(stamp), Some(path)) = (slot.probe()?, &slot.path) else {
                continue;
            };
            if slot.current().is_some_and(|db| db.stamp == stamp) {
                continue;
            }
            let mut warnings = Vec::new();
            let db = slot.load(path, &mut warnings)?;
            for w in warnings {
                tracing::warn!("{w}");
            }
            tracing::info!(
                path = %path.display(),
                database_type = %db.reader.metadata().database_type,
                build_epoch = db.reader.metadata().build_epoch,
                "GeoIP {} database reloaded",
                slot.role.name()
            );
            slot.store(db);
            changed = true;
        }
        if changed {
            self.cache.clear();
        }
        Ok(changed)
    }

    /// One line for the startup log: which databases are loaded, their type and build time.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (i, slot) in [&self.city, &self.asn].into_iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            let _ = write!(out, "GeoIP {}: ", slot.role.name());
            match (slot.current(), &slot.path) {
                (Some(db), Some(path)) => {
                    let meta = db.reader.metadata();
                    let built = i64::try_from(meta.build_epoch)
                        .ok()
                        .and_then(|secs| secs.checked_mul(1000))
                        .map_or_else(
                            || meta.build_epoch.to_string(),
                            cloudtrail::time::format_rfc3339,
                        );
                    let _ = write!(
                        out,
                        "{} ({}, IPv{}, built {built}, {} nodes)",
                        path.display(),
                        meta.database_type,
                        meta.ip_version,
                        meta.node_count
                    );
                }
                (None, Some(path)) => {
                    let _ = write!(out, "{} not loaded", path.display());
                }
                (_, None) => out.push_str("off"),
            }
        }
        out
    }

    /// Whether a city (`true`, `_`) and an ASN (`_`, `true`) database are loaded.
    #[must_use]
    pub fn loaded(&self) -> (bool, bool) {
        (self.city.current().is_some(), self.asn.current().is_some())
    }

    /// Cache counters.
    #[must_use]
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }
}

impl GeoLookup for Enricher {
    fn lookup(&self, source_ip: &str) -> (NetClass, Geo) {
        Enricher::lookup(self, source_ip)
    }
}

// Minimal views of MaxMind records: only the fields bedguard uses are decoded.

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct EnglishName<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct CityName<'a> {
    #[serde(borrow, default)]
    names: Option<EnglishName<'a>>,
}

#[derive(Deserialize)]
struct Location {
    #[serde(default, deserialize_with = "lenient::float")]
    latitude: Option<f64>,
    #[serde(default, deserialize_with = "lenient::float")]
    longitude: Option<f64>,
    #[serde(default, deserialize_with = "lenient::uint")]
    accuracy_radius: Option<u32>,
}

#[derive(Deserialize)]
struct CityRecord<'a> {
    #[serde(borrow, default)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    subdivisions: Option<Vec<IsoCode<'a>>>,
    #[serde(borrow, default)]
    city: Option<CityName<'a>>,
    #[serde(default)]
    location: Option<Location>,
}

#[derive(Deserialize)]
struct AsnRecord<'a> {
    #[serde(default, deserialize_with = "lenient::uint")]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

fn fill_city(reader: &Reader<Vec<u8>>, ip: IpAddr, geo: &mut Geo) {
    let record = match reader.lookup(ip).and_then(|r| r.decode::<CityRecord<'_>>()) {
        Ok(Some(record)) => record,
        Ok(None) => return,
        Err(e) => {
            tracing::debug!(%ip, error = %e, "GeoIP city lookup failed");
            return;
        }
    };
    geo.country = record.country.and_then(|c| c.iso_code).map(SmolStr::new);
    geo.subdivision = record
        .subdivisions
        .and_then(|s| s.into_iter().next())
        .and_then(|s| s.iso_code)
        .map(SmolStr::new);
    geo.city = record
        .city
        .and_then(|c| c.names)
        .and_then(|n| n.en)
        .map(SmolStr::new);
    if let Some(loc) = record.location {
        geo.latitude = loc.latitude;
        geo.longitude = loc.longitude;
        geo.accuracy_km = loc.accuracy_radius;
    }
}

fn fill_asn(reader: &Reader<Vec<u8>>, ip: IpAddr, geo: &mut Geo) {
    match reader.lookup(ip).and_then(|r| r.decode::<AsnRecord<'_>>()) {
        Ok(Some(record)) => {
            geo.asn = record.autonomous_system_number;
            geo.as_org = record.autonomous_system_organization.map(SmolStr::new);
        }
        Ok(None) => {}
        Err(e) => tracing::debug!(%ip, error = %e, "GeoIP ASN lookup failed"),
    }
}

/// Number decoding that accepts any width: MaxMind writes `accuracy_radius` as uint16 and
/// the ASN as uint32, other producers (DB-IP, custom writers) do not always agree, and the
/// mmdb decoder is strict about the requested width.
mod lenient {
    use std::fmt;

    use serde::Deserializer;
    use serde::de::{Error, Visitor};

    struct Uint;

    impl Visitor<'_> for Uint {
        type Value = Option<u32>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an unsigned integer")
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
            u32::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("{v} out of range")))
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
            u32::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("{v} out of range")))
        }

        fn visit_u128<E: Error>(self, v: u128) -> Result<Self::Value, E> {
            u32::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("{v} out of range")))
        }
    }

    struct Float;

    impl Visitor<'_> for Float {
        type Value = Option<f64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        #[allow(clippy::cast_precision_loss)] // coordinates: any integer is exact enough
        fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }

        #[allow(clippy::cast_precision_loss)]
        fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
    }

    pub(super) fn uint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        d.deserialize_any(Uint)
    }

    pub(super) fn float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        d.deserialize_any(Float)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_strict_keys() {
        let config: GeoIpConfig = toml::from_str("").unwrap();
        assert_eq!(config, GeoIpConfig::default());
        assert_eq!(
            config.city_db_path.as_deref(),
            Some(Path::new(DEFAULT_CITY_DB))
        );
        assert_eq!(
            config.asn_db_path.as_deref(),
            Some(Path::new(DEFAULT_ASN_DB))
        );

        let config: GeoIpConfig =
            toml::from_str("city_db_path = \"/x/City.mmdb\"\ncache_entries = 10").unwrap();
        assert_eq!(
            config.city_db_path.as_deref(),
            Some(Path::new("/x/City.mmdb"))
        );
        assert_eq!(
            config.asn_db_path.as_deref(),
            Some(Path::new(DEFAULT_ASN_DB))
        );
        assert_eq!(config.cache_entries, 10);

        let err = toml::from_str::<GeoIpConfig>("city_db = \"/x\"").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn role_accepts_known_database_types() {
        for t in [
            "GeoIP2-City",
            "GeoLite2-City",
            "DBIP-City-Lite",
            "GeoIP2-Enterprise",
        ] {
            assert!(Role::City.accepts(t), "{t}");
            assert!(!Role::Asn.accepts(t), "{t}");
        }
        for t in ["GeoLite2-ASN", "DBIP-ASN-Lite", "GeoIP2-ISP"] {
            assert!(Role::Asn.accepts(t), "{t}");
            assert!(!Role::City.accepts(t), "{t}");
        }
    }
}
