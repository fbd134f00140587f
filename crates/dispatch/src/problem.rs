//! A dispatch problem: a fleet, a set of requests and a travel-time source.

use std::collections::HashSet;

use noriai_model::{ModelError, Request, TravelTimes, Vehicle};

/// What the batch solver minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Objective {
    /// Total travelled distance (Cordeau DARP instances, the live service).
    #[default]
    Distance,
    /// Fewest vehicles first, then distance (Li & Lim PDPTW instances).
    VehiclesThenDistance,
}

/// Why a problem was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProblemError {
    #[error("request {id}: {source}")]
    Request { id: u32, source: ModelError },
    #[error("vehicle {id}: {source}")]
    Vehicle { id: u32, source: ModelError },
    #[error("{what} uses location {loc}, but the travel-time source knows only {len} locations")]
    UnknownLocation { what: String, loc: u32, len: usize },
    #[error("request id {0} is used twice")]
    DuplicateRequest(u32),
    #[error("vehicle id {0} is used twice")]
    DuplicateVehicle(u32),
    #[error("node id table has {got} entries for {want} requests")]
    NodeIds { got: usize, want: usize },
}

/// Requests, vehicles and travel times, all validated. `node_ids[r]` gives the
/// external ids (pickup, dropoff) of request `r` used when routes are printed
/// or checked — the instance file's node ids for benchmark instances.
#[derive(Debug, Clone)]
pub struct Problem<T> {
    pub travel: T,
    requests: Vec<Request>,
    vehicles: Vec<Vehicle>,
    pub objective: Objective,
    node_ids: Vec<[u32; 2]>,
}

impl<T: TravelTimes> Problem<T> {
    /// Validates every request and vehicle; node ids default to `2r+1`, `2r+2`.
    pub fn new(
        travel: T,
        requests: Vec<Request>,
        vehicles: Vec<Vehicle>,
        objective: Objective,
    ) -> Result<Self, ProblemError> {
        let len = travel.len();
        let loc_ok = |what: String, loc: noriai_model::LocId| {
            if loc.index() < len {
                Ok(())
            } else {
                Err(ProblemError::UnknownLocation { what, loc: loc.0, len })
            }
        };
        let mut seen = HashSet::new();
        for r in &requests {
            r.validate().map_err(|source| ProblemError::Request { id: r.id.0, source })?;
            if !seen.insert(r.id) {
                return Err(ProblemError::DuplicateRequest(r.id.0));
            }
            loc_ok(format!("request {} pickup", r.id.0), r.pickup)?;
            loc_ok(format!("request {} dropoff", r.id.0), r.dropoff)?;
        }
        let mut seen = HashSet::new();
        for v in &vehicles {
            v.validate().map_err(|source| ProblemError::Vehicle { id: v.id.0, source })?;
            if !seen.insert(v.id) {
                return Err(ProblemError::DuplicateVehicle(v.id.0));
            }
            loc_ok(format!("vehicle {} start depot", v.id.0), v.start_depot)?;
            loc_ok(format!("vehicle {} end depot", v.id.0), v.end_depot)?;
            for b in &v.breaks {
                loc_ok(format!("vehicle {} break", v.id.0), b.location)?;
            }
        }
        let node_ids = (0..requests.len() as u32).map(|r| [2 * r + 1, 2 * r + 2]).collect();
        Ok(Self { travel, requests, vehicles, objective, node_ids })
    }

    /// Replaces the external node ids (one `[pickup, dropoff]` per request).
    pub fn with_node_ids(mut self, node_ids: Vec<[u32; 2]>) -> Result<Self, ProblemError> {
        if node_ids.len() != self.requests.len() {
            return Err(ProblemError::NodeIds { got: node_ids.len(), want: self.requests.len() });
        }
        self.node_ids = node_ids;
        Ok(self)
    }
}

impl<T> Problem<T> {
    pub fn requests(&self) -> &[Request] {
        &self.requests
    }
    pub fn vehicles(&self) -> &[Vehicle] {
        &self.vehicles
    }
    pub fn node_ids(&self) -> &[[u32; 2]] {
        &self.node_ids
    }
}
