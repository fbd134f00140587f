//! WGS84 coordinates and great-circle distance.

use crate::Shown;
use serde::{Deserialize, Serialize};

/// Mean Earth radius in metres (IUGG), used for haversine distances.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A WGS84 point in degrees. Always valid once constructed through [`LatLon::new`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

/// Why a coordinate was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LatLonError {
    #[error("latitude {} is outside -90..=90 degrees", Shown(*.0))]
    Latitude(f64),
    #[error("longitude {} is outside -180..=180 degrees", Shown(*.0))]
    Longitude(f64),
    #[error("`{}` is not a coordinate; write it as LAT,LON in decimal degrees, e.g. 40.8222,140.7474", crate::excerpt(.0))]
    Syntax(String),
}

impl LatLon {
    /// A checked coordinate: finite, latitude within ±90, longitude within ±180.
    pub fn new(lat: f64, lon: f64) -> Result<Self, LatLonError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(LatLonError::Latitude(lat));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(LatLonError::Longitude(lon));
        }
        Ok(Self { lat, lon })
    }

    /// Great-circle distance in metres (haversine).
    pub fn distance_m(self, other: LatLon) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }
}

impl std::str::FromStr for LatLon {
    type Err = LatLonError;

    /// Parses `LAT,LON` (spaces allowed around the comma).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || LatLonError::Syntax(s.to_string());
        let (lat, lon) = s.split_once(',').ok_or_else(syntax)?;
        let lat: f64 = lat.trim().parse().map_err(|_| syntax())?;
        let lon: f64 = lon.trim().parse().map_err(|_| syntax())?;
        LatLon::new(lat, lon)
    }
}

impl std::fmt::Display for LatLon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.6},{:.6}", self.lat, self.lon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let p: LatLon = "40.8222, 140.7474".parse().unwrap();
        assert_eq!(p, LatLon { lat: 40.8222, lon: 140.7474 });
        assert!(matches!("91,0".parse::<LatLon>(), Err(LatLonError::Latitude(_))));
        assert!(matches!("0,181".parse::<LatLon>(), Err(LatLonError::Longitude(_))));
        assert!(matches!("aomori".parse::<LatLon>(), Err(LatLonError::Syntax(_))));
        assert!(matches!("NaN,1".parse::<LatLon>(), Err(LatLonError::Latitude(_))));
    }

    #[test]
    fn haversine_matches_known_distance() {
        // Aomori station to Hirosaki station: about 33 km as the crow flies.
        let aomori = LatLon::new(40.8286, 140.7342).unwrap();
        let hirosaki = LatLon::new(40.5994, 140.4853).unwrap();
        let d = aomori.distance_m(hirosaki);
        assert!((32_000.0..34_000.0).contains(&d), "{d}");
        assert!(aomori.distance_m(aomori) < 1e-6);
    }
}
