//! `noriai solve`: dial-a-ride benchmark instances (Cordeau DARP, Li & Lim PDPTW).

use anyhow::Context;
use noriai_dispatch::{Budget, SolveParams, formats, solve_threads};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Cordeau (2006) DARP: `K 2n T Q L`, then `id x y service load earliest latest`.
    Cordeau,
    /// Li & Lim PDPTW (SINTEF): `K Q speed`, then `id x y demand earliest latest service pickup delivery`.
    Lilim,
}

#[derive(clap::Args)]
pub struct SolveArgs {
    /// The instance file.
    pub instance: PathBuf,
    /// Instance format [default: guessed from the first line].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Seconds of improvement after construction (the result depends on the
    /// machine's speed; use --iterations for a reproducible run).
    #[arg(long, default_value_t = 1.0, conflicts_with = "iterations")]
    pub time_limit: f64,
    /// Improvement iterations instead of a time limit: the same seed gives the
    /// same plan on any machine.
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Searches run at once, one per core, from different seeds; they trade
    /// their best plans ten times along the way and the best plan is kept
    /// (with --iterations, the same seed and thread count give the same plan).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: u16,
    /// Random seed (with --iterations, the same seed gives the same plan).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object: cost, feasible, elapsed_s, routes (node ids per vehicle).
    #[arg(long)]
    pub json: bool,
}

/// Li & Lim headers have 3 numbers, Cordeau headers 5.
fn guess(path: &PathBuf) -> anyhow::Result<Format> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let first = text.lines().next().unwrap_or_default().split_whitespace().count();
    Ok(if first == 3 { Format::Lilim } else { Format::Cordeau })
}

fn budget(a: &SolveArgs) -> Budget {
    match a.iterations {
        Some(n) => Budget::Iterations(n),
        None => Budget::Time(Duration::from_secs_f64(a.time_limit)),
    }
}

pub fn solve(a: SolveArgs) -> anyhow::Result<()> {
    if !(a.time_limit.is_finite() && a.time_limit >= 0.0) {
        anyhow::bail!("--time-limit must be a number of seconds, 0 or more");
    }
    let format = match a.format {
        Some(f) => f,
        None => guess(&a.instance)?,
    };
    let instance = match format {
        Format::Cordeau => formats::cordeau::parse(&a.instance)?,
        Format::Lilim => formats::lilim::parse(&a.instance)?,
    };
    let started = Instant::now();
    let params = SolveParams { budget: budget(&a), seed: a.seed, ..Default::default() };
    let s = solve_threads(&instance.problem, &params, usize::from(a.threads));
    let elapsed = started.elapsed().as_secs_f64();
    if a.json {
        let obj = serde_json::json!({
            "instance": instance.name,
            "cost": s.cost,
            "feasible": s.feasible,
            "elapsed_s": elapsed,
            "vehicles_used": s.vehicles_used,
            "routes": s.routes,
            "unassigned": s.unassigned.iter().map(|r| r.0).collect::<Vec<_>>(),
            "violations": s.violations,
        });
        crate::say!("{obj}");
    } else {
        crate::say!("instance:  {}", instance.name);
        crate::say!("cost:      {:.2}", s.cost);
        crate::say!("vehicles:  {} used", s.vehicles_used);
        crate::say!("feasible:  {}", s.feasible);
        crate::say!("time:      {elapsed:.2} s ({} improvement iterations)", s.iterations);
        for (k, r) in s.routes.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
            crate::say!("vehicle {k}: {r:?}");
        }
        for v in &s.violations {
            crate::say!("violation: {v}");
        }
    }
    Ok(())
}
