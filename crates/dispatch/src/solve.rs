//! Batch planning: regret insertion to build, adaptive large neighbourhood
//! search to improve (Ropke and Pisinger 2006), with simulated-annealing
//! acceptance; every repaired plan then descends by tail exchanges between
//! routes ([`tails`]). Every route the search touches is re-checked exactly, so every
//! intermediate solution is feasible; requests that fit nowhere wait in a
//! bank with a large penalty.

use std::time::{Duration, Instant};

use noriai_model::{Capacity, Plan, PlannedStop, RoutePlan, StopKind, TravelTimes};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::check;
use crate::problem::{Objective, Problem};
use crate::schedule::{Cand, Compiled, Kind, NONE, Net, RouteData, Scratch, best_insertion, splice};

mod exchange;
mod fleet;
mod params;
mod tails;
pub use params::{FleetParams, Insertion, Removal, Scores, SearchParams};

/// Knobs of [`solve`].
#[derive(Debug, Clone)]
pub struct SolveParams {
    /// How long the improvement runs (construction always runs to the end).
    pub budget: Budget,
    pub seed: u64,
    /// Build only (regret insertion), no improvement.
    pub construction_only: bool,
    /// The search's tuning constants.
    pub search: SearchParams,
}

impl Default for SolveParams {
    fn default() -> Self {
        Self {
            budget: Budget::Time(Duration::from_secs(1)),
            seed: 0,
            construction_only: false,
            search: SearchParams::default(),
        }
    }
}

/// How long the improvement search runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// Wall-clock time: the most from a deadline, but the result depends on
    /// how fast (and how busy) the machine is.
    Time(Duration),
    /// A fixed number of iterations: the clock is never read, so a seed gives
    /// the same plan on any machine.
    Iterations(u64),
}

/// A batch plan and its verdict (serialisable, for `--json` output).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Solution {
    /// Per vehicle, the problem's external node ids in visiting order, depot excluded.
    pub routes: Vec<Vec<u32>>,
    /// Per vehicle, the stops (breaks included).
    pub stops: Vec<Vec<StopKind>>,
    /// Times and loads of every stop.
    pub plan: Plan,
    /// Total distance.
    pub cost: f64,
    pub vehicles_used: usize,
    /// Requests no vehicle could take.
    pub unassigned: Vec<noriai_model::RequestId>,
    /// All requests served and the independent checker found no violation.
    pub feasible: bool,
    pub violations: Vec<String>,
    pub iterations: u64,
    pub construction_cost: f64,
    pub construction_s: f64,
    pub elapsed_s: f64,
}

#[derive(Clone)]
struct Sol {
    routes: Vec<RouteData>,
    /// Route of each request, or `NONE`.
    route_of: Vec<u32>,
    bank: Vec<u32>,
}

struct Ctx<'a> {
    c: &'a Compiled,
    objective: Objective,
    /// Vehicles that may be used (vehicle minimisation disables some).
    allowed: Vec<bool>,
    /// Equivalence class of each vehicle: identical empty routes are evaluated once.
    class: Vec<usize>,
    penalty: f64,
    vehicle_cost: f64,
    max_dist: f64,
    search: &'a SearchParams,
}

impl Sol {
    fn dist(&self) -> f64 {
        self.routes.iter().map(|r| r.cost).sum()
    }
    fn used(&self, c: &Compiled) -> usize {
        self.routes.iter().enumerate().filter(|(v, r)| r.seq.len() > 2 + c.breaks[*v].len()).count()
    }
}

impl Ctx<'_> {
    fn obj(&self, s: &Sol) -> f64 {
        let mut o = s.dist() + self.penalty * s.bank.len() as f64;
        if self.objective == Objective::VehiclesThenDistance {
            o += self.vehicle_cost * s.used(self.c) as f64;
        }
        o
    }

    fn pd(r: u32) -> (u32, u32) {
        (2 * r, 2 * r + 1)
    }

    fn is_empty(&self, s: &Sol, v: usize) -> bool {
        s.routes[v].seq.len() <= 2 + self.c.breaks[v].len()
    }

    /// Inserts `pending` by regret-`k` (k = 1: greedy), with optional noise on costs.
    fn repair(
        &self,
        s: &mut Sol,
        mut pending: Vec<u32>,
        k: usize,
        noise: f64,
        rng: &mut ChaCha8Rng,
        sc: &mut Scratch,
    ) {
        let nv = s.routes.len();
        let noise_amp = noise * self.max_dist;
        let eval =
            |s: &Sol, r: u32, v: usize, rng: &mut ChaCha8Rng, sc: &mut Scratch| -> Option<(f64, Cand)> {
                if !self.allowed[v] {
                    return None;
                }
                let (p, d) = Self::pd(r);
                let c = best_insertion(self.c, &s.routes[v], &self.c.veh[v], p, d, 0, sc)?;
                let mut cost = c.cost;
                if self.objective == Objective::VehiclesThenDistance && self.is_empty(s, v) {
                    cost += self.vehicle_cost;
                }
                if noise_amp > 0.0 {
                    cost = (cost + noise_amp * rng.random_range(-1.0..1.0)).max(0.0);
                }
                Some((cost, c))
            };
        let mut empty_seen: Vec<(usize, Option<(f64, Cand)>)> = Vec::new();
        let mut fill_row =
            |s: &Sol, r: u32, rng: &mut ChaCha8Rng, sc: &mut Scratch, out: &mut Vec<Option<(f64, Cand)>>| {
                empty_seen.clear();
                for v in 0..nv {
                    if self.is_empty(s, v) && self.c.breaks[v].is_empty() {
                        if let Some(&(_, e)) = empty_seen.iter().find(|(cl, _)| *cl == self.class[v]) {
                            out.push(e);
                            continue;
                        }
                        let e = eval(s, r, v, rng, sc);
                        empty_seen.push((self.class[v], e));
                        out.push(e);
                    } else {
                        out.push(eval(s, r, v, rng, sc));
                    }
                }
            };
        // One flat row of `nv` entries per pending request, so a repair allocates once.
        let mut cache: Vec<Option<(f64, Cand)>> = Vec::with_capacity(pending.len() * nv);
        for &r in &pending {
            fill_row(s, r, rng, sc, &mut cache);
        }
        // Mirrors `pending.swap_remove(pi)` on the rows.
        let drop_row = |cache: &mut Vec<Option<(f64, Cand)>>, pi: usize| {
            let last = cache.len() - nv;
            if pi * nv != last {
                cache.copy_within(last.., pi * nv);
            }
            cache.truncate(last);
        };
        while !pending.is_empty() {
            let mut best: Option<(usize, f64, f64)> = None; // (pending index, key, c1)
            let mut pi = 0;
            while pi < pending.len() {
                let row = &cache[pi * nv..(pi + 1) * nv];
                let mut top = [f64::INFINITY; 4];
                let kk = k.clamp(1, 4);
                let mut count = 0;
                for (c, _) in row.iter().flatten() {
                    count += 1;
                    let mut x = *c;
                    for t in top.iter_mut().take(kk) {
                        if x < *t {
                            std::mem::swap(&mut x, t);
                        }
                    }
                }
                if count == 0 {
                    s.bank.push(pending.swap_remove(pi));
                    drop_row(&mut cache, pi);
                    continue;
                }
                let c1 = top[0];
                let key = if kk == 1 {
                    -c1
                } else {
                    (1..kk).map(|h| if top[h].is_finite() { top[h] - c1 } else { 1e9 }).sum::<f64>()
                };
                let better = match best {
                    None => true,
                    Some((_, bk, bc)) => key > bk + 1e-12 || ((key - bk).abs() <= 1e-12 && c1 < bc),
                };
                if better {
                    best = Some((pi, key, c1));
                }
                pi += 1;
            }
            let Some((pi, _, _)) = best else { break };
            let r = pending.swap_remove(pi);
            let chosen = cache[pi * nv..(pi + 1) * nv]
                .iter()
                .enumerate()
                .filter_map(|(v, x)| x.map(|(c, cand)| (v, c, cand)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(v, _, c)| (v, c));
            drop_row(&mut cache, pi);
            let Some((v, cand)) = chosen else {
                s.bank.push(r);
                continue;
            };
            let (p, d) = Self::pd(r);
            let mut seq = Vec::with_capacity(s.routes[v].seq.len() + 2);
            splice(&s.routes[v].seq, cand, p, d, &mut seq);
            match RouteData::compute(self.c, &self.c.veh[v], seq, sc) {
                Some(rd) => {
                    s.routes[v] = rd;
                    s.route_of[r as usize] = v as u32;
                }
                None => {
                    // The filter and the exact check agreed it was feasible; keep the bank honest anyway.
                    s.bank.push(r);
                    continue;
                }
            }
            for (i, &r2) in pending.iter().enumerate() {
                cache[i * nv + v] = eval(s, r2, v, rng, sc);
            }
        }
    }

    /// Removes the given requests from their routes.
    fn remove(&self, s: &mut Sol, reqs: &[u32], sc: &mut Scratch) {
        let mut touched = vec![false; s.routes.len()];
        let mut gone = vec![false; self.c.nodes.len()];
        for &r in reqs {
            let v = s.route_of[r as usize];
            if v != NONE {
                touched[v as usize] = true;
                let (p, d) = Self::pd(r);
                gone[p as usize] = true;
                gone[d as usize] = true;
                s.route_of[r as usize] = NONE;
            }
        }
        for (v, t) in touched.iter().enumerate() {
            if *t {
                let seq: Vec<u32> = s.routes[v].seq.iter().copied().filter(|&x| !gone[x as usize]).collect();
                // Removing stops never breaks feasibility under the triangle inequality;
                // if a pathological matrix says otherwise, the route's requests go to the bank.
                match RouteData::compute(self.c, &self.c.veh[v], seq, sc) {
                    Some(rd) => s.routes[v] = rd,
                    None => {
                        let rest: Vec<u32> = s.routes[v]
                            .seq
                            .iter()
                            .filter(|&&x| !gone[x as usize])
                            .filter_map(|&x| match self.c.nodes[x as usize].kind {
                                Kind::Pickup(r) => Some(r),
                                _ => None,
                            })
                            .collect();
                        for r in rest {
                            s.route_of[r as usize] = NONE;
                            s.bank.push(r);
                        }
                        if let Some(rd) = self.c.empty_route(v, sc) {
                            s.routes[v] = rd;
                        }
                    }
                }
            }
        }
    }

    fn assigned(&self, s: &Sol) -> Vec<u32> {
        (0..self.c.n_req as u32).filter(|&r| s.route_of[r as usize] != NONE).collect()
    }

    /// Start-of-service times of a request's pickup and dropoff in the current plan.
    fn times(&self, s: &Sol) -> Vec<[f64; 2]> {
        let mut t = vec![[0.0; 2]; self.c.n_req];
        for rd in &s.routes {
            for (k, &x) in rd.seq.iter().enumerate() {
                match self.c.nodes[x as usize].kind {
                    Kind::Pickup(r) => t[r as usize][0] = rd.early[k],
                    Kind::Dropoff(r) => t[r as usize][1] = rd.early[k],
                    _ => {}
                }
            }
        }
        t
    }

    fn pick_removals(&self, s: &Sol, op: Removal, q: usize, rng: &mut ChaCha8Rng) -> Vec<u32> {
        let mut assigned = self.assigned(s);
        let q = q.min(assigned.len());
        if q == 0 {
            return Vec::new();
        }
        match op {
            Removal::Random => {
                for i in 0..q {
                    let j = rng.random_range(i..assigned.len());
                    assigned.swap(i, j);
                }
                assigned.truncate(q);
                assigned
            }
            Removal::Worst => {
                let mut saving = vec![0.0; self.c.n_req];
                for rd in &s.routes {
                    let seq = &rd.seq;
                    for k in 1..seq.len() - 1 {
                        let x = seq[k];
                        let (a, b) = (seq[k - 1], seq[k + 1]);
                        let sv = self.c.dist(a, x) + self.c.dist(x, b) - self.c.dist(a, b);
                        if let Kind::Pickup(r) | Kind::Dropoff(r) = self.c.nodes[x as usize].kind {
                            saving[r as usize] += sv;
                        }
                    }
                }
                assigned.sort_by(|a, b| saving[*b as usize].total_cmp(&saving[*a as usize]));
                let mut out = Vec::with_capacity(q);
                while out.len() < q {
                    let y: f64 = rng.random();
                    let idx = (y.powi(self.search.worst_determinism) * assigned.len() as f64) as usize;
                    out.push(assigned.remove(idx.min(assigned.len() - 1)));
                }
                out
            }
            Removal::Related => {
                let t = self.times(s);
                let first = assigned.swap_remove(rng.random_range(0..assigned.len()));
                let mut out = vec![first];
                let mut keyed: Vec<(f64, u32)> = Vec::with_capacity(assigned.len());
                let tmax = t.iter().map(|x| x[1]).fold(1e-9, f64::max);
                while out.len() < q && !assigned.is_empty() {
                    let r = out[rng.random_range(0..out.len())];
                    let (rp, rdn) = Self::pd(r);
                    let rel = |o: u32| {
                        let (op, od) = Self::pd(o);
                        self.search.related_distance_weight * (self.c.dist(rp, op) + self.c.dist(rdn, od))
                            / self.max_dist.max(1e-9)
                            + self.search.related_time_weight
                                * ((t[r as usize][0] - t[o as usize][0]).abs()
                                    + (t[r as usize][1] - t[o as usize][1]).abs())
                                / tmax
                    };
                    // Each relatedness once, not twice per comparison; a
                    // stable sort of the keyed pairs keeps the same order.
                    keyed.clear();
                    keyed.extend(assigned.iter().map(|&o| (rel(o), o)));
                    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
                    assigned.clear();
                    assigned.extend(keyed.iter().map(|&(_, o)| o));
                    let y: f64 = rng.random();
                    let idx = (y.powi(self.search.related_determinism) * assigned.len() as f64) as usize;
                    out.push(assigned.remove(idx.min(assigned.len() - 1)));
                }
                out
            }
            Removal::Route => {
                let nonempty: Vec<usize> = (0..s.routes.len()).filter(|&v| !self.is_empty(s, v)).collect();
                if nonempty.is_empty() {
                    return Vec::new();
                }
                let v = nonempty[rng.random_range(0..nonempty.len())];
                assigned.into_iter().filter(|&r| s.route_of[r as usize] == v as u32).collect()
            }
        }
    }
}

/// The seed of search `i` of a parallel solve: search 0 keeps the given
/// seed, so one thread is exactly [`solve`].
fn search_seed(seed: u64, i: usize) -> u64 {
    seed.wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Whether `a` is a better plan than `b`: feasible first, then fewer
/// requests left out, then less distance.
fn better(a: &Solution, b: &Solution) -> bool {
    (!a.feasible, a.unassigned.len()) < (!b.feasible, b.unassigned.len())
        || ((!a.feasible, a.unassigned.len()) == (!b.feasible, b.unassigned.len()) && a.cost < b.cost)
}

/// [`solve`] on `threads` cores: searches from different seeds with the same
/// budget that trade their best plans [`SearchParams::exchanges`] times, the
/// best plan kept (ties go to the lower search). Deterministic for a seed and
/// thread count under [`Budget::Iterations`].
pub fn solve_threads<T: TravelTimes + Sync>(
    problem: &Problem<T>,
    params: &SolveParams,
    threads: usize,
) -> Solution {
    let threads = threads.max(1);
    if threads == 1 {
        return solve(problem, params);
    }
    let exchange = exchange::Exchange::new(threads);
    let solutions: Vec<Solution> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let params = SolveParams { seed: search_seed(params.seed, i), ..params.clone() };
                let exchange = &exchange;
                scope.spawn(move || {
                    let _member = exchange::Member(exchange);
                    solve_with(problem, &params, Some((exchange, i)))
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut best: Option<Solution> = None;
    for s in solutions {
        if best.as_ref().is_none_or(|b| better(&s, b)) {
            best = Some(s);
        }
    }
    // A search that panicked is a bug; the others still answer.
    best.unwrap_or_else(|| solve(problem, params))
}

/// Solves a whole problem: construction, then improvement within the budget.
pub fn solve<T: TravelTimes>(problem: &Problem<T>, params: &SolveParams) -> Solution {
    solve_with(problem, params, None)
}

/// The search's context for a compiled problem, and the plan with every
/// route empty (a vehicle whose breaks alone overrun its shift is not allowed).
fn prepare<'a>(
    c: &'a Compiled,
    objective: Objective,
    search: &'a SearchParams,
    sc: &mut Scratch,
) -> (Ctx<'a>, Sol) {
    let nv = c.veh.len();
    let mut max_dist: f64 = 0.0;
    for a in 0..c.nodes.len() as u32 {
        for b in 0..c.nodes.len() as u32 {
            max_dist = max_dist.max(c.dist(a, b));
        }
    }
    let class: Vec<usize> = (0..nv)
        .map(|v| {
            let key = |u: usize| {
                let (vc, s) = (&c.veh[u], &c.nodes[c.veh[u].start as usize]);
                let e = &c.nodes[c.veh[u].end as usize];
                (
                    vc.cap,
                    vc.max_dur.to_bits(),
                    s.loc,
                    e.loc,
                    s.e.to_bits(),
                    s.l.to_bits(),
                    c.breaks[u].is_empty(),
                )
            };
            (0..=v).find(|&u| key(u) == key(v)).unwrap_or(v)
        })
        .collect();
    // A vehicle is worth more than any plan's distance (a plan has fewer arcs
    // than nodes, none longer than `max_dist`); a rider left behind more than
    // the whole fleet.
    let vehicle_cost = max_dist.max(1.0) * (c.nodes.len() + 1) as f64;
    let ctx = Ctx {
        c,
        objective,
        allowed: vec![true; nv],
        class,
        penalty: vehicle_cost * (nv + 1) as f64,
        vehicle_cost,
        max_dist,
        search,
    };
    let mut routes = Vec::with_capacity(nv);
    for v in 0..nv {
        match c.empty_route(v, sc) {
            Some(rd) => routes.push(rd),
            None => {
                // The breaks alone do not fit the shift: the vehicle cannot be used.
                routes.push(RouteData {
                    seq: vec![c.veh[v].start, c.veh[v].end],
                    early: vec![0.0; 2],
                    late: vec![0.0; 2],
                    load: vec![[0, 0]; 2],
                    cost: 0.0,
                    simple: true,
                    partner: vec![NONE; 2],
                });
            }
        }
    }
    let mut allowed = ctx.allowed.clone();
    for (v, a) in allowed.iter_mut().enumerate() {
        *a = c.empty_route(v, sc).is_some();
    }
    let ctx = Ctx { allowed, ..ctx };
    let empty = Sol { routes, route_of: vec![NONE; c.n_req], bank: Vec::new() };
    (ctx, empty)
}

/// [`solve`], trading best plans through `exchange` as search `me` when given.
fn solve_with<T: TravelTimes>(
    problem: &Problem<T>,
    params: &SolveParams,
    exchange: Option<(&exchange::Exchange, usize)>,
) -> Solution {
    let start = Instant::now();
    let c = Compiled::new(problem);
    let mut sc = Scratch::default();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let (ctx, empty) = prepare(&c, problem.objective, &params.search, &mut sc);
    let mut bank = Vec::new();
    let all: Vec<u32> = (0..c.n_req as u32).collect();
    let mut cur = empty.clone();
    ctx.repair(&mut cur, all.clone(), 3, 0.0, &mut rng, &mut sc);
    // Regret-3 can paint itself into a corner on tight instances; a few
    // cheap alternative constructions usually serve everyone.
    for &(k, noise) in &params.search.fallback_constructions {
        if cur.bank.is_empty() {
            break;
        }
        let mut other = empty.clone();
        ctx.repair(&mut other, all.clone(), k, noise, &mut rng, &mut sc);
        if ctx.obj(&other) < ctx.obj(&cur) {
            cur = other;
        }
    }
    bank.append(&mut cur.bank);
    cur.bank = bank;
    let construction_s = start.elapsed().as_secs_f64();
    let construction_cost = cur.dist();
    let mut iterations = 0;
    let best = if params.construction_only {
        cur
    } else {
        let cur = if problem.objective == Objective::VehiclesThenDistance {
            let share = params.search.fleet.budget_share.clamp(0.0, 1.0);
            let mut steps = 0u64;
            let mut out_of_budget = || match params.budget {
                Budget::Time(limit) => start.elapsed().as_secs_f64() >= limit.as_secs_f64() * share,
                Budget::Iterations(n) => {
                    steps += 1;
                    steps as f64 > n as f64 * share
                }
            };
            fleet::minimise_fleet(&ctx, cur, &params.search.fleet, &mut out_of_budget, &mut rng, &mut sc)
        } else {
            cur
        };
        let mut lns = Lns::new(&ctx, cur, params, start);
        match exchange {
            None => lns.run_until(1.0, &mut rng, &mut sc),
            Some((exchange, me)) => {
                let meetings = params.search.exchanges;
                for k in 1..=meetings {
                    lns.run_until(k as f64 / (meetings + 1) as f64, &mut rng, &mut sc);
                    if let Some((obj, plan)) = exchange.trade(me, lns.best_obj, &lns.best) {
                        lns.adopt(&plan, obj);
                    }
                }
                lns.run_until(1.0, &mut rng, &mut sc);
            }
        }
        iterations = lns.iterations;
        lns.best
    };
    finish(problem, &c, best, iterations, construction_cost, construction_s, start)
}

/// The large neighbourhood search's state, so it can stop at a share of its
/// budget, trade plans with other searches, and go on.
struct Lns<'a, 'b> {
    ctx: &'a Ctx<'b>,
    cur: Sol,
    cur_obj: f64,
    best: Sol,
    best_obj: f64,
    params: &'a SolveParams,
    start: Instant,
    iterations: u64,
    removal: Weights,
    insertion: Weights,
    /// Start and end temperatures.
    t0: f64,
    t_end: f64,
    /// Fewest and most requests removed per iteration.
    q: (usize, usize),
}

impl<'a, 'b> Lns<'a, 'b> {
    fn new(ctx: &'a Ctx<'b>, cur: Sol, params: &'a SolveParams, start: Instant) -> Self {
        let sp = ctx.search;
        let n = ctx.c.n_req.max(1);
        let cur_obj = ctx.obj(&cur);
        // A plan `start_worse_share` worse than the start is first accepted
        // with probability 1/2; cooling is geometric in the share of the budget used.
        let t0 = sp.start_worse_share * ctx.cur_dist_scale(&cur) / std::f64::consts::LN_2;
        let q_min = sp.min_removed.clamp(1, n);
        let q_max = ((n as f64 * sp.max_removed_share).round() as usize).min(sp.max_removed).max(q_min);
        Self {
            ctx,
            best: cur.clone(),
            best_obj: cur_obj,
            cur,
            cur_obj,
            params,
            start,
            iterations: 0,
            removal: Weights::new(Removal::ALL.len()),
            insertion: Weights::new(Insertion::ALL.len()),
            t0,
            t_end: t0 * sp.end_temperature_share,
            q: (q_min, q_max),
        }
    }

    /// The share of the budget used (1 or more: stop).
    fn progress(&self) -> f64 {
        match self.params.budget {
            Budget::Time(limit) => self.start.elapsed().as_secs_f64() / limit.as_secs_f64().max(1e-9),
            Budget::Iterations(0) => 1.0,
            Budget::Iterations(n) => self.iterations as f64 / n as f64,
        }
    }

    /// Takes another search's better plan as both the current and best plan.
    fn adopt(&mut self, plan: &Sol, obj: f64) {
        if obj < self.best_obj - 1e-9 {
            self.best = plan.clone();
            self.best_obj = obj;
            self.cur = plan.clone();
            self.cur_obj = obj;
        }
    }

    /// Iterates until `until` of the budget is used.
    fn run_until(&mut self, until: f64, rng: &mut ChaCha8Rng, sc: &mut Scratch) {
        let ctx = self.ctx;
        if ctx.c.n_req == 0 {
            return;
        }
        let sp = ctx.search;
        let (t0, t_end) = (self.t0, self.t_end);
        loop {
            let prog = self.progress();
            if prog >= until.min(1.0) {
                break;
            }
            self.iterations += 1;
            let temp = t0 * (t_end / t0).powf(prog);
            let ro = self.removal.pick(rng);
            let io = self.insertion.pick(rng);
            let q = rng.random_range(self.q.0..=self.q.1);
            let mut cand = self.cur.clone();
            let removed = ctx.pick_removals(&cand, Removal::ALL[ro], q, rng);
            ctx.remove(&mut cand, &removed, sc);
            let mut pending = removed;
            pending.append(&mut cand.bank);
            let (k, noise) = Insertion::ALL[io].regret_and_noise(sp.noise);
            ctx.repair(&mut cand, pending, k, noise, rng, sc);
            tails::descend(ctx, &mut cand, sp.tail_passes, sc);
            let obj = ctx.obj(&cand);
            let mut score = 0.0;
            if obj < self.best_obj - 1e-9 {
                self.best_obj = obj;
                self.best = cand.clone();
                score = sp.scores.new_best;
            }
            let cur_obj = self.cur_obj;
            let accept = obj < cur_obj - 1e-9 || {
                let delta = obj - cur_obj;
                delta <= 1e-9 || rng.random::<f64>() < (-delta / temp.max(1e-12)).exp()
            };
            if accept {
                if score == 0.0 {
                    score = if obj < cur_obj - 1e-9 { sp.scores.better } else { sp.scores.accepted };
                }
                self.cur_obj = obj;
                self.cur = cand;
            }
            self.removal.reward(ro, score);
            self.insertion.reward(io, score);
            if self.iterations.is_multiple_of(sp.segment.max(1)) {
                self.removal.update(sp.reaction, sp.min_weight);
                self.insertion.update(sp.reaction, sp.min_weight);
            }
        }
    }
}

/// Adaptive operator weights: chosen by roulette, rewarded per segment.
struct Weights {
    weight: Vec<f64>,
    score: Vec<f64>,
    uses: Vec<u32>,
}

impl Weights {
    fn new(n: usize) -> Self {
        Self { weight: vec![1.0; n], score: vec![0.0; n], uses: vec![0; n] }
    }
    fn pick(&self, rng: &mut ChaCha8Rng) -> usize {
        roulette(&self.weight, rng)
    }
    fn reward(&mut self, i: usize, score: f64) {
        self.score[i] += score;
        self.uses[i] += 1;
    }
    /// Moves each weight toward its segment's mean score.
    fn update(&mut self, reaction: f64, min_weight: f64) {
        for i in 0..self.weight.len() {
            if self.uses[i] > 0 {
                let mean = self.score[i] / f64::from(self.uses[i]);
                self.weight[i] = ((1.0 - reaction) * self.weight[i] + reaction * mean).max(min_weight);
            }
            self.score[i] = 0.0;
            self.uses[i] = 0;
        }
    }
}

impl Ctx<'_> {
    fn cur_dist_scale(&self, s: &Sol) -> f64 {
        s.dist().max(1e-9)
    }
}

fn roulette(w: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = w.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, wi) in w.iter().enumerate() {
        if x < *wi {
            return i;
        }
        x -= wi;
    }
    w.len() - 1
}

fn finish<T: TravelTimes>(
    problem: &Problem<T>,
    c: &Compiled,
    s: Sol,
    iterations: u64,
    construction_cost: f64,
    construction_s: f64,
    start: Instant,
) -> Solution {
    let reqs = problem.requests();
    let ids = problem.node_ids();
    let mut routes = Vec::new();
    let mut stops = Vec::new();
    let mut plan = Plan::default();
    for (v, rd) in s.routes.iter().enumerate() {
        let mut r_ids = Vec::new();
        let mut r_stops = Vec::new();
        let mut planned = Vec::new();
        for (k, &x) in rd.seq.iter().enumerate() {
            let n = &c.nodes[x as usize];
            let kind = match n.kind {
                Kind::Pickup(r) => {
                    r_ids.push(ids[r as usize][0]);
                    StopKind::Pickup(reqs[r as usize].id)
                }
                Kind::Dropoff(r) => {
                    r_ids.push(ids[r as usize][1]);
                    StopKind::Dropoff(reqs[r as usize].id)
                }
                Kind::Break(_, b) => StopKind::Break(b as usize),
                Kind::Start(_) | Kind::End(_) => continue,
            };
            r_stops.push(kind);
            let prev = rd.seq[k - 1];
            let arrival = rd.early[k - 1] + c.nodes[prev as usize].s + c.time(prev, x);
            let load = rd.load[k];
            planned.push(PlannedStop {
                kind,
                location: n.loc,
                arrival,
                start_of_service: rd.early[k],
                departure: rd.early[k] + n.s,
                load: Capacity::new(load[0].max(0) as u32, load[1].max(0) as u32),
            });
        }
        let m = rd.seq.len();
        plan.routes.push(RoutePlan {
            vehicle: problem.vehicles()[v].id,
            departure: rd.early[0],
            stops: planned,
            return_time: rd.early[m - 1],
            distance: rd.cost,
        });
        routes.push(r_ids);
        stops.push(r_stops);
    }
    let report = check::verify_stops(problem, &stops, true);
    let unassigned: Vec<_> = s.bank.iter().map(|&r| reqs[r as usize].id).collect();
    Solution {
        feasible: report.feasible && unassigned.is_empty(),
        violations: report.violations,
        cost: report.cost,
        vehicles_used: report.vehicles_used,
        routes,
        stops,
        plan,
        unassigned,
        iterations,
        construction_cost,
        construction_s,
        elapsed_s: start.elapsed().as_secs_f64(),
    }
}
