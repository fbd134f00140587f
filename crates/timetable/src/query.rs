//! What people ask of a timetable: which stop they mean, when the next
//! buses leave, and a route's day as a table. Pure reads of a loaded feed.

use crate::feed::{Feed, Route, Stop, Trip};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use noriai_model::LatLon;
use noriai_model::text::fold_for_search;

/// A stop found by a search, best first.
#[derive(Debug, Clone, Copy)]
pub struct StopHit<'a> {
    pub stop: &'a Stop,
    pub index: u32,
    /// Metres from the point searched near, if one was given.
    pub distance_m: Option<f64>,
}

/// One bus leaving a stop.
#[derive(Debug, Clone)]
pub struct Departure<'a> {
    pub at: DateTime<Utc>,
    /// The service day the trip belongs to (a 25:10 departure is the day before's).
    pub service_day: NaiveDate,
    pub trip: &'a Trip,
    pub route: &'a Route,
    /// The platform it leaves from.
    pub stop: &'a Stop,
    /// Which of the trip's stop times it is.
    pub call: usize,
}

/// A route's trips on one day: stops down, trips across.
#[derive(Debug, Clone)]
pub struct RouteTable<'a> {
    pub stops: Vec<&'a Stop>,
    pub trips: Vec<&'a Trip>,
    /// `times[trip][stop]`: when the trip leaves that stop, if it calls there.
    pub times: Vec<Vec<Option<DateTime<Utc>>>>,
}

impl Feed {
    /// Stops whose name, reading or translation contains `query` (folded:
    /// hiragana = katakana, full = half width, no spaces, any case), and
    /// within `radius_m` of `near` when given; exact matches first, then
    /// names that start with the query, then nearest, then shortest.
    /// Platforms of a station are found through it.
    pub fn search_stops(&self, query: &str, near: Option<(LatLon, f64)>, limit: usize) -> Vec<StopHit<'_>> {
        let q = fold_for_search(query);
        let mut hits: Vec<(u8, f64, usize, StopHit<'_>)> = Vec::new();
        for (i, stop) in self.stops.iter().enumerate() {
            if stop.parent.is_some_and(|p| self.stops[p as usize].is_station) {
                continue;
            }
            let rank = if q.is_empty() {
                2
            } else if stop.keys.contains(&q) {
                0
            } else if stop.keys.iter().any(|k| k.starts_with(&q)) {
                1
            } else if stop.keys.iter().any(|k| k.contains(&q)) {
                2
            } else {
                continue;
            };
            let distance_m = near.and_then(|(p, _)| stop.location.map(|l| p.distance_m(l)));
            if let Some((_, radius)) = near
                && !distance_m.is_some_and(|d| d <= radius)
            {
                continue;
            }
            hits.push((
                rank,
                distance_m.unwrap_or(0.0),
                stop.name.chars().count(),
                StopHit { stop, index: i as u32, distance_m },
            ));
        }
        hits.sort_by(|a, b| {
            (a.0, a.1, a.2)
                .partial_cmp(&(b.0, b.1, b.2))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.3.stop.id.cmp(&b.3.stop.id))
        });
        hits.into_iter().take(limit).map(|h| h.3).collect()
    }

    /// When service day `day`'s times count from: noon minus twelve hours,
    /// local (on the days clocks change, not midnight).
    pub fn day_start(&self, day: NaiveDate) -> Option<DateTime<Utc>> {
        let noon = day.and_hms_opt(12, 0, 0)?;
        let local = self.timezone.from_local_datetime(&noon).earliest()?;
        Some(local.with_timezone(&Utc) - Duration::hours(12))
    }

    /// The service day `at` falls on, local.
    pub fn local_day(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.timezone).date_naive()
    }

    /// The next `limit` departures from stop `index` (and, for a station,
    /// its platforms) at or after `after`, on the days the calendar runs
    /// them; trips after midnight belong to the day before. Looks up to a
    /// week ahead.
    pub fn departures(&self, index: u32, after: DateTime<Utc>, limit: usize) -> Vec<Departure<'_>> {
        let mut from: Vec<u32> = vec![index];
        from.extend(&self.children[index as usize]);
        let first = self.local_day(after) - Duration::days(2);
        let mut out: Vec<Departure<'_>> = Vec::new();
        for offset in 0..10 {
            let day = first + Duration::days(offset);
            let Some(start) = self.day_start(day) else { continue };
            // Every departure of later days is later than any of this one's
            // within a day; stop once enough are found and this day starts after them.
            if out.len() >= limit && out.last().is_some_and(|d| d.at < start) {
                break;
            }
            let since = (after - start).num_seconds().max(0);
            for &s in &from {
                let list = &self.leaving[s as usize];
                let begin = list.partition_point(|l| i64::from(l.departure) < since);
                for l in &list[begin..] {
                    let trip = &self.trips[l.trip as usize];
                    if !self.services[trip.service as usize].runs_on(day) {
                        continue;
                    }
                    let at = start + Duration::seconds(i64::from(l.departure));
                    if out.len() >= limit && out.last().is_some_and(|d| d.at <= at) {
                        break;
                    }
                    out.push(Departure {
                        at,
                        service_day: day,
                        trip,
                        route: &self.routes[trip.route as usize],
                        stop: &self.stops[s as usize],
                        call: l.index as usize,
                    });
                    out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.trip.id.cmp(&b.trip.id)));
                    out.truncate(limit);
                }
            }
        }
        out
    }

    /// Route `route`'s trips on `day`, by first departure, with its stops in
    /// the order its longest trip calls at them (stops only other trips
    /// call at follow where they come).
    pub fn route_table(&self, route: u32, day: NaiveDate) -> RouteTable<'_> {
        let mut trips: Vec<&Trip> = self
            .trips
            .iter()
            .filter(|t| {
                t.route == route && !t.stop_times.is_empty() && self.services[t.service as usize].runs_on(day)
            })
            .collect();
        trips.sort_by_key(|t| (t.direction, t.stop_times[0].departure, t.id.clone()));
        let mut order: Vec<u32> = Vec::new();
        let mut by_length: Vec<&Trip> = trips.clone();
        by_length.sort_by_key(|t| std::cmp::Reverse(t.stop_times.len()));
        for t in by_length {
            let mut at = 0;
            for st in &t.stop_times {
                match order.iter().position(|&s| s == st.stop) {
                    Some(p) => at = p + 1,
                    None => {
                        order.insert(at, st.stop);
                        at += 1;
                    }
                }
            }
        }
        let start = self.day_start(day);
        let times = trips
            .iter()
            .map(|t| {
                order
                    .iter()
                    .map(|s| {
                        let st = t.stop_times.iter().find(|st| st.stop == *s)?;
                        Some(start? + Duration::seconds(i64::from(st.departure)))
                    })
                    .collect()
            })
            .collect();
        RouteTable { stops: order.iter().map(|&s| &self.stops[s as usize]).collect(), trips, times }
    }
}
