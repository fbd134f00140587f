//! Runs the batch solver on every Cordeau (2006) DARP instance, or the Li & Lim
//! PDPTW instances with `--lilim`, and compares with the best-known values.
//! Feasibility is judged by the independent checker from the routes alone.
//!
//! ```text
//! cargo run --release -p noriai-benches --bin darp_bench -- [--time-limit S] [--seed N]
//!     [--dir DIR] [--construction-only] [--lilim] [--sizes 100,200] [--filter PREFIX]
//! ```
//! The data directory defaults to `darp/cordeau2006` (resp. `pdptw/lilim`) under
//! `../shared/data` beside the repository, or under `$NORIAI_SHARED_DATA` when set.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use noriai_dispatch::formats::{Instance, cordeau, lilim};
use noriai_dispatch::{Budget, SolveParams, solve, verify};

struct Args {
    time_limit: f64,
    seed: u64,
    dir: Option<PathBuf>,
    construction_only: bool,
    lilim: bool,
    sizes: Vec<usize>,
    filter: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        time_limit: 1.0,
        seed: 1,
        dir: None,
        construction_only: false,
        lilim: false,
        sizes: vec![100, 200],
        filter: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--time-limit" => {
                a.time_limit = val("--time-limit")?.parse().map_err(|e| format!("--time-limit: {e}"))?
            }
            "--seed" => a.seed = val("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--dir" => a.dir = Some(PathBuf::from(val("--dir")?)),
            "--construction-only" => a.construction_only = true,
            "--lilim" => a.lilim = true,
            "--filter" => a.filter = Some(val("--filter")?),
            "--sizes" => {
                a.sizes = val("--sizes")?
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| format!("--sizes: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "-h" | "--help" => {
                return Err("usage: darp_bench [--time-limit S] [--seed N] [--dir DIR] [--construction-only] [--lilim] [--sizes 100,200] [--filter PREFIX]".into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !(a.time_limit.is_finite() && a.time_limit >= 0.0) {
        return Err("--time-limit must be a non-negative number of seconds".into());
    }
    Ok(a)
}

fn data_dir(sub: &str) -> PathBuf {
    noriai_benches::shared_data().join(sub)
}

/// Rows of a best-known CSV keyed by the instance name in column `key`.
fn read_bks(path: &Path, key: usize) -> Result<HashMap<String, Vec<String>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<String> = l.split(',').map(|s| s.trim().to_string()).collect();
            Some((f.get(key)?.clone(), f))
        })
        .collect())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let r = if args.lilim { run_lilim(&args) } else { run_cordeau(&args) };
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn instances(dir: &Path, accept: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .filter(|p| p.file_stem().is_some_and(|s| accept(&s.to_string_lossy())))
        .collect();
    files.sort_by_key(|p| {
        let s = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        // a2-16 < a10-100: sort by set, then the numbers.
        let nums: Vec<u32> = s.split(|c: char| !c.is_ascii_digit()).filter_map(|x| x.parse().ok()).collect();
        (s.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>(), nums, s)
    });
    Ok(files)
}

fn params(args: &Args) -> SolveParams {
    SolveParams {
        budget: Budget::Time(Duration::from_secs_f64(args.time_limit)),
        seed: args.seed,
        construction_only: args.construction_only,
    }
}

fn run_cordeau(args: &Args) -> Result<bool, String> {
    let dir = args.dir.clone().unwrap_or_else(|| data_dir("darp/cordeau2006"));
    let bks = read_bks(&dir.join("bks.csv"), 0)?;
    let files = instances(&dir, |s| args.filter.as_deref().is_none_or(|f| s.starts_with(f)))?;
    println!(
        "{:<8} {:>10} {:>10} {:>8} {:>9} {:>10} {:>8}  feasible",
        "instance", "cost", "bks", "gap%", "seconds", "constr_ms", "iters"
    );
    let mut gaps: HashMap<char, Vec<f64>> = HashMap::new();
    let mut all_ok = true;
    for f in files {
        let inst: Instance = cordeau::parse(&f).map_err(|e| e.to_string())?;
        let sol = solve(&inst.problem, &params(args));
        let report = verify(&inst.problem, &sol.routes);
        let best: Option<f64> = bks.get(&inst.name).and_then(|r| r.get(1)?.parse().ok());
        let gap = best.map(|b| 100.0 * (report.cost - b) / b);
        let ok = report.feasible;
        all_ok &= ok;
        if let (Some(g), Some(set)) = (gap, inst.name.chars().next()) {
            gaps.entry(set).or_default().push(g);
        }
        println!(
            "{:<8} {:>10.2} {:>10} {:>8} {:>9.3} {:>10.3} {:>8}  {}",
            inst.name,
            report.cost,
            best.map_or("-".into(), |b| format!("{b:.2}")),
            gap.map_or("-".into(), |g| format!("{g:.3}")),
            sol.elapsed_s,
            sol.construction_s * 1e3,
            sol.iterations,
            if ok {
                "yes".to_string()
            } else {
                format!("NO: {}", report.violations.first().cloned().unwrap_or_default())
            }
        );
    }
    let mut sets: Vec<_> = gaps.into_iter().collect();
    sets.sort_by_key(|(k, _)| *k);
    for (set, g) in sets {
        let mean = g.iter().sum::<f64>() / g.len() as f64;
        let max = g.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        println!("set {set}: {} instances, mean gap {mean:.3} %, max gap {max:.3} %", g.len());
    }
    println!("all feasible: {}", if all_ok { "yes" } else { "NO" });
    Ok(all_ok)
}

fn run_lilim(args: &Args) -> Result<bool, String> {
    let dir = args.dir.clone().unwrap_or_else(|| data_dir("pdptw/lilim"));
    // Columns: clients, instance, routes, distance, who.
    let bks = read_bks(&dir.join("bks.csv"), 1)?;
    let wanted = |s: &str| bks.contains_key(s) && args.filter.as_deref().is_none_or(|f| s.starts_with(f));
    let files = instances(&dir, wanted)?;
    println!(
        "{:<10} {:>5} {:>4} {:>4} {:>10} {:>10} {:>8} {:>8}  feasible",
        "instance", "n", "veh", "bksV", "distance", "bksDist", "gap%", "seconds"
    );
    let mut all_ok = true;
    let mut per_size: HashMap<usize, (usize, usize, usize, Vec<f64>)> = HashMap::new();
    for f in files {
        let name = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let Some(row) = bks.get(&name) else { continue };
        let clients: usize = row.first().and_then(|x| x.parse().ok()).unwrap_or(0);
        if !args.sizes.contains(&clients) {
            continue;
        }
        let (bv, bd): (usize, f64) =
            match (row.get(2).and_then(|x| x.parse().ok()), row.get(3).and_then(|x| x.parse().ok())) {
                (Some(v), Some(d)) => (v, d),
                _ => continue,
            };
        let inst = lilim::parse(&f).map_err(|e| e.to_string())?;
        let sol = solve(&inst.problem, &params(args));
        let report = verify(&inst.problem, &sol.routes);
        all_ok &= report.feasible;
        let gap = 100.0 * (report.cost - bd) / bd;
        let e = per_size.entry(clients).or_default();
        e.0 += 1;
        e.1 += report.vehicles_used;
        e.2 += bv;
        if report.vehicles_used == bv {
            e.3.push(gap);
        }
        println!(
            "{:<10} {:>5} {:>4} {:>4} {:>10.2} {:>10.2} {:>8.3} {:>8.3}  {}",
            name,
            clients,
            report.vehicles_used,
            bv,
            report.cost,
            bd,
            gap,
            sol.elapsed_s,
            if report.feasible {
                "yes".to_string()
            } else {
                format!("NO: {}", report.violations.first().cloned().unwrap_or_default())
            }
        );
    }
    let mut sizes: Vec<_> = per_size.into_iter().collect();
    sizes.sort_by_key(|(k, _)| *k);
    for (n, (count, v, bv, gaps)) in sizes {
        let mean = if gaps.is_empty() { f64::NAN } else { gaps.iter().sum::<f64>() / gaps.len() as f64 };
        println!(
            "{n} customers: {count} instances, vehicles {v} vs best-known {bv}; mean distance gap {mean:.3} % over the {} instances with best-known vehicle count",
            gaps.len()
        );
    }
    println!("all feasible: {}", if all_ok { "yes" } else { "NO" });
    Ok(all_ok)
}
