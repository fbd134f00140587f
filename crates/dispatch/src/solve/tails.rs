//! Tail exchange between routes (2-opt*): two routes swap what follows a
//! moment when each is empty, when that shortens them and improves the
//! objective. Removing and re-inserting requests one by one
//! rarely makes this move, since every request of a tail would have to move
//! at once, so the search runs it as a descent on every repaired plan.

use super::{Ctx, Sol};
use crate::schedule::{Compiled, Kind, Net, RouteData, Scratch};

/// Exchanges tails between pairs of routes while some exchange shortens the
/// plan and improves the objective, at most `passes` times over all pairs;
/// true if the plan changed.
/// Routes with breaks keep their tails: a break belongs to its vehicle.
pub(super) fn descend(ctx: &Ctx, s: &mut Sol, passes: usize, sc: &mut Scratch) -> bool {
    let c = ctx.c;
    let nv = s.routes.len();
    let movable = |v: usize| ctx.allowed[v] && c.breaks[v].is_empty();
    let mut changed = false;
    for _ in 0..passes {
        let mut improved = false;
        for v in 0..nv {
            for w in v + 1..nv {
                if movable(v) && movable(w) && improve_pair(ctx, s, v, w, sc) {
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
        changed = true;
    }
    changed
}

/// Positions after which route `rd` carries nobody, its end depot excluded.
fn empty_after(rd: &RouteData) -> impl Iterator<Item = usize> + '_ {
    (0..rd.seq.len() - 1).filter(|&k| rd.load[k] == [0, 0])
}

/// How much exchanging the tails after position `a` of `rv` and after `b`
/// of `rw` lengthens the two routes together: each head's link to the tail
/// it takes, and each moved tail's last leg, which now ends at the other
/// vehicle's end depot.
fn exchange_delta(c: &Compiled, rv: &RouteData, rw: &RouteData, a: usize, b: usize) -> f64 {
    let change = |head: &[u32], k: usize, tail: &[u32], t: usize| {
        let (head_end, tail_end) = (head[head.len() - 1], tail[tail.len() - 1]);
        let new = if t + 2 == tail.len() {
            c.dist(head[k], head_end)
        } else {
            let last = tail[tail.len() - 2];
            c.dist(head[k], tail[t + 1]) + c.dist(last, head_end) - c.dist(last, tail_end)
        };
        new - c.dist(head[k], head[k + 1])
    };
    change(&rv.seq, a, &rw.seq, b) + change(&rw.seq, b, &rv.seq, a)
}

/// Applies the exchange of tails between routes `v` and `w` that shortens
/// them most, among those the screen lets through, if it keeps both routes
/// feasible and improves the objective; true if there was one.
fn improve_pair(ctx: &Ctx, s: &mut Sol, v: usize, w: usize, sc: &mut Scratch) -> bool {
    let c = ctx.c;
    let (rv, rw) = (&s.routes[v], &s.routes[w]);
    let (mv, mw) = (rv.seq.len(), rw.seq.len());
    // The stop that follows a cut in the other route, or this route's own end.
    let after =
        |rd: &RouteData, k: usize, own_end: u32| if k + 2 == rd.seq.len() { own_end } else { rd.seq[k + 1] };
    let (end_v, end_w) = (rv.seq[mv - 1], rw.seq[mw - 1]);
    let mut tried: Vec<(f64, usize, usize)> = Vec::new();
    for a in empty_after(rv) {
        for b in empty_after(rw) {
            let delta = exchange_delta(c, rv, rw, a, b);
            if delta >= -1e-9 {
                continue;
            }
            let (to_v, to_w) = (after(rw, b, end_v), after(rv, a, end_w));
            // Screen: each head must reach the tail it takes by that tail's
            // latest start in its old route. Exact for identical vehicles
            // without a duration limit; otherwise it may pass over a good
            // exchange, but never admits a bad one, since both routes are
            // then checked exactly.
            let reach = |rd: &RouteData, k: usize, to: u32, late: f64| {
                rd.early[k] + c.node(rd.seq[k]).s + c.time(rd.seq[k], to) <= late + 1e-7
            };
            let late_to_v = if to_v == end_v { rv.late[mv - 1] } else { rw.late[b + 1] };
            let late_to_w = if to_w == end_w { rw.late[mw - 1] } else { rv.late[a + 1] };
            if reach(rv, a, to_v, late_to_v) && reach(rw, b, to_w, late_to_w) {
                tried.push((delta, a, b));
            }
        }
    }
    tried.sort_by(|p, q| p.0.total_cmp(&q.0));
    let before = ctx.obj(s);
    for (_, a, b) in tried {
        let (rv, rw) = (&s.routes[v], &s.routes[w]);
        let (mv, mw) = (rv.seq.len(), rw.seq.len());
        let mut new_v = rv.seq[..=a].to_vec();
        new_v.extend_from_slice(&rw.seq[b + 1..mw - 1]);
        new_v.push(rv.seq[mv - 1]);
        let mut new_w = rw.seq[..=b].to_vec();
        new_w.extend_from_slice(&rv.seq[a + 1..mv - 1]);
        new_w.push(rw.seq[mw - 1]);
        let Some(dv) = RouteData::compute(c, &c.veh[v], new_v, sc) else { continue };
        let Some(dw) = RouteData::compute(c, &c.veh[w], new_w, sc) else { continue };
        let old_v = std::mem::replace(&mut s.routes[v], dv);
        let old_w = std::mem::replace(&mut s.routes[w], dw);
        if ctx.obj(s) < before - 1e-9 {
            for u in [v, w] {
                for &x in &s.routes[u].seq {
                    if let Kind::Pickup(r) = c.nodes[x as usize].kind {
                        s.route_of[r as usize] = u as u32;
                    }
                }
            }
            return true;
        }
        s.routes[v] = old_v;
        s.routes[w] = old_w;
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use noriai_model::{Capacity, LocId, Request, RequestId, TimeWindow, Vehicle, VehicleId};
    use proptest::prelude::*;

    use super::*;
    use crate::euclid::Euclidean;
    use crate::problem::{Objective, Problem};
    use crate::schedule::{Compiled, NONE};
    use crate::solve::{SearchParams, prepare};

    /// A request's pickup point, drop-off point and pickup window's open.
    type Trip = ((f64, f64), (f64, f64), f64);

    /// Requests served by two vehicles from a depot at the origin; the
    /// second vehicle ends its shift at `end` when given.
    fn problem(reqs: &[Trip], end: Option<(f64, f64)>) -> Problem<Euclidean> {
        let mut points = vec![(0.0, 0.0)];
        for &(a, b, _) in reqs {
            points.extend([a, b]);
        }
        points.extend(end);
        let last = LocId(points.len() as u32 - 1);
        let requests = reqs
            .iter()
            .enumerate()
            .map(|(r, &(_, _, open))| {
                let id = r as u32;
                Request::new(RequestId(id + 1), LocId(2 * id + 1), LocId(2 * id + 2), Capacity::new(1, 0))
                    .unwrap()
                    .with_pickup_window(open, open + 30.0)
                    .unwrap()
                    .with_max_ride_time(200.0)
                    .unwrap()
            })
            .collect();
        let vehicles = (0..2)
            .map(|v| {
                let vehicle = Vehicle::new(
                    VehicleId(v),
                    Capacity::new(3, 0),
                    LocId(0),
                    TimeWindow::new(0.0, 2000.0).unwrap(),
                )
                .unwrap();
                if v == 1 && end.is_some() { vehicle.with_end_depot(last) } else { vehicle }
            })
            .collect();
        Problem::new(Euclidean::new(points), requests, vehicles, Objective::Distance).unwrap()
    }

    /// The plan that serves each request's pickup and drop-off in a row, in
    /// the given order on the given vehicle; `None` if it is infeasible.
    fn plan(ctx: &Ctx, empty: &Sol, order: &[(u32, usize)], sc: &mut Scratch) -> Option<Sol> {
        let c = ctx.c;
        let mut s = empty.clone();
        for v in 0..2 {
            let mut seq = vec![c.veh[v].start];
            for &(r, _) in order.iter().filter(|&&(_, u)| u == v) {
                seq.extend([2 * r, 2 * r + 1]);
                s.route_of[r as usize] = v as u32;
            }
            seq.push(c.veh[v].end);
            s.routes[v] = RouteData::compute(c, &c.veh[v], seq, sc)?;
        }
        Some(s)
    }

    /// Each request in a row on its drawn vehicle, in the order of its pickup window's open.
    fn by_pickup_time(reqs: &[Trip], vehicles: &[usize]) -> Vec<(u32, usize)> {
        let mut order: Vec<(u32, usize)> =
            (0..reqs.len() as u32).map(|r| (r, vehicles[r as usize])).collect();
        order.sort_by(|a, b| reqs[a.0 as usize].2.total_cmp(&reqs[b.0 as usize].2));
        order
    }

    /// The two sequences after `a` and `b` swap what follows positions `i`
    /// and `j`, each keeping its own end depot, spliced directly.
    fn swapped_tails(a: &[u32], i: usize, b: &[u32], j: usize) -> (Vec<u32>, Vec<u32>) {
        let mut x = a[..=i].to_vec();
        x.extend_from_slice(&b[j + 1..b.len() - 1]);
        x.push(a[a.len() - 1]);
        let mut y = b[..=j].to_vec();
        y.extend_from_slice(&a[i + 1..a.len() - 1]);
        y.push(b[b.len() - 1]);
        (x, y)
    }

    /// The best single exchange of tails, by trying every pair of cuts
    /// where both routes are empty and checking both new routes exactly.
    fn best_exchange(ctx: &Ctx, s: &Sol, sc: &mut Scratch) -> f64 {
        let c = ctx.c;
        let (a, b) = (&s.routes[0].seq, &s.routes[1].seq);
        let mut best = s.dist();
        for i in 0..a.len() - 1 {
            for j in 0..b.len() - 1 {
                if s.routes[0].load[i] != [0, 0] || s.routes[1].load[j] != [0, 0] {
                    continue;
                }
                let (x, y) = swapped_tails(a, i, b, j);
                if let (Some(x), Some(y)) =
                    (RouteData::compute(c, &c.veh[0], x, sc), RouteData::compute(c, &c.veh[1], y, sc))
                {
                    best = best.min(x.cost + y.cost);
                }
            }
        }
        best
    }

    #[test]
    fn crossing_routes_swap_their_second_trips() {
        // Each vehicle serves one trip near the depot and one far away; the
        // exchange gives one vehicle both near trips and the other both far ones.
        let p = problem(
            &[
                ((1.0, 0.0), (2.0, 0.0), 0.0),
                ((60.0, 0.0), (61.0, 0.0), 200.0),
                ((60.0, 1.0), (61.0, 1.0), 100.0),
                ((1.0, 1.0), (2.0, 1.0), 300.0),
            ],
            None,
        );
        let c = Compiled::new(&p);
        let search = SearchParams::default();
        let mut sc = Scratch::default();
        let (ctx, empty) = prepare(&c, Objective::Distance, &search, &mut sc);
        let mut s = plan(&ctx, &empty, &[(0, 0), (1, 0), (2, 1), (3, 1)], &mut sc).unwrap();
        let before = s.dist();
        assert!(descend(&ctx, &mut s, 1, &mut sc));
        assert!(s.dist() < before - 50.0, "{} -> {}", before, s.dist());
        assert_eq!(s.route_of[0], s.route_of[3]);
        assert_eq!(s.route_of[1], s.route_of[2]);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

        /// One pass over two routes takes the best exchange a brute-force
        /// search finds, keeps every request once, on the route that says
        /// it serves it, and every route feasible.
        #[test]
        fn one_pass_takes_the_best_exchange(
            reqs in prop::collection::vec(
                ((0.0..60.0f64, 0.0..60.0f64), (0.0..60.0f64, 0.0..60.0f64), 0.0..600.0f64), 2..9),
            vehicles in prop::collection::vec(0..2usize, 9),
        ) {
            let p = problem(&reqs, None);
            let c = Compiled::new(&p);
            let search = SearchParams::default();
            let mut sc = Scratch::default();
            let (ctx, empty) = prepare(&c, Objective::Distance, &search, &mut sc);
            let order = by_pickup_time(&reqs, &vehicles);
            let Some(mut s) = plan(&ctx, &empty, &order, &mut sc) else { return Ok(()) };
            let expected = best_exchange(&ctx, &s, &mut sc);
            let changed = descend(&ctx, &mut s, 1, &mut sc);
            prop_assert!((s.dist() - expected).abs() < 1e-6, "{} vs brute force {}", s.dist(), expected);
            prop_assert_eq!(changed, expected < ctx.obj(&plan(&ctx, &empty, &order, &mut sc).unwrap()) - 1e-9);
            let mut seen = vec![NONE; reqs.len()];
            for (v, rd) in s.routes.iter().enumerate() {
                prop_assert!(RouteData::compute(&c, &c.veh[v], rd.seq.clone(), &mut sc).is_some());
                for &x in &rd.seq {
                    if let Kind::Pickup(r) = c.nodes[x as usize].kind {
                        prop_assert_eq!(seen[r as usize], NONE);
                        seen[r as usize] = v as u32;
                    }
                }
            }
            prop_assert_eq!(&seen, &s.route_of);
        }

        /// The exchange's change in length equals the two spliced routes'
        /// lengths summed leg by leg, also when the vehicles end their
        /// shifts at different depots.
        #[test]
        fn exchange_delta_is_the_change_in_length(
            reqs in prop::collection::vec(
                ((0.0..60.0f64, 0.0..60.0f64), (0.0..60.0f64, 0.0..60.0f64), 0.0..600.0f64), 2..9),
            vehicles in prop::collection::vec(0..2usize, 9),
            end in (0.0..60.0f64, 0.0..60.0f64),
        ) {
            let p = problem(&reqs, Some(end));
            let c = Compiled::new(&p);
            let search = SearchParams::default();
            let mut sc = Scratch::default();
            let (ctx, empty) = prepare(&c, Objective::Distance, &search, &mut sc);
            let order = by_pickup_time(&reqs, &vehicles);
            let Some(s) = plan(&ctx, &empty, &order, &mut sc) else { return Ok(()) };
            let (rv, rw) = (&s.routes[0], &s.routes[1]);
            let length = |seq: &[u32]| seq.windows(2).map(|l| c.dist(l[0], l[1])).sum::<f64>();
            for a in 0..rv.seq.len() - 1 {
                for b in 0..rw.seq.len() - 1 {
                    let (x, y) = swapped_tails(&rv.seq, a, &rw.seq, b);
                    let expected = length(&x) + length(&y) - length(&rv.seq) - length(&rw.seq);
                    let delta = exchange_delta(&c, rv, rw, a, b);
                    prop_assert!((delta - expected).abs() < 1e-6, "({}, {}): {} vs {}", a, b, delta, expected);
                }
            }
        }
    }
}
