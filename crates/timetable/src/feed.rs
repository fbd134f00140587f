//! One loaded feed: stops, routes, trips and calendars as typed values,
//! with the indexes the queries need built once at load.

use crate::FeedError;
use crate::read::{Source, gtfs_date, gtfs_time, rows};
use crate::translate::Translations;
use chrono::{Datelike, NaiveDate};
use noriai_model::LatLon;
use noriai_model::text::fold_for_search;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// A stop, platform or station.
#[derive(Debug, Clone)]
pub struct Stop {
    pub id: String,
    /// The feed's own name (for a Japanese feed, in Japanese).
    pub name: String,
    /// The kana reading (`ja-Hrkt`), when the feed gives one.
    pub reading: Option<String>,
    pub location: Option<LatLon>,
    /// のりば: the platform or pole code.
    pub platform: Option<String>,
    /// The stop's code as the feed gives it (GTFS-JP writes its のりば there too).
    pub code: Option<String>,
    /// The station this stop belongs to.
    pub parent: Option<u32>,
    /// A station grouping platforms (`location_type` 1).
    pub is_station: bool,
    /// Step-free boarding (`wheelchair_boarding`): `Some(false)` when the
    /// feed says a wheelchair cannot board here, `None` when it does not say.
    pub wheelchair: Option<bool>,
    /// Search keys of its name, reading and translations.
    pub(crate) keys: Vec<String>,
}

/// A route (a bus line).
#[derive(Debug, Clone)]
pub struct Route {
    pub id: String,
    pub short_name: String,
    pub long_name: String,
    pub route_type: i32,
}

/// One stop of a trip.
#[derive(Debug, Clone, Copy)]
pub struct StopTime {
    pub stop: u32,
    /// Seconds after the service day's noon minus twelve hours.
    pub arrival: u32,
    pub departure: u32,
    /// Riders may board here (`pickup_type` not 1).
    pub boarding: bool,
    /// Riders may get off here (`drop_off_type` not 1; 降車不可 on boarding-only stops).
    pub alighting: bool,
}

/// A trip on a route on the days of its service.
#[derive(Debug, Clone)]
pub struct Trip {
    pub id: String,
    pub route: u32,
    pub service: u32,
    pub headsign: String,
    pub direction: Option<u8>,
    /// A wheelchair can ride (`wheelchair_accessible`): `None` when the feed does not say.
    pub wheelchair: Option<bool>,
    pub stop_times: Vec<StopTime>,
}

/// The days a service runs: weekdays within a range, and the exceptions.
#[derive(Debug, Clone, Default)]
pub struct Service {
    pub id: String,
    weekdays: [bool; 7],
    range: Option<(NaiveDate, NaiveDate)>,
    added: HashSet<NaiveDate>,
    removed: HashSet<NaiveDate>,
}

impl Service {
    /// Whether the service runs on `day` (calendar_dates over calendar).
    pub fn runs_on(&self, day: NaiveDate) -> bool {
        if self.removed.contains(&day) {
            return false;
        }
        self.added.contains(&day)
            || self.range.is_some_and(|(a, z)| a <= day && day <= z)
                && self.weekdays[day.weekday().num_days_from_monday() as usize]
    }

    fn span(&self) -> Option<(NaiveDate, NaiveDate)> {
        let dates = self.added.iter().copied().chain(self.range.into_iter().flat_map(|(a, z)| [a, z]));
        dates.fold(None, |acc, d| {
            Some(acc.map_or((d, d), |(a, z): (NaiveDate, NaiveDate)| (a.min(d), z.max(d))))
        })
    }
}

/// A departure index entry: a trip leaves a stop at a time of its service day.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leaving {
    pub departure: u32,
    pub trip: u32,
    pub index: u32,
}

/// A loaded feed.
#[derive(Debug)]
pub struct Feed {
    /// The name it is known by (its file or folder name).
    pub name: String,
    pub timezone: chrono_tz::Tz,
    /// The agencies' names, for attribution.
    pub agencies: Vec<String>,
    pub stops: Vec<Stop>,
    pub routes: Vec<Route>,
    pub trips: Vec<Trip>,
    pub services: Vec<Service>,
    /// The first and last day any service runs.
    pub span: Option<(NaiveDate, NaiveDate)>,
    /// What loaded but deserves a look (an expired calendar).
    pub warnings: Vec<String>,
    pub(crate) translations: Translations,
    pub(crate) stop_index: HashMap<String, u32>,
    pub(crate) route_index: HashMap<String, u32>,
    /// Platforms of each station.
    pub(crate) children: Vec<Vec<u32>>,
    /// Departures from each stop by time of day.
    pub(crate) leaving: Vec<Vec<Leaving>>,
    /// Routes serving each stop.
    pub(crate) routes_at: Vec<Vec<u32>>,
}

impl Feed {
    /// Reads the feed at `path` (a zip file or a directory). `today` is
    /// when a calendar that has ended is worth a warning.
    pub fn load(path: &Path, today: NaiveDate) -> Result<Feed, FeedError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".zip").trim_end_matches(".gtfs").to_string())
            .unwrap_or_else(|| path.display().to_string());
        let mut source = Source::open(path)?;
        let mut file = |file: &str, required: bool| -> Result<Option<(String, Vec<u8>)>, FeedError> {
            let label = format!("{}/{file}", path.display());
            match source.read(&path.display().to_string(), file)? {
                Some(bytes) => Ok(Some((label, bytes))),
                None if required => {
                    Err(FeedError::Open { path: label, message: "the feed has no such file".into() })
                }
                None => Ok(None),
            }
        };

        let mut timezone = None;
        let mut agencies = Vec::new();
        if let Some((label, bytes)) = file("agency.txt", true)? {
            rows(&label, &bytes, |row| {
                if let Some(name) = row.get("agency_name") {
                    agencies.push(name.to_string());
                }
                if timezone.is_none() {
                    let tz = row.required("agency_timezone")?;
                    timezone = Some(tz.parse::<chrono_tz::Tz>().map_err(|_| {
                        row.error(
                            "agency_timezone",
                            format!("`{}` is not a time zone", noriai_model::excerpt(tz)),
                        )
                    })?);
                }
                Ok(())
            })?;
        }
        let timezone = timezone.ok_or_else(|| FeedError::Open {
            path: format!("{}/agency.txt", path.display()),
            message: "no agency with a time zone".into(),
        })?;

        let translations = match file("translations.txt", false)? {
            Some((label, bytes)) => Translations::read(&label, &bytes)?,
            None => Translations::default(),
        };

        let mut stops = Vec::new();
        let mut stop_index = HashMap::new();
        let mut parents: Vec<(u32, String, u64)> = Vec::new();
        if let Some((label, bytes)) = file("stops.txt", true)? {
            rows(&label, &bytes, |row| {
                let id = row.required("stop_id")?.to_string();
                let location_type =
                    row.parse("location_type", "a number", |v| v.parse::<u8>().ok())?.unwrap_or(0);
                let lat = row
                    .parse("stop_lat", "a latitude", |v| v.parse::<f64>().ok().filter(|x| x.abs() <= 90.0))?;
                let lon = row.parse("stop_lon", "a longitude", |v| {
                    v.parse::<f64>().ok().filter(|x| x.abs() <= 180.0)
                })?;
                let name = row.get("stop_name").unwrap_or_default().to_string();
                if name.is_empty() && location_type <= 2 {
                    return Err(row.error("stop_name", "`stop_name` is required".into()));
                }
                let i = stops.len() as u32;
                if stop_index.insert(id.clone(), i).is_some() {
                    return Err(row
                        .error("stop_id", format!("stop `{}` is listed twice", noriai_model::excerpt(&id))));
                }
                if let Some(p) = row.get("parent_station") {
                    parents.push((i, p.to_string(), 0));
                }
                stops.push(Stop {
                    id,
                    name,
                    reading: None,
                    location: lat.zip(lon).map(|(lat, lon)| LatLon { lat, lon }),
                    platform: row.get("platform_code").map(str::to_string),
                    code: row.get("stop_code").map(str::to_string),
                    parent: None,
                    is_station: location_type == 1,
                    wheelchair: accessible(row.get("wheelchair_boarding")),
                    keys: Vec::new(),
                });
                Ok(())
            })?;
        }
        let mut children = vec![Vec::new(); stops.len()];
        for (child, parent, _) in parents {
            // A parent the feed does not list is left out, not fatal.
            if let Some(&p) = stop_index.get(&parent) {
                stops[child as usize].parent = Some(p);
                children[p as usize].push(child);
                // A platform that does not say is as step-free as its station.
                if stops[child as usize].wheelchair.is_none() {
                    stops[child as usize].wheelchair = stops[p as usize].wheelchair;
                }
            }
        }
        for stop in &mut stops {
            let (id, names) = (&stop.id, stop.base_names());
            let reading = names
                .iter()
                .find_map(|n| translations.find("stops", "stop_name", id, n, "ja-Hrkt"))
                .map(str::to_string);
            let mut keys = vec![fold_for_search(&stop.name)];
            keys.extend(reading.iter().map(|r| fold_for_search(r)));
            for n in &names {
                keys.extend(translations.all("stops", "stop_name", id, n).map(fold_for_search));
            }
            keys.sort();
            keys.dedup();
            (stop.reading, stop.keys) = (reading, keys);
        }

        let mut routes = Vec::new();
        let mut route_index = HashMap::new();
        if let Some((label, bytes)) = file("routes.txt", true)? {
            rows(&label, &bytes, |row| {
                let id = row.required("route_id")?.to_string();
                let short_name = row.get("route_short_name").unwrap_or_default().to_string();
                let long_name = row.get("route_long_name").unwrap_or_default().to_string();
                if short_name.is_empty() && long_name.is_empty() {
                    return Err(row.error("route_short_name", "a route needs a short or a long name".into()));
                }
                let route_type = row.parse("route_type", "a number", |v| v.parse::<i32>().ok())?.unwrap_or(3);
                route_index.insert(id.clone(), routes.len() as u32);
                routes.push(Route { id, short_name, long_name, route_type });
                Ok(())
            })?;
        }

        let mut services: Vec<Service> = Vec::new();
        let mut service_index: HashMap<String, u32> = HashMap::new();
        let mut service_of = |id: &str, services: &mut Vec<Service>| -> u32 {
            *service_index.entry(id.to_string()).or_insert_with(|| {
                services.push(Service { id: id.to_string(), ..Service::default() });
                services.len() as u32 - 1
            })
        };
        if let Some((label, bytes)) = file("calendar.txt", false)? {
            rows(&label, &bytes, |row| {
                let s = service_of(row.required("service_id")?, &mut services) as usize;
                let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
                for (k, day) in days.iter().enumerate() {
                    services[s].weekdays[k] = match row.required(day)? {
                        "1" => true,
                        "0" => false,
                        other => {
                            return Err(row.error(
                                day,
                                format!("`{day}` must be 0 or 1, not `{}`", noriai_model::excerpt(other)),
                            ));
                        }
                    };
                }
                let start = row.parse("start_date", "a date (YYYYMMDD)", gtfs_date)?;
                let end = row.parse("end_date", "a date (YYYYMMDD)", gtfs_date)?;
                let (Some(start), Some(end)) = (start, end) else {
                    return Err(row.error("start_date", "`start_date` and `end_date` are required".into()));
                };
                services[s].range = Some((start, end));
                Ok(())
            })?;
        }
        if let Some((label, bytes)) = file("calendar_dates.txt", false)? {
            rows(&label, &bytes, |row| {
                let s = service_of(row.required("service_id")?, &mut services) as usize;
                let date = row
                    .parse("date", "a date (YYYYMMDD)", gtfs_date)?
                    .ok_or_else(|| row.error("date", "`date` is required".into()))?;
                match row.required("exception_type")? {
                    "1" => services[s].added.insert(date),
                    "2" => services[s].removed.insert(date),
                    other => {
                        return Err(row.error(
                            "exception_type",
                            format!(
                                "`exception_type` must be 1 (added) or 2 (removed), not `{}`",
                                noriai_model::excerpt(other)
                            ),
                        ));
                    }
                };
                Ok(())
            })?;
        }

        let mut trips = Vec::new();
        let mut trip_index: HashMap<String, u32> = HashMap::new();
        if let Some((label, bytes)) = file("trips.txt", true)? {
            rows(&label, &bytes, |row| {
                let id = row.required("trip_id")?.to_string();
                let route_id = row.required("route_id")?;
                let route = *route_index.get(route_id).ok_or_else(|| {
                    row.error(
                        "route_id",
                        format!("route `{}` is not in routes.txt", noriai_model::excerpt(route_id)),
                    )
                })?;
                let service = service_of(row.required("service_id")?, &mut services);
                let direction =
                    row.parse("direction_id", "0 or 1", |v| v.parse::<u8>().ok().filter(|d| *d <= 1))?;
                if trip_index.insert(id.clone(), trips.len() as u32).is_some() {
                    return Err(row
                        .error("trip_id", format!("trip `{}` is listed twice", noriai_model::excerpt(&id))));
                }
                trips.push(Trip {
                    id,
                    route,
                    service,
                    headsign: row.get("trip_headsign").unwrap_or_default().to_string(),
                    wheelchair: accessible(row.get("wheelchair_accessible")),
                    direction,
                    stop_times: Vec::new(),
                });
                Ok(())
            })?;
        }

        let mut sequences: Vec<Vec<(u32, StopTime)>> = vec![Vec::new(); trips.len()];
        if let Some((label, bytes)) = file("stop_times.txt", false)? {
            rows(&label, &bytes, |row| {
                let trip_id = row.required("trip_id")?;
                let trip = *trip_index.get(trip_id).ok_or_else(|| {
                    row.error(
                        "trip_id",
                        format!("trip `{}` is not in trips.txt", noriai_model::excerpt(trip_id)),
                    )
                })?;
                // GTFS-Flex: a zone or a group of stops, not a timed stop.
                if row.get("stop_id").is_none()
                    && (row.get("location_id").is_some() || row.get("location_group_id").is_some())
                {
                    return Ok(());
                }
                let stop_id = row.required("stop_id")?;
                let stop = *stop_index.get(stop_id).ok_or_else(|| {
                    row.error(
                        "stop_id",
                        format!("stop `{}` is not in stops.txt", noriai_model::excerpt(stop_id)),
                    )
                })?;
                let sequence = row
                    .parse("stop_sequence", "a whole number", |v| v.parse::<u32>().ok())?
                    .ok_or_else(|| row.error("stop_sequence", "`stop_sequence` is required".into()))?;
                let arrival = row.parse("arrival_time", "a time (H:MM:SS)", gtfs_time)?;
                let departure = row.parse("departure_time", "a time (H:MM:SS)", gtfs_time)?;
                // Stops without times (interpolated) are passed, not served, here.
                let (Some(arrival), Some(departure)) = (arrival.or(departure), departure.or(arrival)) else {
                    return Ok(());
                };
                if departure < arrival {
                    return Err(
                        row.error("departure_time", "`departure_time` is before `arrival_time`".into())
                    );
                }
                let boarding = row.get("pickup_type") != Some("1");
                let alighting = row.get("drop_off_type") != Some("1");
                sequences[trip as usize]
                    .push((sequence, StopTime { stop, arrival, departure, boarding, alighting }));
                Ok(())
            })?;
        }
        for (trip, mut seq) in trips.iter_mut().zip(sequences) {
            seq.sort_by_key(|(s, _)| *s);
            trip.stop_times = seq.into_iter().map(|(_, st)| st).collect();
        }

        let mut leaving = vec![Vec::new(); stops.len()];
        let mut routes_at: Vec<Vec<u32>> = vec![Vec::new(); stops.len()];
        for (t, trip) in trips.iter().enumerate() {
            let last = trip.stop_times.len().saturating_sub(1);
            for (k, st) in trip.stop_times.iter().enumerate() {
                if k < last && st.boarding {
                    leaving[st.stop as usize].push(Leaving {
                        departure: st.departure,
                        trip: t as u32,
                        index: k as u32,
                    });
                }
                routes_at[st.stop as usize].push(trip.route);
            }
        }
        for l in &mut leaving {
            l.sort_by_key(|l| (l.departure, l.trip));
        }
        for r in &mut routes_at {
            r.sort_unstable();
            r.dedup();
        }

        let span = services.iter().filter_map(Service::span).fold(
            None,
            |acc: Option<(NaiveDate, NaiveDate)>, (a, z)| {
                Some(acc.map_or((a, z), |(x, y)| (x.min(a), y.max(z))))
            },
        );
        let mut warnings = Vec::new();
        if let Some((_, end)) = span.filter(|(_, end)| *end < today) {
            warnings.push(format!(
                "{name}: its calendar ended on {end}; departures are only found for dates up to then"
            ));
        }
        if trips.iter().all(|t| t.stop_times.is_empty()) {
            warnings.push(format!("{name}: no stop times; it serves stop search and names, not departures"));
        }
        Ok(Feed {
            name,
            timezone,
            agencies,
            stops,
            routes,
            trips,
            services,
            span,
            warnings,
            translations,
            stop_index,
            route_index,
            children,
            leaving,
            routes_at,
        })
    }

    /// The number of the stop with `id` (its index in `stops`).
    pub fn stop_number(&self, id: &str) -> Option<u32> {
        self.stop_index.get(id).copied()
    }

    /// The number of the route with `id` (its index in `routes`).
    pub fn route_number(&self, id: &str) -> Option<u32> {
        self.route_index.get(id).copied()
    }

    /// How many departures leave stop `i` in the whole timetable.
    pub fn departures_from(&self, i: u32) -> usize {
        self.leaving.get(i as usize).map_or(0, Vec::len)
    }

    /// Whether any trip calls at stop `i`.
    pub fn is_served(&self, i: u32) -> bool {
        self.routes_at.get(i as usize).is_some_and(|r| !r.is_empty())
    }

    /// The stop with `id`.
    pub fn stop(&self, id: &str) -> Option<&Stop> {
        self.stop_index.get(id).map(|&i| &self.stops[i as usize])
    }

    /// The route with `id`.
    pub fn route(&self, id: &str) -> Option<&Route> {
        self.route_index.get(id).map(|&i| &self.routes[i as usize])
    }

    /// Routes that call at stop `i` or, for a station, at its platforms.
    pub fn routes_at(&self, i: u32) -> Vec<&Route> {
        let mut r: Vec<u32> = self.routes_at[i as usize].clone();
        for &c in &self.children[i as usize] {
            r.extend(&self.routes_at[c as usize]);
        }
        r.sort_unstable();
        r.dedup();
        r.into_iter().map(|i| &self.routes[i as usize]).collect()
    }

    /// `text` of `table.field` (record `id`) in language `lang`, else as the feed writes it.
    pub fn translated<'a>(
        &'a self,
        table: &str,
        field: &str,
        id: &str,
        text: &'a str,
        lang: &str,
    ) -> &'a str {
        if text.is_empty() {
            return text;
        }
        self.translations.find(table, field, id, text, lang).unwrap_or(text)
    }

    /// A stop's name in `lang`.
    pub fn stop_name<'a>(&'a self, stop: &'a Stop, lang: &str) -> &'a str {
        stop.base_names()
            .into_iter()
            .find_map(|n| self.translations.find("stops", "stop_name", &stop.id, n, lang))
            .unwrap_or(&stop.name)
    }
}

/// GTFS's accessibility flags: 1 yes, 2 no, anything else unknown.
fn accessible(value: Option<&str>) -> Option<bool> {
    match value {
        Some("1") => Some(true),
        Some("2") => Some(false),
        _ => None,
    }
}

impl Stop {
    /// The names its translations may be keyed by: the name, and (GTFS-JP
    /// writes "青森駅 ②のりば" but translates "青森駅") the name without its
    /// stop code or whatever follows a space.
    fn base_names(&self) -> Vec<&str> {
        let mut names = vec![self.name.as_str()];
        if let Some(code) = &self.code
            && let Some(base) = self.name.strip_suffix(code.as_str())
        {
            names.push(base.trim_end());
        }
        if let Some((base, _)) = self.name.split_once([' ', '\u{3000}']) {
            names.push(base);
        }
        names.retain(|n| !n.is_empty());
        names.dedup();
        names
    }
}
