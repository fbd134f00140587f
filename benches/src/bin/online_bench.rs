//! Online insertion latency: a fleet of 50 vehicles with about 20 planned
//! stops each on a precomputed travel-time table; each query prices one new
//! request against every vehicle and position (what an operator waits for).
//!
//! ```text
//! cargo run --release -p noriai-benches --bin online_bench -- [--seed N] [--queries N] [--vehicles N] [--stops N]
//! ```

use std::process::ExitCode;
use std::time::Instant;

use noriai_dispatch::{LivePlan, OfferOptions, insert};
use noriai_model::{
    Capacity, LocId, MatrixTravelTimes, Request, RequestId, TimeWindow, TravelTimes, Vehicle, VehicleId,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn arg(name: &str, default: u64) -> Result<u64, String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .ok_or(format!("{name} needs a value"))?
            .parse()
            .map_err(|e| format!("{name}: {e}")),
        None => Ok(default),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn random_request(id: u32, travel: &MatrixTravelTimes, rng: &mut ChaCha8Rng) -> Result<Request, String> {
    let n = travel.len() as u32;
    let p = rng.random_range(1..n);
    let mut d = rng.random_range(1..n);
    if d == p {
        d = if p + 1 < n { p + 1 } else { 1 };
    }
    let direct = travel.time(LocId(p), LocId(d));
    let e = rng.random_range(0.0..10.0 * 3600.0);
    let seats =
        if rng.random_bool(0.1) { Capacity::new(0, 1) } else { Capacity::new(rng.random_range(1..=2), 0) };
    Request::new(RequestId(id), LocId(p), LocId(d), seats)
        .and_then(|r| r.with_pickup_window(e, e + 1800.0))
        .and_then(|r| r.with_max_ride_rule(direct, 1.5, 600.0))
        .and_then(|r| r.with_service_times(60.0, 60.0))
        .map_err(|e| e.to_string())
}

fn run() -> Result<(), String> {
    let seed = arg("--seed", 1)?;
    let queries = arg("--queries", 2000)? as usize;
    let n_veh = arg("--vehicles", 50)? as usize;
    let target_stops = arg("--stops", 20)? as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    // 2,000 places in a 40 km × 40 km rural area; roads 30 % longer than the
    // straight line, 40 km/h. Times in seconds, distances in metres.
    let n_loc = 2000;
    let pts: Vec<(f64, f64)> =
        (0..n_loc).map(|_| (rng.random_range(0.0..40_000.0), rng.random_range(0.0..40_000.0))).collect();
    let travel = MatrixTravelTimes::from_fn(n_loc, |i, j| {
        let d = 1.3 * ((pts[i].0 - pts[j].0).powi(2) + (pts[i].1 - pts[j].1).powi(2)).sqrt();
        (d / (40_000.0 / 3600.0), d)
    });
    let shift = TimeWindow::new(0.0, 12.0 * 3600.0).map_err(|e| e.to_string())?;
    let vehicles = (0..n_veh as u32)
        .map(|v| Vehicle::new(VehicleId(v), Capacity::new(8, 1), LocId(0), shift).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut live = LivePlan::new(vehicles, &travel).map_err(|e| e.to_string())?;
    let fill_opts = OfferOptions { max_offers: 1, alternative_step: 0.0, alternative_reach: 0.0 };

    // Fill the fleet with promised rides until it averages `target_stops` stops.
    let mut id = 0;
    let mut rejected = 0;
    let t_fill = Instant::now();
    while (0..n_veh).map(|v| live.stop_count(v)).sum::<usize>() < target_stops * n_veh && id < 100_000 {
        id += 1;
        let r = random_request(id, &travel, &mut rng)?;
        match insert(&live, &r, &travel, &fill_opts).map_err(|e| e.to_string())? {
            Ok(offers) => {
                let o = &offers[0];
                let promise = TimeWindow::new(
                    o.pickup_time,
                    (o.pickup_time + 900.0).min(o.pickup_window.latest()).max(o.pickup_time),
                )
                .map_err(|e| e.to_string())?;
                live.commit(&r, o, Some(promise), &travel).map_err(|e| e.to_string())?;
            }
            Err(_) => rejected += 1,
        }
    }
    let stops: Vec<usize> = (0..n_veh).map(|v| live.stop_count(v)).collect();
    println!(
        "fleet: {n_veh} vehicles, {} stops ({:.1} per vehicle, max {}), {} accepted, {rejected} rejected while filling ({:.2} s)",
        stops.iter().sum::<usize>(),
        stops.iter().sum::<usize>() as f64 / n_veh as f64,
        stops.iter().max().copied().unwrap_or(0),
        live.requests().len(),
        t_fill.elapsed().as_secs_f64()
    );

    // Time pricing queries against that plan (the plan is not changed, so every query sees ~20 stops).
    let opts = OfferOptions { max_offers: 3, alternative_step: 0.0, alternative_reach: 0.0 };
    let mut us = Vec::with_capacity(queries);
    let mut served = 0;
    for q in 0..queries {
        let r = random_request(1_000_000 + q as u32, &travel, &mut rng)?;
        let t = Instant::now();
        let res = insert(&live, &r, &travel, &opts).map_err(|e| e.to_string())?;
        us.push(t.elapsed().as_secs_f64() * 1e6);
        served += usize::from(res.is_ok());
    }
    us.sort_by(f64::total_cmp);
    let pct = |p: f64| us[((us.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "insert (price against all vehicles, best 3 offers): {queries} queries, {served} with an offer; median {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );

    // Rejections with the search for alternative windows (15-minute steps, ±4 h).
    let alt_opts = OfferOptions::default();
    let mut alt_us = Vec::new();
    for q in 0..queries {
        let r = random_request(2_000_000 + q as u32, &travel, &mut rng)?;
        let t = Instant::now();
        let res = insert(&live, &r, &travel, &alt_opts).map_err(|e| e.to_string())?;
        if res.is_err() {
            alt_us.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    if !alt_us.is_empty() {
        alt_us.sort_by(f64::total_cmp);
        println!(
            "rejection with alternatives: {} cases, median {:.1} µs, p99 {:.1} µs",
            alt_us.len(),
            alt_us[alt_us.len() / 2],
            alt_us[((alt_us.len() as f64 - 1.0) * 0.99).round() as usize]
        );
    }
    Ok(())
}
