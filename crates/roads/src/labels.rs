//! Hub labels over a contraction hierarchy: every node keeps, sorted by
//! rank, the nodes its upward search settles below the core and the core
//! nodes where that search stops, with the times and lengths to them. The
//! fastest time between two nodes is then a merge of the source's forward
//! label with the target's backward label, plus a few reads of the core's
//! table where both sides enter the core: no heap and no edge scans, so a
//! query costs a few cache lines instead of a search's scattered reads.
//!
//! The labels are exact because they keep every node a search would settle
//! at its exact time: the highest node of a shortest up-down path is
//! settled by both sides at its exact time and is never stalled, so it is
//! in both labels (or both sides enter the core on the way to it, and the
//! table joins them). Labels are derived from the hierarchy when it is
//! built or loaded, never stored.

use crate::ch::{ChQuery, ContractionHierarchy, Core, INF, Seed, flatten};

/// A label entry as a lookup reads it: the hub's rank and the time to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hub {
    rank: u32,
    time: u32,
}

/// One direction's labels, flattened: node `v`'s entries are
/// `hubs[first[v]..first[v + 1]]`, by rising rank, so its core entries
/// (the highest ranks) come last. Lengths sit apart, read only for the
/// winning entry.
#[derive(Debug, Clone, PartialEq, Default)]
struct Labels {
    first: Vec<u32>,
    hubs: Vec<Hub>,
    lengths: Vec<u32>,
}

impl Labels {
    fn new(hubs: Vec<Vec<Hub>>, lengths: Vec<Vec<u32>>) -> Self {
        let (first, hubs) = flatten(hubs);
        Self { first, hubs, lengths: lengths.concat() }
    }

    #[inline]
    fn range(&self, v: u32) -> std::ops::Range<usize> {
        self.first[v as usize] as usize..self.first[v as usize + 1] as usize
    }
}

/// Forward and backward labels of every node of a hierarchy.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct HubLabels {
    forward: Labels,
    backward: Labels,
}

/// Where the fastest way between a source and a target was found, so its
/// length can be read.
#[derive(Clone, Copy)]
enum Join {
    /// At a hub both labels hold: forward and backward entry indices.
    Hub(usize, usize),
    /// Through the core's table: forward entry, backward entry.
    Core(usize, usize),
}

impl HubLabels {
    /// Labels of every node of `ch`, whose core must already be computed:
    /// one upward search per node and direction, stopped at the core, from
    /// the top rank down. An entry whose time is not the fastest (the search
    /// reached it by a detour) can never join a shortest path, so it is
    /// dropped. The labels of the higher nodes, already final, tell: merged
    /// with the hub's label, which holds the hub itself at time 0, this
    /// label gives at most the entry's time, and less exactly when a faster
    /// way to the hub exists.
    pub(crate) fn build(ch: &ContractionHierarchy) -> Self {
        let n = ch.node_count();
        let core = ch.core();
        let mut q = ChQuery::new(ch);
        let mut hubs: [Vec<Vec<Hub>>; 2] = [vec![Vec::new(); n], vec![Vec::new(); n]];
        let mut lengths: [Vec<Vec<u32>>; 2] = [vec![Vec::new(); n], vec![Vec::new(); n]];
        let mut entries: Vec<(Hub, u32)> = Vec::new();
        for rank in (0..n as u32).rev() {
            for (side, forward) in [(0, true), (1, false)] {
                entries.clear();
                let seed = Seed { node: ch.node_of_rank[rank as usize], time_ms: 0, length_dm: 0 };
                q.space_up_to(&[seed], forward, core.start, |v, time, length| {
                    entries.push((Hub { rank: v, time }, length));
                });
                entries.sort_unstable_by_key(|e| e.0.rank);
                let searched: Vec<Hub> = entries.iter().map(|e| e.0).collect();
                let theirs = &hubs[1 - side];
                // The hub's own label holds only its rank and higher ones,
                // so the merge starts at the hub's place in this label; all
                // core entries stay, as the table joins them in any order.
                let core_at = searched.partition_point(|h| h.rank < core.start);
                let exact = |at: usize, hub: Hub| {
                    let (mine, other) = (&searched[at.min(core_at)..], &theirs[hub.rank as usize]);
                    let fastest =
                        if forward { between(core, mine, other) } else { between(core, other, mine) };
                    hub.rank == rank || fastest.is_some_and(|(time, _)| time == hub.time)
                };
                let kept: Vec<(Hub, u32)> =
                    entries.iter().enumerate().filter(|(at, e)| exact(*at, e.0)).map(|(_, e)| *e).collect();
                hubs[side][rank as usize] = kept.iter().map(|e| e.0).collect();
                lengths[side][rank as usize] = kept.iter().map(|e| e.1).collect();
            }
        }
        let [fh, bh] = hubs;
        let [fl, bl] = lengths;
        Self { forward: Labels::new(fh, fl), backward: Labels::new(bh, bl) }
    }

    /// Whether these are the labels of an `n`-node hierarchy, rather than
    /// the empty default of one whose lookups are not derived yet.
    pub(crate) fn cover(&self, n: usize) -> bool {
        self.forward.first.len() == n + 1 && self.backward.first.len() == n + 1
    }

    /// Entries stored in both directions, for sizing.
    pub(crate) fn entries(&self) -> usize {
        self.forward.hubs.len() + self.backward.hubs.len()
    }

    /// Heap bytes of the labels.
    pub(crate) fn bytes(&self) -> usize {
        let side =
            |l: &Labels| l.first.len() * 4 + l.hubs.len() * std::mem::size_of::<Hub>() + l.lengths.len() * 4;
        side(&self.forward) + side(&self.backward)
    }

    /// Fastest time and its length from any source seed to any target
    /// seed; `rank` gives each seed node's rank.
    pub(crate) fn shortest(
        &self,
        core: &Core,
        rank: &[u32],
        sources: &[Seed],
        targets: &[Seed],
    ) -> Option<(u32, u32)> {
        let mut best: Option<(u32, u32)> = None;
        for &s_seed in sources {
            for &t_seed in targets {
                let (s, t) = (rank[s_seed.node as usize], rank[t_seed.node as usize]);
                let Some((time, join)) = self.between(core, s, t) else { continue };
                let time = time.saturating_add(s_seed.time_ms).saturating_add(t_seed.time_ms);
                if best.is_none_or(|(b, _)| time < b) {
                    let length = self
                        .length(core, join)
                        .saturating_add(s_seed.length_dm)
                        .saturating_add(t_seed.length_dm);
                    best = Some((time, length));
                }
            }
        }
        best.filter(|&(time, _)| time < INF)
    }

    /// The fastest way from rank `s` to rank `t`, with where its length is read.
    fn between(&self, core: &Core, s: u32, t: u32) -> Option<(u32, Join)> {
        let (fr, br) = (self.forward.range(s), self.backward.range(t));
        let (time, join) = between(core, &self.forward.hubs[fr.clone()], &self.backward.hubs[br.clone()])?;
        let join = match join {
            Join::Hub(i, j) => Join::Hub(fr.start + i, br.start + j),
            Join::Core(i, j) => Join::Core(fr.start + i, br.start + j),
        };
        Some((time, join))
    }

    fn length(&self, core: &Core, join: Join) -> u32 {
        let (f, b) = (&self.forward, &self.backward);
        match join {
            Join::Hub(i, j) => f.lengths[i].saturating_add(b.lengths[j]),
            Join::Core(i, j) => f.lengths[i]
                .saturating_add(core.length(f.hubs[i].rank, b.hubs[j].rank))
                .saturating_add(b.lengths[j]),
        }
    }
}

/// The fastest time from a forward label `f` to a backward label `b`: a
/// merge of the two below the core, and every pair of their core entries
/// (the highest ranks, at the ends) through the table. Indices are into
/// the two slices.
fn between(core: &Core, f: &[Hub], b: &[Hub]) -> Option<(u32, Join)> {
    let mut best = (INF, Join::Hub(0, 0));
    let (mut i, mut j) = (0, 0);
    while i < f.len() && j < b.len() {
        let (x, y) = (f[i], b[j]);
        if x.rank < y.rank {
            i += 1;
        } else if y.rank < x.rank {
            j += 1;
        } else {
            let time = x.time.saturating_add(y.time);
            if time < best.0 {
                best = (time, Join::Hub(i, j));
            }
            i += 1;
            j += 1;
        }
    }
    let f_core = f.partition_point(|h| h.rank < core.start);
    let b_core = b.partition_point(|h| h.rank < core.start);
    for (i, x) in f.iter().enumerate().skip(f_core) {
        for (j, y) in b.iter().enumerate().skip(b_core) {
            let time = x.time.saturating_add(core.time(x.rank, y.rank)).saturating_add(y.time);
            if time < best.0 {
                best = (time, Join::Core(i, j));
            }
        }
    }
    (best.0 < INF).then_some(best)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{NoProgress, SpeedProfile};

    /// Every entry kept is the fastest time between its node and its hub
    /// (the plain search's), so the pruning dropped every detour; and the
    /// search spaces did hold detours, so the pruning had work to do.
    #[test]
    fn every_entry_is_the_fastest_time_to_its_hub() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/andorra-2013.osm.pbf");
        let (g, _) = crate::import::import_pbf(&path, &SpeedProfile::default(), &NoProgress).unwrap();
        let ch = ContractionHierarchy::build(&g, || {});
        let labels = ch.labels();
        let mut q = ChQuery::new(&ch);
        let seed = |rank: u32| Seed { node: ch.node_of_rank[rank as usize], time_ms: 0, length_dm: 0 };
        let (mut kept, mut searched) = (0, 0);
        for v in 0..ch.node_count() as u32 {
            for (forward, side) in [(true, &labels.forward), (false, &labels.backward)] {
                for hub in &side.hubs[side.range(v)] {
                    let (a, b) = if forward { (v, hub.rank) } else { (hub.rank, v) };
                    let fastest = q.shortest_without_core(&[seed(a)], &[seed(b)]).unwrap();
                    assert_eq!(hub.time, fastest.time_ms, "rank {a} to rank {b}");
                    kept += 1;
                }
                q.space_up_to(&[seed(v)], forward, ch.core().start, |_, _, _| searched += 1);
            }
        }
        assert_eq!(kept, labels.entries());
        assert!(kept < searched, "{kept} entries kept of {searched} searched");
    }
}
