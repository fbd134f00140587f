//! A rider's usual places, learnt from their bookings: the places they
//! were fetched from or taken to most often, so an operator books "home to
//! the clinic" in two clicks. Pure: bookings in, places out.

use super::views::{PlaceView, Point};

/// Places closer than this (metres) are one place: the same door, met a
/// few metres apart on different days.
pub const SAME_PLACE_M: f64 = 60.0;
/// At most this many usual places are shown.
pub const MAX_USUAL: usize = 6;

/// A place a rider goes to, and how many trips began or ended there.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct UsualPlace {
    pub place: PlaceView,
    pub trips: u32,
    /// The rider's home (from their profile), always first.
    pub home: bool,
}

/// Metres between two points (equirectangular; exact enough within a town).
pub fn metres(a: Point, b: Point) -> f64 {
    let k = 111_320.0;
    let dy = (a.lat - b.lat) * k;
    let dx = (a.lon - b.lon) * k * ((a.lat + b.lat) / 2.0).to_radians().cos();
    dx.hypot(dy)
}

fn same(a: &PlaceView, b: &PlaceView) -> bool {
    match (a.stop_id, b.stop_id, a.point, b.point) {
        (Some(x), Some(y), _, _) => x == y,
        (None, None, Some(p), Some(q)) => metres(p, q) <= SAME_PLACE_M,
        _ => false,
    }
}

/// The rider's home first, then the places of `trip_ends` (origins and
/// destinations of their bookings) by how often they occur, then by when
/// they first occur; each place keeps the first label given to it.
pub fn usual_places(home: Option<(Point, &str)>, trip_ends: &[PlaceView]) -> Vec<UsualPlace> {
    let mut places: Vec<UsualPlace> = Vec::new();
    if let Some((point, address)) = home {
        let place = PlaceView { stop_id: None, point: Some(point), label: address.to_string() };
        places.push(UsualPlace { place, trips: 0, home: true });
    }
    for end in trip_ends.iter().filter(|e| e.stop_id.is_some() || e.point.is_some()) {
        match places.iter_mut().find(|p| same(&p.place, end)) {
            Some(p) => {
                p.trips += 1;
                if p.place.label.is_empty() {
                    p.place.label.clone_from(&end.label);
                }
            }
            None => places.push(UsualPlace { place: end.clone(), trips: 1, home: false }),
        }
    }
    // Stable: equal counts keep their first-seen order.
    places.sort_by_key(|p| (!p.home, std::cmp::Reverse(p.trips)));
    places.truncate(MAX_USUAL);
    places
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(lat: f64, lon: f64, label: &str) -> PlaceView {
        PlaceView { stop_id: None, point: Some(Point { lat, lon }), label: label.into() }
    }

    #[test]
    fn home_first_then_by_trips() {
        let home = Point { lat: 40.8200, lon: 140.7400 };
        let clinic = at(40.8300, 140.7500, "clinic");
        let shop = at(40.8250, 140.7300, "");
        // The door of home met 20 m away counts as home.
        let near_home = at(40.82018, 140.7400, "");
        let ends = vec![
            near_home.clone(),
            clinic.clone(),
            clinic.clone(),
            near_home,
            shop.clone(),
            at(40.83003, 140.75004, ""),
        ];
        let usual = usual_places(Some((home, "新町1-2-3")), &ends);
        let labels: Vec<(&str, u32, bool)> =
            usual.iter().map(|p| (p.place.label.as_str(), p.trips, p.home)).collect();
        assert_eq!(labels, vec![("新町1-2-3", 2, true), ("clinic", 3, false), ("", 1, false)]);
    }

    #[test]
    fn stops_are_the_same_place_by_id() {
        let stop = |id, label: &str| PlaceView { stop_id: Some(id), point: None, label: label.into() };
        let usual = usual_places(None, &[stop(3, ""), stop(4, "station"), stop(3, "post office")]);
        assert_eq!(usual.len(), 2);
        assert_eq!(
            (usual[0].place.stop_id, usual[0].trips, usual[0].place.label.as_str()),
            (Some(3), 2, "post office")
        );
    }

    proptest! {
        /// Against a plain count: every trip end is counted once, in the
        /// place it is within reach of, and the order is by count.
        #[test]
        fn counts_add_up(points in proptest::collection::vec((0u8..4, 0u8..4), 0..40)) {
            // A grid 500 m apart: points on one node are one place, others never.
            let ends: Vec<PlaceView> = points
                .iter()
                .map(|&(i, j)| at(40.0 + f64::from(i) * 0.0045, 140.0 + f64::from(j) * 0.006, ""))
                .collect();
            let usual = usual_places(None, &ends);
            let mut counts = std::collections::HashMap::new();
            for p in &points {
                *counts.entry(*p).or_insert(0u32) += 1;
            }
            let mut expected: Vec<u32> = counts.values().copied().collect();
            expected.sort_unstable_by(|a, b| b.cmp(a));
            expected.truncate(MAX_USUAL);
            let got: Vec<u32> = usual.iter().map(|p| p.trips).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
