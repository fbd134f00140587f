//! The plan follows the road: a vehicle planned from where it is, late
//! riders moved to a vehicle that keeps their promise, a broken-down
//! vehicle's riders handed over, and a plan rebuilt from stored routes and
//! the road's reports.
#![allow(clippy::unwrap_used)]

use noriai_dispatch::live::{Present, RoadEvent, keep_up, present_of};
use noriai_dispatch::{Euclidean, LivePlan, OfferOptions, insert};
use noriai_model::live::{DelayReason, EventKind};
use noriai_model::{
    Capacity, LocId, Request, RequestId, StopKind, TimeWindow, TravelTimes, Vehicle, VehicleId,
};
use proptest::prelude::*;

/// Depot at 0, places along a line 10 apart (1 unit of distance = 1 s).
fn line(n: usize) -> Euclidean {
    Euclidean::new((0..n).map(|i| (10.0 * i as f64, 0.0)).collect())
}

fn req(id: u32, p: u32, d: u32, e: f64, l: f64) -> Request {
    Request::new(RequestId(id), LocId(p), LocId(d), Capacity::new(1, 0))
        .unwrap()
        .with_pickup_window(e, l)
        .unwrap()
        .with_max_ride_time(100.0)
        .unwrap()
}

fn vehicle(id: u32) -> Vehicle {
    Vehicle::new(VehicleId(id), Capacity::new(4, 0), LocId(0), TimeWindow::new(0.0, 2_000.0).unwrap())
        .unwrap()
}

/// Commits `r` on vehicle `v`, promising its whole pickup window.
fn book_on(live: &mut LivePlan, travel: &Euclidean, r: &Request, v: u32) {
    let opts = OfferOptions { max_offers: 8, alternative_step: 0.0, ..OfferOptions::default() };
    let offers = insert(live, r, travel, &opts).unwrap().unwrap();
    let offer = offers.iter().find(|o| o.vehicle == VehicleId(v)).unwrap();
    live.commit(r, offer, Some(r.pickup_window), travel).unwrap();
}

fn pickup_time(live: &LivePlan, travel: &Euclidean, r: u32) -> (VehicleId, f64) {
    let plan = live.plan(travel);
    plan.routes
        .iter()
        .find_map(|route| {
            route
                .stops
                .iter()
                .find(|s| s.kind == StopKind::Pickup(RequestId(r)))
                .map(|s| (route.vehicle, s.start_of_service))
        })
        .unwrap()
}

fn present(location: u32, time: f64, picked_up: Vec<(u32, f64)>) -> Present {
    Present {
        location: LocId(location),
        time,
        picked_up: picked_up.into_iter().map(|(r, t)| (RequestId(r), t)).collect(),
        dropped_off: Vec::new(),
        heading: false,
        out_of_service: false,
    }
}

#[test]
fn a_late_vehicle_hands_a_rider_to_one_that_keeps_the_promise() {
    let travel = line(8);
    let mut live = LivePlan::new(vec![vehicle(0), vehicle(1)], &travel).unwrap();
    let (a, b) = (req(1, 1, 2, 10.0, 20.0), req(2, 5, 6, 300.0, 320.0));
    book_on(&mut live, &travel, &a, 0);
    book_on(&mut live, &travel, &b, 0);
    // On time: nothing moves, nothing is late.
    let on_time =
        keep_up(&mut live, VehicleId(0), Some(&present(1, 15.0, vec![(1, 15.0)])), 0.0, &travel).unwrap();
    assert!(on_time.moved.is_empty() && on_time.late.is_empty(), "{on_time:?}");
    assert_eq!(
        live.stops()[0],
        vec![
            StopKind::Dropoff(RequestId(1)),
            StopKind::Pickup(RequestId(2)),
            StopKind::Dropoff(RequestId(2))
        ]
    );
    // Stuck at place 1 until 400: rider 2's window (300-320) cannot be kept
    // by vehicle 0, and vehicle 1 (idle at the depot) can keep it.
    let stuck =
        keep_up(&mut live, VehicleId(0), Some(&present(1, 400.0, vec![(1, 15.0)])), 0.0, &travel).unwrap();
    assert_eq!(stuck.moved, vec![(RequestId(2), VehicleId(1))]);
    let (v, t) = pickup_time(&live, &travel, 2);
    assert_eq!(v, VehicleId(1));
    assert!((300.0..=320.0).contains(&t), "moved rider picked up at {t}");
    // Rider 1 is aboard: their ride-time limit (15 + 100) breaks, and stays with vehicle 0.
    assert_eq!(stuck.late.len(), 1, "{:?}", stuck.late);
    let late = stuck.late[0];
    assert_eq!((late.request, late.pickup), (RequestId(1), false));
    assert!((late.latest - 115.0).abs() < 1e-9 && (late.eta - 410.0).abs() < 1e-9, "{late:?}");
    assert_eq!(live.stops()[0], vec![StopKind::Dropoff(RequestId(1))]);
}

#[test]
fn nobody_is_moved_to_a_pickup_that_would_be_in_the_past() {
    let travel = line(8);
    let mut live = LivePlan::new(vec![vehicle(0), vehicle(1)], &travel).unwrap();
    let b = req(2, 5, 6, 300.0, 320.0);
    book_on(&mut live, &travel, &b, 0);
    // At 400 the window (300-320) has passed: vehicle 1's plan could "keep"
    // it only in the past, so the rider stays, late, for a call.
    let kept = keep_up(&mut live, VehicleId(0), Some(&present(3, 400.0, vec![])), 400.0, &travel).unwrap();
    assert!(kept.moved.is_empty(), "{kept:?}");
    assert_eq!(kept.late.len(), 1);
}

#[test]
fn a_late_rider_no_vehicle_can_take_stays_late_and_is_named() {
    let travel = line(8);
    let mut live = LivePlan::new(vec![vehicle(0)], &travel).unwrap();
    let b = req(2, 5, 6, 300.0, 320.0);
    book_on(&mut live, &travel, &b, 0);
    let kept = keep_up(&mut live, VehicleId(0), Some(&present(3, 400.0, vec![])), 0.0, &travel).unwrap();
    assert!(kept.moved.is_empty());
    assert_eq!(kept.late.len(), 1);
    assert!(kept.late[0].pickup && (kept.late[0].eta - 420.0).abs() < 1e-9, "{:?}", kept.late);
    // The plan stays whole and says when the rider will now be picked up.
    assert_eq!(pickup_time(&live, &travel, 2), (VehicleId(0), 420.0));
    // Once the vehicle catches up (a fresh present), the promise holds again.
    let kept = keep_up(&mut live, VehicleId(0), Some(&present(3, 100.0, vec![])), 0.0, &travel).unwrap();
    assert!(kept.late.is_empty(), "{kept:?}");
    assert_eq!(pickup_time(&live, &travel, 2), (VehicleId(0), 300.0));
}

#[test]
fn a_broken_down_vehicle_hands_over_its_waiting_riders_and_takes_no_more() {
    let travel = line(8);
    let mut live = LivePlan::new(vec![vehicle(0), vehicle(1)], &travel).unwrap();
    let (a, b, c) = (req(1, 1, 2, 10.0, 20.0), req(2, 5, 6, 300.0, 320.0), req(3, 7, 1, 55.0, 75.0));
    book_on(&mut live, &travel, &a, 0);
    book_on(&mut live, &travel, &b, 0);
    book_on(&mut live, &travel, &c, 0);
    // Broke down at place 2 at time 30 with rider 1 aboard: riders 2 and 3
    // are waiting, and vehicle 1 (idle at the depot) can reach both in time.
    let mut down = present(2, 30.0, vec![(1, 15.0)]);
    down.out_of_service = true;
    let kept = keep_up(&mut live, VehicleId(0), Some(&down), 0.0, &travel).unwrap();
    let moved: Vec<RequestId> = kept.moved.iter().map(|m| m.0).collect();
    assert!(moved.contains(&RequestId(2)), "{kept:?}");
    assert!(kept.moved.iter().all(|m| m.1 == VehicleId(1)));
    for (r, _) in &kept.moved {
        let (v, t) = pickup_time(&live, &travel, r.0);
        let w = if r.0 == 2 { b.pickup_window } else { c.pickup_window };
        assert_eq!(v, VehicleId(1));
        assert!(w.contains(t), "rider {} moved and picked up at {t}, outside {w:?}", r.0);
    }
    // Every waiting rider is either moved or named as stranded; rider 1 stays aboard.
    let mut all: Vec<RequestId> = moved.clone();
    all.extend(&kept.stranded);
    all.sort();
    assert_eq!(all, vec![RequestId(2), RequestId(3)]);
    assert_eq!(live.vehicle_of(RequestId(1)), Some(0));
    // A new rider is never offered the broken-down vehicle.
    let d = req(4, 2, 3, 40.0, 60.0);
    let opts = OfferOptions { max_offers: 8, alternative_step: 0.0, ..OfferOptions::default() };
    if let Ok(offers) = insert(&live, &d, &travel, &opts).unwrap() {
        assert!(offers.iter().all(|o| o.vehicle != VehicleId(0)), "{offers:?}");
    }
}

#[test]
fn a_vehicle_that_breaks_down_on_its_way_hands_over_the_rider_it_was_driving_to() {
    let travel = line(8);
    let mut live = LivePlan::new(vec![vehicle(0), vehicle(1)], &travel).unwrap();
    let b = req(2, 5, 6, 300.0, 320.0);
    book_on(&mut live, &travel, &b, 0);
    let mut down = present(1, 100.0, vec![]);
    (down.heading, down.out_of_service) = (true, true);
    let kept = keep_up(&mut live, VehicleId(0), Some(&down), 0.0, &travel).unwrap();
    assert_eq!(kept.moved, vec![(RequestId(2), VehicleId(1))], "{kept:?}");
}

#[test]
fn riders_of_a_broken_down_vehicle_no_other_can_take_are_named_stranded() {
    let travel = line(8);
    let mut live = LivePlan::new(vec![vehicle(0)], &travel).unwrap();
    let (a, b) = (req(1, 1, 2, 10.0, 20.0), req(2, 5, 6, 300.0, 320.0));
    book_on(&mut live, &travel, &a, 0);
    book_on(&mut live, &travel, &b, 0);
    let mut down = present(1, 12.0, vec![]);
    down.out_of_service = true;
    let kept = keep_up(&mut live, VehicleId(0), Some(&down), 0.0, &travel).unwrap();
    assert!(kept.moved.is_empty());
    assert_eq!(kept.stranded, vec![RequestId(1), RequestId(2)]);
    assert_eq!(live.stops()[0].len(), 4, "stranded riders stay in the plan for the operator");
}

#[test]
fn a_day_under_way_is_rebuilt_from_its_routes_and_presents() {
    let travel = line(8);
    let mut live = LivePlan::new(vec![vehicle(0), vehicle(1)], &travel).unwrap();
    let reqs = [req(1, 1, 2, 10.0, 20.0), req(2, 3, 5, 40.0, 60.0), req(3, 5, 6, 300.0, 320.0)];
    for r in &reqs {
        book_on(&mut live, &travel, r, 0);
    }
    let stored = live.stops();
    let mut now = present(3, 45.0, vec![(1, 15.0), (2, 45.0)]);
    now.dropped_off.push((RequestId(1), 50.0));
    let kept = keep_up(&mut live, VehicleId(0), Some(&now), 0.0, &travel).unwrap();
    assert!(kept.late.is_empty() && kept.moved.is_empty());
    // From the full stored routes (served stops included) or the live ones.
    for routes in [stored, live.stops()] {
        let (again, late) = LivePlan::restore_live(
            live.vehicles().to_vec(),
            live.requests().to_vec(),
            &routes,
            live.presents(),
            &travel,
        )
        .unwrap();
        assert!(late.is_empty());
        assert_eq!(again.stops(), live.stops());
        assert_eq!(format!("{:?}", again.plan(&travel)), format!("{:?}", live.plan(&travel)));
    }
    // The strict restore without presents refuses a request served whole.
    assert!(
        LivePlan::restore(live.vehicles().to_vec(), live.requests().to_vec(), &live.stops(), &travel)
            .is_err()
    );
}

#[test]
fn a_plan_checked_again_on_slower_roads_names_what_it_can_no_longer_keep() {
    let travel = line(8);
    let mut live = LivePlan::new(vec![vehicle(0)], &travel).unwrap();
    let (a, b) = (req(1, 1, 2, 10.0, 20.0), req(2, 5, 6, 60.0, 70.0));
    book_on(&mut live, &travel, &a, 0);
    book_on(&mut live, &travel, &b, 0);
    // The same places, every road three times as long (a closure's detours).
    let slow = Euclidean::new((0..8).map(|i| (30.0 * i as f64, 0.0)).collect());
    let kept = keep_up(&mut live, VehicleId(0), None, 0.0, &slow).unwrap();
    assert!(live.presents()[0].is_none(), "checking again reports nothing from the road");
    // Depot to place 1 now takes 30 (window 10-20): rider 1 is late; from
    // there to 2 and 5 takes 30 + 90: rider 2 (60-70) too.
    let late: Vec<(u32, bool)> = kept.late.iter().map(|l| (l.request.0, l.pickup)).collect();
    assert!(late.contains(&(1, true)) && late.contains(&(2, true)), "{late:?}");
    let plan = live.plan(&slow);
    let stops = &plan.routes[0].stops;
    assert_eq!(stops[0].start_of_service, 30.0);
    for w in stops.windows(2) {
        assert!(w[1].start_of_service >= w[0].departure + slow.time(w[0].location, w[1].location) - 1e-9);
    }
    // Back on the usual roads, every promise holds again.
    let kept = keep_up(&mut live, VehicleId(0), None, 0.0, &travel).unwrap();
    assert!(kept.late.is_empty(), "{kept:?}");
    assert_eq!(live.plan(&travel).routes[0].stops[0].start_of_service, 10.0);
}

#[test]
fn a_position_on_the_way_moves_the_next_arrival_later_only() {
    use noriai_dispatch::live::seen_on_the_way;
    // Left place 1 at 100 for place 5 (40 s away): due at 140.
    let mut on_way = present(1, 100.0, vec![]);
    on_way.heading = true;
    // Seen at 150 still 30 s away: due at 180, as if it had left at 140.
    seen_on_the_way(&mut on_way, 150.0, 30.0, 40.0);
    assert_eq!(on_way.time, 140.0);
    // A fix that says it is ahead changes nothing.
    seen_on_the_way(&mut on_way, 150.0, 0.0, 40.0);
    assert_eq!(on_way.time, 140.0);
    let mut waiting = present(1, 100.0, vec![]);
    seen_on_the_way(&mut waiting, 150.0, 30.0, 40.0);
    assert_eq!(waiting.time, 100.0, "a vehicle at a stop is where its events say");
    // Planned from there, the next stop's time is the one the position gives.
    let travel = line(8);
    let mut live = LivePlan::new(vec![vehicle(0)], &travel).unwrap();
    book_on(&mut live, &travel, &req(2, 5, 6, 100.0, 400.0), 0);
    keep_up(&mut live, VehicleId(0), Some(&on_way), 150.0, &travel).unwrap();
    assert_eq!(live.plan(&travel).routes[0].stops[0].start_of_service, 180.0);
}

#[test]
fn events_say_where_a_vehicle_is() {
    let rides = |r: u32| noriai_dispatch::live::Ride {
        request: RequestId(r),
        pickup: LocId(r),
        dropoff: LocId(r + 10),
    };
    let ev = |at: f64, kind: &'static EventKind, r: Option<u32>| RoadEvent { at, kind, ride: r.map(rides) };
    static START: EventKind = EventKind::ShiftStarted { odometer_km: None };
    static ARRIVED: EventKind = EventKind::Arrived { booking_id: 0 };
    static BOARDED: EventKind = EventKind::Boarded { booking_id: 0 };
    static ALIGHTED: EventKind = EventKind::Alighted { booking_id: 0 };
    static LEFT: EventKind = EventKind::Departed;
    static LATE: EventKind = EventKind::Delayed { minutes: 10, reason: DelayReason::Snow };
    static DOWN: EventKind = EventKind::Breakdown { can_continue: false };
    assert_eq!(present_of(&[], LocId(0), 100.0), None, "nothing reported: trust the plan");
    let start = [ev(50.0, &START, None)];
    let p = present_of(&start, LocId(0), 100.0).unwrap();
    assert_eq!((p.location, p.time, p.heading), (LocId(0), 100.0, false), "idle at the depot, leaves now");
    let ride = [
        ev(50.0, &START, None),
        ev(60.0, &ARRIVED, Some(1)),
        ev(70.0, &BOARDED, Some(1)),
        ev(75.0, &LEFT, None),
    ];
    let p = present_of(&ride, LocId(0), 100.0).unwrap();
    assert_eq!((p.location, p.time, p.heading), (LocId(1), 75.0, true));
    assert_eq!(p.picked_up, vec![(RequestId(1), 70.0)]);
    let mut late = ride.to_vec();
    late.push(ev(90.0, &LATE, None));
    let p = present_of(&late, LocId(0), 100.0).unwrap();
    assert_eq!((p.location, p.time, p.heading), (LocId(1), 675.0, true), "the leg takes 10 minutes longer");
    late.push(ev(700.0, &ARRIVED, Some(1)));
    late.push(ev(710.0, &ALIGHTED, Some(1)));
    let p = present_of(&late, LocId(0), 720.0).unwrap();
    assert_eq!((p.location, p.time, p.heading), (LocId(11), 720.0, false), "arriving ends the delay");
    assert_eq!(p.dropped_off, vec![(RequestId(1), 710.0)]);
    let mut held = start.to_vec();
    held.push(ev(90.0, &LATE, None));
    assert_eq!(present_of(&held, LocId(0), 100.0).unwrap().time, 690.0, "held where it is");
    held.push(ev(95.0, &DOWN, None));
    assert!(present_of(&held, LocId(0), 100.0).unwrap().out_of_service);
    let mut stopped = ride.to_vec();
    stopped.push(ev(90.0, &DOWN, None));
    let p = present_of(&stopped, LocId(0), 100.0).unwrap();
    assert!(p.out_of_service && !p.heading, "broken down on the way: stopped, not driving on");
    static NO_SHOW: EventKind = EventKind::NoShow { booking_id: 0 };
    let mut gone = ride.to_vec();
    gone.push(ev(95.0, &NO_SHOW, None));
    let p = present_of(&gone, LocId(0), 100.0).unwrap();
    assert!(!p.heading && p.time == 100.0, "at the stop of a booking no longer planned: {p:?}");
    held.push(ev(96.0, &START, None));
    assert!(!present_of(&held, LocId(0), 100.0).unwrap().out_of_service, "a new shift starts in service");
}

/// The server reads a delay from the driver's events (`present_of`); the
/// simulator holds its vehicle where it is for the drawn delay. The same
/// delay through either gives the same plan.
#[test]
fn a_delay_read_from_events_plans_as_the_simulator_holds_it() {
    let travel = line(8);
    let mut base = LivePlan::new(vec![vehicle(0), vehicle(1)], &travel).unwrap();
    for r in [req(1, 1, 2, 100.0, 120.0), req(2, 5, 6, 300.0, 320.0), req(3, 6, 7, 500.0, 530.0)] {
        book_on(&mut base, &travel, &r, 0);
    }
    static START: EventKind = EventKind::ShiftStarted { odometer_km: None };
    static SNOW: EventKind = EventKind::Delayed { minutes: 7, reason: DelayReason::Snow };
    let events =
        [RoadEvent { at: 0.0, kind: &START, ride: None }, RoadEvent { at: 60.0, kind: &SNOW, ride: None }];
    let read = present_of(&events, LocId(0), 60.0).unwrap();
    let mut server = base.clone();
    let by_server = keep_up(&mut server, VehicleId(0), Some(&read), 60.0, &travel).unwrap();
    let held = present(0, 60.0 + 7.0 * 60.0, vec![]);
    let mut simulator = base.clone();
    let by_simulator = keep_up(&mut simulator, VehicleId(0), Some(&held), 60.0, &travel).unwrap();
    assert_eq!(by_server, by_simulator);
    assert!(!by_server.moved.is_empty(), "the delay moves someone: {by_server:?}");
    assert_eq!(server.stops(), simulator.stops());
    assert_eq!(format!("{:?}", server.plan(&travel)), format!("{:?}", simulator.plan(&travel)));
}

proptest! {
    /// Whatever the road reports, the plan stays whole: the vehicle keeps
    /// the stops it has not served in their order, no ride is lost, every
    /// promise it still keeps holds in the plan, each late one is named with
    /// the time the plan now gives, a moved rider's new vehicle keeps the
    /// promise, and reporting the same present again changes nothing.
    #[test]
    fn keeping_up_keeps_the_plan_whole(
        windows in prop::collection::vec((1u32..7, 1u32..7, 0u32..600), 1..7),
        served in 0usize..4,
        at in 0u32..7,
        delay in 0u32..900,
    ) {
        let travel = line(8);
        let mut live = LivePlan::new(vec![vehicle(0), vehicle(1)], &travel).unwrap();
        for (k, &(p, d, e)) in windows.iter().enumerate() {
            if p == d { continue; }
            let r = req(k as u32 + 1, p, d, f64::from(e), f64::from(e) + 30.0);
            let opts = OfferOptions { max_offers: 8, alternative_step: 0.0, ..OfferOptions::default() };
            let offers = insert(&live, &r, &travel, &opts).unwrap().unwrap_or_default();
            if let Some(o) = offers.iter().find(|o| o.vehicle == VehicleId(0)) {
                live.commit(&r, o, Some(r.pickup_window), &travel).unwrap();
            }
        }
        let before = live.plan(&travel);
        let route = &before.routes[0];
        let served = served.min(route.stops.len());
        let mut now = present(at, 0.0, vec![]);
        for s in &route.stops[..served] {
            match s.kind {
                StopKind::Pickup(r) => now.picked_up.push((r, s.departure)),
                StopKind::Dropoff(r) => now.dropped_off.push((r, s.start_of_service)),
                StopKind::Break(_) => {}
            }
            (now.location, now.time) = (s.location, s.departure);
        }
        now.time += f64::from(delay);
        let requests: Vec<Request> = live.requests().to_vec();
        let kept = keep_up(&mut live, VehicleId(0), Some(&now), 0.0, &travel).unwrap();
        let after = live.plan(&travel);
        // The stops not served, in their order, less those moved away.
        let moved: Vec<RequestId> = kept.moved.iter().map(|m| m.0).collect();
        let expected: Vec<StopKind> = route.stops[served..]
            .iter()
            .map(|s| s.kind)
            .filter(|k| !matches!(k, StopKind::Pickup(r) | StopKind::Dropoff(r) if moved.contains(r)))
            .collect();
        let got: Vec<StopKind> = after.routes[0].stops.iter().map(|s| s.kind).collect();
        prop_assert_eq!(got, expected);
        for s in &after.routes[0].stops {
            let StopKind::Pickup(r) = s.kind else { continue };
            let w = requests.iter().find(|q| q.id == r).unwrap().pickup_window;
            match kept.late.iter().find(|l| l.request == r && l.pickup) {
                Some(l) => {
                    prop_assert!(s.start_of_service > w.latest() + 1e-9);
                    prop_assert!((l.eta - s.start_of_service).abs() < 1e-6 || l.eta <= s.start_of_service);
                }
                None => prop_assert!(w.contains(s.start_of_service), "{:?} at {}", w, s.start_of_service),
            }
        }
        prop_assert!(after.routes[0].departure >= now.time - 1e-9);
        for (r, to) in &kept.moved {
            let w = requests.iter().find(|q| q.id == *r).unwrap().pickup_window;
            let (v, t) = pickup_time(&live, &travel, r.0);
            prop_assert_eq!(v, *to);
            prop_assert!(w.contains(t));
        }
        let again = live.clone();
        let repeat = keep_up(&mut live, VehicleId(0), Some(&now), 0.0, &travel).unwrap();
        prop_assert!(repeat.moved.is_empty());
        prop_assert_eq!(live.stops(), again.stops());
        prop_assert_eq!(format!("{:?}", live.plan(&travel)), format!("{:?}", again.plan(&travel)));
    }
}
