//! The contraction hierarchy must give exactly the travel times of plain
//! Dijkstra on every real map, for random points, and its paths and tables
//! must agree with those times.

mod common;

use noriai_model::LatLon;
use noriai_roads::ch::Meeting;
use noriai_roads::{RoadNetwork, Snapped};
use proptest::prelude::*;

/// A random road point: a coordinate inside the map's bounding box, snapped
/// with no distance limit.
fn point(net: &RoadNetwork, u: f64, v: f64) -> Snapped {
    let nodes = &net.graph().nodes;
    let (mut lo, mut hi) = (nodes[0], nodes[0]);
    for p in nodes {
        lo = LatLon { lat: lo.lat.min(p.lat), lon: lo.lon.min(p.lon) };
        hi = LatLon { lat: hi.lat.max(p.lat), lon: hi.lon.max(p.lon) };
    }
    let p = LatLon { lat: lo.lat + u * (hi.lat - lo.lat), lon: lo.lon + v * (hi.lon - lo.lon) };
    let mut probe = net.snap(p);
    if probe.is_err() {
        // Far from roads (a lake, a mountain): fall back to the nearest node.
        let node = nodes[((u * nodes.len() as f64) as usize).min(nodes.len() - 1)];
        probe = net.snap(node);
    }
    probe.expect("a node is on the road")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn hierarchy_matches_dijkstra(u1 in 0.0..1.0f64, v1 in 0.0..1.0f64, u2 in 0.0..1.0f64, v2 in 0.0..1.0f64) {
        for (path, net) in common::networks() {
            let (s, t) = (point(net, u1, v1), point(net, u2, v2));
            let fast = net.travel(&s, &t);
            let slow = net.travel_dijkstra(&s, &t);
            prop_assert!(fast.is_some() && slow.is_some(), "{}: unreachable in a strongly connected graph", path.display());
            let (fast, slow) = (fast.unwrap_or_default(), slow.unwrap_or_default());
            prop_assert!((fast.0 - slow.0).abs() < 1e-9, "{}: CH {} s, Dijkstra {} s", path.display(), fast.0, slow.0);
        }
    }

    #[test]
    fn route_geometry_and_time_agree(u1 in 0.0..1.0f64, v1 in 0.0..1.0f64, u2 in 0.0..1.0f64, v2 in 0.0..1.0f64) {
        for (path, net) in common::networks() {
            let (s, t) = (point(net, u1, v1), point(net, u2, v2));
            let route = net.route(s.point, t.point).map_err(|e| TestCaseError::fail(e.to_string()))?;
            // `route` snaps the coordinates itself; a point on a junction may land
            // on another piece that meets there, so compare with what it snapped to.
            let (s, t) = (net.snap(s.point).map_err(|e| TestCaseError::fail(e.to_string()))?, net.snap(t.point).map_err(|e| TestCaseError::fail(e.to_string()))?);
            let slow = net.travel_dijkstra(&s, &t).unwrap_or_default();
            prop_assert!((route.duration_s - slow.0).abs() < 1e-9, "{}: route {} s, Dijkstra {} s", path.display(), route.duration_s, slow.0);
            // The line starts and ends at the snapped points and is at least as
            // long as the straight line between them.
            let first = route.geometry.first().copied();
            let last = route.geometry.last().copied();
            prop_assert!(first.is_some_and(|p| p.distance_m(s.point) < 0.5));
            prop_assert!(last.is_some_and(|p| p.distance_m(t.point) < 0.5));
            let drawn: f64 = route.geometry.windows(2).map(|w| w[0].distance_m(w[1])).sum();
            prop_assert!(drawn + 1.0 >= s.point.distance_m(t.point));
            // The drawn line has the length the router reports (both from the same shapes).
            prop_assert!((drawn - route.distance_m).abs() <= 0.02 * route.distance_m + 2.0,
                "{}: drawn {drawn} m, reported {} m", path.display(), route.distance_m);
        }
    }
}

/// The arcs of a path from junction `a` to `b` join end to end, run from
/// `a` to `b`, and sum to the answer's time and length.
fn assert_whole_path(map: &std::path::Path, net: &RoadNetwork, a: u32, b: u32, m: &Meeting, arcs: &[u32]) {
    let g = net.graph();
    let time: u64 = arcs.iter().map(|&x| u64::from(g.arc(x).2)).sum();
    assert_eq!(time, u64::from(m.time_ms), "{}: path {a}->{b}", map.display());
    let length: u64 = arcs.iter().map(|&x| u64::from(g.arc_length_dm(x))).sum();
    assert_eq!(length, u64::from(m.length_dm), "{}: length of path {a}->{b}", map.display());
    let mut at = a;
    for &x in arcs {
        assert_eq!(g.arc(x).0, at, "{}: path {a}->{b} breaks", map.display());
        at = g.arc(x).1;
    }
    assert_eq!(at, b, "{}: path {a}->{b} ends elsewhere", map.display());
}

#[test]
fn unpacked_paths_sum_to_query_times() {
    for (path, net) in common::networks() {
        let n = net.graph().nodes.len() as u32;
        let mut q = net.query();
        for i in 0..200u32 {
            let (a, b) = ((i * 7919) % n, (i * 104_729 + 13) % n);
            let seed = |v| noriai_roads::Seed { node: v, time_ms: 0, length_dm: 0 };
            let m = q.shortest(&[seed(a)], &[seed(b)]).expect("strongly connected");
            assert_whole_path(path, net, a, b, &m, &q.path(&m));
        }
    }
}

/// The core's table and the hub labels give the answers (time and length)
/// of the search that climbs to the top, and the core's paths are whole:
/// on every map, some answers run through the core and some meet below it,
/// and both kinds unpack to road arcs that join end to end and sum to the
/// answer.
#[test]
fn core_joins_and_labels_match_the_plain_search() {
    for (path, net) in common::networks() {
        let n = net.graph().nodes.len() as u32;
        let mut q = net.query();
        let seed = |v| noriai_roads::Seed { node: v, time_ms: 0, length_dm: 0 };
        let (mut through, mut below) = (0, 0);
        for i in 0..600u32 {
            // Half the pairs far apart, half near each other.
            let a = (i * 7919) % n;
            let b = if i % 2 == 0 { (i * 104_729 + 13) % n } else { (a + i % 17) % n };
            let plain = q.shortest_without_core(&[seed(a)], &[seed(b)]).expect("strongly connected");
            let m = q.shortest(&[seed(a)], &[seed(b)]).expect("strongly connected");
            assert_eq!(
                (m.time_ms, m.length_dm),
                (plain.time_ms, plain.length_dm),
                "{}: {a}->{b} with the core, and without",
                path.display()
            );
            assert_eq!(
                net.hierarchy().fastest(&[seed(a)], &[seed(b)]),
                Some((plain.time_ms, plain.length_dm)),
                "{}: {a}->{b} looked up in the hub labels",
                path.display()
            );
            if m.through_core() {
                through += 1
            } else {
                below += 1
            }
            assert_whole_path(path, net, a, b, &m, &q.path(&m));
        }
        assert!(
            through > 0 && below > 0,
            "{}: {through} answers through the core, {below} below it",
            path.display()
        );
    }
}

#[test]
fn table_matches_point_queries() {
    for (path, net) in common::networks() {
        let pts: Vec<Snapped> =
            (0..25).map(|i| point(net, (i as f64 * 0.37) % 1.0, (i as f64 * 0.61) % 1.0)).collect();
        let table = net.table(&pts, &pts);
        for (i, s) in pts.iter().enumerate() {
            for (j, t) in pts.iter().enumerate() {
                let one = net.travel(s, t).expect("reachable");
                let k = i * pts.len() + j;
                assert!((table.duration_s[k] - one.0).abs() < 1e-9, "{}: table[{i}][{j}]", path.display());
                assert!((table.distance_m[k] - one.1).abs() < 1e-9);
            }
            assert_eq!(table.duration_s[i * pts.len() + i], 0.0);
        }
    }
}

#[test]
fn growing_point_table_matches_the_batch_table() {
    use noriai_model::{LocId, TravelTimes};
    for (path, net) in common::networks() {
        let pts: Vec<Snapped> =
            (0..40).map(|i| point(net, (i as f64 * 0.29) % 1.0, (i as f64 * 0.53) % 1.0)).collect();
        let mut live = noriai_roads::PointTable::new();
        let ids: Vec<LocId> = pts.iter().map(|p| live.add(net, *p)).collect();
        // Adding a point twice gives the same id.
        assert_eq!(live.add(net, pts[3]), ids[3]);
        let batch = net.table(&pts, &pts);
        for i in 0..pts.len() {
            for j in 0..pts.len() {
                let k = i * pts.len() + j;
                assert!(
                    (live.time(ids[i], ids[j]) - batch.duration_s[k]).abs() < 1e-9,
                    "{}: {i}->{j}: live {} batch {}",
                    path.display(),
                    live.time(ids[i], ids[j]),
                    batch.duration_s[k]
                );
                assert!((live.distance(ids[i], ids[j]) - batch.distance_m[k]).abs() < 1e-9);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// A quote's view (the table plus a few points, unchanged) must give
    /// exactly the times the table gives once those points are added, and
    /// Dijkstra's times; truncating and compacting must keep every other time.
    #[test]
    fn table_view_matches_adding_the_points(
        base in prop::collection::vec((0.0..1.0f64, 0.0..1.0f64), 0..12),
        extra in prop::collection::vec((0.0..1.0f64, 0.0..1.0f64), 1..4),
        repeat_base in any::<bool>(),
    ) {
        use noriai_model::{LocId, TravelTimes};
        for (path, net) in common::networks() {
            let mut table = noriai_roads::PointTable::new();
            let base_ids: Vec<LocId> = base.iter().map(|&(u, v)| table.add(net, point(net, u, v))).collect();
            let mut extra_pts: Vec<Snapped> = extra.iter().map(|&(u, v)| point(net, u, v)).collect();
            if repeat_base && !base.is_empty() {
                extra_pts.push(point(net, base[0].0, base[0].1)); // a point the table knows
            }
            extra_pts.push(extra_pts[0]); // the same new point twice
            let before = table.len();
            let (view, view_ids) = table.with_points(net, &extra_pts);
            let mut grown = table.clone();
            let grown_ids: Vec<LocId> = extra_pts.iter().map(|p| grown.add(net, *p)).collect();
            prop_assert_eq!(&view_ids, &grown_ids, "{}: ids", path.display());
            prop_assert_eq!(view.len(), grown.len());
            for a in 0..grown.len() {
                for b in 0..grown.len() {
                    let (a, b) = (LocId(a as u32), LocId(b as u32));
                    prop_assert_eq!(view.time(a, b), grown.time(a, b), "{}: {:?}->{:?}", path.display(), a, b);
                    prop_assert_eq!(view.distance(a, b), grown.distance(a, b));
                }
            }
            for (p, &id) in extra_pts.iter().zip(&view_ids) {
                for (q, &jd) in extra_pts.iter().zip(&view_ids).filter(|&(_, &jd)| jd != id) {
                    let slow = net.travel_dijkstra(p, q).expect("reachable");
                    prop_assert!((view.time(id, jd) - slow.0).abs() < 1e-6, "{}: view {} dijkstra {}", path.display(), view.time(id, jd), slow.0);
                }
            }
            drop(view);
            prop_assert_eq!(table.len(), before, "a view never changes the table");

            // Truncating gives the added points back; adding them again gives the same table.
            let mut shrunk = grown.clone();
            shrunk.truncate(before);
            prop_assert_eq!(shrunk.len(), before);
            let again: Vec<LocId> = extra_pts.iter().map(|p| shrunk.add(net, *p)).collect();
            prop_assert_eq!(&again, &grown_ids);
            for a in 0..grown.len() {
                for b in 0..grown.len() {
                    let (a, b) = (LocId(a as u32), LocId(b as u32));
                    prop_assert_eq!(shrunk.time(a, b), grown.time(a, b));
                }
            }

            // Compacting to the base points keeps their times under the new ids.
            let (compact, new_id) = grown.compacted(net, &base_ids);
            prop_assert!(compact.len() <= base_ids.len());
            for &a in &base_ids {
                for &b in &base_ids {
                    let (na, nb) = (new_id[a.index()].expect("kept"), new_id[b.index()].expect("kept"));
                    prop_assert_eq!(compact.time(na, nb), grown.time(a, b));
                    prop_assert_eq!(compact.distance(na, nb), grown.distance(a, b));
                }
            }
        }
    }
}
