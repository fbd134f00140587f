//! Offers quoted to callers and kept until they are booked or expire. Quote
//! handlers add them without waiting for the dispatcher task; the task takes
//! one out only once its booking is durably stored, so a retry after a
//! failed commit can still book it. The book is bounded by count and by
//! bytes, so a storm of quotes (with long labels) cannot exhaust memory: the
//! oldest offers are forgotten first.

use noriai_dispatch::Offer;
use noriai_model::service::{ServiceDay, Trip, WindowStage};
use noriai_model::{Request, TimeWindow};
use noriai_roads::Snapped;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Quoted offers kept for booking at most.
pub const MAX_PENDING_OFFERS: usize = 100_000;
/// Memory the kept offers may take at most (an estimate that errs high).
pub const MAX_PENDING_BYTES: usize = 16 << 20;

/// What the offers of one quote share.
#[derive(Debug)]
pub struct QuotedTrip {
    pub day: ServiceDay,
    /// The build of the day state it was priced on: a fleet or shift change
    /// since makes its vehicle index meaningless.
    pub built: u64,
    pub trip: Trip,
    /// The road points of the pickup and the dropoff; they join the day's
    /// travel-time table only when the offer is booked.
    pub points: [Snapped; 2],
    pub request: Request,
}

/// A priced offer, with what booking it needs.
#[derive(Debug, Clone)]
pub struct PendingOffer {
    pub quote: Arc<QuotedTrip>,
    pub offer: Offer,
    pub promise: TimeWindow,
    /// Whether `promise` is the wide window of a booking for a later day.
    pub stage: WindowStage,
    /// Unix seconds after which it can no longer be booked.
    pub expires: i64,
}

impl PendingOffer {
    /// Bytes this offer keeps alive, counting its shared quote in full.
    fn cost(&self, id: &str) -> usize {
        let labels = self.quote.trip.origin.label.len() + self.quote.trip.destination.label.len();
        std::mem::size_of::<PendingOffer>() + std::mem::size_of::<QuotedTrip>() + labels + 2 * id.len() + 96
    }
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
    budget_bytes: usize,
    bytes: usize,
}

impl OfferBook {
    pub fn new(salt: u64, capacity: usize, budget_bytes: usize) -> Self {
        Self {
            offers: HashMap::new(),
            queue: VecDeque::new(),
            seq: 0,
            salt,
            capacity: capacity.max(1),
            budget_bytes,
            bytes: 0,
        }
    }

    /// Keeps an offer and returns its id. Forgets expired offers first, and
    /// the oldest ones when the book is full. Amortised O(1).
    pub fn add(&mut self, offer: PendingOffer, now: i64) -> String {
        self.forget_old(now);
        self.seq += 1;
        let id = format!("{:x}-{:x}", self.salt & 0xffff_ffff, self.seq);
        self.bytes += offer.cost(&id);
        self.queue.push_back((offer.expires, id.clone()));
        self.offers.insert(id.clone(), offer);
        self.forget_old(now);
        id
    }

    pub fn get(&self, id: &str) -> Option<&PendingOffer> {
        self.offers.get(id)
    }

    pub fn remove(&mut self, id: &str) -> Option<PendingOffer> {
        let offer = self.offers.remove(id)?;
        self.bytes = self.bytes.saturating_sub(offer.cost(id));
        Some(offer)
    }

    /// The estimated bytes the kept offers take.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.offers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offers.is_empty()
    }

    fn forget_old(&mut self, now: i64) {
        while let Some((expires, _)) = self.queue.front() {
            let within = self.offers.len() <= self.capacity
                && self.bytes <= self.budget_bytes
                && self.queue.len() <= 2 * self.capacity;
            if *expires > now && within {
                break;
            }
            if let Some((_, id)) = self.queue.pop_front() {
                self.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use noriai_dispatch::Offer;
    use noriai_model::service::{Place, PlaceKind, TripTime};
    use noriai_model::{Capacity, LatLon, LocId, RequestId, VehicleId};

    fn pending(label_len: usize, expires: i64) -> PendingOffer {
        let place = |label: String| Place { kind: PlaceKind::Point(LatLon { lat: 40.8, lon: 140.7 }), label };
        let point = Snapped {
            piece: 0,
            segment: 0,
            fraction: 0.0,
            point: LatLon { lat: 40.8, lon: 140.7 },
            distance_m: 0.0,
        };
        let window = TimeWindow::new(0.0, 600.0).expect("window");
        PendingOffer {
            quote: Arc::new(QuotedTrip {
                day: ServiceDay(20_000),
                built: 1,
                trip: Trip {
                    rider_id: 1,
                    origin: place("x".repeat(label_len)),
                    destination: place(String::new()),
                    time: TripTime::DepartAfter(0),
                    seats: 1,
                    wheelchair_places: 0,
                },
                points: [point, point],
                request: Request::new(RequestId(1), LocId(0), LocId(1), Capacity::new(1, 0))
                    .expect("request"),
            }),
            offer: Offer {
                vehicle: VehicleId(0),
                pickup_after: 0,
                dropoff_after: 0,
                pickup_time: 0.0,
                pickup_window: window,
                expected_arrival: 600.0,
                added_cost: 0.0,
            },
            promise: window,
            stage: WindowStage::Final,
            expires,
        }
    }

    #[test]
    fn the_book_stays_within_its_count_and_bytes() {
        let mut book = OfferBook::new(7, 1_000, 1 << 20);
        let ids: Vec<String> = (0..5_000).map(|_| book.add(pending(900, 10_000), 0)).collect();
        assert!(
            book.len() <= 1_000 && book.bytes() <= 1 << 20,
            "{} offers, {} bytes",
            book.len(),
            book.bytes()
        );
        assert!(book.get(&ids[0]).is_none(), "the oldest are forgotten first");
        assert!(book.get(&ids[4_999]).is_some(), "the newest is kept");
        // Removing an offer gives its bytes back; an emptied book holds none.
        let before = book.bytes();
        assert!(book.remove(&ids[4_999]).is_some());
        assert!(book.bytes() < before);
    }

    #[test]
    fn expired_offers_are_forgotten() {
        let mut book = OfferBook::new(7, 1_000, 1 << 20);
        let old = book.add(pending(0, 100), 0);
        let new = book.add(pending(0, 1_000), 200);
        assert!(book.get(&old).is_none() && book.get(&new).is_some());
        assert_eq!(book.len(), 1);
    }
}
