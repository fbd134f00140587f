//! The slow, obviously correct schedule: every constraint of a route written
//! as a difference constraint and solved by textbook Bellman–Ford from scratch.
//! The fast insertion check is tested against it; nothing fast uses it.

use std::collections::HashMap;

use noriai_model::{StopKind, TravelTimes};

use crate::problem::Problem;

/// The earliest feasible start-of-service times of a route of vehicle `v`
/// (start depot, `stops`, end depot), or `None` if no feasible schedule exists.
pub fn schedule_from_scratch<T: TravelTimes>(
    problem: &Problem<T>,
    v: usize,
    stops: &[StopKind],
) -> Option<Vec<f64>> {
    let vehicle = problem.vehicles().get(v)?;
    let index: HashMap<_, _> = problem.requests().iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    // (location, earliest, latest, service, load)
    let mut pts =
        vec![(vehicle.start_depot, vehicle.shift.earliest(), vehicle.shift.latest(), 0.0, [0i64; 2])];
    for s in stops {
        pts.push(match *s {
            StopKind::Pickup(id) => {
                let r = &problem.requests()[*index.get(&id)?];
                let w = r.effective_pickup_window();
                (r.pickup, w.earliest(), w.latest(), r.pickup_service, r.load.as_array())
            }
            StopKind::Dropoff(id) => {
                let r = &problem.requests()[*index.get(&id)?];
                let q = r.load.as_array();
                (
                    r.dropoff,
                    r.dropoff_window.earliest(),
                    r.dropoff_window.latest(),
                    r.dropoff_service,
                    [-q[0], -q[1]],
                )
            }
            StopKind::Break(k) => {
                let b = vehicle.breaks.get(k)?;
                (b.location, b.window.earliest(), b.window.latest(), b.duration, [0, 0])
            }
        });
    }
    pts.push((vehicle.end_depot, vehicle.shift.earliest(), vehicle.shift.latest(), 0.0, [0, 0]));
    // Capacity and precedence are not about time: check them directly.
    let cap = vehicle.capacity.as_array();
    let mut load = [0i64; 2];
    for p in &pts {
        load = [load[0] + p.4[0], load[1] + p.4[1]];
        if load[0] < 0 || load[1] < 0 || load[0] > cap[0] || load[1] > cap[1] {
            return None;
        }
    }
    let m = pts.len();
    // Variable 0 is "time zero"; stop k is variable k + 1.
    // Edge (u, v, w) means B[v] >= B[u] + w.
    let mut edges: Vec<(usize, usize, f64)> = Vec::new();
    for (k, p) in pts.iter().enumerate() {
        if p.1.is_finite() {
            edges.push((0, k + 1, p.1));
        }
        if p.2.is_finite() {
            edges.push((k + 1, 0, -p.2));
        }
        if k + 1 < m {
            edges.push((k + 1, k + 2, p.3 + problem.travel.time(p.0, pts[k + 1].0)));
        }
    }
    for (a, s) in stops.iter().enumerate() {
        if let StopKind::Pickup(id) = *s {
            let b = stops.iter().position(|x| *x == StopKind::Dropoff(id))?;
            if b < a {
                return None;
            }
            let r = &problem.requests()[index[&id]];
            if r.max_ride_time.is_finite() {
                edges.push((b + 2, a + 2, -(r.pickup_service + r.max_ride_time)));
            }
        }
        if let StopKind::Dropoff(id) = *s
            && !stops.contains(&StopKind::Pickup(id))
        {
            return None;
        }
    }
    if vehicle.max_route_duration.is_finite() {
        edges.push((m, 1, -vehicle.max_route_duration));
    }
    let n = m + 1;
    let mut b = vec![-1e15; n];
    b[0] = 0.0;
    for round in 0..=n {
        let mut changed = false;
        for &(u, v, w) in &edges {
            if b[u] + w > b[v] + 1e-9 {
                b[v] = b[u] + w;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        if round == n {
            return None;
        }
    }
    if b[0] > 1e-9 {
        return None;
    }
    Some(b[1..].to_vec())
}
