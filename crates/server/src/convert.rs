//! Protobuf ⇄ domain conversion and input validation. Every refusal names the
//! field so a client developer or an operator knows what to fix.

use crate::pb;
use noriai_model::LatLon;
use noriai_model::service::{
    Booking, BookingStatus, FleetVehicle, Needs, Place, PlaceKind, Rider, ServiceDay, StopRecord, Trip,
    TripAsk, TripTime, WindowStage, local_hhmm, local_window,
};
use tonic::Status;

/// INVALID_ARGUMENT naming the field.
pub fn invalid(field: &str, why: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {why}"))
}

pub fn latlon(field: &str, p: Option<&pb::LatLon>) -> Result<LatLon, Status> {
    let p = p.ok_or_else(|| invalid(field, "is required (lat and lon in decimal degrees)"))?;
    LatLon::new(p.lat, p.lon).map_err(|e| invalid(field, e))
}

pub fn latlon_to_pb(p: LatLon) -> pb::LatLon {
    pb::LatLon { lat: p.lat, lon: p.lon }
}

/// Refuses control characters (NUL, escape, …): no backend stores them
/// alike (PostgreSQL refuses NUL), and no name or label needs them. Line
/// breaks are allowed where a text may span lines.
fn no_control_chars(field: &str, s: &str, lines: bool) -> Result<(), Status> {
    match s.chars().enumerate().find(|&(_, c)| c.is_control() && !(lines && matches!(c, '\n' | '\r' | '\t')))
    {
        Some((at, c)) => Err(invalid(
            field,
            format!("contains the control character U+{:04X} at character {}; remove it", c as u32, at + 1),
        )),
        None => Ok(()),
    }
}

/// A one-line text that must be given (a name, a key), trimmed.
pub fn required_text(field: &str, s: &str) -> Result<String, Status> {
    let t = s.trim();
    if t.is_empty() {
        return Err(invalid(field, "is required"));
    }
    if t.chars().count() > 200 {
        return Err(invalid(field, "is longer than 200 characters"));
    }
    no_control_chars(field, t, false)?;
    Ok(t.to_string())
}

/// A text that may be empty and span lines (an address, a note), trimmed.
pub fn optional_text(field: &str, s: &str) -> Result<String, Status> {
    if s.chars().count() > 1000 {
        return Err(invalid(field, "is longer than 1000 characters"));
    }
    no_control_chars(field, s, true)?;
    Ok(s.trim().to_string())
}

/// An idempotency key as given (a UUID or any text up to 200 characters).
pub fn idempotency_key(field: &str, s: &str) -> Result<String, Status> {
    if s.trim().is_empty() || s.chars().count() > 200 {
        return Err(invalid(field, "is required (up to 200 characters, e.g. a UUID)"));
    }
    no_control_chars(field, s, false)?;
    Ok(s.to_string())
}

/// A phone number in its plain form (full-width digits, Japanese dashes and
/// `+81` as an operator may type them are accepted and made plain).
pub fn phone(field: &str, s: &str) -> Result<String, Status> {
    let t = noriai_store::plain_phone(&required_text(field, s)?);
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let allowed = t.chars().all(|c| c.is_ascii_digit() || " -()".contains(c));
    if !allowed || digits < 6 {
        return Err(invalid(
            field,
            format!(
                "`{}` is not a phone number (digits, spaces, hyphens; at least 6 digits)",
                noriai_model::excerpt(&t)
            ),
        ));
    }
    Ok(t)
}

/// A kana reading (hiragana, katakana of either width), stored as katakana.
pub fn reading(field: &str, s: &str) -> Result<String, Status> {
    let t = required_text(field, s)?;
    noriai_store::reading(&t).ok_or_else(|| {
        invalid(
            field,
            format!(
                "`{}` is not a kana reading; write how the name is read in katakana or hiragana, e.g. ヤマダ ハナコ",
                noriai_model::excerpt(&t)
            ),
        )
    })
}

pub fn day(field: &str, s: &str) -> Result<ServiceDay, Status> {
    s.parse().map_err(|e| invalid(field, e))
}

pub fn unix(field: &str, t: Option<&prost_types::Timestamp>) -> Result<i64, Status> {
    let t = t.ok_or_else(|| invalid(field, "is required"))?;
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(invalid(field, "has nanos outside 0..1e9"));
    }
    Ok(t.seconds)
}

pub fn timestamp(unix: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds: unix, nanos: 0 })
}

pub fn needs(n: Option<&pb::Needs>) -> Result<Needs, Status> {
    let n = n.cloned().unwrap_or_default();
    Ok(Needs {
        wheelchair: n.wheelchair,
        companion: n.companion,
        walking_aid: n.walking_aid,
        driver_notes: optional_text("needs.driver_notes", &n.driver_notes)?,
    })
}

pub fn rider_to_pb(r: &Rider) -> pb::Rider {
    pb::Rider {
        id: r.id,
        name: r.name.clone(),
        name_kana: r.name_kana.clone(),
        phone: r.phone.clone(),
        home_address: r.home_address.clone(),
        home: Some(latlon_to_pb(r.home)),
        needs: Some(pb::Needs {
            wheelchair: r.needs.wheelchair,
            companion: r.needs.companion,
            walking_aid: r.needs.walking_aid,
            driver_notes: r.needs.driver_notes.clone(),
        }),
    }
}

pub fn vehicle_to_pb(v: &FleetVehicle) -> pb::Vehicle {
    pb::Vehicle {
        id: v.id,
        name: v.name.clone(),
        seats: v.seats,
        wheelchair_places: v.wheelchair_places,
        depot: Some(latlon_to_pb(v.depot)),
    }
}

pub fn stop_to_pb(s: &StopRecord) -> pb::Stop {
    pb::Stop {
        id: s.id,
        name: s.name.clone(),
        name_kana: s.name_kana.clone(),
        location: Some(latlon_to_pb(s.location)),
    }
}

pub fn place(field: &str, p: Option<&pb::Place>) -> Result<Place, Status> {
    let p = p.ok_or_else(|| invalid(field, "is required: give stop_id or point"))?;
    let kind = match &p.kind {
        Some(pb::place::Kind::StopId(id)) if *id > 0 => PlaceKind::Stop(*id),
        Some(pb::place::Kind::StopId(id)) => {
            return Err(invalid(&format!("{field}.stop_id"), format!("{id} is not a stop id")));
        }
        Some(pb::place::Kind::Point(ll)) => PlaceKind::Point(latlon(&format!("{field}.point"), Some(ll))?),
        None => return Err(invalid(field, "is required: give stop_id or point")),
    };
    Ok(Place { kind, label: optional_text(&format!("{field}.label"), &p.label)? })
}

pub fn place_to_pb(p: &Place) -> pb::Place {
    pb::Place {
        kind: Some(match p.kind {
            PlaceKind::Stop(id) => pb::place::Kind::StopId(id),
            PlaceKind::Point(ll) => pb::place::Kind::Point(latlon_to_pb(ll)),
        }),
        label: p.label.clone(),
    }
}

/// Checks a trip's shape (not yet whether the rider, stops or area allow it).
pub fn trip(field: &str, t: Option<&pb::Trip>) -> Result<TripAsk, Status> {
    let t = t.ok_or_else(|| invalid(field, "is required"))?;
    if t.rider_id <= 0 {
        return Err(invalid(&format!("{field}.rider_id"), "is required"));
    }
    let time = match &t.time {
        Some(pb::trip::Time::DepartAfter(ts)) => {
            TripTime::DepartAfter(unix(&format!("{field}.depart_after"), Some(ts))?)
        }
        Some(pb::trip::Time::ArriveBy(ts)) => {
            TripTime::ArriveBy(unix(&format!("{field}.arrive_by"), Some(ts))?)
        }
        None => return Err(invalid(field, "give depart_after or arrive_by")),
    };
    if t.seats == Some(0) && t.wheelchair_places.is_none_or(|w| w == 0) {
        return Err(invalid(&format!("{field}.seats"), "must be at least 1 (or ask for a wheelchair place)"));
    }
    if t.seats.is_some_and(|s| s > 20) || t.wheelchair_places.is_some_and(|w| w > 4) {
        return Err(invalid(
            &format!("{field}.seats"),
            "more places than any shared vehicle has; book a group trip with the operator",
        ));
    }
    Ok(TripAsk {
        rider_id: t.rider_id,
        origin: place(&format!("{field}.origin"), t.origin.as_ref())?,
        destination: place(&format!("{field}.destination"), t.destination.as_ref())?,
        time,
        seats: t.seats,
        wheelchair_places: t.wheelchair_places,
    })
}

pub fn trip_to_pb(t: &Trip) -> pb::Trip {
    pb::Trip {
        rider_id: t.rider_id,
        origin: Some(place_to_pb(&t.origin)),
        destination: Some(place_to_pb(&t.destination)),
        time: Some(match t.time {
            TripTime::DepartAfter(s) => {
                pb::trip::Time::DepartAfter(prost_types::Timestamp { seconds: s, nanos: 0 })
            }
            TripTime::ArriveBy(s) => {
                pb::trip::Time::ArriveBy(prost_types::Timestamp { seconds: s, nanos: 0 })
            }
        }),
        seats: Some(t.seats),
        wheelchair_places: Some(t.wheelchair_places),
    }
}

pub fn booking_to_pb(b: &Booking) -> pb::Booking {
    pb::Booking {
        id: b.id,
        trip: Some(trip_to_pb(&b.trip)),
        status: match b.status {
            BookingStatus::Confirmed => pb::BookingStatus::Confirmed,
            BookingStatus::Cancelled => pb::BookingStatus::Cancelled,
        } as i32,
        day: b.day.to_string(),
        pickup_window_start: timestamp(b.pickup_window.0),
        pickup_window_end: timestamp(b.pickup_window.1),
        expected_arrival: timestamp(b.expected_arrival),
        recurrence_id: b.recurrence_id.unwrap_or(0),
        vehicle_id: b.vehicle_id,
        pickup_window_local: local_window(b.pickup_window.0, b.pickup_window.1),
        window_stage: match b.window {
            WindowStage::Wide => pb::WindowStage::Wide,
            WindowStage::ToTell => pb::WindowStage::ToTell,
            WindowStage::Final => pb::WindowStage::Final,
        } as i32,
        expected_arrival_local: local_hhmm(b.expected_arrival),
        wide_window_local: b.wide_window.map(|(start, end)| local_window(start, end)).unwrap_or_default(),
        // Without the road's events and plans: see `driver::with_ride_status`.
        ride_status: match b.status {
            BookingStatus::Confirmed => pb::RideStatus::Scheduled,
            BookingStatus::Cancelled => pb::RideStatus::Cancelled,
        } as i32,
        pickup_eta: None,
        pickup_eta_local: String::new(),
        late: false,
    }
}
