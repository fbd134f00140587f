//! Where parallel searches meet to trade their best plans.
//!
//! Every search stops at the same shares of its budget, posts its best plan,
//! waits for the others, and takes the best posted plan if it is better than
//! its own. Under an iteration budget the meeting points are iteration counts,
//! so the result depends only on the seed and the number of searches. A
//! search that ends early (a bug that panics) leaves the meeting, so the
//! others never wait for it forever.

use std::sync::{Condvar, Mutex, MutexGuard};

use super::Sol;

struct State {
    /// Searches still taking part.
    parties: usize,
    /// Searches waiting at the current meeting.
    arrived: usize,
    /// Meetings held so far.
    generation: u64,
    /// Each search's posted best plan and its objective.
    posted: Vec<Option<(f64, Sol)>>,
}

pub(super) struct Exchange {
    state: Mutex<State>,
    met: Condvar,
}

impl Exchange {
    pub(super) fn new(searches: usize) -> Self {
        Self {
            state: Mutex::new(State {
                parties: searches,
                arrived: 0,
                generation: 0,
                posted: vec![None; searches],
            }),
            met: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A search that panicked while holding the lock left nothing half
        // written that matters: the posted plans are whole values.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until every remaining search has arrived.
    fn meet<'a>(&'a self, mut s: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        s.arrived += 1;
        if s.arrived >= s.parties {
            s.arrived = 0;
            s.generation += 1;
            self.met.notify_all();
            return s;
        }
        let generation = s.generation;
        while s.generation == generation {
            s = self.met.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s
    }

    /// Posts search `me`'s best plan, waits for the others, and returns the
    /// best plan posted if it beats `mine` (ties go to the lower search).
    pub(super) fn trade(&self, me: usize, mine: f64, plan: &Sol) -> Option<(f64, Sol)> {
        let mut s = self.lock();
        s.posted[me] = Some((mine, plan.clone()));
        let s = self.meet(s);
        let best = s
            .posted
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().map(|(obj, _)| (i, *obj)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))?;
        let taken = (best.1 < mine - 1e-9).then(|| s.posted[best.0].clone()).flatten();
        // Nobody may post the next plans before everyone has read these.
        drop(self.meet(s));
        taken
    }

    /// Search `me` takes no further part.
    pub(super) fn leave(&self) {
        let mut s = self.lock();
        s.parties = s.parties.saturating_sub(1);
        if s.arrived > 0 && s.arrived >= s.parties {
            s.arrived = 0;
            s.generation += 1;
            self.met.notify_all();
        }
    }
}

/// Leaves the exchange when a search ends, however it ends.
pub(super) struct Member<'a>(pub(super) &'a Exchange);

impl Drop for Member<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(bank: u32) -> Sol {
        Sol { routes: Vec::new(), route_of: Vec::new(), bank: vec![bank] }
    }

    #[test]
    fn the_better_plan_goes_to_the_worse_search() {
        let ex = Exchange::new(2);
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| ex.trade(0, 5.0, &plan(0)));
            let b = s.spawn(|| ex.trade(1, 3.0, &plan(1)));
            (a.join().unwrap(), b.join().unwrap())
        });
        let (obj, got) = a.expect("search 0 takes search 1's plan");
        assert_eq!((obj, got.bank), (3.0, vec![1]));
        assert!(b.is_none());
    }

    #[test]
    fn a_search_that_leaves_never_blocks_the_others() {
        let ex = Exchange::new(2);
        std::thread::scope(|s| {
            // Leaves without trading, as a search that panicked would.
            s.spawn(|| drop(Member(&ex)));
            for _ in 0..3 {
                assert!(ex.trade(0, 1.0, &plan(0)).is_none());
            }
        });
    }
}
