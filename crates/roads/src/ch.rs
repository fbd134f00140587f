//! Contraction hierarchies: nodes are contracted one by one (least important
//! first), adding shortcuts that keep shortest travel times. A query then only
//! searches upwards from both ends, touching a few hundred nodes instead of the
//! whole map. Many-to-many tables use buckets (Knopp et al. 2007) so a 100×100
//! table costs about 200 upward searches, not 10,000 queries.
//!
//! The few most important nodes (the core) keep a table of the times between
//! them, so a point-to-point search stops where it enters the core and the
//! two sides are joined through the table: the core is where the upward
//! searches would otherwise spend most of their time, relaxing its densely
//! connected nodes. Every node also keeps its hub labels (`labels`): the
//! nodes of its upward search space below the core and the core nodes where
//! that search stops, each at its exact time, so a travel time that needs
//! no path is looked up rather than searched.

use crate::graph::{ArcId, RoadGraph};
use crate::labels::HubLabels;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Marks `ChEdge::via` as an original arc rather than a shortcut's middle node.
const ORIGINAL: u32 = 1 << 31;
pub(crate) const INF: u32 = u32::MAX;

/// A min-queue of (time, node) packed into one `u64`, so the heap compares
/// single integers rather than tuples.
#[derive(Debug, Default)]
struct Queue(BinaryHeap<Reverse<u64>>);

impl Queue {
    #[inline]
    fn push(&mut self, time: u32, node: u32) {
        self.0.push(Reverse((u64::from(time) << 32) | u64::from(node)));
    }
    #[inline]
    fn pop(&mut self) -> Option<(u32, u32)> {
        self.0.pop().map(|Reverse(k)| ((k >> 32) as u32, k as u32))
    }
    fn min_time(&self) -> u32 {
        self.0.peek().map_or(INF, |Reverse(k)| (k >> 32) as u32)
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

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
    /// `up` and `down` cut to what a search reads, 8 bytes an edge instead
    /// of 16, so twice as many of a node's edges share a cache line.
    up_hops: Vec<Hop>,
    down_hops: Vec<Hop>,
    /// Times and lengths between the most important nodes.
    core: Core,
    /// Every node's upward search space up to the core, its detours
    /// dropped: answers [`ContractionHierarchy::fastest`].
    labels: HubLabels,
}

/// The top ranks of a hierarchy with the times (and lengths) between all of
/// them, derived from the hierarchy when it is built or loaded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Core {
    /// The least rank in the core; every rank from here up is in it.
    pub(crate) start: u32,
    /// `time[i * size + j]`: from rank `start + i` to rank `start + j`.
    time: Vec<u32>,
    length: Vec<u32>,
    size: usize,
}

impl Default for Core {
    /// No core: every search climbs to the top.
    fn default() -> Self {
        Self { start: INF, time: Vec::new(), length: Vec::new(), size: 0 }
    }
}

impl Core {
    /// Nodes in the core of an `n`-node hierarchy: `CORE_PER_ROOT` times
    /// √n, at most `CORE_MAX`, so the table grows linearly with the map
    /// and stays a few megabytes at prefecture scale.
    fn size_for(n: usize) -> usize {
        ((n as f64).sqrt() * CORE_PER_ROOT).ceil().min(CORE_MAX as f64).min(n as f64) as usize
    }

    #[inline]
    fn index(&self, from: u32, to: u32) -> usize {
        (from - self.start) as usize * self.size + (to - self.start) as usize
    }

    /// Time between two core ranks.
    #[inline]
    pub(crate) fn time(&self, from: u32, to: u32) -> u32 {
        self.time[self.index(from, to)]
    }

    /// Length of the fastest way between two core ranks.
    pub(crate) fn length(&self, from: u32, to: u32) -> u32 {
        self.length[self.index(from, to)]
    }
}

/// Core nodes per square root of the node count. On `roads_bench`'s
/// 20,000-junction town grid (measured with a temporary harness), cores of
/// 100, 250 and 500 nodes left 78, 69 and 62 nodes settled below them (121
/// settled without a core), joining about 6-10 entry nodes a side; 4√n
/// answered no faster than 2√n, because the table's reads miss the cache
/// as it grows.
const CORE_PER_ROOT: f64 = 2.0;
/// At most this many core nodes: two 4 MB tables.
const CORE_MAX: usize = 1024;

/// The head and time of a hierarchy edge: all a search reads while relaxing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Hop {
    node: u32,
    time_ms: u32,
}

fn hops(edges: &[ChEdge]) -> Vec<Hop> {
    edges.iter().map(|e| Hop { node: e.node, time_ms: e.time_ms }).collect()
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
    heap: Queue,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Self { dist: vec![INF; n], touched: Vec::new(), heap: Queue::default() }
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
    s.heap.push(0, source);
    let mut settled = 0;
    while let Some((d, v)) = s.heap.pop() {
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
                s.heap.push(nd, e.node);
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
        Self::assemble(rank, order, up_first, up, down_first, down).with_lookups()
    }

    fn assemble(
        rank: Vec<u32>,
        node_of_rank: Vec<u32>,
        up_first: Vec<u32>,
        up: Vec<ChEdge>,
        down_first: Vec<u32>,
        down: Vec<ChEdge>,
    ) -> Self {
        let (up_hops, down_hops) = (hops(&up), hops(&down));
        let (core, labels) = (Core::default(), HubLabels::default());
        Self { rank, node_of_rank, up_first, up, down_first, down, up_hops, down_hops, core, labels }
    }

    /// The hierarchy with what is derived from it for fast answers: its
    /// core's table, which the bucket search of [`ChQuery::table`] computes
    /// (searches from core nodes only climb, so they stay inside the core),
    /// then every node's hub labels up to that core. Runs searches, so a
    /// hierarchy read from a file gets them only once its arrays are checked.
    pub(crate) fn with_lookups(mut self) -> Self {
        self.core = self.core_table();
        self.labels = HubLabels::build(&self);
        self
    }

    pub(crate) fn core(&self) -> &Core {
        &self.core
    }

    #[cfg(test)]
    pub(crate) fn labels(&self) -> &HubLabels {
        &self.labels
    }

    /// Fastest time (ms) and its length (dm) from any source seed to any
    /// target seed, looked up in the hub labels: the answer of
    /// [`ChQuery::shortest`] without a search, for when no path is needed.
    pub fn fastest(&self, sources: &[Seed], targets: &[Seed]) -> Option<(u32, u32)> {
        if !self.labels.cover(self.node_count()) {
            return ChQuery::new(self).shortest(sources, targets).map(|m| (m.time_ms, m.length_dm));
        }
        self.labels.shortest(&self.core, &self.rank, sources, targets)
    }

    /// Hub-label entries in both directions and the bytes they take.
    pub fn label_size(&self) -> (usize, usize) {
        (self.labels.entries(), self.labels.bytes())
    }

    fn core_table(&self) -> Core {
        let n = self.node_count();
        let size = Core::size_for(n);
        let start = (n - size) as u32;
        let seeds: Vec<Vec<Seed>> = (start..n as u32)
            .map(|r| vec![Seed { node: self.node_of_rank[r as usize], time_ms: 0, length_dm: 0 }])
            .collect();
        let (time, length) = ChQuery::new(self).table(&seeds, &seeds);
        Core { start, time, length, size }
    }

    /// Rebuilds a hierarchy from stored arrays (see [`crate::store`]),
    /// without its core and labels: see [`ContractionHierarchy::with_lookups`].
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
        Some(Self::assemble(rank, node_of_rank, up_first, up, down_first, down))
    }

    pub fn node_count(&self) -> usize {
        self.rank.len()
    }

    pub fn edge_count(&self) -> usize {
        self.up.len() + self.down.len()
    }

    /// The edges an upward forward search relaxes.
    fn upward(&self) -> Edges<'_> {
        Edges { first: &self.up_first, hops: &self.up_hops, full: &self.up }
    }

    /// The edges an upward backward search relaxes.
    fn downward(&self) -> Edges<'_> {
        Edges { first: &self.down_first, hops: &self.down_hops, full: &self.down }
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

/// Per-node lists as one array and each node's start in it (`first`, one
/// more entry than nodes).
pub(crate) fn flatten<T>(lists: Vec<Vec<T>>) -> (Vec<u32>, Vec<T>) {
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

/// Marks a label reached from a seed rather than over an edge.
const NO_PARENT: u32 = u32::MAX;

/// How a direction reached a node: written only when a node improves, kept
/// apart from the times that every relaxation and stall check reads.
#[derive(Debug, Clone, Copy)]
struct Label {
    /// Set for a seed, and by [`ChQuery::upward_space`] once the node is
    /// settled; a point-to-point search sums lengths along the meeting
    /// node's parents instead ([`Side::chain_length`]).
    length: u32,
    /// The node we came from, or [`NO_PARENT`] for a seed.
    parent: u32,
    /// Index of the edge used, in the direction's edge array.
    edge: u32,
}

const UNREACHED: Label = Label { length: 0, parent: NO_PARENT, edge: 0 };

/// One direction's view of the hierarchy: the edges it relaxes.
#[derive(Clone, Copy)]
struct Edges<'a> {
    first: &'a [u32],
    hops: &'a [Hop],
    full: &'a [ChEdge],
}

impl Edges<'_> {
    #[inline]
    fn range(&self, v: u32) -> std::ops::Range<usize> {
        self.first[v as usize] as usize..self.first[v as usize + 1] as usize
    }
}

/// One direction of a bidirectional upward search.
struct Side {
    /// Best time to each node; dense, since every edge scan reads it.
    time: Vec<u32>,
    label: Vec<Label>,
    touched: Vec<u32>,
    heap: Queue,
    /// Core nodes this side settled and stopped at.
    entries: Vec<u32>,
}

impl Side {
    fn new(n: usize) -> Self {
        Self {
            time: vec![INF; n],
            label: vec![UNREACHED; n],
            touched: Vec::new(),
            heap: Queue::default(),
            entries: Vec::new(),
        }
    }
    fn reset(&mut self) {
        for &v in &self.touched {
            self.time[v as usize] = INF;
        }
        self.touched.clear();
        self.heap.clear();
        self.entries.clear();
    }
    #[inline]
    fn reach(&mut self, v: u32, time: u32, parent: u32, edge: u32) {
        let best = &mut self.time[v as usize];
        if time >= *best {
            return;
        }
        if *best == INF {
            self.touched.push(v);
        }
        *best = time;
        self.label[v as usize] = Label { length: 0, parent, edge };
        self.heap.push(time, v);
    }
    fn seed(&mut self, seeds: &[Seed], rank: &[u32]) {
        for s in seeds {
            let v = rank[s.node as usize];
            if s.time_ms < self.time[v as usize] {
                self.reach(v, s.time_ms, NO_PARENT, 0);
                self.label[v as usize].length = s.length_dm;
            }
        }
    }
    /// Length to a reached node: its parent is settled, so its length is known.
    #[inline]
    fn length_to(&self, v: u32, edges: &Edges<'_>) -> u32 {
        let l = self.label[v as usize];
        if l.parent == NO_PARENT {
            l.length
        } else {
            self.label[l.parent as usize].length.saturating_add(edges.full[l.edge as usize].length_dm)
        }
    }
    /// The steps from `v` back to its seed, nearest first: (parent, edge index).
    fn steps(&self, mut v: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        std::iter::from_fn(move || {
            let l = self.label[v as usize];
            (l.parent != NO_PARENT).then(|| {
                v = l.parent;
                (l.parent, l.edge)
            })
        })
    }
    /// Length to `v` along its parents: read only for the one meeting node
    /// of a point-to-point search, so the search itself never touches the
    /// full edges.
    fn chain_length(&self, v: u32, edges: &Edges<'_>) -> u32 {
        let mut seed = v;
        let along = self.steps(v).fold(0u32, |sum, (parent, edge)| {
            seed = parent;
            sum.saturating_add(edges.full[edge as usize].length_dm)
        });
        along.saturating_add(self.label[seed as usize].length)
    }
    /// Whether `v`, settled at `d`, is stalled: a higher node reaches it
    /// faster over `stall`, so it lies on no shortest path and need not be
    /// relaxed.
    #[inline]
    fn stalled(&self, v: u32, d: u32, stall: &Edges<'_>) -> bool {
        stall.hops[stall.range(v)].iter().any(|e| self.time[e.node as usize].saturating_add(e.time_ms) < d)
    }
    #[inline]
    fn relax(&mut self, v: u32, d: u32, relax: &Edges<'_>) {
        let range = relax.range(v);
        let start = range.start as u32;
        for (k, e) in relax.hops[range].iter().enumerate() {
            self.reach(e.node, d.saturating_add(e.time_ms), v, start + k as u32);
        }
    }
    fn min_key(&self) -> u32 {
        self.heap.min_time()
    }
}

/// How the two sides of a search met.
#[derive(Clone, Copy)]
enum Join {
    /// At a node below the core that both reached.
    At(u32),
    /// Through the core's table, from the first rank to the second.
    Through(u32, u32),
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
    /// Where the two sides met; through the core, where the forward side
    /// entered it.
    pub node: u32,
    /// The ranks where the path enters and leaves the core, if it runs
    /// through the core's table.
    through_core: Option<(u32, u32)>,
}

impl Meeting {
    /// Whether the answer was joined through the core's table.
    pub fn through_core(&self) -> bool {
        self.through_core.is_some()
    }
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
        self.search(sources, targets, self.ch.core.start)
    }

    /// The same answer as [`ChQuery::shortest`] without the core's table:
    /// both sides climb to the top. The reference for the core, and how
    /// [`ChQuery::path`] finds the way through it.
    pub fn shortest_without_core(&mut self, sources: &[Seed], targets: &[Seed]) -> Option<Meeting> {
        self.search(sources, targets, INF)
    }

    /// A bidirectional upward search whose sides stop at ranks from
    /// `core_start` up, joined through the core's table.
    fn search(&mut self, sources: &[Seed], targets: &[Seed], core_start: u32) -> Option<Meeting> {
        let (up, down) = (self.ch.upward(), self.ch.downward());
        self.fwd.reset();
        self.bwd.reset();
        self.settled = 0;
        self.fwd.seed(sources, &self.ch.rank);
        self.bwd.seed(targets, &self.ch.rank);
        let core = &self.ch.core;
        let (mut best_time, mut best) = (INF, None);
        loop {
            let (fk, bk) = (self.fwd.min_key(), self.bwd.min_key());
            if fk.min(bk) >= best_time {
                break;
            }
            let forward = fk <= bk;
            let (this, other, relax, stall) = if forward {
                (&mut self.fwd, &self.bwd, &up, &down)
            } else {
                (&mut self.bwd, &self.fwd, &down, &up)
            };
            let Some((d, v)) = this.heap.pop() else { break };
            if d > this.time[v as usize] {
                continue;
            }
            self.settled += 1;
            let stalled = this.stalled(v, d, stall);
            if v >= core_start {
                if stalled {
                    // The seeds reach v by a shorter path than `d` (over a
                    // higher node), so v is not where a shortest path
                    // enters or leaves the core: that node is settled at
                    // its exact time, and so is never stalled.
                    continue;
                }
                // Join through the table with every core node the other
                // side has entered, so the bound tightens as early as it can.
                this.entries.push(v);
                for &w in &other.entries {
                    let (a, b) = if forward { (v, w) } else { (w, v) };
                    let total =
                        d.saturating_add(core.time[core.index(a, b)]).saturating_add(other.time[w as usize]);
                    if total < best_time {
                        (best_time, best) = (total, Some(Join::Through(a, b)));
                    }
                }
                continue;
            }
            let total = d.saturating_add(other.time[v as usize]);
            if total < best_time {
                (best_time, best) = (total, Some(Join::At(v)));
            }
            if !stalled {
                this.relax(v, d, relax);
            }
        }
        let (length, node, through_core) = match best? {
            Join::Through(a, b) => {
                let (fwd, bwd) = (self.fwd.chain_length(a, &up), self.bwd.chain_length(b, &down));
                (fwd.saturating_add(core.length[core.index(a, b)]).saturating_add(bwd), a, Some((a, b)))
            }
            Join::At(v) => {
                (self.fwd.chain_length(v, &up).saturating_add(self.bwd.chain_length(v, &down)), v, None)
            }
        };
        Some(Meeting {
            time_ms: best_time,
            length_dm: length,
            node: self.ch.node_of_rank[node as usize],
            through_core,
        })
    }

    /// Road arcs of the path found by the last search, `meeting` its
    /// answer. A path through the core is completed by a search across it,
    /// which replaces the last search's state: call it once per search.
    /// Where two routes take exactly the same time, the arcs may be the
    /// other one's, with another length.
    pub fn path(&mut self, meeting: &Meeting) -> Vec<ArcId> {
        let meeting_rank = self.ch.rank[meeting.node as usize];
        let Some((entry, exit)) = meeting.through_core else {
            let mut arcs = self.arcs_up_to(meeting_rank);
            arcs.extend(self.arcs_down_from(meeting_rank));
            return arcs;
        };
        let mut arcs = self.arcs_up_to(entry);
        let after = self.arcs_down_from(exit);
        let seed = |r: u32| Seed { node: self.ch.node_of_rank[r as usize], time_ms: 0, length_dm: 0 };
        let (from, to) = (seed(entry), seed(exit));
        if let Some(across) = self.shortest_without_core(&[from], &[to]) {
            let middle = self.ch.rank[across.node as usize];
            arcs.extend(self.arcs_up_to(middle));
            arcs.extend(self.arcs_down_from(middle));
        }
        arcs.extend(after);
        arcs
    }

    /// Road arcs from the forward side's seed up to rank `v`, in driving order.
    fn arcs_up_to(&self, v: u32) -> Vec<ArcId> {
        let up_part: Vec<(u32, u32)> = self.fwd.steps(v).collect();
        let mut arcs = Vec::new();
        for (parent, edge) in up_part.into_iter().rev() {
            self.ch.unpack(parent, self.ch.up[edge as usize], &mut arcs);
        }
        arcs
    }

    /// Road arcs from rank `v` down to the backward side's seed.
    fn arcs_down_from(&self, mut v: u32) -> Vec<ArcId> {
        let mut arcs = Vec::new();
        for (parent, edge) in self.bwd.steps(v) {
            // The backward edge is stored at the parent with `node == v` and
            // means v → parent in driving order.
            self.ch.unpack(v, ChEdge { node: parent, ..self.ch.down[edge as usize] }, &mut arcs);
            v = parent;
        }
        arcs
    }

    /// Settles the whole upward search space of `seeds` in one direction and
    /// calls `visit(node, time, length)` for every node that is not stalled.
    pub(crate) fn upward_space(&mut self, seeds: &[Seed], forward: bool, visit: impl FnMut(u32, u32, u32)) {
        self.space_up_to(seeds, forward, INF, visit);
    }

    /// [`ChQuery::upward_space`] that visits the nodes from rank `stop_at`
    /// up without relaxing their edges: the space of a hub label.
    pub(crate) fn space_up_to(
        &mut self,
        seeds: &[Seed],
        forward: bool,
        stop_at: u32,
        mut visit: impl FnMut(u32, u32, u32),
    ) {
        let (up, down) = (self.ch.upward(), self.ch.downward());
        let (side, relax, stall) =
            if forward { (&mut self.fwd, &up, &down) } else { (&mut self.bwd, &down, &up) };
        side.reset();
        side.seed(seeds, &self.ch.rank);
        while let Some((d, v)) = side.heap.pop() {
            if d > side.time[v as usize] {
                continue;
            }
            // Settled: the parent's length is final, so this one's is too.
            let length = side.length_to(v, relax);
            side.label[v as usize].length = length;
            if side.stalled(v, d, stall) {
                continue;
            }
            visit(v, d, side.label[v as usize].length);
            if v < stop_at {
                side.relax(v, d, relax);
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
