//! Records of the booking service: riders, fleet, stops, trips and bookings.
//! These are what operators, drivers and the store see; the dispatch engine
//! works on [`crate::Request`] and [`crate::Vehicle`] derived from them.

use crate::LatLon;
use serde::{Deserialize, Serialize};

/// Japan has no daylight saving: Asia/Tokyo is always UTC+9.
pub const TOKYO_OFFSET_S: i64 = 9 * 3600;

/// A service day in Asia/Tokyo, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServiceDay(pub i32);

/// Why a day or a time of day was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DayError {
    #[error("`{}` is not a day; write YYYY-MM-DD, e.g. 2026-12-01", crate::excerpt(.0))]
    Day(String),
    #[error("`{}` is not a time of day; write HH:MM, e.g. 09:30", crate::excerpt(.0))]
    Time(String),
}

impl ServiceDay {
    /// The service day a Unix time falls on.
    pub fn of_unix(t: i64) -> Self {
        Self((t + TOKYO_OFFSET_S).div_euclid(86_400) as i32)
    }
    /// Unix time of local midnight starting this day.
    pub fn midnight_unix(self) -> i64 {
        self.0 as i64 * 86_400 - TOKYO_OFFSET_S
    }
    /// Unix time of a local time of day (seconds after midnight).
    pub fn at(self, seconds_of_day: u32) -> i64 {
        self.midnight_unix() + seconds_of_day as i64
    }
    /// Day of the week, 1 = Monday … 7 = Sunday (1970-01-01 was a Thursday).
    pub fn weekday(self) -> u32 {
        ((self.0 as i64 + 3).rem_euclid(7) + 1) as u32
    }
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
    /// (year, month, day) by Howard Hinnant's civil-from-days algorithm.
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = self.0 as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = (yoe + era * 400 + if m <= 2 { 1 } else { 0 }) as i32;
        (y, m, d)
    }
    /// The day of a calendar date, if the date exists.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Option<Self> {
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        let y = if m <= 2 { y as i64 - 1 } else { y as i64 };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
        let doy = (153 * mp + 2) / 5 + d as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Self((era * 146_097 + doe - 719_468) as i32))
    }
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl std::fmt::Display for ServiceDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl std::str::FromStr for ServiceDay {
    type Err = DayError;
    fn from_str(s: &str) -> Result<Self, DayError> {
        let err = || DayError::Day(s.to_string());
        let mut parts = s.trim().splitn(3, '-');
        let mut next = || parts.next().ok_or_else(err);
        let (y, m, d) = (next()?, next()?, next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(err());
        }
        let (y, m, d) =
            (y.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?, d.parse().map_err(|_| err())?);
        Self::from_ymd(y, m, d).ok_or_else(err)
    }
}

/// Parses a local time of day "HH:MM" (00:00..=24:00) into seconds after midnight.
pub fn parse_time_of_day(s: &str) -> Result<u32, DayError> {
    let err = || DayError::Time(s.to_string());
    let (h, m) = s.trim().split_once(':').ok_or_else(err)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(err());
    }
    Ok(h * 3600 + m * 60)
}

/// Formats seconds after midnight as "HH:MM".
pub fn format_time_of_day(s: u32) -> String {
    format!("{:02}:{:02}", s / 3600, (s % 3600) / 60)
}

/// What a rider needs so the vehicle and driver are ready.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Needs {
    pub wheelchair: bool,
    pub companion: bool,
    pub walking_aid: bool,
    pub driver_notes: String,
}

/// A registered rider. Names carry their kana reading so operators can search
/// the way callers say them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rider {
    pub id: i64,
    pub name: String,
    pub name_kana: String,
    pub phone: String,
    pub home_address: String,
    pub home: LatLon,
    pub needs: Needs,
}

/// One municipality's on-demand service. Riders, vehicles, stops, bookings
/// and the service area belong to exactly one; nothing crosses between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TownService {
    pub id: i64,
    pub name: String,
    pub name_kana: String,
    /// The number riders call to book.
    pub operator_phone: String,
    pub created_at: i64,
    pub rules: BookingRules,
    /// The fare per rider (each seat and wheelchair place), in yen; 0: free.
    pub fare_yen: u32,
}

impl TownService {
    pub const MAX_FARE_YEN: u32 = 100_000;
}

/// A service's booking rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingRules {
    /// How many days ahead a ride may be booked (0: today only).
    pub book_days_ahead: u32,
    /// Booking closes this many minutes before the asked time.
    pub cutoff_minutes: u32,
    /// Riders who book for a later day are first told a window this many
    /// minutes either side of the planned pickup.
    pub prebooking_window_minutes: u32,
}

impl BookingRules {
    pub const MAX_DAYS_AHEAD: u32 = 366;
    pub const MAX_CUTOFF_MINUTES: u32 = 1440;
    pub const MAX_WINDOW_MINUTES: u32 = 720;

    /// The first rule out of range, as (field, allowed range).
    pub fn out_of_range(&self) -> Option<(&'static str, String)> {
        if self.book_days_ahead > Self::MAX_DAYS_AHEAD {
            return Some(("book_days_ahead", format!("0..={}", Self::MAX_DAYS_AHEAD)));
        }
        if self.cutoff_minutes > Self::MAX_CUTOFF_MINUTES {
            return Some(("cutoff_minutes", format!("0..={}", Self::MAX_CUTOFF_MINUTES)));
        }
        if self.prebooking_window_minutes > Self::MAX_WINDOW_MINUTES {
            return Some(("prebooking_window_minutes", format!("0..={}", Self::MAX_WINDOW_MINUTES)));
        }
        None
    }
}

impl Default for BookingRules {
    /// A month ahead, up to the asked time, a 30-minute wide window.
    fn default() -> Self {
        Self { book_days_ahead: 31, cutoff_minutes: 0, prebooking_window_minutes: 30 }
    }
}

/// A vehicle of the fleet as operators register it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetVehicle {
    pub id: i64,
    pub name: String,
    pub seats: u32,
    pub wheelchair_places: u32,
    pub depot: LatLon,
}

/// A vehicle's working hours on one day, in seconds after local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub vehicle_id: i64,
    pub day: ServiceDay,
    pub start_s: u32,
    pub end_s: u32,
}

/// A virtual stop (meeting point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopRecord {
    pub id: i64,
    pub name: String,
    pub name_kana: String,
    pub location: LatLon,
}

/// Where a trip starts or ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PlaceKind {
    Stop(i64),
    Point(LatLon),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub kind: PlaceKind,
    pub label: String,
}

/// When the rider wants to travel (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TripTime {
    DepartAfter(i64),
    ArriveBy(i64),
}

impl TripTime {
    pub fn unix(self) -> i64 {
        match self {
            TripTime::DepartAfter(t) | TripTime::ArriveBy(t) => t,
        }
    }
}

/// What a rider asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trip {
    pub rider_id: i64,
    pub origin: Place,
    pub destination: Place,
    pub time: TripTime,
    pub seats: u32,
    pub wheelchair_places: u32,
}

/// A trip as asked for. Places not given come from the rider's needs, so a
/// wheelchair user is never booked without a wheelchair place by accident.
#[derive(Debug, Clone, PartialEq)]
pub struct TripAsk {
    pub rider_id: i64,
    pub origin: Place,
    pub destination: Place,
    pub time: TripTime,
    pub seats: Option<u32>,
    pub wheelchair_places: Option<u32>,
}

impl TripAsk {
    /// The trip for a rider with `needs`: a wheelchair user rides in a
    /// wheelchair place and needs no seat of their own, anyone else one
    /// seat; a usual companion takes one more seat. Given values win.
    pub fn for_rider(&self, needs: &Needs) -> Trip {
        let wheelchair_places = self.wheelchair_places.unwrap_or(u32::from(needs.wheelchair));
        let own_seat = !(needs.wheelchair && wheelchair_places > 0);
        let seats = self.seats.unwrap_or(u32::from(own_seat) + u32::from(needs.companion));
        self.with_places(seats, wheelchair_places)
    }

    /// The trip with both places given, if they are: what can be priced
    /// without the rider's record.
    pub fn as_given(&self) -> Option<Trip> {
        Some(self.with_places(self.seats?, self.wheelchair_places?))
    }

    fn with_places(&self, seats: u32, wheelchair_places: u32) -> Trip {
        Trip {
            rider_id: self.rider_id,
            origin: self.origin.clone(),
            destination: self.destination.clone(),
            time: self.time,
            seats,
            wheelchair_places,
        }
    }

    /// Whether `trip` is what this ask became: the same places and time, and
    /// the same seats and wheelchair places where the ask gave them (an
    /// idempotent retry must find its booking).
    pub fn matches(&self, trip: &Trip) -> bool {
        self.rider_id == trip.rider_id
            && self.origin == trip.origin
            && self.destination == trip.destination
            && self.time == trip.time
            && self.seats.is_none_or(|s| s == trip.seats)
            && self.wheelchair_places.is_none_or(|w| w == trip.wheelchair_places)
    }
}

/// A local (Asia/Tokyo) clock time `HH:MM` of a Unix time, for people to read.
pub fn local_hhmm(unix: i64) -> String {
    let day = ServiceDay::of_unix(unix);
    format_time_of_day((unix - day.midnight_unix()).clamp(0, 86_399) as u32)
}

/// A local window `HH:MM–HH:MM` (the end with `+1` if it is on the next day).
pub fn local_window(start: i64, end: i64) -> String {
    let next_day = ServiceDay::of_unix(end) != ServiceDay::of_unix(start);
    format!("{}–{}{}", local_hhmm(start), local_hhmm(end), if next_day { " +1" } else { "" })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BookingStatus {
    Confirmed,
    Cancelled,
}

/// An accepted trip with its promise. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booking {
    pub id: i64,
    pub trip: Trip,
    pub status: BookingStatus,
    pub day: ServiceDay,
    /// The promise: pickup within this window.
    pub pickup_window: (i64, i64),
    /// Whether that window is final and the rider knows it.
    pub window: WindowStage,
    /// The wide window told at booking, for a booking made for a later day;
    /// kept after the evening narrows `pickup_window` to the final one.
    pub wide_window: Option<(i64, i64)>,
    pub expected_arrival: i64,
    pub vehicle_id: i64,
    pub recurrence_id: Option<i64>,
    pub idempotency_key: String,
}

/// Which pickup window a rider has been told. A rider booking for a later
/// day is told a wide window; the evening before, the batch plans inside it
/// and narrows it to the final one, which an operator then tells the rider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowStage {
    /// The wide window told at booking, to be narrowed the evening before.
    Wide,
    /// Narrowed by the evening batch; the rider has not been told yet.
    ToTell,
    /// The final window, and the rider knows it.
    Final,
}

impl WindowStage {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            WindowStage::Wide => "wide",
            WindowStage::ToTell => "to_tell",
            WindowStage::Final => "final",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [WindowStage::Wide, WindowStage::ToTell, WindowStage::Final].into_iter().find(|s| s.name() == name)
    }
}

/// Whether a planned stop picks a rider up or drops them off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopAction {
    Pickup,
    Dropoff,
}

/// One stop of a vehicle's stored plan for a day, in visiting order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStop {
    pub booking_id: i64,
    pub action: StopAction,
    /// Planned start of service (Unix seconds).
    pub eta: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_know_their_weekday() {
        let d: ServiceDay = "2026-11-24".parse().unwrap();
        assert_eq!(d.to_string(), "2026-11-24");
        assert_eq!(d.weekday(), 2, "24 Nov 2026 is a Tuesday");
        assert_eq!("1970-01-01".parse::<ServiceDay>().unwrap(), ServiceDay(0));
        assert_eq!("2024-02-29".parse::<ServiceDay>().unwrap().next().to_string(), "2024-03-01");
        assert!("2026-02-29".parse::<ServiceDay>().is_err());
        assert!("2026-1-5".parse::<ServiceDay>().is_err());
        assert!("tomorrow".parse::<ServiceDay>().is_err());
        for k in -1000..1000 {
            let day = ServiceDay(19_000 + k * 7);
            assert_eq!(day.to_string().parse::<ServiceDay>().unwrap(), day);
        }
    }

    #[test]
    fn tokyo_days_start_at_15_utc() {
        let d: ServiceDay = "2026-11-24".parse().unwrap();
        // 2026-11-24 00:00 JST = 2026-11-23 15:00 UTC = 1_795_446_000.
        assert_eq!(d.midnight_unix(), 1_795_446_000);
        assert_eq!(ServiceDay::of_unix(d.midnight_unix()), d);
        assert_eq!(ServiceDay::of_unix(d.midnight_unix() - 1), ServiceDay(d.0 - 1));
        assert_eq!(parse_time_of_day("09:30").unwrap(), 34_200);
        assert_eq!(format_time_of_day(34_200), "09:30");
        // 00:30 UTC is 09:30 in Aomori.
        let day: ServiceDay = "2026-12-01".parse().expect("day");
        assert_eq!(local_hhmm(day.at(34_200)), "09:30");
        assert_eq!(local_window(day.at(34_200), day.at(34_800)), "09:30–09:40");
        assert_eq!(local_window(day.at(86_000), day.at(86_400 + 600)), "23:53–00:10 +1");
        assert!(parse_time_of_day("25:00").is_err());
        assert!(parse_time_of_day("9h").is_err());
    }
}

#[cfg(test)]
mod trip_ask_tests {
    use super::*;

    fn ask(seats: Option<u32>, wheelchair_places: Option<u32>) -> TripAsk {
        let place = Place { kind: PlaceKind::Stop(1), label: String::new() };
        TripAsk {
            rider_id: 1,
            origin: place.clone(),
            destination: place,
            time: TripTime::DepartAfter(0),
            seats,
            wheelchair_places,
        }
    }

    fn needs(wheelchair: bool, companion: bool) -> Needs {
        Needs { wheelchair, companion, walking_aid: false, driver_notes: String::new() }
    }

    #[test]
    fn places_follow_the_riders_needs_unless_given() {
        let places = |a: TripAsk, n: Needs| {
            let t = a.for_rider(&n);
            (t.seats, t.wheelchair_places)
        };
        assert_eq!(places(ask(None, None), needs(false, false)), (1, 0));
        assert_eq!(places(ask(None, None), needs(true, false)), (0, 1));
        assert_eq!(places(ask(None, None), needs(true, true)), (1, 1));
        assert_eq!(places(ask(None, None), needs(false, true)), (2, 0));
        // Given values win; a wheelchair user asked without a wheelchair place takes a seat.
        assert_eq!(places(ask(Some(3), None), needs(true, false)), (3, 1));
        assert_eq!(places(ask(None, Some(0)), needs(true, false)), (1, 0));
        assert_eq!(places(ask(Some(1), Some(0)), needs(true, true)), (1, 0));
    }

    #[test]
    fn a_retry_matches_the_trip_it_became() {
        let t = ask(None, None).for_rider(&needs(true, true));
        assert!(ask(None, None).matches(&t));
        assert!(ask(Some(1), None).matches(&t));
        assert!(!ask(Some(2), None).matches(&t));
        assert!(!ask(None, Some(0)).matches(&t));
    }
}
