//! Plain Dijkstra on the road graph: slow, obviously correct, and kept as the
//! reference the contraction hierarchy is tested and benchmarked against.

use crate::ch::{INF, Seed};
use crate::graph::{Adjacency, ArcId, RoadGraph};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Shortest time (ms), its length (dm) and arcs from any source seed to any
/// target seed (a target seed's time is added on arrival at its node).
pub fn shortest(
    graph: &RoadGraph,
    out: &Adjacency,
    sources: &[Seed],
    targets: &[Seed],
) -> Option<(u32, u32, Vec<ArcId>)> {
    let n = graph.nodes.len();
    let mut time = vec![INF; n];
    let mut length = vec![0u32; n];
    let mut parent: Vec<Option<ArcId>> = vec![None; n];
    let mut heap = BinaryHeap::new();
    for s in sources {
        if s.time_ms < time[s.node as usize] {
            time[s.node as usize] = s.time_ms;
            length[s.node as usize] = s.length_dm;
            heap.push(Reverse((s.time_ms, s.node)));
        }
    }
    let mut exit: Vec<Option<Seed>> = vec![None; n];
    for t in targets {
        if exit[t.node as usize].is_none_or(|e| t.time_ms < e.time_ms) {
            exit[t.node as usize] = Some(*t);
        }
    }
    let mut best: Option<(u32, u32, u32)> = None; // (time, length, node)
    while let Some(Reverse((d, v))) = heap.pop() {
        if d > time[v as usize] {
            continue;
        }
        if best.is_some_and(|b| d >= b.0) {
            break;
        }
        if let Some(t) = exit[v as usize] {
            let total = d.saturating_add(t.time_ms);
            if best.is_none_or(|b| total < b.0) {
                best = Some((total, length[v as usize].saturating_add(t.length_dm), v));
            }
        }
        for &arc in out.of(v) {
            let (_, head, w) = graph.arc(arc);
            let nd = d.saturating_add(w);
            if nd < time[head as usize] {
                time[head as usize] = nd;
                length[head as usize] = length[v as usize].saturating_add(graph.arc_length_dm(arc));
                parent[head as usize] = Some(arc);
                heap.push(Reverse((nd, head)));
            }
        }
    }
    let (t, l, end) = best?;
    let mut arcs = Vec::new();
    let mut v = end;
    while let Some(arc) = parent[v as usize] {
        arcs.push(arc);
        v = graph.arc(arc).0;
    }
    arcs.reverse();
    Some((t, l, arcs))
}

/// Times (ms) and lengths (dm) from each source to each target: one full
/// Dijkstra per source, row-major, `INF` where unreachable.
pub fn table(
    graph: &RoadGraph,
    out: &Adjacency,
    sources: &[Vec<Seed>],
    targets: &[Vec<Seed>],
) -> (Vec<u32>, Vec<u32>) {
    let n = graph.nodes.len();
    let mut times = Vec::with_capacity(sources.len() * targets.len());
    let mut lengths = Vec::with_capacity(sources.len() * targets.len());
    for seeds in sources {
        let mut time = vec![INF; n];
        let mut length = vec![0u32; n];
        let mut heap = BinaryHeap::new();
        for s in seeds {
            if s.time_ms < time[s.node as usize] {
                time[s.node as usize] = s.time_ms;
                length[s.node as usize] = s.length_dm;
                heap.push(Reverse((s.time_ms, s.node)));
            }
        }
        while let Some(Reverse((d, v))) = heap.pop() {
            if d > time[v as usize] {
                continue;
            }
            for &arc in out.of(v) {
                let (_, head, w) = graph.arc(arc);
                let nd = d.saturating_add(w);
                if nd < time[head as usize] {
                    time[head as usize] = nd;
                    length[head as usize] = length[v as usize].saturating_add(graph.arc_length_dm(arc));
                    heap.push(Reverse((nd, head)));
                }
            }
        }
        for t in targets {
            let best = t
                .iter()
                .filter(|s| time[s.node as usize] != INF)
                .map(|s| {
                    (
                        time[s.node as usize].saturating_add(s.time_ms),
                        length[s.node as usize].saturating_add(s.length_dm),
                    )
                })
                .min_by_key(|x| x.0)
                .unwrap_or((INF, INF));
            times.push(best.0);
            lengths.push(best.1);
        }
    }
    (times, lengths)
}
