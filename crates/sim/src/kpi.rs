//! The figures a town council compares between plans, computed from a
//! simulated day as executed (not as planned).

use crate::run::{DayResult, Outcome, Refusal, StopEvent};
use crate::scenario::Scenario;
use serde::Serialize;
use std::collections::BTreeMap;

/// Summary of a distribution.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Self::default();
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Self {
            n: v.len(),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            median: q(0.5),
            p90: q(0.9),
            max: v[v.len() - 1],
        }
    }
}

/// Figures for one hour of the day (trips by requested time; vehicles by activity).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HourKpi {
    pub hour: usize,
    pub requests: usize,
    pub served: usize,
    pub refused: usize,
    pub cancelled: usize,
    pub no_show: usize,
    pub median_wait_min: Option<f64>,
    /// Vehicles driving or serving a stop at some time in the hour.
    pub vehicles_in_use: usize,
    pub busy_vehicle_hours: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cost {
    pub currency: String,
    pub per_vehicle_hour: f64,
    pub per_km: f64,
    pub total: f64,
    pub fares: f64,
    pub per_served_trip: f64,
    /// After fares.
    pub net_per_served_trip: f64,
}

/// Everything in `kpis.json`. Shares are 0..1; times in minutes unless named `_s`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Kpis {
    pub scenario: String,
    pub demand: String,
    pub vehicles: u32,
    pub requests: usize,
    pub served: usize,
    pub refused: usize,
    pub cancelled: usize,
    pub no_show: usize,
    pub served_share: f64,
    pub refused_share: f64,
    pub cancelled_share: f64,
    pub no_show_share: f64,
    pub prebooked: usize,
    pub same_day: usize,
    /// Riders who took another time the dispatcher offered.
    pub moved_to_other_time: usize,
    pub refused_by_reason: BTreeMap<Refusal, usize>,
    /// Refused trips by H3 cell of their origin (hex index).
    pub refused_by_cell: BTreeMap<String, usize>,
    pub outside_map: usize,
    pub outside_map_examples: Vec<String>,
    /// Pickup minus requested time, "pick me up from" trips (a rider who took
    /// another offered time is measured against that time).
    pub wait_min: Stats,
    /// Requested arrival minus actual arrival, "arrive by" trips.
    pub arrive_early_min: Stats,
    pub ride_min: Stats,
    /// Ride time over direct driving time.
    pub detour_factor: Stats,
    pub walk_m: Stats,
    /// Served pickups inside their promised window (1.0 unless the engine broke a promise).
    pub promises_kept_share: f64,
    pub vehicles_used: usize,
    /// Paid vehicle-hours on shift.
    pub vehicle_hours: f64,
    /// Vehicle-hours driving or serving stops.
    pub busy_vehicle_hours: f64,
    pub km_driven: f64,
    pub km_empty: f64,
    pub empty_share: f64,
    /// Passengers (seats and wheelchair places) served.
    pub passengers: u64,
    pub passengers_per_vehicle_hour: f64,
    pub cost: Cost,
    /// Day-before bookings the evening batch planned, their km before and
    /// after it, and how many riders were then told a narrower window.
    pub batch_prebooked: usize,
    pub batch_km_before: f64,
    pub batch_km_after: f64,
    pub batch_narrowed: usize,
    pub plan_drift: usize,
    /// Late legs, breakdowns and what the live rules did (scenario `[road]`).
    pub road: crate::run::RoadRecord,
    pub per_hour: Vec<HourKpi>,
    pub wall_s: f64,
}

impl Kpis {
    pub fn compute(sc: &Scenario, day: &DayResult) -> Self {
        let riders = &day.riders;
        let n = riders.len();
        let count = |o: Outcome| riders.iter().filter(|r| r.outcome == o).count();
        let share = |k: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
        let (served, refused, cancelled, no_show) = (
            count(Outcome::Served),
            count(Outcome::Refused),
            count(Outcome::Cancelled),
            count(Outcome::NoShow),
        );
        let mut refused_by_reason = BTreeMap::new();
        let mut refused_by_cell = BTreeMap::new();
        for r in riders.iter().filter(|r| r.outcome == Outcome::Refused) {
            if let Some(why) = r.reason {
                *refused_by_reason.entry(why).or_insert(0) += 1;
            }
            if let Some(c) = r.origin_cell {
                *refused_by_cell.entry(noriai_zones::cell_to_string(c)).or_insert(0) += 1;
            }
        }
        let done: Vec<_> = riders.iter().filter(|r| r.outcome == Outcome::Served).collect();
        let wait: Vec<f64> = done
            .iter()
            .filter(|r| !r.arrive_by)
            .filter_map(|r| Some((r.pickup_s? - r.asked_s()) / 60.0))
            .collect();
        let early: Vec<f64> = done
            .iter()
            .filter(|r| r.arrive_by)
            .filter_map(|r| Some((r.asked_s() - r.dropoff_s?) / 60.0))
            .collect();
        let ride: Vec<f64> =
            done.iter().filter_map(|r| Some((r.dropoff_s? - r.pickup_departure_s?) / 60.0)).collect();
        let detour: Vec<f64> = done
            .iter()
            .filter_map(|r| {
                let direct = r.direct_s.filter(|d| *d > 1.0)?;
                Some((r.dropoff_s? - r.pickup_departure_s?) / direct)
            })
            .collect();
        let walk: Vec<f64> = done.iter().map(|r| r.walk_m).collect();
        let kept = done
            .iter()
            .filter(|r| match (r.promise, r.pickup_s) {
                (Some((a, b)), Some(t)) => t >= a - 1e-6 && t <= b + 1e-6,
                _ => false,
            })
            .count();
        let vehicle_hours: f64 = day.vehicles.iter().map(|v| (v.shift.1 - v.shift.0) / 3600.0).sum();
        let busy: f64 =
            day.vehicles.iter().flat_map(|v| &v.busy).map(|(a, b)| (b - a).max(0.0) / 3600.0).sum();
        let km: f64 = day.vehicles.iter().map(|v| v.km).sum::<f64>() / 1000.0;
        let km_empty: f64 = day.vehicles.iter().map(|v| v.km_empty).sum::<f64>() / 1000.0;
        let passengers: u64 = done.iter().map(|r| u64::from(r.seats + r.wheelchairs)).sum();
        let total = vehicle_hours * sc.cost.per_vehicle_hour + km * sc.cost.per_km;
        let fares = served as f64 * sc.cost.fare_per_trip;
        let per_trip = |x: f64| if served == 0 { 0.0 } else { x / served as f64 };

        let last_hour = riders
            .iter()
            .map(|r| (r.requested_s / 3600.0).floor().max(0.0) as usize)
            .chain(
                day.vehicles.iter().flat_map(|v| &v.busy).map(|b| (b.1 / 3600.0).floor().max(0.0) as usize),
            )
            .max()
            .unwrap_or(23)
            .max(23);
        let mut per_hour: Vec<HourKpi> =
            (0..=last_hour).map(|hour| HourKpi { hour, ..HourKpi::default() }).collect();
        let mut waits_by_hour: Vec<Vec<f64>> = vec![Vec::new(); per_hour.len()];
        for r in riders {
            let h = ((r.requested_s / 3600.0).floor().max(0.0) as usize).min(last_hour);
            let e = &mut per_hour[h];
            e.requests += 1;
            match r.outcome {
                Outcome::Served => {
                    e.served += 1;
                    if let (false, Some(p)) = (r.arrive_by, r.pickup_s) {
                        waits_by_hour[h].push((p - r.asked_s()) / 60.0);
                    }
                }
                Outcome::Refused => e.refused += 1,
                Outcome::Cancelled => e.cancelled += 1,
                Outcome::NoShow => e.no_show += 1,
            }
        }
        for (h, e) in per_hour.iter_mut().enumerate() {
            let w = Stats::of(&waits_by_hour[h]);
            e.median_wait_min = (w.n > 0).then_some(w.median);
            let (a, b) = (h as f64 * 3600.0, (h + 1) as f64 * 3600.0);
            for v in &day.vehicles {
                let overlap: f64 = v.busy.iter().map(|&(s, t)| (t.min(b) - s.max(a)).max(0.0)).sum();
                if overlap > 0.0 {
                    e.vehicles_in_use += 1;
                    e.busy_vehicle_hours += overlap / 3600.0;
                }
            }
        }
        Kpis {
            road: day.road.clone(),
            scenario: day.scenario.clone(),
            demand: day.demand.clone(),
            vehicles: sc.fleet.vehicles,
            requests: n,
            served,
            refused,
            cancelled,
            no_show,
            served_share: share(served),
            refused_share: share(refused),
            cancelled_share: share(cancelled),
            no_show_share: share(no_show),
            prebooked: riders.iter().filter(|r| r.prebooked).count(),
            same_day: riders.iter().filter(|r| !r.prebooked).count(),
            moved_to_other_time: done.iter().filter(|r| r.moved_s.is_some()).count(),
            refused_by_reason,
            refused_by_cell,
            outside_map: riders.iter().filter(|r| r.reason == Some(Refusal::OutsideMap)).count(),
            outside_map_examples: day.outside_map.iter().take(20).cloned().collect(),
            wait_min: Stats::of(&wait),
            arrive_early_min: Stats::of(&early),
            ride_min: Stats::of(&ride),
            detour_factor: Stats::of(&detour),
            walk_m: Stats::of(&walk),
            promises_kept_share: if done.is_empty() { 1.0 } else { kept as f64 / done.len() as f64 },
            vehicles_used: day
                .vehicles
                .iter()
                .filter(|v| v.stops.iter().any(|s| s.event != StopEvent::Depot))
                .count(),
            vehicle_hours,
            busy_vehicle_hours: busy,
            km_driven: km,
            km_empty,
            empty_share: if km > 0.0 { km_empty / km } else { 0.0 },
            passengers,
            passengers_per_vehicle_hour: if vehicle_hours > 0.0 {
                passengers as f64 / vehicle_hours
            } else {
                0.0
            },
            cost: Cost {
                currency: sc.cost.currency.clone(),
                per_vehicle_hour: sc.cost.per_vehicle_hour,
                per_km: sc.cost.per_km,
                total,
                fares,
                per_served_trip: per_trip(total),
                net_per_served_trip: per_trip(total - fares),
            },
            batch_prebooked: day.batch.accepted,
            batch_km_before: day.batch.km_before,
            batch_km_after: day.batch.km_after,
            batch_narrowed: day.batch.narrowed,
            plan_drift: day.plan_drift,
            per_hour,
            wall_s: day.wall_s,
        }
    }
}
