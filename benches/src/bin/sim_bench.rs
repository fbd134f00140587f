//! Simulated service days end to end (demand, day-before batch, online
//! insertion, vehicle progress, KPIs): (a) 300 requests and 5 vehicles on the
//! bundled map, median of several runs; (b) the 20,000-request, 500-vehicle
//! Manhattan trace with the crow-flies travel model, once.
//!
//! ```text
//! cargo run --release -p noriai-benches --bin sim_bench -- [--runs N] [--skip-scale]
//! ```

use noriai_roads::NoProgress;
use noriai_sim::{Kpis, MapCache, Scenario, load_demand, simulate};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
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

fn headline(k: &Kpis) {
    println!(
        "    served {:.1} %, refused {:.1} %, wait median {:.1} / p90 {:.1} min, ride median {:.1} min, {:.0} km ({:.0} % empty), {:.2} pax/veh-h, {:.0} {} per trip",
        k.served_share * 100.0,
        k.refused_share * 100.0,
        k.wait_min.median,
        k.wait_min.p90,
        k.ride_min.median,
        k.km_driven,
        k.empty_share * 100.0,
        k.passengers_per_vehicle_hour,
        k.cost.per_served_trip,
        k.cost.currency
    );
}

fn day(path: &Path, runs: usize) -> Result<(), String> {
    let sc = Scenario::from_file(path).map_err(|e| e.to_string())?;
    let maps = MapCache::new();
    let t = Instant::now();
    let world = noriai_sim::World::load(&sc, &maps, &NoProgress).map_err(|e| e.to_string())?;
    let demand = load_demand(&sc, &world).map_err(|e| e.to_string())?;
    let prep = t.elapsed().as_secs_f64();
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let day = simulate(&sc, &world, &demand, &NoProgress).map_err(|e| e.to_string())?;
        let kpis = Kpis::compute(&sc, &day);
        times.push(t.elapsed().as_secs_f64());
        last = Some(kpis);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let n = demand.trips.len();
    println!(
        "{}: {} requests, {} vehicles: map + demand {:.2} s; simulated day median {:.3} s of {} run(s) (min {:.3}, max {:.3}); {:.0} requests/s",
        sc.name,
        n,
        sc.fleet.vehicles,
        prep,
        median,
        times.len(),
        times[0],
        times[times.len() - 1],
        n as f64 / median
    );
    if let Some(k) = last {
        headline(&k);
    }
    Ok(())
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let runs = match args.iter().position(|a| a == "--runs") {
        Some(i) => {
            args.get(i + 1).ok_or("--runs needs a value")?.parse().map_err(|e| format!("--runs: {e}"))?
        }
        None => 5,
    };
    println!("(2 CPU cores shared with other work; wall-clock times)");
    day(&root().join("scenarios/liechtenstein-door-to-door.toml"), runs)?;
    day(&root().join("scenarios/liechtenstein-stops-winter.toml"), runs)?;
    if !args.iter().any(|a| a == "--skip-scale") {
        let nyc = root().join("scenarios/manhattan-scale.toml");
        match Scenario::from_file(&nyc) {
            Ok(sc) if matches!(&sc.demand, noriai_sim::scenario::DemandConfig::Csv { path } if !path.exists()) =>
            {
                println!("skipping the scale day: the Manhattan trace is not in ../shared/data/demand/");
            }
            _ => day(&nyc, 1)?,
        }
    }
    Ok(())
}
