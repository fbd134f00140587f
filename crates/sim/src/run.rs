//! One simulated service day on a simulated clock, driving the dispatch
//! engine exactly as the booking server does: each trip becomes a request by
//! the service's `Policy`, is priced by `insert`, and the best offer is
//! committed with the promise `Policy::promise` gives. Trips booked the day
//! before are planned as a batch (insertion, then `solve` keeping every
//! promise); same-day trips arrive at their booking time. Vehicles follow
//! their plans; riders cancel or do not show with the scenario's
//! probabilities. Nothing here reads the future: a decision at time `t` uses
//! only bookings and cancellations made up to `t` and vehicle positions at `t`.
//!
//! How vehicles move: an empty vehicle waits where it is and leaves for its
//! next stop just in time to start service at the planned time; from then on
//! that stop is locked. A vehicle with riders on board drives on at once.
//! Served stops stay locked at the head of the route while riders are on
//! board and are cut off with `LivePlan::complete_stops` when the vehicle is empty
//! again, so the engine always sees the true load, and an insertion that
//! would re-time a stop already served is refused and the next offer tried.

use crate::SimError;
use crate::demand::Demand;
use crate::places::{CrowPlaces, Places, RoadPlaces};
use crate::scenario::{Scenario, TravelModel};
use crate::world::World;
use noriai_dispatch::live::{Present, Ride, RoadEvent, keep_up, present_of};
use noriai_dispatch::{
    LivePlan, NoOffer, Objective, Offer, OfferOptions, OnlineError, Problem, Reason, SolveParams, Wish,
};
use noriai_model::live::{DelayReason, EventKind};
use noriai_model::{
    Capacity, LatLon, LocId, Plan, PlannedStop, Request, RequestId, StopKind, TimeWindow, Vehicle, VehicleId,
};
use noriai_roads::Progress;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Instant;

/// When day-before bookings are made (seconds relative to the service day's midnight).
pub const DAY_BEFORE_S: f64 = -4.0 * 3600.0;

/// Why a trip was refused. Serialised as snake_case (`no_vehicle_in_time`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// A trip end could not be placed on the map (too far from any road).
    OutsideMap,
    /// A trip end lies outside the service area.
    OutsideArea,
    /// No virtual stop within walking distance.
    NoStopNearby,
    /// Origin and destination are the same place.
    SamePlace,
    /// The trip cannot become a request (its times or load are invalid).
    InvalidRequest,
    /// More places than any vehicle has.
    ExceedsCapacity,
    /// No vehicle's shift covers the trip.
    OutsideAnyShift,
    /// Even alone in a vehicle the trip cannot meet its windows.
    ImpossibleTrip,
    /// Every vehicle is busy at that time.
    NoVehicleInTime,
    /// Booked, but the vehicle broke down and no other could take the ride.
    VehicleBrokeDown,
}

impl Refusal {
    /// The reason as a planner reads it, in English and Japanese.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Refusal::OutsideMap => ("Too far from any road", "道路から遠すぎる"),
            Refusal::OutsideArea => ("Outside the service area", "運行区域外"),
            Refusal::NoStopNearby => ("No stop within walking distance", "徒歩圏内に乗降場所がない"),
            Refusal::SamePlace => ("Same place as the destination", "出発地と目的地が同じ"),
            Refusal::InvalidRequest => ("Invalid request", "予約内容の不備"),
            Refusal::ExceedsCapacity => ("More riders than a vehicle holds", "車両の定員超過"),
            Refusal::OutsideAnyShift => ("Outside service hours", "運行時間外"),
            Refusal::ImpossibleTrip => ("Cannot be done in time even alone", "単独でも時間内に運べない"),
            Refusal::NoVehicleInTime => ("No vehicle free in time", "空き車両なし"),
            Refusal::VehicleBrokeDown => ("Vehicle broke down, no other free", "車両故障で代替車両なし"),
        }
    }

    fn of(r: Reason) -> Self {
        match r {
            Reason::ExceedsCapacity => Refusal::ExceedsCapacity,
            Reason::OutsideAnyShift => Refusal::OutsideAnyShift,
            Reason::ImpossibleTrip => Refusal::ImpossibleTrip,
            Reason::NoVehicleInTime => Refusal::NoVehicleInTime,
        }
    }
}

/// How a rider's trip ended. Every trip ends in exactly one of these.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Served,
    Refused,
    Cancelled,
    NoShow,
}

/// What happened to one trip of the demand.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiderRecord {
    pub trip: usize,
    pub prebooked: bool,
    pub booked_at_s: f64,
    pub requested_s: f64,
    pub arrive_by: bool,
    pub outcome: Outcome,
    /// Why a trip was refused (`outside_map`, `outside_area`, `no_stop_nearby`,
    /// `same_place`, or the engine's `exceeds_capacity`, `outside_any_shift`,
    /// `impossible_trip`, `no_vehicle_in_time`).
    pub reason: Option<Refusal>,
    pub origin: LatLon,
    pub destination: LatLon,
    /// H3 cell of the origin (at the area's resolution, else 8): refused trips are mapped by it.
    pub origin_cell: Option<u64>,
    pub vehicle: Option<u32>,
    /// The window a rider booking the day before was told at booking; the
    /// evening batch plans inside it and then tells them `promise`.
    pub told_at_booking: Option<(f64, f64)>,
    /// The promised pickup window (for a day-before booking, the final one).
    pub promise: Option<(f64, f64)>,
    pub pickup_window: Option<(f64, f64)>,
    pub dropoff_window: Option<(f64, f64)>,
    pub max_ride_s: Option<f64>,
    pub direct_s: Option<f64>,
    pub direct_m: Option<f64>,
    /// Start of service at the pickup and its end (when the ride starts).
    pub pickup_s: Option<f64>,
    pub pickup_departure_s: Option<f64>,
    /// Start of service at the dropoff (when the ride ends).
    pub dropoff_s: Option<f64>,
    /// Walk to and from virtual stops, metres as the crow flies.
    pub walk_m: f64,
    pub seats: u32,
    pub wheelchairs: u32,
    /// The rider took another time the dispatcher offered (seconds moved).
    pub moved_s: Option<f64>,
}

impl RiderRecord {
    /// The time the rider finally asked for: requested, or the other time they took.
    pub fn asked_s(&self) -> f64 {
        self.requested_s + self.moved_s.unwrap_or(0.0)
    }
}

/// What a vehicle did at a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopEvent {
    Pickup,
    Dropoff,
    /// Nobody boarded (no-show or a cancellation too late to re-route).
    NoShow,
    /// The dropoff of a rider who never boarded; the vehicle still passes.
    EmptyDropoff,
    Depot,
}

/// One stop as executed, for replay checks and the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutedStop {
    pub event: StopEvent,
    pub trip: Option<usize>,
    pub location: LatLon,
    /// When the vehicle left its previous place for this stop.
    pub leave_s: f64,
    pub leg_s: f64,
    pub leg_m: f64,
    pub arrival_s: f64,
    pub start_s: f64,
    pub departure_s: f64,
    /// Riders on board when leaving the stop (real riders only).
    pub onboard: Capacity,
}

/// A vehicle's day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VehicleRecord {
    pub id: u32,
    pub capacity: Capacity,
    pub shift: (f64, f64),
    /// Intervals driving to or serving stops.
    pub busy: Vec<(f64, f64)>,
    pub km: f64,
    pub km_empty: f64,
    pub stops: Vec<ExecutedStop>,
    /// What its driver's tablet would have reported, in order: the live
    /// rules read where the vehicle is from these, as the server reads a
    /// driver's stored events.
    pub events: Vec<DriverEvent>,
}

/// One driver's event, at seconds after the day's midnight (in a
/// simulation, a booking id is the trip's number).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriverEvent {
    pub at_s: f64,
    pub kind: EventKind,
}

impl DriverEvent {
    pub fn about(at_s: f64, kind: EventKind) -> Self {
        Self { at_s, kind }
    }
}

/// The day-before batch plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BatchRecord {
    pub prebooked: usize,
    pub accepted: usize,
    /// Planned km of the day-before bookings as inserted one by one, and
    /// after the batch re-planned them inside their wide windows.
    pub km_before: f64,
    pub km_after: f64,
    pub improved: bool,
    /// Riders told a final window narrower than the one they were told at booking.
    pub narrowed: usize,
    pub seconds: f64,
}

/// Everything a simulated day produced.
#[derive(Debug, Clone, Serialize)]
pub struct DayResult {
    pub scenario: String,
    pub demand: String,
    pub riders: Vec<RiderRecord>,
    pub vehicles: Vec<VehicleRecord>,
    /// Trip ends that could not be placed on the map, as "trip N origin|destination: why".
    pub outside_map: Vec<String>,
    pub batch: BatchRecord,
    pub stops: Vec<LatLon>,
    pub depot: LatLon,
    /// Times the plan put a stop earlier than the vehicle could physically be
    /// there (should stay 0; counted so a regression shows in the KPIs).
    pub plan_drift: usize,
    pub wall_s: f64,
    /// What went wrong on the road (`[road]` in the scenario).
    pub road: RoadRecord,
}

/// Late legs and breakdowns, and what the live rules did about them (the
/// same `noriai_dispatch::live::keep_up` the booking server runs).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RoadRecord {
    pub late_legs: usize,
    pub breakdowns: usize,
    /// Riders handed to another vehicle that kept their promise.
    pub riders_moved: usize,
    /// Riders whose promise their vehicle could no longer keep and no other took.
    pub riders_late: usize,
    /// Riders of a broken-down vehicle no other could take (refused).
    pub riders_stranded: usize,
}

/// Runs a day of `demand` under scenario `sc` in `world`.
pub fn simulate(
    sc: &Scenario,
    world: &World,
    demand: &Demand,
    progress: &dyn Progress,
) -> Result<DayResult, SimError> {
    let started = Instant::now();
    let mut result = match &sc.travel {
        TravelModel::Roads => {
            let net = world
                .net
                .as_ref()
                .ok_or_else(|| SimError::Invalid("`travel.model = roads` needs a map".into()))?;
            let max_snap = sc.map.as_ref().map_or(noriai_roads::DEFAULT_MAX_SNAP_M, |m| m.max_snap_m);
            Day::new(sc, world, demand, RoadPlaces::new(net, max_snap))?.run(progress)?
        }
        TravelModel::Crow { speed_kmh, detour } => {
            Day::new(sc, world, demand, CrowPlaces::new(world.depot, *speed_kmh, *detour))?.run(progress)?
        }
    };
    result.wall_s = started.elapsed().as_secs_f64();
    Ok(result)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Waiting,
    Booked,
    Done,
}

struct Rider {
    rec: RiderRecord,
    state: State,
    cancel_at: Option<f64>,
    /// The vehicle will find nobody at the pickup (no-show or late cancellation).
    absent: bool,
    late_cancel: bool,
    /// Never boarded but the pickup was passed with riders on board: the dropoff stays in the plan.
    ghost: bool,
}

struct Veh {
    /// Where the vehicle is (or last was), and the route's head in the engine.
    loc: LocId,
    anchor_loc: LocId,
    anchor_t: f64,
    /// Stops served since the vehicle was last empty (still at the head of the route).
    served: usize,
    /// Their start times as executed, to refuse offers that would re-time them.
    served_starts: Vec<f64>,
    /// Driving to (or at) the next stop, which is locked.
    committed: bool,
    leave: f64,
    onboard: Capacity,
    depot: LocId,
    rec: VehicleRecord,
    /// Its own random stream for the road (late legs, a breakdown).
    rng: ChaCha8Rng,
    /// When it breaks down (if it does), and whether it has.
    breaks_down_at: Option<f64>,
    broken: bool,
}

struct Day<'a, P: Places> {
    sc: &'a Scenario,
    world: &'a World,
    demand: &'a Demand,
    places: P,
    plan: LivePlan,
    cache: Plan,
    veh: Vec<Veh>,
    riders: Vec<Rider>,
    opts: OfferOptions,
    outside_map: Vec<String>,
    batch: BatchRecord,
    plan_drift: usize,
    now: f64,
    road: RoadRecord,
    /// Riders the live rules named late at least once.
    late_riders: std::collections::BTreeSet<u32>,
    /// Riders who did not come while others were aboard: their dropoff stays
    /// planned, and the driver's arrival there is read as being there.
    ghosts: std::collections::HashMap<i64, Ride>,
}

/// How often one departure may re-plan a vehicle whose plan does not hold
/// from where and when it leaves before the day stops with an engine error.
const MOST_DEPARTURE_REPLANS: usize = 4;

fn engine(e: impl std::fmt::Display) -> SimError {
    SimError::Invalid(format!("dispatch engine: {e}"))
}

/// Independent random stream per trip, so every plan compared sees the same riders.
fn rider_rng(seed: u64, trip: usize) -> ChaCha8Rng {
    let mut z = seed ^ (trip as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}

impl<'a, P: Places> Day<'a, P> {
    fn new(sc: &'a Scenario, world: &'a World, demand: &'a Demand, mut places: P) -> Result<Self, SimError> {
        let depot = places.locate(world.depot).map_err(|e| {
            SimError::Invalid(format!(
                "{}: `fleet.depot` {} is not on the map: {e}",
                sc.file.display(),
                world.depot
            ))
        })?;
        let mut vehicles = Vec::new();
        let mut veh = Vec::new();
        let capacity = Capacity::new(sc.fleet.seats, sc.fleet.wheelchair_places);
        for i in 0..sc.fleet.vehicles {
            let (a, b) = sc.fleet.shifts[i as usize % sc.fleet.shifts.len()];
            let shift = TimeWindow::new(f64::from(a), f64::from(b)).map_err(engine)?;
            vehicles.push(Vehicle::new(VehicleId(i), capacity, depot, shift).map_err(engine)?);
            let mut rng = rider_rng(sc.seed ^ 0x0AD5, usize::MAX - i as usize);
            let breaks_down_at = (sc.road.breakdown_probability > 0.0
                && rng.random_bool(sc.road.breakdown_probability))
            .then(|| rng.random_range(f64::from(a)..f64::from(b).max(f64::from(a) + 1.0)));
            veh.push(Veh {
                rng,
                breaks_down_at,
                broken: false,
                loc: depot,
                anchor_loc: depot,
                anchor_t: f64::from(a),
                served: 0,
                served_starts: Vec::new(),
                committed: false,
                leave: f64::from(a),
                onboard: Capacity::ZERO,
                depot,
                rec: VehicleRecord {
                    id: i,
                    capacity,
                    shift: (f64::from(a), f64::from(b)),
                    busy: Vec::new(),
                    km: 0.0,
                    km_empty: 0.0,
                    stops: Vec::new(),
                    events: vec![DriverEvent::about(
                        f64::from(a),
                        EventKind::ShiftStarted { odometer_km: None },
                    )],
                },
            });
        }
        let plan = LivePlan::new(vehicles, &places).map_err(engine)?;
        let cache = plan.plan(&places);
        let cell_res = world.area.as_ref().map_or(8, |a| a.resolution());
        let riders = demand
            .trips
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut rng = rider_rng(sc.seed, i);
                let (u_pre, u_lead, u_fate, u_when) =
                    (rng.random::<f64>(), rng.random::<f64>(), rng.random::<f64>(), rng.random::<f64>());
                let b = &sc.booking;
                let prebooked = b.advance_days > 0 && u_pre < b.prebooked_share;
                let lead = b.min_lead_s + u_lead * (b.max_lead_s - b.min_lead_s);
                let booked_at = if prebooked { DAY_BEFORE_S } else { (t.time_s - lead).max(0.0) };
                let r = &sc.riders;
                let from = booked_at.max(0.0);
                let (cancel_at, no_show) = if u_fate < r.cancel_probability {
                    (Some(from + (0.05 + 0.95 * u_when) * (t.time_s - from).max(1.0)), false)
                } else {
                    (None, u_fate < r.cancel_probability + r.no_show_probability)
                };
                Rider {
                    rec: RiderRecord {
                        trip: i,
                        prebooked,
                        booked_at_s: booked_at,
                        requested_s: t.time_s,
                        arrive_by: t.arrive_by,
                        outcome: Outcome::Refused,
                        reason: None,
                        origin: t.origin,
                        destination: t.destination,
                        origin_cell: cell_of(t.origin, cell_res),
                        vehicle: None,
                        told_at_booking: None,
                        promise: None,
                        pickup_window: None,
                        dropoff_window: None,
                        max_ride_s: None,
                        direct_s: None,
                        direct_m: None,
                        pickup_s: None,
                        pickup_departure_s: None,
                        dropoff_s: None,
                        walk_m: 0.0,
                        seats: t.seats,
                        wheelchairs: t.wheelchairs,
                        moved_s: None,
                    },
                    state: State::Waiting,
                    cancel_at,
                    // Drawn now, acted on only when a vehicle reaches the pickup.
                    absent: no_show,
                    late_cancel: false,
                    ghost: false,
                }
            })
            .collect();
        let alternatives = sc.riders.accept_alternative > 0.0;
        let opts = OfferOptions {
            max_offers: 4,
            alternative_step: if alternatives { 900.0 } else { 0.0 },
            alternative_reach: 2.0 * 3600.0,
        };
        Ok(Self {
            sc,
            world,
            demand,
            places,
            plan,
            cache,
            veh,
            riders,
            opts,
            outside_map: Vec::new(),
            batch: BatchRecord::default(),
            plan_drift: 0,
            now: DAY_BEFORE_S,
            road: RoadRecord::default(),
            late_riders: Default::default(),
            ghosts: Default::default(),
        })
    }

    fn refresh(&mut self) {
        self.cache = self.plan.plan(&self.places);
    }

    fn run(mut self, progress: &dyn Progress) -> Result<DayResult, SimError> {
        // The evening before: plan every day-before booking as a batch.
        let mut pre: Vec<usize> = (0..self.riders.len()).filter(|&i| self.riders[i].rec.prebooked).collect();
        pre.sort_by(|&a, &b| {
            self.demand.trips[a].time_s.total_cmp(&self.demand.trips[b].time_s).then(a.cmp(&b))
        });
        self.batch.prebooked = pre.len();
        progress.stage("day-before plan", Some(pre.len() as u64));
        for &i in &pre {
            self.book(i)?;
            progress.inc(1);
        }
        self.batch.accepted = self.plan.requests().len();
        self.improve_batch()?;
        self.narrow_promises()?;

        // The day: bookings and cancellations in time order.
        let mut events: Vec<(f64, u8, usize)> = Vec::new();
        for (i, r) in self.riders.iter().enumerate() {
            if !r.rec.prebooked {
                events.push((r.rec.booked_at_s, 1, i));
            }
            if let Some(t) = r.cancel_at {
                events.push((t, 0, i));
            }
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        progress.stage("simulating day", Some(events.len() as u64));
        for (t, kind, i) in events {
            self.progress_to(t.max(0.0))?;
            self.now = t.max(0.0);
            if kind == 1 {
                self.book(i)?;
            } else {
                self.cancel(i)?;
            }
            progress.inc(1);
        }
        self.progress_to(f64::INFINITY)?;
        self.finish()
    }

    fn improve_batch(&mut self) -> Result<(), SimError> {
        let before = self.plan.cost();
        self.batch.km_before = before / 1000.0;
        self.batch.km_after = before / 1000.0;
        if self.sc.batch.iterations == 0 || self.plan.requests().len() < 2 {
            return Ok(());
        }
        let started = Instant::now();
        let requests = self.plan.requests().to_vec();
        let vehicles = self.plan.vehicles().to_vec();
        let problem = Problem::new(&self.places, requests.clone(), vehicles.clone(), Objective::Distance)
            .map_err(engine)?;
        let params = SolveParams {
            budget: noriai_dispatch::Budget::Iterations(self.sc.batch.iterations),
            seed: self.sc.seed,
            construction_only: false,
            ..Default::default()
        };
        let sol = noriai_dispatch::solve_threads(&problem, &params, self.sc.batch.threads);
        self.batch.seconds = started.elapsed().as_secs_f64();
        if sol.feasible && sol.unassigned.is_empty() && sol.cost < before - 1e-6 {
            // Keep the batch plan only when it keeps every promise (restore checks each route).
            if let Ok(plan) = LivePlan::restore(vehicles, requests, &sol.stops, &self.places) {
                self.plan = plan;
                self.refresh();
                self.batch.improved = true;
                self.batch.km_after = self.plan.cost() / 1000.0;
            }
        }
        Ok(())
    }

    /// After the evening batch: each day-before rider's wide window becomes
    /// the final promise around their planned pickup, which holds the plan as
    /// it is (each planned time lies inside its new window).
    fn narrow_promises(&mut self) -> Result<(), SimError> {
        let planned = self.cache.pickup_starts();
        let mut requests = self.plan.requests().to_vec();
        let mut narrowed = Vec::new();
        for req in &mut requests {
            let Some(&at) = planned.get(&req.id) else { continue };
            let fin = self.sc.rules.promise_around(req, at).map_err(engine)?;
            if req.promised_pickup.is_some_and(|w| w != fin) {
                req.promise(fin).map_err(engine)?;
                narrowed.push((req.id, fin));
            }
        }
        if narrowed.is_empty() {
            return Ok(());
        }
        let vehicles = self.plan.vehicles().to_vec();
        self.plan =
            LivePlan::restore(vehicles, requests, &self.plan.stops(), &self.places).map_err(engine)?;
        self.refresh();
        for (id, fin) in &narrowed {
            self.riders[id.0 as usize].rec.promise = Some((fin.earliest(), fin.latest()));
        }
        self.batch.narrowed = narrowed.len();
        Ok(())
    }

    fn refuse(&mut self, i: usize, reason: Refusal) {
        let r = &mut self.riders[i];
        r.rec.outcome = Outcome::Refused;
        r.rec.reason = Some(reason);
        r.state = State::Done;
    }

    /// Where a trip end is served: the point itself, or the nearest virtual stop.
    fn place_of(&mut self, i: usize, p: LatLon, end: &str) -> Result<(LocId, f64), Refusal> {
        let (target, walk) = if self.world.door_to_door() {
            (p, 0.0)
        } else {
            match self.world.nearest_stop(p) {
                Some((k, d)) => (self.world.stops[k], d),
                None => return Err(Refusal::NoStopNearby),
            }
        };
        match self.places.locate(target) {
            Ok(id) => Ok((id, walk)),
            Err(e) => {
                if self.outside_map.len() < 1000 {
                    self.outside_map.push(format!("trip {i} {end}: {e}"));
                }
                Err(Refusal::OutsideMap)
            }
        }
    }

    /// A booking call: the trip becomes a request, is priced, and the best offer is committed.
    fn book(&mut self, i: usize) -> Result<(), SimError> {
        let trip = self.demand.trips[i].clone();
        let o = self.place_of(i, trip.origin, "origin");
        let d = self.place_of(i, trip.destination, "destination");
        let (o, d) = match (o, d) {
            (Ok(o), Ok(d)) => (o, d),
            (Err(e), _) | (_, Err(e)) => {
                self.refuse(i, e);
                return Ok(());
            }
        };
        if let Some(area) = &self.world.area
            && (!area.contains(trip.origin) || !area.contains(trip.destination))
        {
            self.refuse(i, Refusal::OutsideArea);
            return Ok(());
        }
        self.riders[i].rec.walk_m = o.1 + d.1;
        let ((o, _), (d, _)) = (o, d);
        if o == d {
            self.refuse(i, Refusal::SamePlace);
            return Ok(());
        }
        let direct = self.places.time(o, d);
        let wish = if trip.arrive_by { Wish::ArriveBy(trip.time_s) } else { Wish::DepartAfter(trip.time_s) };
        let load = Capacity::new(trip.seats, trip.wheelchairs);
        let Ok(req) = self.sc.rules.request(RequestId(i as u32), o, d, direct, wish, load) else {
            self.refuse(i, Refusal::InvalidRequest);
            return Ok(());
        };
        {
            let rec = &mut self.riders[i].rec;
            rec.direct_s = Some(direct);
            rec.direct_m = Some(self.places.distance(o, d));
            rec.max_ride_s = Some(req.max_ride_time);
            rec.pickup_window = Some((req.pickup_window.earliest(), req.pickup_window.latest()));
            rec.dropoff_window = Some((req.dropoff_window.earliest(), req.dropoff_window.latest()));
        }
        for _ in 0..self.veh.len() + 2 {
            let answer =
                noriai_dispatch::insert(&self.plan, &req, &self.places, &self.opts).map_err(engine)?;
            match answer {
                Ok(offers) => match self.take_offers(i, &req, &offers, None)? {
                    Taken::Yes => return Ok(()),
                    Taken::Refreshed => continue,
                    Taken::No => {
                        self.refuse(i, Refusal::NoVehicleInTime);
                        return Ok(());
                    }
                },
                Err(NoOffer { reason, mut alternatives }) => {
                    let mut rng = rider_rng(self.sc.seed ^ 0xA17, i);
                    if !alternatives.is_empty() && rng.random::<f64>() < self.sc.riders.accept_alternative {
                        alternatives.sort_by(|a, b| a.shift.abs().total_cmp(&b.shift.abs()));
                        let mut refreshed = false;
                        for alt in alternatives {
                            let mut moved = req.clone();
                            moved.pickup_window = req.pickup_window.shifted(alt.shift);
                            moved.dropoff_window = req.dropoff_window.shifted(alt.shift);
                            match self.take_offers(
                                i,
                                &moved,
                                std::slice::from_ref(&alt.offer),
                                Some(alt.shift),
                            )? {
                                Taken::Yes => return Ok(()),
                                Taken::Refreshed => {
                                    refreshed = true;
                                    break;
                                }
                                Taken::No => {}
                            }
                        }
                        if refreshed {
                            continue;
                        }
                    }
                    self.refuse(i, Refusal::of(reason));
                    return Ok(());
                }
            }
        }
        self.refuse(i, Refusal::NoVehicleInTime);
        Ok(())
    }

    /// Commits the first offer that keeps every promise and every ride already under way.
    fn take_offers(
        &mut self,
        i: usize,
        req: &Request,
        offers: &[Offer],
        moved: Option<f64>,
    ) -> Result<Taken, SimError> {
        for offer in offers {
            let v = offer.vehicle.0 as usize;
            let st = &self.veh[v];
            // An idle vehicle's head still says when it became idle; before it is
            // sent anywhere from there, move its clock to now and ask again.
            if !st.committed && st.served == 0 && st.anchor_t < self.now - 1e-9 && offer.pickup_after == 0 {
                let (loc, now) = (st.loc, self.now);
                match self.plan.move_to(offer.vehicle, loc, now, &self.places) {
                    Ok(()) => {}
                    // Its plan does not hold from here and now: this offer is off.
                    Err(OnlineError::CannotKeepPlan { .. }) => continue,
                    Err(e) => return Err(engine(e)),
                }
                let st = &mut self.veh[v];
                st.anchor_loc = loc;
                st.anchor_t = now;
                self.refresh();
                return Ok(Taken::Refreshed);
            }
            // Booked the day before: a wide window now, the final one after the evening batch.
            let prebooking = self.now < 0.0;
            let promise = match prebooking {
                true => self.sc.rules.prebooking_promise(req, offer),
                false => self.sc.rules.promise(req, offer),
            };
            let Ok(promise) = promise else { continue };
            if self.plan.commit(req, offer, Some(promise), &self.places).is_err() {
                continue;
            }
            self.refresh();
            if self.retimes_served_stops(v) {
                self.plan.remove(req.id, &self.places).map_err(engine)?;
                self.refresh();
                continue;
            }
            let r = &mut self.riders[i];
            r.state = State::Booked;
            r.rec.vehicle = Some(offer.vehicle.0);
            r.rec.promise = Some((promise.earliest(), promise.latest()));
            if prebooking {
                r.rec.told_at_booking = r.rec.promise;
            }
            r.rec.moved_s = moved;
            r.rec.pickup_window = Some((req.pickup_window.earliest(), req.pickup_window.latest()));
            r.rec.dropoff_window = Some((req.dropoff_window.earliest(), req.dropoff_window.latest()));
            return Ok(Taken::Yes);
        }
        Ok(Taken::No)
    }

    fn cancel(&mut self, i: usize) -> Result<(), SimError> {
        if self.riders[i].state != State::Booked || self.riders[i].absent {
            return Ok(());
        }
        let rid = RequestId(i as u32);
        let Some(v) = self.plan.vehicle_of(rid) else { return Ok(()) };
        let st = &self.veh[v];
        let route = &self.cache.routes[v];
        let Some(pos) = route.stops.iter().position(|s| s.kind == StopKind::Pickup(rid)) else {
            return Ok(());
        };
        if pos < st.served {
            return Ok(()); // already on board: the ride goes on
        }
        if st.committed && pos == st.served {
            // The vehicle is on its way: it still goes there and finds nobody.
            let r = &mut self.riders[i];
            r.absent = true;
            r.late_cancel = true;
            return Ok(());
        }
        if !st.committed && st.anchor_t < self.now {
            let (loc, now) = (st.loc, self.now);
            match self.plan.move_to(VehicleId(v as u32), loc, now, &self.places) {
                Ok(()) => {
                    self.veh[v].anchor_loc = loc;
                    self.veh[v].anchor_t = now;
                }
                // The plan does not hold from here and now; the rider leaves it all the same.
                Err(OnlineError::CannotKeepPlan { .. }) => {}
                Err(e) => return Err(engine(e)),
            }
        }
        let kept = self.plan.clone();
        self.plan.remove(rid, &self.places).map_err(engine)?;
        self.refresh();
        if self.retimes_served_stops(v) {
            // Removing it would move stops already served (their pickups were
            // delayed for this rider's ride time): the vehicle keeps its plan
            // and finds nobody there, as with a late cancellation.
            self.plan = kept;
            self.refresh();
            let r = &mut self.riders[i];
            r.absent = true;
            r.late_cancel = true;
            return Ok(());
        }
        let r = &mut self.riders[i];
        r.state = State::Done;
        r.rec.outcome = Outcome::Cancelled;
        Ok(())
    }

    /// Whether vehicle `v`'s plan now times a stop it has already served differently.
    fn retimes_served_stops(&self, v: usize) -> bool {
        self.veh[v]
            .served_starts
            .iter()
            .zip(&self.cache.routes[v].stops)
            .any(|(&done, planned)| (planned.start_of_service - done).abs() > 1e-6)
    }

    /// Moves every vehicle along its plan up to `now`.
    fn progress_to(&mut self, now: f64) -> Result<(), SimError> {
        for v in 0..self.veh.len() {
            self.progress_vehicle(v, now)?;
        }
        Ok(())
    }

    fn progress_vehicle(&mut self, v: usize, now: f64) -> Result<(), SimError> {
        let vid = VehicleId(v as u32);
        // Re-plans at departure in this call; see below.
        let mut replans = 0;
        loop {
            let route = &self.cache.routes[v];
            let st = &self.veh[v];
            let Some(next) = route.stops.get(st.served).cloned() else { return Ok(()) };
            if !st.committed {
                let travel = self.places.time(st.loc, next.location);
                let leave = (next.start_of_service - travel).max(route.departure);
                if leave > now {
                    return Ok(());
                }
                // The vehicle is empty here and about to leave: the road may
                // hold it up, or it breaks down; the live rules re-plan.
                if self.road_trouble(v, leave)? {
                    continue;
                }
                let st = &self.veh[v];
                let loc = st.loc;
                match self.plan.lock_next(vid, 1, loc, leave, &self.places) {
                    Ok(()) => {}
                    // Earlier delays left a plan it cannot keep from here and
                    // now: the live rules re-plan it, as after a late leg.
                    // Each re-plan moves riders away, so a few settle it;
                    // a plan that still does not hold then is an engine error.
                    Err(OnlineError::CannotKeepPlan { .. }) if replans < MOST_DEPARTURE_REPLANS => {
                        replans += 1;
                        self.replan_from_here(v, leave)?;
                        continue;
                    }
                    Err(e) => return Err(engine(e)),
                }
                let st = &mut self.veh[v];
                st.committed = true;
                st.leave = leave;
                st.anchor_loc = loc;
                st.anchor_t = leave;
                st.rec.events.push(DriverEvent::about(leave, EventKind::Departed));
                self.refresh();
                continue;
            }
            if next.departure > now {
                return Ok(());
            }
            self.serve(v, &next)?;
        }
    }

    /// Draws what the road does to vehicle `v` leaving its stop at `leave`
    /// (empty): a breakdown due by then takes it out of service, or the leg
    /// runs late. Either way the vehicle is planned from where it is with
    /// [`keep_up`], as the booking server does with a driver's report;
    /// riders it can no longer serve in time go to a vehicle that can, and
    /// a broken-down vehicle's riders no vehicle can take are refused.
    /// Says whether the plan changed (the caller looks again).
    fn road_trouble(&mut self, v: usize, leave: f64) -> Result<bool, SimError> {
        let road = self.sc.road.clone();
        let st = &mut self.veh[v];
        if st.broken {
            return Ok(false);
        }
        let breaks = st.breaks_down_at.is_some_and(|t| t <= leave);
        // Drivers report whole minutes.
        let late_min =
            if breaks || road.delay_probability == 0.0 || !st.rng.random_bool(road.delay_probability) {
                0
            } else if road.delay_max_s > road.delay_min_s {
                (st.rng.random_range(road.delay_min_s..road.delay_max_s) / 60.0).round() as u32
            } else {
                (road.delay_min_s / 60.0).round() as u32
            };
        if !breaks && late_min == 0 {
            return Ok(false);
        }
        st.rec.events.push(DriverEvent::about(
            leave,
            if breaks {
                EventKind::Breakdown { can_continue: false }
            } else {
                EventKind::Delayed { minutes: late_min, reason: DelayReason::Traffic }
            },
        ));
        if breaks {
            self.veh[v].broken = true;
            self.road.breakdowns += 1;
        } else {
            self.road.late_legs += 1;
        }
        self.replan_from_here(v, leave)?;
        Ok(true)
    }

    /// Plans vehicle `v` from where it is at `at` by the live rules
    /// ([`keep_up`]): riders it can no longer serve in time go to a vehicle
    /// that can, and those no vehicle can take after a breakdown are refused.
    fn replan_from_here(&mut self, v: usize, at: f64) -> Result<(), SimError> {
        let present = self.present(v, at)?;
        let vid = VehicleId(v as u32);
        let kept = keep_up(&mut self.plan, vid, Some(&present), at, &self.places).map_err(engine)?;
        let st = &mut self.veh[v];
        (st.served, st.committed, st.anchor_loc, st.anchor_t, st.leave) =
            (0, false, st.loc, present.time, present.time);
        st.served_starts.clear();
        for (r, to) in &kept.moved {
            self.riders[r.0 as usize].rec.vehicle = Some(to.0);
        }
        self.road.riders_moved += kept.moved.len();
        for l in kept.late.iter().filter(|l| l.pickup) {
            self.late_riders.insert(l.request.0);
        }
        self.road.riders_late = self.late_riders.len();
        for r in &kept.stranded {
            self.plan.remove(*r, &self.places).map_err(engine)?;
            let rider = &mut self.riders[r.0 as usize];
            rider.state = State::Done;
            rider.rec.outcome = Outcome::Refused;
            rider.rec.reason = Some(Refusal::VehicleBrokeDown);
            rider.rec.vehicle = None;
        }
        self.road.riders_stranded += kept.stranded.len();
        self.refresh();
        Ok(())
    }

    /// Where vehicle `v` is at `now`, read from its driver's log exactly as
    /// the server reads stored events (`noriai_dispatch::live::present_of`):
    /// after a rider who did not come, whose trip left the plan, that is the
    /// last planned place it was (the server learns more from positions).
    fn present(&self, v: usize, now: f64) -> Result<Present, SimError> {
        let st = &self.veh[v];
        let mut rides: std::collections::HashMap<i64, Ride> = self
            .plan
            .requests()
            .iter()
            .map(|r| (i64::from(r.id.0), Ride { request: r.id, pickup: r.pickup, dropoff: r.dropoff }))
            .collect();
        rides.extend(self.ghosts.iter().map(|(b, r)| (*b, *r)));
        let events: Vec<RoadEvent<'_>> = st
            .rec
            .events
            .iter()
            .map(|e| RoadEvent {
                at: e.at_s,
                kind: &e.kind,
                ride: e.kind.booking().and_then(|b| rides.get(&b).copied()),
            })
            .collect();
        present_of(&events, st.depot, now)
            .ok_or_else(|| SimError::Invalid(format!("vehicle {v} has reported nothing")))
    }

    fn serve(&mut self, v: usize, next: &PlannedStop) -> Result<(), SimError> {
        let vid = VehicleId(v as u32);
        let st = &self.veh[v];
        let leg_s = self.places.time(st.loc, next.location);
        let leg_m = self.places.distance(st.loc, next.location);
        if next.arrival < st.leave + leg_s - 1e-6 {
            self.plan_drift += 1;
        }
        let mut event = match next.kind {
            StopKind::Pickup(_) => StopEvent::Pickup,
            StopKind::Dropoff(_) => StopEvent::Dropoff,
            StopKind::Break(_) => StopEvent::Depot,
        };
        let trip = match next.kind {
            StopKind::Pickup(r) | StopKind::Dropoff(r) => Some(r.0 as usize),
            StopKind::Break(_) => None,
        };
        let planned = trip.and_then(|i| self.plan.requests().iter().find(|q| q.id.0 as usize == i));
        let ride = planned.map(|q| Ride { request: q.id, pickup: q.pickup, dropoff: q.dropoff });
        let mut onboard = st.onboard;
        let mut gone_empty = false;
        if let Some(i) = trip {
            let load = Capacity::new(self.riders[i].rec.seats, self.riders[i].rec.wheelchairs);
            let r = &mut self.riders[i];
            match event {
                StopEvent::Pickup if r.absent => {
                    event = StopEvent::NoShow;
                    r.state = State::Done;
                    r.rec.outcome = if r.late_cancel { Outcome::Cancelled } else { Outcome::NoShow };
                    if st.served == 0 {
                        gone_empty = true;
                    } else {
                        // The vehicle still goes to the dropoff (the server takes
                        // the trip out instead); its driver only arrives there.
                        r.ghost = true;
                        self.ghosts
                            .extend(ride.map(|ride| (i as i64, Ride { pickup: ride.dropoff, ..ride })));
                    }
                }
                StopEvent::Pickup => {
                    r.rec.pickup_s = Some(next.start_of_service);
                    r.rec.pickup_departure_s = Some(next.departure);
                    onboard =
                        Capacity::new(onboard.seats + load.seats, onboard.wheelchairs + load.wheelchairs);
                }
                StopEvent::Dropoff if r.ghost => event = StopEvent::EmptyDropoff,
                _ => {
                    r.rec.dropoff_s = Some(next.start_of_service);
                    r.rec.outcome = Outcome::Served;
                    r.state = State::Done;
                    onboard = Capacity::new(
                        onboard.seats.saturating_sub(load.seats),
                        onboard.wheelchairs.saturating_sub(load.wheelchairs),
                    );
                }
            }
        }
        let st = &mut self.veh[v];
        if let Some(i) = trip {
            let booking_id = i as i64;
            st.rec.events.push(DriverEvent::about(next.arrival, EventKind::Arrived { booking_id }));
            st.rec.events.extend(match event {
                StopEvent::NoShow => {
                    Some(DriverEvent::about(next.start_of_service, EventKind::NoShow { booking_id }))
                }
                StopEvent::Pickup => {
                    Some(DriverEvent::about(next.departure, EventKind::Boarded { booking_id }))
                }
                StopEvent::Dropoff => {
                    Some(DriverEvent::about(next.start_of_service, EventKind::Alighted { booking_id }))
                }
                _ => None,
            });
        }
        st.rec.km += leg_m;
        if st.onboard.is_zero() {
            st.rec.km_empty += leg_m;
        }
        let departure = if gone_empty { next.start_of_service } else { next.departure };
        st.rec.busy.push((st.leave, departure));
        st.rec.stops.push(ExecutedStop {
            event,
            trip,
            location: self.places.coord(next.location),
            leave_s: st.leave,
            leg_s,
            leg_m,
            arrival_s: next.arrival,
            start_s: next.start_of_service,
            departure_s: departure,
            onboard,
        });
        st.onboard = onboard;
        st.loc = next.location;
        if gone_empty {
            // Nobody came and nobody is on board: the vehicle's head moves here and the trip goes.
            self.plan.move_to(vid, next.location, next.start_of_service, &self.places).map_err(engine)?;
            if let Some(i) = trip {
                self.plan.remove(RequestId(i as u32), &self.places).map_err(engine)?;
            }
            let st = &mut self.veh[v];
            st.committed = false;
            st.anchor_loc = next.location;
            st.anchor_t = next.start_of_service;
            st.leave = next.start_of_service;
            self.refresh();
            return Ok(());
        }
        st.served += 1;
        st.served_starts.push(next.start_of_service);
        if next.load.is_zero() {
            // Empty again: cut the served stops off the route (the engine's load is then exact).
            let done = st.served;
            let before = self.plan.stop_count(v);
            self.plan
                .complete_stops(vid, done, next.location, next.departure, &self.places)
                .map_err(engine)?;
            if self.plan.stop_count(v) + done != before {
                return Err(SimError::Invalid(format!(
                    "the engine kept vehicle {v}'s served stops at {:.0} s (its route no longer fits)",
                    next.departure
                )));
            }
            let st = &mut self.veh[v];
            st.served = 0;
            st.served_starts.clear();
            st.committed = false;
            st.anchor_loc = next.location;
            st.anchor_t = next.departure;
            st.leave = next.departure;
        } else {
            // Riders on board: drive on to the next stop at once and lock it.
            let (loc, t, lock) = (st.anchor_loc, st.anchor_t, st.served + 1);
            self.plan.lock_next(vid, lock, loc, t, &self.places).map_err(engine)?;
            let st = &mut self.veh[v];
            st.committed = true;
            st.leave = next.departure;
            st.rec.events.push(DriverEvent::about(next.departure, EventKind::Departed));
        }
        self.refresh();
        Ok(())
    }

    fn finish(mut self) -> Result<DayResult, SimError> {
        for st in &mut self.veh {
            if st.rec.stops.is_empty() {
                continue;
            }
            let leg_s = self.places.time(st.loc, st.depot);
            let leg_m = self.places.distance(st.loc, st.depot);
            let t = st.leave;
            st.rec.km += leg_m;
            st.rec.km_empty += leg_m;
            st.rec.busy.push((t, t + leg_s));
            st.rec.stops.push(ExecutedStop {
                event: StopEvent::Depot,
                trip: None,
                location: self.places.coord(st.depot),
                leave_s: t,
                leg_s,
                leg_m,
                arrival_s: t + leg_s,
                start_s: t + leg_s,
                departure_s: t + leg_s,
                onboard: Capacity::ZERO,
            });
        }
        if let Some(r) = self.riders.iter().find(|r| r.state != State::Done) {
            return Err(SimError::Invalid(format!(
                "trip {} was booked but neither served nor cancelled by the end of the day (a simulator bug)",
                r.rec.trip
            )));
        }
        Ok(DayResult {
            scenario: self.sc.name.clone(),
            demand: self.demand.source.clone(),
            riders: self.riders.into_iter().map(|r| r.rec).collect(),
            vehicles: self.veh.into_iter().map(|v| v.rec).collect(),
            outside_map: self.outside_map,
            batch: self.batch,
            stops: self.world.stops.clone(),
            depot: self.world.depot,
            plan_drift: self.plan_drift,
            wall_s: 0.0,
            road: self.road,
        })
    }
}

enum Taken {
    Yes,
    No,
    /// A vehicle's clock was moved to now; price the request again.
    Refreshed,
}

/// The H3 cell of a point at a resolution.
pub fn cell_of(p: LatLon, res: u8) -> Option<u64> {
    let res = h3o::Resolution::try_from(res).ok()?;
    Some(u64::from(h3o::LatLng::new(p.lat, p.lon).ok()?.to_cell(res)))
}
