//! The dispatcher: one task owns the live plans and decides bookings one at a
//! time, so a vehicle can never be overbooked by two callers at once. A
//! booking is confirmed only after the store has committed it together with
//! the new plan; memory changes after, never before.
//!
//! Quotes do not go through the task. After every change the task publishes
//! each day's plan and travel-time table as a read-only [`DayView`]; a quote
//! prices its trip on the latest view with its two points added on the side
//! ([`PointTable::with_points`]), so quoting neither waits for a booking's
//! durable commit nor grows the day's table. Points join the table only when
//! a booking is stored, and leave it when cancellations have left many unused.

use crate::ServicePolicy;
use crate::errors::DispatchError;
use crate::offers::{MAX_PENDING_BYTES, MAX_PENDING_OFFERS, OfferBook, PendingOffer, QuotedTrip};
use crate::road::{self, VehicleRoad};
use noriai_dispatch::live::{Present, keep_up, seen_on_the_way};
use noriai_dispatch::{LivePlan, NoOffer, Offer, OfferOptions, OnlineError, Reason, Wish};
use noriai_model::access::AuditEntry;
use noriai_model::live::{EventKind, VehicleEvent};
use noriai_model::service::{
    Booking, BookingStatus, FleetVehicle, PlaceKind, PlanStop, ServiceDay, Shift, StopAction, Trip, TripAsk,
    TripTime, WindowStage, format_time_of_day, local_window,
};
use noriai_model::{
    Capacity, LatLon, LocId, Request, RequestId, StopKind, TimeWindow, TravelTimes, Vehicle, VehicleId,
};
use noriai_roads::{PointTable, RoadNetwork, Snapped};
use noriai_store::{Store, StoreError, VehicleDayPlan};
use noriai_zones::ServiceArea;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::{mpsc, oneshot};

/// An offer as the rider hears it (Unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct QuotedOffer {
    pub id: String,
    pub pickup_window: (i64, i64),
    pub expected_arrival: i64,
    pub ride_minutes: f64,
    /// People riding: seats and wheelchair places (what the fare counts).
    pub riders: u32,
}

/// What to book: a quoted offer, or a trip (booked with its best offer).
#[derive(Debug, Clone)]
pub enum BookWhat {
    Offer(String),
    Trip(TripAsk),
}

/// How to book.
#[derive(Debug, Clone, Default)]
pub struct BookOptions {
    /// The recurring trip this booking is an occurrence of.
    pub recurrence: Option<i64>,
    /// Book even if the rider has a booking whose pickup window overlaps.
    pub allow_overlap: bool,
    /// Who books, recorded with the booking in one transaction.
    pub audit: Option<AuditEntry>,
}

type Result<T, E = DispatchError> = std::result::Result<T, E>;
type Reply<T> = oneshot::Sender<Result<T>>;

enum Command {
    LoadDay {
        day: ServiceDay,
        reply: Reply<DayView>,
    },
    Book {
        key: String,
        what: BookWhat,
        options: BookOptions,
        reply: Reply<Booking>,
    },
    Cancel {
        id: i64,
        audit: Option<AuditEntry>,
        /// The driver reported the rider did not come: the booking leaves
        /// the plans even after its window (a late vehicle still waited).
        no_show: bool,
        /// Why, as the operator recorded it (empty: not given).
        reason: String,
        reply: Reply<Booking>,
    },
    SetShift {
        shift: Shift,
        reply: Reply<Shift>,
    },
    FleetChanged {
        reply: Reply<()>,
    },
    Replan {
        day: ServiceDay,
        seconds: f64,
        reply: Reply<ReplanSummary>,
    },
    Finalize {
        day: ServiceDay,
        reply: Reply<Vec<Booking>>,
    },
    /// The road reported on a vehicle (`None`: the clock moved on): plan
    /// the day's vehicles from where they are.
    Road {
        day: ServiceDay,
        vehicle_id: Option<i64>,
        reply: Reply<()>,
    },
    /// Road closures were added or lifted, or a day switched season: plan
    /// every day on its roads.
    RoadsChanged {
        reply: Reply<()>,
    },
    /// A batch plan computed off the dispatcher task, to apply if the day has not changed since.
    ApplyReplan {
        day: ServiceDay,
        version: u64,
        stops: Option<Vec<Vec<StopKind>>>,
        summary: ReplanSummary,
        reply: Reply<ReplanSummary>,
    },
}

/// What a batch re-plan of a day achieved.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplanSummary {
    pub bookings: usize,
    pub km_before: f64,
    pub km_after: f64,
    pub applied: bool,
}

/// A day's plan and travel times as last published by the dispatcher task:
/// what quotes price on. Cheap to clone.
#[derive(Clone)]
pub struct DayView {
    day: ServiceDay,
    built: u64,
    /// An id no request of the day has, for the request a quote prices.
    unused_request: RequestId,
    plan: Arc<LivePlan>,
    /// Only the task adds points (after a booking is stored), and only at the
    /// end, so the ids a plan uses stay valid while the table grows.
    table: Arc<RwLock<PointTable>>,
    /// What the road did to each vehicle's plan.
    road: Arc<Vec<VehicleRoad>>,
    /// The day's roads, with the closures of that day.
    roads: Arc<RoadNetwork>,
}

impl DayView {
    /// Points in the day's travel-time table.
    pub fn table_points(&self) -> usize {
        read(&self.table).len()
    }

    /// What the road did to each vehicle on shift that day.
    pub fn road(&self) -> &[VehicleRoad] {
        &self.road
    }
}

/// The map the service drives on, with its usual speeds and, when the
/// server has it, with winter speeds (the same roads, so the same points).
#[derive(Clone)]
pub struct Maps {
    pub usual: Arc<RoadNetwork>,
    pub winter: Option<Arc<RoadNetwork>>,
}

impl From<Arc<RoadNetwork>> for Maps {
    fn from(usual: Arc<RoadNetwork>) -> Self {
        Maps { usual, winter: None }
    }
}

/// What quote handlers and the task share.
struct Core {
    roads: Arc<RoadNetwork>,
    winter_roads: Option<Arc<RoadNetwork>>,
    store: Store,
    policy: noriai_dispatch::Policy,
    offer_ttl_s: i64,
    rules: noriai_model::service::BookingRules,
    area: RwLock<Option<ServiceArea>>,
    views: RwLock<HashMap<ServiceDay, DayView>>,
    offers: Mutex<OfferBook>,
    /// Cleared while the database does not answer (see [`DispatcherHandle::set_store_reachable`]).
    store_reachable: std::sync::atomic::AtomicBool,
    /// Counts changes of the stored plans and of what happened on the road,
    /// so live views (drivers' manifests) know when to look again.
    changes: tokio::sync::watch::Sender<u64>,
}

/// A trip that passed the checks that need no plan: its places for the
/// rider, day and road points.
struct CheckedTrip {
    trip: Trip,
    day: ServiceDay,
    /// The request field holding the time, for messages.
    time_field: &'static str,
    points: [Snapped; 2],
}

/// A trip priced on a day view: the request (with the view's location ids)
/// and its best offers.
struct Priced {
    request: Request,
    offers: Vec<Offer>,
}

/// A cheap, cloneable way to talk to the dispatcher.
#[derive(Clone)]
pub struct DispatcherHandle {
    tx: mpsc::Sender<Command>,
    core: Arc<Core>,
}

impl DispatcherHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| DispatchError::ShuttingDown)?;
        rx.await.map_err(|_| DispatchError::internal("the dispatcher stopped while handling the request"))?
    }

    /// Up to three offers for a trip, priced on the day's latest plan without
    /// waiting for the dispatcher task or changing anything but the offer book.
    pub async fn quote(&self, ask: TripAsk) -> Result<Vec<QuotedOffer>> {
        let checked = self.core.check(&ask).await?;
        let view = self.day_view(checked.day).await?;
        let priced = self.core.price(&view, &checked, &OfferOptions::default())?;
        self.core.keep_offers(&view, checked, priced)
    }

    pub async fn book(&self, key: String, what: BookWhat, options: BookOptions) -> Result<Booking> {
        self.ask(|reply| Command::Book { key, what, options, reply }).await
    }
    /// Cancels a booking; `audit` (who cancels) and the reason given are stored with it.
    pub async fn cancel(&self, id: i64, audit: Option<AuditEntry>, reason: String) -> Result<Booking> {
        self.ask(|reply| Command::Cancel { id, audit, no_show: false, reason, reply }).await
    }

    /// Takes a booking whose rider did not come out of the plans (stored
    /// as cancelled; its ride status stays a no-show).
    pub async fn no_show(&self, id: i64, audit: Option<AuditEntry>) -> Result<Booking> {
        let reason = "the rider did not come (no-show)".to_string();
        self.ask(|reply| Command::Cancel { id, audit, no_show: true, reason, reply }).await
    }
    pub async fn set_shift(&self, shift: Shift) -> Result<Shift> {
        self.ask(|reply| Command::SetShift { shift, reply }).await
    }
    pub async fn fleet_changed(&self) -> Result<()> {
        self.ask(|reply| Command::FleetChanged { reply }).await
    }
    pub fn area_changed(&self, area: ServiceArea) {
        *write(&self.core.area) = Some(area);
    }
    pub async fn replan(&self, day: ServiceDay, seconds: f64) -> Result<ReplanSummary> {
        self.ask(|reply| Command::Replan { day, seconds, reply }).await
    }
    /// Narrows every wide window of a day to its final one around the plan;
    /// returns the bookings whose riders must now be told.
    pub async fn finalize(&self, day: ServiceDay) -> Result<Vec<Booking>> {
        self.ask(|reply| Command::Finalize { day, reply }).await
    }

    /// Road closures or a day's season changed (stored): every loaded day,
    /// and every day with stored plans, is planned on its roads before this
    /// returns.
    pub async fn roads_changed(&self) -> Result<()> {
        self.ask(|reply| Command::RoadsChanged { reply }).await
    }

    /// The road reported on `vehicle_id` (its events are stored): plan it
    /// from where it is, moving riders it can no longer serve in time.
    pub async fn road(&self, day: ServiceDay, vehicle_id: i64) -> Result<()> {
        self.ask(|reply| Command::Road { day, vehicle_id: Some(vehicle_id), reply }).await
    }

    /// The latest published view of a day, loading the day first if needed.
    pub async fn day_view(&self, day: ServiceDay) -> Result<DayView> {
        if let Some(view) = read(&self.core.views).get(&day) {
            return Ok(view.clone());
        }
        self.ask(|reply| Command::LoadDay { day, reply }).await
    }

    /// Whether this server has the map with winter speeds.
    pub fn has_winter(&self) -> bool {
        self.core.winter_roads.is_some()
    }

    /// Told by the store watch: while the database does not answer, quotes
    /// skip the rider check (the booking checks again when it is stored)
    /// instead of waiting for the database's timeout.
    /// Wakes whoever watches this service's plans and road (after an event).
    pub fn touch(&self) {
        self.core.changes.send_modify(|n| *n += 1);
    }

    /// A receiver that sees every later change of the plans or the road.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.core.changes.subscribe()
    }

    pub fn set_store_reachable(&self, reachable: bool) {
        self.core.store_reachable.store(reachable, std::sync::atomic::Ordering::Relaxed);
    }

    /// The rider an offer still kept for booking was quoted for.
    pub fn offer_rider(&self, offer_id: &str) -> Option<i64> {
        lock(&self.core.offers).get(offer_id).map(|o| o.quote.trip.rider_id)
    }

    /// Offers kept for booking now.
    pub fn pending_offers(&self) -> usize {
        lock(&self.core.offers).len()
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock<T>(lock: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A window in whole seconds, never narrower: promises are stored in whole
/// seconds, and a day rebuilt from the store must see exactly the windows
/// the live plan kept.
fn whole_seconds(w: TimeWindow) -> Result<TimeWindow> {
    TimeWindow::new(w.earliest().floor(), w.latest().ceil()).map_err(DispatchError::internal)
}

/// When the evening batch of the next day runs (seconds after local midnight).
pub const EVENING_S: u32 = 21 * 3600;

/// Whether a booking for `day` made at `now` is told a wide window first:
/// the day is after tomorrow, or tomorrow before this evening's batch.
fn told_wide(day: ServiceDay, now: i64) -> bool {
    let today = ServiceDay::of_unix(now);
    day.0 > today.0 + 1 || (day.0 == today.0 + 1 && now < today.at(EVENING_S))
}

use crate::now_unix;

/// How often vehicles that reported from the road are planned again from
/// where they are, as time passes.
const ROAD_CLOCK: std::time::Duration = std::time::Duration::from_secs(30);

fn hhmm(day: ServiceDay, t: f64) -> String {
    let s = t.round().max(0.0) as u32;
    if s >= 86_400 {
        format!("{} +1 day", format_time_of_day(s - 86_400))
    } else {
        format!("{} {}", day, format_time_of_day(s))
    }
}

impl Core {
    /// Checks a new trip as far as no plan is needed: its time, rider, places
    /// and the service area; snaps its places to the road.
    async fn check(&self, ask: &TripAsk) -> Result<CheckedTrip> {
        let now = now_unix();
        let time_field = match ask.time {
            TripTime::DepartAfter(_) => "trip.depart_after",
            TripTime::ArriveBy(_) => "trip.arrive_by",
        };
        if ask.time.unix() < now - 60 {
            return Err(DispatchError::invalid(time_field, "is in the past"));
        }
        let rules = self.rules;
        let last_day = ServiceDay(ServiceDay::of_unix(now).0 + rules.book_days_ahead as i32);
        if ServiceDay::of_unix(ask.time.unix()) > last_day {
            return Err(DispatchError::Precondition(format!(
                "{time_field}: this service takes bookings up to {} days ahead (until {last_day}); \
                 ask again nearer the day",
                rules.book_days_ahead
            )));
        }
        let cutoff_s = i64::from(rules.cutoff_minutes) * 60;
        if cutoff_s > 0 && ask.time.unix() < now + cutoff_s {
            return Err(DispatchError::Precondition(format!(
                "{time_field}: booking closes {} minutes before the trip in this service; \
                 ask for a later time or call the operator",
                rules.cutoff_minutes
            )));
        }
        // Quoting goes on from memory while the database is away (when the
        // ask gives its places); the booking checks the rider when stored.
        let rider = match self.store_reachable.load(std::sync::atomic::Ordering::Relaxed) {
            true => Some(self.store.get_rider(ask.rider_id).await),
            false => None,
        };
        let away = || ask.as_given().ok_or(DispatchError::Store(crate::errors::StoreFailure::Unavailable));
        let trip = match rider {
            Some(Ok(rider)) => ask.for_rider(&rider.needs),
            Some(Err(StoreError::NotFound { .. })) => {
                return Err(DispatchError::NotFound(format!(
                    "trip.rider_id: there is no rider {}; register them first",
                    ask.rider_id
                )));
            }
            Some(Err(StoreError::Database(e))) if noriai_store::is_unreachable(&e) => away()?,
            Some(Err(e)) => return Err(e.into()),
            None => away()?,
        };
        if trip.seats + trip.wheelchair_places == 0 {
            return Err(DispatchError::invalid(
                "trip.seats",
                "must be at least 1 (or ask for a wheelchair place)",
            ));
        }
        let (origin, destination) = self.resolve_places(&trip).await?;
        if let Some(area) = read(&self.area).as_ref() {
            for (name, p) in [("origin", origin), ("destination", destination)] {
                if !area.contains(p) {
                    return Err(DispatchError::Precondition(format!(
                        "trip.{name} {p} is outside the service area; the service runs only inside the area shown by FleetService.GetServiceArea"
                    )));
                }
            }
        }
        let snap = |field: &str, p: LatLon| self.roads.snap(p).map_err(|e| DispatchError::invalid(field, e));
        let points = [snap("trip.origin", origin)?, snap("trip.destination", destination)?];
        Ok(CheckedTrip { day: ServiceDay::of_unix(trip.time.unix()), trip, time_field, points })
    }

    async fn resolve_places(&self, trip: &Trip) -> Result<(LatLon, LatLon)> {
        let mut out = Vec::with_capacity(2);
        for (field, place) in [("trip.origin", &trip.origin), ("trip.destination", &trip.destination)] {
            out.push(match place.kind {
                PlaceKind::Point(p) => p,
                PlaceKind::Stop(id) => match self.store.get_stop(id).await {
                    Ok(stop) => stop.location,
                    Err(StoreError::NotFound { .. }) => {
                        return Err(DispatchError::NotFound(format!(
                            "{field}.stop_id: there is no stop {id}; list stops with FleetService.ListStops"
                        )));
                    }
                    Err(e) => return Err(e.into()),
                },
            });
        }
        Ok((out[0], out[1]))
    }

    /// Prices a checked trip on a day view without changing the view.
    fn price(&self, view: &DayView, checked: &CheckedTrip, opts: &OfferOptions) -> Result<Priced> {
        let (day, field, trip) = (view.day, checked.time_field, &checked.trip);
        let vehicles = view.plan.vehicles();
        if vehicles.is_empty() {
            return Err(DispatchError::Precondition(format!(
                "no vehicle is on shift on {day}; the service does not run that day"
            )));
        }
        let open = vehicles.iter().map(|v| v.shift.earliest()).fold(f64::INFINITY, f64::min);
        let close = vehicles.iter().map(|v| v.shift.latest()).fold(f64::NEG_INFINITY, f64::max);
        let t = (trip.time.unix() - day.midnight_unix()) as f64;
        if t < open || t > close {
            return Err(DispatchError::Precondition(format!(
                "{field} is outside service hours on {day} ({}–{})",
                format_time_of_day(open as u32),
                format_time_of_day(close as u32)
            )));
        }
        let table = read(&view.table);
        let (travel, ids) = table.with_points(&view.roads, &checked.points);
        let request = self.request_for(view.unused_request, ids[0], ids[1], &travel, trip, day)?;
        match noriai_dispatch::insert(&view.plan, &request, &travel, opts) {
            Ok(Ok(offers)) => Ok(Priced { request, offers }),
            Ok(Err(no)) => Err(no_offer_error(day, &no)),
            Err(e) => Err(online_error(e)),
        }
    }

    /// The dial-a-ride request for a trip between two located points of its day.
    fn request_for(
        &self,
        id: RequestId,
        origin: LocId,
        destination: LocId,
        travel: &impl TravelTimes,
        trip: &Trip,
        day: ServiceDay,
    ) -> Result<Request> {
        if origin == destination {
            return Err(DispatchError::invalid("trip.destination", "is the same place as the origin"));
        }
        let direct = travel.time(origin, destination);
        let t = (trip.time.unix() - day.midnight_unix()) as f64;
        let wish = match trip.time {
            TripTime::DepartAfter(_) => Wish::DepartAfter(t),
            TripTime::ArriveBy(_) => Wish::ArriveBy(t),
        };
        let load = Capacity::new(trip.seats, trip.wheelchair_places);
        self.policy
            .request(id, origin, destination, direct, wish, load)
            .map_err(|e| DispatchError::invalid("trip", e))
    }

    /// The window to tell the rider: a wide one when the trip is on a later
    /// day whose evening batch has not run yet, else the final one.
    fn promise_for(
        &self,
        request: &Request,
        offer: &Offer,
        day: ServiceDay,
    ) -> Result<(TimeWindow, WindowStage)> {
        let (window, stage) = if told_wide(day, now_unix()) {
            (self.policy.prebooking_promise(request, offer), WindowStage::Wide)
        } else {
            (self.policy.promise(request, offer), WindowStage::Final)
        };
        Ok((whole_seconds(window.map_err(DispatchError::internal)?)?, stage))
    }

    /// Keeps priced offers for booking and says them as the rider hears them.
    fn keep_offers(&self, view: &DayView, checked: CheckedTrip, priced: Priced) -> Result<Vec<QuotedOffer>> {
        let now = now_unix();
        let midnight = view.day.midnight_unix();
        let mut quoted: Vec<QuotedOffer> = Vec::new();
        let quote = Arc::new(QuotedTrip {
            day: view.day,
            built: view.built,
            trip: checked.trip,
            points: checked.points,
            request: priced.request.clone(),
        });
        for offer in priced.offers {
            let (promise, stage) = self.promise_for(&priced.request, &offer, view.day)?;
            // Identical vehicles give identical offers; a rider needs distinct times.
            let window =
                (midnight + promise.earliest().round() as i64, midnight + promise.latest().round() as i64);
            if quoted.iter().any(|q| q.pickup_window == window) {
                continue;
            }
            let expected_arrival = midnight + offer.expected_arrival.round() as i64;
            let ride_minutes =
                (offer.expected_arrival - offer.pickup_time - priced.request.pickup_service) / 60.0;
            let pending =
                PendingOffer { quote: quote.clone(), offer, promise, stage, expires: now + self.offer_ttl_s };
            let id = lock(&self.offers).add(pending, now);
            let riders = quote.trip.seats + quote.trip.wheelchair_places;
            quoted.push(QuotedOffer { id, pickup_window: window, expected_arrival, ride_minutes, riders });
        }
        Ok(quoted)
    }

    fn publish(&self, state: &DayState) {
        write(&self.views).insert(state.day, state.view());
    }
}

/// One service day's live state: its vehicles, travel times and plan.
/// Times inside are seconds after local midnight.
struct DayState {
    day: ServiceDay,
    /// Fleet vehicle id of each dispatch vehicle (index = `VehicleId.0`).
    fleet: Vec<i64>,
    table: Arc<RwLock<PointTable>>,
    plan: Arc<LivePlan>,
    booking_of: HashMap<RequestId, i64>,
    next_request: u32,
    /// Bumped on every change of the plan, so a batch re-plan computed
    /// meanwhile is not applied over a newer booking.
    version: u64,
    /// Which build of the day this is (a fleet or shift change rebuilds it).
    built: u64,
    /// Each vehicle's events of the day (by dispatch index), as last read.
    events: Vec<Vec<VehicleEvent>>,
    /// What the road did to each vehicle's plan (by dispatch index).
    road: Arc<Vec<VehicleRoad>>,
    /// The day's roads: the map with the pieces closed that day.
    roads: Arc<RoadNetwork>,
}

impl DayState {
    fn new_request_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    fn view(&self) -> DayView {
        DayView {
            day: self.day,
            built: self.built,
            unused_request: RequestId(self.next_request + 1),
            plan: self.plan.clone(),
            table: self.table.clone(),
            road: self.road.clone(),
            roads: self.roads.clone(),
        }
    }

    /// The plan rebuilt from stop lists, from where each vehicle is.
    fn rebuilt(
        &self,
        requests: Vec<Request>,
        stops: &[Vec<StopKind>],
        travel: &impl TravelTimes,
    ) -> std::result::Result<LivePlan, OnlineError> {
        let vehicles = self.plan.vehicles().to_vec();
        LivePlan::restore_live(vehicles, requests, stops, self.plan.presents(), travel).map(|(plan, _)| plan)
    }

    /// The plans as planned now that differ from `stored` (a vehicle with
    /// nothing stored and nothing planned is no difference).
    fn stale_plans(&self, stored: &[VehicleDayPlan]) -> Vec<VehicleDayPlan> {
        let table = read(&self.table);
        (0..self.fleet.len())
            .map(|v| self.vehicle_plan(&self.plan, &*table, v, None))
            .filter(|now| match stored.iter().find(|p| p.vehicle_id == now.vehicle_id) {
                Some(before) => before != now,
                None => !now.stops.is_empty(),
            })
            .collect()
    }

    /// Whether a vehicle has reported from the road today.
    fn under_way(&self) -> bool {
        self.plan.presents().iter().any(Option::is_some)
    }

    /// The stored form of vehicle `v`'s route (`new` is the booking being added).
    fn vehicle_plan(
        &self,
        plan: &LivePlan,
        travel: &impl TravelTimes,
        v: usize,
        new: Option<RequestId>,
    ) -> VehicleDayPlan {
        let full = plan.plan(travel);
        let midnight = self.day.midnight_unix();
        let stop = |rid: RequestId, action, at: f64| {
            let booking_id = if Some(rid) == new { 0 } else { *self.booking_of.get(&rid)? };
            Some(PlanStop { booking_id, action, eta: midnight + at.round() as i64 })
        };
        // The stops served, when they were served, then the plan ahead.
        let mut done: Vec<(f64, StopKind)> = Vec::new();
        if let Some(p) = &plan.presents()[v] {
            done.extend(p.picked_up.iter().map(|&(r, t)| (t, StopKind::Pickup(r))));
            done.extend(p.dropped_off.iter().map(|&(r, t)| (t, StopKind::Dropoff(r))));
            done.sort_by(|a, b| {
                a.0.total_cmp(&b.0)
                    .then(matches!(b.1, StopKind::Pickup(_)).cmp(&matches!(a.1, StopKind::Pickup(_))))
            });
        }
        let ahead = full.routes[v].stops.iter().map(|s| (s.start_of_service, s.kind));
        let stops = done
            .into_iter()
            .chain(ahead)
            .filter_map(|(at, kind)| match kind {
                StopKind::Pickup(r) => stop(r, StopAction::Pickup, at),
                StopKind::Dropoff(r) => stop(r, StopAction::Dropoff, at),
                StopKind::Break(_) => None,
            })
            .collect();
        VehicleDayPlan { vehicle_id: self.fleet[v], day: self.day, stops }
    }

    /// Rebuilds the travel-time table from the points the plan still uses
    /// once cancellations have left it mostly unused, so memory follows the
    /// live bookings. Keeps the state as it was if the rebuilt plan does not
    /// restore (which would be a bug, logged).
    fn shed_unused_points(&mut self, roads: &RoadNetwork) {
        let table = read(&self.table);
        let (vehicles, requests) = (self.plan.vehicles(), self.plan.requests());
        let mut keep: Vec<LocId> = Vec::new();
        for v in vehicles {
            keep.extend([v.start_depot, v.end_depot]);
            keep.extend(v.breaks.iter().map(|b| b.location));
        }
        for r in requests {
            keep.extend([r.pickup, r.dropoff]);
        }
        keep.extend(self.plan.presents().iter().flatten().map(|p| p.location));
        if table.len() <= 2 * keep.len() + 64 {
            return;
        }
        let (compact, new_id) = table.compacted(roads, &keep);
        let map = |loc: LocId| new_id.get(loc.index()).copied().flatten().unwrap_or(loc);
        let vehicles: Vec<Vehicle> = vehicles
            .iter()
            .map(|v| {
                let mut v = v.clone();
                (v.start_depot, v.end_depot) = (map(v.start_depot), map(v.end_depot));
                v.breaks.iter_mut().for_each(|b| b.location = map(b.location));
                v
            })
            .collect();
        let requests: Vec<Request> = requests
            .iter()
            .map(|r| Request { pickup: map(r.pickup), dropoff: map(r.dropoff), ..r.clone() })
            .collect();
        let presents: Vec<Option<Present>> = self
            .plan
            .presents()
            .iter()
            .map(|p| p.clone().map(|p| Present { location: map(p.location), ..p }))
            .collect();
        match LivePlan::restore_live(vehicles, requests, &self.plan.stops(), &presents, &compact) {
            Ok((plan, _)) => {
                tracing::debug!(day = %self.day, before = table.len(), after = compact.len(), "shed unused points");
                drop(table);
                self.plan = Arc::new(plan);
                self.table = Arc::new(RwLock::new(compact));
            }
            Err(e) => {
                tracing::error!(day = %self.day, "kept the travel-time table: the compacted plan failed ({e})")
            }
        }
    }
}

pub struct Dispatcher {
    core: Arc<Core>,
    days: HashMap<ServiceDay, DayState>,
    /// To hand results of background work back to this task.
    inbox: mpsc::WeakSender<Command>,
    /// Versions handed to day states built from the store, never reused.
    generation: u64,
    /// The service's road closures and the days switched to winter (read
    /// on first need and when they change).
    closures: Option<Vec<noriai_model::live::RoadClosure>>,
    winter_days: Option<Vec<ServiceDay>>,
    /// The map in a season (winter or not) with a set of closed pieces, for
    /// each pair in use by a day.
    networks: HashMap<(bool, Vec<u32>), Arc<RoadNetwork>>,
}

impl Dispatcher {
    /// Starts the task; it runs until every handle is dropped.
    pub fn spawn(
        maps: impl Into<Maps>,
        store: Store,
        area: Option<ServiceArea>,
        policy: ServicePolicy,
    ) -> DispatcherHandle {
        let (tx, mut rx) = mpsc::channel::<Command>(1024);
        let salt = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let maps = maps.into();
        let core = Arc::new(Core {
            roads: maps.usual,
            winter_roads: maps.winter,
            store,
            policy: policy.dispatch,
            offer_ttl_s: policy.offer_ttl_s,
            rules: policy.rules,
            area: RwLock::new(area),
            views: RwLock::new(HashMap::new()),
            offers: Mutex::new(OfferBook::new(salt, MAX_PENDING_OFFERS, MAX_PENDING_BYTES)),
            store_reachable: std::sync::atomic::AtomicBool::new(true),
            changes: tokio::sync::watch::Sender::new(0),
        });
        let mut d = Dispatcher {
            core: core.clone(),
            days: HashMap::new(),
            inbox: tx.downgrade(),
            generation: 0,
            closures: None,
            winter_days: None,
            networks: HashMap::new(),
        };
        tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                if d.handle(cmd).await {
                    d.core.changes.send_modify(|n| *n += 1);
                }
            }
        });
        // The clock moves on: a vehicle waiting somewhere makes its later
        // stops later, and a rider it can no longer reach in time is moved.
        let clock = tx.downgrade();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(ROAD_CLOCK);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                every.tick().await;
                let Some(tx) = clock.upgrade() else { break };
                let (reply, _) = oneshot::channel();
                let day = ServiceDay::of_unix(now_unix());
                if tx.send(Command::Road { day, vehicle_id: None, reply }).await.is_err() {
                    break;
                }
            }
        });
        DispatcherHandle { tx, core }
    }

    /// Handles one command; says whether stored plans or the road may have changed.
    async fn handle(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::LoadDay { day, reply } => {
                let _ = reply.send(self.day_state(day).await.map(|s| s.view()));
            }
            Command::Book { key, what, options, reply } => {
                let _ = reply.send(self.book(key, what, options).await);
            }
            Command::Cancel { id, audit, no_show, reason, reply } => {
                let _ = reply.send(self.cancel(id, audit.as_ref(), no_show, &reason).await);
            }
            Command::SetShift { shift, reply } => {
                let _ = reply.send(self.set_shift(shift).await);
            }
            Command::FleetChanged { reply } => {
                self.days.clear();
                write(&self.core.views).clear();
                let _ = reply.send(Ok(()));
            }
            Command::Replan { day, seconds, reply } => {
                if let Err(e) = self.start_replan(day, seconds, reply).await {
                    tracing::warn!("re-plan of {day}: {e}");
                }
            }
            Command::Finalize { day, reply } => {
                let _ = reply.send(self.finalize(day).await);
            }
            Command::ApplyReplan { day, version, stops, summary, reply } => {
                let _ = reply.send(self.apply_replan(day, version, stops, summary).await);
            }
            Command::RoadsChanged { reply } => {
                (self.closures, self.winter_days) = (None, None);
                let _ = reply.send(self.plan_around_closures().await);
            }
            Command::Road { day, vehicle_id, reply } => {
                if vehicle_id.is_none() {
                    // The clock moved on: a closure may have begun or ended.
                    if let Err(e) = self.plan_around_closures().await {
                        tracing::warn!("planning around road closures: {e}");
                    }
                }
                let result = self.follow_road(day, vehicle_id).await;
                if let (None, Err(e)) = (vehicle_id, &result) {
                    tracing::warn!(%day, "planning from the road: {e}");
                }
                // A reported event changes what the road shows even when no plan moves.
                let changed = vehicle_id.is_some() || matches!(result, Ok(true));
                let _ = reply.send(result.map(|_| ()));
                return changed;
            }
        }
        true
    }

    /// Loads (once) the live state of a day from the store.
    async fn day_state(&mut self, day: ServiceDay) -> Result<&mut DayState> {
        if !self.days.contains_key(&day) {
            let shifts = self.core.store.shifts_on(day).await?;
            let (mut state, stored) = self.build_day(day, &shifts).await?;
            // Stored plans made on other roads (a closure since lifted or
            // added) or before the road reported take the times planned now.
            let stale = state.stale_plans(&stored);
            if !stale.is_empty() {
                match self.core.store.replace_plans(&stale).await {
                    Ok(()) => tracing::info!(%day, plans = stale.len(), "stored plans brought up to date"),
                    Err(e) => tracing::warn!(%day, "stored plans stay as they were: {e}"),
                }
            }
            self.generation += 1 << 32;
            (state.version, state.built) = (self.generation, self.generation);
            self.core.publish(&state);
            // A day under way (after a restart): catch up with the road
            // right after this command, moving riders that need it.
            if let (true, Some(inbox)) = (state.under_way(), self.inbox.upgrade()) {
                let (reply, _) = oneshot::channel();
                let _ = inbox.try_send(Command::Road { day, vehicle_id: None, reply });
            }
            self.days.insert(day, state);
        }
        self.days.get_mut(&day).ok_or_else(|| DispatchError::internal("day state vanished"))
    }

    /// A store write failed. When the store says our plan is stale (for
    /// example a commit that landed although its connection was lost) or
    /// fails in a way we do not understand, the live day no longer matches
    /// it: forget the day, so the next command rebuilds it from the store.
    /// An unreachable database keeps the day: nothing was written, and
    /// quoting goes on from memory.
    fn unsure(&mut self, day: ServiceDay, e: StoreError) -> DispatchError {
        let e = DispatchError::from(e);
        if let DispatchError::Store(
            crate::errors::StoreFailure::Internal(_) | crate::errors::StoreFailure::Stale(_),
        ) = &e
        {
            self.forget_day(day);
        }
        e
    }

    /// Forgets a day's state; it is rebuilt from the store when next needed.
    fn forget_day(&mut self, day: ServiceDay) {
        self.days.remove(&day);
        write(&self.core.views).remove(&day);
    }

    /// Builds a day's state from shifts and the stored bookings and plans;
    /// also gives the day's stored plans as they were.
    async fn build_day(
        &mut self,
        day: ServiceDay,
        shifts: &[Shift],
    ) -> Result<(DayState, Vec<VehicleDayPlan>)> {
        let roads = self.roads_on(day).await?;
        let core = &self.core;
        let fleet: HashMap<i64, FleetVehicle> =
            core.store.list_vehicles().await?.into_iter().map(|v| (v.id, v)).collect();
        let mut table = PointTable::new();
        let mut vehicles = Vec::new();
        let mut ids = Vec::new();
        for s in shifts {
            let Some(fv) = fleet.get(&s.vehicle_id) else { continue };
            let depot = core
                .roads
                .snap(fv.depot)
                .map_err(|e| DispatchError::internal(format!("depot of vehicle {}: {e}", fv.id)))?;
            let depot = table.add(&roads, depot);
            let window =
                TimeWindow::new(s.start_s as f64, s.end_s as f64).map_err(DispatchError::internal)?;
            let capacity = Capacity::new(fv.seats, fv.wheelchair_places);
            let v = Vehicle::new(VehicleId(vehicles.len() as u32), capacity, depot, window)
                .map_err(DispatchError::internal)?;
            vehicles.push(v);
            ids.push(fv.id);
        }
        let bookings = core.store.list_bookings(None, Some(day), false).await?;
        let mut requests = Vec::new();
        let mut booking_of = HashMap::new();
        let mut request_of: HashMap<i64, RequestId> = HashMap::new();
        for b in &bookings {
            let ours = |e: DispatchError| match e {
                DispatchError::Store(_) => e,
                other => DispatchError::internal(format!("stored booking {}: {other}", b.id)),
            };
            let (origin, destination) = core.resolve_places(&b.trip).await.map_err(ours)?;
            let rid = RequestId(requests.len() as u32 + 1);
            let snap = |p: LatLon| {
                core.roads.snap(p).map_err(|e| DispatchError::internal(format!("booking {}: {e}", b.id)))
            };
            let (o, d) = (table.add(&roads, snap(origin)?), table.add(&roads, snap(destination)?));
            let mut req = core.request_for(rid, o, d, &table, &b.trip, day).map_err(ours)?;
            let promise = TimeWindow::new(
                (b.pickup_window.0 - day.midnight_unix()) as f64,
                (b.pickup_window.1 - day.midnight_unix()) as f64,
            )
            .map_err(DispatchError::internal)?;
            req.promise(promise).map_err(DispatchError::internal)?;
            booking_of.insert(rid, b.id);
            request_of.insert(b.id, rid);
            requests.push(req);
        }
        let stored = if bookings.is_empty() { Vec::new() } else { core.store.plans_from(day).await? };
        let mut routes = vec![Vec::new(); ids.len()];
        for p in stored.iter().filter(|p| p.day == day) {
            let Some(v) = ids.iter().position(|&f| f == p.vehicle_id) else { continue };
            routes[v] = p
                .stops
                .iter()
                .filter_map(|s| {
                    let rid = *request_of.get(&s.booking_id)?;
                    Some(match s.action {
                        StopAction::Pickup => StopKind::Pickup(rid),
                        StopAction::Dropoff => StopKind::Dropoff(rid),
                    })
                })
                .collect();
        }
        let next_request = requests.len() as u32;
        // Where each vehicle is, from what its driver reported.
        let (from, to) = crate::driver::day_span(day);
        let mut events = Vec::with_capacity(ids.len());
        for &id in &ids {
            events.push(core.store.vehicle_events(id, from, to).await?);
        }
        let presents = road::presents(day, &vehicles, &requests, &booking_of, &events, now_unix());
        let (plan, late) = LivePlan::restore_live(vehicles, requests, &routes, &presents, &table).map_err(|e| {
            DispatchError::Precondition(format!(
                "the stored plan of {day} no longer fits the fleet and shifts ({e}); restore the shifts or re-plan"
            ))
        })?;
        let road = ids
            .iter()
            .zip(&presents)
            .enumerate()
            .map(|(v, (&vehicle_id, present))| {
                let start = VehicleRoad { vehicle_id, ..VehicleRoad::default() };
                let Some(present) = present else { return start };
                let mine = late.iter().filter(|(w, _)| w.0 as usize == v).map(|(_, l)| *l).collect();
                let kept = noriai_dispatch::live::Kept { late: mine, ..Default::default() };
                start.after(Some(present), &kept, &booking_of, &ids, day)
            })
            .collect();
        let stored: Vec<VehicleDayPlan> = stored.into_iter().filter(|p| p.day == day).collect();
        let state = DayState {
            day,
            fleet: ids,
            table: Arc::new(RwLock::new(table)),
            plan: Arc::new(plan),
            booking_of,
            next_request,
            version: 0,
            built: 0,
            events,
            road: Arc::new(road),
            roads,
        };
        Ok((state, stored))
    }

    /// The map of `day`: in winter if an operator switched the day to
    /// winter, with the pieces that day's closures close.
    async fn roads_on(&mut self, day: ServiceDay) -> Result<Arc<RoadNetwork>> {
        if self.closures.is_none() {
            self.closures = Some(self.core.store.closures().await?);
        }
        if self.winter_days.is_none() {
            self.winter_days = Some(self.core.store.winter_days().await?);
        }
        let winter =
            self.winter_days.as_ref().is_some_and(|d| d.contains(&day)) && self.core.winter_roads.is_some();
        let closures = self.closures.as_deref().unwrap_or_default();
        let pieces = road::closed_on(&self.core.roads, closures, day, now_unix());
        self.network(winter, pieces).await
    }

    /// The map in winter or not with `pieces` closed, built once (off the
    /// async workers).
    async fn network(&mut self, winter: bool, pieces: Vec<u32>) -> Result<Arc<RoadNetwork>> {
        let base = match (winter, &self.core.winter_roads) {
            (true, Some(w)) => w.clone(),
            _ => self.core.roads.clone(),
        };
        if pieces.is_empty() {
            return Ok(base);
        }
        let key = (winter, pieces);
        if let Some(net) = self.networks.get(&key) {
            return Ok(net.clone());
        }
        let closed = key.1.clone();
        let net = tokio::task::spawn_blocking(move || base.with_closed(&closed))
            .await
            .map_err(|e| DispatchError::internal(format!("building the map around closures: {e}")))?;
        let net = Arc::new(net);
        // Keep only networks a day still uses, and this one.
        let used: Vec<Arc<RoadNetwork>> = self.days.values().map(|d| d.roads.clone()).collect();
        self.networks.retain(|_, n| used.iter().any(|u| Arc::ptr_eq(u, n)));
        self.networks.insert(key, net.clone());
        Ok(net)
    }

    async fn book(&mut self, key: String, what: BookWhat, options: BookOptions) -> Result<Booking> {
        if let Some(existing) = self.core.store.booking_by_key(&key).await? {
            let same = match &what {
                BookWhat::Trip(ask) => ask.matches(&existing.trip),
                BookWhat::Offer(id) => {
                    lock(&self.core.offers).get(id).is_none_or(|o| o.quote.trip == existing.trip)
                }
            };
            return if same {
                Ok(existing)
            } else {
                Err(DispatchError::KeyReused(format!(
                    "idempotency_key was already used for booking {} with a different trip; use a new key for a new booking",
                    existing.id
                )))
            };
        }
        match what {
            BookWhat::Offer(id) => {
                let pending = lock(&self.core.offers).get(&id).cloned();
                let Some(pending) = pending else {
                    return Err(DispatchError::NotFound(format!(
                        "offer_id `{}` is unknown or expired; ask for a new quote",
                        noriai_model::excerpt(&id)
                    )));
                };
                if pending.expires < now_unix() {
                    lock(&self.core.offers).remove(&id);
                    return Err(DispatchError::Precondition(format!(
                        "offer `{}` has expired; ask for a new quote",
                        noriai_model::excerpt(&id)
                    )));
                }
                let saved = self.commit(key, pending, options).await?;
                // Only now: a retry after a failed commit may still book it.
                lock(&self.core.offers).remove(&id);
                Ok(saved)
            }
            BookWhat::Trip(ask) => {
                let checked = self.core.check(&ask).await?;
                let view = self.day_state(checked.day).await?.view();
                let opts = OfferOptions { max_offers: 1, ..OfferOptions::default() };
                let priced = self.core.price(&view, &checked, &opts)?;
                let offer = priced
                    .offers
                    .into_iter()
                    .next()
                    .ok_or_else(|| DispatchError::internal("empty offer list"))?;
                let (promise, stage) = self.core.promise_for(&priced.request, &offer, view.day)?;
                let quote = QuotedTrip {
                    day: view.day,
                    built: view.built,
                    trip: checked.trip,
                    points: checked.points,
                    request: priced.request,
                };
                let pending =
                    PendingOffer { quote: Arc::new(quote), offer, promise, stage, expires: i64::MAX };
                self.commit(key, pending, options).await
            }
        }
    }

    /// Adds a priced offer to the day's plan: stored first, then in memory.
    async fn commit(&mut self, key: String, pending: PendingOffer, options: BookOptions) -> Result<Booking> {
        let (quote, day) = (pending.quote.clone(), pending.quote.day);
        let state = self.day_state(day).await?;
        let roads = state.roads.clone();
        if state.built != quote.built {
            return Err(DispatchError::Stale(
                "the fleet or its shifts changed since the quote; ask for a new quote".into(),
            ));
        }
        let rid = state.new_request_id();
        let table = state.table.clone();
        let (stored_plan, plan, booking, ids) = {
            let table = read(&table);
            let (travel, ids) = table.with_points(&roads, &quote.points);
            let request = Request { id: rid, pickup: ids[0], dropoff: ids[1], ..quote.request.clone() };
            let mut plan = (*state.plan).clone();
            let mut offer = pending.offer.clone();
            if plan.commit(&request, &offer, Some(pending.promise), &travel).is_err() {
                // The plan changed since the quote: look for another way to keep the same promise.
                let mut narrowed = request.clone();
                narrowed.pickup_window = pending.promise;
                let opts = OfferOptions { max_offers: 1, alternative_step: 0.0, ..OfferOptions::default() };
                let Ok(Ok(mut offers)) = noriai_dispatch::insert(&state.plan, &narrowed, &travel, &opts)
                else {
                    return Err(DispatchError::Stale(
                        "the offered pickup time is no longer available; ask for a new quote".into(),
                    ));
                };
                offer = offers.remove(0);
                plan.commit(&request, &offer, Some(pending.promise), &travel).map_err(online_error)?;
            }
            let v = offer.vehicle.0 as usize;
            let stored_plan = state.vehicle_plan(&plan, &travel, v, Some(rid));
            let midnight = day.midnight_unix();
            let arrival = stored_plan
                .stops
                .iter()
                .find(|s| s.booking_id == 0 && s.action == StopAction::Dropoff)
                .map_or(midnight + offer.expected_arrival.round() as i64, |s| s.eta);
            let pickup_window =
                (midnight + pending.promise.earliest() as i64, midnight + pending.promise.latest() as i64);
            let booking = Booking {
                id: 0,
                trip: quote.trip.clone(),
                status: BookingStatus::Confirmed,
                day,
                pickup_window,
                window: pending.stage,
                wide_window: (pending.stage == WindowStage::Wide).then_some(pickup_window),
                expected_arrival: arrival,
                vehicle_id: state.fleet[v],
                recurrence_id: options.recurrence,
                idempotency_key: key,
            };
            (stored_plan, plan, booking, ids)
        };
        if !options.allow_overlap {
            self.refuse_overlap(&booking).await?;
        }
        let saved = self
            .core
            .store
            .commit_booking_audited(&booking, &[stored_plan], options.audit.as_ref())
            .await
            .map_err(|e| self.unsure(day, e))?;
        // Durable: now memory. Only this task adds points, so they get the
        // ids the view gave them; if not, rebuild the day from the store.
        let state = self.days.get_mut(&day).ok_or_else(|| DispatchError::internal("day state vanished"))?;
        let added = {
            let mut t = write(&state.table);
            [t.add(&roads, quote.points[0]), t.add(&roads, quote.points[1])]
        };
        if added != [ids[0], ids[1]] {
            tracing::error!(%day, "travel-time ids moved while booking; rebuilding the day from the store");
            self.forget_day(day);
        } else {
            state.plan = Arc::new(plan);
            state.version += 1;
            state.booking_of.insert(rid, saved.id);
            self.core.publish(state);
        }
        tracing::info!(booking = saved.id, %day, vehicle = saved.vehicle_id, "booked");
        Ok(saved)
    }

    /// Refuses a booking whose rider already has one with an overlapping
    /// pickup window: after a timeout, operators book the same ride again
    /// under a new key, and the rider would be counted twice.
    async fn refuse_overlap(&self, new: &Booking) -> Result<()> {
        let theirs = self.core.store.list_bookings(Some(new.trip.rider_id), Some(new.day), false).await?;
        let (start, end) = new.pickup_window;
        match theirs.iter().find(|b| b.pickup_window.0 <= end && start <= b.pickup_window.1) {
            Some(b) => Err(DispatchError::Precondition(format!(
                "rider {} already has booking {} with pickup {} on {}; if this is another trip, book it with allow_overlap",
                new.trip.rider_id,
                b.id,
                local_window(b.pickup_window.0, b.pickup_window.1),
                b.day
            ))),
            None => Ok(()),
        }
    }

    async fn cancel(
        &mut self,
        id: i64,
        audit: Option<&AuditEntry>,
        no_show: bool,
        reason: &str,
    ) -> Result<Booking> {
        let booking = self.core.store.get_booking(id).await?;
        if booking.status == BookingStatus::Cancelled {
            return Err(DispatchError::Precondition(format!("booking {id} is already cancelled")));
        }
        if booking.pickup_window.1 < now_unix() && !no_show {
            return Err(DispatchError::Precondition(format!("booking {id} was for a time that has passed")));
        }
        let state = self.day_state(booking.day).await?;
        let rid = state.booking_of.iter().find(|(_, b)| **b == id).map(|(r, _)| *r);
        let mut plans = Vec::new();
        let mut plan = (*state.plan).clone();
        if rid.is_some_and(|r| plan.presents().iter().flatten().any(|p| p.picked(r))) {
            return Err(DispatchError::Precondition(format!(
                "booking {id}'s rider has been picked up; the ride can no longer be cancelled"
            )));
        }
        if let Some(rid) = rid {
            let table = read(&state.table);
            let v =
                plan.vehicle_of(rid).ok_or_else(|| DispatchError::internal("booking not in any route"))?;
            plan.remove(rid, &*table).map_err(online_error)?;
            // The new plan no longer visits the booking, so its mapping can stay until the commit.
            plans.push(state.vehicle_plan(&plan, &*table, v, None));
        }
        let saved = self
            .core
            .store
            .cancel_booking_audited(id, &plans, audit, reason)
            .await
            .map_err(|e| self.unsure(booking.day, e))?;
        // Durable: now memory.
        if let Some(state) = self.days.get_mut(&booking.day) {
            let roads = state.roads.clone();
            if let Some(rid) = rid {
                state.booking_of.remove(&rid);
            }
            state.plan = Arc::new(plan);
            state.version += 1;
            state.shed_unused_points(&roads);
            self.core.publish(state);
        }
        tracing::info!(booking = id, "cancelled");
        Ok(saved)
    }

    async fn set_shift(&mut self, shift: Shift) -> Result<Shift> {
        let store = &self.core.store;
        store.get_vehicle(shift.vehicle_id).await?;
        let mut shifts = store.shifts_on(shift.day).await?;
        shifts.retain(|s| s.vehicle_id != shift.vehicle_id);
        shifts.push(shift);
        shifts.sort_by_key(|s| s.vehicle_id);
        // Bookings already made must still fit the new hours.
        let (mut state, _) = self.build_day(shift.day, &shifts).await?;
        self.core.store.set_shift(shift).await?;
        self.generation += 1 << 32;
        (state.version, state.built) = (self.generation, self.generation);
        self.core.publish(&state);
        self.days.insert(shift.day, state);
        Ok(shift)
    }

    /// The evening before: each rider still holding a wide window gets the
    /// final one around the planned pickup. The plan keeps every stop and
    /// time (each planned pickup lies inside its new window); stored first,
    /// then in memory. A repeat finds nothing left to narrow.
    async fn finalize(&mut self, day: ServiceDay) -> Result<Vec<Booking>> {
        let wide: Vec<Booking> = self
            .core
            .store
            .list_bookings(None, Some(day), false)
            .await?
            .into_iter()
            .filter(|b| b.window == WindowStage::Wide)
            .collect();
        if wide.is_empty() {
            return Ok(Vec::new());
        }
        let policy = self.core.policy.clone();
        let state = self.day_state(day).await?;
        let (narrowed_plan, windows) = {
            let table = read(&state.table);
            let planned = state.plan.plan(&*table).pickup_starts();
            let request_of: HashMap<i64, RequestId> =
                state.booking_of.iter().map(|(r, b)| (*b, *r)).collect();
            let midnight = day.midnight_unix();
            let mut requests = state.plan.requests().to_vec();
            let mut windows = Vec::new();
            for b in &wide {
                let Some(rid) = request_of.get(&b.id) else { continue };
                let (Some(&at), Some(req)) = (planned.get(rid), requests.iter_mut().find(|r| r.id == *rid))
                else {
                    continue;
                };
                let fin = whole_seconds(policy.promise_around(req, at).map_err(DispatchError::internal)?)?;
                req.promise(fin).map_err(DispatchError::internal)?;
                windows.push((b.id, (midnight + fin.earliest() as i64, midnight + fin.latest() as i64)));
            }
            let plan = state
                .rebuilt(requests, &state.plan.stops(), &*table)
                .map_err(|e| DispatchError::internal(format!("narrowing the windows of {day}: {e}")))?;
            (plan, windows)
        };
        self.core.store.narrow_windows(&windows).await.map_err(|e| self.unsure(day, e))?;
        if let Some(state) = self.days.get_mut(&day) {
            state.plan = Arc::new(narrowed_plan);
            state.version += 1;
            self.core.publish(state);
        }
        let mut told = Vec::with_capacity(windows.len());
        for (id, _) in &windows {
            told.push(self.core.store.get_booking(*id).await?);
        }
        tracing::info!(%day, riders = told.len(), "final pickup windows set; riders to be told");
        Ok(told)
    }

    /// Re-plans a day as a batch on a blocking thread, so quotes and bookings
    /// go on meanwhile; the result comes back as [`Command::ApplyReplan`].
    async fn start_replan(
        &mut self,
        day: ServiceDay,
        seconds: f64,
        reply: Reply<ReplanSummary>,
    ) -> Result<()> {
        let state = match self.day_state(day).await {
            Ok(s) => s,
            Err(e) => {
                let _ = reply.send(Err(e.clone()));
                return Err(e);
            }
        };
        if state.under_way() {
            let e = DispatchError::Precondition(format!(
                "{day} is under way: vehicles on the road are planned from where they are as drivers report, \
                 and a batch re-plan would move stops already served"
            ));
            let _ = reply.send(Err(e.clone()));
            return Err(e);
        }
        let before = state.plan.cost();
        let (requests, vehicles) = (state.plan.requests().to_vec(), state.plan.vehicles().to_vec());
        // A copy: the search runs for seconds and must not hold the table.
        let (table, version) = (read(&state.table).clone(), state.version);
        let inbox = self.inbox.upgrade().ok_or(DispatchError::ShuttingDown)?;
        tokio::task::spawn_blocking(move || {
            let mut summary = ReplanSummary {
                bookings: requests.len(),
                km_before: before / 1000.0,
                km_after: before / 1000.0,
                applied: false,
            };
            let stops = noriai_dispatch::Problem::new(
                &table,
                requests,
                vehicles,
                noriai_dispatch::Objective::Distance,
            )
            .ok()
            .map(|problem| {
                let params = noriai_dispatch::SolveParams {
                    budget: noriai_dispatch::Budget::Time(std::time::Duration::from_secs_f64(
                        seconds.clamp(0.0, 60.0),
                    )),
                    ..Default::default()
                };
                noriai_dispatch::solve_threads(&problem, &params, replan_threads())
            })
            .filter(|s| s.feasible && s.unassigned.is_empty() && s.cost < before - 1e-6)
            .map(|s| {
                summary.km_after = s.cost / 1000.0;
                s.stops
            });
            let _ = inbox.blocking_send(Command::ApplyReplan { day, version, stops, summary, reply });
        });
        Ok(())
    }

    /// Applies a batch plan when it is better and the day did not change meanwhile.
    async fn apply_replan(
        &mut self,
        day: ServiceDay,
        version: u64,
        stops: Option<Vec<Vec<StopKind>>>,
        mut summary: ReplanSummary,
    ) -> Result<ReplanSummary> {
        let state = self.day_state(day).await?;
        let Some(stops) = stops.filter(|_| state.version == version) else {
            summary.km_after = summary.km_before;
            return Ok(summary);
        };
        let requests = state.plan.requests().to_vec();
        let (plan, plans) = {
            let table = read(&state.table);
            let plan = state.rebuilt(requests, &stops, &*table).map_err(DispatchError::internal)?;
            let plans: Vec<VehicleDayPlan> =
                (0..state.fleet.len()).map(|v| state.vehicle_plan(&plan, &*table, v, None)).collect();
            (plan, plans)
        };
        self.core.store.replace_plans(&plans).await.map_err(|e| self.unsure(day, e))?;
        summary.km_after = plan.cost() / 1000.0;
        summary.applied = true;
        if let Some(state) = self.days.get_mut(&day) {
            state.plan = Arc::new(plan);
            state.version += 1;
            self.core.publish(state);
        }
        tracing::info!(%day, km_before = summary.km_before, km_after = summary.km_after, "re-planned");
        Ok(summary)
    }
}

impl Dispatcher {
    /// Plans the day's vehicles from where the road says they are: the one
    /// that reported (its events read afresh), or every vehicle that has
    /// reported when the clock moved on (`None`, only for a loaded day).
    /// Riders a vehicle can no longer serve in time are moved to one that
    /// keeps their promise. Changed plans are stored first, then kept.
    /// Says whether anything the board shows changed.
    async fn follow_road(&mut self, day: ServiceDay, vehicle_id: Option<i64>) -> Result<bool> {
        if vehicle_id.is_none() && !self.days.contains_key(&day) {
            return Ok(false);
        }
        let core = self.core.clone();
        let now = now_unix();
        let state = self.day_state(day).await?;
        if let Some(id) = vehicle_id {
            // A vehicle not on shift that day has no plan to keep.
            let Some(v) = state.fleet.iter().position(|&f| f == id) else { return Ok(false) };
            let (from, to) = crate::driver::day_span(day);
            state.events[v] = core.store.vehicle_events(id, from, to).await?;
        }
        let mut presents = road::presents(
            day,
            state.plan.vehicles(),
            state.plan.requests(),
            &state.booking_of,
            &state.events,
            now,
        );
        // Vehicles on their way: the last position seen since they left
        // says when they reach the next stop.
        let midnight = day.midnight_unix();
        for (v, present) in presents.iter_mut().enumerate() {
            let Some(present) = present.as_mut().filter(|p| p.heading) else { continue };
            let left_at = state.events[v].iter().rev().find(|e| e.kind == EventKind::Departed).map(|e| e.at);
            let Some(left_at) = left_at else { continue };
            let Some(seen) = core.store.last_position(state.fleet[v]).await?.filter(|p| p.at >= left_at)
            else {
                continue;
            };
            let Some(next) = state.plan.stops().swap_remove(v).first().copied() else { continue };
            let next_loc = state.plan.requests().iter().find_map(|r| match next {
                StopKind::Pickup(id) if id == r.id => Some(r.pickup),
                StopKind::Dropoff(id) if id == r.id => Some(r.dropoff),
                _ => None,
            });
            let table = read(&state.table);
            let Some((next_loc, next_point)) =
                next_loc.and_then(|l| table.points().get(l.index()).map(|p| (l, p.point)))
            else {
                continue;
            };
            let Ok(to_next) = state.roads.route(seen.location, next_point) else { continue };
            let leg = table.time(present.location, next_loc);
            seen_on_the_way(present, (seen.at - midnight) as f64, to_next.duration_s, leg);
        }
        let (plan, road, changed) = {
            let table = read(&state.table);
            let old = &state.plan;
            let mut plan = (**old).clone();
            let mut road = (*state.road).clone();
            for (v, present) in presents.iter().enumerate() {
                let Some(present) = present else { continue };
                if vehicle_id.is_some_and(|id| id != state.fleet[v]) {
                    continue;
                }
                let at = (now - day.midnight_unix()) as f64;
                let kept = match keep_up(&mut plan, VehicleId(v as u32), Some(present), at, &*table) {
                    Ok(kept) => kept,
                    // A stop the closed roads no longer reach: keep the plan, raise it.
                    Err(OnlineError::CannotKeepPlan { .. }) => {
                        road[v].cut_off = true;
                        continue;
                    }
                    // Events that do not fit this vehicle's plan (a rider
                    // boarded just as the plan moved them): this vehicle
                    // keeps its plan; the others still follow the road.
                    Err(e) => {
                        tracing::warn!(%day, vehicle = state.fleet[v], "the plan did not follow the road: {e}");
                        continue;
                    }
                };
                tracing::debug!(%day, vehicle = state.fleet[v], ?present, ?kept, "kept up with the road");
                for (r, to) in &kept.moved {
                    tracing::info!(%day, booking = state.booking_of.get(r), from = state.fleet[v], to = state.fleet[to.0 as usize], "rider moved to a vehicle that keeps the promise");
                }
                road[v] = road[v].after(Some(present), &kept, &state.booking_of, &state.fleet, day);
            }
            let changed: Vec<VehicleDayPlan> = (0..state.fleet.len())
                .map(|v| (state.vehicle_plan(&plan, &*table, v, None), v))
                .filter(|(new, v)| *new != state.vehicle_plan(old, &*table, *v, None))
                .map(|(new, _)| new)
                .collect();
            (plan, road, changed)
        };
        let road_changed = road != *state.road;
        let reported: Vec<bool> = plan.presents().iter().map(Option::is_some).collect();
        let newly_under_way =
            reported != state.plan.presents().iter().map(Option::is_some).collect::<Vec<_>>();
        if !changed.is_empty() {
            core.store.replace_plans(&changed).await.map_err(|e| self.unsure(day, e))?;
        }
        let Some(state) = self.days.get_mut(&day) else { return Ok(true) };
        state.plan = Arc::new(plan);
        state.road = Arc::new(road);
        // A batch re-plan computed before the road reported or the plan
        // changed is not applied.
        if newly_under_way || !changed.is_empty() {
            state.version += 1;
        }
        self.core.publish(state);
        Ok(road_changed || !changed.is_empty())
    }
}

impl Dispatcher {
    /// Plans every loaded day whose closed roads changed (closures added,
    /// lifted, begun or ended) around them: the day's table is rebuilt on the new map
    /// (the same points keep their ids), every vehicle is planned again from
    /// where it is, riders whose promise breaks are moved where another
    /// vehicle keeps it, and changed plans are stored before they are kept.
    async fn plan_around_closures(&mut self) -> Result<()> {
        let mut days: Vec<ServiceDay> = self.days.keys().copied().collect();
        if self.closures.is_none() {
            // Closures changed: days not loaded yet have stored plans too;
            // loading one plans it on today's roads and stores what changed.
            let today = ServiceDay::of_unix(now_unix());
            for p in self.core.store.plans_from(today).await? {
                if !days.contains(&p.day) {
                    days.push(p.day);
                    self.day_state(p.day).await?;
                }
            }
        }
        for day in days {
            let roads = self.roads_on(day).await?;
            let Some(state) = self.days.get(&day) else { continue };
            if Arc::ptr_eq(&roads, &state.roads) {
                continue;
            }
            let started = std::time::Instant::now();
            let (table, plan, road, changed) = {
                let old_table = read(&state.table);
                let mut table = PointTable::new();
                for p in old_table.points() {
                    table.add(&roads, *p);
                }
                if table.len() != old_table.len() {
                    return Err(DispatchError::internal("the day's points changed ids on the new map"));
                }
                let mut plan = (*state.plan).clone();
                let mut road = (*state.road).clone();
                for (v, vehicle_road) in road.iter_mut().enumerate() {
                    let at = (now_unix() - day.midnight_unix()) as f64;
                    match keep_up(&mut plan, VehicleId(v as u32), None, at, &table) {
                        Ok(kept) => {
                            let present = plan.presents()[v].clone();
                            *vehicle_road = vehicle_road.after(
                                present.as_ref(),
                                &kept,
                                &state.booking_of,
                                &state.fleet,
                                day,
                            );
                        }
                        // Riders the closure cut off: the vehicle keeps its
                        // stops and the operator hears of it on the board.
                        Err(e) => {
                            tracing::warn!(%day, vehicle = state.fleet[v], "no plan around the closures: {e}");
                            vehicle_road.cut_off = true;
                        }
                    }
                }
                let changed: Vec<VehicleDayPlan> = (0..state.fleet.len())
                    .map(|v| (state.vehicle_plan(&plan, &table, v, None), v))
                    .filter(|(new, v)| *new != state.vehicle_plan(&state.plan, &*old_table, *v, None))
                    .map(|(new, _)| new)
                    .collect();
                (table, plan, road, changed)
            };
            if !changed.is_empty() {
                self.core.store.replace_plans(&changed).await.map_err(|e| self.unsure(day, e))?;
            }
            let Some(state) = self.days.get_mut(&day) else { continue };
            state.table = Arc::new(RwLock::new(table));
            state.plan = Arc::new(plan);
            state.road = Arc::new(road);
            state.roads = roads;
            state.version += 1;
            self.core.publish(state);
            tracing::info!(%day, plans = changed.len(), ms = started.elapsed().as_millis() as u64, "planned around road closures");
        }
        Ok(())
    }
}

fn online_error(e: OnlineError) -> DispatchError {
    match &e {
        OnlineError::Request(_, m) => DispatchError::invalid("trip", m),
        OnlineError::StaleOffer(_) => DispatchError::Stale("the plan changed; ask for a new quote".into()),
        OnlineError::CannotKeepPlan { .. } => DispatchError::Precondition(e.to_string()),
        OnlineError::OnBoard(_) => {
            DispatchError::Precondition("the rider is already on board; the trip can no longer change".into())
        }
        // The dispatcher builds every request, location and plan itself: any
        // of these is a bug of ours, not of the caller.
        OnlineError::Problem(_)
        | OnlineError::DuplicateRequest(_)
        | OnlineError::UnknownLocation { .. }
        | OnlineError::UnknownVehicle(_)
        | OnlineError::UnknownRequest(_)
        | OnlineError::Restore(_)
        | OnlineError::TooManyDone { .. } => DispatchError::internal(e),
    }
}

fn no_offer_error(day: ServiceDay, no: &NoOffer) -> DispatchError {
    let mut msg = format!("no vehicle can take this trip: {}", no.reason);
    if !no.alternatives.is_empty() {
        let times: Vec<String> = no.alternatives.iter().map(|a| hhmm(day, a.offer.pickup_time)).collect();
        msg.push_str(&format!("; nearest pickup times that would work: {}", times.join(", ")));
    }
    match no.reason {
        Reason::ExceedsCapacity | Reason::ImpossibleTrip | Reason::OutsideAnyShift => {
            DispatchError::Precondition(msg)
        }
        Reason::NoVehicleInTime => DispatchError::NoVehicle(msg),
    }
}

/// Searches a day's re-plan runs at once: one per core, at most four, so a
/// re-plan uses the machine without one search per hyper-thread.
fn replan_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}
