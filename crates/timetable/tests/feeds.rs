//! The real feeds bundled in `feeds/` load, are searched the way riders
//! say names, and give the departures an obviously correct scan gives.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use noriai_timetable::{Access, Egress, Feed, FeedError, Journey, JourneyRules, Part};
use std::path::{Path, PathBuf};

fn feed_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../feeds").join(name)
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

fn load(name: &str) -> Feed {
    Feed::load(&feed_path(name), today()).unwrap()
}

/// Every departure from `stop` (and its platforms) at or after `after`,
/// by scanning every trip of the days around it: the reference for
/// `Feed::departures`.
fn departures_by_scan(
    feed: &Feed,
    stop: u32,
    after: DateTime<Utc>,
    limit: usize,
) -> Vec<(DateTime<Utc>, String)> {
    let from: Vec<u32> = (0..feed.stops.len() as u32)
        .filter(|&s| s == stop || feed.stops[s as usize].parent == Some(stop))
        .collect();
    let mut all = Vec::new();
    let local = after.with_timezone(&feed.timezone).date_naive();
    for offset in -2..8 {
        let day = local + Duration::days(offset);
        let start = feed.day_start(day).unwrap();
        for trip in &feed.trips {
            if !feed.services[trip.service as usize].runs_on(day) {
                continue;
            }
            for (k, st) in trip.stop_times.iter().enumerate() {
                let at = start + Duration::seconds(i64::from(st.departure));
                if k + 1 < trip.stop_times.len() && st.boarding && from.contains(&st.stop) && at >= after {
                    all.push((at, trip.id.clone()));
                }
            }
        }
    }
    all.sort();
    all.truncate(limit);
    all
}

#[test]
fn aomori_stops_are_found_by_kanji_kana_and_english() {
    let feed = load("aomori-citybus-gtfs-jp");
    assert!(feed.stops.len() > 800, "{}", feed.stops.len());
    assert!(feed.warnings.iter().any(|w| w.contains("no stop times")), "{:?}", feed.warnings);
    let by_kana = feed.search_stops("あおもりえき", None, 50);
    assert!(!by_kana.is_empty());
    // 青森駅's platforms (read あおもりえき) first, then names that only contain it (新青森駅).
    let names: Vec<&str> = by_kana.iter().map(|h| h.stop.name.as_str()).collect();
    let exact = names.iter().take_while(|n| n.starts_with("青森駅")).count();
    assert!(
        exact >= 4 && names[exact..].iter().all(|n| n.contains("青森駅") && !n.starts_with("青森駅")),
        "{names:?}"
    );
    // Katakana, half-width katakana and kanji find the same stops.
    let ids =
        |hits: Vec<noriai_timetable::StopHit<'_>>| hits.iter().map(|h| h.stop.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(feed.search_stops("アオモリエキ", None, 50)), ids(by_kana.clone()));
    assert_eq!(ids(feed.search_stops("ｱｵﾓﾘｴｷ", None, 50)), ids(by_kana.clone()));
    let stop = by_kana[0].stop;
    assert!(stop.reading.as_deref().is_some_and(|r| r.starts_with("あおもりえき")), "{:?}", stop.reading);
    assert!(feed.stop_name(stop, "en").starts_with("Aomori Sta"), "{}", feed.stop_name(stop, "en"));
    assert_eq!(feed.stop_name(stop, "fr"), stop.name, "an unknown language falls back to the feed's name");
    assert!(by_kana.iter().any(|h| h.stop.platform.is_some()), "platform codes are kept");
    let english = feed.search_stops("aomori sta", None, 50);
    assert!(english.iter().any(|h| h.stop.id == stop.id));
    // Near a point: only stops within the radius, nearest first.
    let here = stop.location.unwrap();
    let near = feed.search_stops("", Some((here, 300.0)), 100);
    assert!(!near.is_empty() && near.len() < feed.stops.len());
    assert!(near.iter().all(|h| h.distance_m.unwrap() <= 300.0));
    assert!(near.windows(2).all(|w| w[0].distance_m <= w[1].distance_m));
    assert!(feed.search_stops("存在しない停留所", None, 10).is_empty());
}

#[test]
fn donan_departures_follow_the_calendar_past_midnight_and_in_readings() {
    let feed = load("donanbus-muroran-gtfs-jp.zip");
    assert_eq!(feed.timezone, chrono_tz::Asia::Tokyo);
    assert!(feed.warnings.iter().any(|w| w.contains("calendar ended")), "{:?}", feed.warnings);
    assert!(feed.trips.iter().map(|t| t.stop_times.len()).sum::<usize>() > 20_000);
    // A stop found by its reading, in hiragana (the feed writes its readings in v1 translations).
    let with_reading = feed.stops.iter().find(|s| s.reading.is_some()).unwrap();
    let reading = with_reading.reading.clone().unwrap();
    let hits = feed.search_stops(&reading, None, 20);
    assert!(
        hits.iter().any(|h| h.stop.id == with_reading.id || Some(h.index) == with_reading.parent),
        "{reading}"
    );
    // Busy stops on a weekday, a Saturday and a date outside the calendar, against the scan.
    let mut busiest: Vec<(usize, u32)> = (0..feed.stops.len() as u32)
        .map(|s| (feed.trips.iter().flat_map(|t| &t.stop_times).filter(|st| st.stop == s).count(), s))
        .collect();
    busiest.sort_unstable_by(|a, b| b.cmp(a));
    let tokyo = chrono_tz::Asia::Tokyo;
    let times = [
        tokyo.with_ymd_and_hms(2020, 6, 1, 7, 0, 0).unwrap(),
        tokyo.with_ymd_and_hms(2020, 6, 6, 21, 30, 0).unwrap(),
        tokyo.with_ymd_and_hms(2020, 12, 31, 23, 50, 0).unwrap(),
        tokyo.with_ymd_and_hms(2022, 1, 10, 8, 0, 0).unwrap(),
    ];
    let mut found = 0;
    for &(_, stop) in busiest.iter().take(8) {
        for at in times {
            let at = at.with_timezone(&Utc);
            let fast: Vec<(DateTime<Utc>, String)> =
                feed.departures(stop, at, 12).iter().map(|d| (d.at, d.trip.id.clone())).collect();
            assert_eq!(
                fast,
                departures_by_scan(&feed, stop, at, 12),
                "stop {} after {at}",
                feed.stops[stop as usize].id
            );
            found += fast.len();
        }
    }
    assert!(found > 100, "{found}");
    let after_end = tokyo.with_ymd_and_hms(2022, 1, 10, 8, 0, 0).unwrap().with_timezone(&Utc);
    assert!(feed.departures(busiest[0].1, after_end, 5).is_empty(), "nothing runs after the calendar ends");
}

#[test]
fn vvs_departures_honour_removed_dates_and_route_tables_are_whole() {
    let feed = load("vvs-bus-751-only.gtfs.zip");
    assert_eq!(feed.timezone, chrono_tz::Europe::Berlin);
    let berlin = chrono_tz::Europe::Berlin;
    for stop in 0..feed.stops.len() as u32 {
        // 2020-04-10 (Good Friday) is removed from service T0#25; 2020-03-29 changes the clocks.
        for at in [
            berlin.with_ymd_and_hms(2020, 4, 9, 18, 0, 0).unwrap(),
            berlin.with_ymd_and_hms(2020, 3, 28, 23, 0, 0).unwrap(),
        ] {
            let at = at.with_timezone(&Utc);
            let fast: Vec<(DateTime<Utc>, String)> =
                feed.departures(stop, at, 6).iter().map(|d| (d.at, d.trip.id.clone())).collect();
            assert_eq!(fast, departures_by_scan(&feed, stop, at, 6));
        }
    }
    let route = feed.routes.iter().position(|r| r.short_name == "752").unwrap() as u32;
    let monday = NaiveDate::from_ymd_opt(2020, 5, 4).unwrap();
    let table = feed.route_table(route, monday);
    assert!(!table.trips.is_empty());
    for (trip, row) in table.trips.iter().zip(&table.times) {
        // Each trip's calls appear once, in its own order.
        let called: Vec<DateTime<Utc>> = row.iter().flatten().copied().collect();
        assert_eq!(called.len(), trip.stop_times.len(), "{}", trip.id);
        let positions: Vec<usize> = trip
            .stop_times
            .iter()
            .map(|st| table.stops.iter().position(|s| s.id == feed.stops[st.stop as usize].id).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]) || trip.direction.is_some(), "{}", trip.id);
    }
}

#[test]
fn a_broken_feed_names_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("agency.txt", "agency_id,agency_name,agency_url,agency_timezone\n1,Bus,https://x,Asia/Tokyo\n");
    write("stops.txt", "stop_id,stop_name,stop_lat,stop_lon\nA,甲,40.8,140.7\nB,乙,40.9,140.8\n");
    write("routes.txt", "route_id,route_short_name,route_long_name,route_type\nR,1,,3\n");
    write("trips.txt", "route_id,service_id,trip_id\nR,平日,T1\n");
    write(
        "calendar.txt",
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n平日,1,1,1,1,1,0,0,20240101,20241231\n",
    );
    write(
        "stop_times.txt",
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\nT1,9:00:00,9:00:00,A,1\nT1,9:1O:00,9:10:00,B,2\n",
    );
    let err = Feed::load(dir.path(), today()).unwrap_err();
    let FeedError::At { file, line, column, message } = &err else { panic!("{err}") };
    assert!(file.ends_with("stop_times.txt"), "{file}");
    assert_eq!((*line, *column), (3, 2), "{err}");
    assert!(message.contains("9:1O:00"), "{message}");
    write(
        "stop_times.txt",
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\nT1,9:00:00,9:00:00,A,1\nT1,25:10:00,25:10:00,Z,2\n",
    );
    let err = Feed::load(dir.path(), today()).unwrap_err().to_string();
    assert!(err.ends_with("stop_times.txt:3:4: stop `Z` is not in stops.txt"), "{err}");
    write(
        "stop_times.txt",
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\nT1,24:50:00,24:50:00,A,1\nT1,25:10:00,25:10:00,B,2\n",
    );
    let feed = Feed::load(dir.path(), today()).unwrap();
    assert!(feed.warnings.iter().any(|w| w.contains("2024-12-31")), "{:?}", feed.warnings);
    // 24:50 on Friday 2024-03-01 is 00:50 on Saturday, local.
    let after = chrono_tz::Asia::Tokyo.with_ymd_and_hms(2024, 3, 2, 0, 0, 0).unwrap().with_timezone(&Utc);
    let next = feed.departures(0, after, 1);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].service_day, NaiveDate::from_ymd_opt(2024, 3, 1).unwrap());
    assert_eq!(
        next[0].at,
        chrono_tz::Asia::Tokyo.with_ymd_and_hms(2024, 3, 2, 0, 50, 0).unwrap().with_timezone(&Utc)
    );
    assert!(Feed::load(&dir.path().join("missing"), today()).is_err());
}

/// The earliest arrival with at most 1, 2, 3 rides by scanning whole trips
/// round by round (a different algorithm from the connection scan): the
/// reference for `Feed::journeys`. Returns the Pareto steps (rides, arrival).
fn journeys_by_trips(
    feed: &Feed,
    accesses: &[Access],
    egresses: &[Egress],
    rules: &JourneyRules,
) -> Vec<(usize, i64)> {
    let n = feed.stops.len();
    let start = accesses.iter().map(|a| a.at).min().unwrap();
    let until = start + rules.horizon_s;
    let mut label = vec![i64::MAX; n];
    let mut by_access = vec![false; n];
    for a in accesses {
        if a.at < label[a.stop as usize] {
            label[a.stop as usize] = a.at;
            by_access[a.stop as usize] = true;
        }
    }
    let first_day = feed.local_day(chrono::DateTime::from_timestamp(start, 0).unwrap()) - Duration::days(1);
    let mut out = Vec::new();
    let mut best = i64::MAX;
    for rides in 1..=rules.max_rides {
        let mut next = label.clone();
        let mut next_by_access = by_access.clone();
        let mut ridden = vec![false; n];
        for offset in 0..4 {
            let day = first_day + Duration::days(offset);
            let Some(day_start) = feed.day_start(day).map(|d| d.timestamp()) else { continue };
            for trip in feed.trips.iter().filter(|t| feed.services[t.service as usize].runs_on(day)) {
                let mut on = false;
                for (k, st) in trip.stop_times.iter().enumerate() {
                    if on && k > 0 {
                        let leg_departs = day_start + i64::from(trip.stop_times[k - 1].departure);
                        let arrives = day_start + i64::from(st.arrival);
                        if leg_departs <= until && arrives < next[st.stop as usize] && st.alighting {
                            next[st.stop as usize] = arrives;
                            next_by_access[st.stop as usize] = false;
                            ridden[st.stop as usize] = true;
                        }
                        if leg_departs > until {
                            break;
                        }
                    }
                    let departs = day_start + i64::from(st.departure);
                    let ready = label[st.stop as usize];
                    let buffer = if by_access[st.stop as usize] { 0 } else { rules.transfer_buffer_s };
                    if !on
                        && k + 1 < trip.stop_times.len()
                        && st.boarding
                        && ready != i64::MAX
                        && ready + buffer <= departs
                        && departs >= start
                        && departs <= until
                    {
                        on = true;
                    }
                }
            }
        }
        let reached: Vec<(usize, i64)> = (0..n).filter(|&s| ridden[s]).map(|s| (s, next[s])).collect();
        for (s, t) in reached {
            for (o, metres) in feed.stops_near_stop(s as u32, rules.max_transfer_walk_m) {
                let at = t + (metres / rules.walk_mps).ceil() as i64;
                if at < next[o as usize] {
                    next[o as usize] = at;
                    next_by_access[o as usize] = false;
                }
            }
        }
        label = next;
        by_access = next_by_access;
        let arrival = egresses
            .iter()
            .filter(|e| label[e.stop as usize] != i64::MAX && !by_access[e.stop as usize])
            .map(|e| label[e.stop as usize] + e.seconds)
            .min();
        if let Some(a) = arrival
            && a < best
        {
            best = a;
            out.push((rides, a));
        }
    }
    out
}

/// Each journey holds together: parts chain from the access to the
/// egress, rides leave and arrive as the feed says, times only go forward.
fn check_journey(feed: &Feed, j: &Journey, accesses: &[Access], egresses: &[Egress], rules: &JourneyRules) {
    let mut at = accesses[j.access].at;
    let mut stop = accesses[j.access].stop;
    let mut last_was_ride = false;
    for part in &j.parts {
        match *part {
            Part::Ride { trip, from, to, departs, arrives } => {
                let t = &feed.trips[trip as usize];
                assert_eq!(t.stop_times[from].stop, stop, "boards where it is");
                let buffer =
                    if last_was_ride || at != accesses[j.access].at { rules.transfer_buffer_s } else { 0 };
                assert!(departs >= at + buffer.min(departs - at), "leaves after the rider is there");
                assert!(to > from && arrives >= departs);
                assert_eq!(
                    arrives - departs,
                    i64::from(t.stop_times[to].arrival) - i64::from(t.stop_times[from].departure)
                );
                (at, stop, last_was_ride) = (arrives, t.stop_times[to].stop, true);
            }
            Part::Walk { from, to, seconds, metres } => {
                assert_eq!(from, stop);
                assert!(metres <= rules.max_transfer_walk_m && seconds >= 0);
                (at, stop, last_was_ride) = (at + seconds, to, false);
            }
        }
    }
    assert_eq!(stop, egresses[j.egress].stop);
    assert_eq!(at + egresses[j.egress].seconds, j.arrives);
}

#[test]
fn journeys_equal_a_scan_of_whole_trips() {
    use rand::{Rng, SeedableRng};
    let rules = JourneyRules { horizon_s: 4 * 3600, ..JourneyRules::default() };
    let tokyo = chrono_tz::Asia::Tokyo;
    let berlin = chrono_tz::Europe::Berlin;
    let cases = [
        (
            load("vvs-bus-751-only.gtfs.zip"),
            berlin.with_ymd_and_hms(2020, 5, 4, 6, 0, 0).unwrap().timestamp(),
        ),
        (
            load("donanbus-muroran-gtfs-jp.zip"),
            tokyo.with_ymd_and_hms(2020, 6, 1, 6, 0, 0).unwrap().timestamp(),
        ),
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut with_transfer = 0;
    for (feed, morning) in &cases {
        let served: Vec<u32> = (0..feed.stops.len() as u32)
            .filter(|&s| feed.trips.iter().any(|t| t.stop_times.iter().any(|st| st.stop == s)))
            .collect();
        let mut found = 0;
        for _ in 0..150 {
            let accesses: Vec<Access> = (0..rng.random_range(1..3))
                .map(|_| Access {
                    stop: served[rng.random_range(0..served.len())],
                    at: morning + rng.random_range(0..12 * 3600),
                })
                .collect();
            let egresses: Vec<Egress> = (0..rng.random_range(1..3))
                .map(|_| Egress {
                    stop: served[rng.random_range(0..served.len())],
                    seconds: rng.random_range(0..900),
                })
                .collect();
            let journeys = feed.journeys(&accesses, &egresses, &rules);
            let steps: Vec<(usize, i64)> = journeys.iter().map(|j| (j.rides, j.arrives)).collect();
            assert_eq!(
                steps,
                journeys_by_trips(feed, &accesses, &egresses, &rules),
                "{accesses:?} {egresses:?}"
            );
            for j in &journeys {
                check_journey(feed, j, &accesses, &egresses, &rules);
                with_transfer += usize::from(j.rides > 1);
            }
            found += journeys.len();
        }
        assert!(found > 50, "{}: {found}", feed.name);
    }
    assert!(with_transfer > 0, "some journeys change vehicles");
}

#[test]
fn in_a_wheelchair_only_accessible_trips_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("agency.txt", "agency_id,agency_name,agency_url,agency_timezone\n1,Bus,https://x,Asia/Tokyo\n");
    write(
        "stops.txt",
        "stop_id,stop_name,stop_lat,stop_lon,wheelchair_boarding\nA,甲,40.80,140.70,1\nB,乙,40.81,140.71,2\nC,丙,40.82,140.72,1\n",
    );
    write("routes.txt", "route_id,route_short_name,route_long_name,route_type\nR,1,,3\n");
    write(
        "trips.txt",
        "route_id,service_id,trip_id,wheelchair_accessible\nR,S,T1,2\nR,S,T2,1\nR,S,T3,1\nR,S,T4,0\n",
    );
    write(
        "calendar.txt",
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\nS,1,1,1,1,1,1,1,20240101,20241231\n",
    );
    write(
        "stop_times.txt",
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n\
         T1,8:00:00,8:00:00,A,1\nT1,8:20:00,8:20:00,C,2\n\
         T2,8:30:00,8:30:00,A,1\nT2,8:50:00,8:50:00,C,2\n\
         T3,8:05:00,8:05:00,A,1\nT3,8:10:00,8:10:00,B,2\n\
         T4,8:15:00,8:15:00,B,1\nT4,8:18:00,8:18:00,C,2\n",
    );
    let feed = Feed::load(dir.path(), today()).unwrap();
    let at = chrono_tz::Asia::Tokyo.with_ymd_and_hms(2024, 3, 1, 7, 55, 0).unwrap().timestamp();
    let ins = [Access { stop: feed.stop_number("A").unwrap(), at }];
    let outs = [Egress { stop: feed.stop_number("C").unwrap(), seconds: 0 }];
    let trips = |j: &Journey| -> Vec<String> {
        j.parts
            .iter()
            .filter_map(|p| match p {
                Part::Ride { trip, .. } => Some(feed.trips[*trip as usize].id.clone()),
                Part::Walk { .. } => None,
            })
            .collect()
    };
    let any = feed.journeys(&ins, &outs, &JourneyRules::default());
    assert_eq!(any.iter().map(trips).collect::<Vec<_>>(), [vec!["T1"], vec!["T3", "T4"]]);
    let step_free = feed.journeys(&ins, &outs, &JourneyRules { step_free: true, ..JourneyRules::default() });
    assert_eq!(
        step_free.iter().map(trips).collect::<Vec<_>>(),
        [vec!["T2"]],
        "T1 is not accessible, B has steps"
    );
}
