//! Travel-time sources that learn places as bookings arrive: the road map
//! (snapped points in an incremental [`PointTable`]) or a crow-flies model for
//! areas without a road map. Both implement the engine's `TravelTimes`.

use crate::world::Plane;
use noriai_model::{LatLon, LocId, TravelTimes};
use noriai_roads::{PointTable, RoadNetwork, SnapError};
use std::collections::HashMap;

/// A travel-time source that can place new coordinates (shared by the
/// batch planner's parallel searches, hence `Sync`).
pub trait Places: TravelTimes + Sync {
    /// The id of a coordinate, or why it is not on the map.
    fn locate(&mut self, p: LatLon) -> Result<LocId, SnapError>;
    /// The coordinate a place was put at (the snapped point on the road map).
    fn coord(&self, id: LocId) -> LatLon;
}

/// Road travel times between snapped points (the server's own table).
pub struct RoadPlaces<'a> {
    net: &'a RoadNetwork,
    table: PointTable,
    coords: Vec<LatLon>,
    /// The scenario's snapping limit (the shared network's own limit still applies).
    max_snap_m: f64,
}

impl<'a> RoadPlaces<'a> {
    pub fn new(net: &'a RoadNetwork, max_snap_m: f64) -> Self {
        Self { net, table: PointTable::new(), coords: Vec::new(), max_snap_m }
    }
}

impl TravelTimes for RoadPlaces<'_> {
    fn len(&self) -> usize {
        self.table.len()
    }
    #[inline]
    fn time(&self, from: LocId, to: LocId) -> f64 {
        self.table.time(from, to)
    }
    #[inline]
    fn distance(&self, from: LocId, to: LocId) -> f64 {
        self.table.distance(from, to)
    }
}

impl Places for RoadPlaces<'_> {
    fn locate(&mut self, p: LatLon) -> Result<LocId, SnapError> {
        let s = self.net.snap(p)?;
        if s.distance_m > self.max_snap_m {
            return Err(SnapError::TooFar { point: p, distance_m: s.distance_m, limit_m: self.max_snap_m });
        }
        let id = self.table.add(self.net, s);
        if id.index() == self.coords.len() {
            self.coords.push(s.point);
        }
        Ok(id)
    }
    fn coord(&self, id: LocId) -> LatLon {
        self.coords[id.index()]
    }
}

/// Straight-line distance × detour factor at a constant speed, computed on the
/// fly (O(1), no matrix): a planning model for areas with no road map, e.g. the
/// Manhattan scale test. It ignores one-way streets, rivers and congestion.
pub struct CrowPlaces {
    plane: Plane,
    detour: f64,
    speed_mps: f64,
    xy: Vec<(f64, f64)>,
    coords: Vec<LatLon>,
    /// Points closer than a metre share an id, as snapped road points do.
    index: HashMap<(i64, i64), u32>,
}

impl CrowPlaces {
    pub fn new(reference: LatLon, speed_kmh: f64, detour: f64) -> Self {
        Self {
            plane: Plane::at(reference.lat),
            detour,
            speed_mps: speed_kmh / 3.6,
            xy: Vec::new(),
            coords: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl TravelTimes for CrowPlaces {
    fn len(&self) -> usize {
        self.xy.len()
    }
    #[inline]
    fn time(&self, from: LocId, to: LocId) -> f64 {
        self.distance(from, to) / self.speed_mps
    }
    #[inline]
    fn distance(&self, from: LocId, to: LocId) -> f64 {
        let (a, b) = (self.xy[from.index()], self.xy[to.index()]);
        let (dx, dy) = (a.0 - b.0, a.1 - b.1);
        // Not `hypot`: its overflow-safe libm call was a quarter of a
        // 20,000-trip day (perf); city distances in metres cannot overflow.
        (dx * dx + dy * dy).sqrt() * self.detour
    }
}

impl Places for CrowPlaces {
    fn locate(&mut self, p: LatLon) -> Result<LocId, SnapError> {
        let (x, y) = self.plane.xy(p);
        let key = (x.round() as i64, y.round() as i64);
        if let Some(&id) = self.index.get(&key) {
            return Ok(LocId(id));
        }
        let id = self.xy.len() as u32;
        self.xy.push((x, y));
        self.coords.push(p);
        self.index.insert(key, id);
        Ok(LocId(id))
    }
    fn coord(&self, id: LocId) -> LatLon {
        self.coords[id.index()]
    }
}
