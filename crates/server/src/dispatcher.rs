//! The dispatcher task: the one owner of the live plans. gRPC handlers send it
//! commands and await replies, so bookings are decided one at a time and a
//! vehicle can never be overbooked by two callers at once. A booking is
//! confirmed only after the store has committed it together with the new plan;
//! if the commit fails, the live plan stays as it was.

use crate::ServicePolicy;
use crate::convert::invalid;
use crate::errors::store_status;
use noriai_dispatch::{LivePlan, NoOffer, Offer, OfferOptions, OnlineError, Reason, Wish};
use noriai_model::service::{
    Booking, BookingStatus, FleetVehicle, PlaceKind, PlanStop, ServiceDay, Shift, StopAction, Trip, TripTime,
    format_time_of_day,
};
use noriai_model::{
    Capacity, LatLon, Request, RequestId, StopKind, TimeWindow, TravelTimes, Vehicle, VehicleId,
};
use noriai_roads::{PointTable, RoadNetwork};
use noriai_store::{Store, VehicleDayPlan};
use noriai_zones::ServiceArea;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tonic::Status;

/// An offer as the rider hears it (Unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct QuotedOffer {
    pub id: String,
    pub pickup_window: (i64, i64),
    pub expected_arrival: i64,
    pub ride_minutes: f64,
}

/// What to book: a quoted offer, or a trip (booked with its best offer).
#[derive(Debug, Clone)]
pub enum BookWhat {
    Offer(String),
    Trip(Trip),
}

type Reply<T> = oneshot::Sender<Result<T, Status>>;

/// Quoted offers kept for booking at most; the oldest are forgotten first.
const MAX_PENDING_OFFERS: usize = 100_000;

enum Command {
    Quote {
        trip: Trip,
        reply: Reply<Vec<QuotedOffer>>,
    },
    Book {
        key: String,
        what: BookWhat,
        recurrence: Option<i64>,
        reply: Reply<Booking>,
    },
    Cancel {
        id: i64,
        reply: Reply<Booking>,
    },
    SetShift {
        shift: Shift,
        reply: Reply<Shift>,
    },
    FleetChanged {
        reply: Reply<()>,
    },
    AreaChanged {
        area: ServiceArea,
        reply: Reply<()>,
    },
    Replan {
        day: ServiceDay,
        seconds: f64,
        reply: Reply<ReplanSummary>,
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

/// A cheap, cloneable way to talk to the dispatcher task.
#[derive(Clone)]
pub struct DispatcherHandle {
    tx: mpsc::Sender<Command>,
}

impl DispatcherHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, Status> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| Status::unavailable("the dispatcher is shutting down"))?;
        rx.await.map_err(|_| Status::internal("the dispatcher stopped while handling the request"))?
    }
    pub async fn quote(&self, trip: Trip) -> Result<Vec<QuotedOffer>, Status> {
        self.ask(|reply| Command::Quote { trip, reply }).await
    }
    pub async fn book(
        &self,
        key: String,
        what: BookWhat,
        recurrence: Option<i64>,
    ) -> Result<Booking, Status> {
        self.ask(|reply| Command::Book { key, what, recurrence, reply }).await
    }
    pub async fn cancel(&self, id: i64) -> Result<Booking, Status> {
        self.ask(|reply| Command::Cancel { id, reply }).await
    }
    pub async fn set_shift(&self, shift: Shift) -> Result<Shift, Status> {
        self.ask(|reply| Command::SetShift { shift, reply }).await
    }
    pub async fn fleet_changed(&self) -> Result<(), Status> {
        self.ask(|reply| Command::FleetChanged { reply }).await
    }
    pub async fn area_changed(&self, area: ServiceArea) -> Result<(), Status> {
        self.ask(|reply| Command::AreaChanged { area, reply }).await
    }
    pub async fn replan(&self, day: ServiceDay, seconds: f64) -> Result<ReplanSummary, Status> {
        self.ask(|reply| Command::Replan { day, seconds, reply }).await
    }
}

/// One service day's live state: its vehicles, travel times and plan.
/// Times inside are seconds after local midnight.
struct DayState {
    day: ServiceDay,
    /// Fleet vehicle id of each dispatch vehicle (index = `VehicleId.0`).
    fleet: Vec<i64>,
    table: PointTable,
    plan: LivePlan,
    booking_of: HashMap<RequestId, i64>,
    next_request: u32,
    /// Bumped on every change of the plan, so a batch re-plan computed
    /// meanwhile is not applied over a newer booking.
    version: u64,
    /// Which build of the day this is (a fleet or shift change rebuilds it).
    built: u64,
}

impl DayState {
    fn new_request_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    /// The stored form of vehicle `v`'s route (`new` marks the booking being added).
    fn vehicle_plan(&self, plan: &LivePlan, v: usize, new: Option<RequestId>) -> VehicleDayPlan {
        let full = plan.plan(&self.table);
        let midnight = self.day.midnight_unix();
        let stops = full.routes[v]
            .stops
            .iter()
            .filter_map(|s| {
                let (rid, action) = match s.kind {
                    StopKind::Pickup(r) => (r, StopAction::Pickup),
                    StopKind::Dropoff(r) => (r, StopAction::Dropoff),
                    StopKind::Break(_) => return None,
                };
                let booking_id = if Some(rid) == new { 0 } else { *self.booking_of.get(&rid)? };
                Some(PlanStop { booking_id, action, eta: midnight + s.start_of_service.round() as i64 })
            })
            .collect();
        VehicleDayPlan { vehicle_id: self.fleet[v], day: self.day, stops }
    }

    fn vehicle_index(&self, id: VehicleId) -> usize {
        id.0 as usize
    }
}

struct PendingOffer {
    day: ServiceDay,
    /// The day state the offer was priced on; its locations mean nothing in a rebuilt one.
    built: u64,
    trip: Trip,
    request: Request,
    offer: Offer,
    promise: TimeWindow,
    expires: i64,
}

pub struct Dispatcher {
    roads: Arc<RoadNetwork>,
    store: Store,
    area: Option<ServiceArea>,
    policy: noriai_dispatch::Policy,
    offer_ttl_s: i64,
    days: HashMap<ServiceDay, DayState>,
    offers: HashMap<String, PendingOffer>,
    /// Offer ids in the order they were quoted (and so expire).
    offer_queue: std::collections::VecDeque<(i64, String)>,
    offer_seq: u64,
    offer_salt: u64,
    /// To hand results of background work back to this task.
    inbox: mpsc::WeakSender<Command>,
    /// Versions handed to day states built from the store, never reused.
    generation: u64,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!("dispatcher: {e}");
    Status::internal(format!("dispatch failed: {e}"))
}

fn hhmm(day: ServiceDay, t: f64) -> String {
    let s = t.round().max(0.0) as u32;
    if s >= 86_400 {
        format!("{} +1 day", format_time_of_day(s - 86_400))
    } else {
        format!("{} {}", day, format_time_of_day(s))
    }
}

impl Dispatcher {
    /// Starts the task; it runs until every handle is dropped.
    pub fn spawn(
        roads: Arc<RoadNetwork>,
        store: Store,
        area: Option<ServiceArea>,
        policy: ServicePolicy,
    ) -> DispatcherHandle {
        let (tx, mut rx) = mpsc::channel::<Command>(1024);
        let salt = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let mut d = Dispatcher {
            roads,
            store,
            area,
            policy: policy.dispatch,
            offer_ttl_s: policy.offer_ttl_s,
            days: HashMap::new(),
            offers: HashMap::new(),
            offer_queue: std::collections::VecDeque::new(),
            offer_seq: 0,
            offer_salt: salt,
            inbox: tx.downgrade(),
            generation: 0,
        };
        tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                d.handle(cmd).await;
            }
        });
        DispatcherHandle { tx }
    }

    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Quote { trip, reply } => {
                let _ = reply.send(self.quote(trip).await);
            }
            Command::Book { key, what, recurrence, reply } => {
                let _ = reply.send(self.book(key, what, recurrence).await);
            }
            Command::Cancel { id, reply } => {
                let _ = reply.send(self.cancel(id).await);
            }
            Command::SetShift { shift, reply } => {
                let _ = reply.send(self.set_shift(shift).await);
            }
            Command::FleetChanged { reply } => {
                self.days.clear();
                let _ = reply.send(Ok(()));
            }
            Command::AreaChanged { area, reply } => {
                self.area = Some(area);
                let _ = reply.send(Ok(()));
            }
            Command::Replan { day, seconds, reply } => {
                if let Err(e) = self.start_replan(day, seconds, reply).await {
                    tracing::warn!("re-plan of {day}: {e:?}");
                }
            }
            Command::ApplyReplan { day, version, stops, summary, reply } => {
                let _ = reply.send(self.apply_replan(day, version, stops, summary).await);
            }
        }
    }

    /// Loads (once) the live state of a day from the store.
    async fn day_state(&mut self, day: ServiceDay) -> Result<&mut DayState, Status> {
        if !self.days.contains_key(&day) {
            let shifts = self.store.shifts_on(day).await.map_err(store_status)?;
            let mut state = self.build_day(day, &shifts).await?;
            self.generation += 1 << 32;
            (state.version, state.built) = (self.generation, self.generation);
            self.days.insert(day, state);
        }
        self.days.get_mut(&day).ok_or_else(|| Status::internal("day state vanished"))
    }

    /// Builds a day's state from shifts and the stored bookings and plans.
    async fn build_day(&self, day: ServiceDay, shifts: &[Shift]) -> Result<DayState, Status> {
        let fleet: HashMap<i64, FleetVehicle> =
            self.store.list_vehicles().await.map_err(store_status)?.into_iter().map(|v| (v.id, v)).collect();
        let mut table = PointTable::new();
        let mut vehicles = Vec::new();
        let mut ids = Vec::new();
        for s in shifts {
            let Some(fv) = fleet.get(&s.vehicle_id) else { continue };
            let depot = self
                .roads
                .snap(fv.depot)
                .map_err(|e| internal(format!("depot of vehicle {}: {e}", fv.id)))?;
            let depot = table.add(&self.roads, depot);
            let window = TimeWindow::new(s.start_s as f64, s.end_s as f64).map_err(internal)?;
            let capacity = Capacity::new(fv.seats, fv.wheelchair_places);
            let v =
                Vehicle::new(VehicleId(vehicles.len() as u32), capacity, depot, window).map_err(internal)?;
            vehicles.push(v);
            ids.push(fv.id);
        }
        let empty = LivePlan::new(vehicles.clone(), &table).map_err(internal)?;
        let mut state = DayState {
            day,
            fleet: ids,
            table,
            plan: empty,
            booking_of: HashMap::new(),
            next_request: 0,
            version: 0,
            built: 0,
        };
        let bookings = self.store.list_bookings(None, Some(day), false).await.map_err(store_status)?;
        if bookings.is_empty() {
            return Ok(state);
        }
        let mut requests = Vec::new();
        let mut request_of: HashMap<i64, RequestId> = HashMap::new();
        for b in &bookings {
            let (origin, destination) = self.resolve_places(&b.trip).await?;
            let rid = state.new_request_id();
            let mut req = self.request_for(&mut state, rid, &b.trip, origin, destination)?;
            let promise = TimeWindow::new(
                (b.pickup_window.0 - day.midnight_unix()) as f64,
                (b.pickup_window.1 - day.midnight_unix()) as f64,
            )
            .map_err(internal)?;
            req.promise(promise).map_err(internal)?;
            state.booking_of.insert(rid, b.id);
            request_of.insert(b.id, rid);
            requests.push(req);
        }
        let stored = self.store.plans_from(day).await.map_err(store_status)?;
        let mut routes = vec![Vec::new(); state.fleet.len()];
        for p in stored.iter().filter(|p| p.day == day) {
            let Some(v) = state.fleet.iter().position(|&f| f == p.vehicle_id) else { continue };
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
        state.plan = LivePlan::restore(vehicles, requests, &routes, &state.table).map_err(|e| {
            Status::failed_precondition(format!(
                "the stored plan of {day} no longer fits the fleet and shifts ({e}); restore the shifts or re-plan"
            ))
        })?;
        Ok(state)
    }

    async fn resolve_places(&self, trip: &Trip) -> Result<(LatLon, LatLon), Status> {
        let mut out = Vec::with_capacity(2);
        for (field, place) in [("trip.origin", &trip.origin), ("trip.destination", &trip.destination)] {
            out.push(match place.kind {
                PlaceKind::Point(p) => p,
                PlaceKind::Stop(id) => self
                    .store
                    .get_stop(id)
                    .await
                    .map_err(|_| {
                        Status::not_found(format!(
                            "{field}.stop_id: there is no stop {id}; list stops with FleetService.ListStops"
                        ))
                    })?
                    .location,
            });
        }
        Ok((out[0], out[1]))
    }

    /// The dial-a-ride request for a trip on its day (times after local midnight).
    fn request_for(
        &self,
        state: &mut DayState,
        id: RequestId,
        trip: &Trip,
        origin: LatLon,
        destination: LatLon,
    ) -> Result<Request, Status> {
        let snap = |field: &str, p: LatLon| self.roads.snap(p).map_err(|e| invalid(field, e));
        let o = snap("trip.origin", origin)?;
        let d = snap("trip.destination", destination)?;
        let (o, d) = (state.table.add(&self.roads, o), state.table.add(&self.roads, d));
        if o == d {
            return Err(invalid("trip.destination", "is the same place as the origin"));
        }
        let direct = state.table.time(o, d);
        let t = (trip.time.unix() - state.day.midnight_unix()) as f64;
        let wish = match trip.time {
            TripTime::DepartAfter(_) => Wish::DepartAfter(t),
            TripTime::ArriveBy(_) => Wish::ArriveBy(t),
        };
        let load = Capacity::new(trip.seats, trip.wheelchair_places);
        self.policy.request(id, o, d, direct, wish, load).map_err(|e| invalid("trip", e))
    }

    /// Checks a new trip and turns it into a request on its day.
    async fn prepare(&mut self, trip: &Trip) -> Result<(ServiceDay, Request), Status> {
        let now = now_unix();
        let field = match trip.time {
            TripTime::DepartAfter(_) => "trip.depart_after",
            TripTime::ArriveBy(_) => "trip.arrive_by",
        };
        if trip.time.unix() < now - 60 {
            return Err(invalid(field, "is in the past"));
        }
        if trip.time.unix() > now + 400 * 86_400 {
            return Err(invalid(field, "is more than 400 days ahead"));
        }
        self.store.get_rider(trip.rider_id).await.map_err(|_| {
            Status::not_found(format!(
                "trip.rider_id: there is no rider {}; register them first",
                trip.rider_id
            ))
        })?;
        let (origin, destination) = self.resolve_places(trip).await?;
        if let Some(area) = &self.area {
            for (name, p) in [("origin", origin), ("destination", destination)] {
                if !area.contains(p) {
                    return Err(Status::failed_precondition(format!(
                        "trip.{name} {p} is outside the service area; the service runs only inside the area shown by FleetService.GetServiceArea"
                    )));
                }
            }
        }
        let day = ServiceDay::of_unix(trip.time.unix());
        let shifts = self.store.shifts_on(day).await.map_err(store_status)?;
        if shifts.is_empty() {
            return Err(Status::failed_precondition(format!(
                "no vehicle is on shift on {day}; the service does not run that day"
            )));
        }
        let (open, close) = (
            shifts.iter().map(|s| s.start_s).min().unwrap_or(0),
            shifts.iter().map(|s| s.end_s).max().unwrap_or(0),
        );
        let t = (trip.time.unix() - day.midnight_unix()) as u32;
        if t < open || t > close {
            return Err(Status::failed_precondition(format!(
                "{field} is outside service hours on {day} ({}–{})",
                format_time_of_day(open),
                format_time_of_day(close)
            )));
        }
        let state = self.day_state(day).await?;
        let rid = state.new_request_id();
        let mut state = self.days.remove(&day).ok_or_else(|| Status::internal("day state vanished"))?;
        let req = self.request_for(&mut state, rid, trip, origin, destination);
        self.days.insert(day, state);
        Ok((day, req?))
    }

    /// Drops expired offers, and the oldest ones when many callers quote
    /// without booking, so memory stays bounded. Amortised O(1) per quote.
    fn forget_old_offers(&mut self, now: i64) {
        while let Some((expires, _)) = self.offer_queue.front() {
            if *expires > now && self.offers.len() <= MAX_PENDING_OFFERS {
                break;
            }
            if let Some((_, id)) = self.offer_queue.pop_front() {
                self.offers.remove(&id);
            }
        }
    }

    fn promise_for(&self, request: &Request, offer: &Offer) -> Result<TimeWindow, Status> {
        self.policy.promise(request, offer).map_err(internal)
    }

    async fn quote(&mut self, trip: Trip) -> Result<Vec<QuotedOffer>, Status> {
        let (day, request) = self.prepare(&trip).await?;
        let state = self.days.get(&day).ok_or_else(|| Status::internal("day state vanished"))?;
        let built = state.built;
        let offers =
            match noriai_dispatch::insert(&state.plan, &request, &state.table, &OfferOptions::default()) {
                Ok(Ok(offers)) => offers,
                Ok(Err(no)) => return Err(no_offer_status(day, &no)),
                Err(e) => return Err(online_status(e)),
            };
        let now = now_unix();
        self.forget_old_offers(now);
        let midnight = day.midnight_unix();
        let mut quoted: Vec<QuotedOffer> = Vec::new();
        for offer in offers {
            let promise = self.promise_for(&request, &offer)?;
            // Identical vehicles give identical offers; a rider needs distinct times.
            let window =
                (midnight + promise.earliest().round() as i64, midnight + promise.latest().round() as i64);
            if quoted.iter().any(|q| q.pickup_window == window) {
                continue;
            }
            self.offer_seq += 1;
            let id = format!("{:x}-{:x}", self.offer_salt & 0xffff_ffff, self.offer_seq);
            quoted.push(QuotedOffer {
                id: id.clone(),
                pickup_window: window,
                expected_arrival: midnight + offer.expected_arrival.round() as i64,
                ride_minutes: (offer.expected_arrival - offer.pickup_time - request.pickup_service) / 60.0,
            });
            let pending = PendingOffer {
                day,
                built,
                trip: trip.clone(),
                request: request.clone(),
                offer,
                promise,
                expires: now + self.offer_ttl_s,
            };
            self.offer_queue.push_back((pending.expires, id.clone()));
            self.offers.insert(id, pending);
        }
        Ok(quoted)
    }

    async fn book(
        &mut self,
        key: String,
        what: BookWhat,
        recurrence: Option<i64>,
    ) -> Result<Booking, Status> {
        if key.trim().is_empty() || key.len() > 200 {
            return Err(invalid("idempotency_key", "is required (up to 200 characters, e.g. a UUID)"));
        }
        if let Some(existing) = self.store.booking_by_key(&key).await.map_err(store_status)? {
            let same = match &what {
                BookWhat::Trip(t) => *t == existing.trip,
                BookWhat::Offer(id) => self.offers.get(id).is_none_or(|o| o.trip == existing.trip),
            };
            return if same {
                Ok(existing)
            } else {
                Err(Status::already_exists(format!(
                    "idempotency_key `{key}` was already used for booking {} with a different trip; use a new key for a new booking",
                    existing.id
                )))
            };
        }
        let pending = match what {
            BookWhat::Offer(id) => {
                let p = self.offers.remove(&id).ok_or_else(|| {
                    Status::not_found(format!("offer_id `{id}` is unknown or expired; ask for a new quote"))
                })?;
                if p.expires < now_unix() {
                    return Err(Status::failed_precondition(format!(
                        "offer `{id}` has expired; ask for a new quote"
                    )));
                }
                p
            }
            BookWhat::Trip(trip) => {
                let (day, request) = self.prepare(&trip).await?;
                let state = self.days.get(&day).ok_or_else(|| Status::internal("day state vanished"))?;
                let offer = match noriai_dispatch::insert(
                    &state.plan,
                    &request,
                    &state.table,
                    &OfferOptions::default(),
                ) {
                    Ok(Ok(offers)) => {
                        offers.into_iter().next().ok_or_else(|| Status::internal("empty offer list"))?
                    }
                    Ok(Err(no)) => return Err(no_offer_status(day, &no)),
                    Err(e) => return Err(online_status(e)),
                };
                let promise = self.promise_for(&request, &offer)?;
                PendingOffer { day, built: state.built, trip, request, offer, promise, expires: i64::MAX }
            }
        };
        let day = pending.day;
        let state = self.day_state(day).await?;
        if state.built != pending.built {
            return Err(Status::aborted(
                "the fleet or its shifts changed since the quote; ask for a new quote",
            ));
        }
        let mut plan = state.plan.clone();
        let mut request = pending.request.clone();
        if plan.requests().iter().any(|r| r.id == request.id) {
            request.id = state.new_request_id();
        }
        let mut offer = pending.offer.clone();
        if plan.commit(&request, &offer, Some(pending.promise), &state.table).is_err() {
            // The plan changed since the quote: look for another way to keep the same promise.
            let mut narrowed = request.clone();
            narrowed.pickup_window = pending.promise;
            let again = noriai_dispatch::insert(
                &state.plan,
                &narrowed,
                &state.table,
                &OfferOptions { max_offers: 1, alternative_step: 0.0, ..OfferOptions::default() },
            );
            let Ok(Ok(mut offers)) = again else {
                return Err(Status::aborted(
                    "the offered pickup time is no longer available; ask for a new quote",
                ));
            };
            offer = offers.remove(0);
            plan.commit(&request, &offer, Some(pending.promise), &state.table).map_err(online_status)?;
        }
        let v = state.vehicle_index(offer.vehicle);
        let stored_plan = state.vehicle_plan(&plan, v, Some(request.id));
        let midnight = day.midnight_unix();
        let arrival = stored_plan
            .stops
            .iter()
            .find(|s| s.booking_id == 0 && s.action == StopAction::Dropoff)
            .map_or(midnight + offer.expected_arrival.round() as i64, |s| s.eta);
        let booking = Booking {
            id: 0,
            trip: pending.trip.clone(),
            status: BookingStatus::Confirmed,
            day,
            pickup_window: (
                midnight + pending.promise.earliest().round() as i64,
                midnight + pending.promise.latest().round() as i64,
            ),
            expected_arrival: arrival,
            vehicle_id: state.fleet[v],
            recurrence_id: recurrence,
            idempotency_key: key,
        };
        let saved = self.store.commit_booking(&booking, &[stored_plan]).await.map_err(store_status)?;
        let state = self.days.get_mut(&day).ok_or_else(|| Status::internal("day state vanished"))?;
        state.plan = plan;
        state.version += 1;
        state.booking_of.insert(request.id, saved.id);
        tracing::info!(booking = saved.id, %day, vehicle = saved.vehicle_id, "booked");
        Ok(saved)
    }

    async fn cancel(&mut self, id: i64) -> Result<Booking, Status> {
        let booking = self.store.get_booking(id).await.map_err(store_status)?;
        if booking.status == BookingStatus::Cancelled {
            return Err(Status::failed_precondition(format!("booking {id} is already cancelled")));
        }
        if booking.pickup_window.1 < now_unix() {
            return Err(Status::failed_precondition(format!("booking {id} was for a time that has passed")));
        }
        let state = self.day_state(booking.day).await?;
        let rid = state.booking_of.iter().find(|(_, b)| **b == id).map(|(r, _)| *r);
        let mut plans = Vec::new();
        let mut plan = state.plan.clone();
        if let Some(rid) = rid {
            let v = plan.vehicle_of(rid).ok_or_else(|| Status::internal("booking not in any route"))?;
            plan.remove(rid, &state.table).map_err(online_status)?;
            state.booking_of.remove(&rid);
            plans.push(state.vehicle_plan(&plan, v, None));
        }
        let saved = self.store.cancel_booking(id, &plans).await.map_err(store_status)?;
        if let Some(state) = self.days.get_mut(&booking.day) {
            state.plan = plan;
            state.version += 1;
        }
        tracing::info!(booking = id, "cancelled");
        Ok(saved)
    }

    async fn set_shift(&mut self, shift: Shift) -> Result<Shift, Status> {
        self.store.get_vehicle(shift.vehicle_id).await.map_err(store_status)?;
        let mut shifts = self.store.shifts_on(shift.day).await.map_err(store_status)?;
        shifts.retain(|s| s.vehicle_id != shift.vehicle_id);
        shifts.push(shift);
        shifts.sort_by_key(|s| s.vehicle_id);
        // Bookings already made must still fit the new hours.
        let mut state = self.build_day(shift.day, &shifts).await?;
        self.store.set_shift(shift).await.map_err(store_status)?;
        self.generation += 1 << 32;
        (state.version, state.built) = (self.generation, self.generation);
        self.days.insert(shift.day, state);
        Ok(shift)
    }

    /// Re-plans a day as a batch on a blocking thread, so quotes and bookings
    /// go on meanwhile; the result comes back as [`Command::ApplyReplan`].
    async fn start_replan(
        &mut self,
        day: ServiceDay,
        seconds: f64,
        reply: Reply<ReplanSummary>,
    ) -> Result<(), Status> {
        let state = match self.day_state(day).await {
            Ok(s) => s,
            Err(e) => {
                let _ = reply.send(Err(e.clone()));
                return Err(e);
            }
        };
        let before = state.plan.cost();
        let (requests, vehicles) = (state.plan.requests().to_vec(), state.plan.vehicles().to_vec());
        let (table, version) = (state.table.clone(), state.version);
        let inbox = self.inbox.upgrade().ok_or_else(|| Status::unavailable("shutting down"))?;
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
                    time_limit: std::time::Duration::from_secs_f64(seconds.clamp(0.0, 60.0)),
                    ..Default::default()
                };
                noriai_dispatch::solve(&problem, &params)
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
    ) -> Result<ReplanSummary, Status> {
        let state = self.day_state(day).await?;
        let Some(stops) = stops.filter(|_| state.version == version) else {
            summary.km_after = summary.km_before;
            return Ok(summary);
        };
        let (requests, vehicles) = (state.plan.requests().to_vec(), state.plan.vehicles().to_vec());
        let plan = LivePlan::restore(vehicles, requests, &stops, &state.table).map_err(internal)?;
        let plans: Vec<VehicleDayPlan> =
            (0..state.fleet.len()).map(|v| state.vehicle_plan(&plan, v, None)).collect();
        self.store.replace_plans(&plans).await.map_err(store_status)?;
        summary.km_after = plan.cost() / 1000.0;
        summary.applied = true;
        if let Some(state) = self.days.get_mut(&day) {
            state.plan = plan;
            state.version += 1;
        }
        tracing::info!(%day, km_before = summary.km_before, km_after = summary.km_after, "re-planned");
        Ok(summary)
    }
}

fn online_status(e: OnlineError) -> Status {
    match e {
        OnlineError::Request(_, m) => invalid("trip", m),
        OnlineError::StaleOffer(_) => Status::aborted("the plan changed; ask for a new quote"),
        other => internal(other),
    }
}

fn no_offer_status(day: ServiceDay, no: &NoOffer) -> Status {
    let mut msg = format!("no vehicle can take this trip: {}", no.reason);
    if !no.alternatives.is_empty() {
        let times: Vec<String> = no.alternatives.iter().map(|a| hhmm(day, a.offer.pickup_time)).collect();
        msg.push_str(&format!("; nearest pickup times that would work: {}", times.join(", ")));
    }
    match no.reason {
        Reason::ExceedsCapacity | Reason::ImpossibleTrip => Status::failed_precondition(msg),
        Reason::OutsideAnyShift => Status::failed_precondition(msg),
        Reason::NoVehicleInTime => Status::resource_exhausted(msg),
    }
}
