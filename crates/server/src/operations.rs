//! OperationsService: the day's board operators watch while they take calls
//! (bookings with their ride status, vehicles on the road, alerts), streamed
//! again whenever it changes.

use crate::auth::Caller;
use crate::convert;
use crate::driver::{day_span, ride_status_to_pb, ride_statuses};
use crate::errors::store_status;
use crate::follow::{LiveView, follow};
use crate::now_unix;
use crate::pb;
use crate::pb::operations_service_server::OperationsService;
use crate::towns::{Town, Towns};
use noriai_dispatch::live::{self, Alert, RideOnVehicle};
use noriai_model::access::AuditAction;
use noriai_model::live::RideStatus;
use noriai_model::service::{BookingStatus, ServiceDay, StopAction, local_hhmm};
use std::collections::{BTreeSet, HashMap};
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

pub struct Operations {
    pub towns: Arc<Towns>,
}

type BoardStream = Pin<Box<dyn Stream<Item = Result<pb::DayBoard, Status>> + Send>>;

struct BoardView {
    town: Arc<Town>,
    caller: Caller,
    day: ServiceDay,
    audited: BTreeSet<i64>,
}

fn alert_to_pb(alert: Alert) -> pb::Alert {
    match alert {
        Alert::BrokenDown { vehicle_id, waiting, on_board } => pb::Alert {
            text: format!(
                "vehicle {vehicle_id} broke down: {} riders waiting need another vehicle, {} on board need fetching",
                waiting.len(),
                on_board.len()
            ),
            vehicle_id,
            booking_ids: waiting.into_iter().chain(on_board).collect(),
        },
        Alert::Late { vehicle_id, minutes, promises_broken } => pb::Alert {
            text: match promises_broken.len() {
                0 => format!(
                    "vehicle {vehicle_id} is {minutes} minutes late; every promised window still holds"
                ),
                n => format!(
                    "vehicle {vehicle_id} is {minutes} minutes late: {n} riders will be picked up after their \
                     promised window; call them"
                ),
            },
            vehicle_id,
            booking_ids: promises_broken,
        },
    }
}

impl BoardView {
    async fn board(&self) -> Result<pb::DayBoard, Status> {
        let store = &self.town.store;
        let bookings = store.list_bookings(None, Some(self.day), true).await.map_err(store_status)?;
        let statuses = ride_statuses(store, &bookings).await?;
        let status: HashMap<i64, RideStatus> =
            bookings.iter().map(|b| b.id).zip(statuses.iter().copied()).collect();
        let shown: Vec<pb::Booking> = bookings
            .iter()
            .zip(&statuses)
            .map(|(b, &s)| pb::Booking {
                ride_status: ride_status_to_pb(s) as i32,
                ..convert::booking_to_pb(b)
            })
            .collect();
        let planned: HashMap<i64, i64> = store
            .plans_from(self.day)
            .await
            .map_err(store_status)?
            .iter()
            .filter(|p| p.day == self.day)
            .flat_map(|p| &p.stops)
            .filter(|s| s.action == StopAction::Pickup)
            .map(|s| (s.booking_id, s.eta))
            .collect();
        let (from, to) = day_span(self.day);
        let mut vehicles = Vec::new();
        let mut alerts = Vec::new();
        for v in store.list_vehicles().await.map_err(store_status)? {
            let events = store.vehicle_events(v.id, from, to).await.map_err(store_status)?;
            let last = store.last_position(v.id).await.map_err(store_status)?.filter(|p| p.at >= from);
            let rides: Vec<RideOnVehicle> = bookings
                .iter()
                .filter(|b| b.vehicle_id == v.id && b.status == BookingStatus::Confirmed)
                .map(|b| RideOnVehicle {
                    booking_id: b.id,
                    status: status.get(&b.id).copied().unwrap_or(RideStatus::Scheduled),
                    planned_pickup: planned.get(&b.id).copied().unwrap_or(b.pickup_window.0),
                    promised_latest: b.pickup_window.1,
                })
                .collect();
            let kinds: Vec<_> = events.iter().map(|e| &e.kind).collect();
            alerts.extend(live::alerts(v.id, &kinds, &rides).into_iter().map(alert_to_pb));
            if events.is_empty() && last.is_none() && rides.is_empty() {
                continue;
            }
            let last_event = events.last();
            vehicles.push(pb::VehicleOnRoad {
                vehicle_id: v.id,
                name: v.name,
                last_position: last.map(|p| convert::latlon_to_pb(p.location)),
                last_position_at: last.and_then(|p| convert::timestamp(p.at)),
                last_event: last_event.map(|e| e.kind.name().to_string()).unwrap_or_default(),
                last_event_local: last_event.map(|e| local_hhmm(e.at)).unwrap_or_default(),
            });
        }
        Ok(pb::DayBoard { version: 0, day: self.day.to_string(), bookings: shown, vehicles, alerts })
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
        let first = view.render().await?;
        let changes = view.town.dispatcher.changes();
        Ok(Response::new(Box::pin(follow(view, first, changes))))
    }
}
