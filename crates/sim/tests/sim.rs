//! End-to-end checks of the simulator on the bundled map: bad input is named,
//! demand is reproducible, and a simulated day keeps every promise and every
//! capacity when its executed stops are replayed.

// Helpers shared by the tests unwrap like the tests do.
#![allow(clippy::unwrap_used)]

use noriai_sim::run::{Outcome, StopEvent};
use noriai_sim::{Kpis, MapCache, Scenario, SimError, load_demand, run_one, write_run};
use std::path::{Path, PathBuf};

fn map() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../maps/liechtenstein-2015.osm.pbf")
}

/// A scenario on the bundled map; `extra` replaces or adds sections.
fn scenario_text(fleet: &str, stops: &str, demand: &str) -> String {
    format!(
        r#"
name = "test"
seed = 7
[map]
path = "{map}"
[area]
centre = [47.14, 9.52]
radius_m = 9000
{stops}
[fleet]
{fleet}
depot = [47.141, 9.5215]
shifts = [["07:00", "19:00"], ["09:00", "17:00"]]
[riders]
cancel_probability = 0.08
no_show_probability = 0.05
accept_alternative = 0.3
[batch]
iterations = 300
{demand}
"#,
        map = map().display()
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn parse(text: &str) -> Result<Scenario, SimError> {
    Scenario::parse(text, Path::new("/tmp/s.toml"))
}

#[test]
fn scenario_errors_name_the_key() {
    let base = scenario_text("vehicles = 3\nseats = 8", "", "[demand]\ntrips = 10");
    assert!(parse(&base).is_ok(), "{:?}", parse(&base).err());

    let e = parse(&base.replace("seats = 8", "seatz = 8")).unwrap_err().to_string();
    assert!(e.contains("fleet") && e.contains("seatz"), "{e}");

    let e = parse(&base.replace("seats = 8", "seats = -2")).unwrap_err().to_string();
    assert!(e.contains("fleet.seats") && e.contains("-2"), "{e}");

    let e = parse(&base.replace("vehicles = 3", "vehicles = 0")).unwrap_err().to_string();
    assert!(e.contains("fleet.vehicles"), "{e}");

    let e = parse(&base.replace("[map]", "[map]\nprofile = \"summer\"")).unwrap_err().to_string();
    assert!(e.contains("map.profile") && e.contains("winter"), "{e}");

    let e = parse(&base.replace("\"09:00\", \"17:00\"", "\"17:00\", \"09:00\"")).unwrap_err().to_string();
    assert!(e.contains("fleet.shifts[1]"), "{e}");

    let e = parse(&base.replace("cancel_probability = 0.08", "cancel_probability = 1.5"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("riders.cancel_probability"), "{e}");

    let e = parse(&format!("{base}\n[rules]\nmax_wait_s = -60\n")).unwrap_err().to_string();
    assert!(e.contains("rules.max_wait_s"), "{e}");

    let e = parse(&base.replace("trips = 10", "trips = \"many\"")).unwrap_err().to_string();
    assert!(e.contains("demand.trips"), "{e}");

    let e =
        parse(&base.replace("iterations = 300", "iterations = 300\nthreads = 0")).unwrap_err().to_string();
    assert!(e.contains("batch.threads"), "{e}");
    let e = parse("name = [").unwrap_err().to_string();
    assert!(e.contains("line 1"), "{e}");
}

/// Japanese Excel saves CSV as Shift_JIS: it is read; bytes that are no
/// text at all get a hint to save as CSV UTF-8.
#[test]
fn a_shift_jis_csv_from_excel_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let text = "origin_lat,origin_lon,destination_lat,destination_lon,time,seats,memo\n\
                47.14,9.52,47.16,9.51,08:30,1,病院へ（付き添いなし）\n";
    let (sjis, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!bad && std::str::from_utf8(&sjis).is_err(), "a real Shift_JIS file, not UTF-8");
    let path = dir.path().join("excel.csv");
    std::fs::write(&path, &sjis).unwrap();
    let d = noriai_sim::demand::read_csv(&path).unwrap();
    assert_eq!(d.trips.len(), 1);
    assert!(d.source.contains("Shift_JIS"), "{}", d.source);
    // UTF-8 with a byte-order mark, as "CSV UTF-8" saves it.
    let bom = dir.path().join("bom.csv");
    std::fs::write(&bom, [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat()).unwrap();
    assert_eq!(noriai_sim::demand::read_csv(&bom).unwrap().trips.len(), 1);
    let junk = dir.path().join("junk.csv");
    std::fs::write(&junk, [0xff_u8, 0xfe, 0x80, 0x81, 0xff, 0x0a]).unwrap();
    let e = noriai_sim::demand::read_csv(&junk).unwrap_err().to_string();
    assert!(e.contains("junk.csv") && e.contains("CSV UTF-8"), "{e}");
}

#[test]
fn csv_bad_row_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = "origin_lat,origin_lon,destination_lat,destination_lon,time,seats,wheelchair\n\
                47.14,9.52,47.16,9.51,08:30,1,0\n";
    let csv = write(dir.path(), "trips.csv", &format!("{good}47.15,9.53,47.17,abc,09:00,1,0\n"));
    let e = noriai_sim::demand::read_csv(&csv).unwrap_err().to_string();
    assert!(e.contains("row 2") && e.contains("line 3") && e.contains("destination_lon"), "{e}");
    let csv = write(dir.path(), "t2.csv", &format!("{good}47.15,9.53,47.17,9.5,25:99,1,0\n"));
    let e = noriai_sim::demand::read_csv(&csv).unwrap_err().to_string();
    assert!(e.contains("row 2") && e.contains("time"), "{e}");
    let csv = write(dir.path(), "t3.csv", &format!("{good}47.15,9.53,47.17,9.5,09:00,0,0\n"));
    let e = noriai_sim::demand::read_csv(&csv).unwrap_err().to_string();
    assert!(e.contains("row 2"), "{e}");
    let csv4 = write(dir.path(), "t4.csv", "o_lat,o_lon,d_lat,d_lon\n1,2,3,4\n");
    let e = noriai_sim::demand::read_csv(&csv4).unwrap_err().to_string();
    assert!(e.contains("time column"), "{e}");
    // The Manhattan trace's own header is understood.
    let csv = write(
        dir.path(),
        "nyc.csv",
        "request_id,o_lat,o_lon,d_lat,d_lon,departure_time,passengers\n0,40.72,-73.99,40.72,-74.0,2014-12-21 00:10:30,2\n",
    );
    let d = noriai_sim::demand::read_csv(&csv).unwrap();
    assert_eq!(d.trips[0].time_s, 630.0);
    assert_eq!(d.trips[0].seats, 2);
}

#[test]
fn points_outside_the_map_are_counted_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "trips.csv",
        "origin_lat,origin_lon,destination_lat,destination_lon,time\n\
         47.141,9.5215,47.166,9.51,09:00\n\
         40.8286,140.7342,47.166,9.51,09:10\n\
         47.141,9.5215,40.5994,140.4853,09:20\n\
         47.06,9.50,47.12,9.52,10:00\n",
    );
    // No area: only the map limits where trips can go.
    let text = format!(
        "seed = 1\n[map]\npath = \"{}\"\n[fleet]\nvehicles = 2\ndepot = [47.141, 9.5215]\n[riders]\ncancel_probability = 0\nno_show_probability = 0\n[demand]\nsource = \"csv\"\ncsv = \"trips.csv\"\n",
        map().display()
    );
    let path = write(dir.path(), "s.toml", &text);
    let sc = Scenario::from_file(&path).unwrap();
    let run = run_one(&sc, &MapCache::new(), None, &noriai_roads::NoProgress).unwrap();
    assert_eq!(run.kpis.requests, 4);
    assert_eq!(run.kpis.outside_map, 2);
    assert_eq!(run.kpis.refused_by_reason.get(&noriai_sim::run::Refusal::OutsideMap), Some(&2));
    assert_eq!(run.kpis.outside_map_examples.len(), 2);
    let examples = run.kpis.outside_map_examples.join("\n");
    assert!(examples.contains("trip 1 origin") && examples.contains("trip 2 destination"), "{examples}");
    assert_eq!(run.kpis.served, 2);
}

#[test]
fn generated_demand_is_reproducible_for_a_seed() {
    let maps = MapCache::new();
    let text =
        |seed: u64| scenario_text("vehicles = 2", "", &format!("[demand]\ntrips = 120\nseed = {seed}"));
    let a = parse(&text(5)).unwrap();
    let world = noriai_sim::world::load_quiet(&a, &maps).unwrap();
    let d1 = load_demand(&a, &world).unwrap();
    let d2 = load_demand(&a, &world).unwrap();
    assert_eq!(d1, d2);
    assert_eq!(d1.trips.len(), 120);
    assert!(d1.trips.iter().all(|t| world.area.as_ref().unwrap().contains(t.origin)));
    let hours: Vec<f64> = d1.trips.iter().map(|t| t.time_s / 3600.0).collect();
    assert!(hours.iter().all(|h| (6.0..20.0).contains(h)), "elderly riders travel by day");
    let b = parse(&text(6)).unwrap();
    let d3 = load_demand(&b, &world).unwrap();
    assert_ne!(d1.trips, d3.trips);
}

/// Replays every vehicle's executed stops against the promises and capacities.
fn replay(run: &noriai_sim::RunOutput) {
    replay_with(run, true);
}

/// Replays a day's executed stops; `on_time` also holds every pickup to
/// its promise, ride and arrival to their limits, and vehicles to their
/// shifts (not so on a day with late legs, where the live rules name the
/// riders they could not keep on time).
fn replay_with(run: &noriai_sim::RunOutput, on_time: bool) -> usize {
    let mut outside_promise = 0;
    let day = &run.day;
    let k: &Kpis = &run.kpis;
    assert_eq!(k.served + k.refused + k.cancelled + k.no_show, k.requests);
    assert_eq!(day.riders.len(), k.requests);
    assert_eq!(day.plan_drift, 0);
    let mut pickups = vec![0usize; day.riders.len()];
    let mut dropoffs = vec![0usize; day.riders.len()];
    let mut no_shows = vec![0usize; day.riders.len()];
    for v in &day.vehicles {
        let mut prev_departure = f64::NEG_INFINITY;
        let (mut seats, mut wheelchairs) = (0i64, 0i64);
        for s in &v.stops {
            assert!(s.leave_s >= prev_departure - 1e-6, "vehicle {} leaves before it is done", v.id);
            assert!(s.arrival_s >= s.leave_s + s.leg_s - 1e-6, "vehicle {} arrives too early", v.id);
            assert!(s.start_s >= s.arrival_s - 1e-6 && s.departure_s >= s.start_s - 1e-6);
            prev_departure = s.departure_s;
            let Some(t) = s.trip else { continue };
            let r = &day.riders[t];
            match s.event {
                StopEvent::Pickup => {
                    pickups[t] += 1;
                    seats += i64::from(r.seats);
                    wheelchairs += i64::from(r.wheelchairs);
                    let (a, b) = r.promise.unwrap();
                    let kept = s.start_s >= a - 1e-6 && s.start_s <= b + 1e-6;
                    assert!(kept || !on_time, "trip {t} picked up outside its promise");
                    assert!(s.start_s >= a - 1e-6, "trip {t} picked up before its promise");
                    outside_promise += usize::from(!kept);
                    assert!(s.start_s >= v.shift.0 - 1e-6);
                }
                StopEvent::Dropoff => {
                    dropoffs[t] += 1;
                    seats -= i64::from(r.seats);
                    wheelchairs -= i64::from(r.wheelchairs);
                    let ride = s.start_s - r.pickup_departure_s.unwrap();
                    assert!(ride <= r.max_ride_s.unwrap() + 1e-6 || !on_time, "trip {t} rode {ride} s");
                    let (a, b) = r.dropoff_window.unwrap();
                    assert!(
                        s.start_s >= a - 1e-6 && (s.start_s <= b + 1e-6 || !on_time),
                        "trip {t} arrived outside its window"
                    );
                }
                StopEvent::NoShow => no_shows[t] += 1,
                StopEvent::EmptyDropoff | StopEvent::Depot => {}
            }
            assert!(seats >= 0 && wheelchairs >= 0);
            assert!(seats <= i64::from(v.capacity.seats), "vehicle {} over its seats", v.id);
            assert!(
                wheelchairs <= i64::from(v.capacity.wheelchairs),
                "vehicle {} over its wheelchair places",
                v.id
            );
            assert_eq!((s.onboard.seats as i64, s.onboard.wheelchairs as i64), (seats, wheelchairs));
        }
        assert_eq!((seats, wheelchairs), (0, 0), "vehicle {} ends the day with riders", v.id);
        if let (Some(last), true) = (v.stops.last(), on_time) {
            assert!(last.arrival_s <= v.shift.1 + 1e-6, "vehicle {} returns after its shift", v.id);
        }
    }
    for (t, r) in day.riders.iter().enumerate() {
        match r.outcome {
            Outcome::Served => assert_eq!((pickups[t], dropoffs[t], no_shows[t]), (1, 1, 0), "trip {t}"),
            Outcome::Refused => {
                assert!(r.reason.is_some());
                assert_eq!(pickups[t] + dropoffs[t] + no_shows[t], 0);
            }
            Outcome::NoShow => assert_eq!((pickups[t], dropoffs[t], no_shows[t]), (0, 0, 1), "trip {t}"),
            Outcome::Cancelled => assert_eq!(pickups[t] + dropoffs[t], 0, "trip {t}"),
        }
        if r.outcome != Outcome::Refused {
            assert!(r.booked_at_s <= r.requested_s, "trip {t} booked after its time");
        }
    }
    outside_promise
}

/// Each vehicle's driver log tells its day as executed: every pickup,
/// drop-off and no-show at the stop's time, the road's delays and
/// breakdowns as counted, a leg begun before each arrival, and read as the
/// server reads stored events, out of service exactly when it broke down.
/// Returns how many vehicles broke down.
fn check_driver_logs(run: &noriai_sim::RunOutput) -> usize {
    use noriai_dispatch::live::{RoadEvent, present_of};
    use noriai_model::live::EventKind;
    let (mut delays, mut broken) = (0, 0);
    for v in &run.day.vehicles {
        let log = &v.events;
        assert!(
            matches!(log.first().map(|e| &e.kind), Some(EventKind::ShiftStarted { .. })),
            "vehicle {}",
            v.id
        );
        assert!(
            log.windows(2).all(|w| w[0].at_s <= w[1].at_s + 1e-9),
            "vehicle {}: events out of order",
            v.id
        );
        let at = |kind: &dyn Fn(&EventKind) -> Option<i64>| -> Vec<(i64, f64)> {
            log.iter().filter_map(|e| kind(&e.kind).map(|b| (b, e.at_s))).collect()
        };
        let executed = |event: StopEvent,
                        time: &dyn Fn(&noriai_sim::run::ExecutedStop) -> f64|
         -> Vec<(i64, f64)> {
            v.stops.iter().filter(|s| s.event == event).map(|s| (s.trip.unwrap() as i64, time(s))).collect()
        };
        let boarded = at(&|k| matches!(k, EventKind::Boarded { .. }).then(|| k.booking()).flatten());
        assert_eq!(boarded, executed(StopEvent::Pickup, &|s| s.departure_s), "vehicle {}", v.id);
        for (trip, t) in &boarded {
            assert_eq!(run.day.riders[*trip as usize].pickup_departure_s, Some(*t));
        }
        let alighted = at(&|k| matches!(k, EventKind::Alighted { .. }).then(|| k.booking()).flatten());
        assert_eq!(alighted, executed(StopEvent::Dropoff, &|s| s.start_s), "vehicle {}", v.id);
        let absent = at(&|k| matches!(k, EventKind::NoShow { .. }).then(|| k.booking()).flatten());
        assert_eq!(absent, executed(StopEvent::NoShow, &|s| s.start_s), "vehicle {}", v.id);
        // Every arrival ends a leg the log began (or the vehicle was there).
        let mut driving = false;
        for e in log {
            match e.kind {
                EventKind::Departed => driving = true,
                EventKind::Arrived { .. } => driving = false,
                EventKind::Breakdown { .. } => assert!(!driving, "vehicle {}: broke down on the way", v.id),
                _ => {}
            }
        }
        delays += log.iter().filter(|e| matches!(e.kind, EventKind::Delayed { .. })).count();
        let breakdowns = log.iter().filter(|e| matches!(e.kind, EventKind::Breakdown { .. })).count();
        assert!(breakdowns <= 1);
        // After a breakdown the vehicle serves nobody.
        if let Some(b) = log.iter().position(|e| matches!(e.kind, EventKind::Breakdown { .. })) {
            assert!(
                log[b..].iter().all(|e| e.kind.booking().is_none()),
                "vehicle {} served after breaking down",
                v.id
            );
        }
        let read: Vec<RoadEvent<'_>> =
            log.iter().map(|e| RoadEvent { at: e.at_s, kind: &e.kind, ride: None }).collect();
        let end = present_of(&read, noriai_model::LocId(0), v.shift.1).unwrap();
        assert_eq!(end.out_of_service, breakdowns == 1, "vehicle {}", v.id);
        broken += breakdowns;
    }
    assert_eq!(delays, run.day.road.late_legs);
    assert_eq!(broken, run.day.road.breakdowns);
    broken
}

#[test]
fn late_legs_and_breakdowns_are_handled_by_the_live_rules() {
    let mut text =
        scenario_text("vehicles = 4\nseats = 3\nwheelchair_places = 1", "", "[demand]\ntrips = 160");
    text.push_str("[road]\ndelay_probability = 0.4\ndelay_minutes = [10, 40]\nbreakdown_probability = 0.5\n");
    let sc = parse(&text).unwrap();
    let run = run_one(&sc, &MapCache::new(), None, &noriai_roads::NoProgress).unwrap();
    let late_pickups = replay_with(&run, false);
    check_driver_logs(&run);
    let road = &run.day.road;
    assert!(road.late_legs > 10, "{road:?}");
    assert!(road.breakdowns >= 1, "{road:?}");
    assert!(road.riders_moved + road.riders_late > 0, "{road:?}");
    // A pickup outside its promise happens only to a rider the rules named late.
    assert!(late_pickups <= road.riders_late, "{late_pickups} late pickups, {road:?}");
    let stranded = run
        .day
        .riders
        .iter()
        .filter(|r| r.reason == Some(noriai_sim::run::Refusal::VehicleBrokeDown))
        .count();
    assert_eq!(stranded, road.riders_stranded);
    assert_eq!(run.kpis.road, *road);
    // The same seed gives the same road.
    let again = run_one(&sc, &MapCache::new(), None, &noriai_roads::NoProgress).unwrap();
    assert_eq!(again.day.road, *road);
    assert_eq!(again.day.riders, run.day.riders);
    // Without trouble on the road, nothing of it is counted.
    let calm = parse(&scenario_text("vehicles = 4\nseats = 3", "", "[demand]\ntrips = 40")).unwrap();
    let calm = run_one(&calm, &MapCache::new(), None, &noriai_roads::NoProgress).unwrap();
    assert_eq!(calm.day.road, noriai_sim::run::RoadRecord::default());
    assert_eq!(check_driver_logs(&calm), 0);
}

#[test]
fn a_day_keeps_every_promise_and_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let text = scenario_text("vehicles = 4\nseats = 3\nwheelchair_places = 1", "", "[demand]\ntrips = 160");
    let sc = parse(&text).unwrap();
    let run = run_one(&sc, &MapCache::new(), None, &noriai_roads::NoProgress).unwrap();
    replay(&run);
    let k = &run.kpis;
    assert_eq!(k.requests, 160);
    assert!(k.served > 60, "served {}", k.served);
    assert!(k.cancelled > 0 && k.no_show > 0, "{} cancelled, {} no-show", k.cancelled, k.no_show);
    assert_eq!(k.promises_kept_share, 1.0);
    assert!(k.km_driven > 0.0 && k.empty_share > 0.0 && k.empty_share < 1.0);
    assert!(k.cost.per_served_trip > 0.0);
    assert_eq!(k.per_hour.iter().map(|h| h.requests).sum::<usize>(), k.requests);
    assert_eq!(k.per_hour.iter().map(|h| h.served).sum::<usize>(), k.served);
    assert!(k.per_hour.iter().any(|h| h.vehicles_in_use == 4));
    assert_eq!(k.refused, k.refused_by_reason.values().sum::<usize>());
    write_run(dir.path(), &run).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("kpis.json")).unwrap()).unwrap();
    assert_eq!(json["requests"], 160);
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(
        html.contains("<svg")
            && !html.contains("<script")
            && !html.contains("http://www.w3.org/2000/svg\" src")
    );
    assert!(!html.contains("https://"), "the report must open offline");
    // A map drawn from OSM data carries its attribution, place names and a scale.
    assert!(html.contains("© OpenStreetMap contributors (ODbL)"));
    assert!(html.contains(">Vaduz</text>") && html.contains(" km</text>"));
    // Refusal reasons read as words in both languages, not identifiers.
    for why in k.refused_by_reason.keys() {
        let (en, ja) = why.label();
        assert!(html.contains(en) && html.contains(ja), "{why:?}");
    }
    assert!(!html.contains("no_vehicle_in_time"));
    // Same scenario, same seed: the same day.
    let again = run_one(&sc, &MapCache::new(), None, &noriai_roads::NoProgress).unwrap();
    assert_eq!(again.day.riders, run.day.riders);
}

#[test]
fn virtual_stops_in_winter_keep_promises_too() {
    let stops = "[stops]\nmode = \"virtual\"\nspacing_m = 500\nmax_walk_m = 600";
    let text = scenario_text("vehicles = 3", stops, "[demand]\ntrips = 90")
        .replace("[map]\n", "[map]\nprofile = \"winter\"\n");
    let sc = parse(&text).unwrap();
    let run = run_one(&sc, &MapCache::new(), None, &noriai_roads::NoProgress).unwrap();
    replay(&run);
    assert!(run.day.stops.len() > 20, "{} stops", run.day.stops.len());
    assert!(run.kpis.walk_m.n > 0 && run.kpis.walk_m.max <= 2.0 * 600.0);
    assert!(run.kpis.served > 20);
}

#[test]
fn compare_and_sweep_share_the_demand() {
    let text = scenario_text("vehicles = 2", "", "[demand]\ntrips = 60");
    let sc = parse(&text).unwrap();
    let plans = noriai_sim::sweep_vehicles(&sc, 1..=3);
    let cmp = noriai_sim::run_many(&plans, &MapCache::new(), 2, &noriai_roads::NoProgress, &|_| {}).unwrap();
    assert_eq!(cmp.runs.len(), 3);
    for r in &cmp.runs {
        assert_eq!(r.kpis.requests, 60);
        replay(r);
    }
    assert!(cmp.runs[2].kpis.served >= cmp.runs[0].kpis.served);
    let dir = tempfile::tempdir().unwrap();
    cmp.write(dir.path(), None).unwrap();
    assert!(dir.path().join("compare.json").exists());
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("(3 vehicles)"));
}

/// Renders the report in a real headless browser when Debian's chromium is installed.
#[test]
fn report_renders_in_headless_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
    else {
        println!("note: chromium is not installed; skipping the browser check (apt-get install -y chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sc = parse(&scenario_text("vehicles = 2", "", "[demand]\ntrips = 40")).unwrap();
    let run = run_one(&sc, &MapCache::new(), None, &noriai_roads::NoProgress).unwrap();
    write_run(dir.path(), &run).unwrap();
    let png = dir.path().join("shot.png");
    let status = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--window-size=1200,2400",
        ])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", dir.path().join("report.html").display()))
        .output()
        .unwrap();
    assert!(png.exists(), "no screenshot: {}", String::from_utf8_lossy(&status.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"));
    assert!(bytes.len() > 30_000, "the screenshot is nearly empty ({} bytes)", bytes.len());
}

/// Riders booking the day before are told a wide window; the evening batch
/// re-plans inside those windows, shortens the planned kilometres, then tells
/// each rider a final window inside the first one, which the day keeps.
#[test]
fn the_evening_batch_shortens_the_plan_and_narrows_each_promise() {
    let text = scenario_text("vehicles = 4\nseats = 4", "", "[demand]\ntrips = 150");
    let sc = parse(&text).unwrap();
    let run = run_one(&sc, &MapCache::new(), None, &noriai_roads::NoProgress).unwrap();
    replay(&run);
    let b = &run.day.batch;
    assert!(b.prebooked > 20, "{} day-before bookings", b.prebooked);
    assert!(b.improved, "the batch found nothing shorter: {b:?}");
    assert!(b.km_after < b.km_before * 0.98, "{:.1} km -> {:.1} km", b.km_before, b.km_after);
    assert_eq!(run.kpis.batch_km_before, b.km_before);
    assert_eq!(run.kpis.batch_km_after, b.km_after);
    assert!(b.narrowed > 0);
    let mut told = 0;
    for r in run.day.riders.iter().filter(|r| r.prebooked) {
        let (Some(wide), Some(fin)) = (r.told_at_booking, r.promise) else { continue };
        told += 1;
        assert!(
            wide.0 <= fin.0 + 1e-6 && fin.1 <= wide.1 + 1e-6,
            "trip {}: {fin:?} not inside {wide:?}",
            r.trip
        );
        assert!(fin.1 - fin.0 <= sc.rules.promise_before_s + sc.rules.promise_after_s + 1e-6);
    }
    assert!(told > 20);
    assert_eq!(run.kpis.promises_kept_share, 1.0);
    // The batch's two searches give the same day on every run.
    let again = run_one(&sc, &MapCache::new(), None, &noriai_roads::NoProgress).unwrap();
    assert_eq!(again.day.batch.km_after, b.km_after);
}

/// Andorra's map tags first-aid posts high on the ski slopes as hospitals,
/// kilometres from any road. Generated demand leaves such places out (and
/// says how many), so no generated trip is refused for being off the map;
/// `demand.exclude` leaves out a kind of destination altogether.
#[test]
fn generated_demand_only_uses_places_a_vehicle_can_reach() {
    let andorra = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/andorra-2013.osm.pbf");
    let text = |extra: &str| {
        format!(
            "name = \"andorra\"\nseed = 3\n[map]\npath = \"{}\"\n[fleet]\nvehicles = 3\ndepot = [42.507, 1.521]\n\
             shifts = [[\"07:00\", \"19:00\"]]\n[demand]\ntrips = 200\n{extra}\n",
            andorra.display()
        )
    };
    let sc = parse(&text("")).unwrap();
    let world = noriai_sim::world::World::load(&sc, &MapCache::new(), &noriai_roads::NoProgress).unwrap();
    let demand = load_demand(&sc, &world).unwrap();
    let net = world.net.as_ref().unwrap();
    for (k, t) in demand.trips.iter().enumerate() {
        assert!(net.snap(t.origin).is_ok() && net.snap(t.destination).is_ok(), "trip {k} ends off the roads");
    }
    assert!(!demand.unreachable_places.is_empty(), "{}", demand.source);
    assert!(demand.source.contains("too far from a road"), "{}", demand.source);
    let run = run_one(&sc, &MapCache::new(), None, &noriai_roads::NoProgress).unwrap();
    assert_eq!(run.kpis.outside_map, 0);

    let without = parse(&text("exclude = [\"medical\", \"school\"]")).unwrap();
    let d2 = load_demand(&without, &world).unwrap();
    assert!(
        d2.unreachable_places.iter().all(|(k, _)| *k != "medical" && *k != "school"),
        "{:?}",
        d2.unreachable_places
    );
    let err = parse(&text("exclude = [\"ski lift\"]")).unwrap_err().to_string();
    assert!(err.contains("demand.exclude") && err.contains("medical"), "{err}");
}

/// One seed is one sample: several demand draws differ, and the spread's
/// mean, minimum and maximum are those of the draws' own KPIs.
#[test]
fn several_demand_draws_give_each_kpis_mean_and_range() {
    let text = scenario_text("vehicles = 3", "", "[demand]\ntrips = 60");
    let sc = parse(&text).unwrap();
    let runs = noriai_sim::run_seeds(&sc, 3, &MapCache::new(), 2, &|| {}).unwrap();
    assert_eq!(runs.len(), 3);
    assert_ne!(runs[0].day.riders, runs[1].day.riders, "each draw has its own demand");
    let dir = tempfile::tempdir().unwrap();
    let spread = noriai_sim::write_seeds(dir.path(), &runs).unwrap();
    let served: Vec<f64> = runs.iter().map(|r| r.kpis.served_share).collect();
    let (mean, lo, hi) = spread.range("served_share").unwrap();
    assert!((mean - served.iter().sum::<f64>() / 3.0).abs() < 1e-9);
    assert_eq!(lo, served.iter().copied().fold(f64::INFINITY, f64::min));
    assert_eq!(hi, served.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    let costs: Vec<f64> = runs.iter().map(|r| r.kpis.cost.per_served_trip).collect();
    let (_, clo, chi) = spread.range("cost.per_served_trip").unwrap();
    assert!(clo <= chi && costs.contains(&clo) && costs.contains(&chi));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("kpis.json")).unwrap()).unwrap();
    assert_eq!(json["draws"], 3);
    assert_eq!(json["per_draw"].as_array().unwrap().len(), 3);
    assert_eq!(json["min"]["served_share"].as_f64().unwrap(), lo);
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("Across 3 demand draws"));
    // The comparison over draws: bars are means, whiskers the ranges.
    let mut small = sc.clone();
    small.fleet.vehicles = 2;
    small.name = "two".into();
    let (draws, spreads) =
        noriai_sim::compare_seeds(&[sc.clone(), small], 2, &MapCache::new(), 2, &|_| {}).unwrap();
    assert_eq!((draws.len(), spreads.len()), (2, 2));
    assert_eq!(draws[0].runs[0].day.riders.len(), draws[0].runs[1].day.riders.len());
    draws[0].write(dir.path(), Some(&spreads)).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("demand draws") && html.contains("stroke=\"#222\""));
}

/// A town's boundary comes as GeoJSON from its GIS office; one with
/// latitude and longitude swapped lands far off the map and says so.
#[test]
fn a_geojson_boundary_is_the_area_and_a_swapped_one_gets_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let corners = [(9.47, 47.04), (9.64, 47.04), (9.64, 47.27), (9.47, 47.27), (9.47, 47.04)];
    let file = |swap: bool| {
        let ring: Vec<String> = corners
            .iter()
            .map(|&(lon, lat)| if swap { format!("[{lat},{lon}]") } else { format!("[{lon},{lat}]") })
            .collect();
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{}},"geometry":{{"type":"MultiPolygon","coordinates":[[[{}]]]}}}}]}}"#,
            ring.join(",")
        )
    };
    let (good, swapped) = (file(false), file(true));
    write(dir.path(), "town.geojson", &good);
    write(dir.path(), "swapped.geojson", &swapped);
    let with_area = |file: &str| {
        scenario_text("vehicles = 3", "", "[demand]\ntrips = 40")
            .replace("centre = [47.14, 9.52]\nradius_m = 9000", &format!("geojson = \"{file}\""))
    };
    let path = write(dir.path(), "s.toml", &with_area("town.geojson"));
    let sc = Scenario::from_file(&path).unwrap();
    let run = run_one(&sc, &MapCache::new(), None, &noriai_roads::NoProgress).unwrap();
    assert!(
        run.world.area.as_ref().is_some_and(|a| a.contains(noriai_model::LatLon { lat: 47.14, lon: 9.52 }))
    );
    assert!(run.kpis.served > 0);
    let path = write(dir.path(), "t.toml", &with_area("swapped.geojson"));
    let sc = Scenario::from_file(&path).unwrap();
    let err = match run_one(&sc, &MapCache::new(), None, &noriai_roads::NoProgress) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("an area far off the map must be refused"),
    };
    assert!(err.contains("area") && err.contains("swapped") && err.contains("km from the map"), "{err}");
    let path = write(dir.path(), "u.toml", &with_area("missing.geojson"));
    let err = Scenario::from_file(&path).unwrap_err().to_string();
    assert!(err.contains("area.geojson") && err.contains("missing.geojson"), "{err}");
}
