//! FleetService: vehicles, shifts, the service area and virtual stops.

use crate::auth::Caller;
use crate::convert::{self, invalid};
use crate::errors::store_status;
use crate::pb;
use crate::pb::fleet_service_server::FleetService;
use crate::towns::Towns;
use noriai_model::service::{FleetVehicle, Shift, StopRecord, format_time_of_day, parse_time_of_day};
use noriai_roads::RoadNetwork;
use noriai_store::Store;
use noriai_zones::{DEFAULT_RESOLUTION, ServiceArea};
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct Fleet {
    pub towns: Arc<Towns>,
    pub roads: Arc<RoadNetwork>,
}

fn shift_to_pb(s: &Shift) -> pb::Shift {
    pb::Shift {
        vehicle_id: s.vehicle_id,
        day: s.day.to_string(),
        start: format_time_of_day(s.start_s),
        end: format_time_of_day(s.end_s),
    }
}

fn area_to_pb(a: &ServiceArea) -> pb::ServiceArea {
    let cells = a.cells();
    pb::ServiceArea {
        resolution: a.resolution() as u32,
        cell_count: cells.len() as u64,
        cells: cells.into_iter().map(noriai_zones::cell_to_string).collect(),
    }
}

#[tonic::async_trait]
impl FleetService for Fleet {
    async fn add_vehicle(
        &self,
        req: Request<pb::AddVehicleRequest>,
    ) -> Result<Response<pb::Vehicle>, Status> {
        let town = self.towns.of(&Caller::of(&req)?).await?;
        let r = req.into_inner();
        let name = convert::required_text("name", &r.name)?;
        if r.seats == 0 {
            return Err(invalid("seats", "must be at least 1"));
        }
        if r.seats > 60 || r.wheelchair_places > 10 {
            return Err(invalid("seats", "more places than a bus has"));
        }
        let depot = convert::latlon("depot", r.depot.as_ref())?;
        self.roads.snap(depot).map_err(|e| invalid("depot", e))?;
        let v = FleetVehicle { id: 0, name, seats: r.seats, wheelchair_places: r.wheelchair_places, depot };
        let saved = town.store.insert_vehicle(&v).await.map_err(store_status)?;
        town.dispatcher.fleet_changed().await?;
        Ok(Response::new(convert::vehicle_to_pb(&saved)))
    }

    async fn list_vehicles(
        &self,
        req: Request<pb::ListVehiclesRequest>,
    ) -> Result<Response<pb::ListVehiclesResponse>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let list = town.store.list_vehicles().await.map_err(store_status)?;
        Ok(Response::new(pb::ListVehiclesResponse {
            vehicles: list
                .iter()
                .filter(|v| caller.may_see_vehicle(v.id).is_ok())
                .map(convert::vehicle_to_pb)
                .collect(),
        }))
    }

    async fn set_shift(&self, req: Request<pb::SetShiftRequest>) -> Result<Response<pb::Shift>, Status> {
        let town = self.towns.of(&Caller::of(&req)?).await?;
        let s = req.into_inner().shift.ok_or_else(|| invalid("shift", "is required"))?;
        let day = convert::day("shift.day", &s.day)?;
        let start_s = parse_time_of_day(&s.start).map_err(|e| invalid("shift.start", e))?;
        let end_s = parse_time_of_day(&s.end).map_err(|e| invalid("shift.end", e))?;
        if end_s <= start_s {
            return Err(invalid("shift.end", "must be after shift.start"));
        }
        let shift = Shift { vehicle_id: s.vehicle_id, day, start_s, end_s };
        let saved = town.dispatcher.set_shift(shift).await?;
        Ok(Response::new(shift_to_pb(&saved)))
    }

    async fn list_shifts(
        &self,
        req: Request<pb::ListShiftsRequest>,
    ) -> Result<Response<pb::ListShiftsResponse>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let day = convert::day("day", &req.into_inner().day)?;
        let list = town.store.shifts_on(day).await.map_err(store_status)?;
        Ok(Response::new(pb::ListShiftsResponse {
            shifts: list
                .iter()
                .filter(|s| caller.may_see_vehicle(s.vehicle_id).is_ok())
                .map(shift_to_pb)
                .collect(),
        }))
    }

    async fn set_service_area(
        &self,
        req: Request<pb::SetServiceAreaRequest>,
    ) -> Result<Response<pb::ServiceArea>, Status> {
        let town = self.towns.of(&Caller::of(&req)?).await?;
        let r = req.into_inner();
        let res = match r.resolution {
            0 => DEFAULT_RESOLUTION,
            n => u8::try_from(n).map_err(|_| invalid("resolution", "use 5 to 10"))?,
        };
        let area = match r.shape {
            Some(pb::set_service_area_request::Shape::Circle(c)) => {
                let centre = convert::latlon("circle.centre", c.centre.as_ref())?;
                ServiceArea::from_circle(centre, c.radius_m, res).map_err(|e| invalid("circle", e))?
            }
            Some(pb::set_service_area_request::Shape::Polygon(p)) => {
                let mut ring = Vec::with_capacity(p.ring.len());
                for (i, ll) in p.ring.iter().enumerate() {
                    ring.push(convert::latlon(&format!("polygon.ring[{i}]"), Some(ll))?);
                }
                ServiceArea::from_polygon(&ring, res).map_err(|e| invalid("polygon", e))?
            }
            Some(pb::set_service_area_request::Shape::Geojson(text)) => {
                ServiceArea::from_geojson(&text, res).map_err(|e| invalid("geojson", e))?
            }
            None => return Err(invalid("shape", "give a circle, a polygon or a GeoJSON boundary")),
        };
        let (centre, reach) = self.roads.extent();
        area.check_on_map(centre, reach + 20_000.0).map_err(|e| invalid("shape", e))?;
        town.store.set_service_area(area.resolution(), &area.cells()).await.map_err(store_status)?;
        let reply = area_to_pb(&area);
        town.dispatcher.area_changed(area);
        Ok(Response::new(reply))
    }

    async fn get_service_area(
        &self,
        req: Request<pb::GetServiceAreaRequest>,
    ) -> Result<Response<pb::ServiceArea>, Status> {
        let town = self.towns.of(&Caller::of(&req)?).await?;
        let (res, cells) = town
            .store
            .service_area()
            .await
            .map_err(store_status)?
            .ok_or_else(|| Status::not_found("no service area is set; set one with SetServiceArea"))?;
        let area = ServiceArea::from_cells(res, &cells).map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(area_to_pb(&area)))
    }

    async fn add_stop(&self, req: Request<pb::AddStopRequest>) -> Result<Response<pb::Stop>, Status> {
        let town = self.towns.of(&Caller::of(&req)?).await?;
        let r = req.into_inner();
        let name = convert::required_text("name", &r.name)?;
        let name_kana = convert::reading("name_kana", &r.name_kana)?;
        let location = convert::latlon("location", r.location.as_ref())?;
        if let Some((res, cells)) = town.store.service_area().await.map_err(store_status)? {
            let area = ServiceArea::from_cells(res, &cells).map_err(|e| Status::internal(e.to_string()))?;
            if !area.contains(location) {
                return Err(Status::failed_precondition(format!(
                    "location {location} is outside the service area"
                )));
            }
        }
        self.roads.snap(location).map_err(|e| invalid("location", e))?;
        let saved = town
            .store
            .insert_stop(&StopRecord { id: 0, name, name_kana, location })
            .await
            .map_err(store_status)?;
        Ok(Response::new(convert::stop_to_pb(&saved)))
    }

    async fn day_plan(
        &self,
        req: Request<pb::DayPlanRequest>,
    ) -> Result<Response<pb::DayPlanResponse>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let day = convert::day("day", &req.into_inner().day)?;
        // A driver sees today's route and, to prepare, tomorrow's; riders'
        // phone numbers only for today's stops.
        let today = noriai_model::service::ServiceDay::of_unix(crate::now_unix());
        let driver = caller.scope.vehicle().is_some();
        if driver && day != today && day != today.next() {
            return Err(Status::permission_denied(format!(
                "a driver token sees the routes of today ({today}) and tomorrow only, not {day}"
            )));
        }
        // A driver sees the route of their own vehicle only.
        let mut plan = load_day_plan(&town.store, day, caller.scope.vehicle()).await?;
        if driver && day != today {
            plan.routes.iter_mut().flat_map(|r| &mut r.stops).for_each(|s| s.rider_phone.clear());
        }
        let bookings: std::collections::BTreeSet<i64> =
            plan.routes.iter().flat_map(|r| &r.stops).map(|s| s.booking_id).collect();
        let bookings: Vec<i64> = bookings.into_iter().collect();
        caller.audit(&town.store, noriai_model::access::AuditAction::Read, &[], &bookings).await?;
        Ok(Response::new(plan))
    }

    async fn day_stats(
        &self,
        req: Request<pb::DayStatsRequest>,
    ) -> Result<Response<pb::DayStatsResponse>, Status> {
        let town = self.towns.of(&Caller::of(&req)?).await?;
        use noriai_model::service::{BookingStatus, WindowStage};
        let day = convert::day("day", &req.into_inner().day)?;
        let bookings = town.store.list_bookings(None, Some(day), true).await.map_err(store_status)?;
        let confirmed: Vec<_> = bookings.iter().filter(|b| b.status == BookingStatus::Confirmed).collect();
        let riders: std::collections::BTreeSet<i64> = confirmed.iter().map(|b| b.trip.rider_id).collect();
        let shifts = town.store.shifts_on(day).await.map_err(store_status)?;
        let plans = town.store.plans_from(day).await.map_err(store_status)?;
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(Response::new(pb::DayStatsResponse {
            day: day.to_string(),
            bookings_confirmed: count(confirmed.len()),
            bookings_cancelled: count(bookings.len() - confirmed.len()),
            riders: count(riders.len()),
            seats: confirmed.iter().map(|b| b.trip.seats).sum(),
            wheelchair_places: confirmed.iter().map(|b| b.trip.wheelchair_places).sum(),
            vehicles_on_shift: count(shifts.len()),
            vehicles_used: count(plans.iter().filter(|p| p.day == day && !p.stops.is_empty()).count()),
            riders_to_tell: count(confirmed.iter().filter(|b| b.window == WindowStage::ToTell).count()),
        }))
    }

    async fn list_stops(
        &self,
        req: Request<pb::ListStopsRequest>,
    ) -> Result<Response<pb::ListStopsResponse>, Status> {
        let town = self.towns.of(&Caller::of(&req)?).await?;
        let list = town.store.list_stops().await.map_err(store_status)?;
        Ok(Response::new(pb::ListStopsResponse { stops: list.iter().map(convert::stop_to_pb).collect() }))
    }
}

/// The stored routes of a day (of one vehicle, if given), joined with
/// bookings and riders for drivers.
pub async fn load_day_plan(
    store: &Store,
    day: noriai_model::service::ServiceDay,
    only_vehicle: Option<i64>,
) -> Result<pb::DayPlanResponse, Status> {
    use noriai_model::service::StopAction;
    let vehicles = store.list_vehicles().await.map_err(store_status)?;
    let plans = store.plans_from(day).await.map_err(store_status)?;
    let mut routes = Vec::new();
    let wanted = |p: &noriai_store::VehicleDayPlan| only_vehicle.is_none_or(|v| v == p.vehicle_id);
    for p in plans.into_iter().filter(|p| p.day == day && !p.stops.is_empty() && wanted(p)) {
        let mut stops = Vec::with_capacity(p.stops.len());
        for s in &p.stops {
            let b = store.get_booking(s.booking_id).await.map_err(store_status)?;
            let rider = rider_on_board(store, b.trip.rider_id).await?;
            let place = if s.action == StopAction::Pickup { &b.trip.origin } else { &b.trip.destination };
            let location = store.place_location(&place.kind).await.map_err(store_status)?;
            stops.push(pb::RouteStop {
                booking_id: b.id,
                action: match s.action {
                    StopAction::Pickup => pb::StopAction::Pickup,
                    StopAction::Dropoff => pb::StopAction::Dropoff,
                } as i32,
                eta: convert::timestamp(s.eta),
                location: Some(convert::latlon_to_pb(location)),
                place_label: place.label.clone(),
                rider_name: rider.name.clone(),
                rider_name_kana: rider.name_kana.clone(),
                wheelchair: b.trip.wheelchair_places > 0,
                walking_aid: rider.needs.walking_aid,
                driver_notes: rider.needs.driver_notes.clone(),
                seats: b.trip.seats,
                rider_phone: rider.phone.clone(),
            });
        }
        let name = vehicles.iter().find(|v| v.id == p.vehicle_id).map(|v| v.name.clone()).unwrap_or_default();
        routes.push(pb::VehicleRoute { vehicle_id: p.vehicle_id, vehicle_name: name, stops });
    }
    routes.sort_by_key(|r| r.vehicle_id);
    Ok(pb::DayPlanResponse { routes })
}

/// The rider of a booking as a driver sees them; a rider erased on request
/// (APPI) rides on without a name.
pub async fn rider_on_board(store: &Store, rider_id: i64) -> Result<noriai_model::service::Rider, Status> {
    match store.get_rider(rider_id).await {
        Ok(r) => Ok(r),
        Err(noriai_store::StoreError::NotFound { .. }) => Ok(noriai_model::service::Rider {
            id: rider_id,
            name: String::new(),
            name_kana: String::new(),
            phone: String::new(),
            home_address: String::new(),
            home: noriai_model::LatLon { lat: 0.0, lon: 0.0 },
            needs: Default::default(),
        }),
        Err(e) => Err(store_status(e)),
    }
}
