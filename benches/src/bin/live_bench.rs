//! Live operations under load: 50 vehicles stream positions every 5 s and
//! one reports a delay every second, while 16 clients quote and book; an
//! operator's `WatchDay` stream shows each delay. Reports quote latency
//! beside the same run's quotes alone (the baseline), positions stored
//! against sent, and how long a delay takes to reach the day board.
//!
//! `cargo build --release -p noriai && cargo run --release -p noriai-benches --bin live_bench -- [--vehicles 50] [--clients 16] [--seconds 20]`

use noriai_benches::{fmt, quantile, repo_root};
use noriai_e2e::{Bearer, PLACES, Server, ll, local_time, register, temp_dir, trip, ts};
use noriai_server::pb;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tonic::service::interceptor::InterceptedService;

struct Args {
    vehicles: usize,
    clients: usize,
    seconds: f64,
}

fn args() -> Args {
    let mut a = Args { vehicles: 50, clients: 16, seconds: 20.0 };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--vehicles" => a.vehicles = v.parse().expect("--vehicles N"),
            "--clients" => a.clients = v.parse().expect("--clients N"),
            "--seconds" => a.seconds = v.parse().expect("--seconds S"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn now() -> i64 {
    noriai_server::now_unix()
}

fn random_trip(rng: &mut ChaCha8Rng, rider: i64) -> pb::Trip {
    let a = rng.random_range(0..PLACES.len());
    let b = (a + rng.random_range(1..PLACES.len())) % PLACES.len();
    let minute = rng.random_range(0..(9 * 60 + 30));
    trip(rider, PLACES[a], PLACES[b], local_time(rng.random_range(1..=5), 8 + minute / 60, minute % 60), 1)
}

/// Quotes (and, with `book`, every tenth a booking) from every client until `stop`.
async fn load(server: &Server, riders: &[i64], book: bool, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let mut tasks = Vec::new();
    for (k, &rider) in riders.iter().enumerate() {
        let mut c = server.clients().await;
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(k as u64 + if book { 100 } else { 0 });
            let mut lat = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let t = Instant::now();
                let _ = c.booking.quote(pb::QuoteRequest { trip: Some(random_trip(&mut rng, rider)) }).await;
                lat.push(t.elapsed());
                if book && n.is_multiple_of(10) {
                    let what = pb::book_request::What::Trip(random_trip(&mut rng, rider));
                    let key = format!("live-{k}-{n}");
                    let req = pb::BookRequest { idempotency_key: key, what: Some(what), allow_overlap: true };
                    let _ = c.booking.book(req).await;
                }
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("load task"));
    }
    lat
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let bin = repo_root().join("target/release/noriai");
    assert!(bin.exists(), "build the server first: cargo build --release -p noriai");
    let dir = temp_dir("live-bench");
    let server = Server::start_binary(&bin, &dir, &["--quota-per-minute", "1000000000"]);
    let mut admin = server.clients().await;
    println!("noriai serve (SQLite) at {}; {} vehicles, {} clients", server.addr, a.vehicles, a.clients);
    let mut drivers = Vec::new();
    for k in 0..a.vehicles {
        let p = PLACES[k % PLACES.len()];
        let v = admin
            .fleet
            .add_vehicle(pb::AddVehicleRequest {
                name: format!("Live {k}"),
                seats: 8,
                wheelchair_places: 1,
                depot: ll(p.0, p.1),
            })
            .await
            .expect("vehicle")
            .into_inner()
            .id;
        let token = admin
            .accounts
            .create_token(pb::CreateTokenRequest {
                role: pb::Role::Driver as i32,
                vehicle_id: v,
                service_id: 1,
                ..Default::default()
            })
            .await
            .expect("driver token")
            .into_inner()
            .secret;
        drivers.push((v, token));
    }
    let mut riders = Vec::new();
    for k in 0..a.clients {
        let phone = format!("080-{:04}-{:04}", std::process::id() % 10_000, k);
        riders.push(register(&mut admin, &format!("負荷 {k}"), "フカ", &phone, PLACES[k % 6]).await.id);
    }

    // The baseline: quotes alone.
    let stop = Arc::new(AtomicBool::new(false));
    let alone = {
        let s = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(a.seconds / 2.0)).await;
            s.store(true, Ordering::Relaxed);
        });
        load(&server, &riders, false, stop).await
    };

    // Live: positions, delays and the board beside quotes and bookings.
    let stop = Arc::new(AtomicBool::new(false));
    let mut streams = Vec::new();
    for (k, (vehicle, token)) in drivers.iter().cloned().enumerate() {
        let ch = server.channel().await;
        let stop = stop.clone();
        streams.push(tokio::spawn(async move {
            let mut client = pb::driver_service_client::DriverServiceClient::new(InterceptedService::new(
                ch,
                Bearer::new(&token),
            ));
            let (tx, rx) = tokio::sync::mpsc::channel::<pb::PositionReport>(4);
            let sender = tokio::spawn(async move {
                let mut sent = 0u64;
                // Spread the vehicles over the 5-second period.
                tokio::time::sleep(Duration::from_millis(100 * k as u64 % 5_000)).await;
                while !stop.load(Ordering::Relaxed) {
                    let p = PLACES[(k + sent as usize) % PLACES.len()];
                    let report = pb::PositionReport {
                        vehicle_id: vehicle,
                        at: Some(ts(now())),
                        position: ll(p.0, p.1),
                        heading_deg: 90.0,
                        speed_kmh: 30.0,
                    };
                    if tx.send(report).await.is_err() {
                        break;
                    }
                    sent += 1;
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                sent
            });
            let stored = client
                .report_positions(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
                .expect("positions")
                .into_inner()
                .stored;
            (sender.await.expect("sender"), stored)
        }));
    }
    let mut board = pb::operations_service_client::OperationsServiceClient::new(InterceptedService::new(
        server.channel().await,
        Bearer::new(&server.admin_token()),
    ))
    .watch_day(pb::WatchDayRequest { day: String::new() })
    .await
    .expect("board")
    .into_inner();
    let (delayed_vehicle, delayed_token) = drivers[0].clone();
    let delays = {
        let stop = stop.clone();
        let ch = server.channel().await;
        tokio::spawn(async move {
            let mut client = pb::driver_service_client::DriverServiceClient::new(InterceptedService::new(
                ch,
                Bearer::new(&delayed_token),
            ));
            let mut sent: Vec<(u32, Instant)> = Vec::new();
            let mut minutes = 0u32;
            while !stop.load(Ordering::Relaxed) {
                minutes += 1;
                let event = pb::ReportEventRequest {
                    event_id: format!("delay-{minutes}"),
                    vehicle_id: delayed_vehicle,
                    kind: pb::EventKind::Delayed as i32,
                    delay_minutes: minutes,
                    delay_reason: pb::DelayReason::Snow as i32,
                    ..Default::default()
                };
                let t = Instant::now();
                client.report_event(event).await.expect("delay");
                sent.push((minutes, t));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            sent
        })
    };
    let watcher = tokio::spawn(async move {
        let mut seen: Vec<(u32, Instant)> = Vec::new();
        while let Ok(Some(b)) = board.message().await {
            let at = Instant::now();
            for vehicle in b.vehicles.iter().filter(|x| x.vehicle_id == delayed_vehicle) {
                let m = vehicle.delay_minutes;
                if m > 0 && !seen.iter().any(|(s, _)| *s == m) {
                    seen.push((m, at));
                }
            }
        }
        seen
    });
    let timer = {
        let s = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(a.seconds)).await;
            s.store(true, Ordering::Relaxed);
        })
    };
    let started = Instant::now();
    let during = load(&server, &riders, true, stop).await;
    let elapsed = started.elapsed();
    timer.await.expect("timer");
    let (mut sent, mut stored) = (0, 0);
    for s in streams {
        let (a, b) = s.await.expect("position stream");
        sent += a;
        stored += b;
    }
    let delays = delays.await.expect("delays");
    drop(server);
    let seen = watcher.await.expect("watcher");

    let (mut alone, mut during) = (alone, during);
    let (a50, a99) = (quantile(&mut alone, 0.5), quantile(&mut alone, 0.99));
    let (d50, d99) = (quantile(&mut during, 0.5), quantile(&mut during, 0.99));
    println!(
        "quotes alone            {:>7} quotes  median {:>9}   p99 {:>9}",
        alone.len(),
        fmt(a50),
        fmt(a99)
    );
    println!(
        "quotes beside live ops  {:>7} quotes  median {:>9}   p99 {:>9}   (×{:.2} on p99; {:.0} quotes/s)",
        during.len(),
        fmt(d50),
        fmt(d99),
        d99.as_secs_f64() / a99.as_secs_f64(),
        during.len() as f64 / elapsed.as_secs_f64()
    );
    println!("positions: {sent} sent, {stored} stored before the answer, lost: {}", sent - stored.min(sent));
    let mut reach: Vec<Duration> = delays
        .iter()
        .filter_map(|(m, t)| {
            seen.iter().find(|(s, _)| s == m).map(|(_, at)| at.saturating_duration_since(*t))
        })
        .collect();
    let shown = reach.len();
    if shown > 0 {
        let (r50, r99) = (quantile(&mut reach, 0.5), quantile(&mut reach, 0.99));
        println!(
            "delays on the board: {shown} of {} shown, event to board median {} p99 {}",
            delays.len(),
            fmt(r50),
            fmt(r99)
        );
    } else {
        println!("delays on the board: none of {} shown", delays.len());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
