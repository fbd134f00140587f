//! The rules of live operations, pure so the server and the simulator judge
//! the road the same way: how far a ride has got from its events, which
//! event may come next, when a rider who did not come counts as a no-show,
//! where a vehicle is from what its driver reported, and how its plan keeps
//! up with that (riders it can no longer serve in time go to a vehicle that
//! can).

use crate::online::{LivePlan, OfferOptions, OnlineError, insert};
use noriai_model::live::{EventKind, RideStatus};
use noriai_model::{LocId, RequestId, StopKind, TravelTimes, VehicleId};

/// Rules a service sets for the road.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveRules {
    /// A no-show may be reported once the promised pickup window has been
    /// open this long (the driver waits, and the operator may call).
    pub no_show_wait_s: i64,
}

impl Default for LiveRules {
    fn default() -> Self {
        Self { no_show_wait_s: 5 * 60 }
    }
}

/// Why an event about a ride is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A no-show before the wait is over; allowed from this Unix time.
    NotYet { allowed_from: i64 },
    /// The event does not follow from where the ride is.
    Out { status: RideStatus },
}

/// Where a ride is after its events (in the order they happened). A
/// no-show's booking is taken out of the plans like a cancelled one but
/// stays a no-show; any other cancelled booking is cancelled.
pub fn ride_status<'a>(cancelled: bool, events: impl IntoIterator<Item = &'a EventKind>) -> RideStatus {
    let status =
        events.into_iter().fold(RideStatus::Scheduled, |status, event| next(status, event).unwrap_or(status));
    match status {
        RideStatus::NoShow => RideStatus::NoShow,
        _ if cancelled => RideStatus::Cancelled,
        other => other,
    }
}

/// The status after `event`, or `None` when it does not apply there.
fn next(status: RideStatus, event: &EventKind) -> Option<RideStatus> {
    use RideStatus::*;
    match (status, event) {
        (Scheduled, EventKind::Arrived { .. }) => Some(Arrived),
        (Scheduled | Arrived, EventKind::Boarded { .. }) => Some(OnBoard),
        (Scheduled | Arrived, EventKind::NoShow { .. }) => Some(NoShow),
        (OnBoard, EventKind::Alighted { .. }) => Some(Completed),
        // Arriving at the drop-off with the rider on board changes nothing.
        (OnBoard, EventKind::Arrived { .. }) => Some(OnBoard),
        _ => None,
    }
}

/// Whether `event` about a ride now at `status`, whose promised pickup
/// window opens at `window_start`, may be recorded at `now`.
pub fn check(
    status: RideStatus,
    event: &EventKind,
    window_start: i64,
    now: i64,
    rules: LiveRules,
) -> Result<RideStatus, Refusal> {
    let after = next(status, event).ok_or(Refusal::Out { status })?;
    if let EventKind::NoShow { .. } = event {
        let allowed_from = window_start + rules.no_show_wait_s;
        if now < allowed_from {
            return Err(Refusal::NotYet { allowed_from });
        }
    }
    Ok(after)
}

/// What the road has reported of one vehicle, as the plan needs it. Times
/// are in the plan's units (the server: seconds after local midnight).
#[derive(Debug, Clone, PartialEq)]
pub struct Present {
    /// Where the vehicle is, or the last place it left.
    pub location: LocId,
    /// When it can leave `location` (when `heading`: when it left).
    pub time: f64,
    /// Riders it picked up, with when they left their pickup.
    pub picked_up: Vec<(RequestId, f64)>,
    /// Riders it dropped off, with when.
    pub dropped_off: Vec<(RequestId, f64)>,
    /// On its way to its next planned stop, which is then fixed.
    pub heading: bool,
    /// Broken down or off shift: it takes no new riders.
    pub out_of_service: bool,
}

impl Present {
    /// Whether the vehicle picked up request `r`.
    pub fn picked(&self, r: RequestId) -> bool {
        self.picked_up.iter().any(|(q, _)| *q == r)
    }

    /// Whether the vehicle dropped request `r` off.
    pub fn dropped(&self, r: RequestId) -> bool {
        self.dropped_off.iter().any(|(q, _)| *q == r)
    }
}

/// A promise (pickup) or a limit (dropoff: arrival or ride time) a vehicle
/// can no longer keep from where it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Late {
    pub request: RequestId,
    /// The pickup (the promised window) or the dropoff.
    pub pickup: bool,
    /// The latest time that was promised or allowed.
    pub latest: f64,
    /// When the vehicle can now be there.
    pub eta: f64,
}

/// One driver's event as the plan reads it: `at` in the plan's time, and
/// for an event about a ride, the ride's request and its two places.
#[derive(Debug, Clone, Copy)]
pub struct RoadEvent<'a> {
    pub at: f64,
    pub kind: &'a EventKind,
    pub ride: Option<Ride>,
}

/// The request of a booking and where its pickup and dropoff are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ride {
    pub request: RequestId,
    pub pickup: LocId,
    pub dropoff: LocId,
}

/// Where a vehicle is after its events (in the order they happened), at
/// `now`; `None` while it has reported nothing (it is then trusted to its
/// plan). The vehicle is at the last stop it reached (or its depot) and can
/// leave now, or when a reported delay ends; after `Departed` it is on its
/// way to the next stop and a delay reported on the way adds to when it
/// left. A breakdown that stops it, or the end of the shift, takes it out
/// of service.
pub fn present_of(events: &[RoadEvent<'_>], depot: LocId, now: f64) -> Option<Present> {
    let first = events.first()?;
    let mut p = Present {
        location: depot,
        time: first.at,
        picked_up: Vec::new(),
        dropped_off: Vec::new(),
        heading: false,
        out_of_service: false,
    };
    let mut left_at: Option<f64> = None;
    let mut delay: Option<(f64, f64)> = None;
    for e in events {
        let at_stop = |p: &mut Present, loc: LocId| {
            (p.location, p.time) = (loc, e.at);
        };
        match (e.kind, e.ride) {
            (EventKind::ShiftStarted { .. }, _) => {
                at_stop(&mut p, depot);
                p.out_of_service = false;
                (left_at, delay) = (None, None);
            }
            (EventKind::ShiftEnded { .. }, _) => {
                p.out_of_service = true;
                left_at = None;
            }
            (EventKind::Arrived { .. }, Some(ride)) => {
                let aboard = p.picked(ride.request) && !p.dropped(ride.request);
                at_stop(&mut p, if aboard { ride.dropoff } else { ride.pickup });
                (left_at, delay) = (None, None);
            }
            (EventKind::Boarded { .. }, Some(ride)) => {
                if !p.picked(ride.request) {
                    p.picked_up.push((ride.request, e.at));
                }
                at_stop(&mut p, ride.pickup);
                (left_at, delay) = (None, None);
            }
            (EventKind::NoShow { .. }, Some(ride)) => {
                at_stop(&mut p, ride.pickup);
                (left_at, delay) = (None, None);
            }
            (EventKind::Alighted { .. }, Some(ride)) => {
                if !p.dropped(ride.request) {
                    p.dropped_off.push((ride.request, e.at));
                }
                at_stop(&mut p, ride.dropoff);
                (left_at, delay) = (None, None);
            }
            (EventKind::Departed, _) => {
                left_at = Some(e.at);
                delay = None;
            }
            (EventKind::Delayed { minutes, .. }, _) => delay = Some((e.at, f64::from(*minutes) * 60.0)),
            (EventKind::Breakdown { can_continue }, _) => {
                p.out_of_service = !can_continue;
                if !can_continue {
                    // Stopped where it broke down: it is no longer on its way.
                    left_at = None;
                }
            }
            // At the stop of a booking no longer planned (a no-show, a
            // cancellation): the vehicle is there now, wherever that is.
            (
                EventKind::Arrived { .. }
                | EventKind::Boarded { .. }
                | EventKind::NoShow { .. }
                | EventKind::Alighted { .. },
                None,
            ) => {
                p.time = e.at;
                (left_at, delay) = (None, None);
            }
            // Breaks change nothing the plan needs.
            _ => {}
        }
    }
    match left_at {
        Some(left) => {
            p.heading = true;
            p.time = left + delay.map_or(0.0, |(_, d)| d);
        }
        None => {
            let held = delay.map_or(f64::NEG_INFINITY, |(at, d)| at + d);
            p.time = p.time.max(now).max(held);
        }
    }
    Some(p)
}

/// A position seen on the way to the next stop: the vehicle will be there
/// `to_next_s` after `seen_at`, so its present (the last stop it left, and
/// when) is moved so that driving the usual `leg_s` from there arrives then.
/// Only later, never earlier: a fix that says it is ahead of the plan is
/// not trusted over the time it left. Does nothing unless it is on its way.
pub fn seen_on_the_way(present: &mut Present, seen_at: f64, to_next_s: f64, leg_s: f64) {
    if present.heading && seen_at.is_finite() && to_next_s.is_finite() && leg_s.is_finite() {
        present.time = present.time.max(seen_at + to_next_s - leg_s);
    }
}

/// What keeping a vehicle's plan up with the road did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kept {
    /// Riders moved to another vehicle that keeps their promise.
    pub moved: Vec<(RequestId, VehicleId)>,
    /// Promises and limits the vehicle can no longer keep.
    pub late: Vec<Late>,
    /// Riders waiting for a vehicle out of service that no other can take.
    pub stranded: Vec<RequestId>,
}

/// Plans `vehicle` from `present` (`None`: from what it last reported, or
/// its depot and shift, after the travel times changed), then moves riders
/// it can no longer serve to other vehicles that keep their promise: those
/// whose promised pickup it would miss, or, out of service, every rider
/// still waiting, to be picked up no earlier than `now`. A rider no vehicle
/// can take stays (late, or stranded) for the operator to call. Nothing
/// changes on an error.
pub fn keep_up<T: TravelTimes>(
    plan: &mut LivePlan,
    vehicle: VehicleId,
    present: Option<&Present>,
    now: f64,
    travel: &T,
) -> Result<Kept, OnlineError> {
    let v =
        plan.vehicles().iter().position(|x| x.id == vehicle).ok_or(OnlineError::UnknownVehicle(vehicle.0))?;
    let present = present.cloned().or_else(|| plan.presents()[v].clone());
    let replan = |plan: &mut LivePlan| match &present {
        Some(p) => plan.rebase(vehicle, p, travel),
        None => plan.recheck(vehicle, travel),
    };
    let mut trial = plan.clone();
    let late = replan(&mut trial)?;
    let (heading, out_of_service) =
        present.as_ref().map_or((false, false), |p| (p.heading, p.out_of_service));
    let route = trial.stops().swap_remove(v);
    // The stop the vehicle is driving to stays its, unless it broke down.
    let fixed = if heading && !out_of_service { route.first().copied() } else { None };
    let waiting: Vec<RequestId> = route
        .iter()
        .filter_map(|s| match *s {
            StopKind::Pickup(r) if Some(*s) != fixed => Some(r),
            _ => None,
        })
        .filter(|r| out_of_service || late.iter().any(|l| l.pickup && l.request == *r))
        .collect();
    let mut kept = Kept::default();
    for r in waiting {
        match move_elsewhere(&trial, vehicle, r, now, travel)? {
            Some((moved, to)) => {
                trial = moved;
                kept.moved.push((r, to));
            }
            None if out_of_service => kept.stranded.push(r),
            None => {}
        }
    }
    kept.late = if kept.moved.is_empty() { late } else { replan(&mut trial)? };
    *plan = trial;
    Ok(kept)
}

/// `plan` with request `r` taken off `from` and given, with its promise, to
/// the cheapest other vehicle that can keep it picking up no earlier than
/// `now` (a pickup in the past is no way to keep a promise); `None` if none can.
fn move_elsewhere<T: TravelTimes>(
    plan: &LivePlan,
    from: VehicleId,
    r: RequestId,
    now: f64,
    travel: &T,
) -> Result<Option<(LivePlan, VehicleId)>, OnlineError> {
    let Some(request) = plan.requests().iter().find(|q| q.id == r).cloned() else { return Ok(None) };
    let mut without = plan.clone();
    without.remove(r, travel)?;
    let opts =
        OfferOptions { max_offers: plan.vehicles().len(), alternative_step: 0.0, ..OfferOptions::default() };
    let Ok(offers) = insert(&without, &request, travel, &opts)? else { return Ok(None) };
    for offer in offers.iter().filter(|o| o.vehicle != from && o.pickup_time >= now - 1e-6) {
        let mut moved = without.clone();
        if moved.commit(&request, offer, request.promised_pickup, travel).is_ok() {
            return Ok(Some((moved, offer.vehicle)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const B: i64 = 7;

    fn kind(k: u8) -> EventKind {
        match k % 4 {
            0 => EventKind::Arrived { booking_id: B },
            1 => EventKind::Boarded { booking_id: B },
            2 => EventKind::NoShow { booking_id: B },
            _ => EventKind::Alighted { booking_id: B },
        }
    }

    #[test]
    fn a_ride_goes_scheduled_arrived_on_board_completed() {
        let ride = [
            EventKind::Arrived { booking_id: B },
            EventKind::Boarded { booking_id: B },
            EventKind::Arrived { booking_id: B },
            EventKind::Alighted { booking_id: B },
        ];
        assert_eq!(ride_status(false, &ride[..0]), RideStatus::Scheduled);
        assert_eq!(ride_status(false, &ride[..1]), RideStatus::Arrived);
        assert_eq!(ride_status(false, &ride[..2]), RideStatus::OnBoard);
        assert_eq!(ride_status(false, &ride[..3]), RideStatus::OnBoard);
        assert_eq!(ride_status(false, &ride), RideStatus::Completed);
        assert_eq!(ride_status(true, &ride), RideStatus::Cancelled);
        let gone = [EventKind::Arrived { booking_id: B }, EventKind::NoShow { booking_id: B }];
        assert_eq!(ride_status(true, &gone), RideStatus::NoShow, "a no-show leaves the plans as one");
    }

    #[test]
    fn a_no_show_waits_for_the_window_and_the_wait() {
        let rules = LiveRules { no_show_wait_s: 300 };
        let no_show = EventKind::NoShow { booking_id: B };
        assert_eq!(
            check(RideStatus::Arrived, &no_show, 1_000, 1_299, rules),
            Err(Refusal::NotYet { allowed_from: 1_300 })
        );
        assert_eq!(check(RideStatus::Arrived, &no_show, 1_000, 1_300, rules), Ok(RideStatus::NoShow));
        assert_eq!(
            check(RideStatus::OnBoard, &no_show, 1_000, 9_999, rules),
            Err(Refusal::Out { status: RideStatus::OnBoard })
        );
        let alight = EventKind::Alighted { booking_id: B };
        assert_eq!(
            check(RideStatus::Scheduled, &alight, 0, 0, rules),
            Err(Refusal::Out { status: RideStatus::Scheduled })
        );
    }

    proptest! {
        /// Folding only the events `check` accepts gives the status `check`
        /// reports, and never leaves a final state (completed, no-show).
        #[test]
        fn checked_events_agree_with_the_fold(kinds in prop::collection::vec(0u8..4, 0..12)) {
            let rules = LiveRules::default();
            let mut status = RideStatus::Scheduled;
            let mut accepted = Vec::new();
            for k in kinds {
                let event = kind(k);
                match check(status, &event, 0, rules.no_show_wait_s, rules) {
                    Ok(after) => {
                        prop_assert!(!matches!(status, RideStatus::Completed | RideStatus::NoShow));
                        status = after;
                        accepted.push(event);
                    }
                    Err(Refusal::Out { status: at }) => prop_assert_eq!(at, status),
                    Err(other) => prop_assert!(false, "{other:?}"),
                }
                prop_assert_eq!(ride_status(false, &accepted), status);
            }
        }
    }
}
