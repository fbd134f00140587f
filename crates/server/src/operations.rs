//! OperationsService: the day's board operators watch while they take calls
//! (bookings with their ride status, vehicles on the road, alerts), streamed
//! again whenever it changes.

use crate::auth::Caller;
use crate::convert;
use crate::convert::invalid;
use crate::driver::{day_span, with_ride_status};
use crate::errors::store_status;
use crate::follow::{LiveView, follow};
use crate::now_unix;
use crate::pb;
use crate::pb::operations_service_server::OperationsService;
use crate::road::{self, Alert};
use crate::towns::{Town, Towns};
use noriai_model::access::AuditAction;
use noriai_model::live::{ClosurePlace, ClosureReason, EventKind, RoadClosure};
use noriai_model::service::{BookingStatus, ServiceDay, local_hhmm};
use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

pub struct Operations {
    pub towns: Arc<Towns>,
    /// The map without closures: where closures are found.
    pub roads: Arc<noriai_roads::RoadNetwork>,
}

pub type BoardStream = Pin<Box<dyn Stream<Item = Result<pb::DayBoard, Status>> + Send>>;

struct BoardView {
    town: Arc<Town>,
    caller: Caller,
    day: ServiceDay,
    audited: BTreeSet<i64>,
}

fn alert_to_pb(alert: Alert) -> pb::Alert {
    let list = |ids: &[i64]| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let moves = |moved: &[(i64, i64)]| {
        moved.iter().map(|(b, v)| format!("booking {b} to vehicle {v}")).collect::<Vec<_>>().join(", ")
    };
    match alert {
        Alert::OutOfService { vehicle_id, stranded, on_board, moved } => {
            let mut text = format!("vehicle {vehicle_id} is out of service");
            if !stranded.is_empty() {
                text.push_str(&format!(
                    "; no vehicle can take bookings {}: call the riders",
                    list(&stranded)
                ));
            }
            if !on_board.is_empty() {
                text.push_str(&format!(
                    "; riders of bookings {} are on board and need fetching",
                    list(&on_board)
                ));
            }
            if !moved.is_empty() {
                text.push_str(&format!("; moved {}", moves(&moved)));
            }
            pb::Alert { text, vehicle_id, booking_ids: stranded.into_iter().chain(on_board).collect() }
        }
        Alert::Late { vehicle_id, rides } => {
            let each: Vec<String> = rides
                .iter()
                .map(|r| {
                    let what = if r.pickup { "pickup" } else { "arrival" };
                    format!(
                        "booking {} {what} about {} (promised by {})",
                        r.booking_id,
                        local_hhmm(r.eta),
                        local_hhmm(r.latest)
                    )
                })
                .collect();
            pb::Alert {
                text: format!(
                    "vehicle {vehicle_id} is late and no other vehicle can take over: {}; call the riders",
                    each.join(", ")
                ),
                vehicle_id,
                booking_ids: rides.iter().map(|r| r.booking_id).collect(),
            }
        }
        Alert::CutOff { vehicle_id } => pb::Alert {
            text: format!(
                "a road closure cuts off stops of vehicle {vehicle_id}: its plan could not be made around it; \
                 check its riders"
            ),
            vehicle_id,
            booking_ids: Vec::new(),
        },
        Alert::Moved { vehicle_id, moved } => pb::Alert {
            text: format!(
                "vehicle {vehicle_id} could not keep its promises: {}; tell the riders which vehicle comes",
                moves(&moved)
            ),
            vehicle_id,
            booking_ids: moved.iter().map(|(b, _)| *b).collect(),
        },
    }
}

impl BoardView {
    async fn board(&self) -> Result<pb::DayBoard, Status> {
        let store = &self.town.store;
        let bookings = store.list_bookings(None, Some(self.day), true).await.map_err(store_status)?;
        let shown = with_ride_status(store, &bookings).await?;
        let view = self.town.dispatcher.day_view(self.day).await.map_err(Status::from)?;
        let alerts: Vec<pb::Alert> = view.road().iter().flat_map(|r| r.alerts()).map(alert_to_pb).collect();
        let (from, to) = day_span(self.day);
        let mut vehicles = Vec::new();
        for v in store.list_vehicles().await.map_err(store_status)? {
            let events = store.vehicle_events(v.id, from, to).await.map_err(store_status)?;
            let last = store.last_position(v.id).await.map_err(store_status)?.filter(|p| p.at >= from);
            let rides = bookings.iter().any(|b| b.vehicle_id == v.id && b.status == BookingStatus::Confirmed);
            if events.is_empty() && last.is_none() && !rides {
                continue;
            }
            let last_event = events.last();
            // A delay holds until the vehicle next reaches a stop.
            let delay = events.iter().rev().find_map(|e| match e.kind {
                EventKind::Delayed { minutes, reason } => Some(Some((minutes, reason))),
                EventKind::Arrived { .. }
                | EventKind::Boarded { .. }
                | EventKind::Alighted { .. }
                | EventKind::NoShow { .. }
                | EventKind::ShiftStarted { .. } => Some(None),
                _ => None,
            });
            let delay = delay.flatten();
            vehicles.push(pb::VehicleOnRoad {
                delay_minutes: delay.map_or(0, |(m, _)| m),
                delay_reason: delay.map(|(_, r)| r.name().to_string()).unwrap_or_default(),
                vehicle_id: v.id,
                name: v.name,
                last_position: last.map(|p| convert::latlon_to_pb(p.location)),
                last_position_at: last.and_then(|p| convert::timestamp(p.at)),
                last_event: last_event.map(|e| e.kind.name().to_string()).unwrap_or_default(),
                last_event_local: last_event.map(|e| local_hhmm(e.at)).unwrap_or_default(),
            });
        }
        let winter = store.winter_days().await.map_err(store_status)?.contains(&self.day);
        Ok(pb::DayBoard { version: 0, day: self.day.to_string(), bookings: shown, vehicles, alerts, winter })
    }
}

impl LiveView for BoardView {
    type Item = pb::DayBoard;

    async fn render(&mut self) -> Result<pb::DayBoard, Status> {
        self.board().await
    }

    async fn shown(&mut self, board: &pb::DayBoard) -> Result<(), Status> {
        let new: Vec<i64> =
            board.bookings.iter().map(|b| b.id).filter(|b| !self.audited.contains(b)).collect();
        self.caller.audit(&self.town.store, AuditAction::Read, &[], &new).await?;
        self.audited.extend(new);
        Ok(())
    }

    fn stamp(board: pb::DayBoard, version: u64) -> pb::DayBoard {
        pb::DayBoard { version, ..board }
    }
}

#[tonic::async_trait]
impl OperationsService for Operations {
    type WatchDayStream = BoardStream;

    async fn watch_day(&self, req: Request<pb::WatchDayRequest>) -> Result<Response<BoardStream>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let day = match req.into_inner().day.as_str() {
            "" => ServiceDay::of_unix(now_unix()),
            d => convert::day("day", d)?,
        };
        let mut view = BoardView { town, caller, day, audited: BTreeSet::new() };
        // Watch before the first render, so a change while it renders is not missed.
        let changes = view.town.dispatcher.changes();
        let first = view.render().await?;
        Ok(Response::new(Box::pin(follow(view, first, changes))))
    }

    async fn close_road(
        &self,
        req: Request<pb::CloseRoadRequest>,
    ) -> Result<Response<pb::RoadClosure>, Status> {
        let town = self.towns.of(&Caller::of(&req)?).await?;
        let r = req.into_inner();
        let place = match &r.place {
            Some(pb::close_road_request::Place::Point(p)) => {
                ClosurePlace::Point(convert::latlon("point", Some(p))?)
            }
            Some(pb::close_road_request::Place::Area(a)) => {
                if !(3..=MAX_AREA_POINTS).contains(&a.ring.len()) {
                    return Err(invalid("area.ring", format!("give 3 to {MAX_AREA_POINTS} points")));
                }
                let mut ring = Vec::with_capacity(a.ring.len());
                for (i, ll) in a.ring.iter().enumerate() {
                    ring.push(convert::latlon(&format!("area.ring[{i}]"), Some(ll))?);
                }
                ClosurePlace::Area(ring)
            }
            None => return Err(invalid("place", "give the point of the road, or an area")),
        };
        let reason = match pb::ClosureReason::try_from(r.reason) {
            Ok(pb::ClosureReason::Snow) => ClosureReason::Snow,
            Ok(pb::ClosureReason::Disaster) => ClosureReason::Disaster,
            Ok(pb::ClosureReason::Works) => ClosureReason::Works,
            Ok(pb::ClosureReason::Other) => ClosureReason::Other,
            Ok(pb::ClosureReason::Unspecified) | Err(_) => {
                return Err(invalid("reason", "give snow, disaster, works or other"));
            }
        };
        let now = now_unix();
        let from = r.from.as_ref().map_or(now, |t| t.seconds);
        let until = r.until.as_ref().map(|t| t.seconds);
        if until.is_some_and(|u| u <= from) {
            return Err(invalid("until", "must be after `from`"));
        }
        let pieces = road::closed_by(&self.roads, &place).map_err(|e| match &place {
            ClosurePlace::Point(_) => invalid("point", e),
            ClosurePlace::Area(_) => invalid("area", e),
        })?;
        if pieces.is_empty() {
            return Err(invalid("area", "no road of the map lies inside the area"));
        }
        let closure = RoadClosure {
            id: 0,
            place,
            reason,
            note: convert::optional_text("note", &r.note)?,
            from,
            until,
            reopened_at: None,
        };
        let stored = town.store.insert_closure(&closure, now).await.map_err(store_status)?;
        tracing::info!(closure = stored.id, roads = pieces.len(), reason = reason.name(), "road closed");
        // Stored: the closure holds even if re-planning fails now (it is
        // retried whenever the day is next built).
        town.dispatcher.roads_changed().await.map_err(Status::from)?;
        Ok(Response::new(closure_to_pb(&stored, pieces.len())))
    }

    async fn reopen_road(
        &self,
        req: Request<pb::ReopenRoadRequest>,
    ) -> Result<Response<pb::RoadClosure>, Status> {
        let town = self.towns.of(&Caller::of(&req)?).await?;
        let id = req.into_inner().closure_id;
        if id <= 0 {
            return Err(invalid("closure_id", "is required"));
        }
        let reopened = town.store.reopen_closure(id, now_unix()).await.map_err(store_status)?;
        tracing::info!(closure = id, "road reopened");
        town.dispatcher.roads_changed().await.map_err(Status::from)?;
        let roads = road::closed_by(&self.roads, &reopened.place).map_or(0, |p| p.len());
        Ok(Response::new(closure_to_pb(&reopened, roads)))
    }

    async fn set_road_conditions(
        &self,
        req: Request<pb::SetRoadConditionsRequest>,
    ) -> Result<Response<pb::RoadConditions>, Status> {
        let town = self.towns.of(&Caller::of(&req)?).await?;
        let r = req.into_inner();
        let now = now_unix();
        let day = match r.day.as_str() {
            "" => ServiceDay::of_unix(now),
            d => convert::day("day", d)?,
        };
        if day.0 < ServiceDay::of_unix(now).0 {
            return Err(Status::failed_precondition(format!("{day} has passed; its plans no longer change")));
        }
        if r.winter && !town.dispatcher.has_winter() {
            return Err(Status::failed_precondition(
                "this server has no map with winter speeds (it runs with `--profile winter`, or the winter map \
                 could not be built); the day keeps the speeds it has",
            ));
        }
        town.store.set_winter(day, r.winter, now).await.map_err(store_status)?;
        tracing::info!(%day, winter = r.winter, "road conditions set");
        town.dispatcher.roads_changed().await.map_err(Status::from)?;
        Ok(Response::new(pb::RoadConditions { day: day.to_string(), winter: r.winter }))
    }

    async fn list_closures(
        &self,
        req: Request<pb::ListClosuresRequest>,
    ) -> Result<Response<pb::ListClosuresResponse>, Status> {
        let town = self.towns.of(&Caller::of(&req)?).await?;
        let closures = town.store.closures().await.map_err(store_status)?;
        Ok(Response::new(pb::ListClosuresResponse {
            closures: closures
                .iter()
                .map(|c| closure_to_pb(c, road::closed_by(&self.roads, &c.place).map_or(0, |p| p.len())))
                .collect(),
        }))
    }
}

/// Most points an area closure may have.
const MAX_AREA_POINTS: usize = 1_000;

fn closure_to_pb(c: &RoadClosure, roads: usize) -> pb::RoadClosure {
    let (point, area) = match &c.place {
        ClosurePlace::Point(p) => (Some(convert::latlon_to_pb(*p)), None),
        ClosurePlace::Area(ring) => {
            (None, Some(pb::Polygon { ring: ring.iter().map(|p| convert::latlon_to_pb(*p)).collect() }))
        }
    };
    let when = |t: i64| format!("{} {}", ServiceDay::of_unix(t), local_hhmm(t));
    let until = match c.ends() {
        Some(end) => when(end),
        None => "until reopened".to_string(),
    };
    pb::RoadClosure {
        id: c.id,
        point,
        area,
        reason: match c.reason {
            ClosureReason::Snow => pb::ClosureReason::Snow,
            ClosureReason::Disaster => pb::ClosureReason::Disaster,
            ClosureReason::Works => pb::ClosureReason::Works,
            ClosureReason::Other => pb::ClosureReason::Other,
        } as i32,
        note: c.note.clone(),
        from: convert::timestamp(c.from),
        until: c.until.and_then(convert::timestamp),
        reopened_at: c.reopened_at.and_then(convert::timestamp),
        when_local: format!("{} – {until}", when(c.from)),
        roads_closed: u32::try_from(roads).unwrap_or(u32::MAX),
    }
}
