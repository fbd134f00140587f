//! A demo fleet so `noriai serve` works out of the box on any map: three
//! vehicles at a depot near the middle of the road network, shifts 07:00–19:00
//! always for the next 60 days (kept rolling at every start and every
//! evening), and a service area covering the map. Operators replace it
//! through FleetService.

use noriai_model::LatLon;
use noriai_model::service::{FleetVehicle, ServiceDay, Shift};
use noriai_roads::RoadNetwork;
use noriai_store::{Store, StoreError};
use noriai_zones::{DEFAULT_RESOLUTION, MAX_RADIUS_M, ServiceArea};

pub const DEMO_DAYS: i32 = 60;

/// The road node nearest to the centre of the network's bounding box.
pub fn central_point(roads: &RoadNetwork) -> LatLon {
    let (centre, _) = roads.extent();
    roads
        .graph()
        .nodes
        .iter()
        .copied()
        .min_by(|a, b| a.distance_m(centre).total_cmp(&b.distance_m(centre)))
        .unwrap_or(centre)
}

pub async fn seed_if_empty(store: &Store, roads: &RoadNetwork) -> Result<(), StoreError> {
    if !store.list_vehicles().await?.is_empty() {
        return Ok(());
    }
    let depot = central_point(roads);
    let nodes = &roads.graph().nodes;
    let radius = nodes.iter().map(|p| p.distance_m(depot)).fold(0.0, f64::max).clamp(1_000.0, MAX_RADIUS_M);
    if store.service_area().await?.is_none()
        && let Ok(area) = ServiceArea::from_circle(depot, radius, DEFAULT_RESOLUTION)
    {
        store.set_service_area(area.resolution(), &area.cells()).await?;
    }
    // The service made for data from before services existed keeps its
    // placeholder name until someone names it; here it is the demo's.
    let mut service = store.get_service(store.service()).await?;
    if service.name == "Service 1" {
        service.name = "Demo service".into();
        service.name_kana = "デモサービス".into();
        service.fare_yen = 300;
        store.update_service(&service).await?;
    }
    for (name, seats, wheelchairs) in [("Demo 1", 6, 1), ("Demo 2", 6, 1), ("Demo 3", 9, 0)] {
        let v = store
            .insert_vehicle(&FleetVehicle {
                id: 0,
                name: name.into(),
                seats,
                wheelchair_places: wheelchairs,
                depot,
            })
            .await?;
        store.mark_demo_vehicle(v.id).await?;
    }
    keep_demo_shifts(store).await?;
    tracing::info!("demo fleet of 3 vehicles at {depot}, service area radius {:.1} km", radius / 1000.0);
    eprintln!(
        "created a demo fleet (3 vehicles at {depot}, shifts 07:00–19:00 for {DEMO_DAYS} days) and service area"
    );
    Ok(())
}

/// Gives each demo vehicle its 07:00–19:00 shift on every one of the next
/// [`DEMO_DAYS`] days where it has none (a shift an operator set is kept).
pub async fn keep_demo_shifts(store: &Store) -> Result<usize, StoreError> {
    let today = ServiceDay::of_unix(crate::now_unix());
    let mut shifts = Vec::new();
    for vehicle_id in store.demo_vehicles().await? {
        for k in 0..DEMO_DAYS {
            shifts.push(Shift {
                vehicle_id,
                day: ServiceDay(today.0 + k),
                start_s: 7 * 3600,
                end_s: 19 * 3600,
            });
        }
    }
    let added = store.add_missing_shifts(&shifts).await?;
    if added > 0 {
        tracing::info!(shifts = added, "demo fleet shifts extended to the next {DEMO_DAYS} days");
    }
    Ok(added)
}
