//! Places riders travel between, read from the OpenStreetMap extract: homes
//! (buildings and residential streets) and destinations (hospitals, clinics,
//! shops, stations, town halls, schools). Two passes over the file (ways, then
//! only the nodes needed), like the road import, so memory stays small.

use crate::SimError;
use noriai_model::LatLon;
use osmpbfreader::OsmPbfReader;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// What a destination is, which decides when elderly riders go there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Category {
    Medical,
    Shop,
    Station,
    Civic,
    School,
}

impl Category {
    pub const ALL: [Category; 5] =
        [Category::Medical, Category::Shop, Category::Station, Category::Civic, Category::School];

    /// The name a scenario uses for it (`demand.exclude`).
    pub fn key(self) -> &'static str {
        match self {
            Category::Medical => "medical",
            Category::Shop => "shop",
            Category::Station => "station",
            Category::Civic => "civic",
            Category::School => "school",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Category::ALL.into_iter().find(|c| c.key() == key)
    }

    fn of(tag: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let is = |k: &str, vs: &[&str]| tag(k).is_some_and(|v| vs.contains(&v.as_str()));
        if is("amenity", &["hospital", "clinic", "doctors", "pharmacy", "dentist"])
            || is("healthcare", &["hospital", "clinic", "doctor", "pharmacy"])
        {
            Some(Category::Medical)
        } else if is("shop", &["supermarket", "convenience", "department_store", "mall", "chemist"]) {
            Some(Category::Shop)
        } else if is("railway", &["station", "halt"]) || is("public_transport", &["station"]) {
            Some(Category::Station)
        } else if is("amenity", &["townhall", "community_centre", "post_office", "social_facility"]) {
            Some(Category::Civic)
        } else if is("amenity", &["school", "college", "kindergarten"]) {
            Some(Category::School)
        } else {
            None
        }
    }
}

/// Homes (with weights) and destinations found on the map.
#[derive(Debug, Clone, Default)]
pub struct Pois {
    pub homes: Vec<(LatLon, f64)>,
    pub destinations: Vec<(LatLon, Category)>,
}

/// Weight of a building or street as a place people live.
fn home_weight(tag: &impl Fn(&str) -> Option<String>) -> Option<f64> {
    match tag("building").as_deref() {
        Some("apartments") => return Some(4.0),
        Some("house" | "detached" | "residential" | "semidetached_house" | "terrace" | "bungalow") => {
            return Some(1.0);
        }
        _ => {}
    }
    match tag("highway").as_deref() {
        Some("residential" | "living_street") => Some(0.3),
        _ => None,
    }
}

enum WayUse {
    Home(f64),
    Destination(Category),
}

/// Reads homes and destinations from a `.osm.pbf` file.
pub fn read_pois(path: &Path) -> Result<Pois, SimError> {
    let open = || File::open(path).map_err(|source| SimError::Read { path: path.into(), source });
    let bad = |e: osmpbfreader::Error| SimError::Invalid(format!("{}: {e}", path.display()));
    let mut ways: Vec<(Vec<i64>, WayUse)> = Vec::new();
    let mut reader = OsmPbfReader::new(BufReader::new(open()?));
    for w in reader.par_iter_ways() {
        let w = w.map_err(bad)?;
        let tag = |k: &str| w.tags.get(k).map(|v| v.to_string());
        let nodes: Vec<i64> = w.nodes.iter().map(|n| n.0).collect();
        if nodes.is_empty() {
            continue;
        }
        if let Some(c) = Category::of(tag) {
            ways.push((nodes, WayUse::Destination(c)));
        } else if let Some(wt) = home_weight(&tag) {
            ways.push((nodes, WayUse::Home(wt)));
        }
    }
    let needed: HashSet<i64> = ways.iter().flat_map(|(n, _)| n.iter().copied()).collect();
    let mut coords: HashMap<i64, LatLon> = HashMap::with_capacity(needed.len());
    let mut pois = Pois::default();
    let mut reader = OsmPbfReader::new(BufReader::new(open()?));
    for n in reader.par_iter_nodes() {
        let n = n.map_err(bad)?;
        let Ok(p) = LatLon::new(n.lat(), n.lon()) else { continue };
        if needed.contains(&n.id.0) {
            coords.insert(n.id.0, p);
        }
        if n.tags.is_empty() {
            continue;
        }
        let tag = |k: &str| n.tags.get(k).map(|v| v.to_string());
        if let Some(c) = Category::of(tag) {
            pois.destinations.push((p, c));
        } else if let Some(w) = home_weight(&tag) {
            pois.homes.push((p, w));
        }
    }
    for (nodes, usage) in &ways {
        match usage {
            // A building or place counts once, at its centroid.
            WayUse::Destination(c) => {
                if let Some(p) = centroid(nodes, &coords) {
                    pois.destinations.push((p, *c));
                }
            }
            WayUse::Home(w) if nodes.len() >= 3 && nodes.first() == nodes.last() => {
                if let Some(p) = centroid(nodes, &coords) {
                    pois.homes.push((p, *w));
                }
            }
            // A residential street: every node is a possible front door.
            WayUse::Home(w) => {
                pois.homes.extend(nodes.iter().filter_map(|id| coords.get(id)).map(|&p| (p, *w)));
            }
        }
    }
    // Deterministic order whatever the parallel reader's order was.
    let key = |p: &LatLon| (p.lat.to_bits(), p.lon.to_bits());
    pois.homes.sort_by(|a, b| key(&a.0).cmp(&key(&b.0)).then(a.1.total_cmp(&b.1)));
    pois.destinations.sort_by(|a, b| key(&a.0).cmp(&key(&b.0)).then(a.1.cmp(&b.1)));
    Ok(pois)
}

/// A named settlement (`place=city|town|village`) to label a map with.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceName {
    pub at: LatLon,
    pub name: String,
    /// 0 for a city, 1 for a town, 2 for a village: larger places first.
    pub rank: u8,
}

/// Cities, towns and villages of a `.osm.pbf` file, largest first (at most `limit`).
pub fn read_place_names(path: &Path, limit: usize) -> Result<Vec<PlaceName>, SimError> {
    let file = File::open(path).map_err(|source| SimError::Read { path: path.into(), source })?;
    let mut reader = OsmPbfReader::new(BufReader::new(file));
    let mut out = Vec::new();
    for n in reader.par_iter_nodes() {
        let n = n.map_err(|e| SimError::Invalid(format!("{}: {e}", path.display())))?;
        let rank = match n.tags.get("place").map(|v| v.as_str()) {
            Some("city") => 0,
            Some("town") => 1,
            Some("village") => 2,
            _ => continue,
        };
        let (Some(name), Ok(at)) = (n.tags.get("name"), LatLon::new(n.lat(), n.lon())) else { continue };
        out.push(PlaceName { at, name: name.to_string(), rank });
    }
    out.sort_by(|a, b| a.rank.cmp(&b.rank).then(a.name.cmp(&b.name)));
    out.truncate(limit);
    Ok(out)
}

fn centroid(nodes: &[i64], coords: &HashMap<i64, LatLon>) -> Option<LatLon> {
    let pts: Vec<LatLon> = nodes.iter().filter_map(|id| coords.get(id)).copied().collect();
    if pts.is_empty() {
        return None;
    }
    let n = pts.len() as f64;
    Some(LatLon {
        lat: pts.iter().map(|p| p.lat).sum::<f64>() / n,
        lon: pts.iter().map(|p| p.lon).sum::<f64>() / n,
    })
}
