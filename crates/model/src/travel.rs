//! The one interface between the dispatch engine and any source of travel times.

/// A location known to a [`TravelTimes`] source: an index into its table of places
/// (a snapped road point, a stop, a node of a benchmark instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct LocId(pub u32);

impl LocId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Travel time and distance between known locations. Pure and cheap to call:
/// the dispatch engine calls it thousands of times per insertion, so sources
/// precompute (a matrix from the road network, a Euclidean formula).
pub trait TravelTimes {
    /// Number of locations; valid ids are `0..len()`.
    fn len(&self) -> usize;
    /// Whether the source knows no location at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Travel time in seconds (or the instance's time unit) from `from` to `to`.
    fn time(&self, from: LocId, to: LocId) -> f64;
    /// Travelled distance in metres (or the instance's distance unit).
    fn distance(&self, from: LocId, to: LocId) -> f64;
}

/// A dense, precomputed table of times and distances (row = from, column = to).
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixTravelTimes {
    n: usize,
    times: Vec<f64>,
    distances: Vec<f64>,
}

impl MatrixTravelTimes {
    /// Builds a table from row-major `n × n` times and distances.
    ///
    /// # Panics
    /// If either vector does not hold exactly `n * n` entries (a programming error).
    pub fn new(n: usize, times: Vec<f64>, distances: Vec<f64>) -> Self {
        assert_eq!(times.len(), n * n, "times must be n×n");
        assert_eq!(distances.len(), n * n, "distances must be n×n");
        Self { n, times, distances }
    }

    /// Builds a table by calling `f(from, to) -> (time, distance)` for every pair.
    pub fn from_fn(n: usize, mut f: impl FnMut(usize, usize) -> (f64, f64)) -> Self {
        let mut times = Vec::with_capacity(n * n);
        let mut distances = Vec::with_capacity(n * n);
        for i in 0..n {
            for j in 0..n {
                let (t, d) = f(i, j);
                times.push(t);
                distances.push(d);
            }
        }
        Self { n, times, distances }
    }
}

impl TravelTimes for MatrixTravelTimes {
    fn len(&self) -> usize {
        self.n
    }
    #[inline]
    fn time(&self, from: LocId, to: LocId) -> f64 {
        self.times[from.index() * self.n + to.index()]
    }
    #[inline]
    fn distance(&self, from: LocId, to: LocId) -> f64 {
        self.distances[from.index() * self.n + to.index()]
    }
}

/// A borrowed source is a source: lets a batch problem borrow a live table.
impl<T: TravelTimes + ?Sized> TravelTimes for &T {
    fn len(&self) -> usize {
        (**self).len()
    }
    #[inline]
    fn time(&self, from: LocId, to: LocId) -> f64 {
        (**self).time(from, to)
    }
    #[inline]
    fn distance(&self, from: LocId, to: LocId) -> f64 {
        (**self).distance(from, to)
    }
}
