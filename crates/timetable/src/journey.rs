//! Journeys over one feed: the earliest arrival with at most 1, 2, 3 …
//! rides (rounds of the Connection Scan Algorithm), from several ways in
//! (each an access stop with the earliest time the rider can be there) to
//! several ways out (each an egress stop with the time from there to the
//! destination). Between rides a rider walks to a stop nearby and keeps a
//! transfer buffer. Pure: the caller prices the ways in and out (walking,
//! or an on-demand vehicle) and composes the itinerary.

use crate::feed::Feed;
use chrono::{Duration, NaiveDate};

/// A way onto the network: at `stop` from `at` (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Access {
    pub stop: u32,
    pub at: i64,
}

/// A way off it: from `stop` to the destination in `seconds`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Egress {
    pub stop: u32,
    pub seconds: i64,
}

/// How a journey may be searched.
#[derive(Debug, Clone, Copy)]
pub struct JourneyRules {
    /// Most rides in one journey.
    pub max_rides: usize,
    /// Kept between leaving one vehicle and boarding the next.
    pub transfer_buffer_s: i64,
    /// Walking speed between stops, metres per second.
    pub walk_mps: f64,
    /// Longest walk between two stops.
    pub max_transfer_walk_m: f64,
    /// How far ahead of the first access to look.
    pub horizon_s: i64,
    /// In a wheelchair: no trip or stop the feed marks as not accessible.
    pub step_free: bool,
}

impl Default for JourneyRules {
    fn default() -> Self {
        // Elderly riders: a slow walk, a short transfer walk, time to change.
        Self {
            max_rides: 3,
            transfer_buffer_s: 180,
            walk_mps: 0.8,
            max_transfer_walk_m: 250.0,
            horizon_s: 6 * 3600,
            step_free: false,
        }
    }
}

/// One part of a journey on the network.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// On `trip` from its stop time `from` to `to` (indexes into its
    /// `stop_times`), leaving and arriving at these Unix times.
    Ride { trip: u32, from: usize, to: usize, departs: i64, arrives: i64 },
    /// On foot between two stops.
    Walk { from: u32, to: u32, metres: f64, seconds: i64 },
}

/// A journey from one access to one egress.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    pub access: usize,
    pub egress: usize,
    pub parts: Vec<Part>,
    /// At the destination (after the egress).
    pub arrives: i64,
    pub rides: usize,
}

/// One vehicle moving between two consecutive stops of a trip.
#[derive(Debug, Clone, Copy)]
struct Connection {
    trip: u32,
    /// Index of the departure stop time in the trip.
    call: u32,
    from: u32,
    to: u32,
    departs: i64,
    arrives: i64,
    boarding: bool,
    /// Riders may get off at `to`.
    alighting: bool,
}

/// How a stop was reached in a round.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reached {
    /// From access `i`.
    Access(usize),
    /// Off trip `trip`, boarded at its call `from_call` (at stop `boarded`), alighting at call `to_call`.
    Ride { trip: u32, from_call: u32, to_call: u32, boarded: u32, departs: i64 },
    /// Walked from `from`, reached by ride in the same round.
    Walk { from: u32, metres: f64, seconds: i64 },
}

impl Feed {
    /// The connections of the service days that touch `[from, until]`, by departure.
    fn connections(&self, from: i64, until: i64) -> Vec<Connection> {
        let mut out = Vec::new();
        let Some(first) = chrono::DateTime::from_timestamp(from, 0) else { return out };
        let day0: NaiveDate = self.local_day(first) - Duration::days(1);
        for offset in 0..=((until - from) / 86_400 + 2) {
            let day = day0 + Duration::days(offset);
            let Some(start) = self.day_start(day).map(|s| s.timestamp()) else { continue };
            for (t, trip) in self.trips.iter().enumerate() {
                if !self.services[trip.service as usize].runs_on(day) {
                    continue;
                }
                for (k, w) in trip.stop_times.windows(2).enumerate() {
                    let (departs, arrives) =
                        (start + i64::from(w[0].departure), start + i64::from(w[1].arrival));
                    if departs >= from && departs <= until {
                        out.push(Connection {
                            trip: t as u32,
                            call: k as u32,
                            from: w[0].stop,
                            to: w[1].stop,
                            departs,
                            arrives,
                            boarding: w[0].boarding,
                            alighting: w[1].alighting,
                        });
                    }
                }
            }
        }
        out.sort_by_key(|c| (c.departs, c.arrives, c.trip));
        out
    }

    /// Stops within `max_m` of stop `s` on foot (straight line × 1.3), with the metres.
    pub fn stops_near_stop(&self, s: u32, max_m: f64) -> Vec<(u32, f64)> {
        let Some(here) = self.stops[s as usize].location else { return Vec::new() };
        self.stops
            .iter()
            .enumerate()
            .filter(|&(i, _)| i as u32 != s)
            .filter_map(|(i, o)| Some((i as u32, o.location?.distance_m(here) * 1.3)))
            .filter(|(_, m)| *m <= max_m)
            .collect()
    }

    /// The best journeys from the accesses to the egresses: for each number
    /// of rides up to `rules.max_rides`, the earliest arrival, if it is
    /// earlier than with fewer rides (a Pareto set over arrival and rides).
    pub fn journeys(&self, accesses: &[Access], egresses: &[Egress], rules: &JourneyRules) -> Vec<Journey> {
        let Some(start) = accesses.iter().map(|a| a.at).min() else { return Vec::new() };
        let mut connections = self.connections(start, start + rules.horizon_s);
        if rules.step_free {
            connections.retain(|c| self.trips[c.trip as usize].wheelchair != Some(false));
        }
        let barred = |s: u32| rules.step_free && self.stops[s as usize].wheelchair == Some(false);
        let n = self.stops.len();
        // Walks between stops, computed for the stops the search touches.
        let mut near: Vec<Option<Vec<(u32, f64)>>> = vec![None; n];
        // best[r][s]: earliest time at stop s with at most r rides (ready to board).
        let mut best: Vec<Vec<i64>> = vec![vec![i64::MAX; n]];
        let mut how: Vec<Vec<Option<Reached>>> = vec![vec![None; n]];
        for (i, a) in accesses.iter().enumerate() {
            if (a.stop as usize) < n && a.at < best[0][a.stop as usize] {
                best[0][a.stop as usize] = a.at;
                how[0][a.stop as usize] = Some(Reached::Access(i));
            }
        }
        let mut found: Vec<Journey> = Vec::new();
        let mut best_arrival = i64::MAX;
        for round in 1..=rules.max_rides {
            let prev = &best[round - 1];
            let mut cur = prev.clone();
            let mut cur_how: Vec<Option<Reached>> = vec![None; n];
            // The call and stop where each trip was boarded in this round.
            let mut boarded: Vec<Option<(u32, u32, i64)>> = vec![None; self.trips.len()];
            let mut improved: Vec<u32> = Vec::new();
            for c in &connections {
                let trip = c.trip as usize;
                if boarded[trip].is_none() && c.boarding && !barred(c.from) {
                    // Boarding needs the previous round's arrival plus a buffer, unless it is an access.
                    let ready = prev[c.from as usize];
                    let buffer = match how[round - 1][c.from as usize] {
                        Some(Reached::Access(_)) | None => 0,
                        _ => rules.transfer_buffer_s,
                    };
                    if ready != i64::MAX && ready + buffer <= c.departs {
                        boarded[trip] = Some((c.call, c.from, c.departs));
                    }
                }
                if let Some((from_call, at_stop, departs)) = boarded[trip]
                    && c.arrives < cur[c.to as usize]
                    && c.alighting
                    && !barred(c.to)
                {
                    cur[c.to as usize] = c.arrives;
                    cur_how[c.to as usize] = Some(Reached::Ride {
                        trip: c.trip,
                        from_call,
                        to_call: c.call + 1,
                        boarded: at_stop,
                        departs,
                    });
                    improved.push(c.to);
                }
            }
            // Walk on from the stops reached by a ride in this round.
            improved.sort_unstable();
            improved.dedup();
            for &s in &improved {
                if !matches!(cur_how[s as usize], Some(Reached::Ride { .. })) {
                    continue;
                }
                let walks = near[s as usize]
                    .get_or_insert_with(|| self.stops_near_stop(s, rules.max_transfer_walk_m));
                for &(o, metres) in walks.iter() {
                    let seconds = (metres / rules.walk_mps).ceil() as i64;
                    let t = cur[s as usize] + seconds;
                    if t < cur[o as usize] {
                        cur[o as usize] = t;
                        cur_how[o as usize] = Some(Reached::Walk { from: s, metres, seconds });
                    }
                }
            }
            for s in 0..n {
                if cur_how[s].is_none() {
                    cur_how[s] = how[round - 1][s];
                }
            }
            best.push(cur);
            how.push(cur_how);
            // The best way out with at most `round` rides.
            let arrival = egresses
                .iter()
                .enumerate()
                // Reached by a ride (or a walk after one), not straight from an access.
                .filter(|(_, e)| {
                    (e.stop as usize) < n
                        && best[round][e.stop as usize] != i64::MAX
                        && !matches!(how[round][e.stop as usize], Some(Reached::Access(_)) | None)
                })
                .map(|(i, e)| (best[round][e.stop as usize] + e.seconds, i))
                .min();
            if let Some((arrives, e)) = arrival
                && arrives < best_arrival
                && let Some(j) = self.trace(&how, &best, round, egresses[e].stop, e, arrives)
                && j.rides > 0
            {
                best_arrival = arrives;
                found.push(j);
            }
        }
        found
    }

    /// The journey reaching `stop` in `round`, read back from the labels.
    #[allow(clippy::too_many_arguments)]
    fn trace(
        &self,
        how: &[Vec<Option<Reached>>],
        best: &[Vec<i64>],
        round: usize,
        stop: u32,
        egress: usize,
        arrives: i64,
    ) -> Option<Journey> {
        let mut parts = Vec::new();
        let (mut r, mut s) = (round, stop);
        let mut guard = 0;
        loop {
            guard += 1;
            if guard > 4 * (round + 2) {
                return None;
            }
            match how[r][s as usize]? {
                Reached::Access(i) => {
                    parts.reverse();
                    let rides = parts.iter().filter(|p| matches!(p, Part::Ride { .. })).count();
                    return Some(Journey { access: i, egress, parts, arrives, rides });
                }
                Reached::Walk { from, metres, seconds } => {
                    parts.push(Part::Walk { from, to: s, metres, seconds });
                    s = from;
                }
                Reached::Ride { trip, from_call, to_call, boarded, departs } => {
                    parts.push(Part::Ride {
                        trip,
                        from: from_call as usize,
                        to: to_call as usize,
                        departs,
                        arrives: self.arrival_at(trip, to_call as usize, departs, from_call as usize),
                    });
                    s = boarded;
                    r = r.checked_sub(1)?;
                    // Labels of earlier rounds carry over unchanged; find where this stop was reached.
                    while r > 0
                        && how[r][s as usize] == how[r - 1][s as usize]
                        && best[r][s as usize] == best[r - 1][s as usize]
                    {
                        r -= 1;
                    }
                }
            }
        }
    }

    /// When `trip` arrives at its call `to`, given it leaves call `from` at `departs`.
    fn arrival_at(&self, trip: u32, to: usize, departs: i64, from: usize) -> i64 {
        let st = &self.trips[trip as usize].stop_times;
        departs + i64::from(st[to].arrival) - i64::from(st[from].departure)
    }
}
