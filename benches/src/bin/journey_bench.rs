//! PlanJourney through the release server, beside its baselines in the same
//! run: without on-demand legs (the Donan feed, random stop-to-stop trips on
//! a weekday of its calendar) against the same searches in process with the
//! timetable library; with on-demand legs (the Cobb County map, CobbLinc 30
//! moved to this year, a rider 1.7 km from the line) against one Quote of
//! the door-to-door ride.
//!
//! `cargo build --release -p noriai && cargo run --release -p noriai-benches --bin journey_bench -- [QUERIES]`

use chrono::TimeZone;
use noriai_benches::{fmt, quantile, repo_root};
use noriai_e2e::{Bearer, Server, ll, register, temp_dir, ts};
use noriai_server::pb;
use noriai_timetable::{Access, Egress, Feed, JourneyRules};
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

type JourneyClient = pb::journey_service_client::JourneyServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
>;

fn client(ch: tonic::transport::Channel, token: &str) -> JourneyClient {
    pb::journey_service_client::JourneyServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(ch, Bearer::new(token)),
    )
}

fn summary(label: &str, mut fast: Vec<Duration>, mut base: Vec<Duration>, base_label: &str) {
    let ratio = quantile(&mut fast, 0.5).as_secs_f64() / quantile(&mut base, 0.5).as_secs_f64().max(1e-9);
    println!(
        "{label}: {} calls, median {} p99 {} ({base_label}: median {} p99 {}; ×{ratio:.1})",
        fast.len(),
        fmt(quantile(&mut fast, 0.5)),
        fmt(quantile(&mut fast, 0.99)),
        fmt(quantile(&mut base, 0.5)),
        fmt(quantile(&mut base, 0.99)),
    );
}

fn main() {
    let queries: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    let bin = repo_root().join("target/release/noriai");
    assert!(bin.exists(), "build the server first: cargo build --release -p noriai");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);

    // Fixed lines only: the Donan feed.
    let donan_path = repo_root().join("feeds/donanbus-muroran-gtfs-jp.zip");
    let donan = Feed::load(&donan_path, chrono::NaiveDate::MIN).expect("feed");
    let dir = temp_dir("journey-bench");
    let server = Server::start_binary(&bin, &dir, &["--gtfs", &donan_path.display().to_string()]);
    let token = server.create_token(&["--role", "planner"]);
    let served: Vec<u32> = (0..donan.stops.len() as u32).filter(|&s| donan.is_served(s)).collect();
    let tokyo = chrono_tz::Asia::Tokyo;
    let (mut fast, mut base) = (Vec::new(), Vec::new());
    let mut found = 0;
    runtime.block_on(async {
        let mut c = client(server.channel().await, &token);
        for _ in 0..queries {
            let (a, b) =
                (served[rng.random_range(0..served.len())], served[rng.random_range(0..served.len())]);
            let (Some(pa), Some(pb_)) = (donan.stops[a as usize].location, donan.stops[b as usize].location)
            else {
                continue;
            };
            let at = tokyo
                .with_ymd_and_hms(2020, 6, 1, rng.random_range(6..19), 0, 0)
                .single()
                .expect("a time")
                .timestamp();
            let t = Instant::now();
            let reply = c
                .plan_journey(pb::PlanJourneyRequest {
                    origin: ll(pa.lat, pa.lon),
                    destination: ll(pb_.lat, pb_.lon),
                    time: Some(pb::plan_journey_request::Time::DepartAfter(ts(at))),
                    ..Default::default()
                })
                .await
                .expect("plan");
            fast.push(t.elapsed());
            found += usize::from(!reply.into_inner().itineraries.is_empty());
            // The same search in process: walks within 400 m at 3 km/h, the library's rounds.
            let t = Instant::now();
            let walk = |p: noriai_model::LatLon, s: &noriai_timetable::Stop| {
                s.location.map(|l| l.distance_m(p) * 1.3).filter(|m| *m <= 400.0)
            };
            let ins: Vec<Access> = donan
                .stops
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    walk(pa, s).map(|m| Access { stop: i as u32, at: at + (m / (3.0 / 3.6)) as i64 })
                })
                .collect();
            let outs: Vec<Egress> = donan
                .stops
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    walk(pb_, s).map(|m| Egress { stop: i as u32, seconds: (m / (3.0 / 3.6)) as i64 })
                })
                .collect();
            let _ = donan.journeys(&ins, &outs, &JourneyRules::default());
            base.push(t.elapsed());
        }
    });
    summary("PlanJourney, fixed lines only (Donan)", fast, base, "the same search in process");
    println!("  {found}/{queries} with an itinerary");
    server.kill();

    // With on-demand legs: Cobb County.
    let dir = temp_dir("journey-bench-cobb");
    let feed = noriai_e2e::cobblinc_30_this_year(&dir);
    let map = repo_root().join("tests/data/cobb-county-filtered.osm.pbf");
    let server = Server::start_binary(
        &bin,
        &dir,
        &[
            "--map",
            &map.display().to_string(),
            "--gtfs",
            &feed.display().to_string(),
            "--quota-per-minute",
            "1000000",
        ],
    );
    let operator = server.create_token(&["--role", "operator"]);
    let (mut fast, mut base) = (Vec::new(), Vec::new());
    let mut with_ride = 0;
    let n = queries / 3;
    runtime.block_on(async {
        let mut op = server.clients_as(&operator).await;
        let rider =
            register(&mut op, "Jones Mary", "ジョーンズ メアリー", "770-555-0101", (33.85, -84.62)).await;
        let mut c = client(server.channel().await, &operator);
        let ny = chrono_tz::America::New_York;
        let mut day = chrono::Utc::now().with_timezone(&ny).date_naive() + chrono::Duration::days(1);
        while chrono::Datelike::weekday(&day).number_from_monday() > 5 {
            day += chrono::Duration::days(1);
        }
        for k in 0..n {
            let origin = (33.84 + rng.random_range(0.0..0.03), -84.625 + rng.random_range(0.0..0.02));
            let leave = ny
                .from_local_datetime(&day.and_hms_opt(17, (k % 4) as u32 * 10, 0).expect("a time"))
                .earliest()
                .expect("a time")
                .timestamp();
            let t = Instant::now();
            let reply = c
                .plan_journey(pb::PlanJourneyRequest {
                    origin: ll(origin.0, origin.1),
                    destination: ll(33.7543, -84.4707),
                    time: Some(pb::plan_journey_request::Time::DepartAfter(ts(leave))),
                    rider_id: rider.id,
                    ..Default::default()
                })
                .await
                .expect("plan");
            fast.push(t.elapsed());
            with_ride += usize::from(
                reply
                    .into_inner()
                    .itineraries
                    .iter()
                    .any(|i| i.legs.iter().any(|l| l.mode == pb::LegMode::OnDemand as i32)),
            );
            let t = Instant::now();
            let _ = op
                .booking
                .quote(pb::QuoteRequest {
                    trip: Some(noriai_e2e::trip(rider.id, origin, (33.8226, -84.5757), leave, 1)),
                })
                .await;
            base.push(t.elapsed());
        }
    });
    summary("PlanJourney with on-demand legs (Cobb County)", fast, base, "one Quote of a door-to-door ride");
    println!("  {with_ride}/{n} with an on-demand leg");
    server.kill();
}
