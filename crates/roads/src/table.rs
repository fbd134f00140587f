//! Travel times between a growing set of road points, for a live dispatcher
//! that learns new pickup and dropoff points one booking at a time.
//!
//! Each point keeps its forward and backward upward search spaces as buckets
//! (the many-to-many idea of Knopp et al., made incremental): a new point costs
//! two upward searches plus a scan of the buckets they touch, not a search per
//! existing point.

use crate::ch::INF;
use crate::{RoadNetwork, Snapped};
use noriai_model::{LocId, TravelTimes};
use std::collections::HashMap;

/// A bucket entry: a point reached from (or reaching) a node with time and length.
#[derive(Debug, Clone, Copy)]
struct Entry {
    point: u32,
    time_ms: u32,
    length_dm: u32,
}

/// Times (s) and distances (m) between every pair of added points.
#[derive(Debug, Clone, Default)]
pub struct PointTable {
    points: Vec<Snapped>,
    /// Row-major with a stride of `cap` so rows grow without copying often.
    times: Vec<f64>,
    distances: Vec<f64>,
    cap: usize,
    /// For each hierarchy node (by rank), the points whose forward search reached it.
    forward: HashMap<u32, Vec<Entry>>,
    /// For each hierarchy node, the points whose backward search reached it.
    backward: HashMap<u32, Vec<Entry>>,
    /// Points on each road piece, to catch trips along a single piece.
    by_piece: HashMap<u32, Vec<u32>>,
}

impl PointTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn points(&self) -> &[Snapped] {
        &self.points
    }

    /// The id of `p`, adding it (and its times to and from every known point)
    /// if it is new. The same road point always gets the same id.
    pub fn add(&mut self, net: &RoadNetwork, p: Snapped) -> LocId {
        if let Some(same) = self
            .by_piece
            .get(&p.piece)
            .and_then(|list| list.iter().copied().find(|&i| self.points[i as usize].fraction == p.fraction))
        {
            return LocId(same);
        }
        let id = self.points.len();
        self.grow(id + 1);
        self.points.push(p);
        let mut q = net.query();
        // Forward space of p: meets the backward buckets of known points (p → q).
        let mut fwd_space = Vec::new();
        q.upward_space(&net.source_seeds(&p), true, |v, t, l| fwd_space.push((v, t, l)));
        let mut bwd_space = Vec::new();
        q.upward_space(&net.target_seeds(&p), false, |v, t, l| bwd_space.push((v, t, l)));
        let n = id + 1;
        let mut to = vec![(INF, INF); n];
        let mut from = vec![(INF, INF); n];
        for &(v, t, l) in &fwd_space {
            for e in self.backward.get(&v).into_iter().flatten() {
                relax(&mut to[e.point as usize], t, l, e);
            }
        }
        for &(v, t, l) in &bwd_space {
            for e in self.forward.get(&v).into_iter().flatten() {
                relax(&mut from[e.point as usize], t, l, e);
            }
        }
        let me = Entry { point: id as u32, time_ms: 0, length_dm: 0 };
        for &(v, t, l) in &fwd_space {
            self.forward.entry(v).or_default().push(Entry { time_ms: t, length_dm: l, ..me });
        }
        for &(v, t, l) in &bwd_space {
            self.backward.entry(v).or_default().push(Entry { time_ms: t, length_dm: l, ..me });
        }
        let siblings = self.by_piece.entry(p.piece).or_default();
        siblings.push(id as u32);
        for &other in siblings.iter() {
            let o = self.points[other as usize];
            if let Some((t, l)) = net.direct(&p, &o) {
                relax(&mut to[other as usize], t, l, &Entry { time_ms: 0, length_dm: 0, ..me });
            }
            if let Some((t, l)) = net.direct(&o, &p) {
                relax(&mut from[other as usize], t, l, &Entry { time_ms: 0, length_dm: 0, ..me });
            }
        }
        for j in 0..n {
            let (t, l) = to[j];
            self.set(id, j, t, l);
            let (t, l) = from[j];
            self.set(j, id, t, l);
        }
        self.set(id, id, 0, 0);
        LocId(id as u32)
    }

    fn set(&mut self, i: usize, j: usize, t: u32, l: u32) {
        let k = i * self.cap + j;
        if t == INF {
            self.times[k] = f64::INFINITY;
            self.distances[k] = f64::INFINITY;
        } else {
            self.times[k] = t as f64 / 1000.0;
            self.distances[k] = l as f64 / 10.0;
        }
    }

    fn grow(&mut self, n: usize) {
        if n <= self.cap {
            return;
        }
        let cap = (self.cap * 2).max(n).max(16);
        let mut times = vec![f64::INFINITY; cap * cap];
        let mut distances = vec![f64::INFINITY; cap * cap];
        for i in 0..self.points.len() {
            let (old, new) = (i * self.cap, i * cap);
            let m = self.points.len();
            times[new..new + m].copy_from_slice(&self.times[old..old + m]);
            distances[new..new + m].copy_from_slice(&self.distances[old..old + m]);
        }
        (self.times, self.distances, self.cap) = (times, distances, cap);
    }
}

fn relax(best: &mut (u32, u32), t: u32, l: u32, e: &Entry) {
    let total = t.saturating_add(e.time_ms);
    if total < best.0 {
        *best = (total, l.saturating_add(e.length_dm));
    }
}

impl TravelTimes for PointTable {
    fn len(&self) -> usize {
        self.points.len()
    }
    #[inline]
    fn time(&self, from: LocId, to: LocId) -> f64 {
        self.times[from.index() * self.cap + to.index()]
    }
    #[inline]
    fn distance(&self, from: LocId, to: LocId) -> f64 {
        self.distances[from.index() * self.cap + to.index()]
    }
}
