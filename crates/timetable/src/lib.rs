//! noriai's timetables: GTFS and GTFS-JP feeds (a zip or a directory) read
//! into immutable indexes at load, and the questions riders and operators
//! ask of them answered without IO: stops by name or kana reading or
//! nearby, the next departures from a stop, a route's day as a table, and
//! names in the rider's language (`ja`, `ja-Hrkt`, `en`, falling back to the
//! feed's own), and journeys over them (rounds of the Connection Scan
//! Algorithm from priced ways in to ways out).

mod feed;
pub mod flex;
mod journey;
mod query;
mod read;
mod translate;

pub use feed::{Feed, Route, Service, Stop, StopTime, Trip};
pub use journey::{Access, Egress, Journey, JourneyRules, Part};
pub use query::{Departure, RouteTable, StopHit};

/// Why a feed did not load. Positions are 1-based; column 0 means the
/// column is missing altogether.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{path}: {message}")]
    Open { path: String, message: String },
    #[error("{file}:{line}:{column}: {message}")]
    At { file: String, line: u64, column: usize, message: String },
}
