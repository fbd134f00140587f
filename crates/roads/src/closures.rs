//! Roads closed at run time (snow, a landslide, works): which road pieces a
//! point or an area closes, and the same network driving around them.
//!
//! A closed piece keeps its place in the graph (so snapped points, ids and
//! shapes stay valid) but loses both of its arcs, and the hierarchy is built
//! again. A point on a closed piece is reached from its ends, as a driver
//! meets a rider at the barrier.

use crate::RoadNetwork;
use crate::ch::ContractionHierarchy;
use crate::graph::NO_ARC;
use noriai_model::LatLon;
use std::collections::HashMap;

impl RoadNetwork {
    /// Every piece with part of its shape where `inside` holds (an area):
    /// its shape points and points every 20 m along it, so a long straight
    /// road crossing a small area is found too.
    pub fn pieces_where(&self, inside: impl Fn(LatLon) -> bool) -> Vec<u32> {
        const STEP_M: f64 = 20.0;
        let g = self.graph();
        let crosses = |a: LatLon, b: LatLon| {
            let n = (a.distance_m(b) / STEP_M).ceil().max(1.0) as usize;
            (0..=n).any(|k| {
                let f = k as f64 / n as f64;
                inside(LatLon { lat: a.lat + f * (b.lat - a.lat), lon: a.lon + f * (b.lon - a.lon) })
            })
        };
        (0..g.pieces.len() as u32)
            .filter(|&p| {
                let piece = &g.pieces[p as usize];
                let shape = &g.shape[piece.shape_start as usize..piece.shape_end as usize];
                match shape {
                    [only] => inside(*only),
                    _ => shape.windows(2).any(|w| crosses(w[0], w[1])),
                }
            })
            .collect()
    }

    /// Whether `other` has the same roads (junctions and stretches, maybe
    /// other speeds): points snapped on one are valid on the other.
    pub fn same_roads(&self, other: &RoadNetwork) -> bool {
        let (a, b) = (self.graph(), other.graph());
        a.nodes == b.nodes
            && a.pieces.len() == b.pieces.len()
            && a.pieces.iter().zip(&b.pieces).all(|(p, q)| {
                (p.a, p.b, p.length_dm, p.shape_start, p.shape_end)
                    == (q.a, q.b, q.length_dm, q.shape_start, q.shape_end)
            })
    }

    /// Pieces closed in this network.
    pub fn closed_pieces(&self) -> Vec<u32> {
        let mut pieces: Vec<u32> = self.closed.keys().copied().collect();
        pieces.sort_unstable();
        pieces
    }

    /// This network with `pieces` (and those it had closed) closed both
    /// ways; unknown pieces are ignored. Builds a new hierarchy: for a town's
    /// map a fraction of a second, so callers run it off async tasks.
    pub fn with_closed(&self, pieces: &[u32]) -> RoadNetwork {
        let mut graph = self.graph().clone();
        let mut closed: HashMap<u32, (u32, u32)> = self.closed.clone();
        for &p in pieces {
            if let Some(piece) = graph.pieces.get_mut(p as usize) {
                closed.entry(p).or_insert((piece.time_ab_ms, piece.time_ba_ms));
            }
        }
        for &p in closed.keys() {
            let piece = &mut graph.pieces[p as usize];
            (piece.time_ab_ms, piece.time_ba_ms) = (NO_ARC, NO_ARC);
        }
        let ch = ContractionHierarchy::build(&graph, || {});
        let mut net = RoadNetwork::assemble(graph, ch, self.fingerprint().clone());
        net.max_snap_m = self.max_snap_m;
        net.closed = closed;
        net
    }
}
