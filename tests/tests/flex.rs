//! `noriai export flex` writes a GTFS-Flex feed that a third-party reader
//! (partridge, from PyPI) loads: the service's area as a zone that holds
//! its depot, its hours from the shifts, its booking rules, fare and
//! reading, and its meeting points.
//!
//! The reader runs in Python: `NORIAI_PYTHON` (set by `scripts/test`, which
//! makes a virtual environment with partridge) or `python3`.

use noriai_e2e::*;
use noriai_server::pb;
use std::process::Command;

fn python() -> String {
    std::env::var("NORIAI_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Whether `p` lies inside `ring` (closed, as [lat, lon] pairs), by the even-odd rule.
fn inside(ring: &[serde_json::Value], p: (f64, f64)) -> bool {
    let pts: Vec<(f64, f64)> =
        ring.iter().map(|c| (c[0].as_f64().expect("lat"), c[1].as_f64().expect("lon"))).collect();
    let mut c = false;
    for w in pts.windows(2) {
        let ((alat, alon), (blat, blon)) = (w[0], w[1]);
        if (alat > p.0) != (blat > p.0) && p.1 < (blon - alon) * (p.0 - alat) / (blat - alat) + alon {
            c = !c;
        }
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flex_export_is_read_by_a_third_party_reader() {
    let dir = temp_dir("flex");
    let server = Server::start(&dir, &[]);
    let mut admin = server.clients().await;
    let stop = admin
        .fleet
        .add_stop(pb::AddStopRequest {
            name: "役場前".into(),
            name_kana: "やくばまえ".into(),
            location: ll(47.1410, 9.5215),
        })
        .await
        .expect("stop")
        .into_inner();
    let service = admin
        .accounts
        .list_services(pb::ListServicesRequest {})
        .await
        .expect("services")
        .into_inner()
        .services
        .remove(0);
    let rules = service.rules.expect("rules");

    let zip = dir.join("flex.zip");
    let out = Command::new(binary())
        .args(["export", "flex", "--data-dir"])
        .arg(&dir)
        .args(["--url", "https://www.example.jp/ondemand", "--out"])
        .arg(&zip)
        .output()
        .expect("run noriai export");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let read = Command::new(python())
        .arg(repo_root().join("tests/python/read_flex.py"))
        .arg(&zip)
        .output()
        .expect("run python");
    let stderr = String::from_utf8_lossy(&read.stderr);
    assert!(
        read.status.success(),
        "the third-party reader failed (scripts/test installs partridge into a virtual environment and sets NORIAI_PYTHON): {stderr}"
    );
    let feed: serde_json::Value = serde_json::from_slice(&read.stdout).expect("json");

    for f in [
        "agency.txt",
        "booking_rules.txt",
        "calendar_dates.txt",
        "locations.geojson",
        "stop_times.txt",
        "translations.txt",
    ] {
        assert!(feed["files"].as_array().expect("files").iter().any(|x| x == f), "{f}");
    }
    let routes = feed["routes"].as_array().expect("routes");
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0]["route_type"], "715", "a demand-responsive bus");
    assert_eq!(routes[0]["route_long_name"], service.name.as_str());
    assert_eq!(feed["agency"][0]["agency_phone"], service.operator_phone.as_str());
    assert_eq!(feed["trips"].as_array().expect("trips").len(), 1);
    assert_eq!(feed["service_days"], 60, "the demo fleet has shifts every day of the export");

    // Picked up anywhere in the zone during the shifts (07:00–19:00), set down anywhere in it.
    let times = feed["stop_times"].as_array().expect("stop times");
    assert_eq!(times.len(), 2, "{times:?}");
    for (t, (pickup, dropoff)) in times.iter().zip([("2", "1"), ("1", "2")]) {
        assert_eq!(t["location_id"], "area-1");
        assert_eq!(t["start_pickup_drop_off_window"], "07:00:00");
        assert_eq!(t["end_pickup_drop_off_window"], "19:00:00");
        assert!(t["pickup_type"].as_str().expect("pickup").starts_with(pickup), "{t}");
        assert!(t["drop_off_type"].as_str().expect("dropoff").starts_with(dropoff), "{t}");
        assert_eq!(t["pickup_booking_rule_id"], "book-1");
    }
    let rule = &feed["booking_rules"][0];
    assert_eq!(rule["booking_rule_id"], "book-1");
    assert_eq!(rule["booking_type"], "1");
    assert_eq!(rule["prior_notice_duration_min"], rules.cutoff_minutes.to_string().as_str());
    assert_eq!(rule["prior_notice_duration_max"], (rules.book_days_ahead.max(1) * 1440).to_string().as_str());
    assert_eq!(rule["phone_number"], service.operator_phone.as_str());

    // The zone is the service area: it holds the depot and the meeting point, not a far place.
    let zones = feed["zones"].as_array().expect("zones");
    assert_eq!(zones.len(), 1);
    assert_eq!(zones[0]["id"], "area-1");
    let ring = zones[0]["rings"][0].as_array().expect("ring");
    assert!(inside(ring, (47.142635, 9.544574)), "the depot");
    let at = stop.location.expect("stop place");
    assert!(inside(ring, (at.lat, at.lon)), "the meeting point");
    assert!(!inside(ring, (47.6, 9.5)), "Lake Constance is not served");

    // Readings for the service and the meeting point.
    let translations = feed["translations"].as_array().expect("translations");
    let reading = |table: &str| {
        translations
            .iter()
            .find(|t| t["table_name"] == table && t["language"] == "ja-Hrkt")
            .map(|t| t["translation"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(reading("routes").as_deref(), Some(service.name_kana.as_str()));
    assert_eq!(reading("stops").as_deref(), Some(stop.name_kana.as_str()));

    // Bad input: a URL is required and named.
    let bad = Command::new(binary())
        .args(["export", "flex", "--data-dir"])
        .arg(&dir)
        .args(["--url", "example.jp", "--out"])
        .arg(dir.join("bad.zip"))
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--url"));
}
