//! Errors of map import, prepared-graph files and snapping. Each names the file
//! or the point and says what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RoadsError {
    #[error("cannot open map file {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not an OpenStreetMap PBF file ({detail}); download a .osm.pbf extract, e.g. from download.geofabrik.de"
    )]
    NotPbf { path: PathBuf, detail: String },
    #[error(
        "{path} is a PBF file but could not be read to the end, it may be truncated or corrupt: {detail}"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path} holds no OpenStreetMap data (the area is empty)")]
    EmptyArea { path: PathBuf },
    #[error("{path} has {ways} ways but no road a car may drive; is this the right area?")]
    NoDrivableRoad { path: PathBuf, ways: usize },
    #[error("prepared graph {path} cannot be used: {detail}; rebuild it with `noriai map build`")]
    Prepared { path: PathBuf, detail: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A point could not be placed on the road network.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SnapError {
    #[error(
        "{point} is {distance_m:.0} m from the nearest drivable road (limit {limit_m:.0} m); choose a point on or near a road"
    )]
    TooFar { point: noriai_model::LatLon, distance_m: f64, limit_m: f64 },
    #[error("the road network is empty")]
    EmptyNetwork,
}
