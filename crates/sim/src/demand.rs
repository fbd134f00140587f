//! A day's trips: read from a CSV file or generated from the map's homes and
//! destinations with an hourly profile that fits elderly riders (morning
//! hospital trips, midday shopping, afternoon returns). Generation is
//! reproducible for a seed. Booking class and rider behaviour are not part of
//! the demand: they follow each scenario's booking rules, so compared plans
//! see the same trips.

use crate::SimError;
use crate::osm::{Category, Pois};
use crate::scenario::GenerateConfig;
use noriai_model::LatLon;
use noriai_zones::ServiceArea;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// One rider's wish to travel.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Trip {
    pub origin: LatLon,
    pub destination: LatLon,
    /// Seconds after local midnight: pick up from (or arrive by, see `arrive_by`).
    pub time_s: f64,
    pub arrive_by: bool,
    pub seats: u32,
    pub wheelchairs: u32,
}

/// The trips of a day and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub trips: Vec<Trip>,
    pub source: String,
    /// Places of the map left out of generated demand because no vehicle
    /// can reach them (farther from a road than the snap limit), by kind
    /// (`home` or a destination category).
    pub unreachable_places: Vec<(&'static str, usize)>,
}

/// Column names accepted in a trip CSV (case-insensitive), first match wins.
const O_LAT: &[&str] = &["origin_lat", "o_lat", "pickup_lat"];
const O_LON: &[&str] = &["origin_lon", "o_lon", "pickup_lon", "origin_lng", "o_lng"];
const D_LAT: &[&str] = &["destination_lat", "d_lat", "dropoff_lat"];
const D_LON: &[&str] = &["destination_lon", "d_lon", "dropoff_lon", "destination_lng", "d_lng"];
const DEPART: &[&str] = &["time", "departure_time", "depart_after", "pickup_time"];
const ARRIVE: &[&str] = &["arrive_by"];
const SEATS: &[&str] = &["seats", "passengers"];
const WHEELCHAIR: &[&str] = &["wheelchair", "wheelchairs", "wheelchair_places"];

/// Reads trips from a CSV file with a header row. Columns: origin and
/// destination as `origin_lat, origin_lon, destination_lat, destination_lon`
/// (or `o_lat, o_lon, d_lat, d_lon`), a time as `time` / `departure_time`
/// (pick up from) or `arrive_by`, written `HH:MM`, `HH:MM:SS` or
/// `YYYY-MM-DD HH:MM:SS` (the time of day is used); optional `seats` /
/// `passengers` (default 1) and `wheelchair` (0/1 or true/false, default 0).
/// A bad row is an error naming the row; other columns are ignored.
pub fn read_csv(path: &Path) -> Result<Demand, SimError> {
    let bytes = std::fs::read(path).map_err(|source| SimError::Read { path: path.into(), source })?;
    let whole = |message: String| SimError::Csv { path: path.into(), message };
    let (text, encoding) = decode(&bytes).ok_or_else(|| {
        whole(
            "the file is neither UTF-8 nor Shift_JIS text; in Excel, save it as \"CSV UTF-8 (comma delimited)\" \
             (CSV UTF-8 (コンマ区切り))"
                .into(),
        )
    })?;
    let mut reader =
        csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| whole(format!("cannot read the header row: {e}")))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let find = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let need = |names: &[&str]| {
        find(names).ok_or_else(|| {
            whole(format!("the header has no `{}` column (found: {})", names[0], header.join(", ")))
        })
    };
    let (olat, olon, dlat, dlon) = (need(O_LAT)?, need(O_LON)?, need(D_LAT)?, need(D_LON)?);
    let (depart, arrive) = (find(DEPART), find(ARRIVE));
    if depart.is_none() && arrive.is_none() {
        return Err(whole(format!(
            "the header has no time column (`time`, `departure_time` or `arrive_by`; found: {})",
            header.join(", ")
        )));
    }
    let (seats_col, wc_col) = (find(SEATS), find(WHEELCHAIR));
    let mut trips = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let row = i + 1;
        let rec = rec.map_err(|e| SimError::CsvRow {
            path: path.into(),
            row,
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let bad = |message: String| SimError::CsvRow { path: path.into(), row, line, message };
        let field = |c: usize| rec.get(c).unwrap_or("");
        let num = |c: usize| {
            field(c)
                .parse::<f64>()
                .map_err(|_| bad(format!("`{}` is `{}`, not a number", header[c], field(c))))
        };
        let point = |a: usize, b: usize| {
            let (lat, lon) = (num(a)?, num(b)?);
            LatLon::new(lat, lon).map_err(|e| bad(format!("`{}`/`{}`: {e}", header[a], header[b])))
        };
        let origin = point(olat, olon)?;
        let destination = point(dlat, dlon)?;
        let (time_col, arrive_by) = match (depart.filter(|&c| !field(c).is_empty()), arrive) {
            (Some(c), _) => (c, false),
            (None, Some(c)) => (c, true),
            (None, None) => return Err(bad("has no trip time".into())),
        };
        let time_s = parse_time(field(time_col)).ok_or_else(|| {
            bad(format!(
                "`{}` is `{}`; expected HH:MM, HH:MM:SS or YYYY-MM-DD HH:MM:SS",
                header[time_col],
                field(time_col)
            ))
        })?;
        let count = |c: Option<usize>, default: u32| -> Result<u32, SimError> {
            match c.map(field).filter(|s| !s.is_empty()) {
                None => Ok(default),
                Some("true" | "yes") => Ok(1),
                Some("false" | "no") => Ok(0),
                Some(s) => s.parse::<u32>().map_err(|_| {
                    bad(format!(
                        "`{}` is `{s}`; expected a whole number of 0 or more",
                        header[c.unwrap_or(0)]
                    ))
                }),
            }
        };
        let wheelchairs = count(wc_col, 0)?;
        let seats = count(seats_col, 1)?;
        // A wheelchair user travels in the wheelchair place; the seat count is companions.
        let seats = if wheelchairs > 0 && seats_col.is_none() { 0 } else { seats };
        if seats == 0 && wheelchairs == 0 {
            return Err(bad("asks for no seat and no wheelchair place".into()));
        }
        trips.push(Trip { origin, destination, time_s, arrive_by, seats, wheelchairs });
    }
    if trips.is_empty() {
        return Err(whole("holds no trips (only a header)".into()));
    }
    Ok(Demand { trips, source: format!("CSV {}{encoding}", path.display()), unreachable_places: Vec::new() })
}

/// `HH:MM`, `HH:MM:SS`, or a date and time (`YYYY-MM-DD HH:MM[:SS]`, `T` allowed).
fn parse_time(s: &str) -> Option<f64> {
    let t = s.rsplit([' ', 'T']).next()?;
    let parts: Vec<&str> = t.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let h: u32 = parts[0].parse().ok()?;
    let m: u32 = parts[1].parse().ok()?;
    let sec: f64 = match parts.get(2) {
        Some(x) => x.parse().ok()?,
        None => 0.0,
    };
    if h > 47 || m >= 60 || !(0.0..60.0).contains(&sec) {
        return None;
    }
    Some(f64::from(h * 3600 + m * 60) + sec)
}

/// Outbound trips (home → destination) by hour: hospital mornings, shopping late mornings.
const OUTBOUND: [f64; 24] =
    [0., 0., 0., 0., 0., 0., 0.5, 4., 10., 12., 10., 7., 4., 5., 4., 3., 2., 1., 0.3, 0., 0., 0., 0., 0.];
/// Return trips (destination → home): midday and afternoon.
const RETURN: [f64; 24] =
    [0., 0., 0., 0., 0., 0., 0., 0., 0.5, 1., 2., 5., 8., 7., 6., 6., 5., 3., 1.5, 0.5, 0., 0., 0., 0.];

/// How much each destination kind draws riders at an hour.
fn category_weight(c: Category, hour: usize) -> f64 {
    match c {
        Category::Medical => {
            if hour < 11 {
                4.0
            } else {
                1.5
            }
        }
        Category::Shop => {
            if (10..=16).contains(&hour) {
                4.0
            } else {
                1.0
            }
        }
        Category::Station => 1.0,
        Category::Civic => {
            if (9..=16).contains(&hour) {
                1.5
            } else {
                0.3
            }
        }
        Category::School => 0.3,
    }
}

fn pick_weighted(rng: &mut ChaCha8Rng, cumulative: &[f64]) -> Option<usize> {
    let total = *cumulative.last()?;
    if total <= 0.0 {
        return None;
    }
    let x = rng.random_range(0.0..total);
    Some(cumulative.partition_point(|&c| c <= x).min(cumulative.len() - 1))
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .map(|w| {
            acc += w.max(0.0);
            acc
        })
        .collect()
}

/// The text of a CSV file: UTF-8 (with or without a byte-order mark), or
/// Shift_JIS, which Japanese Excel writes by default; with a note on the
/// encoding for the demand's description.
fn decode(bytes: &[u8]) -> Option<(std::borrow::Cow<'_, str>, &'static str)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some((text.into(), ""));
    }
    encoding_rs::SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| (text, " (read as Shift_JIS)"))
}

/// Generates a day of trips from the map's places inside the area that a
/// vehicle can reach (`reachable`), leaving out the excluded kinds.
pub fn generate(
    pois: &Pois,
    area: Option<&ServiceArea>,
    reachable: &dyn Fn(LatLon) -> bool,
    cfg: &GenerateConfig,
) -> Result<Demand, SimError> {
    let in_area = |p: &LatLon| area.is_none_or(|a| a.contains(*p));
    let mut unreachable: Vec<(&'static str, usize)> = Vec::new();
    let mut note = |kind: &'static str| match unreachable.iter_mut().find(|(k, _)| *k == kind) {
        Some((_, n)) => *n += 1,
        None => unreachable.push((kind, 1)),
    };
    let mut homes: Vec<(LatLon, f64)> = Vec::new();
    for h in pois.homes.iter().filter(|(p, _)| in_area(p)) {
        if reachable(h.0) { homes.push(*h) } else { note("home") }
    }
    let mut destinations: Vec<(LatLon, Category)> = Vec::new();
    for d in pois.destinations.iter().filter(|(p, c)| in_area(p) && !cfg.exclude.contains(c)) {
        if reachable(d.0) { destinations.push(*d) } else { note(d.1.key()) }
    }
    if homes.is_empty() {
        return Err(SimError::Invalid(
            "the map has no residential streets or houses inside the service area to draw trip origins from"
                .into(),
        ));
    }
    let mut by_cat: Vec<(Category, Vec<LatLon>)> = Category::ALL
        .iter()
        .map(|&c| (c, destinations.iter().filter(|(_, k)| *k == c).map(|(p, _)| *p).collect()))
        .collect();
    by_cat.retain(|(_, v): &(Category, Vec<LatLon>)| !v.is_empty());
    if by_cat.is_empty() {
        return Err(SimError::Invalid(
            "the map has no destinations (hospitals, clinics, shops, stations, town halls, schools) inside the service area".into(),
        ));
    }
    let home_cum = cumulative(homes.iter().map(|h| h.1));
    let out_cum = cumulative(OUTBOUND.iter().copied());
    let ret_cum = cumulative(RETURN.iter().copied());
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut trips = Vec::with_capacity(cfg.trips as usize);
    let mut attempts = 0u64;
    while trips.len() < cfg.trips as usize {
        attempts += 1;
        if attempts > 100 * u64::from(cfg.trips) + 1000 {
            return Err(SimError::Invalid(format!(
                "could not draw {} trips of at least {} m inside the area; lower `demand.min_distance_m`",
                cfg.trips, cfg.min_distance_m
            )));
        }
        let outbound = rng.random_bool(0.55);
        let hour = pick_weighted(&mut rng, if outbound { &out_cum } else { &ret_cum }).unwrap_or(9);
        let cat_cum = cumulative(by_cat.iter().map(|(c, _)| category_weight(*c, hour)));
        let Some(ci) = pick_weighted(&mut rng, &cat_cum) else { continue };
        let places = &by_cat[ci].1;
        let place = places[rng.random_range(0..places.len())];
        let Some(hi) = pick_weighted(&mut rng, &home_cum) else { continue };
        let home = homes[hi].0;
        let minute = rng.random_range(0.0..60.0f64).floor();
        let arrive_by = outbound && rng.random_bool(cfg.arrive_by_share);
        let wheelchair = rng.random_bool(cfg.wheelchair_share);
        let companion = rng.random_bool(cfg.companion_share);
        if home.distance_m(place) < cfg.min_distance_m {
            continue;
        }
        let (origin, destination) = if outbound { (home, place) } else { (place, home) };
        let (seats, wheelchairs) = match (wheelchair, companion) {
            (true, true) => (1, 1),
            (true, false) => (0, 1),
            (false, true) => (2, 0),
            (false, false) => (1, 0),
        };
        trips.push(Trip {
            origin,
            destination,
            time_s: hour as f64 * 3600.0 + minute * 60.0,
            arrive_by,
            seats,
            wheelchairs,
        });
    }
    trips.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    let mut source = format!("generated: {} trips, seed {}", cfg.trips, cfg.seed);
    if !unreachable.is_empty() {
        let list: Vec<String> = unreachable.iter().map(|(k, n)| format!("{n} {k}")).collect();
        source.push_str(&format!("; left out, too far from a road: {}", list.join(", ")));
    }
    Ok(Demand { trips, source, unreachable_places: unreachable })
}
