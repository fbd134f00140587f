//! What happens on the road: drivers' events, vehicle positions, and how far
//! each ride has got. The rules that judge them are in `noriai_dispatch::live`.

use crate::LatLon;
use serde::{Deserialize, Serialize};

/// Why a vehicle is late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DelayReason {
    Snow,
    Traffic,
    RiderAssistance,
    Other,
}

impl DelayReason {
    pub fn name(self) -> &'static str {
        match self {
            DelayReason::Snow => "snow",
            DelayReason::Traffic => "traffic",
            DelayReason::RiderAssistance => "rider_assistance",
            DelayReason::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<DelayReason> {
        [DelayReason::Snow, DelayReason::Traffic, DelayReason::RiderAssistance, DelayReason::Other]
            .into_iter()
            .find(|r| r.name() == name)
    }
}

/// One event a driver reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventKind {
    ShiftStarted {
        odometer_km: Option<f64>,
    },
    ShiftEnded {
        odometer_km: Option<f64>,
    },
    /// At the stop of a booking (pickup or drop-off).
    Arrived {
        booking_id: i64,
    },
    Boarded {
        booking_id: i64,
    },
    NoShow {
        booking_id: i64,
    },
    Alighted {
        booking_id: i64,
    },
    Departed,
    Delayed {
        minutes: u32,
        reason: DelayReason,
    },
    Breakdown {
        can_continue: bool,
    },
    BreakStarted,
    BreakEnded,
}

impl EventKind {
    /// The stored name.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::ShiftStarted { .. } => "shift_started",
            EventKind::ShiftEnded { .. } => "shift_ended",
            EventKind::Arrived { .. } => "arrived",
            EventKind::Boarded { .. } => "boarded",
            EventKind::NoShow { .. } => "no_show",
            EventKind::Alighted { .. } => "alighted",
            EventKind::Departed => "departed",
            EventKind::Delayed { .. } => "delayed",
            EventKind::Breakdown { .. } => "breakdown",
            EventKind::BreakStarted => "break_started",
            EventKind::BreakEnded => "break_ended",
        }
    }

    /// The booking the event is about, if any.
    pub fn booking(&self) -> Option<i64> {
        match *self {
            EventKind::Arrived { booking_id }
            | EventKind::Boarded { booking_id }
            | EventKind::NoShow { booking_id }
            | EventKind::Alighted { booking_id } => Some(booking_id),
            _ => None,
        }
    }
}

/// A reported event, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleEvent {
    /// Made by the tablet; unique per vehicle.
    pub event_id: String,
    pub vehicle_id: i64,
    /// When it happened, Unix seconds.
    pub at: i64,
    pub kind: EventKind,
    pub position: Option<LatLon>,
    /// Free text (breakdowns, delays).
    pub note: String,
}

/// A vehicle's reported position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub vehicle_id: i64,
    pub at: i64,
    pub location: LatLon,
    /// Degrees from north; `None` when unknown.
    pub heading_deg: Option<f64>,
    pub speed_kmh: Option<f64>,
}

/// How far a ride has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RideStatus {
    Scheduled,
    /// The vehicle is at the pickup place.
    Arrived,
    OnBoard,
    Completed,
    NoShow,
    Cancelled,
}

/// Why a road is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClosureReason {
    Snow,
    Disaster,
    Works,
    Other,
}

impl ClosureReason {
    pub const ALL: [ClosureReason; 4] =
        [ClosureReason::Snow, ClosureReason::Disaster, ClosureReason::Works, ClosureReason::Other];

    pub fn name(self) -> &'static str {
        match self {
            ClosureReason::Snow => "snow",
            ClosureReason::Disaster => "disaster",
            ClosureReason::Works => "works",
            ClosureReason::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<ClosureReason> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// Which roads a closure closes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosurePlace {
    /// The road stretch (junction to junction) nearest to a point.
    Point(LatLon),
    /// Every road with a part inside a ring of points (an area cut off).
    Area(Vec<LatLon>),
}

/// A road closed at run time by an operator (snow, a landslide, works).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoadClosure {
    pub id: i64,
    pub place: ClosurePlace,
    pub reason: ClosureReason,
    pub note: String,
    /// Closed from (Unix seconds) until, or until reopened.
    pub from: i64,
    pub until: Option<i64>,
    pub reopened_at: Option<i64>,
}

impl RoadClosure {
    /// When it stops closing roads, if it does.
    pub fn ends(&self) -> Option<i64> {
        match (self.until, self.reopened_at) {
            (Some(u), Some(r)) => Some(u.min(r)),
            (u, r) => u.or(r),
        }
    }

    /// Whether it closes roads at some time in `[start, end)` (Unix seconds).
    pub fn closes_during(&self, start: i64, end: i64) -> bool {
        self.from < end && self.ends().is_none_or(|e| e > start)
    }
}
