//! Every tuning constant of the batch search, by name, in one struct.

/// How a large-neighbourhood iteration picks the requests it takes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Uniformly at random.
    Random,
    /// Those whose removal saves most distance, randomised.
    Worst,
    /// Requests close in space and time to a random one (Shaw relatedness).
    Related,
    /// Every request of one random route.
    Route,
}

impl Removal {
    pub const ALL: [Removal; 4] = [Removal::Random, Removal::Worst, Removal::Related, Removal::Route];
}

/// How the removed requests go back in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insertion {
    /// Cheapest first.
    Greedy,
    /// The request that would lose most by waiting for its second-best route first.
    Regret2,
    /// As `Regret2`, over the three best routes.
    Regret3,
    /// `Regret2` on costs blurred by [`SearchParams::noise`].
    NoisyRegret2,
}

impl Insertion {
    pub const ALL: [Insertion; 4] =
        [Insertion::Greedy, Insertion::Regret2, Insertion::Regret3, Insertion::NoisyRegret2];

    /// The regret degree and the noise share of the longest trip.
    pub(crate) fn regret_and_noise(self, noise: f64) -> (usize, f64) {
        match self {
            Insertion::Greedy => (1, 0.0),
            Insertion::Regret2 => (2, 0.0),
            Insertion::Regret3 => (3, 0.0),
            Insertion::NoisyRegret2 => (2, noise),
        }
    }
}

/// Rewards that steer the operators' weights (Ropke and Pisinger 2006).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// The iteration found a new best plan.
    pub new_best: f64,
    /// It improved the current plan.
    pub better: f64,
    /// It was accepted although worse.
    pub accepted: f64,
}

/// Tuning of fleet minimisation (route elimination with an ejection pool).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FleetParams {
    /// Share of a time budget the fleet minimisation may use before the
    /// distance search takes over (an iteration budget gives it that share of
    /// the iterations as steps).
    pub budget_share: f64,
    /// Most requests one ejection may remove from a route.
    pub max_ejected: usize,
    /// Random relocations after every ejection.
    pub perturb_moves: usize,
}

impl Default for FleetParams {
    fn default() -> Self {
        Self { budget_share: 0.5, max_ejected: 2, perturb_moves: 20 }
    }
}

/// The search's tuning. The defaults were chosen on the shared Cordeau and
/// Li & Lim sets and on generated instances, never on a single instance.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    /// Fewest requests an iteration removes.
    pub min_removed: usize,
    /// Most requests removed, as a share of all requests...
    pub max_removed_share: f64,
    /// ...and never more than this.
    pub max_removed: usize,
    /// Start temperature: a plan this share of the distance worse is first
    /// accepted with probability 1/2.
    pub start_worse_share: f64,
    /// End temperature as a share of the start; cooling is geometric in the
    /// share of the budget used.
    pub end_temperature_share: f64,
    pub scores: Scores,
    /// How far a segment's scores move the weights (0: never, 1: forget the past).
    pub reaction: f64,
    /// Iterations per weight update.
    pub segment: u64,
    /// No operator's weight falls below this.
    pub min_weight: f64,
    /// Noise on insertion costs, as a share of the longest trip.
    pub noise: f64,
    /// Worst removal picks rank `y^p · n` for uniform `y`: higher, greedier.
    pub worst_determinism: i32,
    /// The same for related removal.
    pub related_determinism: i32,
    /// Relatedness weight of the pickup and dropoff distances...
    pub related_distance_weight: f64,
    /// ...and of the pickup and dropoff times.
    pub related_time_weight: f64,
    /// Constructions tried after regret-3 while requests remain unserved:
    /// (regret degree, noise).
    pub fallback_constructions: Vec<(usize, f64)>,
    pub fleet: FleetParams,
    /// Passes of tail exchange between routes on every repaired plan (0: none).
    pub tail_passes: usize,
    /// Parallel searches meet this many times, evenly spread over the
    /// budget, and each takes the best plan found so far if it beats its own.
    pub exchanges: usize,
}

impl Default for SearchParams {
    fn default() -> Self {
        Self {
            min_removed: 2,
            max_removed_share: 0.3,
            max_removed: 30,
            start_worse_share: 0.05,
            end_temperature_share: 0.002,
            scores: Scores { new_best: 33.0, better: 9.0, accepted: 13.0 },
            reaction: 0.2,
            segment: 100,
            min_weight: 0.05,
            noise: 0.025,
            worst_determinism: 3,
            related_determinism: 6,
            related_distance_weight: 9.0,
            related_time_weight: 3.0,
            fallback_constructions: vec![(2, 0.0), (1, 0.0), (3, 0.025), (2, 0.025), (3, 0.05), (2, 0.05)],
            fleet: FleetParams::default(),
            tail_passes: 3,
            exchanges: 10,
        }
    }
}
