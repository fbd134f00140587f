//! Dial-a-ride instances of any size shaped like Cordeau's (2006) a and b
//! sets, written in the Cordeau format so every reader and tool takes them.
//!
//! The rules are those of the published sets: points uniform in the square
//! [-10, 10]², the depot at its centre, Euclidean times; the first half of the
//! requests are outbound (a 15-minute window on the drop-off, earliest in
//! [60, T]), the second half inbound (a 15-minute window on the pickup,
//! earliest in [0, T − 60]); set a carries one rider per request with 3
//! minutes of service, capacity 3 and a 30-minute ride limit; set b carries 1
//! to 6 riders with one minute of service each, capacity 6 and 45 minutes.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Which of Cordeau's sets the instance follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DarpSet {
    /// One rider per request, capacity 3, ride limit 30.
    A,
    /// One to six riders per request, capacity 6, ride limit 45.
    B,
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DarpShape {
    pub set: DarpSet,
    pub requests: usize,
    pub vehicles: usize,
    /// Maximum route duration and the window horizon, minutes.
    pub horizon: f64,
    pub seed: u64,
}

impl DarpShape {
    /// One vehicle per ten requests over a 12-hour horizon, as the sets'
    /// 10-12 requests per vehicle (they give 8 per vehicle 8 hours).
    pub fn new(set: DarpSet, requests: usize, seed: u64) -> Self {
        let vehicles = requests.div_ceil(10).max(1);
        let horizon = if requests > 8 * vehicles { 720.0 } else { 480.0 };
        Self { set, requests, vehicles, horizon, seed }
    }

    /// A name in the style of the sets: `ga13-125-s1` (generated, set a,
    /// 13 vehicles, 125 requests, seed 1).
    pub fn name(&self) -> String {
        let set = match self.set {
            DarpSet::A => 'a',
            DarpSet::B => 'b',
        };
        format!("g{set}{}-{}-s{}", self.vehicles.max(1), self.requests, self.seed)
    }
}

/// The instance as Cordeau-format text.
pub fn cordeau_like(shape: &DarpShape) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(shape.seed);
    let n = shape.requests;
    let t = shape.horizon.max(120.0);
    let (cap, max_ride) = match shape.set {
        DarpSet::A => (3, 30.0),
        DarpSet::B => (6, 45.0),
    };
    const WIDTH: f64 = 15.0;
    const DAY: f64 = 1440.0;
    let mut point = || (rng.random_range(-10.0..10.0f64), rng.random_range(-10.0..10.0f64));
    let points: Vec<((f64, f64), (f64, f64))> = (0..n).map(|_| (point(), point())).collect();
    let mut pick = Vec::with_capacity(n);
    let mut drop = Vec::with_capacity(n);
    for (i, _) in points.iter().enumerate() {
        let load = match shape.set {
            DarpSet::A => 1,
            DarpSet::B => rng.random_range(1..=6),
        };
        let service = match shape.set {
            DarpSet::A => 3.0,
            DarpSet::B => f64::from(load),
        };
        let wide = (0.0, DAY);
        if i < n / 2 {
            let e = rng.random_range(60.0..=t).round();
            pick.push((service, load, wide));
            drop.push((service, -load, (e, e + WIDTH)));
        } else {
            let e = rng.random_range(0.0..=t - 60.0).round();
            pick.push((service, load, (e, e + WIDTH)));
            drop.push((service, -load, wide));
        }
    }
    let mut out = format!("{} {} {} {} {}\n", shape.vehicles.max(1), 2 * n, t, cap, max_ride);
    out.push_str(&format!("{:>4} {:>8.3} {:>8.3} {:>2} {:>3} {:>5} {:>5}\n", 0, 0.0, 0.0, 0, 0, 0, DAY));
    let mut line = |id: usize, (x, y): (f64, f64), (s, q, (e, l)): (f64, i32, (f64, f64))| {
        out.push_str(&format!("{id:>4} {x:>8.3} {y:>8.3} {s:>2} {q:>3} {e:>5} {l:>5}\n"));
    };
    for i in 0..n {
        line(i + 1, points[i].0, pick[i]);
    }
    for i in 0..n {
        line(n + i + 1, points[i].1, drop[i]);
    }
    line(2 * n + 1, (0.0, 0.0), (0.0, 0, (0.0, DAY)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::cordeau;

    #[test]
    fn generated_instances_read_back_with_the_shape_asked() {
        for set in [DarpSet::A, DarpSet::B] {
            let shape = DarpShape::new(set, 37, 5);
            let text = cordeau_like(&shape);
            let inst = cordeau::parse_str(&text, "generated", &shape.name()).expect("parses");
            let p = &inst.problem;
            assert_eq!(p.requests().len(), 37);
            assert_eq!(p.vehicles().len(), 4);
            let tight = |w: &noriai_model::TimeWindow| w.latest() - w.earliest() <= 15.0 + 1e-9;
            let outbound = p.requests().iter().filter(|r| tight(&r.dropoff_window)).count();
            let inbound = p.requests().iter().filter(|r| tight(&r.pickup_window)).count();
            assert_eq!((outbound, inbound), (18, 19));
            let cap = if set == DarpSet::A { 3 } else { 6 };
            assert!(p.vehicles().iter().all(|v| v.capacity.as_array()[0] == cap));
            assert!(p.requests().iter().all(|r| (1..=cap).contains(&r.load.as_array()[0])));
            // Same seed, same text; another seed, another instance.
            assert_eq!(cordeau_like(&shape), text);
            assert_ne!(cordeau_like(&DarpShape { seed: 6, ..shape }), text);
        }
    }
}
