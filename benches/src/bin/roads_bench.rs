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
