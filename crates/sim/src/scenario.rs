//! Scenario files: one TOML document per service plan a town wants to try.
//! Parsing is strict (unknown keys are errors) and every error names the key
//! and what was expected, so a council clerk can fix a file without the code.
//! `scenarios/README.md` documents every key.

use crate::SimError;
use noriai_dispatch::Policy;
use noriai_model::LatLon;
use noriai_model::service::parse_time_of_day;
use noriai_roads::SpeedProfile;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A validated scenario, paths resolved against the scenario file's folder.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// Seeds rider behaviour (booking class, cancellations, no-shows) and the batch planner.
    pub seed: u64,
    pub file: PathBuf,
    pub map: Option<MapConfig>,
    pub travel: TravelModel,
    pub area: Option<AreaConfig>,
    pub stops: StopsConfig,
    pub fleet: FleetConfig,
    pub booking: BookingConfig,
    /// The booking server's own rules: windows, ride-time limit, promises.
    pub rules: Policy,
    pub riders: RidersConfig,
    /// Late vehicles and breakdowns, handled by the same rules as on the road.
    pub road: RoadConfig,
    pub cost: CostConfig,
    pub batch: BatchConfig,
    pub demand: DemandConfig,
}

#[derive(Debug, Clone)]
pub struct MapConfig {
    pub path: PathBuf,
    pub profile: SpeedProfile,
    pub max_snap_m: f64,
}

/// Where travel times come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TravelModel {
    /// Fastest car routes on the OSM road network of `[map]`.
    Roads,
    /// Straight-line distance × `detour` at `speed_kmh`: for areas without a road map.
    Crow { speed_kmh: f64, detour: f64 },
}

#[derive(Debug, Clone, PartialEq)]
pub enum AreaShape {
    Circle {
        centre: LatLon,
        radius_m: f64,
    },
    Polygon(Vec<LatLon>),
    /// A town's boundary file as its GIS office sends it.
    GeoJson {
        path: PathBuf,
        text: String,
        centre: LatLon,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct AreaConfig {
    pub resolution: u8,
    pub shape: AreaShape,
}

impl AreaConfig {
    /// A point inside the area (circle centre or polygon centroid) for a default depot.
    pub fn centre(&self) -> LatLon {
        match &self.shape {
            AreaShape::Circle { centre, .. } | AreaShape::GeoJson { centre, .. } => *centre,
            AreaShape::Polygon(ring) => {
                let n = ring.len().max(1) as f64;
                LatLon {
                    lat: ring.iter().map(|p| p.lat).sum::<f64>() / n,
                    lon: ring.iter().map(|p| p.lon).sum::<f64>() / n,
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StopsConfig {
    DoorToDoor,
    /// Riders walk to the nearest meeting point within `max_walk_m`.
    Virtual {
        list: Vec<LatLon>,
        spacing_m: Option<f64>,
        max_walk_m: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FleetConfig {
    pub vehicles: u32,
    pub seats: u32,
    pub wheelchair_places: u32,
    pub depot: Option<LatLon>,
    /// Shift windows (seconds after midnight); vehicle `i` works `shifts[i % len]`.
    pub shifts: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BookingConfig {
    /// How many days ahead a trip may be booked; 0 allows same-day booking only.
    pub advance_days: u32,
    /// Share of trips booked the day before (planned as a batch before the day).
    pub prebooked_share: f64,
    /// Same-day trips are booked this long before the trip time (uniform between the two).
    pub min_lead_s: f64,
    pub max_lead_s: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RidersConfig {
    pub cancel_probability: f64,
    pub no_show_probability: f64,
    /// Chance a refused rider takes the nearest other time the dispatcher offers.
    pub accept_alternative: f64,
}

/// What goes wrong on the road: each leg a vehicle drives may run late,
/// and each vehicle may break down once a day (at a random time of its
/// shift), after which it only drops off the riders aboard.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadConfig {
    pub delay_probability: f64,
    /// A late leg runs this many seconds late, uniform between the two.
    pub delay_min_s: f64,
    pub delay_max_s: f64,
    pub breakdown_probability: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CostConfig {
    pub per_vehicle_hour: f64,
    pub per_km: f64,
    pub fare_per_trip: f64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BatchConfig {
    /// Improvement iterations for the day-before batch: a count, not a time,
    /// so a scenario gives the same result on any machine.
    pub iterations: u64,
    /// Independent searches run at once (one per core); the plan depends on
    /// the seed and this count, never on the machine.
    pub threads: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DemandConfig {
    Generate(GenerateConfig),
    Csv { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenerateConfig {
    pub trips: u32,
    pub seed: u64,
    pub arrive_by_share: f64,
    pub wheelchair_share: f64,
    pub companion_share: f64,
    /// Shortest trip generated, metres as the crow flies (shorter ones are walked).
    pub min_distance_m: f64,
    /// Kinds of destination never drawn (e.g. `medical` when the map's
    /// `amenity=hospital` nodes are first-aid posts on ski slopes).
    pub exclude: Vec<crate::osm::Category>,
}

// ---------------------------------------------------------------------------
// The file as written: every section strict, every key documented in README.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    #[serde(default)]
    seed: u64,
    map: Option<RawMap>,
    #[serde(default)]
    travel: RawTravel,
    area: Option<RawArea>,
    #[serde(default)]
    stops: RawStops,
    fleet: RawFleet,
    #[serde(default)]
    booking: RawBooking,
    #[serde(default)]
    rules: Policy,
    #[serde(default)]
    riders: RawRiders,
    #[serde(default)]
    road: RawRoad,
    #[serde(default)]
    cost: RawCost,
    #[serde(default)]
    batch: RawBatch,
    demand: RawDemand,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    path: String,
    #[serde(default = "default_profile")]
    profile: String,
    #[serde(default = "default_snap")]
    max_snap_m: f64,
}
fn default_profile() -> String {
    "default".into()
}
fn default_snap() -> f64 {
    noriai_roads::DEFAULT_MAX_SNAP_M
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTravel {
    #[serde(default = "default_model")]
    model: String,
    #[serde(default = "default_speed")]
    speed_kmh: f64,
    #[serde(default = "default_detour")]
    detour: f64,
}
impl Default for RawTravel {
    fn default() -> Self {
        Self { model: default_model(), speed_kmh: default_speed(), detour: default_detour() }
    }
}
fn default_model() -> String {
    "roads".into()
}
fn default_speed() -> f64 {
    30.0
}
fn default_detour() -> f64 {
    1.3
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArea {
    #[serde(default = "default_resolution")]
    resolution: u8,
    centre: Option<[f64; 2]>,
    radius_m: Option<f64>,
    polygon: Option<Vec<[f64; 2]>>,
    geojson: Option<String>,
}
fn default_resolution() -> u8 {
    noriai_zones::DEFAULT_RESOLUTION
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStops {
    #[serde(default = "default_mode")]
    mode: String,
    spacing_m: Option<f64>,
    #[serde(default)]
    list: Vec<[f64; 2]>,
    #[serde(default = "default_walk")]
    max_walk_m: f64,
}
impl Default for RawStops {
    fn default() -> Self {
        Self { mode: default_mode(), spacing_m: None, list: Vec::new(), max_walk_m: default_walk() }
    }
}
fn default_mode() -> String {
    "door-to-door".into()
}
fn default_walk() -> f64 {
    500.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    vehicles: u32,
    #[serde(default = "default_seats")]
    seats: u32,
    #[serde(default)]
    wheelchair_places: u32,
    depot: Option<[f64; 2]>,
    #[serde(default = "default_shifts")]
    shifts: Vec<[String; 2]>,
}
fn default_seats() -> u32 {
    8
}
fn default_shifts() -> Vec<[String; 2]> {
    vec![["08:00".into(), "18:00".into()]]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawBooking {
    advance_days: u32,
    prebooked_share: f64,
    min_lead_min: f64,
    max_lead_min: f64,
}
impl Default for RawBooking {
    fn default() -> Self {
        Self { advance_days: 7, prebooked_share: 0.5, min_lead_min: 30.0, max_lead_min: 120.0 }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRiders {
    cancel_probability: f64,
    no_show_probability: f64,
    accept_alternative: f64,
}
impl Default for RawRiders {
    fn default() -> Self {
        Self { cancel_probability: 0.05, no_show_probability: 0.03, accept_alternative: 0.0 }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRoad {
    delay_probability: f64,
    delay_minutes: [f64; 2],
    breakdown_probability: f64,
}
impl Default for RawRoad {
    fn default() -> Self {
        Self { delay_probability: 0.0, delay_minutes: [5.0, 20.0], breakdown_probability: 0.0 }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCost {
    per_vehicle_hour: f64,
    per_km: f64,
    fare_per_trip: f64,
    currency: String,
}
impl Default for RawCost {
    fn default() -> Self {
        Self { per_vehicle_hour: 3000.0, per_km: 30.0, fare_per_trip: 0.0, currency: "JPY".into() }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawBatch {
    iterations: u64,
    threads: usize,
}
impl Default for RawBatch {
    fn default() -> Self {
        Self { iterations: 3000, threads: 2 }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDemand {
    #[serde(default = "default_source")]
    source: String,
    trips: Option<u32>,
    csv: Option<String>,
    seed: Option<u64>,
    #[serde(default = "default_arrive_by")]
    arrive_by_share: f64,
    #[serde(default = "default_wheelchair")]
    wheelchair_share: f64,
    #[serde(default = "default_companion")]
    companion_share: f64,
    #[serde(default = "default_min_distance")]
    min_distance_m: f64,
    #[serde(default)]
    exclude: Vec<String>,
}
fn default_source() -> String {
    "generate".into()
}
fn default_arrive_by() -> f64 {
    0.3
}
fn default_wheelchair() -> f64 {
    0.05
}
fn default_companion() -> f64 {
    0.1
}
fn default_min_distance() -> f64 {
    400.0
}

// ---------------------------------------------------------------------------

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn from_file(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SimError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    /// Validates scenario text; relative paths resolve against `file`'s folder.
    pub fn parse(text: &str, file: &Path) -> Result<Self, SimError> {
        let err = |key: &str, message: String| SimError::Scenario {
            path: file.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let de = toml::Deserializer::parse(text).map_err(|e| err("(syntax)", toml_message(&e, text)))?;
        let raw: RawScenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            err(if key == "." { "(top level)" } else { &key }, toml_message(&inner, text))
        })?;
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |p: &str| {
            let p = PathBuf::from(p);
            if p.is_absolute() { p } else { dir.join(p) }
        };
        let point = |key: &str, p: [f64; 2]| {
            LatLon::new(p[0], p[1]).map_err(|e| err(key, format!("{e} (write [latitude, longitude])")))
        };
        let share = |key: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(err(key, format!("is {v}; expected a share between 0 and 1")))
            }
        };
        let positive = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(err(key, format!("is {v}; expected a number above 0")))
            }
        };
        let non_negative = |key: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(err(key, format!("is {v}; expected a number of 0 or more")))
            }
        };

        let travel = match raw.travel.model.as_str() {
            "roads" => TravelModel::Roads,
            "crow" => TravelModel::Crow {
                speed_kmh: positive("travel.speed_kmh", raw.travel.speed_kmh)?,
                detour: {
                    let d = positive("travel.detour", raw.travel.detour)?;
                    if d < 1.0 {
                        return Err(err(
                            "travel.detour",
                            format!("is {d}; roads are never shorter than the straight line, use 1 or more"),
                        ));
                    }
                    d
                },
            },
            other => {
                return Err(err("travel.model", format!("is `{other}`; expected `roads` or `crow`")));
            }
        };
        let map = match raw.map {
            Some(m) => Some(MapConfig {
                path: resolve(&m.path),
                profile: SpeedProfile::by_name(&m.profile).ok_or_else(|| {
                    err("map.profile", format!("is `{}`; expected `default` or `winter`", m.profile))
                })?,
                max_snap_m: positive("map.max_snap_m", m.max_snap_m)?,
            }),
            None => None,
        };
        if travel == TravelModel::Roads && map.is_none() {
            return Err(err("map", "is missing; `travel.model = \"roads\"` needs `[map] path = ...`".into()));
        }

        let area = match raw.area {
            None => None,
            Some(a) => {
                if !noriai_zones::RESOLUTIONS.contains(&a.resolution) {
                    return Err(err("area.resolution", format!("is {}; expected 5 to 10", a.resolution)));
                }
                let shape = match (a.centre, a.radius_m, a.polygon) {
                    (None, None, None) if a.geojson.is_some() => {
                        let path = resolve(a.geojson.as_deref().unwrap_or_default());
                        let text = std::fs::read_to_string(&path).map_err(|e| {
                            err("area.geojson", format!("cannot read {}: {e}", path.display()))
                        })?;
                        let polys = noriai_zones::geojson::polygons(&text)
                            .map_err(|e| err("area.geojson", format!("{}: {e}", path.display())))?;
                        let outer: Vec<LatLon> =
                            polys.iter().filter_map(|p| p.first()).flatten().copied().collect();
                        let n = outer.len().max(1) as f64;
                        let centre = LatLon {
                            lat: outer.iter().map(|p| p.lat).sum::<f64>() / n,
                            lon: outer.iter().map(|p| p.lon).sum::<f64>() / n,
                        };
                        AreaShape::GeoJson { path, text, centre }
                    }
                    _ if a.geojson.is_some() => {
                        return Err(err(
                            "area.geojson",
                            "comes instead of `centre`/`radius_m` or `polygon`; give only one shape".into(),
                        ));
                    }
                    (Some(c), Some(r), None) => AreaShape::Circle {
                        centre: point("area.centre", c)?,
                        radius_m: positive("area.radius_m", r)?,
                    },
                    (None, None, Some(poly)) => {
                        if poly.len() < 3 {
                            return Err(err(
                                "area.polygon",
                                format!("has {} points; expected at least 3", poly.len()),
                            ));
                        }
                        let ring = poly
                            .iter()
                            .enumerate()
                            .map(|(i, p)| point(&format!("area.polygon[{i}]"), *p))
                            .collect::<Result<Vec<_>, _>>()?;
                        AreaShape::Polygon(ring)
                    }
                    (Some(_), None, None) => {
                        return Err(err(
                            "area.radius_m",
                            "is missing; a circle needs `centre` and `radius_m`".into(),
                        ));
                    }
                    (None, Some(_), None) => {
                        return Err(err(
                            "area.centre",
                            "is missing; a circle needs `centre` and `radius_m`".into(),
                        ));
                    }
                    _ => {
                        return Err(err(
                            "area",
                            "expected either `centre` and `radius_m` (a circle), `polygon` or `geojson`, one of them".into(),
                        ));
                    }
                };
                let cfg = AreaConfig { resolution: a.resolution, shape };
                crate::world::build_area(&cfg).map_err(|e| err("area", e.to_string()))?;
                Some(cfg)
            }
        };

        let stops = match raw.stops.mode.as_str() {
            "door-to-door" => {
                if !raw.stops.list.is_empty() || raw.stops.spacing_m.is_some() {
                    return Err(err(
                        "stops.mode",
                        "is `door-to-door`, which takes no `list` or `spacing_m`; use `virtual`".into(),
                    ));
                }
                StopsConfig::DoorToDoor
            }
            "virtual" => {
                let list = raw
                    .stops
                    .list
                    .iter()
                    .enumerate()
                    .map(|(i, p)| point(&format!("stops.list[{i}]"), *p))
                    .collect::<Result<Vec<_>, _>>()?;
                let spacing_m = raw.stops.spacing_m.map(|s| positive("stops.spacing_m", s)).transpose()?;
                if list.is_empty() && spacing_m.is_none() {
                    return Err(err("stops", "virtual stops need a `list` of [lat, lon] or a `spacing_m` to generate them on the road network".into()));
                }
                if spacing_m.is_some() && map.is_none() {
                    return Err(err(
                        "stops.spacing_m",
                        "generates stops on the road network and needs `[map]`".into(),
                    ));
                }
                StopsConfig::Virtual {
                    list,
                    spacing_m,
                    max_walk_m: positive("stops.max_walk_m", raw.stops.max_walk_m)?,
                }
            }
            other => {
                return Err(err("stops.mode", format!("is `{other}`; expected `door-to-door` or `virtual`")));
            }
        };

        let f = raw.fleet;
        if f.vehicles == 0 {
            return Err(err("fleet.vehicles", "is 0; expected at least 1 vehicle".into()));
        }
        if f.seats == 0 && f.wheelchair_places == 0 {
            return Err(err(
                "fleet.seats",
                "and `fleet.wheelchair_places` are both 0; a vehicle needs a place".into(),
            ));
        }
        if f.shifts.is_empty() {
            return Err(err(
                "fleet.shifts",
                "is empty; expected a list like [[\"08:00\", \"18:00\"]]".into(),
            ));
        }
        let mut shifts = Vec::new();
        for (i, [a, b]) in f.shifts.iter().enumerate() {
            let key = format!("fleet.shifts[{i}]");
            let a = parse_time_of_day(a).map_err(|e| err(&key, e.to_string()))?;
            let b = parse_time_of_day(b).map_err(|e| err(&key, e.to_string()))?;
            if b <= a {
                return Err(err(
                    &key,
                    "ends before it starts; expected [\"start\", \"end\"] in HH:MM".into(),
                ));
            }
            shifts.push((a, b));
        }
        let fleet = FleetConfig {
            vehicles: f.vehicles,
            seats: f.seats,
            wheelchair_places: f.wheelchair_places,
            depot: f.depot.map(|d| point("fleet.depot", d)).transpose()?,
            shifts,
        };
        if fleet.depot.is_none() && area.is_none() {
            return Err(err("fleet.depot", "is missing; give [lat, lon] (it defaults to the area's centre only when there is an `[area]`)".into()));
        }

        let b = raw.booking;
        let booking = BookingConfig {
            advance_days: b.advance_days,
            prebooked_share: share("booking.prebooked_share", b.prebooked_share)?,
            min_lead_s: non_negative("booking.min_lead_min", b.min_lead_min)? * 60.0,
            max_lead_s: non_negative("booking.max_lead_min", b.max_lead_min)? * 60.0,
        };
        if booking.max_lead_s < booking.min_lead_s {
            return Err(err("booking.max_lead_min", "is below `booking.min_lead_min`".into()));
        }
        if booking.advance_days == 0 && booking.prebooked_share > 0.0 {
            return Err(err(
                "booking.prebooked_share",
                "must be 0 when `booking.advance_days = 0` (same-day booking only)".into(),
            ));
        }

        let rules = raw.rules;
        for (key, v) in [
            ("rules.max_wait_s", rules.max_wait_s),
            ("rules.arrive_early_s", rules.arrive_early_s),
            ("rules.ride_factor", rules.ride_factor),
            ("rules.ride_constant_s", rules.ride_constant_s),
            ("rules.boarding_s", rules.boarding_s),
            ("rules.wheelchair_boarding_s", rules.wheelchair_boarding_s),
            ("rules.promise_before_s", rules.promise_before_s),
            ("rules.promise_after_s", rules.promise_after_s),
            ("rules.prebooking_window_s", rules.prebooking_window_s),
        ] {
            non_negative(key, v)?;
        }
        if rules.ride_factor < 1.0 {
            return Err(err(
                "rules.ride_factor",
                format!(
                    "is {}; a ride cannot be shorter than the direct trip, use 1 or more",
                    rules.ride_factor
                ),
            ));
        }

        let riders = RidersConfig {
            cancel_probability: share("riders.cancel_probability", raw.riders.cancel_probability)?,
            no_show_probability: share("riders.no_show_probability", raw.riders.no_show_probability)?,
            accept_alternative: share("riders.accept_alternative", raw.riders.accept_alternative)?,
        };
        if riders.cancel_probability + riders.no_show_probability > 1.0 {
            return Err(err("riders.no_show_probability", "plus `cancel_probability` is above 1".into()));
        }
        let [low, high] = raw.road.delay_minutes;
        if !(low.is_finite() && high.is_finite() && 0.0 <= low && low <= high && high <= 24.0 * 60.0) {
            return Err(err(
                "road.delay_minutes",
                format!("is [{low}, {high}]; give [least, most] minutes, 0 ≤ least ≤ most ≤ 1440"),
            ));
        }
        let road = RoadConfig {
            delay_probability: share("road.delay_probability", raw.road.delay_probability)?,
            delay_min_s: low * 60.0,
            delay_max_s: high * 60.0,
            breakdown_probability: share("road.breakdown_probability", raw.road.breakdown_probability)?,
        };
        let cost = CostConfig {
            per_vehicle_hour: non_negative("cost.per_vehicle_hour", raw.cost.per_vehicle_hour)?,
            per_km: non_negative("cost.per_km", raw.cost.per_km)?,
            fare_per_trip: non_negative("cost.fare_per_trip", raw.cost.fare_per_trip)?,
            currency: raw.cost.currency,
        };
        if !(1..=64).contains(&raw.batch.threads) {
            return Err(err("batch.threads", format!("is {}; give 1 to 64 searches", raw.batch.threads)));
        }
        let batch = BatchConfig { iterations: raw.batch.iterations, threads: raw.batch.threads };

        let d = raw.demand;
        let demand = match d.source.as_str() {
            "generate" => {
                if d.csv.is_some() {
                    return Err(err(
                        "demand.csv",
                        "is given but `demand.source` is `generate`; set `source = \"csv\"`".into(),
                    ));
                }
                if map.is_none() {
                    return Err(err(
                        "demand.source",
                        "`generate` reads places from the OSM map and needs `[map]`; use `csv` otherwise"
                            .into(),
                    ));
                }
                let trips = d.trips.ok_or_else(|| {
                    err("demand.trips", "is missing; how many trips a day to generate?".into())
                })?;
                if trips == 0 {
                    return Err(err("demand.trips", "is 0; expected at least 1 trip".into()));
                }
                DemandConfig::Generate(GenerateConfig {
                    trips,
                    seed: d.seed.unwrap_or(raw.seed),
                    arrive_by_share: share("demand.arrive_by_share", d.arrive_by_share)?,
                    wheelchair_share: share("demand.wheelchair_share", d.wheelchair_share)?,
                    companion_share: share("demand.companion_share", d.companion_share)?,
                    min_distance_m: non_negative("demand.min_distance_m", d.min_distance_m)?,
                    exclude: d
                        .exclude
                        .iter()
                        .map(|k| {
                            crate::osm::Category::from_key(k).ok_or_else(|| {
                                let known: Vec<&str> =
                                    crate::osm::Category::ALL.iter().map(|c| c.key()).collect();
                                err(
                                    "demand.exclude",
                                    format!(
                                        "`{}` is not a kind of destination; use {}",
                                        noriai_model::excerpt(k),
                                        known.join(", ")
                                    ),
                                )
                            })
                        })
                        .collect::<Result<_, _>>()?,
                })
            }
            "csv" => {
                let path = d
                    .csv
                    .ok_or_else(|| err("demand.csv", "is missing; give the path of a trip CSV".into()))?;
                if d.trips.is_some() {
                    return Err(err(
                        "demand.trips",
                        "applies to generated demand only; remove it or set `source = \"generate\"`".into(),
                    ));
                }
                DemandConfig::Csv { path: resolve(&path) }
            }
            other => return Err(err("demand.source", format!("is `{other}`; expected `generate` or `csv`"))),
        };

        let name = raw.name.unwrap_or_else(|| {
            file.file_stem().map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned())
        });
        Ok(Scenario {
            name,
            seed: raw.seed,
            file: file.to_path_buf(),
            map,
            travel,
            area,
            stops,
            fleet,
            booking,
            rules,
            riders,
            road,
            cost,
            batch,
            demand,
        })
    }

    /// The depot: as given, else the centre of the area.
    pub fn depot(&self) -> Option<LatLon> {
        self.fleet.depot.or_else(|| self.area.as_ref().map(AreaConfig::centre))
    }
}

/// The TOML error's own message with the line it points at.
fn toml_message(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{msg} (line {line})")
        }
        None => msg,
    }
}
