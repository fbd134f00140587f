//! Service rules that turn a rider's wish into a dial-a-ride request and an
//! offer into a promise. Shared by the booking server and the simulator so a
//! simulated day follows exactly the rules of the live service.

use crate::online::Offer;
use noriai_model::{Capacity, LocId, ModelError, Request, RequestId, TimeWindow};
use serde::{Deserialize, Serialize};

/// When the rider wants to travel, in the plan's time unit (seconds after
/// local midnight in the service).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wish {
    /// "Pick me up from this time."
    DepartAfter(f64),
    /// "I must arrive by this time."
    ArriveBy(f64),
}

/// How trips become requests and offers become promises (seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// "Pick me up after T": the vehicle may come up to this long after T.
    pub max_wait_s: f64,
    /// "Arrive by T": arriving up to this long before T is acceptable.
    pub arrive_early_s: f64,
    /// Maximum ride time = direct time × factor + constant.
    pub ride_factor: f64,
    pub ride_constant_s: f64,
    /// Boarding and alighting time per stop; longer with a wheelchair.
    pub boarding_s: f64,
    pub wheelchair_boarding_s: f64,
    /// The promised pickup window around the planned pickup time.
    pub promise_before_s: f64,
    pub promise_after_s: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_wait_s: 30.0 * 60.0,
            arrive_early_s: 30.0 * 60.0,
            ride_factor: 1.5,
            ride_constant_s: 10.0 * 60.0,
            boarding_s: 60.0,
            wheelchair_boarding_s: 180.0,
            promise_before_s: 5.0 * 60.0,
            promise_after_s: 10.0 * 60.0,
        }
    }
}

impl Policy {
    /// The request for a trip from `pickup` to `dropoff` whose direct travel
    /// time is `direct`.
    pub fn request(
        &self,
        id: RequestId,
        pickup: LocId,
        dropoff: LocId,
        direct: f64,
        wish: Wish,
        load: Capacity,
    ) -> Result<Request, ModelError> {
        let service = if load.wheelchairs > 0 { self.wheelchair_boarding_s } else { self.boarding_s };
        let max_ride = direct * self.ride_factor + self.ride_constant_s;
        let base = Request::new(id, pickup, dropoff, load)?
            .with_service_times(service, service)?
            .with_max_ride_time(max_ride)?;
        match wish {
            Wish::DepartAfter(t) => base.with_pickup_window(t, t + self.max_wait_s),
            Wish::ArriveBy(t) => base
                .with_dropoff_window(t - self.arrive_early_s, t)?
                .with_pickup_window(t - self.arrive_early_s - max_ride - service, t - direct - service),
        }
    }

    /// The pickup window to promise for an offer: around the planned pickup,
    /// never before the rider is ready nor after the request allows.
    pub fn promise(&self, request: &Request, offer: &Offer) -> Result<TimeWindow, ModelError> {
        let w = request.pickup_window;
        let start = (offer.pickup_time - self.promise_before_s).max(w.earliest());
        let end = (offer.pickup_time + self.promise_after_s).min(w.latest()).max(offer.pickup_time);
        TimeWindow::new(start.min(offer.pickup_time), end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depart_after_and_arrive_by_windows() {
        let p = Policy::default();
        let r = p
            .request(
                RequestId(1),
                LocId(0),
                LocId(1),
                600.0,
                Wish::DepartAfter(36_000.0),
                Capacity::new(1, 0),
            )
            .unwrap();
        assert_eq!(r.pickup_window, TimeWindow::new(36_000.0, 37_800.0).unwrap());
        assert_eq!(r.max_ride_time, 600.0 * 1.5 + 600.0);
        let r = p
            .request(RequestId(2), LocId(0), LocId(1), 600.0, Wish::ArriveBy(36_000.0), Capacity::new(0, 1))
            .unwrap();
        assert_eq!(r.dropoff_window.latest(), 36_000.0);
        assert_eq!(r.pickup_service, 180.0);
        assert!(r.pickup_window.latest() + r.pickup_service + 600.0 <= 36_000.0 + 1e-9);
        assert!(
            p.request(RequestId(3), LocId(0), LocId(1), 600.0, Wish::DepartAfter(0.0), Capacity::ZERO)
                .is_err()
        );
    }
}
