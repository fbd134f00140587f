//! Running scenarios end to end: demand, simulated day, KPIs, files; and
//! several plans on the same demand side by side, in parallel threads.

use crate::demand::{self, Demand};
use crate::kpi::Kpis;
use crate::report;
use crate::run::{DayResult, simulate};
use crate::scenario::{DemandConfig, Scenario};
use crate::world::{MapCache, World};
use crate::{SimError, osm};
use noriai_roads::{NoProgress, Progress};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The day's trips for a scenario: read from its CSV or generated from its map.
pub fn load_demand(sc: &Scenario, world: &World) -> Result<Demand, SimError> {
    match &sc.demand {
        DemandConfig::Csv { path } => demand::read_csv(path),
        DemandConfig::Generate(cfg) => {
            let map = sc.map.as_ref().ok_or_else(|| {
                SimError::Invalid(format!("{}: generated demand needs `[map]`", sc.file.display()))
            })?;
            let pois = osm::read_pois(&map.path)?;
            // Only places a vehicle can reach: a first-aid post on a ski slope
            // 2 km from any road would only ever be a refusal.
            let reachable =
                |p: noriai_model::LatLon| world.net.as_ref().is_none_or(|net| net.snap(p).is_ok());
            demand::generate(&pois, world.area.as_ref(), &reachable, cfg)
        }
    }
}

/// One scenario's day with its KPIs.
pub struct RunOutput {
    pub scenario: Scenario,
    pub world: World,
    pub day: DayResult,
    pub kpis: Kpis,
}

/// Loads, simulates and measures one scenario (`demand` given: shared by a comparison).
pub fn run_one(
    sc: &Scenario,
    maps: &MapCache,
    demand: Option<&Demand>,
    progress: &dyn Progress,
) -> Result<RunOutput, SimError> {
    let world = World::load(sc, maps, progress)?;
    let own;
    let demand = match demand {
        Some(d) => d,
        None => {
            own = load_demand(sc, &world)?;
            &own
        }
    };
    let day = simulate(sc, &world, demand, progress)?;
    let kpis = Kpis::compute(sc, &day);
    Ok(RunOutput { scenario: sc.clone(), world, day, kpis })
}

fn write(path: &Path, text: &str) -> Result<(), SimError> {
    std::fs::write(path, text).map_err(|source| SimError::Write { path: path.into(), source })
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, SimError> {
    serde_json::to_string_pretty(v).map_err(|e| SimError::Invalid(format!("cannot write JSON: {e}")))
}

/// Writes `kpis.json` and `report.html` of one run into `out`.
pub fn write_run(out: &Path, run: &RunOutput) -> Result<(), SimError> {
    std::fs::create_dir_all(out).map_err(|source| SimError::Write { path: out.into(), source })?;
    write(&out.join("kpis.json"), &json(&run.kpis)?)?;
    write(&out.join("report.html"), &report::render(&run.scenario, &run.world, &run.day, &run.kpis))
}

/// Several plans run on the same demand.
pub struct Comparison {
    pub demand: String,
    pub runs: Vec<RunOutput>,
}

impl Comparison {
    /// Writes `compare.json`, `report.html` and one folder per plan into
    /// `out`; with `spreads` (one per plan, over several demand draws of
    /// which this comparison is the first), their means and ranges too.
    pub fn write(&self, out: &Path, spreads: Option<&[Spread]>) -> Result<(), SimError> {
        std::fs::create_dir_all(out).map_err(|source| SimError::Write { path: out.into(), source })?;
        let kpis: Vec<Kpis> = self.runs.iter().map(|r| r.kpis.clone()).collect();
        #[derive(serde::Serialize)]
        struct File<'a> {
            demand: &'a str,
            plans: &'a [Kpis],
            #[serde(skip_serializing_if = "Option::is_none")]
            across_draws: Option<&'a [Spread]>,
        }
        let file = File { demand: &self.demand, plans: &kpis, across_draws: spreads };
        write(&out.join("compare.json"), &json(&file)?)?;
        write(&out.join("report.html"), &report::render_comparison(&kpis, &self.demand, spreads))?;
        for (i, run) in self.runs.iter().enumerate() {
            let slug: String = run
                .scenario
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
                .collect();
            write_run(&out.join(format!("{:02}-{slug}", i + 1)), run)?;
        }
        Ok(())
    }
}

/// Runs every scenario on the first one's demand, `threads` at a time;
/// `done` is called with each finished plan's name.
pub fn run_many(
    scenarios: &[Scenario],
    maps: &MapCache,
    threads: usize,
    progress: &dyn Progress,
    done: &(dyn Fn(&str) + Sync),
) -> Result<Comparison, SimError> {
    let first = scenarios.first().ok_or_else(|| SimError::Invalid("no scenario to compare".into()))?;
    let first_world = World::load(first, maps, progress)?;
    let demand = load_demand(first, &first_world)?;
    drop(first_world);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<RunOutput, SimError>>>> =
        Mutex::new((0..scenarios.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, scenarios.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(sc) = scenarios.get(i) else { break };
                    let r = run_one(sc, maps, Some(&demand), &NoProgress);
                    done(&sc.name);
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                }
            });
        }
    });
    let results =
        results.into_inner().map_err(|_| SimError::Invalid("a simulation thread panicked".into()))?;
    let mut runs = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        let r = r.ok_or_else(|| SimError::Invalid(format!("plan {} did not finish", scenarios[i].name)))?;
        runs.push(r?);
    }
    Ok(Comparison { demand: demand.source, runs })
}

/// Copies of a scenario with `fleet.vehicles` set to each count.
pub fn sweep_vehicles(base: &Scenario, counts: std::ops::RangeInclusive<u32>) -> Vec<Scenario> {
    counts
        .filter(|&n| n > 0)
        .map(|n| {
            let mut sc = base.clone();
            sc.fleet.vehicles = n;
            sc.name = format!("{} ({n} vehicles)", base.name);
            sc
        })
        .collect()
}

impl Scenario {
    /// The same scenario on its `k`-th other demand draw: the scenario's seed
    /// and the generated demand's seed moved by `k` (rider behaviour follows
    /// the scenario's seed, so a CSV demand varies in cancellations and
    /// no-shows only).
    pub fn reseeded(&self, k: u64) -> Scenario {
        let mut sc = self.clone();
        sc.seed = self.seed.wrapping_add(k);
        if let crate::scenario::DemandConfig::Generate(cfg) = &mut sc.demand {
            cfg.seed = cfg.seed.wrapping_add(k);
        }
        sc
    }
}

/// Mean, minimum and maximum of every number in a set of KPI records (as
/// JSON, so a new KPI is covered without a line here); other values are
/// taken from the first record.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Spread {
    pub seeds: Vec<u64>,
    pub mean: serde_json::Value,
    pub min: serde_json::Value,
    pub max: serde_json::Value,
}

impl Spread {
    pub fn of(kpis: &[Kpis], seeds: Vec<u64>) -> Result<Spread, SimError> {
        let values: Vec<serde_json::Value> = kpis
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()
            .map_err(|e| SimError::Invalid(format!("cannot summarise KPIs: {e}")))?;
        let refs: Vec<&serde_json::Value> = values.iter().collect();
        Ok(Spread {
            seeds,
            mean: fold(&refs, &|xs| xs.iter().sum::<f64>() / xs.len() as f64),
            min: fold(&refs, &|xs| xs.iter().copied().fold(f64::INFINITY, f64::min)),
            max: fold(&refs, &|xs| xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        })
    }

    /// A number of the mean, minimum and maximum by its JSON path (`served_share`, `cost.per_served_trip`).
    pub fn range(&self, path: &str) -> Option<(f64, f64, f64)> {
        let get = |v: &serde_json::Value| path.split('.').try_fold(v, |v, k| v.get(k))?.as_f64();
        Some((get(&self.mean)?, get(&self.min)?, get(&self.max)?))
    }
}

fn fold(values: &[&serde_json::Value], f: &dyn Fn(&[f64]) -> f64) -> serde_json::Value {
    use serde_json::Value;
    let Some(first) = values.first() else { return Value::Null };
    match first {
        Value::Number(_) => {
            let xs: Vec<f64> = values.iter().filter_map(|v| v.as_f64()).collect();
            serde_json::Number::from_f64(f(&xs)).map_or(Value::Null, Value::Number)
        }
        Value::Object(map) => Value::Object(
            map.keys()
                .map(|k| {
                    let inner: Vec<&Value> = values.iter().filter_map(|v| v.get(k)).collect();
                    (k.clone(), fold(&inner, f))
                })
                .collect(),
        ),
        Value::Array(items)
            if values.iter().all(|v| v.as_array().is_some_and(|a| a.len() == items.len())) =>
        {
            Value::Array(
                (0..items.len())
                    .map(|i| fold(&values.iter().filter_map(|v| v.get(i)).collect::<Vec<_>>(), f))
                    .collect(),
            )
        }
        other => (*other).clone(),
    }
}

/// One scenario on `seeds` demand draws, `threads` at a time.
pub fn run_seeds(
    sc: &Scenario,
    seeds: u64,
    maps: &MapCache,
    threads: usize,
    done: &(dyn Fn() + Sync),
) -> Result<Vec<RunOutput>, SimError> {
    let scenarios: Vec<Scenario> = (0..seeds.max(1)).map(|k| sc.reseeded(k)).collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<RunOutput, SimError>>>> =
        Mutex::new((0..scenarios.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, scenarios.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(sc) = scenarios.get(i) else { break };
                    let r = run_one(sc, maps, None, &NoProgress);
                    done();
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                }
            });
        }
    });
    let results =
        results.into_inner().map_err(|_| SimError::Invalid("a simulation thread panicked".into()))?;
    results
        .into_iter()
        .map(|r| r.ok_or_else(|| SimError::Invalid("a demand draw did not finish".into()))?)
        .collect()
}

/// Writes one scenario's runs over several demand draws: `kpis.json` with
/// the mean, minimum and maximum of every KPI and each draw's KPIs,
/// `report.html` (the first draw's day, with the ranges on top), and one
/// folder per draw.
pub fn write_seeds(out: &Path, runs: &[RunOutput]) -> Result<Spread, SimError> {
    std::fs::create_dir_all(out).map_err(|source| SimError::Write { path: out.into(), source })?;
    let kpis: Vec<Kpis> = runs.iter().map(|r| r.kpis.clone()).collect();
    let spread = Spread::of(&kpis, runs.iter().map(|r| r.scenario.seed).collect())?;
    #[derive(serde::Serialize)]
    struct File<'a> {
        draws: usize,
        #[serde(flatten)]
        spread: &'a Spread,
        per_draw: &'a [Kpis],
    }
    write(&out.join("kpis.json"), &json(&File { draws: runs.len(), spread: &spread, per_draw: &kpis })?)?;
    if let Some(first) = runs.first() {
        let day = report::render(&first.scenario, &first.world, &first.day, &first.kpis);
        let html = day.replacen("<h2>", &format!("{}<h2>", report::spread_table(&spread)), 1);
        write(&out.join("report.html"), &html)?;
    }
    for run in runs {
        write_run(&out.join(format!("seed-{}", run.scenario.seed)), run)?;
    }
    Ok(spread)
}

/// Several plans, each on the same `seeds` demand draws (draw k shared by all plans).
pub fn compare_seeds(
    scenarios: &[Scenario],
    seeds: u64,
    maps: &MapCache,
    threads: usize,
    done: &(dyn Fn(&str) + Sync),
) -> Result<(Vec<Comparison>, Vec<Spread>), SimError> {
    let mut draws = Vec::new();
    for k in 0..seeds.max(1) {
        let these: Vec<Scenario> = scenarios.iter().map(|s| s.reseeded(k)).collect();
        draws.push(run_many(&these, maps, threads, &NoProgress, done)?);
    }
    let mut spreads = Vec::new();
    for plan in 0..scenarios.len() {
        let kpis: Vec<Kpis> = draws.iter().map(|d| d.runs[plan].kpis.clone()).collect();
        let seeds = draws.iter().map(|d| d.runs[plan].scenario.seed).collect();
        spreads.push(Spread::of(&kpis, seeds)?);
    }
    Ok((draws, spreads))
}
