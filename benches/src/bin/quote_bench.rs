//! Quote storm against `noriai serve` (the release binary): 16 gRPC clients
//! ask for 100,000 quotes with distinct points on one day and book none.
//! Memory must follow the bookings, not the quotes, and quotes must stay fast
//! from the first to the last. A second phase puts the same quotes beside
//! clients that book as fast as they can (the baseline: quotes alone, same
//! run), so a booking storm's durable commits are seen not to slow quoting.
//!
//! `cargo build --release -p noriai && cargo run --release -p noriai-benches --bin quote_bench -- [--quotes 100000] [--clients 16] [--storm-seconds 10] [--db postgres://…]`

use noriai_benches::{fmt, quantile, repo_root};
use noriai_e2e::{PostgresDb, Server, local_time, register, temp_dir, trip};
use noriai_model::LatLon;
use noriai_roads::{NoProgress, RoadNetwork, SpeedProfile};
use noriai_server::pb;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Args {
    db: Option<String>,
    clients: usize,
    quotes: usize,
    storm_seconds: f64,
}

fn args() -> Args {
    let mut a = Args { db: None, clients: 16, quotes: 100_000, storm_seconds: 10.0 };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--db" => a.db = Some(v),
            "--clients" => a.clients = v.parse().expect("--clients N"),
            "--quotes" => a.quotes = v.parse().expect("--quotes N"),
            "--storm-seconds" => a.storm_seconds = v.parse().expect("--storm-seconds S"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

/// Resident memory of a process in MB (Linux).
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A distinct point near a random road node (up to about 20 m off it).
fn random_point(rng: &mut ChaCha8Rng, nodes: &[LatLon]) -> (f64, f64) {
    let n = nodes[rng.random_range(0..nodes.len())];
    (n.lat + rng.random_range(-1.5e-4..1.5e-4), n.lon + rng.random_range(-1.5e-4..1.5e-4))
}

fn line(what: &str, lat: &mut [Duration]) -> (Duration, Duration) {
    let (p50, p99) = (quantile(lat, 0.5), quantile(lat, 0.99));
    println!("{what:<34} {:>7} quotes   median {:>9}   p99 {:>9}", lat.len(), fmt(p50), fmt(p99));
    (p50, p99)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let bin = repo_root().join("target/release/noriai");
    assert!(bin.exists(), "build the server first: cargo build --release -p noriai");
    let map = repo_root().join("maps/liechtenstein-2015.osm.pbf");
    let (net, _) = RoadNetwork::open(&map, &SpeedProfile::default(), &NoProgress).expect("bundled map");
    let nodes: Arc<Vec<LatLon>> = Arc::new(net.graph().nodes.clone());
    let dir = temp_dir("quote-bench");
    let postgres =
        a.db.as_deref().filter(|u| u.starts_with("postgres")).map(|u| PostgresDb::create_at(u, "qbench"));
    let db_args: Vec<String> = postgres.iter().flat_map(|pg| ["--db".to_string(), pg.url.clone()]).collect();
    let mut extra: Vec<&str> = db_args.iter().map(String::as_str).collect();
    // The bench is one token's flood by design: lift its quota (the
    // limiter still runs on every call).
    extra.extend(["--quota-per-minute", "1000000000"]);
    let server = Server::start_binary(&bin, &dir, &extra);
    let pid = server.pid();
    let backend = if postgres.is_some() { "PostgreSQL" } else { "SQLite" };
    println!(
        "noriai serve ({backend}) at {}; {} clients, {} quotes on one day",
        server.addr, a.clients, a.quotes
    );
    let mut c = server.clients().await;
    let mut riders = Vec::new();
    for k in 0..a.clients {
        let phone = format!("080-{:04}-{:04}", std::process::id() % 10_000, k);
        let home = nodes[k * 97 % nodes.len()];
        riders
            .push(register(&mut c, &format!("見積 {k}"), "ミツモリ", &phone, (home.lat, home.lon)).await.id);
    }
    // One quote first so the day is loaded, then memory before the storm.
    let first = random_point(&mut ChaCha8Rng::seed_from_u64(7), &nodes);
    let _ = c
        .booking
        .quote(pb::QuoteRequest {
            trip: Some(trip(riders[0], first, (nodes[0].lat, nodes[0].lon), local_time(1, 10, 0), 1)),
        })
        .await;
    let rss_before = rss_mb(pid);

    // Phase 1: quotes alone. Each client takes the next quote number; the
    // first and last tenth of all quotes are the start and the end.
    let next = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(std::sync::Mutex::new(rss_before));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                let now = rss_mb(pid);
                {
                    let mut p = peak.lock().expect("peak");
                    *p = p.max(now);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (k, &rider) in riders.iter().enumerate() {
        let (mut c, next, nodes, total) = (server.clients().await, next.clone(), nodes.clone(), a.quotes);
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(k as u64);
            let (mut out, mut refused) = (Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let (from, to) = (random_point(&mut rng, &nodes), random_point(&mut rng, &nodes));
                let minute = rng.random_range(0..(10 * 60));
                let t = Instant::now();
                let r = c
                    .booking
                    .quote(pb::QuoteRequest {
                        trip: Some(trip(rider, from, to, local_time(1, 8 + minute / 60, minute % 60), 1)),
                    })
                    .await;
                out.push((i, t.elapsed()));
                match r {
                    Ok(_) => {}
                    Err(s)
                        if matches!(
                            s.code(),
                            tonic::Code::ResourceExhausted
                                | tonic::Code::FailedPrecondition
                                | tonic::Code::InvalidArgument
                        ) =>
                    {
                        refused += 1
                    }
                    Err(s) => panic!("quote failed: {s:?}"),
                }
            }
            (out, refused)
        }));
    }
    let (mut all, mut refused) = (Vec::new(), 0);
    for t in tasks {
        let (o, r) = t.await.expect("quote task");
        all.extend(o);
        refused += r;
    }
    let elapsed = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    sampler.await.expect("sampler");
    let rss_after = rss_mb(pid);
    all.sort_unstable_by_key(|&(i, _)| i);
    let tenth = (all.len() / 10).max(1);
    let mut start: Vec<Duration> = all[..tenth].iter().map(|&(_, d)| d).collect();
    let mut end: Vec<Duration> = all[all.len() - tenth..].iter().map(|&(_, d)| d).collect();
    let mut every: Vec<Duration> = all.iter().map(|&(_, d)| d).collect();
    println!(
        "{} quotes in {:.1} s = {:.0}/s ({refused} answered with no offer or a refusal)",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64()
    );
    let (_, p99_start) = line("first tenth", &mut start);
    let (_, p99_end) = line("last tenth", &mut end);
    let (_, p99_all) = line("all, quotes alone", &mut every);
    println!("p99 last tenth / first tenth: {:.2}", p99_end.as_secs_f64() / p99_start.as_secs_f64());
    let peak = *peak.lock().expect("peak");
    println!(
        "RSS before {rss_before:.1} MB, after {rss_after:.1} MB, peak {peak:.1} MB: growth {:.1} MB (target < 50 MB)",
        rss_after - rss_before
    );

    // Phase 2: the same quoting beside clients that book back to back on the same day.
    if a.storm_seconds > 0.0 {
        let bookers = (a.clients / 4).max(1);
        let deadline = Instant::now() + Duration::from_secs_f64(a.storm_seconds);
        let mut quoting = Vec::new();
        let mut booking = Vec::new();
        for (k, &rider) in riders.iter().enumerate() {
            let (mut c, nodes) = (server.clients().await, nodes.clone());
            if k < bookers {
                booking.push(tokio::spawn(async move {
                    let mut rng = ChaCha8Rng::seed_from_u64(5000 + k as u64);
                    let (mut n, mut lat) = (0usize, Vec::new());
                    while Instant::now() < deadline {
                        let (from, to) = (random_point(&mut rng, &nodes), random_point(&mut rng, &nodes));
                        let minute = rng.random_range(0..(10 * 60));
                        let t = Instant::now();
                        let r = c
                            .booking
                            .book(pb::BookRequest {
                                allow_overlap: true,
                                idempotency_key: format!("storm-{k}-{n}"),
                                what: Some(pb::book_request::What::Trip(trip(
                                    rider,
                                    from,
                                    to,
                                    local_time(1, 8 + minute / 60, minute % 60),
                                    1,
                                ))),
                            })
                            .await;
                        lat.push(t.elapsed());
                        n += 1;
                        if let Err(s) = r
                            && !matches!(
                                s.code(),
                                tonic::Code::ResourceExhausted
                                    | tonic::Code::FailedPrecondition
                                    | tonic::Code::InvalidArgument
                            )
                        {
                            panic!("booking failed: {s:?}");
                        }
                    }
                    lat
                }));
            } else {
                quoting.push(tokio::spawn(async move {
                    let mut rng = ChaCha8Rng::seed_from_u64(9000 + k as u64);
                    let mut lat = Vec::new();
                    while Instant::now() < deadline {
                        let (from, to) = (random_point(&mut rng, &nodes), random_point(&mut rng, &nodes));
                        let minute = rng.random_range(0..(10 * 60));
                        let t = Instant::now();
                        let _ = c
                            .booking
                            .quote(pb::QuoteRequest {
                                trip: Some(trip(
                                    rider,
                                    from,
                                    to,
                                    local_time(1, 8 + minute / 60, minute % 60),
                                    1,
                                )),
                            })
                            .await;
                        lat.push(t.elapsed());
                    }
                    lat
                }));
            }
        }
        let mut q = Vec::new();
        for t in quoting {
            q.extend(t.await.expect("quote task"));
        }
        let mut b = Vec::new();
        for t in booking {
            b.extend(t.await.expect("book task"));
        }
        println!(
            "booking storm: {bookers} clients booking back to back, {} quoting, {:.0} s",
            a.clients - bookers,
            a.storm_seconds
        );
        let (_, p99_storm) = line("quotes during the booking storm", &mut q);
        let (bp50, bp99) = (quantile(&mut b, 0.5), quantile(&mut b, 0.99));
        println!(
            "{:<34} {:>7} attempts  median {:>9}   p99 {:>9}",
            "bookings during the storm",
            b.len(),
            fmt(bp50),
            fmt(bp99)
        );
        println!(
            "quote p99 during the storm / quotes alone: {:.2}",
            p99_storm.as_secs_f64() / p99_all.as_secs_f64()
        );
        println!("RSS after the storm {:.1} MB", rss_mb(pid));
    }
    drop(server);
    drop(postgres);
    let _ = std::fs::remove_dir_all(&dir);
}
