//! Simulated service days: the crate owns scenarios (map, area, stops, fleet,
//! booking rules, costs, demand), demand generation from OpenStreetMap places,
//! a simulated clock that drives the real dispatcher (`noriai_dispatch`) the
//! way the booking server does, the KPIs a town council compares, and
//! self-contained HTML reports. It never reads the future: each decision uses
//! only bookings, cancellations and vehicle positions known at that moment.

pub mod actual;
pub mod compare;
pub mod demand;
pub mod kpi;
pub mod osm;
pub mod places;
pub mod report;
pub mod run;
pub mod scenario;
pub mod world;

pub use compare::{
    Comparison, RunOutput, Spread, compare_seeds, load_demand, run_many, run_one, run_seeds, sweep_vehicles,
    write_run, write_seeds,
};
pub use demand::{Demand, Trip};
pub use kpi::Kpis;
pub use run::{DayResult, ExecutedStop, Outcome, RiderRecord, simulate};
pub use scenario::Scenario;
pub use world::{MapCache, World};

use std::path::PathBuf;

/// Everything that can go wrong before or while simulating, naming the file,
/// key or row to fix.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: `{key}`: {message}")]
    Scenario { path: PathBuf, key: String, message: String },
    #[error("{path}: row {row} (line {line}): {message}")]
    CsvRow { path: PathBuf, row: usize, line: u64, message: String },
    #[error("{path}: {message}")]
    Csv { path: PathBuf, message: String },
    #[error(transparent)]
    Roads(#[from] noriai_roads::RoadsError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}
