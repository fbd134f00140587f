//! `noriai report day`: what really happened on a service day (bookings,
//! drivers' events, positions) measured with the simulator's KPIs and
//! written as its `kpis.json` and `report.html`, so a town compares its
//! plan with reality in the same format.

use crate::accounts::StoreArgs;
use crate::progress::Bars;
use crate::say;
use anyhow::Context;
use noriai_model::LatLon;
use noriai_model::service::ServiceDay;
use noriai_roads::{RoadNetwork, SpeedProfile};
use noriai_sim::actual::{BookedRide, VehicleDay, day_as_it_happened};
use noriai_sim::{Kpis, MapCache, RunOutput, Scenario, World, write_run};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: ReportCommand,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(clap::Subcommand)]
pub enum ReportCommand {
    /// A service day as it happened: kpis.json and report.html, as `noriai simulate` writes them.
    Day {
        /// The service day, YYYY-MM-DD (Asia/Tokyo).
        #[arg(long)]
        day: ServiceDay,
        /// Where to write kpis.json and report.html.
        #[arg(long)]
        out: PathBuf,
        /// The map the service runs on [default: the bundled Liechtenstein map].
        #[arg(long)]
        map: Option<PathBuf>,
    },
}

/// Places in the report are rounded to about a kilometre: it is for
/// planners, and a rider's home must not be read off it.
fn coarse(p: LatLon) -> LatLon {
    LatLon { lat: (p.lat * 100.0).round() / 100.0, lon: (p.lon * 100.0).round() / 100.0 }
}

pub fn report(a: ReportArgs) -> anyhow::Result<()> {
    let ReportCommand::Day { day, out, map } = a.command;
    let map = map.unwrap_or_else(crate::default_map);
    let bars = Bars::new();
    let (roads, _) = RoadNetwork::open(&map, &SpeedProfile::default(), &bars)
        .with_context(|| format!("loading map {}", map.display()))?;
    bars.finish();
    let (runtime, store) = a.store.open_service()?;
    let (name, fare, result, unfinished) = runtime.block_on(async {
        let service = store.get_service(store.service()).await?;
        let (from, to) = (day.midnight_unix(), day.next().next().midnight_unix());
        let mut rides = Vec::new();
        for booking in store.list_bookings(None, Some(day), true).await? {
            let origin = store.place_location(&booking.trip.origin.kind).await?;
            let destination = store.place_location(&booking.trip.destination.kind).await?;
            let direct = roads.route(origin, destination).ok().map(|r| (r.duration_s, r.distance_m));
            rides.push(BookedRide {
                booking,
                origin: coarse(origin),
                destination: coarse(destination),
                direct,
            });
        }
        let shifts = store.shifts_on(day).await?;
        let mut vehicles = Vec::new();
        for vehicle in store.list_vehicles().await? {
            let shift = shifts.iter().find(|s| s.vehicle_id == vehicle.id).copied();
            let events = store.vehicle_events(vehicle.id, from, to).await?;
            if shift.is_none() && events.is_empty() {
                continue;
            }
            let positions = store.positions(vehicle.id, from, to).await?;
            vehicles.push(VehicleDay { vehicle, shift, events, positions });
        }
        store.close().await;
        let (result, unfinished) = day_as_it_happened(&service.name, day, &rides, &vehicles);
        anyhow::Ok((service.name, service.fare_yen, result, unfinished))
    })?;
    let sc = scenario(&name, &map, result.vehicles.len(), result.depot, fare)?;
    let world = World::load(&sc, &MapCache::new(), &noriai_roads::NoProgress)?;
    let kpis = Kpis::compute(&sc, &result);
    let served = result.riders.iter().filter(|r| r.outcome == noriai_sim::Outcome::Served).count();
    let no_shows = result.riders.iter().filter(|r| r.outcome == noriai_sim::Outcome::NoShow).count();
    write_run(&out, &RunOutput { scenario: sc, world, day: result, kpis })?;
    say!(
        "{day} of {name}: {served} rides served, {no_shows} no-shows, {unfinished} still under way; \
         wrote {}/kpis.json and report.html",
        out.display()
    );
    Ok(())
}

/// The scenario a real day is measured against: the service's map, fleet
/// size and fare; costs as in the example scenarios.
fn scenario(name: &str, map: &Path, vehicles: usize, depot: LatLon, fare: u32) -> anyhow::Result<Scenario> {
    let text = format!(
        "name = {name:?}\nseed = 1\n\n[map]\npath = {map:?}\nprofile = \"default\"\n\n[travel]\nmodel = \"roads\"\n\n\
         [stops]\nmode = \"door-to-door\"\n\n[fleet]\nvehicles = {vehicles}\nseats = 8\nwheelchair_places = 1\n\
         depot = [{lat}, {lon}]\nshifts = [[\"07:00\", \"19:00\"]]\n\n[cost]\nper_vehicle_hour = 3500\nper_km = 30\nfare_per_trip = {fare}\n\
         currency = \"JPY\"\n\n[demand]\nsource = \"generate\"\ntrips = 1\n",
        map = map.display().to_string(),
        vehicles = vehicles.max(1),
        lat = depot.lat,
        lon = depot.lon,
    );
    Scenario::parse(&text, Path::new("noriai report day")).context("the report's scenario")
}
