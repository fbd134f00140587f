//! GTFS Realtime over HTTP, on the gRPC port: `/gtfs-rt/vehicle-positions`
//! and `/gtfs-rt/trip-updates` (protobuf, the specification's own
//! messages), for trip planners and MaaS partners. Each on-demand vehicle's
//! day is one trip that is not in any static timetable
//! (`schedule_relationship` NEW); its updates give the planned times of
//! its remaining stops by sequence, never where they are (those are
//! riders' homes). A token is needed (admin or operator: where a door-to-door
//! vehicle stops is a rider's home, so planners do not get it): the
//! auth layer admits it and answers HTTP 401/403 itself.

use crate::auth::Caller;
use crate::gtfs_rt as rt;
use crate::towns::Towns;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use noriai_model::service::ServiceDay;
use prost::Message;
use std::sync::Arc;

/// Positions older than this are not shown (the vehicle is not reporting).
const FRESH_S: i64 = 15 * 60;

/// The HTTP routes, to merge with the gRPC services.
pub fn router(towns: Arc<Towns>) -> axum::Router {
    axum::Router::new()
        .route("/gtfs-rt/vehicle-positions", axum::routing::get(vehicle_positions))
        .route("/gtfs-rt/trip-updates", axum::routing::get(trip_updates))
        .with_state(towns)
}

/// The trip id of vehicle `vehicle`'s `day`.
pub fn trip_id(vehicle: i64, day: ServiceDay) -> String {
    format!("ondemand-{vehicle}-{day}")
}

fn header_now() -> rt::FeedHeader {
    rt::FeedHeader {
        gtfs_realtime_version: "2.0".into(),
        incrementality: Some(rt::feed_header::Incrementality::FullDataset as i32),
        timestamp: u64::try_from(crate::now_unix()).ok(),
        ..Default::default()
    }
}

fn start_date(day: ServiceDay) -> String {
    day.to_string().replace('-', "")
}

fn new_trip(vehicle: i64, day: ServiceDay) -> rt::TripDescriptor {
    rt::TripDescriptor {
        trip_id: Some(trip_id(vehicle, day)),
        start_date: Some(start_date(day)),
        schedule_relationship: Some(rt::trip_descriptor::ScheduleRelationship::New as i32),
        ..Default::default()
    }
}

fn protobuf(feed: &rt::FeedMessage) -> Response {
    ([(header::CONTENT_TYPE, "application/x-protobuf")], feed.encode_to_vec()).into_response()
}

fn refused(status: tonic::Status) -> Response {
    let code = match status.code() {
        tonic::Code::NotFound => StatusCode::NOT_FOUND,
        tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
        tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition => StatusCode::BAD_REQUEST,
        tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (code, status.message().to_string()).into_response()
}

async fn vehicle_positions(
    State(towns): State<Arc<Towns>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let town = match towns.of(&caller).await {
        Ok(t) => t,
        Err(s) => return refused(s),
    };
    let now = crate::now_unix();
    let day = ServiceDay::of_unix(now);
    let shifts = match town.store.shifts_on(day).await {
        Ok(s) => s,
        Err(e) => return refused(crate::errors::store_status(e)),
    };
    let mut entity = Vec::new();
    for shift in shifts {
        let seen = match town.store.last_position(shift.vehicle_id).await {
            Ok(p) => p,
            Err(e) => return refused(crate::errors::store_status(e)),
        };
        let Some(p) = seen.filter(|p| now - p.at <= FRESH_S) else { continue };
        entity.push(rt::FeedEntity {
            id: format!("vehicle-{}", shift.vehicle_id),
            vehicle: Some(rt::VehiclePosition {
                trip: Some(new_trip(shift.vehicle_id, day)),
                vehicle: Some(rt::VehicleDescriptor {
                    id: Some(shift.vehicle_id.to_string()),
                    ..Default::default()
                }),
                position: Some(rt::Position {
                    latitude: p.location.lat as f32,
                    longitude: p.location.lon as f32,
                    bearing: p.heading_deg.map(|h| h as f32),
                    speed: p.speed_kmh.map(|s| (s / 3.6) as f32),
                    ..Default::default()
                }),
                timestamp: u64::try_from(p.at).ok(),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    protobuf(&rt::FeedMessage { header: header_now(), entity })
}

async fn trip_updates(State(towns): State<Arc<Towns>>, Extension(caller): Extension<Caller>) -> Response {
    let town = match towns.of(&caller).await {
        Ok(t) => t,
        Err(s) => return refused(s),
    };
    let now = crate::now_unix();
    let day = ServiceDay::of_unix(now);
    let plans = match town.store.plans_from(day).await {
        Ok(p) => p,
        Err(e) => return refused(crate::errors::store_status(e)),
    };
    let mut entity = Vec::new();
    for plan in plans.into_iter().filter(|p| p.day == day) {
        // The stops still to come, numbered in the day's order.
        let updates: Vec<rt::trip_update::StopTimeUpdate> = plan
            .stops
            .iter()
            .enumerate()
            .filter(|(_, s)| s.eta >= now)
            .map(|(i, s)| rt::trip_update::StopTimeUpdate {
                stop_sequence: u32::try_from(i + 1).ok(),
                arrival: Some(rt::trip_update::StopTimeEvent { time: Some(s.eta), ..Default::default() }),
                departure: Some(rt::trip_update::StopTimeEvent { time: Some(s.eta), ..Default::default() }),
                ..Default::default()
            })
            .collect();
        if updates.is_empty() {
            continue;
        }
        entity.push(rt::FeedEntity {
            id: format!("trip-{}", plan.vehicle_id),
            trip_update: Some(rt::TripUpdate {
                trip: new_trip(plan.vehicle_id, day),
                vehicle: Some(rt::VehicleDescriptor {
                    id: Some(plan.vehicle_id.to_string()),
                    ..Default::default()
                }),
                stop_time_update: updates,
                timestamp: u64::try_from(now).ok(),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    protobuf(&rt::FeedMessage { header: header_now(), entity })
}
