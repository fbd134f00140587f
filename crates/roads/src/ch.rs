//! Contraction hierarchies: nodes are contracted one by one (least important
//! first), adding shortcuts that keep shortest travel times. A query then only
//! searches upwards from both ends, touching a few hundred nodes instead of the
//! whole map. Many-to-many tables use buckets (Knopp et al. 2007) so a 100×100
//! table costs about 200 upward searches, not 10,000 queries.

use crate::graph::{ArcId, RoadGraph};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Marks `ChEdge::via` as an original arc rather than a shortcut's middle node.
const ORIGINAL: u32 = 1 << 31;
pub(crate) const INF: u32 = u32::MAX;
/// How nodes are ordered for contraction. The priority of a node is a
/// weighted sum of what contracting it would do; the least goes first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderParams {
    /// Per shortcut added minus edge removed (the edge difference).
    pub edge_difference: i64,
    /// Per road arc the added shortcuts stand for, minus those of the
    /// removed edges: keeps shortcuts short in hops, so the levels even out.
    pub hop_difference: i64,
    /// Per neighbour already contracted: spreads contraction over the map.
    pub deleted_neighbours: i64,
    /// Per level of the hierarchy below the node.
    pub level: i64,
    /// Witness searches while estimating a priority stop after this many
    /// settled nodes; a missed witness only overestimates the priority.
    pub estimate_settle_limit: usize,
    /// Witness searches while contracting stop after this many settled
    /// nodes; a missed witness only costs a superfluous shortcut, never a
    /// wrong answer.
    pub contract_settle_limit: usize,
}

impl Default for OrderParams {
    fn default() -> Self {
        // Chosen with roads_bench on the maps here and synthetic grids up
        // to 20,000 junctions; re-estimating neighbours after each
        // contraction was measured too and only made preparation slower.
        Self {
            edge_difference: 2,
            hop_difference: 1,
            deleted_neighbours: 1,
            level: 2,
            estimate_settle_limit: 300,
            contract_settle_limit: 300,
        }
    }
}

impl OrderParams {
    /// The order of earlier versions (no hop term, level weighed once):
    /// the baseline `roads_bench` measures against.
    pub fn earlier() -> Self {
        Self { hop_difference: 0, level: 1, ..Self::default() }
    }
}

/// An edge of the hierarchy, stored at its lower-ranked end. Nodes are ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChEdge {
    /// The higher-ranked end.
    pub node: u32,
    pub time_ms: u32,
    pub length_dm: u32,
    /// `ORIGINAL | arc` for a road arc, otherwise the shortcut's middle node.
    pub via: u32,
}

/// A prepared hierarchy over a [`RoadGraph`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContractionHierarchy {
    /// Rank of each graph node; internally nodes are numbered by rank.
    pub(crate) rank: Vec<u32>,
    /// The graph node of each rank.
    pub(crate) node_of_rank: Vec<u32>,
    /// `up[up_first[v]..up_first[v+1]]`: edges v → w with rank(w) > rank(v).
    pub(crate) up_first: Vec<u32>,
    pub(crate) up: Vec<ChEdge>,
    /// `down[down_first[v]..]`: edges w → v with rank(w) > rank(v); `node` is w.
    pub(crate) down_first: Vec<u32>,
    pub(crate) down: Vec<ChEdge>,
}

#[derive(Clone, Copy)]
struct DynEdge {
    node: u32,
    time: u32,
    length: u32,
    via: u32,
    /// Road arcs the edge stands for (1 for an arc).
    hops: u32,
}

fn add_or_improve(list: &mut Vec<DynEdge>, e: DynEdge) {
    match list.iter_mut().find(|x| x.node == e.node) {
        Some(x) if e.time < x.time => *x = e,
        Some(_) => {}
        None => list.push(e),
    }
}

/// Reusable Dijkstra state that resets in O(touched) rather than O(n).
struct Scratch {
    dist: Vec<u32>,
    touched: Vec<u32>,
    heap: BinaryHeap<Reverse<(u32, u32)>>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Self { dist: vec![INF; n], touched: Vec::new(), heap: BinaryHeap::new() }
    }
    fn reset(&mut self) {
        for &v in &self.touched {
            self.dist[v as usize] = INF;
        }
        self.touched.clear();
        self.heap.clear();
    }
    fn set(&mut self, v: u32, d: u32) {
        if self.dist[v as usize] == INF {
            self.touched.push(v);
        }
        self.dist[v as usize] = d;
    }
}

struct Contractor {
    params: OrderParams,
    out: Vec<Vec<DynEdge>>,
    inn: Vec<Vec<DynEdge>>,
    deleted_neighbours: Vec<u32>,
    /// Depth of each node in the hierarchy built so far; contracting deep nodes
    /// late keeps upward search spaces small.
    level: Vec<u32>,
    scratch: Scratch,
}

impl Contractor {
    /// Shortcuts `(u, x, edge)` needed to contract `v`, with witness
    /// searches settling at most `settle_limit` nodes.
    fn shortcuts(&mut self, v: u32, settle_limit: usize) -> Vec<(u32, DynEdge)> {
        let mut result = Vec::new();
        let outs = std::mem::take(&mut self.out[v as usize]);
        for e_in in &self.inn[v as usize] {
            let u = e_in.node;
            let max_out = outs.iter().filter(|o| o.node != u).map(|o| o.time).max();
            let Some(max_out) = max_out else { continue };
            let limit = e_in.time.saturating_add(max_out);
            witness_search(&self.out, &mut self.scratch, u, v, limit, settle_limit);
            for o in outs.iter().filter(|o| o.node != u) {
                let via_v = e_in.time.saturating_add(o.time);
                if self.scratch.dist[o.node as usize] > via_v {
                    result.push((
                        u,
                        DynEdge {
                            node: o.node,
                            time: via_v,
                            length: e_in.length.saturating_add(o.length),
                            via: v,
                            hops: e_in.hops.saturating_add(o.hops),
                        },
                    ));
                }
            }
            self.scratch.reset();
        }
        self.out[v as usize] = outs;
        result
    }

    fn priority(&mut self, v: u32) -> i64 {
        let p = self.params;
        let shortcuts = self.shortcuts(v, p.estimate_settle_limit);
        let added = shortcuts.len() as i64;
        let added_hops: i64 = shortcuts.iter().map(|(_, e)| i64::from(e.hops)).sum();
        let (out, inn) = (&self.out[v as usize], &self.inn[v as usize]);
        let removed = (out.len() + inn.len()) as i64;
        let removed_hops: i64 = out.iter().chain(inn).map(|e| i64::from(e.hops)).sum();
        p.edge_difference * (added - removed)
            + p.hop_difference * (added_hops - removed_hops)
            + p.deleted_neighbours * i64::from(self.deleted_neighbours[v as usize])
            + p.level * i64::from(self.level[v as usize])
    }
}

/// Dijkstra from `source` in the remaining graph, ignoring `avoid`, up to `limit`.
fn witness_search(
    out: &[Vec<DynEdge>],
    s: &mut Scratch,
    source: u32,
    avoid: u32,
    limit: u32,
    settle_limit: usize,
) {
    s.set(source, 0);
    s.heap.push(Reverse((0, source)));
    let mut settled = 0;
    while let Some(Reverse((d, v))) = s.heap.pop() {
        if d > s.dist[v as usize] {
            continue;
        }
        if d > limit || settled >= settle_limit {
            break;
        }
        settled += 1;
        for e in &out[v as usize] {
            if e.node == avoid {
                continue;
            }
            let nd = d.saturating_add(e.time);
            if nd < s.dist[e.node as usize] {
                s.set(e.node, nd);
                s.heap.push(Reverse((nd, e.node)));
            }
        }
    }
}

impl ContractionHierarchy {
    /// Contracts every node of `graph`. `on_contracted` is called once per node
    /// (for progress bars).
    pub fn build(graph: &RoadGraph, on_contracted: impl FnMut()) -> Self {
        Self::build_with(graph, OrderParams::default(), on_contracted)
    }

    /// [`ContractionHierarchy::build`] with another node order.
    pub fn build_with(graph: &RoadGraph, params: OrderParams, mut on_contracted: impl FnMut()) -> Self {
        let n = graph.nodes.len();
        let mut c = Contractor {
            params,
            out: vec![Vec::new(); n],
            inn: vec![Vec::new(); n],
            deleted_neighbours: vec![0; n],
            level: vec![0; n],
            scratch: Scratch::new(n),
        };
        for arc in graph.arcs() {
            let (t, h, time) = graph.arc(arc);
            if t == h {
                continue;
            }
            let length = graph.arc_length_dm(arc);
            let e = DynEdge { node: h, time, length, via: ORIGINAL | arc, hops: 1 };
            add_or_improve(&mut c.out[t as usize], e);
            add_or_improve(&mut c.inn[h as usize], DynEdge { node: t, ..e });
        }
        let mut heap: BinaryHeap<Reverse<(i64, u32)>> =
            (0..n as u32).map(|v| Reverse((c.priority(v), v))).collect();
        let mut rank = vec![0u32; n];
        let mut up: Vec<Vec<ChEdge>> = vec![Vec::new(); n];
        let mut down: Vec<Vec<ChEdge>> = vec![Vec::new(); n];
        let mut next_rank = 0u32;
        let to_ch = |e: &DynEdge| ChEdge { node: e.node, time_ms: e.time, length_dm: e.length, via: e.via };
        while let Some(Reverse((_, v))) = heap.pop() {
            // Lazy update: re-evaluate, and postpone if no longer the cheapest.
            let p = c.priority(v);
            if let Some(&Reverse((next, _))) = heap.peek()
                && p > next
            {
                heap.push(Reverse((p, v)));
                continue;
            }
            let shortcuts = c.shortcuts(v, c.params.contract_settle_limit);
            rank[v as usize] = next_rank;
            next_rank += 1;
            let outs = std::mem::take(&mut c.out[v as usize]);
            let ins = std::mem::take(&mut c.inn[v as usize]);
            for e in &outs {
                c.inn[e.node as usize].retain(|x| x.node != v);
                c.deleted_neighbours[e.node as usize] += 1;
                c.level[e.node as usize] = c.level[e.node as usize].max(c.level[v as usize] + 1);
            }
            for e in &ins {
                c.out[e.node as usize].retain(|x| x.node != v);
                c.deleted_neighbours[e.node as usize] += 1;
                c.level[e.node as usize] = c.level[e.node as usize].max(c.level[v as usize] + 1);
            }
            up[v as usize] = outs.iter().map(to_ch).collect();
            down[v as usize] = ins.iter().map(to_ch).collect();
            for (u, e) in shortcuts {
                add_or_improve(&mut c.out[u as usize], e);
                add_or_improve(&mut c.inn[e.node as usize], DynEdge { node: u, ..e });
            }
            on_contracted();
        }
        // Number nodes by rank so the upward searches, which mostly touch the
        // few important nodes, read contiguous memory.
        let mut order = vec![0u32; n];
        for (v, &r) in rank.iter().enumerate() {
            order[r as usize] = v as u32;
        }
        let renumber = |lists: &mut Vec<Vec<ChEdge>>| -> Vec<Vec<ChEdge>> {
            order
                .iter()
                .map(|&v| {
                    std::mem::take(&mut lists[v as usize])
                        .into_iter()
                        .map(|e| ChEdge {
                            node: rank[e.node as usize],
                            via: if e.via & ORIGINAL != 0 { e.via } else { rank[e.via as usize] },
                            ..e
                        })
                        .collect()
                })
                .collect()
        };
        let (up_first, up) = flatten(renumber(&mut up));
        let (down_first, down) = flatten(renumber(&mut down));
        Self { node_of_rank: order, rank, up_first, up, down_first, down }
    }

    /// Rebuilds a hierarchy from stored arrays (see [`crate::store`]).
    pub(crate) fn from_parts(
        rank: Vec<u32>,
        up_first: Vec<u32>,
        up: Vec<ChEdge>,
        down_first: Vec<u32>,
        down: Vec<ChEdge>,
    ) -> Option<Self> {
        let mut node_of_rank = vec![u32::MAX; rank.len()];
        for (v, &r) in rank.iter().enumerate() {
            *node_of_rank.get_mut(r as usize)? = v as u32;
        }
        if node_of_rank.contains(&u32::MAX) {
            return None; // not a permutation
        }
        Some(Self { rank, node_of_rank, up_first, up, down_first, down })
    }

    pub fn node_count(&self) -> usize {
        self.rank.len()
    }

    pub fn edge_count(&self) -> usize {
        self.up.len() + self.down.len()
    }

    #[inline]
    pub(crate) fn up_of(&self, v: u32) -> &[ChEdge] {
        &self.up[self.up_first[v as usize] as usize..self.up_first[v as usize + 1] as usize]
    }

    #[inline]
    pub(crate) fn down_of(&self, v: u32) -> &[ChEdge] {
        &self.down[self.down_first[v as usize] as usize..self.down_first[v as usize + 1] as usize]
    }

    /// Expands a hierarchy edge `from → to` into road arcs, in driving order.
    fn unpack(&self, from: u32, edge: ChEdge, out: &mut Vec<ArcId>) {
        let mut stack = vec![(from, edge)];
        while let Some((f, e)) = stack.pop() {
            if e.via & ORIGINAL != 0 {
                out.push(e.via & !ORIGINAL);
                continue;
            }
            let m = e.via;
            // The halves were in the graph when `m` was contracted, so both sit at m:
            // f → m among m's down edges, m → to among m's up edges.
            let first = best_edge(self.down_of(m), f);
            let second = best_edge(self.up_of(m), e.node);
            if let (Some(a), Some(b)) = (first, second) {
                stack.push((m, b));
                // `a` is stored at m with `node == f`; as a driving step it ends at m.
                stack.push((f, ChEdge { node: m, ..a }));
            }
        }
    }
}

fn best_edge(list: &[ChEdge], node: u32) -> Option<ChEdge> {
    list.iter().filter(|e| e.node == node).min_by_key(|e| e.time_ms).copied()
}

fn flatten(lists: Vec<Vec<ChEdge>>) -> (Vec<u32>, Vec<ChEdge>) {
    let mut first = Vec::with_capacity(lists.len() + 1);
    let mut all = Vec::new();
    first.push(0);
    for l in lists {
        all.extend(l);
        first.push(all.len() as u32);
    }
    (first, all)
}

/// A start or end of a search: a node reached with an initial time and length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seed {
    pub node: u32,
    pub time_ms: u32,
    pub length_dm: u32,
}

/// One direction of a bidirectional upward search.
struct Side {
    time: Vec<u32>,
    length: Vec<u32>,
    /// Node we came from and the edge used (for path unpacking).
    parent: Vec<(u32, ChEdge)>,
    touched: Vec<u32>,
    heap: BinaryHeap<Reverse<(u32, u32)>>,
}

impl Side {
    fn new(n: usize) -> Self {
        let none = ChEdge { node: u32::MAX, time_ms: 0, length_dm: 0, via: 0 };
        Self {
            time: vec![INF; n],
            length: vec![0; n],
            parent: vec![(u32::MAX, none); n],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }
    fn reset(&mut self) {
        for &v in &self.touched {
            self.time[v as usize] = INF;
            self.parent[v as usize].0 = u32::MAX;
        }
        self.touched.clear();
        self.heap.clear();
    }
    fn reach(&mut self, v: u32, t: u32, l: u32) -> bool {
        let cur = self.time[v as usize];
        if t >= cur {
            return false;
        }
        if cur == INF {
            self.touched.push(v);
        }
        self.time[v as usize] = t;
        self.length[v as usize] = l;
        self.heap.push(Reverse((t, v)));
        true
    }
    fn seed(&mut self, seeds: &[Seed], rank: &[u32]) {
        for s in seeds {
            self.reach(rank[s.node as usize], s.time_ms, s.length_dm);
        }
    }
    fn min_key(&self) -> u32 {
        self.heap.peek().map_or(INF, |Reverse((d, _))| *d)
    }
}

/// Reusable query state for one thread. Create one per worker and reuse it.
pub struct ChQuery<'a> {
    ch: &'a ContractionHierarchy,
    fwd: Side,
    bwd: Side,
    /// Nodes settled by the last [`ChQuery::shortest`], both directions.
    settled: usize,
}

/// Result of a point-to-point search: time, length and the meeting (graph) node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meeting {
    pub time_ms: u32,
    pub length_dm: u32,
    pub node: u32,
}

impl<'a> ChQuery<'a> {
    pub fn new(ch: &'a ContractionHierarchy) -> Self {
        let n = ch.node_count();
        Self { ch, fwd: Side::new(n), bwd: Side::new(n), settled: 0 }
    }

    /// Nodes the last [`ChQuery::shortest`] settled in both directions: the
    /// measure of a hierarchy's quality, independent of the machine.
    pub fn settled(&self) -> usize {
        self.settled
    }

    /// Shortest time from any source seed to any target seed.
    pub fn shortest(&mut self, sources: &[Seed], targets: &[Seed]) -> Option<Meeting> {
        self.fwd.reset();
        self.bwd.reset();
        self.settled = 0;
        self.fwd.seed(sources, &self.ch.rank);
        self.bwd.seed(targets, &self.ch.rank);
        let mut best: Option<Meeting> = None;
        let best_time = |b: &Option<Meeting>| b.map_or(INF, |m| m.time_ms);
        loop {
            let (fk, bk) = (self.fwd.min_key(), self.bwd.min_key());
            if fk.min(bk) >= best_time(&best) {
                break;
            }
            let forward = fk <= bk;
            let (this, other) = if forward { (&mut self.fwd, &self.bwd) } else { (&mut self.bwd, &self.fwd) };
            let Some(Reverse((d, v))) = this.heap.pop() else { break };
            if d > this.time[v as usize] {
                continue;
            }
            self.settled += 1;
            let ot = other.time[v as usize];
            if ot != INF {
                let total = d.saturating_add(ot);
                if total < best_time(&best) {
                    let length = this.length[v as usize].saturating_add(other.length[v as usize]);
                    best = Some(Meeting { time_ms: total, length_dm: length, node: v });
                }
            }
            let (relax, stall) = if forward {
                (self.ch.up_of(v), self.ch.down_of(v))
            } else {
                (self.ch.down_of(v), self.ch.up_of(v))
            };
            // Stall on demand: a higher node reaches v faster, so v is not on a shortest path.
            if stall.iter().any(|e| this.time[e.node as usize].saturating_add(e.time_ms) < d) {
                continue;
            }
            let l = this.length[v as usize];
            for e in relax {
                if this.reach(e.node, d.saturating_add(e.time_ms), l.saturating_add(e.length_dm)) {
                    this.parent[e.node as usize] = (v, *e);
                }
            }
        }
        best.map(|m| Meeting { node: self.ch.node_of_rank[m.node as usize], ..m })
    }

    /// Road arcs of the path found by the last [`ChQuery::shortest`] call.
    pub fn path(&self, meeting: &Meeting) -> Vec<ArcId> {
        let mut up_part = Vec::new();
        let meeting_rank = self.ch.rank[meeting.node as usize];
        let mut v = meeting_rank;
        while self.fwd.parent[v as usize].0 != u32::MAX {
            let (p, e) = self.fwd.parent[v as usize];
            up_part.push((p, e));
            v = p;
        }
        let mut arcs = Vec::new();
        for (p, e) in up_part.into_iter().rev() {
            self.ch.unpack(p, e, &mut arcs);
        }
        let mut v = meeting_rank;
        while self.bwd.parent[v as usize].0 != u32::MAX {
            let (p, e) = self.bwd.parent[v as usize];
            // Backward edge e at p has node v and means v → p in driving order.
            self.ch.unpack(v, ChEdge { node: p, ..e }, &mut arcs);
            v = p;
        }
        arcs
    }

    /// Settles the whole upward search space of `seeds` in one direction and
    /// calls `visit(node, time, length)` for every node that is not stalled.
    pub(crate) fn upward_space(
        &mut self,
        seeds: &[Seed],
        forward: bool,
        mut visit: impl FnMut(u32, u32, u32),
    ) {
        let side = if forward { &mut self.fwd } else { &mut self.bwd };
        side.reset();
        side.seed(seeds, &self.ch.rank);
        while let Some(Reverse((d, v))) = side.heap.pop() {
            if d > side.time[v as usize] {
                continue;
            }
            let (relax, stall) = if forward {
                (self.ch.up_of(v), self.ch.down_of(v))
            } else {
                (self.ch.down_of(v), self.ch.up_of(v))
            };
            if stall.iter().any(|e| side.time[e.node as usize].saturating_add(e.time_ms) < d) {
                continue;
            }
            let l = side.length[v as usize];
            visit(v, d, l);
            for e in relax {
                side.reach(e.node, d.saturating_add(e.time_ms), l.saturating_add(e.length_dm));
            }
        }
    }

    /// Times and lengths from every source to every target, row-major
    /// (`INF` where unreachable).
    pub fn table(&mut self, sources: &[Vec<Seed>], targets: &[Vec<Seed>]) -> (Vec<u32>, Vec<u32>) {
        let mut entries: Vec<(u32, u32, u32, u32)> = Vec::new(); // (node, target, time, length)
        for (j, t) in targets.iter().enumerate() {
            self.upward_space(t, false, |v, d, l| entries.push((v, j as u32, d, l)));
        }
        entries.sort_unstable_by_key(|e| e.0);
        let mut bucket_first = vec![0u32; self.ch.node_count() + 1];
        for e in &entries {
            bucket_first[e.0 as usize + 1] += 1;
        }
        for i in 0..self.ch.node_count() {
            bucket_first[i + 1] += bucket_first[i];
        }
        let m = targets.len();
        let mut times = vec![INF; sources.len() * m];
        let mut lengths = vec![INF; sources.len() * m];
        for (i, s) in sources.iter().enumerate() {
            let row = i * m;
            self.upward_space(s, true, |v, d, l| {
                let bucket =
                    &entries[bucket_first[v as usize] as usize..bucket_first[v as usize + 1] as usize];
                for &(_, j, bd, bl) in bucket {
                    let total = d.saturating_add(bd);
                    let k = row + j as usize;
                    if total < times[k] {
                        times[k] = total;
                        lengths[k] = l.saturating_add(bl);
                    }
                }
            });
        }
        (times, lengths)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{NoProgress, SpeedProfile};

    #[test]
    fn every_shortcut_unpacks_to_its_time() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/herrenberg-minimal.osm.pbf");
        let (g, _) = crate::import::import_pbf(&path, &SpeedProfile::default(), &NoProgress).unwrap();
        let ch = ContractionHierarchy::build(&g, || {});
        for r in 0..ch.node_count() as u32 {
            let v = ch.node_of_rank[r as usize];
            for e in ch.up_of(r) {
                let mut arcs = Vec::new();
                ch.unpack(r, *e, &mut arcs);
                let sum: u32 = arcs.iter().map(|&a| g.arc(a).2).sum();
                assert_eq!(sum, e.time_ms, "up edge {v}->{} via {}", e.node, e.via);
                assert_eq!(g.arc(arcs[0]).0, v);
                assert_eq!(g.arc(*arcs.last().unwrap()).1, ch.node_of_rank[e.node as usize]);
            }
            for e in ch.down_of(r) {
                let mut arcs = Vec::new();
                ch.unpack(e.node, ChEdge { node: r, ..*e }, &mut arcs);
                let sum: u32 = arcs.iter().map(|&a| g.arc(a).2).sum();
                assert_eq!(sum, e.time_ms, "down edge {}->{v} via {}", e.node, e.via);
            }
        }
    }
}
