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
    /// Writes `compare.json`, `report.html` and one folder per plan into `out`.
    pub fn write(&self, out: &Path) -> Result<(), SimError> {
        std::fs::create_dir_all(out).map_err(|source| SimError::Write { path: out.into(), source })?;
        let kpis: Vec<Kpis> = self.runs.iter().map(|r| r.kpis.clone()).collect();
        #[derive(serde::Serialize)]
        struct File<'a> {
            demand: &'a str,
            plans: &'a [Kpis],
        }
        write(&out.join("compare.json"), &json(&File { demand: &self.demand, plans: &kpis })?)?;
        write(&out.join("report.html"), &report::render_comparison(&kpis, &self.demand))?;
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
