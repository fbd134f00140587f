//! Placing a coordinate on the nearest drivable road with an R-tree of road
//! segments in a local metric plane.

use crate::error::SnapError;
use crate::graph::RoadGraph;
use noriai_model::LatLon;
use rstar::primitives::{GeomWithData, Line};
use rstar::{PointDistance, RTree};

const M_PER_DEG_LAT: f64 = 110_574.0;
const M_PER_DEG_LON_EQUATOR: f64 = 111_320.0;

/// A point placed on a road piece.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapped {
    pub piece: u32,
    /// Index of the shape segment the point lies on.
    pub segment: u32,
    /// Share of the piece's length from its `a` end to the point (0..=1).
    pub fraction: f64,
    /// The point on the road.
    pub point: LatLon,
    /// How far the asked-for point was from the road, in metres.
    pub distance_m: f64,
}

/// Equirectangular projection around the map's centre: accurate to well under
/// a percent across a prefecture, and cheap.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Plane {
    lat0: f64,
    lon0: f64,
    kx: f64,
}

impl Plane {
    fn around(points: &[LatLon]) -> Self {
        let n = points.len().max(1) as f64;
        let lat0 = points.iter().map(|p| p.lat).sum::<f64>() / n;
        let lon0 = points.iter().map(|p| p.lon).sum::<f64>() / n;
        Self { lat0, lon0, kx: M_PER_DEG_LON_EQUATOR * lat0.to_radians().cos() }
    }
    fn xy(&self, p: LatLon) -> [f64; 2] {
        [(p.lon - self.lon0) * self.kx, (p.lat - self.lat0) * M_PER_DEG_LAT]
    }
    fn latlon(&self, xy: [f64; 2]) -> LatLon {
        LatLon { lat: xy[1] / M_PER_DEG_LAT + self.lat0, lon: xy[0] / self.kx + self.lon0 }
    }
}

type Segment = GeomWithData<Line<[f64; 2]>, (u32, u32)>;

/// Spatial index of every road segment.
pub struct Snapper {
    plane: Plane,
    tree: RTree<Segment>,
}

impl std::fmt::Debug for Snapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapper").field("segments", &self.tree.size()).finish()
    }
}

impl Snapper {
    pub fn new(graph: &RoadGraph) -> Self {
        let plane = Plane::around(&graph.nodes);
        let mut segments = Vec::with_capacity(graph.shape.len());
        for (i, p) in graph.pieces.iter().enumerate() {
            let pts = &graph.shape[p.shape_start as usize..p.shape_end as usize];
            for (s, w) in pts.windows(2).enumerate() {
                let line = Line::new(plane.xy(w[0]), plane.xy(w[1]));
                segments.push(Segment::new(line, (i as u32, s as u32)));
            }
        }
        Self { plane, tree: RTree::bulk_load(segments) }
    }

    /// The nearest road point to `p`, refused beyond `limit_m`.
    pub fn snap(&self, graph: &RoadGraph, p: LatLon, limit_m: f64) -> Result<Snapped, SnapError> {
        let q = self.plane.xy(p);
        let seg = self.tree.nearest_neighbor(q).ok_or(SnapError::EmptyNetwork)?;
        let (piece, segment) = seg.data;
        let [a, b] = [seg.geom().from, seg.geom().to];
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len2 = dx * dx + dy * dy;
        let t =
            if len2 > 0.0 { (((q[0] - a[0]) * dx + (q[1] - a[1]) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
        let on = self.plane.latlon([a[0] + t * dx, a[1] + t * dy]);
        let distance_m = seg.geom().distance_2(&q).sqrt();
        if distance_m > limit_m {
            return Err(SnapError::TooFar { point: p, distance_m, limit_m });
        }
        let pc = &graph.pieces[piece as usize];
        let pts = &graph.shape[pc.shape_start as usize..pc.shape_end as usize];
        let total: f64 = pts.windows(2).map(|w| w[0].distance_m(w[1])).sum();
        let before: f64 = pts[..=segment as usize].windows(2).map(|w| w[0].distance_m(w[1])).sum();
        let along = before + pts[segment as usize].distance_m(on);
        let fraction = if total > 0.0 { (along / total).clamp(0.0, 1.0) } else { 0.0 };
        Ok(Snapped { piece, segment, fraction, point: on, distance_m })
    }
}
