//! DriverService: the manifest a driver's tablet follows, as a live stream,
//! and the events and positions it reports. Events and positions are stored
//! before they are acknowledged; whether an event may happen is judged by
//! the pure rules in `noriai_dispatch::live`.

use crate::auth::Caller;
use crate::convert::{self, invalid};
use crate::errors::store_status;
use crate::fleet::rider_on_board;
use crate::follow::{LiveView, follow};
use crate::now_unix;
use crate::pb;
use crate::pb::driver_service_server::DriverService;
use crate::towns::{Town, Towns};
use noriai_dispatch::live::{self, LiveRules, Refusal};
use noriai_model::access::AuditAction;
use noriai_model::live::{DelayReason, EventKind, Position, RideStatus, VehicleEvent};
use noriai_model::service::{BookingStatus, ServiceDay, StopAction, local_hhmm, local_window};
use noriai_roads::RoadNetwork;
use std::collections::{BTreeSet, HashMap};
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

/// Event ids are made by tablets; longer ones are refused.
const MAX_EVENT_ID: usize = 100;
/// An event may carry a time this far ahead of the server's clock (tablet clocks drift).
const CLOCK_SLACK_S: i64 = 120;
/// Manifest streams look again at most this often for position-only changes.
const POSITION_TOUCH_S: i64 = 30;

pub struct Drivers {
    pub towns: Arc<Towns>,
    pub roads: Arc<RoadNetwork>,
    pub rules: LiveRules,
}

type ManifestStream = Pin<Box<dyn Stream<Item = Result<pb::Manifest, Status>> + Send>>;

pub fn ride_status_to_pb(s: RideStatus) -> pb::RideStatus {
    match s {
        RideStatus::Scheduled => pb::RideStatus::Scheduled,
        RideStatus::Arrived => pb::RideStatus::Arrived,
        RideStatus::OnBoard => pb::RideStatus::OnBoard,
        RideStatus::Completed => pb::RideStatus::Completed,
        RideStatus::NoShow => pb::RideStatus::NoShow,
        RideStatus::Cancelled => pb::RideStatus::Cancelled,
    }
}

/// The Unix-seconds span of a service day (which may run past midnight).
pub fn day_span(day: ServiceDay) -> (i64, i64) {
    (day.midnight_unix(), day.next().next().midnight_unix())
}

/// A vehicle's events of a day, grouped by the booking they are about.
fn events_by_booking(events: &[VehicleEvent]) -> HashMap<i64, Vec<&EventKind>> {
    let mut by_booking: HashMap<i64, Vec<&EventKind>> = HashMap::new();
    for e in events {
        if let Some(b) = e.kind.booking() {
            by_booking.entry(b).or_default().push(&e.kind);
        }
    }
    by_booking
}

/// A GeoJSON LineString of the fastest road from `from` to `to`, or empty.
fn leg_geojson(roads: &RoadNetwork, from: noriai_model::LatLon, to: noriai_model::LatLon) -> String {
    match roads.route(from, to) {
        Ok(route) => {
            let coords: Vec<[f64; 2]> = route.geometry.iter().map(|p| [p.lon, p.lat]).collect();
            serde_json::json!({ "type": "LineString", "coordinates": coords }).to_string()
        }
        Err(_) => String::new(),
    }
}

/// A vehicle's manifest of a day, as a driver follows it.
struct ManifestView {
    roads: Arc<RoadNetwork>,
    town: Arc<Town>,
    caller: Caller,
    vehicle_id: i64,
    day: ServiceDay,
    /// Bookings whose reading is in the audit trail already.
    audited: BTreeSet<i64>,
}

impl LiveView for ManifestView {
    type Item = pb::Manifest;

    async fn render(&mut self) -> Result<pb::Manifest, Status> {
        manifest(&self.roads, &self.town, self.vehicle_id, self.day).await
    }

    async fn shown(&mut self, m: &pb::Manifest) -> Result<(), Status> {
        let new: Vec<i64> =
            m.stops.iter().map(|s| s.booking_id).filter(|b| !self.audited.contains(b)).collect();
        self.caller.audit(&self.town.store, AuditAction::Read, &[], &new).await?;
        self.audited.extend(new);
        Ok(())
    }

    fn stamp(m: pb::Manifest, version: u64) -> pb::Manifest {
        pb::Manifest { version, ..m }
    }
}

/// The manifest of `vehicle_id` on `day` as stored now (version 0).
async fn manifest(
    roads: &RoadNetwork,
    town: &Town,
    vehicle_id: i64,
    day: ServiceDay,
) -> Result<pb::Manifest, Status> {
    let store = &town.store;
    let vehicle = store.get_vehicle(vehicle_id).await.map_err(store_status)?;
    let today = ServiceDay::of_unix(now_unix());
    let plan = store
        .plans_from(day)
        .await
        .map_err(store_status)?
        .into_iter()
        .find(|p| p.vehicle_id == vehicle_id && p.day == day);
    let (from, to) = day_span(day);
    let events = store.vehicle_events(vehicle_id, from, to).await.map_err(store_status)?;
    let by_booking = events_by_booking(&events);
    let mut stops = Vec::new();
    let mut next_place = None;
    for s in plan.iter().flat_map(|p| &p.stops) {
        let b = store.get_booking(s.booking_id).await.map_err(store_status)?;
        let rider = rider_on_board(store, b.trip.rider_id).await?;
        let place = if s.action == StopAction::Pickup { &b.trip.origin } else { &b.trip.destination };
        let location = store.place_location(&place.kind).await.map_err(store_status)?;
        let status = live::ride_status(
            b.status == BookingStatus::Cancelled,
            by_booking.get(&b.id).into_iter().flatten().copied(),
        );
        let done = match s.action {
            StopAction::Pickup => {
                matches!(status, RideStatus::OnBoard | RideStatus::Completed | RideStatus::NoShow)
            }
            StopAction::Dropoff => matches!(status, RideStatus::Completed | RideStatus::NoShow),
        };
        if !done && next_place.is_none() {
            next_place = Some(location);
        }
        stops.push(pb::ManifestStop {
            booking_id: b.id,
            action: match s.action {
                StopAction::Pickup => pb::StopAction::Pickup,
                StopAction::Dropoff => pb::StopAction::Dropoff,
            } as i32,
            planned: convert::timestamp(s.eta),
            planned_local: local_hhmm(s.eta),
            promised_window_local: local_window(b.pickup_window.0, b.pickup_window.1),
            location: Some(convert::latlon_to_pb(location)),
            place_label: place.label.clone(),
            rider_name: rider.name.clone(),
            rider_name_kana: rider.name_kana.clone(),
            seats: b.trip.seats,
            wheelchair_places: b.trip.wheelchair_places,
            walking_aid: rider.needs.walking_aid,
            driver_notes: rider.needs.driver_notes.clone(),
            rider_phone: if day == today { rider.phone.clone() } else { String::new() },
            status: ride_status_to_pb(status) as i32,
            done,
            late: !done && s.action == StopAction::Pickup && s.eta > b.pickup_window.1,
        });
    }
    let last = store.last_position(vehicle_id).await.map_err(store_status)?.filter(|p| p.at >= from);
    let start = last.map_or(vehicle.depot, |p| p.location);
    Ok(pb::Manifest {
        version: 0,
        vehicle_id,
        vehicle_name: vehicle.name,
        day: day.to_string(),
        stops,
        next_leg_geojson: next_place.map(|to| leg_geojson(roads, start, to)).unwrap_or_default(),
        last_position: last.map(|p| convert::latlon_to_pb(p.location)),
        last_position_at: last.and_then(|p| convert::timestamp(p.at)),
    })
}

impl Drivers {
    /// The vehicle a driver call is about: a driver reaches its own only,
    /// and the vehicle must be the service's.
    async fn vehicle_for(&self, caller: &Caller, town: &Town, vehicle_id: i64) -> Result<(), Status> {
        if vehicle_id <= 0 {
            return Err(invalid("vehicle_id", "is required"));
        }
        caller.may_see_vehicle(vehicle_id)?;
        town.store.get_vehicle(vehicle_id).await.map_err(store_status)?;
        Ok(())
    }
}

/// Bookings as operators and riders see them, with how far each ride has
/// got on the road.
pub async fn with_ride_status(
    store: &noriai_store::Store,
    bookings: &[noriai_model::service::Booking],
) -> Result<Vec<pb::Booking>, Status> {
    let statuses = ride_statuses(store, bookings).await?;
    let ids: Vec<i64> = bookings.iter().map(|b| b.id).collect();
    let etas = store.pickup_etas(&ids).await.map_err(store_status)?;
    Ok(bookings
        .iter()
        .zip(statuses)
        .map(|(b, status)| {
            let eta = etas
                .get(&b.id)
                .copied()
                .filter(|_| status == RideStatus::Scheduled || status == RideStatus::Arrived);
            pb::Booking {
                ride_status: ride_status_to_pb(status) as i32,
                pickup_eta: eta.and_then(convert::timestamp),
                pickup_eta_local: eta.map(local_hhmm).unwrap_or_default(),
                late: eta.is_some_and(|t| t > b.pickup_window.1),
                ..convert::booking_to_pb(b)
            }
        })
        .collect())
}

/// How far each of `bookings` has got on the road, in the same order.
pub async fn ride_statuses(
    store: &noriai_store::Store,
    bookings: &[noriai_model::service::Booking],
) -> Result<Vec<RideStatus>, Status> {
    let ids: Vec<i64> = bookings.iter().map(|b| b.id).collect();
    let events = store.events_of_bookings(&ids).await.map_err(store_status)?;
    Ok(bookings
        .iter()
        .map(|b| {
            live::ride_status(b.status == BookingStatus::Cancelled, events.get(&b.id).into_iter().flatten())
        })
        .collect())
}

/// When a reported thing happened: the tablet's time if it is within the
/// last week and not ahead of the server's clock by more than the slack,
/// else a refusal; no time means now.
fn reported_at(at: Option<&prost_types::Timestamp>, now: i64) -> Result<i64, Status> {
    match at {
        None => Ok(now),
        Some(t) if t.seconds > now + CLOCK_SLACK_S => {
            Err(invalid("at", "is in the future; check the tablet's clock"))
        }
        Some(t) if t.seconds < now - 7 * 86_400 => Err(invalid("at", "is more than a week ago")),
        Some(t) => Ok(t.seconds),
    }
}

/// The domain event of a request, checked field by field.
fn event_from(r: &pb::ReportEventRequest, now: i64) -> Result<VehicleEvent, Status> {
    let event_id = convert::required_text("event_id", &r.event_id)?;
    if event_id.chars().count() > MAX_EVENT_ID {
        return Err(invalid("event_id", format!("at most {MAX_EVENT_ID} characters")));
    }
    let at = reported_at(r.at.as_ref(), now)?;
    let booking = || match r.booking_id {
        id if id > 0 => Ok(id),
        _ => Err(invalid("booking_id", "is required for this kind of event")),
    };
    // 0 (unset) means the driver gave no reading.
    let odometer = || match r.odometer_km {
        km if km.is_finite() && km > 0.0 && km < 10_000_000.0 => Ok(Some(km)),
        km if km.to_bits() == 0 => Ok(None),
        _ => Err(invalid("odometer_km", "must be a distance in km")),
    };
    let kind = match pb::EventKind::try_from(r.kind) {
        Ok(pb::EventKind::ShiftStarted) => EventKind::ShiftStarted { odometer_km: odometer()? },
        Ok(pb::EventKind::ShiftEnded) => EventKind::ShiftEnded { odometer_km: odometer()? },
        Ok(pb::EventKind::VehicleArrived) => EventKind::Arrived { booking_id: booking()? },
        Ok(pb::EventKind::Boarded) => EventKind::Boarded { booking_id: booking()? },
        Ok(pb::EventKind::UserNoShow) => EventKind::NoShow { booking_id: booking()? },
        Ok(pb::EventKind::Alighted) => EventKind::Alighted { booking_id: booking()? },
        Ok(pb::EventKind::Departed) => EventKind::Departed,
        Ok(pb::EventKind::Delayed) => {
            if r.delay_minutes == 0 || r.delay_minutes > 24 * 60 {
                return Err(invalid("delay_minutes", "give the minutes late, 1 to 1440"));
            }
            let reason = match pb::DelayReason::try_from(r.delay_reason) {
                Ok(pb::DelayReason::Snow) => DelayReason::Snow,
                Ok(pb::DelayReason::Traffic) => DelayReason::Traffic,
                Ok(pb::DelayReason::RiderAssistance) => DelayReason::RiderAssistance,
                Ok(pb::DelayReason::Other) | Ok(pb::DelayReason::Unspecified) | Err(_) => DelayReason::Other,
            };
            EventKind::Delayed { minutes: r.delay_minutes, reason }
        }
        Ok(pb::EventKind::Breakdown) => EventKind::Breakdown { can_continue: r.can_continue },
        Ok(pb::EventKind::BreakStarted) => EventKind::BreakStarted,
        Ok(pb::EventKind::BreakEnded) => EventKind::BreakEnded,
        Ok(pb::EventKind::Unspecified) | Err(_) => {
            return Err(invalid("kind", "give the kind of event, e.g. EVENT_KIND_BOARDED"));
        }
    };
    let position = match &r.position {
        None => None,
        Some(p) => Some(convert::latlon("position", Some(p))?),
    };
    Ok(VehicleEvent {
        event_id,
        vehicle_id: r.vehicle_id,
        at,
        kind,
        position,
        note: convert::optional_text("note", &r.note)?,
    })
}

#[tonic::async_trait]
impl DriverService for Drivers {
    type StreamManifestStream = ManifestStream;

    async fn stream_manifest(
        &self,
        req: Request<pb::StreamManifestRequest>,
    ) -> Result<Response<Self::StreamManifestStream>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let r = req.into_inner();
        self.vehicle_for(&caller, &town, r.vehicle_id).await?;
        let today = ServiceDay::of_unix(now_unix());
        let day = match r.day.as_str() {
            "" => today,
            d => convert::day("day", d)?,
        };
        if caller.scope.vehicle().is_some() && day != today && day != today.next() {
            return Err(Status::permission_denied(format!(
                "a driver token sees the manifests of today ({today}) and tomorrow only, not {day}"
            )));
        }
        let mut view = ManifestView {
            roads: self.roads.clone(),
            town,
            caller,
            vehicle_id: r.vehicle_id,
            day,
            audited: BTreeSet::new(),
        };
        // The first manifest is made before answering, so a refusal is the answer.
        // Watch before the first render, so a change while it renders is not missed.
        let changes = view.town.dispatcher.changes();
        let first = view.render().await?;
        Ok(Response::new(Box::pin(follow(view, first, changes))))
    }

    async fn report_event(
        &self,
        req: Request<pb::ReportEventRequest>,
    ) -> Result<Response<pb::ReportEventResponse>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let now = now_unix();
        let event = event_from(req.get_ref(), now)?;
        self.vehicle_for(&caller, &town, event.vehicle_id).await?;
        let answer = |duplicate| {
            Response::new(pb::ReportEventResponse {
                event_id: event.event_id.clone(),
                duplicate,
                stored_at: convert::timestamp(now),
            })
        };
        if let Some(booking_id) = event.kind.booking() {
            let b = town.store.get_booking(booking_id).await.map_err(store_status)?;
            if b.vehicle_id != event.vehicle_id {
                return Err(Status::failed_precondition(format!(
                    "booking {booking_id} rides with vehicle {}, not {}",
                    b.vehicle_id, event.vehicle_id
                )));
            }
            let (from, to) = day_span(b.day);
            let events = town.store.vehicle_events(event.vehicle_id, from, to).await.map_err(store_status)?;
            // A repeat of an event already stored is answered as the first was.
            if let Some(first) = events.iter().find(|e| e.event_id == event.event_id) {
                if first.kind == event.kind {
                    return Ok(answer(true));
                }
                return Err(Status::already_exists(format!(
                    "event id `{}` was used before for a `{}` event; give each event its own id",
                    noriai_model::excerpt(&event.event_id),
                    first.kind.name()
                )));
            }
            let history = events_by_booking(&events);
            let status = live::ride_status(
                b.status == BookingStatus::Cancelled,
                history.get(&booking_id).into_iter().flatten().copied(),
            );
            match live::check(status, &event.kind, b.pickup_window.0, event.at, self.rules) {
                Ok(_) => {}
                Err(Refusal::NotYet { allowed_from }) => {
                    return Err(Status::failed_precondition(format!(
                        "a no-show can be reported from {} ({} minutes after the promised window opens); \
                         wait, or call the rider",
                        local_hhmm(allowed_from),
                        self.rules.no_show_wait_s / 60
                    )));
                }
                Err(Refusal::Out { status }) => {
                    return Err(Status::failed_precondition(format!(
                        "booking {booking_id} is {}; a `{}` event does not follow",
                        format!("{status:?}").to_lowercase(),
                        event.kind.name()
                    )));
                }
            }
            caller.audit(&town.store, AuditAction::Change, &[], &[booking_id]).await?;
        }
        let duplicate = town.store.record_event(&event, now).await.map_err(store_status)?;
        // A rider who did not come frees their seats: the booking leaves the
        // plans the one way bookings leave them, and stays a no-show.
        if let (EventKind::NoShow { booking_id }, false) = (&event.kind, duplicate) {
            let entry = caller.entry(AuditAction::Change);
            if let Err(e) = town.dispatcher.no_show(*booking_id, Some(entry)).await {
                tracing::warn!(booking = booking_id, "a no-show's booking stayed in the plans: {e}");
            }
        }
        if !duplicate {
            // The plan follows the road: from where the vehicle now is.
            let day = ServiceDay::of_unix(event.at);
            if let Err(e) = town.dispatcher.road(day, event.vehicle_id).await {
                tracing::warn!(vehicle = event.vehicle_id, "the plan did not follow the road: {e}");
            }
        }
        town.dispatcher.touch();
        tracing::info!(vehicle = event.vehicle_id, kind = event.kind.name(), duplicate, "driver event");
        Ok(answer(duplicate))
    }

    async fn report_positions(
        &self,
        req: Request<Streaming<pb::PositionReport>>,
    ) -> Result<Response<pb::ReportPositionsResponse>, Status> {
        let caller = Caller::of(&req)?;
        let stored = self.take_positions(&caller, req.into_inner()).await?;
        Ok(Response::new(pb::ReportPositionsResponse { stored }))
    }
}

impl Drivers {
    /// Stores a vehicle's reported positions, for gRPC's client stream and
    /// the tablet's batches alike; returns how many were stored.
    pub(crate) async fn take_positions(
        &self,
        caller: &Caller,
        mut reports: impl tokio_stream::Stream<Item = Result<pb::PositionReport, Status>> + Unpin,
    ) -> Result<u64, Status> {
        use tokio_stream::StreamExt;
        let town = self.towns.of(caller).await?;
        let mut stored = 0u64;
        let mut checked: BTreeSet<i64> = BTreeSet::new();
        let mut touched = 0i64;
        while let Some(report) = reports.next().await {
            let report = report?;
            let now = now_unix();
            if !checked.contains(&report.vehicle_id) {
                self.vehicle_for(caller, &town, report.vehicle_id).await?;
                checked.insert(report.vehicle_id);
            }
            let at = reported_at(report.at.as_ref(), now)?;
            let known = |v: f64, max: f64| (v.is_finite() && (0.0..=max).contains(&v)).then_some(v);
            let position = Position {
                vehicle_id: report.vehicle_id,
                at,
                location: convert::latlon("position", report.position.as_ref())?,
                heading_deg: known(report.heading_deg, 360.0),
                speed_kmh: known(report.speed_kmh, 300.0),
            };
            stored += town.store.record_positions(&[position]).await.map_err(store_status)? as u64;
            if now - touched >= POSITION_TOUCH_S {
                town.dispatcher.touch();
                touched = now;
            }
        }
        Ok(stored)
    }
}
