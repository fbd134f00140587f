//! The noriai dispatch engine: it owns scheduling (exact feasibility of a
//! route with time windows, ride times, capacity and route duration), online
//! insertion of one request into a live plan, batch planning with regret
//! insertion and large neighbourhood search, the benchmark instance readers,
//! and an independent checker that judges plans from the routes alone.
//!
//! Pure: no IO (except the instance readers), no async, deterministic for a
//! seed, generic over [`noriai_model::TravelTimes`].

pub mod check;
pub mod euclid;
pub mod formats;
pub mod live;
pub mod online;
pub mod policy;
pub mod problem;
pub mod reference;
pub mod solve;

pub(crate) mod schedule;

pub use check::{Report, verify, verify_stops};
pub use euclid::Euclidean;
pub use online::{Alternative, LivePlan, NoOffer, Offer, OfferOptions, OnlineError, Reason, insert};
pub use policy::{Policy, Wish};
pub use problem::{Objective, Problem, ProblemError};
pub use solve::{Budget, Solution, SolveParams, solve, solve_threads};

#[cfg(test)]
mod proptests;
