//! Domain types shared by every noriai crate: coordinates, travel-time sources,
//! requests, vehicles and plans. Nothing here does IO; everything is plain data
//! that the roads, dispatch, store and server crates agree on.

pub mod geo;
pub mod travel;

pub use geo::{LatLon, LatLonError};
pub use travel::{LocId, MatrixTravelTimes, TravelTimes};
