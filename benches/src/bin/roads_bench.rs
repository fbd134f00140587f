//! Road network bench: import and preparation, loading the prepared file,
//! point-to-point queries and a 100×100 table, each beside plain Dijkstra in the
//! same run. Medians (and p99 for queries) over repeated runs.
//!
//! Then, for every map in `maps/` and `tests/data/` (or the one given), the
//! hierarchy's node order against the earlier one (no hop term) in the
//! same run: preparation time, nodes settled per query and query time.
//!
//! `cargo run --release -p noriai-benches --bin roads_bench [-- MAP.osm.pbf]`

use noriai_benches::{fmt, quantile, repo_root};
use noriai_model::LatLon;
use noriai_roads::{
    ChQuery, ContractionHierarchy, NoProgress, OrderParams, RoadNetwork, Seed, Snapped, SpeedProfile,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

fn random_points(net: &RoadNetwork, n: usize, rng: &mut ChaCha8Rng) -> Vec<Snapped> {
    let nodes = &net.graph().nodes;
    let (mut lo, mut hi) = (nodes[0], nodes[0]);
    for p in nodes {
        lo = LatLon { lat: lo.lat.min(p.lat), lon: lo.lon.min(p.lon) };
        hi = LatLon { lat: hi.lat.max(p.lat), lon: hi.lon.max(p.lon) };
    }
    let mut pts = Vec::with_capacity(n);
    while pts.len() < n {
        let p = LatLon { lat: rng.random_range(lo.lat..=hi.lat), lon: rng.random_range(lo.lon..=hi.lon) };
        if let Ok(s) = net.snap(p) {
            pts.push(s);
        }
    }
    pts
}

/// The graph a naive router builds: every OSM node of a drivable way is a
/// node, every segment between two of them an arc (time shared by length).
struct RawGraph {
    first: Vec<usize>,
    arcs: Vec<(u32, u32)>, // (head, time ms)
    /// Raw node of each junction node of the compact graph.
    junction: Vec<u32>,
}

impl RawGraph {
    fn build(net: &RoadNetwork) -> Self {
        let g = net.graph();
        let mut junction = Vec::with_capacity(g.nodes.len());
        let mut n = g.nodes.len() as u32;
        junction.extend(0..n);
        let mut edges: Vec<(u32, u32, u32)> = Vec::new();
        for p in &g.pieces {
            let pts = &g.shape[p.shape_start as usize..p.shape_end as usize];
            let lens: Vec<f64> = pts.windows(2).map(|w| w[0].distance_m(w[1])).collect();
            let total: f64 = lens.iter().sum::<f64>().max(1e-9);
            let mut ids = vec![p.a];
            for _ in 1..pts.len() - 1 {
                ids.push(n);
                n += 1;
            }
            ids.push(p.b);
            for (k, len) in lens.iter().enumerate() {
                let share = len / total;
                if p.time_ab_ms != u32::MAX {
                    edges.push((ids[k], ids[k + 1], (p.time_ab_ms as f64 * share).round() as u32));
                }
                if p.time_ba_ms != u32::MAX {
                    edges.push((ids[k + 1], ids[k], (p.time_ba_ms as f64 * share).round() as u32));
                }
            }
        }
        edges.sort_unstable();
        let mut first = vec![0usize; n as usize + 1];
        for e in &edges {
            first[e.0 as usize + 1] += 1;
        }
        for i in 0..n as usize {
            first[i + 1] += first[i];
        }
        Self { first, arcs: edges.into_iter().map(|(_, h, t)| (h, t)).collect(), junction }
    }

    fn nodes(&self) -> usize {
        self.first.len() - 1
    }

    /// Plain Dijkstra between two junctions with early exit.
    fn dijkstra(&self, s: u32, t: u32) -> Option<u32> {
        use std::cmp::Reverse;
        let mut dist = vec![u32::MAX; self.nodes()];
        let mut heap = std::collections::BinaryHeap::new();
        let (s, t) = (self.junction[s as usize], self.junction[t as usize]);
        dist[s as usize] = 0;
        heap.push(Reverse((0u32, s)));
        while let Some(Reverse((d, v))) = heap.pop() {
            if v == t {
                return Some(d);
            }
            if d > dist[v as usize] {
                continue;
            }
            for &(h, w) in &self.arcs[self.first[v as usize]..self.first[v as usize + 1]] {
                let nd = d + w;
                if nd < dist[h as usize] {
                    dist[h as usize] = nd;
                    heap.push(Reverse((nd, h)));
                }
            }
        }
        None
    }
}

fn main() {
    let given: Option<PathBuf> = std::env::args().nth(1).map(Into::into);
    let map = given.clone().unwrap_or_else(|| repo_root().join("maps/liechtenstein-2015.osm.pbf"));
    detailed(&map);
    let maps = match given {
        Some(m) => vec![m],
        None => ["maps", "tests/data"]
            .iter()
            .flat_map(|d| std::fs::read_dir(repo_root().join(d)).into_iter().flatten().flatten())
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".osm.pbf"))
            .collect(),
    };
    node_order(&maps);
}

/// One hierarchy's queries between random junction pairs: times and settled nodes.
#[derive(Default)]
struct Searches {
    times: Vec<Duration>,
    settled: Vec<Duration>,
    /// Time and length of each answer.
    answers: Vec<Option<(u32, u32)>>,
}

impl Searches {
    /// Adds another round over the same pairs (answers are kept once).
    fn extend(&mut self, other: Searches) {
        self.times.extend(other.times);
        self.settled.extend(other.settled);
        if self.answers.is_empty() {
            self.answers = other.answers;
        }
    }
}

/// How a hierarchy answers a point-to-point query.
#[derive(Clone, Copy)]
enum Lookup {
    /// Merging the two ends' hub labels: no search.
    Labels,
    /// A search that joins its two sides through the core's table.
    Core,
    /// A search whose two sides climb to the top of the hierarchy.
    Top,
}

fn search(ch: &ContractionHierarchy, pairs: &[(u32, u32)], how: Lookup) -> Searches {
    let mut q = ChQuery::new(ch);
    let seed = |v| Seed { node: v, time_ms: 0, length_dm: 0 };
    let mut out = Searches::default();
    for &(a, b) in pairs {
        let (answer, d) = time(|| match how {
            Lookup::Labels => ch.fastest(&[seed(a)], &[seed(b)]),
            Lookup::Core => q.shortest(&[seed(a)], &[seed(b)]).map(|m| (m.time_ms, m.length_dm)),
            Lookup::Top => q.shortest_without_core(&[seed(a)], &[seed(b)]).map(|m| (m.time_ms, m.length_dm)),
        });
        out.times.push(d);
        // Counts carried as nanoseconds so the same quantile helper reads them.
        let settled = if matches!(how, Lookup::Labels) { 0 } else { q.settled() };
        out.settled.push(Duration::from_nanos(settled as u64));
        out.answers.push(answer);
    }
    out
}

/// A town-like grid road graph of `side`² junctions, larger than any map
/// here: jittered blocks of 100 m, every tenth street an arterial twice as
/// fast, a few one-way streets; the same for a seed.
fn synthetic_grid(side: u32, seed: u64) -> noriai_roads::graph::RoadGraph {
    use noriai_roads::graph::{Piece, RoadGraph};
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = RoadGraph::default();
    let id = |r: u32, c: u32| r * side + c;
    for r in 0..side {
        for c in 0..side {
            let lat = 40.0 + f64::from(r) * 0.0009 + rng.random_range(-0.0002..0.0002);
            let lon = 140.0 + f64::from(c) * 0.0012 + rng.random_range(-0.0002..0.0002);
            g.nodes.push(LatLon { lat, lon });
        }
    }
    for r in 0..side {
        for c in 0..side {
            for (r2, c2, arterial) in [(r + 1, c, c % 10 == 0), (r, c + 1, r % 10 == 0)] {
                if r2 >= side || c2 >= side {
                    continue;
                }
                let (a, b) = (id(r, c), id(r2, c2));
                let metres = g.nodes[a as usize].distance_m(g.nodes[b as usize]);
                let kmh = if arterial { 50.0 } else { 25.0 * rng.random_range(0.8..1.2) };
                let ms = (metres / (kmh / 3.6) * 1000.0).round() as u32;
                let one_way = !arterial && rng.random_bool(0.05);
                let start = g.shape.len() as u32;
                g.shape.push(g.nodes[a as usize]);
                g.shape.push(g.nodes[b as usize]);
                g.pieces.push(Piece {
                    a,
                    b,
                    time_ab_ms: ms,
                    time_ba_ms: if one_way { noriai_roads::graph::NO_ARC } else { ms },
                    length_dm: (metres * 10.0).round() as u32,
                    shape_start: start,
                    shape_end: start + 2,
                });
            }
        }
    }
    g
}

fn node_order(maps: &[PathBuf]) {
    let profile = SpeedProfile::default();
    println!();
    println!("node order: this version against the earlier one (no hop term), same graph, same run;");
    println!(
        "queries with this order looked up in its hub labels, joined through the core's table and climbing to the top, then with the earlier order;"
    );
    println!(
        "(core ÷ labels, earlier ÷ labels); label entries per node and direction / label bytes per node"
    );
    println!(
        "{:<30} {:>9}  {:>21}  {:>28}  {:>59}  {:>12}",
        "graph",
        "junctions",
        "prepare new / old",
        "settled core / top / old",
        "query median labels / core / top / old",
        "labels"
    );
    for map in maps {
        let Ok((net, _)) = RoadNetwork::import(map, &profile, &NoProgress) else { continue };
        let name = map.file_name().map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        compare_orders(&name, net.graph());
    }
    for side in [71, 141, 283] {
        compare_orders(&format!("synthetic grid {side}x{side}"), &synthetic_grid(side, 5));
    }
}

/// Builds the hierarchy of `g` with both orders and compares them on the
/// same random junction pairs (their answers must agree).
fn compare_orders(name: &str, g: &noriai_roads::graph::RoadGraph) {
    let n = g.nodes.len() as u32;
    if n < 2 {
        return;
    }
    let (mut new_prep, mut old_prep) = (Vec::new(), Vec::new());
    let (mut new_ch, mut old_ch) = (None, None);
    let runs = if n > 20_000 { 1 } else { 3 };
    for _ in 0..runs {
        let (c, d) = time(|| ContractionHierarchy::build_with(g, OrderParams::default(), || {}));
        new_prep.push(d);
        new_ch = Some(c);
        let (c, d) = time(|| ContractionHierarchy::build_with(g, OrderParams::earlier(), || {}));
        old_prep.push(d);
        old_ch = Some(c);
    }
    let (new_ch, old_ch) = (new_ch.expect("built"), old_ch.expect("built"));
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let pairs: Vec<(u32, u32)> =
        (0..5_000).map(|_| (rng.random_range(0..n), rng.random_range(0..n))).collect();
    // Alternated rounds, so a drift of the machine's speed spreads over all four.
    let mut runs = [(); 4].map(|()| Searches::default());
    for _ in 0..3 {
        runs[0].extend(search(&new_ch, &pairs, Lookup::Labels));
        runs[1].extend(search(&new_ch, &pairs, Lookup::Core));
        runs[2].extend(search(&new_ch, &pairs, Lookup::Top));
        runs[3].extend(search(&old_ch, &pairs, Lookup::Top));
    }
    let [mut labels, mut core, mut top, mut old] = runs;
    // Times must agree everywhere; where two routes tie in time, searches
    // may report either one's length, so lengths are compared only between
    // the labels and the search they are derived from.
    // (`assert!`, so a failure names the graph without printing every answer.)
    let times = |s: &Searches| s.answers.iter().map(|a| a.map(|x| x.0)).collect::<Vec<_>>();
    assert!(labels.answers == core.answers, "{name}: the labels and the search disagree");
    assert!(times(&core) == times(&top), "{name}: the core's table and the climb to the top disagree");
    assert!(times(&core) == times(&old), "{name}: the two hierarchies disagree");
    let settled =
        |s: &mut Vec<Duration>| format!("{} ({})", quantile(s, 0.5).as_nanos(), quantile(s, 0.99).as_nanos());
    let (np, op) = (quantile(&mut new_prep, 0.5), quantile(&mut old_prep, 0.5));
    let [lq, cq, tq, oq] = [&mut labels, &mut core, &mut top, &mut old].map(|s| quantile(&mut s.times, 0.5));
    let (entries, bytes) = new_ch.label_size();
    println!(
        "{name:<30} {n:>9}  {:>10} / {:>8}  {:>28}  {:>8} / {:>8} / {:>8} / {:>8} ({:.1}x, {:.1}x)  {:>5.1} / {:>4}",
        fmt(np),
        fmt(op),
        format!(
            "{} / {} / {}",
            settled(&mut core.settled),
            settled(&mut top.settled),
            settled(&mut old.settled)
        ),
        fmt(lq),
        fmt(cq),
        fmt(tq),
        fmt(oq),
        cq.as_secs_f64() / lq.as_secs_f64(),
        oq.as_secs_f64() / lq.as_secs_f64(),
        entries as f64 / (2.0 * f64::from(n)),
        bytes / n as usize,
    );
}

fn detailed(map: &std::path::Path) {
    let profile = SpeedProfile::default();
    println!("map: {}", map.display());
    let map = map.to_path_buf();

    let mut imports = Vec::new();
    let mut net = None;
    for _ in 0..5 {
        let (r, d) = time(|| RoadNetwork::import(&map, &profile, &NoProgress));
        imports.push(d);
        net = Some(r.unwrap_or_else(|e| panic!("{e}")).0);
    }
    let net = net.expect("imported");
    let file = std::env::temp_dir().join(format!("noriai-bench-{}.noriai", std::process::id()));
    net.save(&file).unwrap_or_else(|e| panic!("{e}"));
    let mut loads = Vec::new();
    for _ in 0..20 {
        let (r, d) = time(|| RoadNetwork::load(&file, Some(&profile)));
        black_box(r.unwrap_or_else(|e| panic!("{e}")));
        loads.push(d);
    }
    std::fs::remove_file(&file).ok();
    let g = net.graph();
    println!(
        "graph: {} nodes, {} arcs, {} hierarchy edges",
        g.nodes.len(),
        g.arc_count(),
        net.hierarchy().edge_count()
    );
    let (imp, load) = (quantile(&mut imports, 0.5), quantile(&mut loads, 0.5));
    println!(
        "import + prepare  median {:>10}   load prepared median {:>10}   ratio {:.1}x",
        fmt(imp),
        fmt(load),
        imp.as_secs_f64() / load.as_secs_f64()
    );

    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let pairs = 10_000;
    let pts = random_points(&net, pairs * 2, &mut rng);
    let mut q = net.query();
    let (mut fast, mut slow) = (Vec::with_capacity(pairs), Vec::with_capacity(pairs));
    let mut mismatches = 0;
    for k in 0..pairs {
        let (s, t) = (&pts[2 * k], &pts[2 * k + 1]);
        let (a, d1) = time(|| net.travel(s, t));
        let (b, d2) = time(|| net.travel_dijkstra(s, t));
        fast.push(d1);
        slow.push(d2);
        if a.map(|x| x.0) != b.map(|x| x.0) {
            mismatches += 1;
        }
    }
    let (f50, f99, s50, s99) = (
        quantile(&mut fast, 0.5),
        quantile(&mut fast, 0.99),
        quantile(&mut slow, 0.5),
        quantile(&mut slow, 0.99),
    );
    println!(
        "{pairs} queries  CH labels median {:>9} p99 {:>9}   Dijkstra median {:>9} p99 {:>9}   speed-up {:.0}x (median)   mismatches {mismatches}",
        fmt(f50),
        fmt(f99),
        fmt(s50),
        fmt(s99),
        s50.as_secs_f64() / f50.as_secs_f64()
    );

    // Junction to junction: the hierarchy against Dijkstra on the raw OSM-node graph.
    let raw = RawGraph::build(&net);
    let n = net.graph().nodes.len() as u32;
    let (mut fast, mut slow) = (Vec::new(), Vec::new());
    for _ in 0..pairs {
        let (a, b) = (rng.random_range(0..n), rng.random_range(0..n));
        let seed = |v| noriai_roads::Seed { node: v, time_ms: 0, length_dm: 0 };
        let (x, d1) = time(|| q.shortest(&[seed(a)], &[seed(b)]).map(|m| m.time_ms));
        let (y, d2) = time(|| raw.dijkstra(a, b));
        fast.push(d1);
        slow.push(d2);
        // Raw segment times are rounded per segment, so allow a few ms per piece.
        if let (Some(x), Some(y)) = (x, y) {
            assert!((x as i64 - y as i64).abs() < 2_000, "hierarchy {x} ms, raw Dijkstra {y} ms");
        }
    }
    let (f50, s50) = (quantile(&mut fast, 0.5), quantile(&mut slow, 0.5));
    println!(
        "{pairs} junction pairs  CH search median {:>9}   Dijkstra on the raw OSM-node graph ({} nodes) median {:>9}   speed-up {:.0}x",
        fmt(f50),
        raw.nodes(),
        fmt(s50),
        s50.as_secs_f64() / f50.as_secs_f64()
    );

    let (mut t_ch, mut t_dj) = (Vec::new(), Vec::new());
    for _ in 0..11 {
        let pts = random_points(&net, 100, &mut rng);
        let (a, d1) = time(|| net.table(&pts, &pts));
        let (b, d2) = time(|| net.table_dijkstra_ms(&pts, &pts));
        t_ch.push(d1);
        t_dj.push(d2);
        black_box((a, b));
    }
    let (c, d) = (quantile(&mut t_ch, 0.5), quantile(&mut t_dj, 0.5));
    println!(
        "100x100 table    CH median {:>9}   Dijkstra (one search per source) median {:>9}   speed-up {:.1}x",
        fmt(c),
        fmt(d),
        d.as_secs_f64() / c.as_secs_f64()
    );
}
