//! The fixed part of a scenario: road network, service area, virtual stops
//! and depot. Loaded once and shared by every run that uses the same map.

use crate::SimError;
use crate::scenario::{AreaConfig, AreaShape, Scenario, StopsConfig};
use noriai_model::LatLon;
use noriai_roads::{NoProgress, Progress, RoadNetwork};
use noriai_zones::{ServiceArea, ZoneError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Road networks by (file, profile): compared scenarios on one map load it once.
#[derive(Default)]
pub struct MapCache {
    maps: Mutex<HashMap<(PathBuf, String), Arc<RoadNetwork>>>,
}

impl MapCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn open(
        &self,
        path: &std::path::Path,
        profile: &noriai_roads::SpeedProfile,
        progress: &dyn Progress,
    ) -> Result<Arc<RoadNetwork>, SimError> {
        let key = (path.to_path_buf(), profile.name.clone());
        if let Some(net) = self.maps.lock().map_err(|_| poisoned())?.get(&key) {
            return Ok(net.clone());
        }
        let (net, _) = RoadNetwork::open(path, profile, progress)?;
        let net = Arc::new(net);
        self.maps.lock().map_err(|_| poisoned())?.insert(key, net.clone());
        Ok(net)
    }
}

fn poisoned() -> SimError {
    SimError::Invalid("a simulation thread panicked while loading a map".into())
}

/// The H3 service area of a scenario.
pub fn build_area(cfg: &AreaConfig) -> Result<ServiceArea, ZoneError> {
    match &cfg.shape {
        AreaShape::Circle { centre, radius_m } => {
            ServiceArea::from_circle(*centre, *radius_m, cfg.resolution)
        }
        AreaShape::Polygon(ring) => ServiceArea::from_polygon(ring, cfg.resolution),
        AreaShape::GeoJson { text, .. } => ServiceArea::from_geojson(text, cfg.resolution),
    }
}

/// Map, area, stops and depot of one scenario.
pub struct World {
    pub net: Option<Arc<RoadNetwork>>,
    pub area: Option<ServiceArea>,
    /// Virtual stops (meeting points); empty for door-to-door service.
    pub stops: Vec<LatLon>,
    pub max_walk_m: f64,
    pub depot: LatLon,
    /// Settlements to label the report's map with (from the OSM map, if any).
    pub place_names: Vec<crate::osm::PlaceName>,
    grid: Grid,
}

impl World {
    pub fn load(sc: &Scenario, maps: &MapCache, progress: &dyn Progress) -> Result<Self, SimError> {
        let net = match &sc.map {
            Some(m) => {
                let net = maps.open(&m.path, &m.profile, progress)?;
                Some(net)
            }
            None => None,
        };
        let area = sc
            .area
            .as_ref()
            .map(build_area)
            .transpose()
            .map_err(|e| SimError::Invalid(format!("{}: `area`: {e}", sc.file.display())))?;
        if let (Some(area), Some(net)) = (&area, &net) {
            let (centre, reach) = net.extent();
            area.check_on_map(centre, reach + 20_000.0)
                .map_err(|e| SimError::Invalid(format!("{}: `area`: {e}", sc.file.display())))?;
        }
        let depot = sc
            .depot()
            .ok_or_else(|| SimError::Invalid(format!("{}: `fleet.depot` is missing", sc.file.display())))?;
        let (stops, max_walk_m) = match &sc.stops {
            StopsConfig::DoorToDoor => (Vec::new(), 0.0),
            StopsConfig::Virtual { list, spacing_m, max_walk_m } => {
                let mut stops = list.clone();
                if let (Some(spacing), Some(net)) = (spacing_m, &net) {
                    stops.extend(generate_stops(net, area.as_ref(), *spacing));
                }
                (stops, *max_walk_m)
            }
        };
        let grid = Grid::new(&stops, max_walk_m.max(1.0));
        let place_names = match &sc.map {
            Some(m) => crate::osm::read_place_names(&m.path, 40)?,
            None => Vec::new(),
        };
        Ok(Self { net, area, stops, max_walk_m, depot, place_names, grid })
    }

    /// The nearest virtual stop within walking distance, with the distance (m).
    pub fn nearest_stop(&self, p: LatLon) -> Option<(usize, f64)> {
        self.grid.nearest(&self.stops, p, self.max_walk_m)
    }

    pub fn door_to_door(&self) -> bool {
        self.stops.is_empty()
    }
}

/// Meeting points on road junctions, at least `spacing` metres apart, inside the area.
pub fn generate_stops(net: &RoadNetwork, area: Option<&ServiceArea>, spacing: f64) -> Vec<LatLon> {
    let nodes = &net.graph().nodes;
    let mut chosen: Vec<LatLon> = Vec::new();
    let mut cells: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    let Some(first) = nodes.first() else { return chosen };
    let plane = Plane::at(first.lat);
    // Visit nodes in a fixed geographic order so the result does not depend on graph numbering.
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by(|&a, &b| nodes[a].lat.total_cmp(&nodes[b].lat).then(nodes[a].lon.total_cmp(&nodes[b].lon)));
    for i in order {
        let p = nodes[i];
        if area.is_some_and(|a| !a.contains(p)) {
            continue;
        }
        let (x, y) = plane.xy(p);
        let (cx, cy) = ((x / spacing).floor() as i64, (y / spacing).floor() as i64);
        let near = (-1..=1).any(|dx| {
            (-1..=1).any(|dy| {
                cells.get(&(cx + dx, cy + dy)).is_some_and(|list| {
                    list.iter().any(|&k| {
                        let (qx, qy) = plane.xy(chosen[k]);
                        (qx - x).hypot(qy - y) < spacing
                    })
                })
            })
        });
        if !near {
            cells.entry((cx, cy)).or_default().push(chosen.len());
            chosen.push(p);
        }
    }
    chosen
}

/// A local equirectangular plane in metres (accurate across a town).
#[derive(Debug, Clone, Copy)]
pub struct Plane {
    kx: f64,
}

pub const M_PER_DEG: f64 = 111_195.0;

impl Plane {
    pub fn at(lat: f64) -> Self {
        Self { kx: lat.to_radians().cos() * M_PER_DEG }
    }
    pub fn xy(self, p: LatLon) -> (f64, f64) {
        (p.lon * self.kx, p.lat * M_PER_DEG)
    }
}

/// A uniform grid over stops for nearest-stop look-ups.
struct Grid {
    plane: Plane,
    cell: f64,
    cells: HashMap<(i64, i64), Vec<usize>>,
}

impl Grid {
    fn new(stops: &[LatLon], cell: f64) -> Self {
        let plane = Plane::at(stops.first().map_or(0.0, |p| p.lat));
        let mut cells: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        for (i, &p) in stops.iter().enumerate() {
            let (x, y) = plane.xy(p);
            cells.entry(((x / cell).floor() as i64, (y / cell).floor() as i64)).or_default().push(i);
        }
        Self { plane, cell, cells }
    }

    fn nearest(&self, stops: &[LatLon], p: LatLon, limit: f64) -> Option<(usize, f64)> {
        let (x, y) = self.plane.xy(p);
        let (cx, cy) = ((x / self.cell).floor() as i64, (y / self.cell).floor() as i64);
        let mut best: Option<(usize, f64)> = None;
        for dx in -1..=1 {
            for dy in -1..=1 {
                for &i in self.cells.get(&(cx + dx, cy + dy)).into_iter().flatten() {
                    let d = p.distance_m(stops[i]);
                    if d <= limit && best.is_none_or(|(_, b)| d < b) {
                        best = Some((i, d));
                    }
                }
            }
        }
        best
    }
}

/// Convenience for tests and the CLI: a world without progress output.
pub fn load_quiet(sc: &Scenario, maps: &MapCache) -> Result<World, SimError> {
    World::load(sc, maps, &NoProgress)
}
