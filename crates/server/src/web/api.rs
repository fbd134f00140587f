//! The console's JSON calls. Each one turns its JSON into the gRPC request,
//! calls the gRPC handler through [`super::call`] (same rules, audit and
//! errors) and answers in the console's shapes ([`super::views`]).

use super::places::{UsualPlace, usual_places};
use super::session::Session;
use super::views::{
    AlertView, BoardView, BookingView, CallBack, ManifestView, OfferView, PlaceView, Point, RiderView,
    VehicleView,
};
use super::{ApiError, Web, call, day_or_today};
use crate::pb;
use crate::pb::booking_service_server::BookingService;
use crate::pb::driver_service_server::DriverService;
use crate::pb::fleet_service_server::FleetService;
use crate::pb::operations_service_server::OperationsService;
use crate::pb::rider_service_server::RiderService;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use noriai_model::service::{ServiceDay, parse_time_of_day};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio_stream::{Stream, StreamExt};

type Body<T> = Result<Json<T>, JsonRejection>;

#[derive(Debug, serde::Deserialize)]
pub struct RiderQuery {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    name: String,
}

/// `GET /api/v1/riders?phone=…&name=…`
pub async fn search_riders(
    State(web): State<Arc<Web>>,
    session: Session,
    q: Result<Query<RiderQuery>, QueryRejection>,
) -> Result<Json<Vec<RiderView>>, ApiError> {
    let Query(q) = q?;
    let req = pb::SearchRidersRequest { phone: q.phone, name: q.name, limit: 20 };
    let found =
        call(&session, &web, "noriai.v1.RiderService/SearchRiders", req, |r| web.riders.search_riders(r))
            .await?;
    Ok(Json(found.riders.iter().map(RiderView::from).collect()))
}

#[derive(Debug, serde::Serialize)]
pub struct RiderCard {
    rider: RiderView,
    usual_places: Vec<UsualPlace>,
    /// Confirmed bookings from today on, soonest first.
    upcoming: Vec<BookingView>,
}

/// `GET /api/v1/riders/{id}`: the rider, their usual places and upcoming rides.
pub async fn rider_card(
    State(web): State<Arc<Web>>,
    session: Session,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<RiderCard>, ApiError> {
    let Path(id) = id?;
    let rider = call(&session, &web, "noriai.v1.RiderService/GetRider", pb::GetRiderRequest { id }, |r| {
        web.riders.get_rider(r)
    })
    .await?;
    let req = pb::ListBookingsRequest { rider_id: id, day: String::new(), include_cancelled: false };
    let bookings =
        call(&session, &web, "noriai.v1.BookingService/ListBookings", req, |r| web.bookings.list_bookings(r))
            .await?
            .bookings;
    let ends: Vec<PlaceView> = bookings
        .iter()
        .rev()
        .filter_map(|b| b.trip.as_ref())
        .flat_map(|t| [PlaceView::of(t.origin.as_ref()), PlaceView::of(t.destination.as_ref())])
        .collect();
    let home = rider.home.as_ref().map(|h| (Point { lat: h.lat, lon: h.lon }, rider.home_address.as_str()));
    let today = ServiceDay::of_unix(crate::now_unix()).to_string();
    let upcoming = bookings.iter().filter(|b| b.day >= today).map(BookingView::from).collect();
    Ok(Json(RiderCard { usual_places: usual_places(home, &ends), upcoming, rider: RiderView::from(&rider) }))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRider {
    name: String,
    name_kana: String,
    phone: String,
    #[serde(default)]
    home_address: String,
    home: Option<Point>,
    #[serde(default)]
    wheelchair: bool,
    #[serde(default)]
    companion: bool,
    #[serde(default)]
    walking_aid: bool,
    #[serde(default)]
    driver_notes: String,
}

/// `POST /api/v1/riders`: registers a rider.
pub async fn register_rider(
    State(web): State<Arc<Web>>,
    session: Session,
    body: Body<NewRider>,
) -> Result<Json<RiderView>, ApiError> {
    let Json(n) = body?;
    let req = pb::RegisterRiderRequest {
        name: n.name,
        name_kana: n.name_kana,
        phone: n.phone,
        home_address: n.home_address,
        home: n.home.map(Point::to_pb),
        needs: Some(pb::Needs {
            wheelchair: n.wheelchair,
            companion: n.companion,
            walking_aid: n.walking_aid,
            driver_notes: n.driver_notes,
        }),
    };
    let rider =
        call(&session, &web, "noriai.v1.RiderService/RegisterRider", req, |r| web.riders.register_rider(r))
            .await?;
    Ok(Json(RiderView::from(&rider)))
}

#[derive(Debug, serde::Serialize)]
pub struct StopView {
    id: i64,
    name: String,
    name_kana: String,
    location: Option<Point>,
}

/// `GET /api/v1/stops`: the service's meeting points.
pub async fn stops(State(web): State<Arc<Web>>, session: Session) -> Result<Json<Vec<StopView>>, ApiError> {
    let list = call(&session, &web, "noriai.v1.FleetService/ListStops", pb::ListStopsRequest {}, |r| {
        web.fleet.list_stops(r)
    })
    .await?;
    Ok(Json(
        list.stops
            .iter()
            .map(|s| StopView {
                id: s.id,
                name: s.name.clone(),
                name_kana: s.name_kana.clone(),
                location: Point::of(s.location.as_ref()),
            })
            .collect(),
    ))
}

/// A ride asked for on the booking screen: local day and time as the
/// caller says them.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    rider_id: i64,
    origin: PlaceView,
    destination: PlaceView,
    /// "YYYY-MM-DD" (Asia/Tokyo); empty: today.
    #[serde(default)]
    day: String,
    /// "HH:MM".
    time: String,
    /// The time is when they must arrive, not when they are ready.
    #[serde(default)]
    arrive_by: bool,
    #[serde(default)]
    seats: Option<u32>,
    #[serde(default)]
    wheelchair_places: Option<u32>,
}

fn trip_of(ask: &Ask) -> Result<pb::Trip, ApiError> {
    let day = day_or_today("day", Some(&ask.day))?;
    let day = crate::convert::day("day", &day)?;
    let at = parse_time_of_day(ask.time.trim()).map_err(|e| ApiError::invalid("time", e))?;
    let t = prost_types::Timestamp { seconds: day.at(at), nanos: 0 };
    Ok(pb::Trip {
        rider_id: ask.rider_id,
        origin: Some(ask.origin.to_pb()),
        destination: Some(ask.destination.to_pb()),
        time: Some(if ask.arrive_by { pb::trip::Time::ArriveBy(t) } else { pb::trip::Time::DepartAfter(t) }),
        seats: ask.seats,
        wheelchair_places: ask.wheelchair_places,
    })
}

/// `POST /api/v1/quotes`: the offers for a ride, soonest first.
pub async fn quote(
    State(web): State<Arc<Web>>,
    session: Session,
    body: Body<Ask>,
) -> Result<Json<Vec<OfferView>>, ApiError> {
    let Json(ask) = body?;
    let req = pb::QuoteRequest { trip: Some(trip_of(&ask)?) };
    let answer =
        call(&session, &web, "noriai.v1.BookingService/Quote", req, |r| web.bookings.quote(r)).await?;
    Ok(Json(answer.offers.iter().map(OfferView::from).collect()))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookOffer {
    offer_id: String,
    /// Made by the page once per booking form, so a double click or a
    /// resend books once.
    idempotency_key: String,
    /// The rider's booking this one replaces (a change): it is cancelled
    /// once the new one is booked, and may overlap it until then.
    #[serde(default)]
    replaces: Option<i64>,
}

/// `POST /api/v1/bookings`: books an offer (and, for a change, cancels the
/// booking it replaces; if that fails, the new one is cancelled again).
pub async fn book(
    State(web): State<Arc<Web>>,
    session: Session,
    body: Body<BookOffer>,
) -> Result<Json<BookingView>, ApiError> {
    let Json(b) = body?;
    let old = match b.replaces {
        None => None,
        Some(id) => Some(
            call(
                &session,
                &web,
                "noriai.v1.BookingService/GetBooking",
                pb::GetBookingRequest { booking_id: id },
                |r| web.bookings.get_booking(r),
            )
            .await?,
        ),
    };
    if old.as_ref().is_some_and(|o| o.status != pb::BookingStatus::Confirmed as i32) {
        return Err(ApiError::invalid("replaces", "that booking is cancelled already; book anew"));
    }
    let req = pb::BookRequest {
        idempotency_key: b.idempotency_key,
        what: Some(pb::book_request::What::OfferId(b.offer_id)),
        allow_overlap: old.is_some(),
    };
    let booking =
        call(&session, &web, "noriai.v1.BookingService/Book", req, |r| web.bookings.book(r)).await?;
    if let Some(old) = old {
        let rider = |x: &pb::Booking| x.trip.as_ref().map(|t| t.rider_id);
        let cancel_old = if rider(&old) == rider(&booking) {
            let reason = format!("changed to booking {}", booking.id);
            let req = pb::CancelRequest { booking_id: old.id, reason };
            call(&session, &web, "noriai.v1.BookingService/Cancel", req, |r| web.bookings.cancel(r))
                .await
                .map(drop)
        } else {
            Err(ApiError::invalid("replaces", "is another rider's booking"))
        };
        if let Err(e) = cancel_old {
            let req = pb::CancelRequest {
                booking_id: booking.id,
                reason: "the change could not be completed".into(),
            };
            let _ = call(&session, &web, "noriai.v1.BookingService/Cancel", req, |r| web.bookings.cancel(r))
                .await;
            return Err(e);
        }
    }
    Ok(Json(BookingView::from(&booking)))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelWhy {
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/bookings/{id}/cancel`: cancels with the reason given.
pub async fn cancel(
    State(web): State<Arc<Web>>,
    session: Session,
    id: Result<Path<i64>, PathRejection>,
    body: Body<CancelWhy>,
) -> Result<Json<BookingView>, ApiError> {
    let (Path(id), Json(why)) = (id?, body?);
    let req = pb::CancelRequest { booking_id: id, reason: why.reason };
    let booking =
        call(&session, &web, "noriai.v1.BookingService/Cancel", req, |r| web.bookings.cancel(r)).await?;
    Ok(Json(BookingView::from(&booking)))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recurring {
    rider_id: i64,
    origin: PlaceView,
    destination: PlaceView,
    /// "HH:MM", ready to leave.
    time: String,
    /// "monday" … "sunday".
    weekdays: Vec<String>,
    first_day: String,
    last_day: String,
    idempotency_key: String,
}

#[derive(Debug, serde::Serialize)]
pub struct RecurringAnswer {
    booked: Vec<BookingView>,
    missed: Vec<Missed>,
}

#[derive(Debug, serde::Serialize)]
pub struct Missed {
    day: String,
    reason: String,
}

fn weekday(name: &str) -> Option<pb::Weekday> {
    use pb::Weekday::*;
    let days = [Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday];
    days.into_iter().find(|d| d.as_str_name().eq_ignore_ascii_case(name))
}

/// `POST /api/v1/recurring`: the same ride on chosen weekdays.
pub async fn book_recurring(
    State(web): State<Arc<Web>>,
    session: Session,
    body: Body<Recurring>,
) -> Result<Json<RecurringAnswer>, ApiError> {
    let Json(r) = body?;
    let weekdays = r
        .weekdays
        .iter()
        .map(|w| weekday(w).map(|d| d as i32).ok_or_else(|| ApiError::invalid("weekdays", "monday … sunday")))
        .collect::<Result<Vec<_>, _>>()?;
    let req = pb::BookRecurringRequest {
        idempotency_key: r.idempotency_key,
        rider_id: r.rider_id,
        origin: Some(r.origin.to_pb()),
        destination: Some(r.destination.to_pb()),
        depart_after: r.time,
        weekdays,
        first_day: r.first_day,
        last_day: r.last_day,
        ..Default::default()
    };
    let answer = call(&session, &web, "noriai.v1.BookingService/BookRecurring", req, |r| {
        web.bookings.book_recurring(r)
    })
    .await?;
    Ok(Json(RecurringAnswer {
        booked: answer.booked.iter().map(BookingView::from).collect(),
        missed: answer.missed.into_iter().map(|m| Missed { day: m.day, reason: m.reason }).collect(),
    }))
}

#[derive(Debug, serde::Deserialize)]
pub struct DayQuery {
    #[serde(default)]
    day: String,
}

/// Riders' names and phones met by one live view, each read (and audited)
/// once through `GetRider`.
struct RiderNames<'a> {
    web: &'a Web,
    session: &'a Session,
    known: HashMap<i64, Option<pb::Rider>>,
}

impl RiderNames<'_> {
    async fn get(&mut self, id: i64) -> Option<&pb::Rider> {
        if !self.known.contains_key(&id) {
            let (web, session) = (self.web, self.session);
            let req = pb::GetRiderRequest { id };
            let found =
                call(session, web, "noriai.v1.RiderService/GetRider", req, |r| web.riders.get_rider(r))
                    .await
                    .ok();
            self.known.insert(id, found);
        }
        self.known.get(&id).and_then(Option::as_ref)
    }
}

async fn board_view(board: &pb::DayBoard, names: &mut RiderNames<'_>) -> BoardView {
    let mut bookings = Vec::with_capacity(board.bookings.len());
    for b in &board.bookings {
        let mut view = BookingView::from(b);
        view.rider_name = names.get(view.rider_id).await.map(|r| r.name.clone());
        bookings.push(view);
    }
    let mut alerts = Vec::new();
    for a in &board.alerts {
        let mut call = Vec::new();
        for id in &a.booking_ids {
            let rider =
                board.bookings.iter().find(|b| b.id == *id).and_then(|b| b.trip.as_ref()).map(|t| t.rider_id);
            if let Some(r) = rider
                && let Some(found) = names.get(r).await
            {
                call.push(CallBack {
                    booking_id: *id,
                    rider_name: found.name.clone(),
                    phone: found.phone.clone(),
                });
            }
        }
        alerts.push(AlertView {
            text: a.text.clone(),
            vehicle_id: a.vehicle_id,
            booking_ids: a.booking_ids.clone(),
            call,
        });
    }
    BoardView {
        version: board.version,
        day: board.day.clone(),
        winter: board.winter,
        bookings,
        vehicles: board
            .vehicles
            .iter()
            .map(|v| VehicleView {
                id: v.vehicle_id,
                name: v.name.clone(),
                position: Point::of(v.last_position.as_ref()),
                last_event: v.last_event.clone(),
                last_event_local: v.last_event_local.clone(),
                delay_minutes: v.delay_minutes,
                delay_reason: v.delay_reason.clone(),
            })
            .collect(),
        alerts,
    }
}

fn sse_json<T: serde::Serialize>(name: &str, value: &T) -> Event {
    Event::default().event(name).json_data(value).unwrap_or_else(|_| Event::default().event("error"))
}

fn sse_error(e: ApiError) -> Event {
    let status = e.status.as_u16();
    Event::default()
        .event("failed")
        .data(serde_json::json!({ "status": status, "error": e.code, "message": e.message }).to_string())
}

/// `GET /api/v1/board?day=…`: the day's board as server-sent events, a
/// `board` event at once and at every change.
pub async fn board(
    State(web): State<Arc<Web>>,
    session: Session,
    q: Result<Query<DayQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(q) = q?;
    let day = day_or_today("day", Some(&q.day))?;
    let req = pb::WatchDayRequest { day };
    let boards =
        call(&session, &web, "noriai.v1.OperationsService/WatchDay", req, |r| web.operations.watch_day(r))
            .await?;
    let stream = live(web, session, boards, |web, session, known, board| {
        Box::pin(async move {
            let mut names = RiderNames { web: web.as_ref(), session, known: std::mem::take(known) };
            let view = board_view(&board, &mut names).await;
            *known = names.known;
            sse_json("board", &view)
        })
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// How often an open live view checks that its session still lets it in
/// (logged out, expired, revoked): at most this long after, it closes.
const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

type Rendered<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Event> + Send + 'a>>;

/// A gRPC stream as server-sent events: each item rendered by `render`
/// (which may keep riders it has read in `known`), the session checked
/// before every event and every [`SESSION_RECHECK`], and everything stopped
/// as soon as the browser goes away.
fn live<T, F>(
    web: Arc<Web>,
    session: Session,
    mut items: std::pin::Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send>>,
    render: F,
) -> impl Stream<Item = Result<Event, Infallible>>
where
    T: Send + 'static,
    F: for<'a> Fn(&'a Arc<Web>, &'a Session, &'a mut HashMap<i64, Option<pb::Rider>>, T) -> Rendered<'a>
        + Send
        + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(4);
    tokio::spawn(async move {
        let mut known = HashMap::new();
        let mut recheck = tokio::time::interval(SESSION_RECHECK);
        recheck.tick().await;
        loop {
            let next = tokio::select! {
                () = tx.closed() => return,
                _ = recheck.tick() => None,
                n = items.next() => match n {
                    Some(n) => Some(n),
                    None => return,
                },
            };
            if let Err(status) = web.gate.authenticate(&session.headers()).await {
                let _ = tx.send(sse_error(status.into())).await;
                return;
            }
            let event = match next {
                None => continue,
                Some(Ok(item)) => render(&web, &session, &mut known, item).await,
                Some(Err(status)) => sse_error(status.into()),
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok)
}

#[derive(Debug, serde::Deserialize)]
pub struct ManifestQuery {
    #[serde(default)]
    vehicle_id: Option<i64>,
    #[serde(default)]
    day: String,
}

/// `GET /api/v1/driver/manifest?vehicle_id=…&day=…`: a vehicle's manifest
/// as server-sent events (a driver's own vehicle by default).
pub async fn manifest(
    State(web): State<Arc<Web>>,
    session: Session,
    q: Result<Query<ManifestQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(q) = q?;
    let rpc = "noriai.v1.DriverService/StreamManifest";
    let vehicle_id = match q.vehicle_id {
        Some(v) => v,
        None => super::admit(&session, &web, rpc).await?.scope.vehicle().ok_or_else(|| {
            ApiError::invalid("vehicle_id", "name the vehicle (only a driver's session has its own)")
        })?,
    };
    let req = pb::StreamManifestRequest { vehicle_id, day: q.day };
    let manifests = call(&session, &web, rpc, req, |r| web.drivers.stream_manifest(r)).await?;
    let stream = live(web, session, manifests, |_, _, _, m| {
        Box::pin(async move { sse_json("manifest", &ManifestView::from(&m)) })
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A driver's tap, possibly sent again after a network gap: `event_id` is
/// made once on the tablet, so a resend is recognised.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverEvent {
    event_id: String,
    #[serde(default)]
    vehicle_id: Option<i64>,
    /// arrived, boarded, no_show, alighted, departed, shift_started,
    /// shift_ended, delayed, breakdown.
    kind: String,
    #[serde(default)]
    booking_id: i64,
    /// When the driver tapped (Unix seconds); a queued event keeps its time.
    #[serde(default)]
    at: Option<i64>,
    #[serde(default)]
    position: Option<Point>,
    #[serde(default)]
    delay_minutes: u32,
    #[serde(default)]
    can_continue: bool,
    #[serde(default)]
    note: String,
}

fn event_kind(name: &str) -> Option<pb::EventKind> {
    use pb::EventKind::*;
    Some(match name {
        "arrived" => VehicleArrived,
        "boarded" => Boarded,
        "no_show" => UserNoShow,
        "alighted" => Alighted,
        "departed" => Departed,
        "shift_started" => ShiftStarted,
        "shift_ended" => ShiftEnded,
        "delayed" => Delayed,
        "breakdown" => Breakdown,
        _ => return None,
    })
}

#[derive(Debug, serde::Serialize)]
pub struct EventAnswer {
    event_id: String,
    duplicate: bool,
}

/// `POST /api/v1/driver/events`: records what happened on the road.
pub async fn report_event(
    State(web): State<Arc<Web>>,
    session: Session,
    body: Body<DriverEvent>,
) -> Result<Json<EventAnswer>, ApiError> {
    let Json(e) = body?;
    let rpc = "noriai.v1.DriverService/ReportEvent";
    let kind = event_kind(&e.kind).ok_or_else(|| {
        ApiError::invalid(
            "kind",
            "arrived, boarded, no_show, alighted, departed, shift_started, shift_ended, delayed or breakdown",
        )
    })?;
    let vehicle_id = match e.vehicle_id {
        Some(v) => v,
        None => super::admit(&session, &web, rpc)
            .await?
            .scope
            .vehicle()
            .ok_or_else(|| ApiError::invalid("vehicle_id", "name the vehicle"))?,
    };
    let req = pb::ReportEventRequest {
        event_id: e.event_id,
        vehicle_id,
        kind: kind as i32,
        at: e.at.map(|s| prost_types::Timestamp { seconds: s, nanos: 0 }),
        booking_id: e.booking_id,
        position: e.position.map(Point::to_pb),
        delay_minutes: e.delay_minutes,
        can_continue: e.can_continue,
        note: e.note,
        ..Default::default()
    };
    let answer = call(&session, &web, rpc, req, |r| web.drivers.report_event(r)).await?;
    Ok(Json(EventAnswer { event_id: answer.event_id, duplicate: answer.duplicate }))
}

/// One position from the tablet's location service.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TabletPosition {
    /// Unix seconds when the tablet read it.
    at: i64,
    lat: f64,
    lon: f64,
    #[serde(default)]
    heading_deg: Option<f64>,
    #[serde(default)]
    speed_kmh: Option<f64>,
}

/// Positions one batch may carry (a tablet sends one every few seconds,
/// batched after a network gap).
const MAX_POSITIONS: usize = 200;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PositionBatch {
    #[serde(default)]
    vehicle_id: Option<i64>,
    positions: Vec<TabletPosition>,
}

/// `POST /api/v1/driver/positions`: where the vehicle has been, stored as
/// `ReportPositions` stores a gRPC client's stream.
pub async fn report_positions(
    State(web): State<Arc<Web>>,
    session: Session,
    body: Body<PositionBatch>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(batch) = body?;
    if batch.positions.len() > MAX_POSITIONS {
        return Err(ApiError::invalid("positions", format!("at most {MAX_POSITIONS} a call")));
    }
    let caller = super::admit(&session, &web, "noriai.v1.DriverService/ReportPositions").await?;
    let vehicle_id = match batch.vehicle_id.or(caller.scope.vehicle()) {
        Some(v) => v,
        None => return Err(ApiError::invalid("vehicle_id", "name the vehicle")),
    };
    let reports = batch.positions.into_iter().map(move |p| {
        Ok(pb::PositionReport {
            vehicle_id,
            at: Some(prost_types::Timestamp { seconds: p.at, nanos: 0 }),
            position: Some(pb::LatLon { lat: p.lat, lon: p.lon }),
            heading_deg: p.heading_deg.unwrap_or(f64::NAN),
            speed_kmh: p.speed_kmh.unwrap_or(f64::NAN),
        })
    });
    let stored = web.drivers.take_positions(&caller, tokio_stream::iter(reports)).await?;
    Ok(Json(serde_json::json!({ "stored": stored })))
}
