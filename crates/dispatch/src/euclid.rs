//! Straight-line travel times between 2-D points, the metric of the DARP and
//! PDPTW benchmark instances (distance = time at unit speed, never rounded).

use noriai_model::{LocId, MatrixTravelTimes, TravelTimes};

/// Points in the plane; time is distance divided by `speed`.
#[derive(Debug, Clone, PartialEq)]
pub struct Euclidean {
    points: Vec<(f64, f64)>,
    speed: f64,
}

impl Euclidean {
    /// Points at unit speed (time = distance).
    pub fn new(points: Vec<(f64, f64)>) -> Self {
        Self { points, speed: 1.0 }
    }

    /// Points with a travel speed (distance units per time unit). A speed that
    /// is not a positive finite number falls back to 1.
    pub fn with_speed(points: Vec<(f64, f64)>, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 { speed } else { 1.0 };
        Self { points, speed }
    }

    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// A precomputed table with the same values, for hot loops.
    pub fn to_matrix(&self) -> MatrixTravelTimes {
        MatrixTravelTimes::from_fn(self.points.len(), |i, j| {
            let d = dist(self.points[i], self.points[j]);
            (d / self.speed, d)
        })
    }
}

#[inline]
fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (a.0 - b.0, a.1 - b.1);
    (dx * dx + dy * dy).sqrt()
}

impl TravelTimes for Euclidean {
    fn len(&self) -> usize {
        self.points.len()
    }
    #[inline]
    fn time(&self, from: LocId, to: LocId) -> f64 {
        dist(self.points[from.index()], self.points[to.index()]) / self.speed
    }
    #[inline]
    fn distance(&self, from: LocId, to: LocId) -> f64 {
        dist(self.points[from.index()], self.points[to.index()])
    }
}
