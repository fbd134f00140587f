//! `noriai simulate`: whole service days through the real dispatcher, with
//! KPIs and an offline HTML report; several plans side by side; fleet sweeps.

use crate::progress::Bars;
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use noriai_sim::{MapCache, Scenario, run_many, run_one, sweep_vehicles, write_run};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The scenario file (TOML; see scenarios/README.md).
    #[arg(required_unless_present = "compare")]
    pub scenario: Option<PathBuf>,
    /// Run several scenarios on the same demand (the first one's) and compare them.
    #[arg(long, num_args = 2.., conflicts_with = "scenario")]
    pub compare: Vec<PathBuf>,
    /// Run the scenario once per fleet size, e.g. `2..10` (inclusive), and compare.
    #[arg(long, value_name = "FROM..TO", value_parser = parse_range, conflicts_with = "compare")]
    pub sweep_vehicles: Option<(u32, u32)>,
    /// Where to write kpis.json (or compare.json) and report.html.
    #[arg(long)]
    pub out: PathBuf,
    /// Plans simulated at once in a comparison or sweep.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Demand draws: run every plan on N demands (the scenario's seed, +1,
    /// …) and report each KPI's mean and range (min–max), since one draw is
    /// one sample.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub seeds: u64,
}

fn parse_range(s: &str) -> Result<(u32, u32), String> {
    let (a, b) =
        s.split_once("..").ok_or_else(|| format!("`{s}` is not a range; write FROM..TO, e.g. 2..10"))?;
    let b = b.trim_start_matches('=');
    let a: u32 = a.trim().parse().map_err(|_| format!("`{a}` is not a whole number"))?;
    let b: u32 = b.trim().parse().map_err(|_| format!("`{b}` is not a whole number"))?;
    if a == 0 || b < a {
        return Err(format!("`{s}`: expected 1 ≤ FROM ≤ TO, e.g. 2..10"));
    }
    Ok((a, b))
}

pub fn simulate(a: SimulateArgs) -> anyhow::Result<()> {
    let maps = MapCache::new();
    let scenarios: Vec<Scenario> = if !a.compare.is_empty() {
        a.compare.iter().map(|p| Scenario::from_file(p)).collect::<Result<_, _>>()?
    } else {
        let path = a.scenario.as_ref().context("give a scenario file")?;
        let sc = Scenario::from_file(path)?;
        match a.sweep_vehicles {
            Some((from, to)) => sweep_vehicles(&sc, from..=to),
            None if a.seeds > 1 => {
                let bar = ProgressBar::new(a.seeds).with_style(
                    ProgressStyle::with_template("{msg:>16} [{bar:30}] {pos}/{len} demand draws ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_message("simulating");
                let runs = noriai_sim::run_seeds(&sc, a.seeds, &maps, a.threads, &|| bar.inc(1))?;
                bar.finish_and_clear();
                let spread = noriai_sim::write_seeds(&a.out, &runs)?;
                crate::say!("scenario:   {} on {} demand draws (seeds {:?})", sc.name, a.seeds, spread.seeds);
                for (label, path, scale) in [
                    ("served %", "served_share", 100.0),
                    ("refused %", "refused_share", 100.0),
                    ("wait median min", "wait_min.median", 1.0),
                    ("km driven", "km_driven", 1.0),
                    ("cost per trip", "cost.per_served_trip", 1.0),
                ] {
                    if let Some((mean, lo, hi)) = spread.range(path) {
                        crate::say!(
                            "{label:<16} mean {:>8.1}   range {:.1} – {:.1}",
                            mean * scale,
                            lo * scale,
                            hi * scale
                        );
                    }
                }
                crate::say!("wrote {}/kpis.json and report.html (and one folder per draw)", a.out.display());
                return Ok(());
            }
            None => {
                let bars = Bars::new();
                let run = run_one(&sc, &maps, None, &bars)?;
                bars.finish();
                write_run(&a.out, &run)?;
                let k = &run.kpis;
                crate::say!("scenario:   {}", k.scenario);
                crate::say!("demand:     {}", k.demand);
                crate::say!(
                    "requests:   {} (served {:.1} %, refused {:.1} %, cancelled {}, no-show {})",
                    k.requests,
                    k.served_share * 100.0,
                    k.refused_share * 100.0,
                    k.cancelled,
                    k.no_show
                );
                if k.outside_map > 0 {
                    crate::say!(
                        "outside map: {} trip(s), e.g. {}",
                        k.outside_map,
                        k.outside_map_examples.join("; ")
                    );
                }
                crate::say!(
                    "wait:       median {:.1} min, 90th {:.1} min",
                    k.wait_min.median,
                    k.wait_min.p90
                );
                crate::say!(
                    "ride:       median {:.1} min, detour {:.2}",
                    k.ride_min.median,
                    k.detour_factor.median
                );
                crate::say!(
                    "fleet:      {:.1} vehicle-h, {:.1} km ({:.0} % empty), {:.2} passengers/vehicle-h",
                    k.vehicle_hours,
                    k.km_driven,
                    k.empty_share * 100.0,
                    k.passengers_per_vehicle_hour
                );
                crate::say!("cost:       {:.0} {} per served trip", k.cost.per_served_trip, k.cost.currency);
                crate::say!(
                    "evening:    {} day-before bookings planned {:.1} km -> {:.1} km by the batch; {} told a narrower window",
                    k.batch_prebooked,
                    k.batch_km_before,
                    k.batch_km_after,
                    k.batch_narrowed
                );
                let road = &k.road;
                if road.late_legs + road.breakdowns > 0 {
                    crate::say!(
                        "road:       {} late legs, {} breakdowns: {} riders moved, {} late, {} stranded",
                        road.late_legs,
                        road.breakdowns,
                        road.riders_moved,
                        road.riders_late,
                        road.riders_stranded
                    );
                }
                crate::say!(
                    "simulated in {:.2} s; wrote {}/kpis.json and report.html",
                    k.wall_s,
                    a.out.display()
                );
                return Ok(());
            }
        }
    };
    if scenarios.is_empty() {
        bail!("nothing to run");
    }
    let bars = Bars::new();
    let bar = ProgressBar::new(scenarios.len() as u64).with_style(
        ProgressStyle::with_template("{msg:>16} [{bar:30}] {pos}/{len} plans ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("simulating");
    let (cmp, spreads) = if a.seeds > 1 {
        bar.set_length(scenarios.len() as u64 * a.seeds);
        let (mut draws, spreads) =
            noriai_sim::compare_seeds(&scenarios, a.seeds, &maps, a.threads, &|_name| bar.inc(1))?;
        (draws.remove(0), Some(spreads))
    } else {
        (run_many(&scenarios, &maps, a.threads, &bars, &|_name| bar.inc(1))?, None)
    };
    bar.finish_and_clear();
    bars.finish();
    cmp.write(&a.out, spreads.as_deref())?;
    crate::say!("demand: {}", cmp.demand);
    crate::say!(
        "{:<40} {:>8} {:>8} {:>10} {:>10} {:>12}",
        "plan",
        "served",
        "refused",
        "wait med",
        "km",
        "cost/trip"
    );
    if let Some(spreads) = &spreads {
        crate::say!("over {} demand draws: served % mean (min – max) per plan", a.seeds);
        for (r, sp) in cmp.runs.iter().zip(spreads) {
            if let Some((mean, lo, hi)) = sp.range("served_share") {
                crate::say!(
                    "{:<40} {:>6.1} ({:.1} – {:.1})",
                    r.kpis.scenario,
                    mean * 100.0,
                    lo * 100.0,
                    hi * 100.0
                );
            }
        }
        crate::say!("first draw:");
    }
    for r in &cmp.runs {
        let k = &r.kpis;
        crate::say!(
            "{:<40} {:>7.1}% {:>7.1}% {:>8.1} m {:>10.1} {:>8.0} {}",
            k.scenario,
            k.served_share * 100.0,
            k.refused_share * 100.0,
            k.wait_min.median,
            k.km_driven,
            k.cost.per_served_trip,
            k.cost.currency
        );
    }
    crate::say!("wrote {}/compare.json and report.html", a.out.display());
    Ok(())
}
