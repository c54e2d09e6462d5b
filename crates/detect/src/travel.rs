//! Impossible travel: two geolocated calls further apart than anyone can move in the
//! time between them.

use crate::config::TravelConfig;
use crate::observation::{NetClass, Observation};
use crate::profile::GeoFix;

/// Mean Earth radius, kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0;

/// A trip too fast to be real.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trip {
    /// Distance, minus both accuracy radii, kilometres.
    pub distance_km: f64,
    /// Time between the calls, minutes.
    pub minutes: f64,
    /// Implied speed, km/h (infinite for simultaneous calls).
    pub speed_kmh: f64,
}

/// Great-circle distance, kilometres.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

/// The impossible trip from `last` to `obs`, if it is one.
pub fn check(obs: &Observation, last: Option<&GeoFix>, cfg: &TravelConfig) -> Option<Trip> {
    let last = last?;
    if obs.net_class != NetClass::Public {
        return None;
    }
    let (lat, lon) = (obs.geo.latitude?, obs.geo.longitude?);
    if !crate::profile::valid_position(lat, lon) {
        return None;
    }
    let raw = haversine_km(f64::from(last.lat), f64::from(last.lon), lat, lon);
    let slack = f64::from(last.accuracy_km) + f64::from(obs.geo.accuracy_km.unwrap_or(0));
    let distance_km = raw - slack;
    if distance_km < cfg.min_distance_km {
        return None;
    }
    let hours = (obs.event_time - last.at_ms).abs() as f64 / 3_600_000.0;
    let speed_kmh = if hours > 0.0 {
        distance_km / hours
    } else {
        f64::INFINITY
    };
    (speed_kmh > cfg.max_speed_kmh).then_some(Trip {
        distance_km,
        minutes: hours * 60.0,
        speed_kmh,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_known_distance() {
        // Paris to New York, about 5837 km.
        let d = haversine_km(48.8566, 2.3522, 40.7128, -74.0060);
        assert!((d - 5837.0).abs() < 20.0, "{d}");
    }
}
