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
    /// A rider who books for a later day is first told a wide window: this
    /// much either side of the planned pickup (within what they asked for).
    /// The evening batch plans inside it, then narrows each to the final
    /// promise above, which the rider is told the evening before.
    pub prebooking_window_s: f64,
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
            prebooking_window_s: 30.0 * 60.0,
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
        self.promise_around(request, offer.pickup_time)
    }

    /// The final promise for a pickup planned at `pickup` (what [`Policy::promise`]
    /// gives an offer, and what the evening batch narrows a wide window to).
    pub fn promise_around(&self, request: &Request, pickup: f64) -> Result<TimeWindow, ModelError> {
        self.window_around(request, pickup, self.promise_before_s, self.promise_after_s)
    }

    /// The wide window a rider booking for a later day is told first.
    pub fn prebooking_promise(&self, request: &Request, offer: &Offer) -> Result<TimeWindow, ModelError> {
        let half = self.prebooking_window_s.max(self.promise_before_s.max(self.promise_after_s));
        self.window_around(request, offer.pickup_time, half, half)
    }

    fn window_around(
        &self,
        request: &Request,
        at: f64,
        before: f64,
        after: f64,
    ) -> Result<TimeWindow, ModelError> {
        // Within what the rider asked for and anything already promised
        // (a final window stays inside the wide one told at booking).
        let w = request.effective_pickup_window();
        let start = (at - before).max(w.earliest());
        let end = (at + after).min(w.latest()).max(at);
        TimeWindow::new(start.min(at), end)
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

    #[test]
    fn a_prebooking_window_holds_the_final_promise_and_stays_in_the_wish() {
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
        let wide = p.window_around(&r, 36_600.0, 1800.0, 1800.0).unwrap();
        assert_eq!(wide, TimeWindow::new(36_000.0, 37_800.0).unwrap(), "clipped to the wish");
        for at in [36_000.0, 36_900.0, 37_800.0] {
            let fin = p.promise_around(&r, at).unwrap();
            assert!(fin.contains(at) && wide.earliest() <= fin.earliest() && fin.latest() <= wide.latest());
            assert!(fin.latest() - fin.earliest() <= p.promise_before_s + p.promise_after_s + 1e-9);
        }
        // "Arrive by" wishes are wider than the wide window; the final window
        // must still stay inside the wide one the rider was told.
        let mut r = p
            .request(RequestId(2), LocId(0), LocId(1), 600.0, Wish::ArriveBy(40_000.0), Capacity::new(1, 0))
            .unwrap();
        let wish = r.pickup_window;
        let wide = p.window_around(&r, wish.earliest() + 2000.0, 1800.0, 1800.0).unwrap();
        r.promise(wide).unwrap();
        for at in [wide.earliest(), wide.latest()] {
            let fin = p.promise_around(&r, at).unwrap();
            assert!(
                fin.contains(at) && wide.earliest() <= fin.earliest() && fin.latest() <= wide.latest(),
                "{fin:?} in {wide:?}"
            );
        }
    }
}
