//! Route scheduling: the fast insertion filter and the exact schedule it is
//! verified against.
//!
//! For a fixed stop sequence every constraint is a *difference constraint* on
//! the start-of-service times `B`: travel (`B[k+1] ≥ B[k] + s[k] + t`), windows
//! (`e ≤ B ≤ l`), ride time (`B[d] − B[p] − s[p] ≤ L`) and route duration
//! (`B[end] − B[start] ≤ T`). Feasible schedules therefore form a lattice with a
//! least element (everything as early as possible, pickups delayed just enough
//! to respect ride times — Cordeau and Laporte's departure delays) and a
//! greatest element (everything as late as possible). Both are computed by a
//! few forward/backward passes that converge like Bellman–Ford; failing to
//! converge within `m + 2` passes proves a positive cycle, i.e. infeasibility.
//!
//! Inserting a request only adds constraints (under the triangle inequality),
//! so `early[k] ≤ B[k] ≤ late[k]` of the current route stay necessary in the
//! new one. The filter in [`candidates`] propagates the push of the new pickup
//! forward in O(1) per position pair (forward time slack against `late`) and
//! bounds ride times by path lengths; only survivors, cheapest first, get the
//! exact O(m) schedule. Without ride-time or duration limits the filter alone
//! is exact and the exact step is skipped.

use std::sync::Arc;

use noriai_model::LocId;

/// Feasibility tolerance of the engine, tighter than the checker's 1e-6.
pub(crate) const EPS: f64 = 1e-9;
/// Slack of the necessary-condition filter, so float noise in the triangle
/// inequality never makes it reject a feasible insertion.
const FEPS: f64 = 1e-7;
pub(crate) const NONE: u32 = u32::MAX;

/// What a node of the compiled problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Pickup(u32),
    Dropoff(u32),
    Start(u32),
    End(u32),
    Break(u32, u32),
}

/// One stop to schedule: location, window on start of service, service time,
/// signed load change and, for a dropoff, its pickup node and ride limit.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub loc: LocId,
    pub e: f64,
    pub l: f64,
    pub s: f64,
    pub load: [i64; 2],
    pub pair: u32,
    pub ride: f64,
    pub kind: Kind,
}

/// Nodes and the times and distances between them.
pub(crate) trait Net {
    fn node(&self, i: u32) -> &Node;
    fn time(&self, a: u32, b: u32) -> f64;
    fn dist(&self, a: u32, b: u32) -> f64;
    /// `time(a, b)`, from storage where the times of every `a` to one `b`
    /// sit together: the screen reads every stop of every route to the same
    /// new stop, which a row-major matrix scatters over as many cache lines.
    #[inline]
    fn time_to(&self, a: u32, b: u32) -> f64 {
        self.time(a, b)
    }
    /// `dist(a, b)`, stored as for [`Net::time_to`].
    #[inline]
    fn dist_to(&self, a: u32, b: u32) -> f64 {
        self.dist(a, b)
    }
    fn len(&self) -> usize;
}

/// Per-vehicle limits a route must respect.
#[derive(Debug, Clone)]
pub(crate) struct VehCtx {
    pub start: u32,
    pub end: u32,
    pub cap: [i64; 2],
    pub max_dur: f64,
}

/// Reusable buffers, so the hot loops do not allocate.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pos: Vec<u32>,
    pairs: Vec<(u32, u32, f64)>,
    b: Vec<f64>,
    seq: Vec<u32>,
    cands: Vec<Cand>,
    /// Pushed start times by old position, for [`pushed_schedule`].
    pushed: Vec<f64>,
    /// The answer of [`best_insertion`], kept so each call does not allocate.
    found: Vec<Cand>,
}

/// A candidate insertion: pickup after position `i`, dropoff after position
/// `j` of the current sequence (`j == i`: right after the pickup).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cand {
    pub cost: f64,
    pub i: u32,
    pub j: u32,
}

/// A feasible route with its schedule bounds, loads and length.
#[derive(Debug, Clone)]
pub(crate) struct RouteData {
    /// Full sequence, start and end depot included.
    pub seq: Vec<u32>,
    pub early: Vec<f64>,
    pub late: Vec<f64>,
    /// Load after serving each position.
    pub load: Vec<[i64; 2]>,
    pub cost: f64,
    /// Whether no ride-time or duration limit applies (the filter is then exact).
    pub simple: bool,
    /// For a drop-off with a ride limit, the position of its pickup; `NONE` elsewhere.
    pub partner: Vec<u32>,
}

/// The later of two times. Times are never NaN, so this is `f64::max`
/// without its NaN test, which the insertion screens pay for in every step.
#[inline(always)]
fn later(a: f64, b: f64) -> f64 {
    if a > b { a } else { b }
}

#[inline]
fn fits(load: [i64; 2], q: [i64; 2], cap: [i64; 2]) -> bool {
    load[0] + q[0] <= cap[0] && load[1] + q[1] <= cap[1]
}

fn collect_pairs<N: Net>(net: &N, seq: &[u32], pos: &mut Vec<u32>, pairs: &mut Vec<(u32, u32, f64)>) {
    if pos.len() < net.len() {
        pos.resize(net.len(), NONE);
    }
    pairs.clear();
    for (k, &x) in seq.iter().enumerate() {
        pos[x as usize] = k as u32;
        let n = net.node(x);
        if n.pair != NONE && n.ride.is_finite() {
            let pp = pos[n.pair as usize];
            if (pp as usize) < k && seq[pp as usize] == n.pair {
                pairs.push((pp, k as u32, net.node(n.pair).s + n.ride));
            }
        }
    }
}

/// Least feasible start-of-service times of `seq` into `b`, which holds a
/// lower bound of each (the windows' opens will do); false if infeasible.
/// Raising times from any lower bound reaches the least schedule, and from a
/// tighter bound in fewer passes. `b` must already keep the windows and
/// precede each stop by the one before up to position `from`: each pass
/// starts where the last one raised a time, since nothing before it changed.
fn least_from(
    net: &impl Net,
    seq: &[u32],
    max_dur: f64,
    pairs: &[(u32, u32, f64)],
    b: &mut [f64],
    from: usize,
) -> bool {
    let m = seq.len();
    if b[0] > net.node(seq[0]).l + EPS {
        return false;
    }
    let mut from = from.max(1);
    for _ in 0..m + 2 {
        for k in from..m {
            let prev = net.node(seq[k - 1]);
            let t = b[k - 1] + prev.s + net.time(seq[k - 1], seq[k]);
            if t > b[k] {
                b[k] = t;
            }
            if b[k] > net.node(seq[k]).l + EPS {
                return false;
            }
        }
        // The earliest position raised below, where the next pass starts.
        let mut raised = m;
        for &(p, d, w) in pairs.iter().rev() {
            let need = b[d as usize] - w;
            if need > b[p as usize] + EPS {
                b[p as usize] = need;
                raised = raised.min(p as usize);
            }
        }
        if max_dur.is_finite() {
            let need = b[m - 1] - max_dur;
            if need > b[0] + EPS {
                b[0] = need;
                if b[0] > net.node(seq[0]).l + EPS {
                    return false;
                }
                raised = 0;
            }
        }
        if raised == m {
            return true;
        }
        // A raised time is checked against its window in the next pass.
        from = raised.max(1);
    }
    false
}

/// Greatest feasible start-of-service times of `seq` into `b`; false if infeasible.
fn greatest(net: &impl Net, seq: &[u32], max_dur: f64, pairs: &[(u32, u32, f64)], b: &mut Vec<f64>) -> bool {
    let m = seq.len();
    b.clear();
    b.extend(seq.iter().map(|&x| net.node(x).l));
    if b[m - 1] < net.node(seq[m - 1]).e - EPS {
        return false;
    }
    for _ in 0..m + 2 {
        for k in (0..m - 1).rev() {
            let n = net.node(seq[k]);
            let t = b[k + 1] - n.s - net.time(seq[k], seq[k + 1]);
            if t < b[k] {
                b[k] = t;
            }
            if b[k] < n.e - EPS {
                return false;
            }
        }
        let mut changed = false;
        for &(p, d, w) in pairs {
            let lim = b[p as usize] + w;
            if lim < b[d as usize] - EPS {
                b[d as usize] = lim;
                changed = true;
            }
        }
        if max_dur.is_finite() {
            let lim = b[0] + max_dur;
            if lim < b[m - 1] - EPS {
                b[m - 1] = lim;
                if b[m - 1] < net.node(seq[m - 1]).e - EPS {
                    return false;
                }
                changed = true;
            }
        }
        if !changed {
            return true;
        }
    }
    false
}

/// Exact feasibility of a full sequence (start and end depot included):
/// capacity, windows, ride times, duration. Writes the least schedule to `out`.
pub(crate) fn schedule_into(
    net: &impl Net,
    veh: &VehCtx,
    seq: &[u32],
    sc: &mut Scratch,
    out: &mut Vec<f64>,
) -> bool {
    out.clear();
    out.extend(seq.iter().map(|&x| net.node(x).e));
    loads_fit(net, veh, seq) && least_schedule(net, veh, seq, sc, out, 1)
}

/// Whether the load never exceeds the vehicle's capacity nor goes negative.
fn loads_fit(net: &impl Net, veh: &VehCtx, seq: &[u32]) -> bool {
    let mut load = [0i64; 2];
    for &x in seq {
        let q = net.node(x).load;
        load = [load[0] + q[0], load[1] + q[1]];
        if load[0] > veh.cap[0] || load[1] > veh.cap[1] || load[0] < 0 || load[1] < 0 {
            return false;
        }
    }
    true
}

/// The windows, ride times and duration of [`schedule_into`], with `b`
/// already holding a lower bound of every start that keeps the windows and
/// precedence up to position `from` (as the route's old least schedule does
/// before an inserted pickup).
fn least_schedule(
    net: &impl Net,
    veh: &VehCtx,
    seq: &[u32],
    sc: &mut Scratch,
    b: &mut [f64],
    from: usize,
) -> bool {
    collect_pairs(net, seq, &mut sc.pos, &mut sc.pairs);
    least_from(net, seq, veh.max_dur, &sc.pairs, b, from)
}

impl RouteData {
    /// Computes the data of a sequence, or `None` if it is infeasible.
    pub(crate) fn compute(
        net: &impl Net,
        veh: &VehCtx,
        seq: Vec<u32>,
        sc: &mut Scratch,
    ) -> Option<RouteData> {
        let mut early = Vec::with_capacity(seq.len());
        if !schedule_into(net, veh, &seq, sc, &mut early) {
            return None;
        }
        let mut late = Vec::with_capacity(seq.len());
        if !greatest(net, &seq, veh.max_dur, &sc.pairs, &mut late) {
            return None;
        }
        let mut load = Vec::with_capacity(seq.len());
        let mut cur = [0i64; 2];
        let mut cost = 0.0;
        for (k, &x) in seq.iter().enumerate() {
            let q = net.node(x).load;
            cur = [cur[0] + q[0], cur[1] + q[1]];
            load.push(cur);
            if k > 0 {
                cost += net.dist(seq[k - 1], x);
            }
        }
        let simple = sc.pairs.is_empty() && !veh.max_dur.is_finite();
        let mut partner = vec![NONE; seq.len()];
        for &(p, d, _) in &sc.pairs {
            partner[d as usize] = p;
        }
        Some(RouteData { seq, early, late, load, cost, simple, partner })
    }
}

/// Writes `seq` with `p` inserted after position `i` and `d` after position `j`.
pub(crate) fn splice(seq: &[u32], c: Cand, p: u32, d: u32, out: &mut Vec<u32>) {
    let (i, j) = (c.i as usize, c.j as usize);
    out.clear();
    out.extend_from_slice(&seq[..=i]);
    out.push(p);
    out.extend_from_slice(&seq[i + 1..=j]);
    out.push(d);
    out.extend_from_slice(&seq[j + 1..]);
}

/// All insertions of (`p`, `d`) into the route that pass the necessary
/// conditions, with their added distance. Pickups go after position `first` or later.
pub(crate) fn candidates(
    net: &impl Net,
    rd: &RouteData,
    veh: &VehCtx,
    p: u32,
    d: u32,
    first: usize,
    out: &mut Vec<Cand>,
) {
    out.clear();
    let seq = &rd.seq;
    let m = seq.len();
    let (np, nd) = (net.node(p), net.node(d));
    let q = np.load;
    let ride_lim = if nd.pair == p { nd.ride } else { f64::INFINITY };
    let (sp, sd) = (np.s, nd.s);
    let tpd = net.time(p, d);
    let dpd = net.dist(p, d);
    // A stop after `i` whose greatest start comes before the pickup's
    // earliest departure refuses both new stops. Greatest starts never fall
    // along a route, so these positions are a prefix, skipped at once.
    let leave_p = np.e + sp;
    let skip = rd.late.get(first + 1..m).map_or(0, |late| late.partition_point(|&l| leave_p > l + FEPS));
    for i in first + skip..m - 1 {
        let a = seq[i];
        if rd.early[i] > np.l + FEPS {
            break;
        }
        if !fits(rd.load[i], q, veh.cap) {
            continue;
        }
        let na = net.node(a);
        let bp = later(rd.early[i] + na.s + net.time_to(a, p), np.e);
        if bp > np.l + FEPS {
            continue;
        }
        let dp = bp + sp;
        let b1 = seq[i + 1];
        let base = net.dist_to(a, p) - net.dist(a, b1);
        // Dropoff right after the pickup.
        let bd = later(dp + tpd, nd.e);
        if bd <= nd.l + FEPS && tpd <= ride_lim + FEPS {
            let nb = later(bd + sd + net.time(d, b1), rd.early[i + 1]);
            if nb <= rd.late[i + 1] + FEPS {
                out.push(Cand { cost: base + dpd + net.dist(d, b1), i: i as u32, j: i as u32 });
            }
        }
        // Dropoff later: propagate the pickup's push forward.
        let tp1 = net.time(p, b1);
        let mut ej = later(dp + tp1, rd.early[i + 1]);
        if ej > rd.late[i + 1] + FEPS {
            continue;
        }
        let mut ride_path = tp1;
        let cost_p = base + net.dist(p, b1);
        for j in i + 1..m - 1 {
            let c = seq[j];
            if !fits(rd.load[j], q, veh.cap) {
                break;
            }
            let nc = net.node(c);
            if ej > nd.l + FEPS || ride_path + nc.s > ride_lim + FEPS {
                break;
            }
            let next = seq[j + 1];
            let tcn = net.time(c, next);
            let tcd = net.time_to(c, d);
            let bd = later(ej + nc.s + tcd, nd.e);
            let e_next = later(ej + nc.s + tcn, rd.early[j + 1]);
            if bd <= nd.l + FEPS && ride_path + nc.s + tcd <= ride_lim + FEPS {
                let nb = later(bd + sd + net.time(d, next), e_next);
                if nb <= rd.late[j + 1] + FEPS {
                    let cost = cost_p + net.dist_to(c, d) + net.dist(d, next) - net.dist(c, next);
                    out.push(Cand { cost, i: i as u32, j: j as u32 });
                }
            }
            if e_next > rd.late[j + 1] + FEPS {
                break;
            }
            ride_path += nc.s + tcn;
            ej = e_next;
        }
    }
}

/// The cheapest `limit` feasible insertions of (`p`, `d`), cheapest first:
/// filter, then exact schedules of the survivors in cost order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn feasible_insertions(
    net: &impl Net,
    rd: &RouteData,
    veh: &VehCtx,
    p: u32,
    d: u32,
    first: usize,
    limit: usize,
    sc: &mut Scratch,
    out: &mut Vec<Cand>,
) {
    out.clear();
    let mut cands = std::mem::take(&mut sc.cands);
    candidates(net, rd, veh, p, d, first, &mut cands);
    // Cheapest first; the cheapest usually fits, so it is put in front
    // before paying for a full sort.
    let cheapest = (0..cands.len()).min_by(|&a, &b| cands[a].cost.total_cmp(&cands[b].cost).then(a.cmp(&b)));
    if let Some(k) = cheapest {
        cands.swap(0, k);
    }
    let exact_needed = !rd.simple || net.node(d).ride.is_finite();
    let mut seq = std::mem::take(&mut sc.seq);
    let mut b = std::mem::take(&mut sc.b);
    for idx in 0..cands.len() {
        if idx == 1 {
            cands[1..].sort_unstable_by(|a, b| a.cost.total_cmp(&b.cost));
        }
        let c = cands[idx];
        if exact_needed {
            let bounds = detours_never_shorter(net, &rd.seq, c, p, d);
            match pushed_schedule(net, rd, veh, c, p, d, bounds, &mut sc.pushed) {
                Pushed::Fits => {}
                Pushed::Fails => continue,
                Pushed::Unknown => {
                    splice(&rd.seq, c, p, d, &mut seq);
                    // The screen kept the load within the capacity.
                    let ok = if bounds {
                        warm_start(net, rd, c, p, d, &mut b);
                        least_schedule(net, veh, &seq, sc, &mut b, c.i as usize + 1)
                    } else {
                        schedule_into(net, veh, &seq, sc, &mut b)
                    };
                    if !ok {
                        continue;
                    }
                }
            }
        }
        out.push(c);
        if out.len() >= limit {
            break;
        }
    }
    sc.seq = seq;
    sc.b = b;
    sc.cands = cands;
}

/// Whether the stops of `c` lengthen the legs they split: then every old
/// stop starts no earlier in the new route than in the old, and no later
/// than the old route allowed, so the old least and greatest schedules bound
/// the new one. Road and Euclidean times always pass; a matrix that breaks
/// the triangle inequality may not.
pub(crate) fn detours_never_shorter(net: &impl Net, seq: &[u32], c: Cand, p: u32, d: u32) -> bool {
    let (i, j) = (c.i as usize, c.j as usize);
    let via = |a: u32, x: u32, b: u32| net.time(a, x) + net.node(x).s + net.time(x, b);
    let (a, b1) = (seq[i], seq[i + 1]);
    if i == j {
        net.time(a, p) + net.node(p).s + via(p, d, b1) >= net.time(a, b1)
    } else {
        via(a, p, b1) >= net.time(a, b1) && via(seq[j], d, seq[j + 1]) >= net.time(seq[j], seq[j + 1])
    }
}

/// Lower bounds of the starts after inserting `c`: the old least schedule
/// for the old stops, the windows' opens for the new ones.
fn warm_start(net: &impl Net, rd: &RouteData, c: Cand, p: u32, d: u32, b: &mut Vec<f64>) {
    let (i, j) = (c.i as usize, c.j as usize);
    b.clear();
    b.extend_from_slice(&rd.early[..=i]);
    b.push(net.node(p).e);
    b.extend_from_slice(&rd.early[i + 1..=j]);
    b.push(net.node(d).e);
    b.extend_from_slice(&rd.early[j + 1..]);
}

/// What the pushed schedule tells of an insertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// The pushed schedule itself fits: the insertion is feasible.
    Fits,
    /// Even the earliest possible starts miss a window, or a ride or the
    /// shift is too long even from the latest possible start: infeasible.
    Fails,
    /// Only the exact schedule can tell (delaying an earlier stop may
    /// shorten a ride).
    Unknown,
}

/// A fast test of an insertion: the route's least schedule with every start
/// pushed forward only as far as the new stops force it (waiting absorbs the
/// push), checked for windows, ride times and duration. If it fits, the
/// insertion is feasible. When `bounds` holds (the new stops lengthen the
/// legs they split, [`detours_never_shorter`]), pushed starts are lower
/// bounds and the old route's greatest starts upper bounds of any feasible
/// schedule of the new route, so a miss beyond them by more than the
/// filter's slack proves the insertion infeasible; any other miss leaves it
/// to the exact schedule. If only the new rider's own ride is too long, the
/// pickup is delayed by the excess and the push tried once more: waiting
/// between the pickup and the drop-off may absorb the delay (the least
/// schedule would delay it the same way). Stops once the push is absorbed
/// after the drop-off: the rest of the route is unchanged. Fits are checked
/// without tolerance, so it never accepts what the exact check would refuse.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pushed_schedule(
    net: &impl Net,
    rd: &RouteData,
    veh: &VehCtx,
    c: Cand,
    p: u32,
    d: u32,
    bounds: bool,
    pushed: &mut Vec<f64>,
) -> Pushed {
    let (i, m) = (c.i as usize, rd.seq.len());
    if pushed.len() < m {
        pushed.resize(m, 0.0);
    }
    let np = net.node(p);
    let tp = later(rd.early[i] + net.node(rd.seq[i]).s + net.time_to(rd.seq[i], p), np.e);
    // A miss: proven infeasible if even the bound misses by more than the slack.
    let miss = |beyond_bound: bool| if bounds && beyond_bound { Pushed::Fails } else { Pushed::Unknown };
    if tp > np.l {
        return miss(tp > np.l + FEPS);
    }
    match push(net, rd, veh, c, p, d, tp, pushed) {
        Push::Fits => Pushed::Fits,
        Push::Misses { beyond_bound } => miss(beyond_bound),
        Push::RideTooLong { beyond_bound: true, .. } => miss(true),
        Push::RideTooLong { excess, .. } => {
            let delayed = tp + excess;
            // Only a fit is conclusive now: the delayed starts are no bounds.
            if delayed <= np.l && push(net, rd, veh, c, p, d, delayed, pushed) == Push::Fits {
                Pushed::Fits
            } else {
                Pushed::Unknown
            }
        }
    }
}

/// How the push of [`pushed_schedule`] from one pickup start ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Push {
    Fits,
    /// A window, an earlier rider's ride or the shift is missed; `beyond_bound`
    /// when even the bounds miss it by more than the filter's slack.
    Misses {
        beyond_bound: bool,
    },
    /// The new rider's ride is `excess` too long; `beyond_bound` when it is
    /// too long even from the pickup's latest start ([`latest_new_starts`]).
    RideTooLong {
        excess: f64,
        beyond_bound: bool,
    },
}

/// Pushes the route's least schedule forward from the new pickup starting at
/// `tp`; see [`pushed_schedule`].
#[allow(clippy::too_many_arguments)]
fn push(
    net: &impl Net,
    rd: &RouteData,
    veh: &VehCtx,
    c: Cand,
    p: u32,
    d: u32,
    tp: f64,
    pushed: &mut [f64],
) -> Push {
    let (i, j) = (c.i as usize, c.j as usize);
    let seq = &rd.seq;
    let m = seq.len();
    let (np, nd) = (net.node(p), net.node(d));
    let ride_p = if nd.pair == p { nd.ride } else { f64::INFINITY };
    let start_of = |k: usize, pushed: &[f64]| if k <= i { rd.early[k] } else { pushed[k] };
    let (mut prev, mut dep) = (p, tp + np.s);
    // The drop-off's start after leaving `prev` at `dep`, or how it misses.
    let drop_at = |prev: u32, dep: f64| -> Result<f64, Push> {
        let td = later(dep + net.time_to(prev, d), nd.e);
        if td > nd.l {
            return Err(Push::Misses { beyond_bound: td > nd.l + FEPS });
        }
        let excess = td - (tp + np.s) - ride_p;
        if excess > 0.0 {
            let latest_pickup = latest_new_starts(net, rd, c, p, d).0;
            let beyond_bound = td - (latest_pickup + np.s) > ride_p + FEPS;
            return Err(Push::RideTooLong { excess, beyond_bound });
        }
        Ok(td + nd.s)
    };
    if j == i {
        match drop_at(p, dep) {
            Ok(after) => (prev, dep) = (d, after),
            Err(verdict) => return verdict,
        }
    }
    for k in i + 1..m {
        let x = seq[k];
        let nx = net.node(x);
        let t = later(dep + net.time(prev, x), rd.early[k]);
        if t > nx.l {
            return Push::Misses { beyond_bound: t > nx.l + FEPS };
        }
        pushed[k] = t;
        let a = rd.partner[k];
        if a != NONE {
            let (a, service) = (a as usize, net.node(seq[a as usize]).s);
            if t - (start_of(a, pushed) + service) > nx.ride {
                let latest = latest_old_start(net, rd, c, p, d, a);
                return Push::Misses { beyond_bound: t - (latest + service) > nx.ride + FEPS };
            }
        }
        if k > j && t <= rd.early[k] {
            return Push::Fits;
        }
        (prev, dep) = (x, t + nx.s);
        if k == j {
            match drop_at(x, dep) {
                Ok(after) => (prev, dep) = (d, after),
                Err(verdict) => return verdict,
            }
        }
    }
    if veh.max_dur.is_finite() && pushed[m - 1] - rd.early[0] > veh.max_dur {
        return Push::Misses { beyond_bound: pushed[m - 1] - rd.late[0] > veh.max_dur + FEPS };
    }
    Push::Fits
}

/// The least time from the start of position `from` to the start of
/// position `to` of `seq` (`from <= to`): services and legs in between.
fn least_span(net: &impl Net, seq: &[u32], from: usize, to: usize) -> f64 {
    (from..to).map(|h| net.node(seq[h]).s + net.time(seq[h], seq[h + 1])).sum()
}

/// Upper bounds of the new pickup's and drop-off's starts in any feasible
/// schedule after inserting `c`, when the new stops lengthen the legs they
/// split ([`detours_never_shorter`]): each stop must still reach the next
/// one, whose start the old route's greatest start bounds, and the pickup
/// must reach the drop-off. Only the failing paths of [`push`] pay for it.
pub(crate) fn latest_new_starts(net: &impl Net, rd: &RouteData, c: Cand, p: u32, d: u32) -> (f64, f64) {
    let (i, j) = (c.i as usize, c.j as usize);
    let seq = &rd.seq;
    let (np, nd) = (net.node(p), net.node(d));
    let drop = nd.l.min(rd.late[j + 1] - nd.s - net.time(d, seq[j + 1]));
    let pickup = if i == j {
        np.l.min(drop - np.s - net.time(p, d))
    } else {
        let to_next = np.s + net.time(p, seq[i + 1]);
        let to_drop = to_next + least_span(net, seq, i + 1, j) + net.node(seq[j]).s + net.time(seq[j], d);
        np.l.min(rd.late[i + 1] - to_next).min(drop - to_drop)
    };
    (pickup, drop)
}

/// An upper bound of old position `a`'s start after inserting `c`: its old
/// greatest start, and, before a new stop, that stop's latest start less
/// the least time from `a` to it.
pub(crate) fn latest_old_start(net: &impl Net, rd: &RouteData, c: Cand, p: u32, d: u32, a: usize) -> f64 {
    let (i, j) = (c.i as usize, c.j as usize);
    let seq = &rd.seq;
    if a > j {
        return rd.late[a];
    }
    let (pickup, drop) = latest_new_starts(net, rd, c, p, d);
    let before = if a <= i {
        pickup - (least_span(net, seq, a, i) + net.node(seq[i]).s + net.time(seq[i], p))
    } else {
        drop - (least_span(net, seq, a, j) + net.node(seq[j]).s + net.time(seq[j], d))
    };
    rd.late[a].min(before)
}

/// The cheapest feasible insertion, if any.
pub(crate) fn best_insertion(
    net: &impl Net,
    rd: &RouteData,
    veh: &VehCtx,
    p: u32,
    d: u32,
    first: usize,
    sc: &mut Scratch,
) -> Option<Cand> {
    let mut found = std::mem::take(&mut sc.found);
    feasible_insertions(net, rd, veh, p, d, first, 1, sc, &mut found);
    let best = found.first().copied();
    sc.found = found;
    best
}

/// The problem compiled for the batch solver: request `r` has pickup node
/// `2r` and dropoff node `2r+1`; vehicle `v` has start node `2R + 2v` and end
/// node `2R + 2v + 1`; breaks follow. Times and distances are a dense node matrix.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub nodes: Vec<Node>,
    pub n_req: usize,
    pub veh: Vec<VehCtx>,
    /// Break nodes of each vehicle, which every one of its routes must contain.
    pub breaks: Vec<Vec<u32>>,
    /// Travel times; `dist` shares its storage when every distance equals
    /// the time (Euclidean instances), so the screen reads half the memory.
    time: Matrix,
    dist: Matrix,
}

/// A dense `n × n` node matrix, stored by rows and by columns (for
/// [`Net::time_to`]); a symmetric matrix is its own transpose and shares
/// one buffer for both.
#[derive(Debug, Clone)]
struct Matrix {
    n: usize,
    rows: Arc<[f64]>,
    /// `cols[b·n + a]` is entry (`a`, `b`).
    cols: Arc<[f64]>,
}

impl Matrix {
    fn new(n: usize, rows: Vec<f64>) -> Self {
        let symmetric =
            (0..n).all(|a| (0..a).all(|b| rows[a * n + b].to_bits() == rows[b * n + a].to_bits()));
        let cols: Option<Arc<[f64]>> = (!symmetric).then(|| {
            (0..n).flat_map(|b| (0..n).map(move |a| (a, b))).map(|(a, b)| rows[a * n + b]).collect()
        });
        let rows: Arc<[f64]> = rows.into();
        Matrix { n, cols: cols.unwrap_or_else(|| rows.clone()), rows }
    }

    #[inline]
    fn at(&self, a: u32, b: u32) -> f64 {
        self.rows[a as usize * self.n + b as usize]
    }

    /// The same entry as [`Matrix::at`], read from the column layout.
    #[inline]
    fn to(&self, a: u32, b: u32) -> f64 {
        self.cols[b as usize * self.n + a as usize]
    }
}

impl Net for Compiled {
    #[inline]
    fn node(&self, i: u32) -> &Node {
        &self.nodes[i as usize]
    }
    #[inline]
    fn time(&self, a: u32, b: u32) -> f64 {
        self.time.at(a, b)
    }
    #[inline]
    fn dist(&self, a: u32, b: u32) -> f64 {
        self.dist.at(a, b)
    }
    #[inline]
    fn time_to(&self, a: u32, b: u32) -> f64 {
        self.time.to(a, b)
    }
    #[inline]
    fn dist_to(&self, a: u32, b: u32) -> f64 {
        self.dist.to(a, b)
    }
    fn len(&self) -> usize {
        self.nodes.len()
    }
}

pub(crate) fn request_nodes(r: &noriai_model::Request, idx: u32) -> (Node, Node) {
    let load = r.load.as_array();
    let pw = r.effective_pickup_window();
    let p = Node {
        loc: r.pickup,
        e: pw.earliest(),
        l: pw.latest(),
        s: r.pickup_service,
        load,
        pair: NONE,
        ride: f64::INFINITY,
        kind: Kind::Pickup(idx),
    };
    let d = Node {
        loc: r.dropoff,
        e: r.dropoff_window.earliest(),
        l: r.dropoff_window.latest(),
        s: r.dropoff_service,
        load: [-load[0], -load[1]],
        pair: NONE,
        ride: r.max_ride_time,
        kind: Kind::Dropoff(idx),
    };
    (p, d)
}

pub(crate) fn vehicle_nodes(v: &noriai_model::Vehicle, idx: u32) -> (Node, Node, Vec<Node>) {
    let mk = |loc, kind| Node {
        loc,
        e: v.shift.earliest(),
        l: v.shift.latest(),
        s: 0.0,
        load: [0, 0],
        pair: NONE,
        ride: f64::INFINITY,
        kind,
    };
    let breaks = v
        .breaks
        .iter()
        .enumerate()
        .map(|(k, b)| Node {
            loc: b.location,
            e: b.window.earliest(),
            l: b.window.latest(),
            s: b.duration,
            load: [0, 0],
            pair: NONE,
            ride: f64::INFINITY,
            kind: Kind::Break(idx, k as u32),
        })
        .collect();
    (mk(v.start_depot, Kind::Start(idx)), mk(v.end_depot, Kind::End(idx)), breaks)
}

pub(crate) fn veh_ctx(v: &noriai_model::Vehicle, start: u32, end: u32) -> VehCtx {
    VehCtx { start, end, cap: v.capacity.as_array(), max_dur: v.max_route_duration }
}

impl Compiled {
    pub(crate) fn new<T: noriai_model::TravelTimes>(problem: &crate::problem::Problem<T>) -> Self {
        let reqs = problem.requests();
        let mut nodes = Vec::with_capacity(2 * reqs.len() + 2 * problem.vehicles().len());
        for (r, req) in reqs.iter().enumerate() {
            let (mut p, mut d) = request_nodes(req, r as u32);
            p.pair = NONE;
            d.pair = 2 * r as u32;
            nodes.push(p);
            nodes.push(d);
        }
        let mut veh = Vec::new();
        let mut pending_breaks = Vec::new();
        for (v, vehicle) in problem.vehicles().iter().enumerate() {
            let (s, e, b) = vehicle_nodes(vehicle, v as u32);
            let start = nodes.len() as u32;
            nodes.push(s);
            nodes.push(e);
            veh.push(veh_ctx(vehicle, start, start + 1));
            pending_breaks.push(b);
        }
        let mut breaks = Vec::new();
        for b in pending_breaks {
            let mut ids = Vec::new();
            for n in b {
                ids.push(nodes.len() as u32);
                nodes.push(n);
            }
            breaks.push(ids);
        }
        let n = nodes.len();
        let mut time = Vec::with_capacity(n * n);
        let mut dist = Vec::with_capacity(n * n);
        for a in &nodes {
            for b in &nodes {
                time.push(problem.travel.time(a.loc, b.loc));
                dist.push(problem.travel.distance(a.loc, b.loc));
            }
        }
        let same = time.iter().zip(&dist).all(|(t, d)| t.to_bits() == d.to_bits());
        let time = Matrix::new(n, time);
        let dist = if same { time.clone() } else { Matrix::new(n, dist) };
        Compiled { nodes, n_req: reqs.len(), veh, breaks, time, dist }
    }

    /// The route of vehicle `v` with only its breaks, in window order, if feasible.
    pub(crate) fn empty_route(&self, v: usize, sc: &mut Scratch) -> Option<RouteData> {
        let c = &self.veh[v];
        let mut seq = vec![c.start];
        let mut b = self.breaks[v].clone();
        b.sort_by(|x, y| self.nodes[*x as usize].e.total_cmp(&self.nodes[*y as usize].e));
        seq.extend(b);
        seq.push(c.end);
        RouteData::compute(self, c, seq, sc)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use noriai_model::{
        Capacity, LocId, MatrixTravelTimes, Request, RequestId, TimeWindow, TravelTimes, Vehicle, VehicleId,
    };

    use super::{Compiled, Net};
    use crate::euclid::Euclidean;
    use crate::problem::{Objective, Problem};

    fn problem<T: TravelTimes>(travel: T, n_req: u32) -> Problem<T> {
        let requests = (0..n_req)
            .map(|r| {
                Request::new(RequestId(r + 1), LocId(2 * r + 1), LocId(2 * r + 2), Capacity::new(1, 0))
                    .unwrap()
            })
            .collect();
        let v = Vehicle::new(VehicleId(0), Capacity::new(3, 0), LocId(0), TimeWindow::new(0.0, 1e4).unwrap())
            .unwrap();
        Problem::new(travel, requests, vec![v], Objective::Distance).unwrap()
    }

    fn points(n: usize) -> Vec<(f64, f64)> {
        (0..n).map(|i| ((i * 7 % 11) as f64, (i * 5 % 13) as f64 * 0.7)).collect()
    }

    /// Both layouts give every entry of both matrices, whatever is shared.
    fn layouts_agree(c: &Compiled) {
        let n = c.len() as u32;
        for a in 0..n {
            for b in 0..n {
                assert_eq!(c.time_to(a, b).to_bits(), c.time(a, b).to_bits(), "time {a}->{b}");
                assert_eq!(c.dist_to(a, b).to_bits(), c.dist(a, b).to_bits(), "dist {a}->{b}");
            }
        }
    }

    #[test]
    fn symmetric_equal_matrices_share_one_buffer() {
        let c = Compiled::new(&problem(Euclidean::new(points(9)), 4));
        assert!(Arc::ptr_eq(&c.time.rows, &c.time.cols));
        assert!(Arc::ptr_eq(&c.time.rows, &c.dist.rows));
        layouts_agree(&c);
    }

    #[test]
    fn one_way_times_keep_their_direction() {
        let pts = points(9);
        // Uphill is slower: time depends on the direction, distance does not.
        let m = MatrixTravelTimes::from_fn(pts.len(), |i, j| {
            let d = ((pts[i].0 - pts[j].0).powi(2) + (pts[i].1 - pts[j].1).powi(2)).sqrt();
            (if i < j { 1.5 * d } else { d }, d)
        });
        let p = problem(m, 4);
        let c = Compiled::new(&p);
        assert!(!Arc::ptr_eq(&c.time.rows, &c.time.cols));
        assert!(Arc::ptr_eq(&c.dist.rows, &c.dist.cols));
        assert!(!Arc::ptr_eq(&c.time.rows, &c.dist.rows));
        layouts_agree(&c);
        // And the values are the source's, in its direction.
        let (a, b) = (0, 2); // pickups of requests 0 and 1: locations 1 and 3
        assert_eq!(c.time_to(a, b), p.travel.time(LocId(1), LocId(3)));
        assert_eq!(c.time_to(b, a), p.travel.time(LocId(3), LocId(1)));
        assert!(c.time_to(a, b) > c.time_to(b, a));
    }
}
