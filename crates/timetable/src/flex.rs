//! GTFS-Flex: each on-demand service as open data, so trip planners
//! (OpenTripPlanner and others) find it: its area as a zone in
//! `locations.geojson`, a trip whose two stop times let riders be picked
//! up and set down anywhere in the zone during service hours, its booking
//! rules (book ahead by phone), the fare, and kana readings. Pure: the
//! caller writes the files.

use chrono::NaiveDate;
use noriai_model::LatLon;

/// What a feed says of one on-demand service.
#[derive(Debug, Clone)]
pub struct FlexService {
    pub id: i64,
    pub name: String,
    /// The name's kana reading.
    pub reading: String,
    /// The number riders call to book.
    pub phone: String,
    /// Where riders read about it (GTFS requires a URL).
    pub url: String,
    /// Polygons, each its outer ring then its holes.
    pub area: Vec<Vec<Vec<LatLon>>>,
    /// Service hours: seconds after midnight of the first start and the last end.
    pub hours: (u32, u32),
    /// The days the fleet has shifts (the feed publishes exactly these).
    pub days: Vec<NaiveDate>,
    /// Booking: up to this many days ahead, closing this many minutes before.
    pub book_days_ahead: u32,
    pub cutoff_minutes: u32,
    pub fare_yen: u32,
    /// Meeting points riders may also use, as (id, name, reading, place).
    pub stops: Vec<(i64, String, String, LatLon)>,
}

/// A whole feed of on-demand services, valid `from`–`until`, in `timezone`.
#[derive(Debug, Clone)]
pub struct FlexFeed {
    pub publisher: String,
    pub url: String,
    pub timezone: String,
    pub from: NaiveDate,
    pub until: NaiveDate,
    pub services: Vec<FlexService>,
}

fn csv_file(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail; the rows all have the header's width.
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(r);
    }
    w.into_inner().unwrap_or_default()
}

fn hms(s: u32) -> String {
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn json_text(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How to book, in Japanese and English.
fn booking_message(x: &FlexService) -> String {
    let m = x.cutoff_minutes;
    match (x.phone.is_empty(), m) {
        (true, 0) => "お電話でご予約ください。Book by phone.".into(),
        (true, m) => {
            format!("{m}分前までにお電話でご予約ください。Book by phone at least {m} minutes ahead.")
        }
        (false, 0) => format!("{} へお電話でご予約ください。Call {} to book.", x.phone, x.phone),
        (false, m) => format!(
            "{m}分前までに {} へお電話でご予約ください。Call {} at least {m} minutes ahead.",
            x.phone, x.phone
        ),
    }
}

/// The zone id of service `id` in `locations.geojson` and `stop_times.txt`.
pub fn zone_id(id: i64) -> String {
    format!("area-{id}")
}

impl FlexFeed {
    /// The feed's files, by name.
    pub fn files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let s = &self.services;
        let day = |d: NaiveDate| d.format("%Y%m%d").to_string();
        let agency = csv_file(
            &["agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang", "agency_phone"],
            &s.iter()
                .map(|x| {
                    vec![
                        x.id.to_string(),
                        x.name.clone(),
                        x.url.clone(),
                        self.timezone.clone(),
                        "ja".into(),
                        x.phone.clone(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        // 715: Demand and Response Bus Service.
        let routes = csv_file(
            &["route_id", "agency_id", "route_short_name", "route_long_name", "route_type"],
            &s.iter()
                .map(|x| {
                    vec![
                        format!("ondemand-{}", x.id),
                        x.id.to_string(),
                        String::new(),
                        x.name.clone(),
                        "715".into(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        // Exactly the days the fleet has shifts, each service its own.
        let calendar_dates = csv_file(
            &["service_id", "date", "exception_type"],
            &s.iter()
                .flat_map(|x| x.days.iter().map(move |d| vec![format!("days-{}", x.id), day(*d), "1".into()]))
                .collect::<Vec<_>>(),
        );
        let trips = csv_file(
            &["route_id", "service_id", "trip_id"],
            &s.iter()
                .map(|x| {
                    vec![
                        format!("ondemand-{}", x.id),
                        format!("days-{}", x.id),
                        format!("ondemand-{}-trip", x.id),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        let stops = csv_file(
            &["stop_id", "stop_name", "stop_lat", "stop_lon"],
            &s.iter()
                .flat_map(|x| {
                    x.stops.iter().map(move |(id, name, _, p)| {
                        vec![
                            format!("s{}-{id}", x.id),
                            name.clone(),
                            format!("{:.6}", p.lat),
                            format!("{:.6}", p.lon),
                        ]
                    })
                })
                .collect::<Vec<_>>(),
        );
        // Picked up anywhere in the zone (call ahead), set down anywhere in it.
        let mut stop_times = Vec::new();
        for x in s {
            let (open, close) = (hms(x.hours.0), hms(x.hours.1));
            for (seq, pickup, dropoff) in [("1", "2", "1"), ("2", "1", "2")] {
                stop_times.push(vec![
                    format!("ondemand-{}-trip", x.id),
                    zone_id(x.id),
                    String::new(),
                    seq.into(),
                    String::new(),
                    String::new(),
                    open.clone(),
                    close.clone(),
                    pickup.into(),
                    dropoff.into(),
                    format!("book-{}", x.id),
                    format!("book-{}", x.id),
                ]);
            }
        }
        let stop_times = csv_file(
            &[
                "trip_id",
                "location_id",
                "stop_id",
                "stop_sequence",
                "arrival_time",
                "departure_time",
                "start_pickup_drop_off_window",
                "end_pickup_drop_off_window",
                "pickup_type",
                "drop_off_type",
                "pickup_booking_rule_id",
                "drop_off_booking_rule_id",
            ],
            &stop_times,
        );
        // Type 1: booked the same day up to a notice; the notice's maximum is the days ahead.
        let booking_rules = csv_file(
            &[
                "booking_rule_id",
                "booking_type",
                "prior_notice_duration_min",
                "prior_notice_duration_max",
                "message",
                "phone_number",
                "info_url",
            ],
            &s.iter()
                .map(|x| {
                    vec![
                        format!("book-{}", x.id),
                        "1".into(),
                        x.cutoff_minutes.to_string(),
                        (x.book_days_ahead.max(1) * 1440).to_string(),
                        booking_message(x),
                        x.phone.clone(),
                        x.url.clone(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        let fares = csv_file(
            &["fare_id", "price", "currency_type", "payment_method", "transfers", "agency_id"],
            &s.iter()
                .map(|x| {
                    vec![
                        format!("fare-{}", x.id),
                        x.fare_yen.to_string(),
                        "JPY".into(),
                        "0".into(),
                        "0".into(),
                        x.id.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        let fare_rules = csv_file(
            &["fare_id", "route_id"],
            &s.iter()
                .map(|x| vec![format!("fare-{}", x.id), format!("ondemand-{}", x.id)])
                .collect::<Vec<_>>(),
        );
        let mut translations = Vec::new();
        for x in s {
            let tr = |table: &str, field: &str, id: String, text: &str| {
                vec![
                    table.to_string(),
                    field.to_string(),
                    "ja-Hrkt".to_string(),
                    text.to_string(),
                    id,
                    String::new(),
                    String::new(),
                ]
            };
            if !x.reading.is_empty() {
                translations.push(tr("agency", "agency_name", x.id.to_string(), &x.reading));
                translations.push(tr("routes", "route_long_name", format!("ondemand-{}", x.id), &x.reading));
            }
            for (id, _, reading, _) in &x.stops {
                if !reading.is_empty() {
                    translations.push(tr("stops", "stop_name", format!("s{}-{id}", x.id), reading));
                }
            }
        }
        let translations = csv_file(
            &[
                "table_name",
                "field_name",
                "language",
                "translation",
                "record_id",
                "record_sub_id",
                "field_value",
            ],
            &translations,
        );
        let feed_info = csv_file(
            &["feed_publisher_name", "feed_publisher_url", "feed_lang", "feed_start_date", "feed_end_date"],
            &[vec![self.publisher.clone(), self.url.clone(), "ja".into(), day(self.from), day(self.until)]],
        );
        let features: Vec<String> = s
            .iter()
            .map(|x| {
                let polygons: Vec<String> = x
                    .area
                    .iter()
                    .map(|rings| {
                        let rings: Vec<String> = rings
                            .iter()
                            .map(|r| {
                                let pts: Vec<String> = r.iter().map(|p| format!("[{:.6},{:.6}]", p.lon, p.lat)).collect();
                                format!("[{}]", pts.join(","))
                            })
                            .collect();
                        format!("[{}]", rings.join(","))
                    })
                    .collect();
                format!(
                    "{{\"type\":\"Feature\",\"id\":{},\"properties\":{{\"stop_name\":{},\"stop_desc\":{}}},\"geometry\":{{\"type\":\"MultiPolygon\",\"coordinates\":[{}]}}}}",
                    json_text(&zone_id(x.id)),
                    json_text(&x.name),
                    json_text(&format!("{} ({})", x.name, x.reading)),
                    polygons.join(",")
                )
            })
            .collect();
        let locations = format!("{{\"type\":\"FeatureCollection\",\"features\":[{}]}}\n", features.join(","))
            .into_bytes();
        vec![
            ("agency.txt", agency),
            ("routes.txt", routes),
            ("calendar_dates.txt", calendar_dates),
            ("trips.txt", trips),
            ("stops.txt", stops),
            ("stop_times.txt", stop_times),
            ("booking_rules.txt", booking_rules),
            ("fare_attributes.txt", fares),
            ("fare_rules.txt", fare_rules),
            ("translations.txt", translations),
            ("feed_info.txt", feed_info),
            ("locations.geojson", locations),
        ]
    }
}
