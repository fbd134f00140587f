//! Runs the batch solver on every Cordeau (2006) DARP instance, on the Li &
//! Lim PDPTW instances with `--lilim`, or on generated Cordeau-like instances
//! of any size with `--generated`, and compares with the best-known values
//! (for generated instances: with the same solver given `--reference`
//! seconds). Feasibility is judged by the independent checker from the routes
//! alone. Every table names its time limit, seeds and thread count.
//! `--iterations N` gives every run N search iterations instead of its time
//! limit: the same plans on any machine, so wall time compares code at equal work.
//!
//! ```text
//! cargo run --release -p noriai-benches --bin darp_bench -- [--time-limit S] [--seeds 1,2]
//!     [--threads N] [--iterations N] [--dir DIR] [--construction-only] [--filter PREFIX]
//!     [--lilim [--sizes 100,200]]
//!     [--generated [--sizes 100,125,150] [--set a|b|ab] [--limits 5,30] [--reference 300]]
//! ```
//! The data directory defaults to `darp/cordeau2006` (resp. `pdptw/lilim`) under
//! `../shared/data` beside the repository, or under `$NORIAI_SHARED_DATA` when set;
//! with `--generated`, `--dir` is where the generated instances are written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use noriai_dispatch::formats::generate::{DarpSet, DarpShape, cordeau_like};
use noriai_dispatch::formats::{Instance, cordeau, lilim};
use noriai_dispatch::{Budget, Solution, SolveParams, solve_threads, verify};

const USAGE: &str = "usage: darp_bench [--time-limit S] [--seeds 1,2] [--threads N] [--iterations N] [--dir DIR] [--construction-only] [--filter PREFIX] [--lilim [--sizes 100,200]] [--generated [--sizes 100,125,150] [--set a|b|ab] [--limits 5,30] [--reference 300]]";

enum Mode {
    Cordeau,
    LiLim,
    Generated,
}

struct Args {
    mode: Mode,
    time_limit: f64,
    seeds: Vec<u64>,
    threads: usize,
    dir: Option<PathBuf>,
    construction_only: bool,
    sizes: Option<Vec<usize>>,
    filter: Option<String>,
    sets: Vec<DarpSet>,
    limits: Vec<f64>,
    reference: f64,
    /// Search iterations per run in place of the time limits.
    iterations: Option<u64>,
}

fn list<T: std::str::FromStr>(name: &str, v: &str) -> Result<Vec<T>, String>
where
    T::Err: std::fmt::Display,
{
    v.split(',').map(|s| s.trim().parse().map_err(|e| format!("{name}: `{s}`: {e}"))).collect()
}

fn seconds(name: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{name} must be a non-negative number of seconds"))
    }
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        mode: Mode::Cordeau,
        time_limit: 1.0,
        seeds: vec![1],
        threads: 1,
        dir: None,
        construction_only: false,
        sizes: None,
        filter: None,
        sets: vec![DarpSet::A, DarpSet::B],
        limits: vec![5.0, 30.0],
        reference: 300.0,
        iterations: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--time-limit" => {
                a.time_limit = val("--time-limit")?.parse().map_err(|e| format!("--time-limit: {e}"))?
            }
            "--seed" | "--seeds" => a.seeds = list("--seeds", &val("--seeds")?)?,
            "--threads" => {
                a.threads = val("--threads")?.parse().map_err(|e| format!("--threads: {e}"))?;
                if !(1..=64).contains(&a.threads) {
                    return Err("--threads must be 1 to 64".into());
                }
            }
            "--iterations" => {
                a.iterations = Some(val("--iterations")?.parse().map_err(|e| format!("--iterations: {e}"))?)
            }
            "--dir" => a.dir = Some(PathBuf::from(val("--dir")?)),
            "--construction-only" => a.construction_only = true,
            "--lilim" => a.mode = Mode::LiLim,
            "--generated" => a.mode = Mode::Generated,
            "--filter" => a.filter = Some(val("--filter")?),
            "--sizes" => a.sizes = Some(list("--sizes", &val("--sizes")?)?),
            "--set" => {
                a.sets = match val("--set")?.as_str() {
                    "a" => vec![DarpSet::A],
                    "b" => vec![DarpSet::B],
                    "ab" => vec![DarpSet::A, DarpSet::B],
                    other => return Err(format!("--set: `{other}`; give a, b or ab")),
                }
            }
            "--limits" => a.limits = list("--limits", &val("--limits")?)?,
            "--reference" => {
                a.reference = val("--reference")?.parse().map_err(|e| format!("--reference: {e}"))?
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    seconds("--time-limit", a.time_limit)?;
    seconds("--reference", a.reference)?;
    for l in &a.limits {
        seconds("--limits", *l)?;
    }
    if a.seeds.is_empty() {
        return Err("--seeds needs at least one seed".into());
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
    if let Some(n) = args.iterations {
        println!("budget: {n} search iterations per run; the time limits below are not used");
    }
    let r = match args.mode {
        Mode::Cordeau => run_cordeau(&args),
        Mode::LiLim => run_lilim(&args),
        Mode::Generated => run_generated(&args),
    };
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

fn run(inst: &Instance, args: &Args, seconds: f64, seed: u64) -> Solution {
    let params = SolveParams {
        budget: match args.iterations {
            Some(n) => Budget::Iterations(n),
            None => Budget::Time(Duration::from_secs_f64(seconds)),
        },
        seed,
        construction_only: args.construction_only,
        ..Default::default()
    };
    solve_threads(&inst.problem, &params, args.threads)
}

fn seeds(args: &Args) -> String {
    args.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

fn mean_max(g: &[f64]) -> (f64, f64) {
    if g.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    (g.iter().sum::<f64>() / g.len() as f64, g.iter().copied().fold(f64::NEG_INFINITY, f64::max))
}

fn verdict(report: &noriai_dispatch::Report) -> String {
    if report.feasible {
        "yes".to_string()
    } else {
        format!("NO: {}", report.violations.first().cloned().unwrap_or_default())
    }
}

fn run_cordeau(args: &Args) -> Result<bool, String> {
    let dir = args.dir.clone().unwrap_or_else(|| data_dir("darp/cordeau2006"));
    let bks = read_bks(&dir.join("bks.csv"), 0)?;
    let files = instances(&dir, |s| args.filter.as_deref().is_none_or(|f| s.starts_with(f)))?;
    println!(
        "Cordeau a/b: time limit {} s, seeds {}, threads {}{}",
        args.time_limit,
        seeds(args),
        args.threads,
        if args.construction_only { ", construction only" } else { "" }
    );
    println!(
        "{:<8} {:>4} {:>10} {:>10} {:>8} {:>9} {:>10} {:>8}  feasible",
        "instance", "seed", "cost", "bks", "gap%", "seconds", "constr_ms", "iters"
    );
    let mut gaps: HashMap<char, Vec<f64>> = HashMap::new();
    let mut all_ok = true;
    for f in files {
        let inst: Instance = cordeau::parse(&f).map_err(|e| e.to_string())?;
        for &seed in &args.seeds {
            let sol = run(&inst, args, args.time_limit, seed);
            let report = verify(&inst.problem, &sol.routes);
            let best: Option<f64> = bks.get(&inst.name).and_then(|r| r.get(1)?.parse().ok());
            let gap = best.map(|b| 100.0 * (report.cost - b) / b);
            all_ok &= report.feasible;
            if let (Some(g), Some(set)) = (gap, inst.name.chars().next()) {
                gaps.entry(set).or_default().push(g);
            }
            println!(
                "{:<8} {:>4} {:>10.2} {:>10} {:>8} {:>9.3} {:>10.3} {:>8}  {}",
                inst.name,
                seed,
                report.cost,
                best.map_or("-".into(), |b| format!("{b:.2}")),
                gap.map_or("-".into(), |g| format!("{g:.3}")),
                sol.elapsed_s,
                sol.construction_s * 1e3,
                sol.iterations,
                verdict(&report)
            );
        }
    }
    let mut sets: Vec<_> = gaps.into_iter().collect();
    sets.sort_by_key(|(k, _)| *k);
    for (set, g) in sets {
        let (mean, max) = mean_max(&g);
        println!(
            "set {set}: {} runs, time limit {} s, threads {}: mean gap {mean:.3} %, max gap {max:.3} %",
            g.len(),
            args.time_limit,
            args.threads
        );
    }
    println!("all feasible: {}", if all_ok { "yes" } else { "NO" });
    Ok(all_ok)
}

fn run_lilim(args: &Args) -> Result<bool, String> {
    let dir = args.dir.clone().unwrap_or_else(|| data_dir("pdptw/lilim"));
    let sizes = args.sizes.clone().unwrap_or_else(|| vec![100, 200]);
    // Columns: clients, instance, routes, distance, who.
    let bks = read_bks(&dir.join("bks.csv"), 1)?;
    let wanted = |s: &str| bks.contains_key(s) && args.filter.as_deref().is_none_or(|f| s.starts_with(f));
    let files = instances(&dir, wanted)?;
    println!("Li & Lim: time limit {} s, seeds {}, threads {}", args.time_limit, seeds(args), args.threads);
    println!(
        "{:<10} {:>5} {:>4} {:>4} {:>4} {:>10} {:>10} {:>8} {:>8}  feasible",
        "instance", "n", "seed", "veh", "bksV", "distance", "bksDist", "gap%", "seconds"
    );
    let mut all_ok = true;
    // Per size: runs, vehicles, best-known vehicles, runs at the best-known count, their gaps.
    let mut per_size: HashMap<usize, (usize, usize, usize, usize, Vec<f64>)> = HashMap::new();
    for f in files {
        let name = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let Some(row) = bks.get(&name) else { continue };
        let clients: usize = row.first().and_then(|x| x.parse().ok()).unwrap_or(0);
        if !sizes.contains(&clients) {
            continue;
        }
        let (bv, bd): (usize, f64) =
            match (row.get(2).and_then(|x| x.parse().ok()), row.get(3).and_then(|x| x.parse().ok())) {
                (Some(v), Some(d)) => (v, d),
                _ => continue,
            };
        let inst = lilim::parse(&f).map_err(|e| e.to_string())?;
        for &seed in &args.seeds {
            let sol = run(&inst, args, args.time_limit, seed);
            let report = verify(&inst.problem, &sol.routes);
            all_ok &= report.feasible;
            let gap = 100.0 * (report.cost - bd) / bd;
            let e = per_size.entry(clients).or_default();
            e.0 += 1;
            e.1 += report.vehicles_used;
            e.2 += bv;
            if report.vehicles_used <= bv {
                e.3 += 1;
                e.4.push(gap);
            }
            println!(
                "{:<10} {:>5} {:>4} {:>4} {:>4} {:>10.2} {:>10.2} {:>8.3} {:>8.3}  {}",
                name,
                clients,
                seed,
                report.vehicles_used,
                bv,
                report.cost,
                bd,
                gap,
                sol.elapsed_s,
                verdict(&report)
            );
        }
    }
    let mut sizes: Vec<_> = per_size.into_iter().collect();
    sizes.sort_by_key(|(k, _)| *k);
    for (n, (runs, v, bv, at_best, gaps)) in sizes {
        let (mean, _) = mean_max(&gaps);
        println!(
            "{n} customers, time limit {} s, threads {}: best-known vehicle count in {at_best} of {runs} runs; vehicles {v} vs best-known {bv}; mean distance gap {mean:.3} % where the count matches",
            args.time_limit, args.threads
        );
    }
    println!("all feasible: {}", if all_ok { "yes" } else { "NO" });
    Ok(all_ok)
}

fn run_generated(args: &Args) -> Result<bool, String> {
    let sizes = args.sizes.clone().unwrap_or_else(|| vec![100, 125, 150]);
    println!(
        "generated Cordeau-like: limits {:?} s against the same solver at {} s, seeds {}, threads {}",
        args.limits,
        args.reference,
        seeds(args),
        args.threads
    );
    println!(
        "{:<16} {:>4} {:>8} {:>10} {:>10} {:>8}  feasible",
        "instance", "veh", "limit_s", "cost", "reference", "gap%"
    );
    let mut all_ok = true;
    let mut gaps: Vec<Vec<f64>> = vec![Vec::new(); args.limits.len()];
    for &set in &args.sets {
        for &n in &sizes {
            for &seed in &args.seeds {
                let shape = DarpShape::new(set, n, seed);
                let name = shape.name();
                let text = cordeau_like(&shape);
                if let Some(dir) = &args.dir {
                    let path = dir.join(format!("{name}.txt"));
                    std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
                }
                let inst = cordeau::parse_str(&text, &name, &name).map_err(|e| e.to_string())?;
                let reference = run(&inst, args, args.reference, seed);
                let ref_report = verify(&inst.problem, &reference.routes);
                all_ok &= ref_report.feasible;
                println!(
                    "{:<16} {:>4} {:>8} {:>10.2} {:>10.2} {:>8.3}  {}",
                    name,
                    shape.vehicles,
                    args.reference,
                    ref_report.cost,
                    ref_report.cost,
                    0.0,
                    verdict(&ref_report)
                );
                for (i, &limit) in args.limits.iter().enumerate() {
                    let sol = run(&inst, args, limit, seed);
                    let report = verify(&inst.problem, &sol.routes);
                    all_ok &= report.feasible;
                    let gap = 100.0 * (report.cost - ref_report.cost) / ref_report.cost;
                    gaps[i].push(gap);
                    println!(
                        "{:<16} {:>4} {:>8} {:>10.2} {:>10.2} {:>8.3}  {}",
                        name,
                        shape.vehicles,
                        limit,
                        report.cost,
                        ref_report.cost,
                        gap,
                        verdict(&report)
                    );
                }
            }
        }
    }
    for (limit, g) in args.limits.iter().zip(&gaps) {
        let (mean, max) = mean_max(g);
        println!(
            "{limit} s against {} s, threads {}: {} instances, mean gap {mean:.3} %, max gap {max:.3} %",
            args.reference,
            args.threads,
            g.len()
        );
    }
    println!("all feasible: {}", if all_ok { "yes" } else { "NO" });
    Ok(all_ok)
}
