//! Vehicles: capacity, shift, depots and breaks.

use serde::{Deserialize, Serialize};

use crate::request::{Capacity, ModelError, TimeWindow, finite, non_negative};
use crate::travel::LocId;

/// Stable identifier of a vehicle, chosen by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VehicleId(pub u32);

/// A driver's break: taken at `location`, starting within `window`, lasting `duration`.
/// The engine plans it like a stop with no riders boarding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Break {
    pub location: LocId,
    pub window: TimeWindow,
    pub duration: f64,
}

/// A vehicle and its shift. The route leaves `start_depot` no earlier than the
/// shift start and reaches `end_depot` no later than the shift end; the time
/// between leaving and returning is at most `max_route_duration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    pub id: VehicleId,
    pub capacity: Capacity,
    pub start_depot: LocId,
    pub end_depot: LocId,
    pub shift: TimeWindow,
    pub max_route_duration: f64,
    pub breaks: Vec<Break>,
}

impl Vehicle {
    /// A vehicle with the given shift, no duration limit beyond the shift and no breaks.
    pub fn new(
        id: VehicleId,
        capacity: Capacity,
        depot: LocId,
        shift: TimeWindow,
    ) -> Result<Self, ModelError> {
        if capacity.is_zero() {
            return Err(ModelError::ZeroCapacity(id.0));
        }
        Ok(Self {
            id,
            capacity,
            start_depot: depot,
            end_depot: depot,
            shift,
            max_route_duration: f64::INFINITY,
            breaks: Vec::new(),
        })
    }

    /// Ends the route at a different depot.
    pub fn with_end_depot(mut self, end: LocId) -> Self {
        self.end_depot = end;
        self
    }

    /// Limits the time from leaving the start depot to reaching the end depot.
    pub fn with_max_route_duration(mut self, duration: f64) -> Result<Self, ModelError> {
        self.max_route_duration = non_negative("maximum route duration", duration)?;
        Ok(self)
    }

    /// Adds a break.
    pub fn with_break(
        mut self,
        location: LocId,
        window: TimeWindow,
        duration: f64,
    ) -> Result<Self, ModelError> {
        let duration = non_negative("break duration", finite("break duration", duration)?)?;
        self.breaks.push(Break { location, window, duration });
        Ok(self)
    }

    /// Checks the invariants of the constructors for values built by hand.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.capacity.is_zero() {
            return Err(ModelError::ZeroCapacity(self.id.0));
        }
        TimeWindow::new(self.shift.earliest(), self.shift.latest())?;
        non_negative("maximum route duration", self.max_route_duration)?;
        for b in &self.breaks {
            TimeWindow::new(b.window.earliest(), b.window.latest())?;
            non_negative("break duration", finite("break duration", b.duration)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_vehicles() {
        let shift = TimeWindow::new(0.0, 100.0).unwrap();
        assert_eq!(
            Vehicle::new(VehicleId(3), Capacity::ZERO, LocId(0), shift),
            Err(ModelError::ZeroCapacity(3))
        );
        let v = Vehicle::new(VehicleId(1), Capacity::new(4, 1), LocId(0), shift).unwrap();
        assert!(v.clone().with_max_route_duration(f64::NAN).is_err());
        assert!(v.clone().with_break(LocId(0), shift, -5.0).is_err());
        assert!(v.validate().is_ok());
    }
}
