//! Roads closed at run time: routes go around them, the hierarchy of the
//! closed network still gives exactly Dijkstra's times, and a point on a
//! closed road is met at its end.
#![allow(clippy::unwrap_used)]

mod common;

use noriai_model::LatLon;
use noriai_roads::{RoadNetwork, Snapped};
use proptest::prelude::*;
use std::sync::OnceLock;

fn bundled() -> &'static RoadNetwork {
    &common::networks()
        .iter()
        .find(|(p, _)| p.to_string_lossy().contains("maps/"))
        .expect("the bundled map")
        .1
}

fn point(net: &RoadNetwork, u: f64, v: f64) -> Snapped {
    let nodes = &net.graph().nodes;
    let node = nodes[((u * nodes.len() as f64) as usize).min(nodes.len() - 1)];
    let next = nodes[((v * nodes.len() as f64) as usize).min(nodes.len() - 1)];
    // Between two junctions, so points fall on pieces, not only at their ends.
    net.snap(LatLon { lat: (3.0 * node.lat + next.lat) / 4.0, lon: (3.0 * node.lon + next.lon) / 4.0 })
        .or_else(|_| net.snap(node))
        .unwrap()
}

/// The pieces a fastest route between two points drives along.
fn pieces_on_route(net: &RoadNetwork, s: &Snapped, t: &Snapped) -> Vec<u32> {
    let mut q = net.query();
    let meeting = q.shortest(&net.source_seeds(s), &net.target_seeds(t)).unwrap();
    q.path(&meeting).into_iter().map(|arc| arc / 2).collect()
}

/// Every tenth piece closed, once per test binary.
fn sparse_closed() -> &'static RoadNetwork {
    static NET: OnceLock<RoadNetwork> = OnceLock::new();
    NET.get_or_init(|| {
        let net = bundled();
        let pieces: Vec<u32> = (0..net.graph().pieces.len() as u32).step_by(10).collect();
        net.with_closed(&pieces)
    })
}

#[test]
fn a_closed_road_is_driven_around_and_never_along() {
    let net = bundled();
    let mut checked = 0;
    for k in 1..40 {
        let (s, t) = (point(net, k as f64 / 41.0, 0.5), point(net, 1.0 - k as f64 / 41.0, 0.3));
        let Some((open, _)) = net.travel(&s, &t) else { continue };
        let on_route = pieces_on_route(net, &s, &t);
        let Some(&middle) = on_route.get(on_route.len() / 2) else { continue };
        if middle == s.piece || middle == t.piece {
            continue;
        }
        let closed = net.with_closed(&[middle]);
        assert_eq!(closed.closed_pieces(), vec![middle]);
        // No way at all is fine too: the closure cut the two points apart.
        if let Some((around, _)) = closed.travel(&s, &t) {
            assert!(around >= open - 1e-9, "closing a road made the trip faster: {open} s -> {around} s");
            assert!(
                !pieces_on_route(&closed, &s, &t).contains(&middle),
                "the route still uses piece {middle}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} routes could be checked");
}

#[test]
fn a_rider_on_a_closed_road_is_met_at_its_end() {
    let net = bundled();
    let (s, t) = (point(net, 0.2, 0.7), point(net, 0.8, 0.1));
    let closed = net.with_closed(&[t.piece]);
    let open = net.travel(&s, &t).unwrap().0;
    let around = closed.travel(&s, &t).expect("reached from the piece ends").0;
    assert!(around >= open - 1e-9);
    assert_eq!(closed.travel_dijkstra(&s, &t).map(|x| x.0), Some(around));
}

#[test]
fn an_area_crossing_a_long_road_between_its_bends_closes_it() {
    let net = bundled();
    let g = net.graph();
    // The longest straight stretch of the map, and a 10 m circle on its middle.
    let (piece, a, b) = (0..g.pieces.len())
        .flat_map(|p| {
            let piece = &g.pieces[p];
            let shape = &g.shape[piece.shape_start as usize..piece.shape_end as usize];
            shape.windows(2).map(move |w| (p as u32, w[0], w[1])).collect::<Vec<_>>()
        })
        .max_by(|x, y| x.1.distance_m(x.2).total_cmp(&y.1.distance_m(y.2)))
        .unwrap();
    assert!(a.distance_m(b) > 100.0);
    let mid = LatLon { lat: (a.lat + b.lat) / 2.0, lon: (a.lon + b.lon) / 2.0 };
    let found = net.pieces_where(|q| q.distance_m(mid) < 10.0);
    assert!(found.contains(&piece), "{found:?} misses piece {piece}");
    assert!(net.pieces_where(|q| q.distance_m(mid) < 10.0 && q.lat > 90.0).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// With a tenth of the roads closed, the rebuilt hierarchy gives exactly
    /// the times of plain Dijkstra over the closed graph (or both find no way).
    #[test]
    fn the_closed_hierarchy_matches_dijkstra(u1 in 0.0..1.0f64, v1 in 0.0..1.0f64, u2 in 0.0..1.0f64, v2 in 0.0..1.0f64) {
        let net = sparse_closed();
        let (s, t) = (point(net, u1, v1), point(net, u2, v2));
        let fast = net.travel(&s, &t).map(|x| x.0);
        let slow = net.travel_dijkstra(&s, &t).map(|x| x.0);
        prop_assert_eq!(fast, slow);
    }
}
