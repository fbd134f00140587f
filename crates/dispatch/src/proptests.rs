//! Property tests of the fast path against the slow reference schedule.
#![allow(clippy::unwrap_used)]

use noriai_model::{Capacity, LocId, Request, RequestId, StopKind, TimeWindow, Vehicle, VehicleId};
use proptest::prelude::*;

use crate::euclid::Euclidean;
use crate::problem::{Objective, Problem};
use crate::reference::schedule_from_scratch;
use crate::schedule::{
    Cand, Compiled, Kind, Net, Pushed, RouteData, Scratch, candidates, detours_never_shorter,
    feasible_insertions, latest_new_starts, latest_old_start, pushed_schedule, splice,
};

/// pickup earliest, pickup width, dropoff earliest, dropoff width, ride limit, seats, wheelchairs, service.
type ReqSpec = (f64, f64, f64, f64, f64, u32, u32, f64);

/// Random small instance: one depot, `n` requests, one vehicle.
#[derive(Debug, Clone)]
struct Spec {
    points: Vec<(f64, f64)>,
    reqs: Vec<ReqSpec>,
    cap: (u32, u32),
    max_dur: Option<f64>,
    keys: Vec<(f64, f64)>,
}

fn spec(max_req: usize) -> impl Strategy<Value = Spec> {
    (1..=max_req).prop_flat_map(|n| {
        (
            prop::collection::vec((0.0..10.0f64, 0.0..10.0f64), 2 * n + 1),
            prop::collection::vec(
                (
                    0.0..80.0f64,
                    prop_oneof![0.0..40.0f64, Just(1000.0)],
                    0.0..200.0f64,
                    prop_oneof![5.0..60.0f64, Just(2000.0)],
                    prop_oneof![8.0..40.0f64, Just(f64::INFINITY)],
                    1..3u32,
                    0..2u32,
                    prop_oneof![Just(0.0), 0.0..4.0f64],
                ),
                n,
            ),
            (2..5u32, 0..2u32),
            prop_oneof![Just(None), (40.0..400.0f64).prop_map(Some)],
            prop::collection::vec((0.0..1.0f64, 0.0..1.0f64), n),
        )
            .prop_map(|(points, reqs, cap, max_dur, keys)| Spec { points, reqs, cap, max_dur, keys })
    })
}

fn build(s: &Spec) -> Problem<Euclidean> {
    let n = s.reqs.len();
    let requests = s
        .reqs
        .iter()
        .enumerate()
        .map(|(i, &(pe, pw, de, dw, ride, seats, wheel, serv))| {
            let seats = if seats + wheel == 0 { 1 } else { seats };
            Request::new(
                RequestId(i as u32 + 1),
                LocId(i as u32 + 1),
                LocId((i + n) as u32 + 1),
                Capacity::new(seats, wheel),
            )
            .unwrap()
            .with_pickup_window(pe, pe + pw)
            .unwrap()
            .with_dropoff_window(de.min(pe), de.min(pe) + dw + pw)
            .unwrap()
            .with_max_ride_time(ride)
            .unwrap()
            .with_service_times(serv, serv)
            .unwrap()
        })
        .collect();
    let mut v = Vehicle::new(
        VehicleId(0),
        Capacity::new(s.cap.0, s.cap.1),
        LocId(0),
        TimeWindow::new(0.0, 600.0).unwrap(),
    )
    .unwrap();
    if let Some(d) = s.max_dur {
        v = v.with_max_route_duration(d).unwrap();
    }
    Problem::new(Euclidean::new(s.points.clone()), requests, vec![v], Objective::Distance).unwrap()
}

/// The base route: requests but the last, each inserted at the first
/// position (in an order drawn from the keys) the reference accepts, so routes
/// are feasible yet tight.
fn base_seq(s: &Spec, p: &Problem<Euclidean>, c: &Compiled) -> Vec<u32> {
    let n = s.reqs.len();
    let mut seq = vec![c.veh[0].start, c.veh[0].end];
    let mut new = Vec::new();
    for r in 0..n.saturating_sub(1) {
        let m = seq.len();
        let pairs: Vec<(usize, usize)> = (0..m - 1).flat_map(|i| (i..m - 1).map(move |j| (i, j))).collect();
        let off = (s.keys[r].0 * pairs.len() as f64) as usize;
        for k in 0..pairs.len() {
            let (i, j) = pairs[(k + off) % pairs.len()];
            splice(
                &seq,
                Cand { cost: 0.0, i: i as u32, j: j as u32 },
                2 * r as u32,
                2 * r as u32 + 1,
                &mut new,
            );
            if schedule_from_scratch(p, 0, &kinds(p, c, &new)).is_some() {
                seq = new.clone();
                break;
            }
        }
    }
    seq
}

fn kinds(p: &Problem<Euclidean>, c: &Compiled, seq: &[u32]) -> Vec<StopKind> {
    seq.iter()
        .filter_map(|&x| match c.node(x).kind {
            Kind::Pickup(r) => Some(StopKind::Pickup(p.requests()[r as usize].id)),
            Kind::Dropoff(r) => Some(StopKind::Dropoff(p.requests()[r as usize].id)),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    /// The exact schedule agrees with Bellman–Ford on whole sequences, and its
    /// least schedule equals the reference's.
    #[test]
    fn route_feasibility_matches_reference(s in spec(9)) {
        let p = build(&s);
        let c = Compiled::new(&p);
        let seq = base_seq(&s, &p, &c);
        let mut sc = Scratch::default();
        let fast = RouteData::compute(&c, &c.veh[0], seq.clone(), &mut sc);
        let slow = schedule_from_scratch(&p, 0, &kinds(&p, &c, &seq));
        prop_assert_eq!(fast.is_some(), slow.is_some());
        if let (Some(f), Some(r)) = (fast, slow) {
            for (a, b) in f.early.iter().zip(&r) {
                prop_assert!((a - b).abs() < 1e-6, "{:?} vs {:?}", f.early, r);
            }
            for k in 0..f.seq.len() {
                prop_assert!(f.early[k] <= f.late[k] + 1e-6);
            }
        }
    }

    /// Every insertion position the fast check accepts is feasible by the
    /// reference, and every feasible one is accepted, with the right cost.
    #[test]
    fn fast_insertion_matches_reference(s in spec(9)) {
        let p = build(&s);
        let c = Compiled::new(&p);
        let seq = base_seq(&s, &p, &c);
        let mut sc = Scratch::default();
        let Some(rd) = RouteData::compute(&c, &c.veh[0], seq.clone(), &mut sc) else { return Ok(()) };

        let last = (s.reqs.len() - 1) as u32;
        let (pn, dn) = (2 * last, 2 * last + 1);
        let mut fast = Vec::new();
        feasible_insertions(&c, &rd, &c.veh[0], pn, dn, 0, usize::MAX, &mut sc, &mut fast);
        let m = seq.len();
        let mut new = Vec::new();
        for i in 0..m - 1 {
            for j in i..m - 1 {
                let cand = Cand { cost: 0.0, i: i as u32, j: j as u32 };
                splice(&seq, cand, pn, dn, &mut new);
                let ok = schedule_from_scratch(&p, 0, &kinds(&p, &c, &new)).is_some();
                let got = fast.iter().find(|f| f.i == cand.i && f.j == cand.j);
                prop_assert_eq!(ok, got.is_some(), "position ({}, {}) of {:?}", i, j, seq);
                if let Some(g) = got {
                    let len = |q: &[u32]| q.windows(2).map(|w| c.dist(w[0], w[1])).sum::<f64>();
                    prop_assert!((g.cost - (len(&new) - len(&seq))).abs() < 1e-6);
                }
            }
        }
        for w in fast.windows(2) {
            prop_assert!(w[0].cost <= w[1].cost);
        }
    }

    /// The latest starts that let the pushed schedule refuse an insertion
    /// are upper bounds: no feasible insertion's greatest schedule starts
    /// the new stops, or an old stop up to the drop-off, any later.
    #[test]
    fn latest_starts_bound_every_feasible_insertion(s in spec(9)) {
        let p = build(&s);
        let c = Compiled::new(&p);
        let seq = base_seq(&s, &p, &c);
        let mut sc = Scratch::default();
        let Some(rd) = RouteData::compute(&c, &c.veh[0], seq.clone(), &mut sc) else { return Ok(()) };
        let last = (s.reqs.len() - 1) as u32;
        let (pn, dn) = (2 * last, 2 * last + 1);
        let mut cands = Vec::new();
        candidates(&c, &rd, &c.veh[0], pn, dn, 0, &mut cands);
        let mut new = Vec::new();
        for cand in cands {
            if !detours_never_shorter(&c, &seq, cand, pn, dn) {
                continue;
            }
            splice(&seq, cand, pn, dn, &mut new);
            let Some(after) = RouteData::compute(&c, &c.veh[0], new.clone(), &mut sc) else { continue };
            let (i, j) = (cand.i as usize, cand.j as usize);
            let (pickup, drop) = latest_new_starts(&c, &rd, cand, pn, dn);
            prop_assert!(after.late[i + 1] <= pickup + 1e-6, "pickup {} > {}", after.late[i + 1], pickup);
            prop_assert!(after.late[j + 2] <= drop + 1e-6, "drop-off {} > {}", after.late[j + 2], drop);
            for a in 0..seq.len() {
                let moved = if a <= i { a } else if a <= j { a + 1 } else { a + 2 };
                let bound = latest_old_start(&c, &rd, cand, pn, dn, a);
                prop_assert!(after.late[moved] <= bound + 1e-6, "stop {} {} > {}", a, after.late[moved], bound);
            }
        }
    }

    /// The pushed schedule never errs when it decides: every filtered
    /// candidate it accepts is feasible by the reference, and every one it
    /// refuses is infeasible.
    #[test]
    fn pushed_schedule_decides_only_what_is_so(s in spec(9)) {
        let p = build(&s);
        let c = Compiled::new(&p);
        let seq = base_seq(&s, &p, &c);
        let mut sc = Scratch::default();
        let Some(rd) = RouteData::compute(&c, &c.veh[0], seq.clone(), &mut sc) else { return Ok(()) };
        let last = (s.reqs.len() - 1) as u32;
        let (pn, dn) = (2 * last, 2 * last + 1);
        let mut cands = Vec::new();
        candidates(&c, &rd, &c.veh[0], pn, dn, 0, &mut cands);
        let (mut pushed, mut new) = (Vec::new(), Vec::new());
        for cand in cands {
            let bounds = detours_never_shorter(&c, &seq, cand, pn, dn);
            let verdict = pushed_schedule(&c, &rd, &c.veh[0], cand, pn, dn, bounds, &mut pushed);
            if verdict != Pushed::Unknown {
                splice(&seq, cand, pn, dn, &mut new);
                prop_assert_eq!(
                    schedule_from_scratch(&p, 0, &kinds(&p, &c, &new)).is_some(),
                    verdict == Pushed::Fits,
                    "({}, {}) of {:?}", cand.i, cand.j, seq
                );
            }
        }
    }
}
