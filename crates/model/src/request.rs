//! Ride requests: where, when, how many places, and how long a rider may be on board.

use serde::{Deserialize, Serialize};

use crate::travel::LocId;

/// Stable identifier of a request (a booking), chosen by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestId(pub u32);

/// Places in a vehicle or needed by a request, per dimension. Riders in
/// wheelchairs need a wheelchair place, not a seat, so the two never mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Capacity {
    pub seats: u32,
    pub wheelchairs: u32,
}

impl Capacity {
    pub const ZERO: Capacity = Capacity { seats: 0, wheelchairs: 0 };

    pub const fn new(seats: u32, wheelchairs: u32) -> Self {
        Self { seats, wheelchairs }
    }

    /// Whether nothing is needed or offered in any dimension.
    pub fn is_zero(self) -> bool {
        self.seats == 0 && self.wheelchairs == 0
    }

    /// Whether `self` fits into `other` in every dimension.
    pub fn fits_within(self, other: Capacity) -> bool {
        self.seats <= other.seats && self.wheelchairs <= other.wheelchairs
    }

    /// The load as signed per-dimension values, the form schedules add and subtract.
    pub fn as_array(self) -> [i64; 2] {
        [i64::from(self.seats), i64::from(self.wheelchairs)]
    }
}

impl std::fmt::Display for Capacity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} seat(s), {} wheelchair place(s)", self.seats, self.wheelchairs)
    }
}

/// Why a request, vehicle or window was refused. Every constructor in this crate
/// returns one of these instead of panicking on bad input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("{what} is {value}, not a finite number")]
    NotFinite { what: &'static str, value: f64 },
    #[error("{what} is {value}; it must not be negative")]
    Negative { what: &'static str, value: f64 },
    #[error("time window is empty: earliest {earliest} is after latest {latest}")]
    EmptyWindow { earliest: f64, latest: f64 },
    #[error("request {0} asks for no seat and no wheelchair place")]
    ZeroLoad(u32),
    #[error("vehicle {0} has no seat and no wheelchair place")]
    ZeroCapacity(u32),
    #[error(
        "promised pickup window [{earliest}, {latest}] does not overlap the requested pickup window of request {request}"
    )]
    PromiseOutsideWindow { request: u32, earliest: f64, latest: f64 },
}

pub(crate) fn finite(what: &'static str, value: f64) -> Result<f64, ModelError> {
    if value.is_finite() { Ok(value) } else { Err(ModelError::NotFinite { what, value }) }
}

pub(crate) fn non_negative(what: &'static str, value: f64) -> Result<f64, ModelError> {
    if value.is_nan() {
        return Err(ModelError::NotFinite { what, value });
    }
    if value < 0.0 { Err(ModelError::Negative { what, value }) } else { Ok(value) }
}

/// A closed interval of times `[earliest, latest]`. Either end may be infinite
/// (an open bound), but never NaN, and `earliest <= latest` always holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeWindow {
    earliest: f64,
    latest: f64,
}

impl TimeWindow {
    /// A checked window: no NaN, `earliest <= latest`.
    pub fn new(earliest: f64, latest: f64) -> Result<Self, ModelError> {
        if earliest.is_nan() {
            return Err(ModelError::NotFinite { what: "window start", value: earliest });
        }
        if latest.is_nan() {
            return Err(ModelError::NotFinite { what: "window end", value: latest });
        }
        if earliest > latest {
            return Err(ModelError::EmptyWindow { earliest, latest });
        }
        Ok(Self { earliest, latest })
    }

    /// The window that allows any time.
    pub const fn unbounded() -> Self {
        Self { earliest: f64::NEG_INFINITY, latest: f64::INFINITY }
    }

    pub fn earliest(self) -> f64 {
        self.earliest
    }

    pub fn latest(self) -> f64 {
        self.latest
    }

    pub fn contains(self, t: f64) -> bool {
        self.earliest <= t && t <= self.latest
    }

    /// The common part of two windows, if any.
    pub fn intersect(self, other: TimeWindow) -> Option<TimeWindow> {
        TimeWindow::new(self.earliest.max(other.earliest), self.latest.min(other.latest)).ok()
    }

    /// The window moved by `delta` time units (both ends).
    pub fn shifted(self, delta: f64) -> TimeWindow {
        Self { earliest: self.earliest + delta, latest: self.latest + delta }
    }
}

/// One ride: pick up `load` at `pickup`, drop off at `dropoff`.
///
/// Times are in the travel-time source's unit. The pickup window bounds the
/// start of service at the pickup, the dropoff window the start of service at
/// the dropoff (an "arrive by" booking sets the dropoff window's end). Ride time
/// runs from the end of service at the pickup to the start of service at the
/// dropoff and must not exceed `max_ride_time`.
///
/// Build with [`Request::new`] and the checked `with_*` methods; [`Request::validate`]
/// re-checks a value built by hand (the engine validates every request it is given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: RequestId,
    pub pickup: LocId,
    pub dropoff: LocId,
    pub pickup_window: TimeWindow,
    pub dropoff_window: TimeWindow,
    pub load: Capacity,
    pub max_ride_time: f64,
    pub pickup_service: f64,
    pub dropoff_service: f64,
    /// A pickup window promised to the rider: a hard constraint on every later re-plan.
    pub promised_pickup: Option<TimeWindow>,
}

impl Request {
    /// A request with open windows, no ride-time limit and no service time.
    pub fn new(id: RequestId, pickup: LocId, dropoff: LocId, load: Capacity) -> Result<Self, ModelError> {
        if load.is_zero() {
            return Err(ModelError::ZeroLoad(id.0));
        }
        Ok(Self {
            id,
            pickup,
            dropoff,
            pickup_window: TimeWindow::unbounded(),
            dropoff_window: TimeWindow::unbounded(),
            load,
            max_ride_time: f64::INFINITY,
            pickup_service: 0.0,
            dropoff_service: 0.0,
            promised_pickup: None,
        })
    }

    /// Sets the window for the start of service at the pickup ("pick me up from").
    pub fn with_pickup_window(mut self, earliest: f64, latest: f64) -> Result<Self, ModelError> {
        self.pickup_window = TimeWindow::new(earliest, latest)?;
        Ok(self)
    }

    /// Sets the window for the start of service at the dropoff ("arrive by").
    pub fn with_dropoff_window(mut self, earliest: f64, latest: f64) -> Result<Self, ModelError> {
        self.dropoff_window = TimeWindow::new(earliest, latest)?;
        Ok(self)
    }

    /// Sets the maximum ride time directly (may be infinite: no limit).
    pub fn with_max_ride_time(mut self, max_ride_time: f64) -> Result<Self, ModelError> {
        self.max_ride_time = non_negative("maximum ride time", max_ride_time)?;
        Ok(self)
    }

    /// Maximum ride time as `direct × factor + constant`, the usual rule for
    /// demand-responsive transport (a detour allowance that grows with trip length).
    pub fn with_max_ride_rule(
        self,
        direct_time: f64,
        factor: f64,
        constant: f64,
    ) -> Result<Self, ModelError> {
        let direct = non_negative("direct travel time", finite("direct travel time", direct_time)?)?;
        let factor = non_negative("ride time factor", finite("ride time factor", factor)?)?;
        let constant = non_negative("ride time constant", finite("ride time constant", constant)?)?;
        self.with_max_ride_time(direct * factor + constant)
    }

    /// Sets the service (boarding and alighting) times.
    pub fn with_service_times(mut self, pickup: f64, dropoff: f64) -> Result<Self, ModelError> {
        self.pickup_service = non_negative("pickup service time", finite("pickup service time", pickup)?)?;
        self.dropoff_service =
            non_negative("dropoff service time", finite("dropoff service time", dropoff)?)?;
        Ok(self)
    }

    /// Records a promised pickup window. It must overlap the requested pickup window.
    pub fn promise(&mut self, window: TimeWindow) -> Result<(), ModelError> {
        if self.pickup_window.intersect(window).is_none() {
            return Err(ModelError::PromiseOutsideWindow {
                request: self.id.0,
                earliest: window.earliest(),
                latest: window.latest(),
            });
        }
        self.promised_pickup = Some(window);
        Ok(())
    }

    /// The pickup window the engine must respect: the requested one narrowed by any promise.
    pub fn effective_pickup_window(&self) -> TimeWindow {
        match self.promised_pickup {
            Some(p) => self.pickup_window.intersect(p).unwrap_or(p),
            None => self.pickup_window,
        }
    }

    /// Checks every invariant that the `with_*` constructors guarantee, for
    /// values built or deserialised by hand.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.load.is_zero() {
            return Err(ModelError::ZeroLoad(self.id.0));
        }
        TimeWindow::new(self.pickup_window.earliest, self.pickup_window.latest)?;
        TimeWindow::new(self.dropoff_window.earliest, self.dropoff_window.latest)?;
        non_negative("maximum ride time", self.max_ride_time)?;
        non_negative("pickup service time", finite("pickup service time", self.pickup_service)?)?;
        non_negative("dropoff service time", finite("dropoff service time", self.dropoff_service)?)?;
        if let Some(p) = self.promised_pickup {
            TimeWindow::new(p.earliest, p.latest)?;
            if self.pickup_window.intersect(p).is_none() {
                return Err(ModelError::PromiseOutsideWindow {
                    request: self.id.0,
                    earliest: p.earliest,
                    latest: p.latest,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn req() -> Request {
        Request::new(RequestId(1), LocId(0), LocId(1), Capacity::new(1, 0)).unwrap()
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(
            Request::new(RequestId(7), LocId(0), LocId(1), Capacity::ZERO),
            Err(ModelError::ZeroLoad(7))
        );
        assert!(matches!(req().with_pickup_window(10.0, 5.0), Err(ModelError::EmptyWindow { .. })));
        assert!(matches!(req().with_pickup_window(f64::NAN, 5.0), Err(ModelError::NotFinite { .. })));
        assert!(matches!(req().with_max_ride_time(-1.0), Err(ModelError::Negative { .. })));
        assert!(matches!(req().with_service_times(f64::INFINITY, 0.0), Err(ModelError::NotFinite { .. })));
        let mut r = req().with_pickup_window(0.0, 10.0).unwrap();
        assert!(r.promise(TimeWindow::new(20.0, 30.0).unwrap()).is_err());
        r.promise(TimeWindow::new(5.0, 30.0).unwrap()).unwrap();
        assert_eq!(r.effective_pickup_window(), TimeWindow::new(5.0, 10.0).unwrap());
        assert!(r.validate().is_ok());
    }

    #[test]
    fn ride_rule() {
        let r = req().with_max_ride_rule(600.0, 1.5, 300.0).unwrap();
        assert_eq!(r.max_ride_time, 1200.0);
    }
}
