//! The road as the dispatcher reads it: each vehicle's present from its
//! stored events (through the pure rules of `noriai_dispatch::live`), and
//! what keeping its plan up with the road did, in booking ids and Unix
//! times for the operators' board and the drivers' manifests.

use noriai_dispatch::live::{Kept, Late, Present, Ride, RoadEvent, present_of};
use noriai_model::live::{ClosurePlace, RoadClosure, VehicleEvent};
use noriai_model::service::ServiceDay;
use noriai_model::{Request, RequestId, Vehicle};
use std::collections::HashMap;

/// A promise or ride limit a vehicle can no longer keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LateRide {
    pub booking_id: i64,
    /// The pickup (the promised window) or the dropoff (arrival or ride time).
    pub pickup: bool,
    /// The latest time promised or allowed, and when the vehicle can now be there (Unix).
    pub latest: i64,
    pub eta: i64,
}

/// What the road did to one vehicle's plan today.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VehicleRoad {
    pub vehicle_id: i64,
    /// Broken down (or off shift): it takes no new riders.
    pub out_of_service: bool,
    /// Riders aboard now.
    pub on_board: Vec<i64>,
    pub late: Vec<LateRide>,
    /// Bookings moved off this vehicle, and the vehicle each went to.
    pub moved: Vec<(i64, i64)>,
    /// Bookings waiting for it (out of service) that no vehicle can take.
    pub stranded: Vec<i64>,
    /// A road closure cut off some of its stops: it keeps its old plan.
    pub cut_off: bool,
}

impl VehicleRoad {
    /// The road state after keeping up: `kept` says what changed now; moves
    /// made earlier today are remembered.
    pub fn after(
        &self,
        present: Option<&Present>,
        kept: &Kept,
        booking_of: &HashMap<RequestId, i64>,
        fleet: &[i64],
        day: ServiceDay,
    ) -> VehicleRoad {
        let booking = |r: &RequestId| booking_of.get(r).copied();
        let mut moved = self.moved.clone();
        for (r, to) in &kept.moved {
            if let (Some(b), Some(&to)) = (booking(r), fleet.get(to.0 as usize)) {
                moved.push((b, to));
            }
        }
        VehicleRoad {
            vehicle_id: self.vehicle_id,
            out_of_service: present.is_some_and(|p| p.out_of_service),
            on_board: present
                .iter()
                .flat_map(|p| p.picked_up.iter().filter(|(r, _)| !p.dropped(*r)))
                .filter_map(|(r, _)| booking(r))
                .collect(),
            late: late_rides(&kept.late, booking_of, day),
            moved,
            stranded: kept.stranded.iter().filter_map(booking).collect(),
            cut_off: false,
        }
    }
}

/// Late bounds in booking ids and Unix seconds.
pub fn late_rides(late: &[Late], booking_of: &HashMap<RequestId, i64>, day: ServiceDay) -> Vec<LateRide> {
    let midnight = day.midnight_unix();
    let unix = |t: f64| midnight + t.round() as i64;
    late.iter()
        .filter_map(|l| {
            Some(LateRide {
                booking_id: *booking_of.get(&l.request)?,
                pickup: l.pickup,
                latest: unix(l.latest),
                eta: unix(l.eta),
            })
        })
        .collect()
}

/// Each vehicle's present (by dispatch index) from its events of `day`, at
/// `now` (Unix). Events about bookings no longer planned (cancelled, or a
/// no-show) keep their time but carry no ride.
pub fn presents(
    day: ServiceDay,
    vehicles: &[Vehicle],
    requests: &[Request],
    booking_of: &HashMap<RequestId, i64>,
    events: &[Vec<VehicleEvent>],
    now: i64,
) -> Vec<Option<Present>> {
    let midnight = day.midnight_unix();
    let request_of: HashMap<i64, &Request> =
        requests.iter().filter_map(|r| Some((*booking_of.get(&r.id)?, r))).collect();
    vehicles
        .iter()
        .zip(events)
        .map(|(vehicle, events)| {
            let road: Vec<RoadEvent<'_>> = events
                .iter()
                .map(|e| RoadEvent {
                    at: (e.at - midnight) as f64,
                    kind: &e.kind,
                    ride: e.kind.booking().and_then(|b| request_of.get(&b)).map(|r| Ride {
                        request: r.id,
                        pickup: r.pickup,
                        dropoff: r.dropoff,
                    }),
                })
                .collect();
            present_of(&road, vehicle.start_depot, (now - midnight) as f64)
        })
        .collect()
}

/// What an operator must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// The vehicle is out of service with riders still depending on it.
    OutOfService { vehicle_id: i64, stranded: Vec<i64>, on_board: Vec<i64>, moved: Vec<(i64, i64)> },
    /// Promises (or ride limits) the vehicle can no longer keep and no other
    /// vehicle could take over: the riders need a call.
    Late { vehicle_id: i64, rides: Vec<LateRide> },
    /// Riders handed to another vehicle that keeps their promise: they
    /// should hear which vehicle now comes.
    Moved { vehicle_id: i64, moved: Vec<(i64, i64)> },
    /// A road closure cut off stops of the vehicle's plan.
    CutOff { vehicle_id: i64 },
}

impl VehicleRoad {
    /// The alerts of this vehicle, most urgent first.
    pub fn alerts(&self) -> Vec<Alert> {
        let mut out = Vec::new();
        let vehicle_id = self.vehicle_id;
        if self.out_of_service && !(self.stranded.is_empty() && self.on_board.is_empty()) {
            out.push(Alert::OutOfService {
                vehicle_id,
                stranded: self.stranded.clone(),
                on_board: self.on_board.clone(),
                moved: self.moved.clone(),
            });
        } else if !self.moved.is_empty() {
            out.push(Alert::Moved { vehicle_id, moved: self.moved.clone() });
        }
        if self.cut_off {
            out.push(Alert::CutOff { vehicle_id });
        }
        let late: Vec<LateRide> =
            self.late.iter().copied().filter(|l| !self.stranded.contains(&l.booking_id)).collect();
        if !late.is_empty() {
            out.push(Alert::Late { vehicle_id, rides: late });
        }
        out
    }
}

/// The road pieces a closure closes on `roads`: the stretch nearest to its
/// point, or every stretch with a part inside its area. An error says why
/// (a point far from any road, an area that is no polygon).
pub fn closed_by(roads: &noriai_roads::RoadNetwork, place: &ClosurePlace) -> Result<Vec<u32>, String> {
    match place {
        ClosurePlace::Point(p) => roads.snap(*p).map(|s| vec![s.piece]).map_err(|e| e.to_string()),
        ClosurePlace::Area(ring) => {
            // The finest service-area cells (about 65 m): closures follow
            // the area to within a cell.
            let area = noriai_zones::ServiceArea::from_polygon(ring, 10).map_err(|e| e.to_string())?;
            Ok(roads.pieces_where(|q| area.contains(q)))
        }
    }
}

/// Every piece closed at some time of `day` still ahead at `now` by
/// `closures`, sorted: a day's plan goes around a closure for the whole day
/// (conservative for one that opens or ends during it) and forgets it once
/// it has ended. A closure whose place no longer resolves closes nothing.
pub fn closed_on(
    roads: &noriai_roads::RoadNetwork,
    closures: &[RoadClosure],
    day: ServiceDay,
    now: i64,
) -> Vec<u32> {
    let (start, end) = (day.midnight_unix().max(now), day.next().midnight_unix());
    let mut pieces: Vec<u32> = closures
        .iter()
        .filter(|c| c.closes_during(start, end))
        .filter_map(|c| closed_by(roads, &c.place).ok())
        .flatten()
        .collect();
    pieces.sort_unstable();
    pieces.dedup();
    pieces
}
