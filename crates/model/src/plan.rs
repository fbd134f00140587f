//! Plans: what each vehicle does, stop by stop, with times and load.

use serde::{Deserialize, Serialize};

use crate::request::{Capacity, RequestId};
use crate::travel::LocId;
use crate::vehicle::VehicleId;

/// What happens at a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StopKind {
    Pickup(RequestId),
    Dropoff(RequestId),
    /// The driver's break number `n` of the vehicle's list.
    Break(usize),
}

/// One stop of a vehicle's plan. `arrival <= start_of_service`; the difference
/// is waiting. `load` is the load on board when leaving the stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedStop {
    pub kind: StopKind,
    pub location: LocId,
    pub arrival: f64,
    pub start_of_service: f64,
    pub departure: f64,
    pub load: Capacity,
}

/// The plan of one vehicle: leave the start depot at `departure`, visit the
/// stops in order, reach the end depot at `return_time`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutePlan {
    pub vehicle: VehicleId,
    pub departure: f64,
    pub stops: Vec<PlannedStop>,
    pub return_time: f64,
    /// Travelled distance including the way back to the depot.
    pub distance: f64,
}

/// The plan of the whole fleet.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Plan {
    pub routes: Vec<RoutePlan>,
}

impl Plan {
    /// The planned start of service at each request's pickup.
    pub fn pickup_starts(&self) -> std::collections::HashMap<RequestId, f64> {
        self.routes
            .iter()
            .flat_map(|r| &r.stops)
            .filter_map(|s| match s.kind {
                StopKind::Pickup(id) => Some((id, s.start_of_service)),
                _ => None,
            })
            .collect()
    }
}
