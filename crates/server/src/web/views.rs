//! What the console's JSON says: the gRPC answers in the shapes the page
//! draws, with local times as people read them and states as words.

use crate::pb;
use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

impl Point {
    pub fn of(p: Option<&pb::LatLon>) -> Option<Point> {
        p.map(|p| Point { lat: p.lat, lon: p.lon })
    }

    pub fn to_pb(self) -> pb::LatLon {
        pb::LatLon { lat: self.lat, lon: self.lon }
    }
}

#[derive(Debug, Serialize)]
pub struct NeedsView {
    pub wheelchair: bool,
    pub companion: bool,
    pub walking_aid: bool,
    pub driver_notes: String,
}

#[derive(Debug, Serialize)]
pub struct RiderView {
    pub id: i64,
    pub name: String,
    pub name_kana: String,
    pub phone: String,
    pub home_address: String,
    pub home: Option<Point>,
    pub needs: NeedsView,
}

impl From<&pb::Rider> for RiderView {
    fn from(r: &pb::Rider) -> RiderView {
        let n = r.needs.clone().unwrap_or_default();
        RiderView {
            id: r.id,
            name: r.name.clone(),
            name_kana: r.name_kana.clone(),
            phone: r.phone.clone(),
            home_address: r.home_address.clone(),
            home: Point::of(r.home.as_ref()),
            needs: NeedsView {
                wheelchair: n.wheelchair,
                companion: n.companion,
                walking_aid: n.walking_aid,
                driver_notes: n.driver_notes,
            },
        }
    }
}

/// A trip's end: a meeting point or a point, with the label the driver reads.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct PlaceView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<Point>,
    #[serde(default)]
    pub label: String,
}

impl PlaceView {
    pub fn of(p: Option<&pb::Place>) -> PlaceView {
        let Some(p) = p else { return PlaceView { stop_id: None, point: None, label: String::new() } };
        let (stop_id, point) = match &p.kind {
            Some(pb::place::Kind::StopId(id)) => (Some(*id), None),
            Some(pb::place::Kind::Point(ll)) => (None, Some(Point { lat: ll.lat, lon: ll.lon })),
            None => (None, None),
        };
        PlaceView { stop_id, point, label: p.label.clone() }
    }

    pub fn to_pb(&self) -> pb::Place {
        let kind = match (self.stop_id, self.point) {
            (Some(id), _) => Some(pb::place::Kind::StopId(id)),
            (None, Some(p)) => Some(pb::place::Kind::Point(p.to_pb())),
            (None, None) => None,
        };
        pb::Place { kind, label: self.label.clone() }
    }
}

#[derive(Debug, Serialize)]
pub struct OfferView {
    pub offer_id: String,
    pub day: String,
    pub pickup_window_local: String,
    pub expected_arrival_local: String,
    pub ride_minutes: f64,
    pub fare_yen: u32,
}

impl From<&pb::Offer> for OfferView {
    fn from(o: &pb::Offer) -> OfferView {
        OfferView {
            offer_id: o.offer_id.clone(),
            day: o.day.clone(),
            pickup_window_local: o.pickup_window_local.clone(),
            expected_arrival_local: o.expected_arrival_local.clone(),
            ride_minutes: (o.ride_minutes * 10.0).round() / 10.0,
            fare_yen: o.fare_yen,
        }
    }
}

/// The ride's progress as one word.
pub fn ride_status(s: i32) -> &'static str {
    match pb::RideStatus::try_from(s).unwrap_or(pb::RideStatus::Unspecified) {
        pb::RideStatus::Unspecified => "unknown",
        pb::RideStatus::Scheduled => "scheduled",
        pb::RideStatus::Arrived => "arrived",
        pb::RideStatus::OnBoard => "on_board",
        pb::RideStatus::Completed => "completed",
        pb::RideStatus::NoShow => "no_show",
        pb::RideStatus::Cancelled => "cancelled",
    }
}

#[derive(Debug, Serialize)]
pub struct BookingView {
    pub id: i64,
    pub rider_id: i64,
    /// Filled on the board for riders the viewer may see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rider_name: Option<String>,
    pub cancelled: bool,
    pub ride_status: &'static str,
    pub day: String,
    pub pickup_window_local: String,
    pub expected_arrival_local: String,
    pub pickup_eta_local: String,
    pub late: bool,
    pub vehicle_id: i64,
    pub origin: PlaceView,
    pub destination: PlaceView,
    /// The window still has to be told to the rider (set the evening before).
    pub to_tell: bool,
    pub recurring: bool,
}

impl From<&pb::Booking> for BookingView {
    fn from(b: &pb::Booking) -> BookingView {
        let trip = b.trip.clone().unwrap_or_default();
        BookingView {
            id: b.id,
            rider_id: trip.rider_id,
            rider_name: None,
            cancelled: b.status == pb::BookingStatus::Cancelled as i32,
            ride_status: ride_status(b.ride_status),
            day: b.day.clone(),
            pickup_window_local: b.pickup_window_local.clone(),
            expected_arrival_local: b.expected_arrival_local.clone(),
            pickup_eta_local: b.pickup_eta_local.clone(),
            late: b.late,
            vehicle_id: b.vehicle_id,
            origin: PlaceView::of(trip.origin.as_ref()),
            destination: PlaceView::of(trip.destination.as_ref()),
            to_tell: b.window_stage == pb::WindowStage::ToTell as i32,
            recurring: b.recurrence_id != 0,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct VehicleView {
    pub id: i64,
    pub name: String,
    pub position: Option<Point>,
    pub last_event: String,
    pub last_event_local: String,
    pub delay_minutes: u32,
    pub delay_reason: String,
}

/// Someone to call back about an alert.
#[derive(Debug, Serialize)]
pub struct CallBack {
    pub booking_id: i64,
    pub rider_name: String,
    pub phone: String,
}

#[derive(Debug, Serialize)]
pub struct AlertView {
    pub text: String,
    pub vehicle_id: i64,
    pub booking_ids: Vec<i64>,
    pub call: Vec<CallBack>,
}

#[derive(Debug, Serialize)]
pub struct BoardView {
    pub version: u64,
    pub day: String,
    pub winter: bool,
    pub bookings: Vec<BookingView>,
    pub vehicles: Vec<VehicleView>,
    pub alerts: Vec<AlertView>,
}

#[derive(Debug, Serialize)]
pub struct ManifestStopView {
    pub booking_id: i64,
    pub pickup: bool,
    pub planned_local: String,
    pub promised_window_local: String,
    pub location: Option<Point>,
    pub place_label: String,
    pub rider_name: String,
    pub rider_name_kana: String,
    pub rider_phone: String,
    pub seats: u32,
    pub wheelchair_places: u32,
    pub walking_aid: bool,
    pub driver_notes: String,
    pub status: &'static str,
    pub done: bool,
    pub late: bool,
}

#[derive(Debug, Serialize)]
pub struct ManifestView {
    pub version: u64,
    pub vehicle_id: i64,
    pub vehicle_name: String,
    pub day: String,
    pub stops: Vec<ManifestStopView>,
    /// The road to the next stop, as [lat, lon] points.
    pub next_leg: Vec<[f64; 2]>,
    pub position: Option<Point>,
}

impl From<&pb::Manifest> for ManifestView {
    fn from(m: &pb::Manifest) -> ManifestView {
        ManifestView {
            version: m.version,
            vehicle_id: m.vehicle_id,
            vehicle_name: m.vehicle_name.clone(),
            day: m.day.clone(),
            stops: m
                .stops
                .iter()
                .map(|s| ManifestStopView {
                    booking_id: s.booking_id,
                    pickup: s.action == pb::StopAction::Pickup as i32,
                    planned_local: s.planned_local.clone(),
                    promised_window_local: s.promised_window_local.clone(),
                    location: Point::of(s.location.as_ref()),
                    place_label: s.place_label.clone(),
                    rider_name: s.rider_name.clone(),
                    rider_name_kana: s.rider_name_kana.clone(),
                    rider_phone: s.rider_phone.clone(),
                    seats: s.seats,
                    wheelchair_places: s.wheelchair_places,
                    walking_aid: s.walking_aid,
                    driver_notes: s.driver_notes.clone(),
                    status: ride_status(s.status),
                    done: s.done,
                    late: s.late,
                })
                .collect(),
            next_leg: leg_points(&m.next_leg_geojson),
            position: Point::of(m.last_position.as_ref()),
        }
    }
}

/// The points of a GeoJSON LineString (lon, lat order) as [lat, lon].
fn leg_points(geojson: &str) -> Vec<[f64; 2]> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(geojson) else { return Vec::new() };
    let coordinates = v.get("coordinates").or_else(|| v.pointer("/geometry/coordinates"));
    coordinates
        .and_then(|c| c.as_array())
        .map(|points| {
            points.iter().filter_map(|p| Some([p.get(1)?.as_f64()?, p.get(0)?.as_f64()?])).collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leg_reads_as_lat_lon() {
        let g = r#"{"type":"LineString","coordinates":[[9.52,47.14],[9.53,47.15]]}"#;
        assert_eq!(leg_points(g), vec![[47.14, 9.52], [47.15, 9.53]]);
        let f = r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1.0,2.0]]}}"#;
        assert_eq!(leg_points(f), vec![[2.0, 1.0]]);
        assert!(leg_points("").is_empty());
    }

    #[test]
    fn places_go_back_as_they_came() {
        let stop = PlaceView { stop_id: Some(4), point: None, label: "clinic".into() };
        assert_eq!(PlaceView::of(Some(&stop.to_pb())), stop);
        let door =
            PlaceView { stop_id: None, point: Some(Point { lat: 47.1, lon: 9.5 }), label: String::new() };
        assert_eq!(PlaceView::of(Some(&door.to_pb())), door);
    }
}
