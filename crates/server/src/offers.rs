//! Offers quoted to callers and kept until they are booked or expire. Quote
//! handlers add them without waiting for the dispatcher task; the task takes
//! one out only once its booking is durably stored, so a retry after a
//! failed commit can still book it.

use noriai_dispatch::Offer;
use noriai_model::service::{ServiceDay, Trip};
use noriai_model::{Request, TimeWindow};
use noriai_roads::Snapped;
use std::collections::{HashMap, VecDeque};

/// Quoted offers kept for booking at most; the oldest are forgotten first.
pub const MAX_PENDING_OFFERS: usize = 100_000;

/// A priced offer, with what booking it needs.
#[derive(Debug, Clone)]
pub struct PendingOffer {
    pub day: ServiceDay,
    /// The build of the day state it was priced on: a fleet or shift change
    /// since makes its vehicle index meaningless.
    pub built: u64,
    pub trip: Trip,
    /// The road points of the pickup and the dropoff; they join the day's
    /// travel-time table only when the offer is booked.
    pub points: [Snapped; 2],
    pub request: Request,
    pub offer: Offer,
    pub promise: TimeWindow,
    /// Unix seconds after which it can no longer be booked.
    pub expires: i64,
}

/// Offers by id, in the order they expire.
#[derive(Debug)]
pub struct OfferBook {
    offers: HashMap<String, PendingOffer>,
    queue: VecDeque<(i64, String)>,
    seq: u64,
    /// Makes ids differ between runs, so an id from before a restart is never
    /// mistaken for a new offer.
    salt: u64,
    capacity: usize,
}

impl OfferBook {
    pub fn new(salt: u64, capacity: usize) -> Self {
        Self { offers: HashMap::new(), queue: VecDeque::new(), seq: 0, salt, capacity: capacity.max(1) }
    }

    /// Keeps an offer and returns its id. Forgets expired offers first, and
    /// the oldest ones when the book is full. Amortised O(1).
    pub fn add(&mut self, offer: PendingOffer, now: i64) -> String {
        self.forget_old(now);
        self.seq += 1;
        let id = format!("{:x}-{:x}", self.salt & 0xffff_ffff, self.seq);
        self.queue.push_back((offer.expires, id.clone()));
        self.offers.insert(id.clone(), offer);
        id
    }

    pub fn get(&self, id: &str) -> Option<&PendingOffer> {
        self.offers.get(id)
    }

    pub fn remove(&mut self, id: &str) -> Option<PendingOffer> {
        self.offers.remove(id)
    }

    pub fn len(&self) -> usize {
        self.offers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offers.is_empty()
    }

    fn forget_old(&mut self, now: i64) {
        while let Some((expires, _)) = self.queue.front() {
            if *expires > now && self.offers.len() < self.capacity && self.queue.len() <= 2 * self.capacity {
                break;
            }
            if let Some((_, id)) = self.queue.pop_front() {
                self.offers.remove(&id);
            }
        }
    }
}
