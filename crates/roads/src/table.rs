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

/// A point's two upward search spaces: (hierarchy node, time ms, length dm).
struct Spaces {
    forward: Vec<(u32, u32, u32)>,
    backward: Vec<(u32, u32, u32)>,
}

impl Spaces {
    fn of(net: &RoadNetwork, p: &Snapped) -> Self {
        let mut q = net.query();
        let mut forward = Vec::new();
        q.upward_space(&net.source_seeds(p), true, |v, t, l| forward.push((v, t, l)));
        let mut backward = Vec::new();
        q.upward_space(&net.target_seeds(p), false, |v, t, l| backward.push((v, t, l)));
        Self { forward, backward }
    }
}

/// Times (ms) and lengths (dm) from a new point to every known point (`to`)
/// and from every known point to it (`from`).
struct Rows {
    to: Vec<(u32, u32)>,
    from: Vec<(u32, u32)>,
}

impl PointTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn points(&self) -> &[Snapped] {
        &self.points
    }

    /// The id of `p` if the table already knows this road point.
    pub fn id_of(&self, p: &Snapped) -> Option<LocId> {
        self.by_piece
            .get(&p.piece)
            .and_then(|list| list.iter().copied().find(|&i| self.points[i as usize].fraction == p.fraction))
            .map(LocId)
    }

    /// The id of `p`, adding it (and its times to and from every known point)
    /// if it is new. The same road point always gets the same id.
    pub fn add(&mut self, net: &RoadNetwork, p: Snapped) -> LocId {
        if let Some(same) = self.id_of(&p) {
            return same;
        }
        let spaces = Spaces::of(net, &p);
        let rows = self.rows(net, &p, &spaces);
        let id = self.points.len();
        self.grow(id + 1);
        self.points.push(p);
        let me = Entry { point: id as u32, time_ms: 0, length_dm: 0 };
        for &(v, t, l) in &spaces.forward {
            self.forward.entry(v).or_default().push(Entry { time_ms: t, length_dm: l, ..me });
        }
        for &(v, t, l) in &spaces.backward {
            self.backward.entry(v).or_default().push(Entry { time_ms: t, length_dm: l, ..me });
        }
        self.by_piece.entry(p.piece).or_default().push(id as u32);
        for (j, (&(tt, tl), &(ft, fl))) in rows.to.iter().zip(&rows.from).enumerate() {
            self.set(id, j, tt, tl);
            self.set(j, id, ft, fl);
        }
        self.set(id, id, 0, 0);
        LocId(id as u32)
    }

    /// Forgets every point from id `len` on (the newest ones), as if they had
    /// never been added: a booking that could not be stored gives its points back.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.points.len() {
            return;
        }
        self.points.truncate(len);
        for buckets in [&mut self.forward, &mut self.backward] {
            buckets.retain(|_, list| {
                list.retain(|e| (e.point as usize) < len);
                !list.is_empty()
            });
        }
        self.by_piece.retain(|_, list| {
            list.retain(|&i| (i as usize) < len);
            !list.is_empty()
        });
    }

    /// A new table holding only the points in `keep` (in that order), and for
    /// every old id its new one: how a live day sheds the points of cancelled
    /// bookings, so memory follows the live bookings.
    pub fn compacted(&self, net: &RoadNetwork, keep: &[LocId]) -> (PointTable, Vec<Option<LocId>>) {
        let mut table = PointTable::new();
        let mut new_id = vec![None; self.points.len()];
        for &old in keep {
            if let Some(p) = self.points.get(old.index()) {
                new_id[old.index()] = Some(table.add(net, *p));
            }
        }
        (table, new_id)
    }

    /// This table seen with `points` added, without changing it: a quote
    /// prices its trip on such a view, so points nobody books never take
    /// memory. Returns the view and the id of each point in it (known points
    /// keep their ids; new ones follow the table's, in order).
    pub fn with_points(&self, net: &RoadNetwork, points: &[Snapped]) -> (TableView<'_>, Vec<LocId>) {
        let mut view = TableView { base: self, extra: Vec::new(), to: Vec::new(), from: Vec::new() };
        let mut spaces: Vec<Spaces> = Vec::new();
        let mut ids = Vec::with_capacity(points.len());
        for p in points {
            if let Some(id) = self.id_of(p) {
                ids.push(id);
                continue;
            }
            if let Some(k) = view.extra.iter().position(|q| q.piece == p.piece && q.fraction == p.fraction) {
                ids.push(LocId((self.points.len() + k) as u32));
                continue;
            }
            let sp = Spaces::of(net, p);
            let Rows { mut to, mut from } = self.rows(net, p, &sp);
            // Between new points: each one's forward space against the other's
            // backward space, in the order `add` would meet them.
            for (k, (q, other)) in view.extra.iter().zip(&spaces).enumerate() {
                let mut p_to_q = join(&sp.forward, &other.backward);
                let mut q_to_p = join(&other.forward, &sp.backward);
                if q.piece == p.piece {
                    if let Some((t, l)) = net.direct(p, q) {
                        relax_direct(&mut p_to_q, t, l);
                    }
                    if let Some((t, l)) = net.direct(q, p) {
                        relax_direct(&mut q_to_p, t, l);
                    }
                }
                to.push(p_to_q);
                from.push(q_to_p);
                view.to[k].push(q_to_p);
                view.from[k].push(p_to_q);
            }
            to.push((0, 0));
            from.push((0, 0));
            ids.push(LocId((self.points.len() + view.extra.len()) as u32));
            view.extra.push(*p);
            view.to.push(to);
            view.from.push(from);
            spaces.push(sp);
        }
        (view, ids)
    }

    /// Times from and to every known point for a new point `p` with search spaces `sp`.
    fn rows(&self, net: &RoadNetwork, p: &Snapped, sp: &Spaces) -> Rows {
        let n = self.points.len();
        let mut to = vec![(INF, INF); n];
        let mut from = vec![(INF, INF); n];
        for &(v, t, l) in &sp.forward {
            for e in self.backward.get(&v).into_iter().flatten() {
                relax(&mut to[e.point as usize], t, l, e);
            }
        }
        for &(v, t, l) in &sp.backward {
            for e in self.forward.get(&v).into_iter().flatten() {
                relax(&mut from[e.point as usize], t, l, e);
            }
        }
        for &other in self.by_piece.get(&p.piece).into_iter().flatten() {
            let o = self.points[other as usize];
            if let Some((t, l)) = net.direct(p, &o) {
                relax_direct(&mut to[other as usize], t, l);
            }
            if let Some((t, l)) = net.direct(&o, p) {
                relax_direct(&mut from[other as usize], t, l);
            }
        }
        Rows { to, from }
    }

    fn set(&mut self, i: usize, j: usize, t: u32, l: u32) {
        let k = i * self.cap + j;
        (self.times[k], self.distances[k]) = to_units(t, l);
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

/// Seconds and metres from milliseconds and decimetres (`INF`: unreachable).
fn to_units(t: u32, l: u32) -> (f64, f64) {
    if t == INF { (f64::INFINITY, f64::INFINITY) } else { (t as f64 / 1000.0, l as f64 / 10.0) }
}

/// The best meeting of a forward search space with a backward one.
fn join(forward: &[(u32, u32, u32)], backward: &[(u32, u32, u32)]) -> (u32, u32) {
    let reach: HashMap<u32, (u32, u32)> = forward.iter().map(|&(v, t, l)| (v, (t, l))).collect();
    let mut best = (INF, INF);
    for &(v, t, l) in backward {
        if let Some(&(ft, fl)) = reach.get(&v) {
            relax(&mut best, t, l, &Entry { point: 0, time_ms: ft, length_dm: fl });
        }
    }
    best
}

fn relax_direct(best: &mut (u32, u32), t: u32, l: u32) {
    relax(best, t, l, &Entry { point: 0, time_ms: 0, length_dm: 0 });
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

/// A [`PointTable`] with a few more points, borrowed and never changed: what a
/// quote prices on (see [`PointTable::with_points`]).
#[derive(Debug)]
pub struct TableView<'a> {
    base: &'a PointTable,
    extra: Vec<Snapped>,
    /// `to[k][j]`: from extra point `k` to point `j` (ms, dm), over base then extra points.
    to: Vec<Vec<(u32, u32)>>,
    /// `from[k][j]`: from point `j` to extra point `k`.
    from: Vec<Vec<(u32, u32)>>,
}

impl TableView<'_> {
    /// The road point behind `id`.
    pub fn point(&self, id: LocId) -> Option<&Snapped> {
        let n = self.base.points.len();
        if id.index() < n { self.base.points.get(id.index()) } else { self.extra.get(id.index() - n) }
    }

    fn lookup(&self, from: LocId, to: LocId) -> (f64, f64) {
        let n = self.base.points.len();
        let (a, b) = (from.index(), to.index());
        let (t, l) = if a >= n {
            self.to[a - n][b]
        } else if b >= n {
            self.from[b - n][a]
        } else {
            return (self.base.time(from, to), self.base.distance(from, to));
        };
        to_units(t, l)
    }
}

impl TravelTimes for TableView<'_> {
    fn len(&self) -> usize {
        self.base.points.len() + self.extra.len()
    }
    #[inline]
    fn time(&self, from: LocId, to: LocId) -> f64 {
        self.lookup(from, to).0
    }
    #[inline]
    fn distance(&self, from: LocId, to: LocId) -> f64 {
        self.lookup(from, to).1
    }
}
