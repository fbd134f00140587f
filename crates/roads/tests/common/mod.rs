#![allow(dead_code)]
//! Real maps used by the roads tests: every `.osm.pbf` in `maps/` and `tests/data/`.

use noriai_roads::{NoProgress, RoadNetwork, SpeedProfile};
use std::path::PathBuf;
use std::sync::OnceLock;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn real_maps() -> Vec<PathBuf> {
    let mut maps = Vec::new();
    for dir in ["maps", "tests/data"] {
        let Ok(entries) = std::fs::read_dir(repo_root().join(dir)) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.to_string_lossy().ends_with(".osm.pbf") {
                maps.push(p);
            }
        }
    }
    maps.sort();
    assert!(maps.len() >= 4, "expected the bundled and test maps, found {maps:?}");
    maps
}

/// Every real map, imported once per test binary.
pub fn networks() -> &'static Vec<(PathBuf, RoadNetwork)> {
    static NETS: OnceLock<Vec<(PathBuf, RoadNetwork)>> = OnceLock::new();
    NETS.get_or_init(|| {
        real_maps()
            .into_iter()
            .map(|p| {
                let (net, _) = RoadNetwork::import(&p, &SpeedProfile::default(), &NoProgress)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                (p, net)
            })
            .collect()
    })
}
