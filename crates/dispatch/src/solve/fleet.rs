//! Fleet minimisation for [`Objective::VehiclesThenDistance`](crate::Objective):
//! route elimination with an ejection pool (Nagata and Kobayashi 2010).
//!
//! One route is emptied into a pool and its requests go back into the other
//! routes one at a time. A request that fits nowhere ejects the requests of
//! one route that have failed least often (at most
//! [`FleetParams::max_ejected`] of them), takes their place, and they join the
//! pool; each failure raises the request's count, so hard requests stay where
//! they are and easy ones make room. Random relocations between steps keep the
//! search from cycling. Every route is re-checked exactly at every step, so
//! the partial plan is always feasible; when the pool empties, the plan has
//! one vehicle fewer.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Ctx, FleetParams, Sol};
use crate::schedule::{Kind, NONE, RouteData, Scratch, best_insertion, splice};

/// The requests of route `v`, in visiting order of their pickups.
fn requests_on(ctx: &Ctx, s: &Sol, v: usize) -> Vec<u32> {
    s.routes[v]
        .seq
        .iter()
        .filter_map(|&x| match ctx.c.nodes[x as usize].kind {
            Kind::Pickup(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// Removes as many vehicles as the budget allows; returns the plan with the
/// fewest. `out_of_budget` is asked once per step.
pub(super) fn minimise_fleet(
    ctx: &Ctx,
    mut best: Sol,
    params: &FleetParams,
    out_of_budget: &mut dyn FnMut() -> bool,
    rng: &mut ChaCha8Rng,
    sc: &mut Scratch,
) -> Sol {
    if !best.bank.is_empty() {
        return best;
    }
    let nv = best.routes.len();
    let mut failures = vec![1u32; ctx.c.n_req];
    loop {
        let used: Vec<usize> = (0..nv).filter(|&v| !ctx.is_empty(&best, v)).collect();
        if used.len() <= 1 || out_of_budget() {
            return best;
        }
        let v = used[rng.random_range(0..used.len())];
        let Some(empty) = ctx.c.empty_route(v, sc) else { return best };
        let mut trial = best.clone();
        let pool = requests_on(ctx, &trial, v);
        for &r in &pool {
            trial.route_of[r as usize] = NONE;
        }
        trial.routes[v] = empty;
        let open: Vec<bool> = (0..nv).map(|u| u != v && used.contains(&u)).collect();
        failures.iter_mut().for_each(|f| *f = 1);
        let mut ep = Ejection { ctx, open: &open, failures: &mut failures, params };
        if ep.empty_pool(&mut trial, pool, out_of_budget, rng, sc) {
            best = trial;
        } else {
            return best;
        }
    }
}

/// One route elimination in progress.
struct Ejection<'a, 'b> {
    ctx: &'a Ctx<'b>,
    /// Routes that may take requests (the used ones but the eliminated one).
    open: &'a [bool],
    /// How often each request could not be placed (starts at 1).
    failures: &'a mut [u32],
    params: &'a FleetParams,
}

impl Ejection<'_, '_> {
    /// Places every pooled request; false if the budget ran out first.
    fn empty_pool(
        &mut self,
        s: &mut Sol,
        mut pool: Vec<u32>,
        out_of_budget: &mut dyn FnMut() -> bool,
        rng: &mut ChaCha8Rng,
        sc: &mut Scratch,
    ) -> bool {
        while let Some(r) = pool.pop() {
            if out_of_budget() {
                return false;
            }
            if self.insert_cheapest(s, r, sc) {
                continue;
            }
            self.failures[r as usize] = self.failures[r as usize].saturating_add(1);
            match self.cheapest_ejection(s, r, sc) {
                Some((u, rd, ejected)) => {
                    for &e in &ejected {
                        s.route_of[e as usize] = NONE;
                    }
                    s.routes[u] = rd;
                    s.route_of[r as usize] = u as u32;
                    pool.extend(ejected);
                }
                // Nothing can make room now: try it again after the others.
                None => pool.insert(0, r),
            }
            self.perturb(s, rng, sc);
        }
        true
    }

    /// Inserts `r` where it adds least distance among the open routes.
    fn insert_cheapest(&self, s: &mut Sol, r: u32, sc: &mut Scratch) -> bool {
        let (p, d) = Ctx::pd(r);
        let c = self.ctx.c;
        let best = (0..s.routes.len())
            .filter(|&u| self.open[u])
            .filter_map(|u| best_insertion(c, &s.routes[u], &c.veh[u], p, d, 0, sc).map(|x| (u, x)))
            .min_by(|a, b| a.1.cost.total_cmp(&b.1.cost));
        let Some((u, cand)) = best else { return false };
        let mut seq = Vec::with_capacity(s.routes[u].seq.len() + 2);
        splice(&s.routes[u].seq, cand, p, d, &mut seq);
        match RouteData::compute(c, &c.veh[u], seq, sc) {
            Some(rd) => {
                s.routes[u] = rd;
                s.route_of[r as usize] = u as u32;
                true
            }
            None => false,
        }
    }

    /// The route and the set of at most `max_ejected` of its requests whose
    /// removal lets `r` in, with the smallest sum of failure counts (then the
    /// least added distance): the route with `r` in, and the ejected requests.
    fn cheapest_ejection(&self, s: &Sol, r: u32, sc: &mut Scratch) -> Option<(usize, RouteData, Vec<u32>)> {
        let c = self.ctx.c;
        let (p, d) = Ctx::pd(r);
        // (failure sum, added distance, route, ejected, the route with `r` in)
        let mut best: Option<(u32, f64, usize, Vec<u32>, RouteData)> = None;
        let mut seq = Vec::new();
        for size in 1..=self.params.max_ejected.max(1) {
            for u in (0..s.routes.len()).filter(|&u| self.open[u]) {
                let on = requests_on(self.ctx, s, u);
                if on.len() < size {
                    continue;
                }
                let mut pick: Vec<usize> = (0..size).collect();
                loop {
                    let sum: u32 = pick.iter().map(|&i| self.failures[on[i] as usize]).sum();
                    // Fewer failures first; a tie is only worth a look at the same size.
                    if best.as_ref().is_none_or(|b| sum < b.0 || (sum == b.0 && size == b.3.len())) {
                        let gone: Vec<u32> = pick.iter().map(|&i| on[i]).collect();
                        seq.clear();
                        seq.extend(s.routes[u].seq.iter().copied().filter(|&x| {
                            !matches!(c.nodes[x as usize].kind,
                                Kind::Pickup(q) | Kind::Dropoff(q) if gone.contains(&q))
                        }));
                        if let Some(rd) = RouteData::compute(c, &c.veh[u], seq.clone(), sc)
                            && let Some(cand) = best_insertion(c, &rd, &c.veh[u], p, d, 0, sc)
                        {
                            let added = rd.cost + cand.cost - s.routes[u].cost;
                            if best.as_ref().is_none_or(|b| sum < b.0 || (sum == b.0 && added < b.1)) {
                                let mut with = Vec::with_capacity(rd.seq.len() + 2);
                                splice(&rd.seq, cand, p, d, &mut with);
                                if let Some(rd) = RouteData::compute(c, &c.veh[u], with, sc) {
                                    best = Some((sum, added, u, gone, rd));
                                }
                            }
                        }
                    }
                    if !next_combination(&mut pick, on.len()) {
                        break;
                    }
                }
            }
        }
        best.map(|(_, _, u, gone, rd)| (u, rd, gone))
    }

    /// Moves random requests to their cheapest place in another open route.
    fn perturb(&self, s: &mut Sol, rng: &mut ChaCha8Rng, sc: &mut Scratch) {
        let c = self.ctx.c;
        let open: Vec<usize> = (0..s.routes.len()).filter(|&u| self.open[u]).collect();
        if open.len() < 2 {
            return;
        }
        for _ in 0..self.params.perturb_moves {
            let from = open[rng.random_range(0..open.len())];
            let on = requests_on(self.ctx, s, from);
            if on.is_empty() {
                continue;
            }
            let r = on[rng.random_range(0..on.len())];
            let to = open[rng.random_range(0..open.len())];
            if to == from {
                continue;
            }
            let (p, d) = Ctx::pd(r);
            let Some(cand) = best_insertion(c, &s.routes[to], &c.veh[to], p, d, 0, sc) else { continue };
            let mut with = Vec::with_capacity(s.routes[to].seq.len() + 2);
            splice(&s.routes[to].seq, cand, p, d, &mut with);
            let without: Vec<u32> =
                s.routes[from].seq.iter().copied().filter(|&x| x != p && x != d).collect();
            if let (Some(a), Some(b)) = (
                RouteData::compute(c, &c.veh[to], with, sc),
                RouteData::compute(c, &c.veh[from], without, sc),
            ) {
                s.routes[to] = a;
                s.routes[from] = b;
                s.route_of[r as usize] = to as u32;
            }
        }
    }
}

/// Advances `pick` (strictly increasing indices below `n`) to the next
/// combination in lexicographic order; false after the last.
fn next_combination(pick: &mut [usize], n: usize) -> bool {
    let k = pick.len();
    for i in (0..k).rev() {
        if pick[i] < n - k + i {
            pick[i] += 1;
            for j in i + 1..k {
                pick[j] = pick[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::next_combination;

    #[test]
    fn combinations_are_all_subsets_of_the_size_once() {
        for n in 0..7usize {
            for k in 1..=3usize.min(n) {
                let mut pick: Vec<usize> = (0..k).collect();
                let mut seen = std::collections::BTreeSet::new();
                loop {
                    assert!(pick.windows(2).all(|w| w[0] < w[1]) && pick[k - 1] < n);
                    assert!(seen.insert(pick.clone()));
                    if !next_combination(&mut pick, n) {
                        break;
                    }
                }
                // n choose k
                let choose = (0..k).fold(1usize, |a, i| a * (n - i) / (i + 1));
                assert_eq!(seen.len(), choose, "n={n} k={k}");
            }
        }
    }
}
