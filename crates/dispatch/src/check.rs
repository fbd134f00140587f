//! The independent checker: recomputes every schedule from the routes alone
//! and lists each broken constraint. It shares no code with the solver's fast
//! path on purpose: it is the judge of the benchmarks and the property tests.

use std::collections::HashMap;

use noriai_model::{Request, StopKind, TravelTimes, Vehicle};

use crate::problem::Problem;

/// Tolerance for comparing times, as in the DARP literature's checkers.
pub const TOL: f64 = 1e-6;

/// Below this a schedule delay is float rounding, not a constraint (well
/// under [`TOL`], so the final check is unaffected).
const SETTLE: f64 = 1e-8;

/// The verdict on a set of routes.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// No violation at all, every request served exactly once.
    pub feasible: bool,
    /// Total distance, depot to depot, of the routes that serve a stop.
    pub cost: f64,
    /// Routes that serve at least one stop.
    pub vehicles_used: usize,
    /// One line per broken constraint.
    pub violations: Vec<String>,
}

/// Checks routes given as the problem's external node ids (instance node ids
/// for benchmark files), one list per vehicle in vehicle order, depot excluded.
pub fn verify<T: TravelTimes>(problem: &Problem<T>, routes: &[Vec<u32>]) -> Report {
    let mut by_id = HashMap::new();
    for (r, ids) in problem.node_ids().iter().enumerate() {
        by_id.insert(ids[0], StopKind::Pickup(problem.requests()[r].id));
        by_id.insert(ids[1], StopKind::Dropoff(problem.requests()[r].id));
    }
    let mut unknown = Vec::new();
    let stops: Vec<Vec<StopKind>> = routes
        .iter()
        .enumerate()
        .map(|(v, route)| {
            route
                .iter()
                .filter_map(|id| {
                    let s = by_id.get(id).copied();
                    if s.is_none() {
                        unknown.push(format!(
                            "route {v}: node id {id} is not a pickup or dropoff of the problem"
                        ));
                    }
                    s
                })
                .collect()
        })
        .collect();
    let mut report = verify_stops(problem, &stops, true);
    if !unknown.is_empty() {
        report.violations.splice(0..0, unknown);
        report.feasible = false;
    }
    report
}

/// Checks routes given as stops, one list per vehicle in vehicle order.
/// With `all_served`, every request of the problem must appear exactly once.
pub fn verify_stops<T: TravelTimes>(
    problem: &Problem<T>,
    routes: &[Vec<StopKind>],
    all_served: bool,
) -> Report {
    let mut violations = Vec::new();
    let requests = problem.requests();
    let index: HashMap<_, _> = requests.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let mut seen_pick = vec![0usize; requests.len()];
    let mut seen_drop = vec![0usize; requests.len()];
    if routes.len() > problem.vehicles().len() {
        violations.push(format!("{} routes for {} vehicles", routes.len(), problem.vehicles().len()));
    }
    let mut cost = 0.0;
    let mut used = 0;
    for (v, (route, vehicle)) in routes.iter().zip(problem.vehicles()).enumerate() {
        let breaks_in_route = route.iter().filter(|s| matches!(s, StopKind::Break(_))).count();
        if route.len() > breaks_in_route {
            used += 1;
        }
        for (k, _) in vehicle.breaks.iter().enumerate() {
            let n = route.iter().filter(|s| **s == StopKind::Break(k)).count();
            if n != 1 {
                violations.push(format!("vehicle {v}: break {k} planned {n} times"));
            }
        }
        let mut resolved = Vec::new();
        for s in route {
            match *s {
                StopKind::Pickup(id) | StopKind::Dropoff(id) => match index.get(&id) {
                    Some(&r) => {
                        if matches!(s, StopKind::Pickup(_)) {
                            seen_pick[r] += 1;
                        } else {
                            seen_drop[r] += 1;
                        }
                        resolved.push(*s);
                    }
                    None => violations.push(format!("vehicle {v}: unknown request {}", id.0)),
                },
                StopKind::Break(k) if k < vehicle.breaks.len() => resolved.push(*s),
                StopKind::Break(k) => violations.push(format!("vehicle {v}: unknown break {k}")),
            }
        }
        if route.len() > breaks_in_route || !vehicle.breaks.is_empty() {
            cost += check_route(problem, v, vehicle, &resolved, &index, requests, &mut violations);
        }
    }
    for (r, req) in requests.iter().enumerate() {
        let (p, d) = (seen_pick[r], seen_drop[r]);
        if p > 1 || d > 1 || p != d || (all_served && p == 0) {
            violations.push(format!("request {}: picked up {p} times, dropped off {d} times", req.id.0));
        }
    }
    Report { feasible: violations.is_empty(), cost, vehicles_used: used, violations }
}

/// One stop of a route as the checker sees it.
struct Stop {
    name: String,
    loc: noriai_model::LocId,
    earliest: f64,
    latest: f64,
    service: f64,
    delta: [i64; 2],
}

fn check_route<T: TravelTimes>(
    problem: &Problem<T>,
    v: usize,
    vehicle: &Vehicle,
    route: &[StopKind],
    index: &HashMap<noriai_model::RequestId, usize>,
    requests: &[Request],
    violations: &mut Vec<String>,
) -> f64 {
    // Build the stop list, depots included.
    let mut stops = vec![Stop {
        name: "start depot".into(),
        loc: vehicle.start_depot,
        earliest: vehicle.shift.earliest(),
        latest: vehicle.shift.latest(),
        service: 0.0,
        delta: [0, 0],
    }];
    for s in route {
        let stop = match *s {
            StopKind::Pickup(id) => {
                let r = &requests[index[&id]];
                Stop {
                    name: format!("pickup of request {}", id.0),
                    loc: r.pickup,
                    // A promise narrows the window; both must hold.
                    earliest: r
                        .pickup_window
                        .earliest()
                        .max(r.promised_pickup.map_or(f64::NEG_INFINITY, |p| p.earliest())),
                    latest: r
                        .pickup_window
                        .latest()
                        .min(r.promised_pickup.map_or(f64::INFINITY, |p| p.latest())),
                    service: r.pickup_service,
                    delta: [i64::from(r.load.seats), i64::from(r.load.wheelchairs)],
                }
            }
            StopKind::Dropoff(id) => {
                let r = &requests[index[&id]];
                Stop {
                    name: format!("dropoff of request {}", id.0),
                    loc: r.dropoff,
                    earliest: r.dropoff_window.earliest(),
                    latest: r.dropoff_window.latest(),
                    service: r.dropoff_service,
                    delta: [-i64::from(r.load.seats), -i64::from(r.load.wheelchairs)],
                }
            }
            StopKind::Break(k) => {
                let b = &vehicle.breaks[k];
                Stop {
                    name: format!("break {k}"),
                    loc: b.location,
                    earliest: b.window.earliest(),
                    latest: b.window.latest(),
                    service: b.duration,
                    delta: [0, 0],
                }
            }
        };
        stops.push(stop);
    }
    stops.push(Stop {
        name: "end depot".into(),
        loc: vehicle.end_depot,
        earliest: vehicle.shift.earliest(),
        latest: vehicle.shift.latest(),
        service: 0.0,
        delta: [0, 0],
    });
    let m = stops.len();
    let travel = |a: usize, b: usize| problem.travel.time(stops[a].loc, stops[b].loc);

    // Pickup/dropoff pairs in this route, by position.
    let mut pairs = Vec::new(); // (pickup position, dropoff position, request)
    for (a, s) in route.iter().enumerate() {
        if let StopKind::Pickup(id) = *s {
            match route.iter().position(|x| *x == StopKind::Dropoff(id)) {
                Some(b) if b > a => pairs.push((a + 1, b + 1, &requests[index[&id]])),
                Some(_) => {
                    violations.push(format!("vehicle {v}: request {} dropped off before pickup", id.0))
                }
                None => {
                    violations.push(format!("vehicle {v}: request {} picked up but not dropped off", id.0))
                }
            }
        }
        if let StopKind::Dropoff(id) = *s
            && !route.contains(&StopKind::Pickup(id))
        {
            violations.push(format!("vehicle {v}: request {} dropped off but not picked up", id.0));
        }
    }

    // Schedule: start as early as allowed, then keep delaying whatever a ride
    // time or the route duration requires until nothing changes. Changes
    // below SETTLE are rounding: at clock times of a day (30,000 s and more)
    // a tight ride-time cycle otherwise creeps by an ulp per round and never
    // settles, which refused feasible routes.
    let initial: Vec<f64> =
        stops.iter().map(|s| if s.earliest.is_finite() { s.earliest } else { -1e12 }).collect();
    let mut t = initial.clone();
    let mut converged = false;
    for _ in 0..(m + 2) * (m + 2) {
        let mut changed = false;
        for k in 1..m {
            let ready = t[k - 1] + stops[k - 1].service + travel(k - 1, k);
            if ready > t[k] + SETTLE {
                t[k] = ready;
                changed = true;
            }
        }
        for &(a, b, r) in &pairs {
            let ride = t[b] - (t[a] + stops[a].service);
            if ride > r.max_ride_time + SETTLE {
                t[a] = t[b] - stops[a].service - r.max_ride_time;
                changed = true;
            }
        }
        if t[m - 1] - t[0] > vehicle.max_route_duration + SETTLE {
            t[0] = t[m - 1] - vehicle.max_route_duration;
            changed = true;
        }
        if !changed {
            converged = true;
            break;
        }
    }
    // No schedule satisfies the ride times and duration together (the delays
    // never settle, or run past the windows): report against the plain
    // earliest schedule, whose violations name the real culprit.
    let late = (0..m).any(|k| t[k] > stops[k].latest + TOL);
    if !converged || late {
        t = initial;
        for k in 1..m {
            t[k] = t[k].max(t[k - 1] + stops[k - 1].service + travel(k - 1, k));
        }
    }

    // Verify every constraint on that schedule.
    let mut load = [0i64; 2];
    let cap = [i64::from(vehicle.capacity.seats), i64::from(vehicle.capacity.wheelchairs)];
    let mut dist = 0.0;
    for k in 0..m {
        let s = &stops[k];
        if t[k] < s.earliest - TOL || t[k] > s.latest + TOL {
            violations.push(format!(
                "vehicle {v}: {} starts at {:.6}, outside [{}, {}]",
                s.name, t[k], s.earliest, s.latest
            ));
        }
        if k > 0 {
            dist += problem.travel.distance(stops[k - 1].loc, s.loc);
            if t[k] < t[k - 1] + stops[k - 1].service + travel(k - 1, k) - TOL {
                violations.push(format!("vehicle {v}: cannot reach {} by {:.6}", s.name, t[k]));
            }
        }
        load = [load[0] + s.delta[0], load[1] + s.delta[1]];
        if load[0] > cap[0] || load[1] > cap[1] || load[0] < 0 || load[1] < 0 {
            violations.push(format!("vehicle {v}: load {load:?} after {} exceeds capacity {cap:?}", s.name));
        }
    }
    for &(a, b, r) in &pairs {
        let ride = t[b] - (t[a] + stops[a].service);
        if ride > r.max_ride_time + TOL {
            violations.push(format!(
                "vehicle {v}: request {} rides {ride:.6}, more than {}",
                r.id.0, r.max_ride_time
            ));
        }
        if let Some(p) = r.promised_pickup
            && !p.contains(t[a])
            && (t[a] < p.earliest() - TOL || t[a] > p.latest() + TOL)
        {
            violations.push(format!(
                "vehicle {v}: request {} picked up at {:.6}, outside its promised window [{}, {}]",
                r.id.0,
                t[a],
                p.earliest(),
                p.latest()
            ));
        }
    }
    if t[m - 1] - t[0] > vehicle.max_route_duration + TOL {
        violations.push(format!(
            "vehicle {v}: route lasts {:.6}, more than {}",
            t[m - 1] - t[0],
            vehicle.max_route_duration
        ));
    }
    dist
}
