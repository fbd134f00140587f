//! The prepared road graph: intersections, road pieces between them with their
//! shape, and directed arcs with travel time and length.

use noriai_model::LatLon;

/// Marks an arc a car may not use (the wrong way of a one-way road).
pub const NO_ARC: u32 = u32::MAX;

/// A stretch of road between two intersections (or dead ends), drawn by its shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Piece {
    pub a: u32,
    pub b: u32,
    /// Travel time from `a` to `b` in milliseconds, or [`NO_ARC`].
    pub time_ab_ms: u32,
    /// Travel time from `b` to `a` in milliseconds, or [`NO_ARC`].
    pub time_ba_ms: u32,
    /// Length in decimetres.
    pub length_dm: u32,
    /// Range into [`RoadGraph::shape`], from `a` to `b`, both ends included.
    pub shape_start: u32,
    pub shape_end: u32,
}

/// A directed arc: piece `arc / 2`, forward when `arc % 2 == 0`.
pub type ArcId = u32;

/// The road graph. Immutable after import; all queries borrow it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoadGraph {
    pub nodes: Vec<LatLon>,
    pub pieces: Vec<Piece>,
    pub shape: Vec<LatLon>,
}

impl RoadGraph {
    /// Tail, head and time (ms) of an arc; time is [`NO_ARC`] when not drivable.
    #[inline]
    pub fn arc(&self, arc: ArcId) -> (u32, u32, u32) {
        let p = &self.pieces[(arc / 2) as usize];
        if arc.is_multiple_of(2) { (p.a, p.b, p.time_ab_ms) } else { (p.b, p.a, p.time_ba_ms) }
    }

    #[inline]
    pub fn arc_length_dm(&self, arc: ArcId) -> u32 {
        self.pieces[(arc / 2) as usize].length_dm
    }

    /// Points of an arc in driving order.
    pub fn arc_shape(&self, arc: ArcId) -> impl Iterator<Item = LatLon> + '_ {
        let p = &self.pieces[(arc / 2) as usize];
        let pts = &self.shape[p.shape_start as usize..p.shape_end as usize];
        let forward = arc.is_multiple_of(2);
        (0..pts.len()).map(move |i| if forward { pts[i] } else { pts[pts.len() - 1 - i] })
    }

    /// All drivable arcs.
    pub fn arcs(&self) -> impl Iterator<Item = ArcId> + '_ {
        (0..self.pieces.len() as u32 * 2).filter(|&a| self.arc(a).2 != NO_ARC)
    }

    pub fn arc_count(&self) -> usize {
        self.arcs().count()
    }

    /// Outgoing arcs per node in compressed form: `(first, arcs)` where node
    /// `v`'s arcs are `arcs[first[v]..first[v + 1]]`.
    pub fn out_arcs(&self) -> Adjacency {
        Adjacency::build(self.nodes.len(), self.arcs().map(|a| (self.arc(a).0, a)))
    }
}

/// Compressed sparse rows of arcs by node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Adjacency {
    pub first: Vec<u32>,
    pub arcs: Vec<ArcId>,
}

impl Adjacency {
    pub fn build(n: usize, items: impl Iterator<Item = (u32, ArcId)>) -> Self {
        let mut pairs: Vec<(u32, ArcId)> = items.collect();
        pairs.sort_unstable();
        let mut first = vec![0u32; n + 1];
        for &(v, _) in &pairs {
            first[v as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        Self { first, arcs: pairs.into_iter().map(|(_, a)| a).collect() }
    }

    #[inline]
    pub fn of(&self, v: u32) -> &[ArcId] {
        &self.arcs[self.first[v as usize] as usize..self.first[v as usize + 1] as usize]
    }
}
