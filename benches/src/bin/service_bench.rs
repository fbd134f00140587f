//! Load bench of `noriai serve`: 16 concurrent gRPC clients over loopback
//! quote, then book, against the release binary; reports throughput with
//! median and 99th-percentile latency, and checks that no booking was lost.
//!
//! `cargo build --release -p noriai && cargo run --release -p noriai-benches --bin service_bench -- [--db postgres://…] [--clients 16] [--seconds 10] [--bookings 50]`
//!
//! With `--db postgres://USER:PASS@HOST:PORT/DB` a fresh database is created
//! next to DB (with `psql`) and dropped after.

use noriai_benches::{fmt, quantile, repo_root};
use noriai_e2e::{PLACES, PostgresDb, Server, day, local_time, register, temp_dir, trip};
use noriai_server::pb;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

struct Args {
    db: Option<String>,
    clients: usize,
    seconds: f64,
    bookings: usize,
}

fn args() -> Args {
    let mut a = Args { db: None, clients: 16, seconds: 10.0, bookings: 50 };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--db" => a.db = Some(v),
            "--clients" => a.clients = v.parse().expect("--clients N"),
            "--seconds" => a.seconds = v.parse().expect("--seconds S"),
            "--bookings" => a.bookings = v.parse().expect("--bookings N (per client)"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn random_trip(rng: &mut ChaCha8Rng, rider: i64) -> pb::Trip {
    let a = rng.random_range(0..PLACES.len());
    let b = (a + rng.random_range(1..PLACES.len())) % PLACES.len();
    let days = rng.random_range(1..=10);
    let minute = rng.random_range(0..(9 * 60 + 30));
    trip(rider, PLACES[a], PLACES[b], local_time(days, 8 + minute / 60, minute % 60), 1)
}

fn report(what: &str, mut lat: Vec<Duration>, elapsed: Duration) {
    let n = lat.len();
    let (p50, p99) = (quantile(&mut lat, 0.5), quantile(&mut lat, 0.99));
    println!(
        "{what:<9} {n:>6} in {:>6.2} s  = {:>7.0}/s   median {:>9}   p99 {:>9}",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        fmt(p50),
        fmt(p99)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let bin = repo_root().join("target/release/noriai");
    assert!(bin.exists(), "build the server first: cargo build --release -p noriai");
    let dir = temp_dir("bench");
    let postgres = match &a.db {
        Some(url) if url.starts_with("postgres") => Some(PostgresDb::create_at(url, "bench")),
        _ => None,
    };
    let db_args: Vec<String> = match (&postgres, &a.db) {
        (Some(pg), _) => vec!["--db".into(), pg.url.clone()],
        (None, Some(url)) => vec!["--db".into(), url.clone()],
        (None, None) => Vec::new(),
    };
    let backend = if postgres.is_some() { "PostgreSQL" } else { "SQLite" };
    let mut extra: Vec<&str> = db_args.iter().map(String::as_str).collect();
    // The bench is one token's flood by design: lift its quota (the
    // limiter still runs on every call).
    extra.extend(["--quota-per-minute", "1000000000"]);
    let server = Server::start_binary(&bin, &dir, &extra);
    println!("noriai serve ({backend}) at {}; {} concurrent clients", server.addr, a.clients);
    let mut c = server.clients().await;
    let mut riders = Vec::new();
    for k in 0..a.clients {
        let phone = format!("090-{:04}-{:04}", std::process::id() % 10_000, k);
        riders
            .push(register(&mut c, &format!("負荷 {k}"), "フカ", &phone, PLACES[k % PLACES.len()]).await.id);
    }

    // Quotes: every client asks as fast as it can for `seconds`.
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (k, &rider) in riders.iter().enumerate() {
        let mut c = server.clients().await;
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(k as u64);
            let (mut lat, mut refused) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = c.booking.quote(pb::QuoteRequest { trip: Some(random_trip(&mut rng, rider)) }).await;
                lat.push(t.elapsed());
                refused += usize::from(r.is_err());
            }
            (lat, refused)
        }));
    }
    let (mut lat, mut refused) = (Vec::new(), 0);
    for t in tasks {
        let (l, r) = t.await.expect("quote task");
        lat.extend(l);
        refused += r;
    }
    report("quotes", lat, started.elapsed());
    println!("          ({refused} answered with no offer)");

    // Bookings: each client books `bookings` trips directly, one after another.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (k, &rider) in riders.iter().enumerate() {
        let mut c = server.clients().await;
        let n = a.bookings;
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(1000 + k as u64);
            let (mut lat, mut ids, mut refused) = (Vec::new(), Vec::new(), 0usize);
            for j in 0..n {
                let t = Instant::now();
                let r = c
                    .booking
                    .book(pb::BookRequest {
                        allow_overlap: true,
                        idempotency_key: format!("bench-{k}-{j}"),
                        what: Some(pb::book_request::What::Trip(random_trip(&mut rng, rider))),
                    })
                    .await;
                lat.push(t.elapsed());
                match r {
                    Ok(b) => ids.push(b.into_inner().id),
                    Err(s)
                        if matches!(
                            s.code(),
                            tonic::Code::ResourceExhausted | tonic::Code::FailedPrecondition
                        ) =>
                    {
                        refused += 1
                    }
                    Err(s) => panic!("booking failed: {s:?}"),
                }
            }
            (lat, ids, refused)
        }));
    }
    let (mut lat, mut ids, mut refused) = (Vec::new(), Vec::new(), 0);
    for t in tasks {
        let (l, i, r) = t.await.expect("book task");
        lat.extend(l);
        ids.extend(i);
        refused += r;
    }
    report("bookings", lat, started.elapsed());
    let mut stored = Vec::new();
    for d in 1..=10 {
        let list = c
            .booking
            .list_bookings(pb::ListBookingsRequest { rider_id: 0, day: day(d), include_cancelled: false })
            .await
            .expect("list")
            .into_inner();
        stored.extend(list.bookings.into_iter().map(|b| b.id));
    }
    ids.sort_unstable();
    stored.sort_unstable();
    println!(
        "          {} confirmed, {refused} refused (fleet full), {} stored, lost: {}",
        ids.len(),
        stored.len(),
        ids.iter().filter(|i| stored.binary_search(i).is_err()).count()
    );
    drop(server);
    drop(postgres);
    let _ = std::fs::remove_dir_all(&dir);
}
