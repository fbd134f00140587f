//! Road network bench: import and preparation, loading the prepared file,
//! point-to-point queries and a 100×100 table, each beside plain Dijkstra in the
//! same run. Medians (and p99 for queries) over repeated runs.
//!
//! `cargo run --release -p noriai-benches --bin roads_bench [-- MAP.osm.pbf]`

use noriai_benches::{fmt, quantile, repo_root};
use noriai_model::LatLon;
use noriai_roads::{NoProgress, RoadNetwork, Snapped, SpeedProfile};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
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
    let map = std::env::args()
        .nth(1)
        .map(Into::into)
        .unwrap_or_else(|| repo_root().join("maps/liechtenstein-2015.osm.pbf"));
    let profile = SpeedProfile::default();
    println!("map: {}", map.display());

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
        let (a, d1) = time(|| net.travel(&mut q, s, t));
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
        "{pairs} queries  CH median {:>9} p99 {:>9}   Dijkstra median {:>9} p99 {:>9}   speed-up {:.0}x (median)   mismatches {mismatches}",
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
        "{pairs} junction pairs  CH median {:>9}   Dijkstra on the raw OSM-node graph ({} nodes) median {:>9}   speed-up {:.0}x",
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
