//! Domain types shared by every noriai crate: coordinates, travel-time sources,
//! requests, vehicles and plans. Nothing here does IO; everything is plain data
//! that the roads, dispatch, store and server crates agree on.

pub mod access;
pub mod geo;
pub mod live;
pub mod plan;
pub mod request;
pub mod service;
pub mod shown;
pub mod text;
pub mod travel;
pub mod vehicle;

pub use geo::{LatLon, LatLonError};
pub use plan::{Plan, PlannedStop, RoutePlan, StopKind};
pub use request::{Capacity, ModelError, Request, RequestId, TimeWindow};
pub use shown::{Shown, excerpt};
pub use travel::{LocId, MatrixTravelTimes, TravelTimes};
pub use vehicle::{Break, Vehicle, VehicleId};
