//! OperationsService: the day's board operators watch while they take calls
//! (bookings with their ride status, vehicles on the road, alerts), streamed
//! again whenever it changes.

use crate::auth::Caller;
use crate::convert;
use crate::driver::{day_span, with_ride_status};
use crate::errors::store_status;
use crate::follow::{LiveView, follow};
use crate::now_unix;
use crate::pb;
use crate::pb::operations_service_server::OperationsService;
use crate::road::Alert;
use crate::towns::{Town, Towns};
use noriai_model::access::AuditAction;
use noriai_model::service::{BookingStatus, ServiceDay, local_hhmm};
use std::collections::BTreeSet;
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
        // Watch before the first render, so a change while it renders is not missed.
        let changes = view.town.dispatcher.changes();
        let first = view.render().await?;
        Ok(Response::new(Box::pin(follow(view, first, changes))))
    }
}
