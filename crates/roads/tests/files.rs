//! Bad map files get errors that say which and where; prepared files load back
//! identical and are never reused once the map or the profile changed.

mod common;

use noriai_model::LatLon;
use noriai_roads::{NoProgress, Opened, RoadNetwork, RoadsError, SnapError, SpeedProfile};
use std::path::PathBuf;

fn bad(name: &str) -> PathBuf {
    common::repo_root().join("tests/data/bad").join(name)
}

fn import(p: &std::path::Path) -> Result<RoadNetwork, RoadsError> {
    RoadNetwork::import(p, &SpeedProfile::default(), &NoProgress).map(|(n, _)| n)
}

#[test]
fn bad_inputs_name_the_file_and_the_problem() {
    let missing = bad("does-not-exist.osm.pbf");
    let e = import(&missing).expect_err("missing file");
    assert!(matches!(e, RoadsError::Open { .. }), "{e}");
    assert!(e.to_string().contains("does-not-exist.osm.pbf"));

    for name in ["text.osm.pbf", "zero-bytes.osm.pbf"] {
        let e = import(&bad(name)).expect_err(name);
        assert!(matches!(e, RoadsError::NotPbf { .. }), "{name}: {e}");
        assert!(e.to_string().contains(name), "{e}");
    }

    let e = import(&bad("truncated.osm.pbf")).expect_err("truncated");
    assert!(matches!(e, RoadsError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");

    let e = import(&bad("empty-area.osm.pbf")).expect_err("empty");
    assert!(matches!(e, RoadsError::EmptyArea { .. }), "{e}");

    let e = import(&bad("no-roads.osm.pbf")).expect_err("no roads");
    assert!(matches!(e, RoadsError::NoDrivableRoad { ways: 2, .. }), "{e}");
}

#[test]
fn prepared_file_round_trips_and_detects_staleness() {
    let dir = std::env::temp_dir().join(format!("noriai-roads-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let map = dir.join("area.osm.pbf");
    let maps = common::real_maps();
    std::fs::copy(&maps[0], &map).expect("copy");

    let default = SpeedProfile::default();
    let (first, how) = RoadNetwork::open(&map, &default, &NoProgress).expect("import");
    let Opened::Imported(_, Some(cache)) = how else {
        panic!("first open must import and cache, got {how:?}")
    };
    let (again, how) = RoadNetwork::open(&map, &default, &NoProgress).expect("cached");
    assert_eq!(how, Opened::Prepared(cache.clone()));
    assert_eq!(first.graph(), again.graph());
    assert_eq!(first.hierarchy(), again.hierarchy());

    // Another profile with the same name must not reuse the cache.
    let mut faster = SpeedProfile::default();
    faster.default_kmh = faster.default_kmh.map(|v| v * 1.5);
    let (_, how) = RoadNetwork::open(&map, &faster, &NoProgress).expect("rebuild");
    assert!(matches!(how, Opened::Imported(..)), "{how:?}");
    let e = RoadNetwork::load(&cache, Some(&default)).expect_err("profile mismatch");
    assert!(e.to_string().contains("speed profile"), "{e}");

    // A changed map must not reuse the cache either.
    std::fs::copy(&maps[1], &map).expect("copy");
    let (changed, how) = RoadNetwork::open(&map, &faster, &NoProgress).expect("rebuild");
    assert!(matches!(how, Opened::Imported(..)), "{how:?}");
    assert_ne!(changed.graph().nodes.len(), first.graph().nodes.len());

    // A corrupt prepared file is refused with its name.
    let bytes = std::fs::read(&cache).expect("read");
    std::fs::write(&cache, &bytes[..bytes.len() / 2]).expect("truncate");
    let e = RoadNetwork::load(&cache, None).expect_err("corrupt");
    assert!(matches!(e, RoadsError::Prepared { .. }) && e.to_string().contains("truncated"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn far_points_are_refused_with_the_distance() {
    let (_, net) = &common::networks()[0];
    let on_road = net.graph().nodes[0];
    assert!(net.snap(on_road).expect("on road").distance_m < 1.0);
    let far = LatLon { lat: 0.0, lon: 0.0 };
    match net.snap(far) {
        Err(SnapError::TooFar { distance_m, limit_m, .. }) => {
            assert!(distance_m > 1_000_000.0);
            assert_eq!(limit_m, noriai_roads::DEFAULT_MAX_SNAP_M);
        }
        other => panic!("a point in the Gulf of Guinea snapped: {other:?}"),
    }
    let e = net.route(on_road, far).expect_err("refused");
    assert!(e.to_string().contains("from the nearest drivable road"), "{e}");
}

#[test]
fn winter_is_slower_than_summer() {
    let maps = common::real_maps();
    let summer = import(&maps[0]).expect("summer");
    let (winter, _) = RoadNetwork::import(&maps[0], &SpeedProfile::winter(), &NoProgress).expect("winter");
    let nodes = &summer.graph().nodes;
    let (a, b) = (nodes[0], nodes[nodes.len() / 2]);
    let s = summer.route(a, b).expect("route");
    let w = winter.route(a, b).expect("route");
    assert!(w.duration_s > s.duration_s * 1.2, "winter {} s vs summer {} s", w.duration_s, s.duration_s);
}

#[test]
fn a_map_cut_anywhere_is_an_error_not_a_panic() {
    let maps = common::real_maps();
    let bytes = std::fs::read(&maps[0]).expect("read");
    let dir = std::env::temp_dir().join(format!("noriai-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cut = dir.join("cut.osm.pbf");
    for k in 1..40 {
        let len = bytes.len() * k / 40 + k; // odd places, inside headers and data
        std::fs::write(&cut, &bytes[..len.min(bytes.len() - 1)]).expect("write");
        let e = import(&cut).expect_err("a cut file must not import");
        assert!(matches!(e, RoadsError::Corrupt { .. } | RoadsError::NotPbf { .. }), "{e}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_damaged_prepared_file_is_refused_and_rebuilt_from_the_map() {
    let dir = std::env::temp_dir().join(format!("noriai-damaged-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let map = dir.join("area.osm.pbf");
    std::fs::copy(&common::real_maps()[0], &map).expect("copy");
    let profile = SpeedProfile::default();
    let (first, how) = RoadNetwork::open(&map, &profile, &NoProgress).expect("import");
    let Opened::Imported(_, Some(cache)) = how else {
        panic!("first open must import and cache, got {how:?}")
    };
    let good = std::fs::read(&cache).expect("read");
    for at in [100, 5_000, 50_000] {
        let mut bytes = good.clone();
        assert!(at + 8 < bytes.len(), "the prepared file is shorter than {at} bytes");
        // Eight bytes that differ from what is there, as a bad disk block would.
        bytes[at..at + 8].iter_mut().for_each(|b| *b = !*b);
        std::fs::write(&cache, &bytes).expect("write");
        let e = RoadNetwork::load(&cache, None).expect_err("a damaged file must not load");
        let msg = e.to_string();
        assert!(matches!(e, RoadsError::Prepared { .. }), "{msg}");
        assert!(msg.contains("checksum") && msg.contains(&*cache.to_string_lossy()), "{msg}");
        assert!(msg.contains("rebuild"), "{msg}");
        // Opening the map rebuilds the cache from the source instead of serving it.
        let (net, how) = RoadNetwork::open(&map, &profile, &NoProgress).expect("rebuild");
        assert!(matches!(how, Opened::Imported(_, Some(_))), "byte {at}: {how:?}");
        assert_eq!(net.hierarchy(), first.hierarchy());
        assert_eq!(std::fs::read(&cache).expect("read"), good, "the rebuilt cache is the original");
    }
    std::fs::remove_dir_all(&dir).ok();
}
