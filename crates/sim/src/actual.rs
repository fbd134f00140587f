//! A real service day in the simulator's terms: the booking server's
//! bookings, drivers' events and positions become a [`DayResult`], so
//! `noriai report day` measures what really happened with the same KPIs
//! and report as a simulated day, and a town compares plan with reality.
//!
//! Times in the result are seconds after the day's local midnight, as in a
//! simulation. A ride counts as served once its rider alighted, as a
//! no-show or a cancellation as the driver or the operator recorded it;
//! rides still under way are left out (and counted).

use crate::run::{
    BatchRecord, DayResult, DriverEvent, ExecutedStop, Outcome, RiderRecord, StopEvent, VehicleRecord,
};
use noriai_model::live::{EventKind, Position, VehicleEvent};
use noriai_model::service::{Booking, BookingStatus, FleetVehicle, ServiceDay, Shift, TripTime};
use noriai_model::{Capacity, LatLon};

/// One booking with where its trip starts and ends (stops resolved) and,
/// when known, the direct trip's time (s) and length (m).
#[derive(Debug, Clone)]
pub struct BookedRide {
    pub booking: Booking,
    pub origin: LatLon,
    pub destination: LatLon,
    pub direct: Option<(f64, f64)>,
}

/// One vehicle's day: its record, shift, events and positions (in time order).
#[derive(Debug, Clone)]
pub struct VehicleDay {
    pub vehicle: FleetVehicle,
    pub shift: Option<Shift>,
    pub events: Vec<VehicleEvent>,
    pub positions: Vec<Position>,
}

/// The day as it happened, and how many rides were still under way.
pub fn day_as_it_happened(
    name: &str,
    day: ServiceDay,
    rides: &[BookedRide],
    vehicles: &[VehicleDay],
) -> (DayResult, usize) {
    let midnight = day.midnight_unix();
    let local = |t: i64| (t - midnight) as f64;
    let event_of = |booking: i64, want: fn(&EventKind) -> bool| {
        vehicles.iter().flat_map(|v| &v.events).find(|e| e.kind.booking() == Some(booking) && want(&e.kind))
    };
    let mut riders = Vec::new();
    let mut unfinished = 0;
    for (trip, ride) in rides.iter().enumerate() {
        let b = &ride.booking;
        let boarded = event_of(b.id, |k| matches!(k, EventKind::Boarded { .. }));
        let alighted = event_of(b.id, |k| matches!(k, EventKind::Alighted { .. }));
        let no_show = event_of(b.id, |k| matches!(k, EventKind::NoShow { .. }));
        let outcome = match (no_show, alighted, b.status) {
            (Some(_), _, _) => Outcome::NoShow,
            (None, Some(_), _) => Outcome::Served,
            (None, None, BookingStatus::Cancelled) => Outcome::Cancelled,
            (None, None, BookingStatus::Confirmed) => {
                unfinished += 1;
                continue;
            }
        };
        let (requested, arrive_by) = match b.trip.time {
            TripTime::DepartAfter(t) => (t, false),
            TripTime::ArriveBy(t) => (t, true),
        };
        riders.push(RiderRecord {
            trip,
            prebooked: b.wide_window.is_some(),
            booked_at_s: local(requested),
            requested_s: local(requested),
            arrive_by,
            outcome,
            reason: None,
            origin: ride.origin,
            destination: ride.destination,
            origin_cell: None,
            vehicle: u32::try_from(b.vehicle_id).ok(),
            told_at_booking: b.wide_window.map(|(a, z)| (local(a), local(z))),
            promise: Some((local(b.pickup_window.0), local(b.pickup_window.1))),
            pickup_window: None,
            dropoff_window: None,
            max_ride_s: None,
            direct_s: ride.direct.map(|d| d.0),
            direct_m: ride.direct.map(|d| d.1),
            pickup_s: boarded.map(|e| local(e.at)),
            pickup_departure_s: boarded.map(|e| local(e.at)),
            dropoff_s: alighted.map(|e| local(e.at)),
            walk_m: 0.0,
            seats: b.trip.seats,
            wheelchairs: b.trip.wheelchair_places,
            moved_s: None,
        });
    }
    let records = vehicles.iter().map(|v| vehicle_record(v, rides, &local)).collect();
    let result = DayResult {
        scenario: name.to_string(),
        demand: format!("bookings of {day}"),
        riders,
        vehicles: records,
        outside_map: Vec::new(),
        batch: BatchRecord::default(),
        stops: Vec::new(),
        depot: vehicles.first().map_or(LatLon { lat: 0.0, lon: 0.0 }, |v| v.vehicle.depot),
        plan_drift: 0,
        wall_s: 0.0,
        road: Default::default(),
    };
    (result, unfinished)
}

/// A vehicle's record: its stops from the ride events, kilometres from the
/// odometer at shift start and end when both were reported (else from the
/// positions), busy from shift start to shift end as reported.
fn vehicle_record(v: &VehicleDay, rides: &[BookedRide], local: &impl Fn(i64) -> f64) -> VehicleRecord {
    let odometer = |want: fn(&EventKind) -> Option<f64>| v.events.iter().find_map(|e| want(&e.kind));
    let start_km = odometer(|k| match k {
        EventKind::ShiftStarted { odometer_km } => *odometer_km,
        _ => None,
    });
    let end_km = odometer(|k| match k {
        EventKind::ShiftEnded { odometer_km } => *odometer_km,
        _ => None,
    });
    let driven_m = match (start_km, end_km) {
        (Some(a), Some(z)) if z >= a => (z - a) * 1000.0,
        _ => v.positions.windows(2).map(|w| w[0].location.distance_m(w[1].location)).sum(),
    };
    let place = |booking: i64, pickup: bool| {
        rides.iter().find(|r| r.booking.id == booking).map(|r| if pickup { r.origin } else { r.destination })
    };
    let mut onboard = Capacity::ZERO;
    let mut stops = Vec::new();
    let mut last = None;
    for e in &v.events {
        let (event, booking) = match e.kind {
            EventKind::Boarded { booking_id } => (StopEvent::Pickup, booking_id),
            EventKind::Alighted { booking_id } => (StopEvent::Dropoff, booking_id),
            EventKind::NoShow { booking_id } => (StopEvent::NoShow, booking_id),
            _ => continue,
        };
        let pickup = !matches!(event, StopEvent::Dropoff);
        let Some(location) = e.position.or_else(|| place(booking, pickup)) else { continue };
        let seats = rides.iter().find(|r| r.booking.id == booking).map_or(Capacity::ZERO, |r| {
            Capacity::new(r.booking.trip.seats, r.booking.trip.wheelchair_places)
        });
        onboard = match event {
            StopEvent::Pickup => {
                Capacity::new(onboard.seats + seats.seats, onboard.wheelchairs + seats.wheelchairs)
            }
            StopEvent::Dropoff => Capacity::new(
                onboard.seats.saturating_sub(seats.seats),
                onboard.wheelchairs.saturating_sub(seats.wheelchairs),
            ),
            _ => onboard,
        };
        let t = local(e.at);
        let leave = last.unwrap_or(t);
        stops.push(ExecutedStop {
            event,
            trip: rides.iter().position(|r| r.booking.id == booking),
            location,
            leave_s: leave,
            leg_s: t - leave,
            leg_m: 0.0,
            arrival_s: t,
            start_s: t,
            departure_s: t,
            onboard,
        });
        last = Some(t);
    }
    let started =
        v.events.iter().find(|e| matches!(e.kind, EventKind::ShiftStarted { .. })).map(|e| local(e.at));
    let ended =
        v.events.iter().rev().find(|e| matches!(e.kind, EventKind::ShiftEnded { .. })).map(|e| local(e.at));
    let shift = v.shift.map_or((0.0, 0.0), |s| (f64::from(s.start_s), f64::from(s.end_s)));
    let busy = match (started, ended.or(last)) {
        (Some(a), Some(z)) if z > a => vec![(a, z)],
        _ => Vec::new(),
    };
    VehicleRecord {
        id: u32::try_from(v.vehicle.id).unwrap_or(u32::MAX),
        capacity: Capacity::new(v.vehicle.seats, v.vehicle.wheelchair_places),
        shift,
        busy,
        km: driven_m,
        // Who was aboard between positions is not known here.
        km_empty: 0.0,
        stops,
        events: v.events.iter().map(|e| DriverEvent { at_s: local(e.at), kind: e.kind.clone() }).collect(),
    }
}
