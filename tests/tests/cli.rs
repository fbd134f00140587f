//! The real `noriai` binary's command line: JSON outputs and error messages.

use noriai_e2e::{binary, repo_root};
use std::process::Command;

fn noriai(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(binary()).current_dir(repo_root()).args(args).output().expect("run noriai");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"))
}

#[test]
fn route_json_on_the_bundled_map() {
    let (ok, out, err) = noriai(&["route", "--from", "47.1410,9.5215", "--to", "47.2330,9.5500", "--json"]);
    assert!(ok, "{err}");
    let v = json(&out);
    let (d, m) =
        (v["duration_s"].as_f64().expect("duration_s"), v["distance_m"].as_f64().expect("distance_m"));
    // Vaduz to Ruggell: about 10 km apart as the crow flies, so the road is longer and takes minutes.
    assert!(m > 10_000.0 && m < 30_000.0, "{m}");
    assert!(d > 5.0 * 60.0 && d < 60.0 * 60.0, "{d}");
    assert_eq!(v["geometry"]["type"], "LineString");
    let coords = v["geometry"]["coordinates"].as_array().expect("coordinates");
    assert!(coords.len() > 10);
    assert!(
        (coords[0][1].as_f64().unwrap_or(0.0) - 47.141).abs() < 0.01,
        "starts at the origin, lon/lat order"
    );
}

#[test]
fn route_refuses_a_point_far_from_roads_with_the_distance() {
    let (ok, _, err) = noriai(&["route", "--from", "47.1410,9.5215", "--to", "46.0,9.5"]);
    assert!(!ok);
    assert!(err.contains("from the nearest drivable road"), "{err}");
    let (ok, _, err) =
        noriai(&["route", "--map", "tests/data/bad/text.osm.pbf", "--from", "1,1", "--to", "1,2"]);
    assert!(!ok);
    assert!(err.contains("text.osm.pbf") && err.contains("not an OpenStreetMap PBF"), "{err}");
}

#[test]
fn solve_json_reports_a_feasible_cordeau_solution() {
    let inst = repo_root().join("tests/data/darp/a2-16.txt");
    let inst = inst.to_string_lossy();
    let (ok, out, err) = noriai(&["solve", &inst, "--time-limit", "0.2", "--json"]);
    assert!(ok, "{err}");
    let v = json(&out);
    assert_eq!(v["feasible"], true);
    let cost = v["cost"].as_f64().expect("cost");
    assert!(cost >= 294.25 * 0.9995, "below the best known value: the evaluator would be wrong ({cost})");
    let routes = v["routes"].as_array().expect("routes");
    let mut nodes: Vec<u64> =
        routes.iter().flat_map(|r| r.as_array().into_iter().flatten()).filter_map(|n| n.as_u64()).collect();
    nodes.sort_unstable();
    assert_eq!(nodes, (1..=32).collect::<Vec<u64>>(), "every pickup and dropoff once, depot excluded");
}

#[test]
fn solve_names_the_file_and_line_of_a_bad_instance() {
    let dir = std::env::temp_dir().join(format!("noriai-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("broken.txt");
    std::fs::write(&bad, "2 4 480 3 30\n0 0 0 0 0 0 1440\n1 1.0 oops 3 1 0 1440\n").expect("write");
    let (ok, _, err) = noriai(&["solve", &bad.to_string_lossy(), "--format", "cordeau"]);
    assert!(!ok);
    assert!(err.contains("broken.txt:3"), "{err}");
}

#[test]
fn map_build_says_which_ways_it_left_out_and_why() {
    let out_file = std::env::temp_dir().join(format!("noriai-cli-andorra-{}.noriai", std::process::id()));
    let out_arg = out_file.to_string_lossy().to_string();
    let (ok, out, err) = noriai(&["map", "build", "tests/data/andorra-2013.osm.pbf", "--out", &out_arg]);
    assert!(ok, "{err}");
    let all = format!("{out}{err}");
    let line =
        all.lines().find(|l| l.starts_with("left out:")).unwrap_or_else(|| panic!("no left-out line: {all}"));
    // Andorra's 2013 extract tags a stretch of the CG-2 trunk road as under construction.
    assert!(line.contains("under construction") && line.contains("not for cars"), "{line}");
    let _ = std::fs::remove_file(&out_file);
}
