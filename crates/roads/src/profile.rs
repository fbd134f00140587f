//! Which OSM ways a car may drive, in which direction, and how fast.
//!
//! Defaults follow Japanese road law: 60 km/h on general roads unless signed,
//! 100 km/h on expressways, and slower practical speeds on narrow rural roads.
//! A [`SpeedProfile`] is plain data so callers can change it; [`SpeedProfile::winter`]
//! applies per-class factors for snow-covered roads such as Aomori's in January.

use serde::{Deserialize, Serialize};

/// Road classes a car may use, from OSM `highway=*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RoadClass {
    Motorway,
    MotorwayLink,
    Trunk,
    TrunkLink,
    Primary,
    PrimaryLink,
    Secondary,
    SecondaryLink,
    Tertiary,
    TertiaryLink,
    Unclassified,
    Residential,
    LivingStreet,
    Service,
}

impl RoadClass {
    pub const ALL: [RoadClass; 14] = [
        RoadClass::Motorway,
        RoadClass::MotorwayLink,
        RoadClass::Trunk,
        RoadClass::TrunkLink,
        RoadClass::Primary,
        RoadClass::PrimaryLink,
        RoadClass::Secondary,
        RoadClass::SecondaryLink,
        RoadClass::Tertiary,
        RoadClass::TertiaryLink,
        RoadClass::Unclassified,
        RoadClass::Residential,
        RoadClass::LivingStreet,
        RoadClass::Service,
    ];

    /// The class of a `highway=*` value, or `None` when cars do not use it
    /// (footways, tracks, construction, proposed roads, …).
    pub fn from_highway(value: &str) -> Option<Self> {
        Some(match value {
            "motorway" => Self::Motorway,
            "motorway_link" => Self::MotorwayLink,
            "trunk" => Self::Trunk,
            "trunk_link" => Self::TrunkLink,
            "primary" => Self::Primary,
            "primary_link" => Self::PrimaryLink,
            "secondary" => Self::Secondary,
            "secondary_link" => Self::SecondaryLink,
            "tertiary" => Self::Tertiary,
            "tertiary_link" => Self::TertiaryLink,
            "unclassified" | "road" => Self::Unclassified,
            "residential" => Self::Residential,
            "living_street" => Self::LivingStreet,
            "service" => Self::Service,
            _ => return None,
        })
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Car speeds per road class and a multiplier for conditions (winter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedProfile {
    /// Short name written into prepared graphs, e.g. `default` or `winter`.
    pub name: String,
    /// Speed in km/h when no `maxspeed` is tagged, indexed like [`RoadClass::ALL`].
    pub default_kmh: [f64; 14],
    /// Factor applied to every speed of the class (1.0 = dry roads).
    pub factor: [f64; 14],
    /// Never drive faster than this, whatever is signed (km/h).
    pub max_kmh: f64,
}

impl Default for SpeedProfile {
    fn default() -> Self {
        Self {
            name: "default".into(),
            // Expressways 100 km/h by law; general roads 60 unless signed; narrow
            // rural and residential roads at practical, not legal, speeds.
            default_kmh: [
                100.0, 60.0, // motorway, link
                60.0, 40.0, // trunk, link
                60.0, 40.0, // primary, link
                50.0, 40.0, // secondary, link
                40.0, 30.0, // tertiary, link
                30.0, // unclassified (narrow rural roads)
                30.0, // residential
                10.0, // living street
                15.0, // service
            ],
            factor: [1.0; 14],
            max_kmh: 120.0,
        }
    }
}

impl SpeedProfile {
    /// Snow-covered roads: arterials are ploughed first and keep more of their
    /// speed than narrow lanes, which may be single-track between snow walls.
    pub fn winter() -> Self {
        Self {
            name: "winter".into(),
            factor: [
                0.8, 0.7, // motorway
                0.7, 0.6, // trunk
                0.7, 0.6, // primary
                0.65, 0.6, // secondary
                0.6, 0.55, // tertiary
                0.5, 0.5, 0.5, 0.5, // unclassified, residential, living street, service
            ],
            ..Self::default()
        }
    }

    /// A named built-in profile.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "default" => Some(Self::default()),
            "winter" => Some(Self::winter()),
            _ => None,
        }
    }

    /// Speed in km/h for a class with an optional signed limit (already in km/h).
    pub fn speed_kmh(&self, class: RoadClass, signed_kmh: Option<f64>) -> f64 {
        let base = signed_kmh.unwrap_or(self.default_kmh[class.index()]);
        (base.min(self.max_kmh) * self.factor[class.index()]).max(1.0)
    }

    /// A stable fingerprint of the profile, so a prepared graph built with other
    /// speeds is never reused.
    pub fn fingerprint(&self) -> u64 {
        let mut h = crate::store::Fnv::new();
        h.write(self.name.as_bytes());
        for v in self.default_kmh.iter().chain(&self.factor).chain([&self.max_kmh]) {
            h.write(&v.to_le_bytes());
        }
        h.finish()
    }
}

/// Parses an OSM `maxspeed` value into km/h: plain numbers, `mph`, `knots`, and
/// zone values such as `JP:nsl`, `DE:urban`, `zone:30` or `none`. Returns `None`
/// for values that carry no number (`signals`, `variable`, unknown zones), so the
/// class default applies.
pub fn parse_maxspeed(value: &str) -> Option<f64> {
    let v = value.trim();
    if let Some(kmh) = parse_number_with_unit(v) {
        return Some(kmh);
    }
    let lower = v.to_ascii_lowercase();
    // Zone values: "CC:kind" or "CC:zone30" / "zone:30" / "CC:zone:30".
    let (country, kind) = lower.split_once(':').unwrap_or(("", lower.as_str()));
    if let Some(n) =
        kind.strip_prefix("zone").map(|r| r.trim_start_matches(':')).and_then(|r| r.parse::<f64>().ok())
    {
        return Some(n);
    }
    if country == "zone" {
        return kind.parse::<f64>().ok();
    }
    match (country, kind) {
        (_, "none") => Some(130.0), // capped by the profile's max speed
        (_, "walk") => Some(7.0),
        (_, "living_street") => Some(10.0),
        ("jp", "nsl" | "urban" | "rural" | "trunk") => Some(60.0),
        ("jp", "motorway" | "expressway") => Some(100.0),
        (_, "urban") => Some(50.0),
        ("ch", "rural") => Some(80.0),
        ("fr" | "es" | "it" | "at" | "de" | "li" | "cz" | "pl" | "ru", "rural") => {
            Some(if country == "fr" { 80.0 } else { 100.0 })
        }
        ("gb" | "uk", "nsl_single") => Some(96.5),
        ("gb" | "uk", "nsl_dual") => Some(112.6),
        (_, "rural") => Some(80.0),
        (_, "trunk") => Some(100.0),
        (_, "motorway") => Some(120.0),
        _ => None,
    }
}

fn parse_number_with_unit(v: &str) -> Option<f64> {
    let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    if !(n.is_finite() && n > 0.0) {
        return None;
    }
    match unit.trim() {
        "" | "km/h" | "kmh" | "kph" => Some(n),
        "mph" => Some(n * 1.609_344),
        "knots" => Some(n * 1.852),
        _ => None,
    }
}

/// Direction(s) a car may travel along a way, in the order of its nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directions {
    pub forward: bool,
    pub backward: bool,
}

/// How a car may use one OSM way, or `None` when it may not drive it at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WayRule {
    pub class: RoadClass,
    pub directions: Directions,
    pub forward_kmh: f64,
    pub backward_kmh: f64,
}

/// Why a way with a `highway` tag is not driven, counted by the import so a
/// planner sees when a stale tag cuts a road.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Not for cars at all (footway, track, cycleway, …).
    NotDrivable,
    /// Under construction (`highway=construction`, or `construction=*` other
    /// than `no`, `minor` or `widening`, which OSRM's car profile keeps open).
    Construction,
    /// Closed to cars by an access tag (`motor_vehicle=no`, `access=private`, …).
    Access,
    /// A pedestrian or parking area drawn as a closed way (`area=yes`).
    Area,
    /// A ferry route.
    Ferry,
    /// Tagged impassable, or reversible and alternating lanes whose direction
    /// changes with the hour (no time can be promised over them).
    Impassable,
}

impl Refusal {
    pub const ALL: [Refusal; 6] = [
        Refusal::NotDrivable,
        Refusal::Construction,
        Refusal::Access,
        Refusal::Area,
        Refusal::Ferry,
        Refusal::Impassable,
    ];

    /// The reason as `noriai map build` prints it.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::NotDrivable => "not for cars",
            Refusal::Construction => "under construction",
            Refusal::Access => "closed to cars (access)",
            Refusal::Area => "areas",
            Refusal::Ferry => "ferries",
            Refusal::Impassable => "impassable or reversible",
        }
    }
}

/// Decides from a way's tags whether, where and how fast a car may drive it:
/// `None` when the way is not a road at all (no `highway` tag), else the rule
/// or the reason a car may not use it.
pub fn way_rule<'a>(
    profile: &SpeedProfile,
    tag: impl Fn(&str) -> Option<&'a str>,
) -> Option<Result<WayRule, Refusal>> {
    let highway = tag("highway")?;
    Some(drivable(profile, highway, tag))
}

fn drivable<'a>(
    profile: &SpeedProfile,
    highway: &str,
    tag: impl Fn(&str) -> Option<&'a str>,
) -> Result<WayRule, Refusal> {
    if highway == "construction"
        || tag("construction").is_some_and(|c| !matches!(c, "no" | "minor" | "widening"))
    {
        return Err(Refusal::Construction);
    }
    let class = RoadClass::from_highway(highway).ok_or(Refusal::NotDrivable)?;
    if tag("area") == Some("yes") {
        return Err(Refusal::Area);
    }
    if tag("route") == Some("ferry") {
        return Err(Refusal::Ferry);
    }
    if tag("impassable") == Some("yes") {
        return Err(Refusal::Impassable);
    }
    // The most specific access tag wins: motorcar, then motor_vehicle, vehicle, access.
    let access = ["motorcar", "motor_vehicle", "vehicle", "access"].iter().find_map(|k| tag(k));
    if matches!(access, Some("no" | "private" | "agricultural" | "forestry" | "delivery" | "emergency")) {
        return Err(Refusal::Access);
    }
    let roundabout = matches!(tag("junction"), Some("roundabout" | "circular"));
    let implied_oneway = roundabout || class == RoadClass::Motorway;
    let directions = match tag("oneway") {
        Some("yes" | "true" | "1") => Directions { forward: true, backward: false },
        Some("-1" | "reverse") => Directions { forward: false, backward: true },
        Some("no" | "false" | "0") => Directions { forward: true, backward: true },
        // Reversible and alternating lanes change with the hour; a dispatcher
        // cannot promise a time over them.
        Some("reversible" | "alternating") => return Err(Refusal::Impassable),
        _ if implied_oneway => Directions { forward: true, backward: false },
        _ => Directions { forward: true, backward: true },
    };
    let both = tag("maxspeed").and_then(parse_maxspeed);
    let fwd = tag("maxspeed:forward").and_then(parse_maxspeed).or(both);
    let bwd = tag("maxspeed:backward").and_then(parse_maxspeed).or(both);
    Ok(WayRule {
        class,
        directions,
        forward_kmh: profile.speed_kmh(class, fwd),
        backward_kmh: profile.speed_kmh(class, bwd),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn rule(tags: &[(&str, &str)]) -> Option<WayRule> {
        verdict(tags).and_then(Result::ok)
    }

    fn verdict(tags: &[(&str, &str)]) -> Option<Result<WayRule, Refusal>> {
        let m: HashMap<&str, &str> = tags.iter().copied().collect();
        way_rule(&SpeedProfile::default(), |k| m.get(k).copied())
    }

    #[test]
    fn refusals_say_why() {
        let why = |tags: &[(&str, &str)]| verdict(tags).and_then(Result::err);
        assert_eq!(verdict(&[("building", "yes")]), None, "not a road at all");
        assert_eq!(why(&[("highway", "footway")]), Some(Refusal::NotDrivable));
        assert_eq!(why(&[("highway", "construction")]), Some(Refusal::Construction));
        assert_eq!(why(&[("highway", "primary"), ("construction", "primary")]), Some(Refusal::Construction));
        assert_eq!(why(&[("highway", "residential"), ("access", "private")]), Some(Refusal::Access));
        assert_eq!(why(&[("highway", "service"), ("area", "yes")]), Some(Refusal::Area));
        assert_eq!(why(&[("highway", "primary"), ("route", "ferry")]), Some(Refusal::Ferry));
        assert_eq!(why(&[("highway", "primary"), ("oneway", "reversible")]), Some(Refusal::Impassable));
        // As in OSRM's car profile: minor works and widening keep a road open.
        for open in ["no", "minor", "widening"] {
            assert!(rule(&[("highway", "primary"), ("construction", open)]).is_some(), "construction={open}");
        }
    }

    #[test]
    fn maxspeed_values() {
        assert_eq!(parse_maxspeed("50"), Some(50.0));
        assert_eq!(parse_maxspeed("40 km/h"), Some(40.0));
        assert!((parse_maxspeed("30 mph").unwrap_or(0.0) - 48.28).abs() < 0.01);
        assert_eq!(parse_maxspeed("JP:nsl"), Some(60.0));
        assert_eq!(parse_maxspeed("JP:expressway"), Some(100.0));
        assert_eq!(parse_maxspeed("DE:zone30"), Some(30.0));
        assert_eq!(parse_maxspeed("DE:zone:30"), Some(30.0));
        assert_eq!(parse_maxspeed("zone:20"), Some(20.0));
        assert_eq!(parse_maxspeed("CH:rural"), Some(80.0));
        assert_eq!(parse_maxspeed("signals"), None);
        assert_eq!(parse_maxspeed("0"), None);
        assert_eq!(parse_maxspeed("fast"), None);
    }

    #[test]
    fn access_and_class() {
        assert!(rule(&[("highway", "footway")]).is_none());
        assert!(rule(&[("highway", "track")]).is_none());
        assert!(rule(&[("highway", "residential"), ("access", "private")]).is_none());
        assert!(rule(&[("highway", "residential"), ("motor_vehicle", "no")]).is_none());
        assert!(rule(&[("highway", "service"), ("access", "no"), ("motor_vehicle", "yes")]).is_some());
        assert!(rule(&[("highway", "pedestrian"), ("area", "yes")]).is_none());
        assert!(rule(&[("highway", "residential"), ("area", "yes")]).is_none());
        assert!(rule(&[("highway", "construction")]).is_none());
        assert!(rule(&[("highway", "primary"), ("construction", "yes")]).is_none());
    }

    #[test]
    fn oneway_rules() {
        let d = |t: &[(&str, &str)]| rule(t).map(|r| (r.directions.forward, r.directions.backward));
        assert_eq!(d(&[("highway", "primary")]), Some((true, true)));
        assert_eq!(d(&[("highway", "primary"), ("oneway", "yes")]), Some((true, false)));
        assert_eq!(d(&[("highway", "primary"), ("oneway", "-1")]), Some((false, true)));
        assert_eq!(d(&[("highway", "primary"), ("junction", "roundabout")]), Some((true, false)));
        assert_eq!(d(&[("highway", "motorway")]), Some((true, false)));
        assert_eq!(d(&[("highway", "motorway"), ("oneway", "no")]), Some((true, true)));
        assert_eq!(d(&[("highway", "primary"), ("oneway", "reversible")]), None);
    }

    #[test]
    fn speeds_follow_profile() {
        let p = SpeedProfile::default();
        assert_eq!(p.speed_kmh(RoadClass::Primary, None), 60.0);
        assert_eq!(p.speed_kmh(RoadClass::Motorway, None), 100.0);
        assert_eq!(p.speed_kmh(RoadClass::Primary, Some(200.0)), 120.0);
        let w = SpeedProfile::winter();
        assert!(w.speed_kmh(RoadClass::Residential, None) < p.speed_kmh(RoadClass::Residential, None));
        assert_ne!(p.fingerprint(), w.fingerprint());
        let r = rule(&[("highway", "secondary"), ("maxspeed", "40"), ("maxspeed:backward", "30")]).unwrap();
        assert_eq!((r.forward_kmh, r.backward_kmh), (40.0, 30.0));
    }
}
