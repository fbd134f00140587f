//! Road closures at run time: how long an operator waits for `CloseRoad`
//! (and `ReopenRoad`) to answer, which is when every loaded day has been
//! planned again around the closure and the changed plans are stored.
//! Baseline in the same run: importing and contracting the same map from
//! scratch, what a rebuild from the source would cost before any re-plan.
//!
//! `cargo build --release -p noriai && cargo run --release -p noriai-benches --bin closure_bench -- [--vehicles 20] [--bookings 200] [--rounds 5]`

use noriai_benches::{fmt, quantile, repo_root};
use noriai_e2e::{Bearer, PLACES, Server, day, ll, local_time, register, temp_dir, trip};
use noriai_roads::{NoProgress, RoadNetwork, SpeedProfile};
use noriai_server::pb;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};
use tonic::service::interceptor::InterceptedService;

struct Args {
    vehicles: usize,
    bookings: usize,
    rounds: usize,
}

fn args() -> Args {
    let mut a = Args { vehicles: 20, bookings: 200, rounds: 5 };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--vehicles" => a.vehicles = v.parse().expect("--vehicles N"),
            "--bookings" => a.bookings = v.parse().expect("--bookings N"),
            "--rounds" => a.rounds = v.parse().expect("--rounds N"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let bin = repo_root().join("target/release/noriai");
    assert!(bin.exists(), "build the server first: cargo build --release -p noriai");
    let map = repo_root().join("maps/liechtenstein-2015.osm.pbf");

    // Baseline: the map imported and contracted from its source.
    let mut imports = Vec::new();
    for _ in 0..a.rounds {
        let t = Instant::now();
        let _ = RoadNetwork::import(&map, &SpeedProfile::default(), &NoProgress).expect("import");
        imports.push(t.elapsed());
    }

    let dir = temp_dir("closure-bench");
    let server = Server::start_binary(&bin, &dir, &["--quota-per-minute", "1000000000"]);
    let mut admin = server.clients().await;
    for k in 0..a.vehicles {
        let p = PLACES[k % PLACES.len()];
        let v = admin
            .fleet
            .add_vehicle(pb::AddVehicleRequest {
                name: format!("Bench {k}"),
                seats: 8,
                wheelchair_places: 1,
                depot: ll(p.0, p.1),
            })
            .await
            .expect("vehicle")
            .into_inner()
            .id;
        for d in [1, 2] {
            let shift = pb::Shift { vehicle_id: v, day: day(d), start: "07:00".into(), end: "19:00".into() };
            admin.fleet.set_shift(pb::SetShiftRequest { shift: Some(shift) }).await.expect("shift");
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut booked = 0;
    for k in 0..a.bookings {
        let phone = format!("080-{:04}-{:04}", std::process::id() % 10_000, k);
        let rider = register(&mut admin, &format!("閉鎖 {k}"), "ヘイサ", &phone, PLACES[k % 6]).await.id;
        let from = rng.random_range(0..PLACES.len());
        let to = (from + rng.random_range(1..PLACES.len())) % PLACES.len();
        let minute = rng.random_range(0..(10 * 60));
        let when = local_time(rng.random_range(1..=2), 8 + minute / 60, minute % 60);
        let what = pb::book_request::What::Trip(trip(rider, PLACES[from], PLACES[to], when, 1));
        let req = pb::BookRequest {
            idempotency_key: format!("closure-{k}"),
            what: Some(what),
            allow_overlap: true,
        };
        if admin.booking.book(req).await.is_ok() {
            booked += 1;
        }
    }
    println!(
        "noriai serve (SQLite) at {}; {} vehicles, {booked} bookings over 2 days",
        server.addr, a.vehicles
    );

    // The main valley road between Vaduz and Triesen, closed and reopened.
    let mut ops = pb::operations_service_client::OperationsServiceClient::new(InterceptedService::new(
        server.channel().await,
        Bearer::new(&server.admin_token()),
    ));
    let (p, q) = (PLACES[0], PLACES[2]);
    let mut closes = Vec::new();
    let mut reopens = Vec::new();
    for r in 0..a.rounds {
        let f = (r as f64 + 1.0) / (a.rounds as f64 + 1.0);
        let point = ll(p.0 + f * (q.0 - p.0), p.1 + f * (q.1 - p.1));
        let t = Instant::now();
        let closed = ops
            .close_road(pb::CloseRoadRequest {
                place: Some(pb::close_road_request::Place::Point(point.expect("point"))),
                reason: pb::ClosureReason::Snow as i32,
                ..Default::default()
            })
            .await
            .expect("close")
            .into_inner();
        closes.push(t.elapsed());
        let t = Instant::now();
        ops.reopen_road(pb::ReopenRoadRequest { closure_id: closed.id }).await.expect("reopen");
        reopens.push(t.elapsed());
    }
    let replanned = server
        .log
        .lock()
        .map_or(0, |l| l.iter().filter(|l| l.contains("planned around road closures")).count());
    println!("day re-plans logged: {replanned} (RUST_LOG=info shows them)");
    let import = quantile(&mut imports, 0.5);
    let close = quantile(&mut closes, 0.5);
    let reopen = quantile(&mut reopens, 0.5);
    println!("| Measurement | median | max | against import |");
    println!("|---|---|---|---|");
    println!(
        "| Import + contraction of the map (baseline) | {} | {} | 1.00× |",
        fmt(import),
        fmt(quantile(&mut imports, 1.0))
    );
    let ratio = |d: Duration| d.as_secs_f64() / import.as_secs_f64();
    println!(
        "| CloseRoad answered, 2 days re-planned (target < 5 s) | {} | {} | {:.2}× |",
        fmt(close),
        fmt(quantile(&mut closes, 1.0)),
        ratio(close)
    );
    println!(
        "| ReopenRoad answered, 2 days re-planned | {} | {} | {:.2}× |",
        fmt(reopen),
        fmt(quantile(&mut reopens, 1.0)),
        ratio(reopen)
    );
}
