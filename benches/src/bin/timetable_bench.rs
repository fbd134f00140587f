//! Timetables: how long each feed takes to load, stop search and departures
//! at the median and p99, each beside its obviously correct baseline in the
//! same run (search: fold every name on each query; departures: scan every
//! trip of the days around).
//!
//! `cargo run --release -p noriai-benches --bin timetable_bench [QUERIES]`

use chrono::{Duration as Days, TimeZone, Utc};
use noriai_benches::{fmt, quantile, repo_root, shared_data};
use noriai_model::text::fold_for_search;
use noriai_timetable::Feed;
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn main() {
    let queries: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let today = Utc::now().date_naive();
    let mut paths = vec![
        repo_root().join("feeds/aomori-citybus-gtfs-jp"),
        repo_root().join("feeds/donanbus-muroran-gtfs-jp.zip"),
        repo_root().join("feeds/vvs-bus-751-only.gtfs.zip"),
    ];
    for extra in ["gtfs/cobblinc-bus-30-only.gtfs.zip", "gtfs/marta-bus-856-only.gtfs.zip"] {
        let p = shared_data().join(extra);
        if p.exists() {
            paths.push(p);
        }
    }
    let mut feeds = Vec::new();
    println!("feed load (median of 5):");
    for path in &paths {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let t = Instant::now();
            match Feed::load(path, today) {
                Ok(f) => last = Some(f),
                Err(e) => {
                    println!("  {}: {e}", path.display());
                    break;
                }
            }
            times.push(t.elapsed());
        }
        if let Some(f) = last {
            let stop_times: usize = f.trips.iter().map(|t| t.stop_times.len()).sum();
            println!(
                "  {:<28} {:>5} stops {:>6} stop times  {}",
                f.name,
                f.stops.len(),
                stop_times,
                fmt(quantile(&mut times, 0.5))
            );
            feeds.push(f);
        }
    }

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    // Queries as people type them: the first two to four characters of a
    // name or a reading, in hiragana.
    let words: Vec<String> = feeds
        .iter()
        .flat_map(|f| f.stops.iter().flat_map(|s| [Some(s.name.clone()), s.reading.clone()]).flatten())
        .collect();
    let queries_text: Vec<String> = (0..queries)
        .map(|_| {
            let w = &words[rng.random_range(0..words.len())];
            w.chars().take(rng.random_range(2..5)).collect()
        })
        .collect();
    let (mut fast, mut slow) = (Vec::new(), Vec::new());
    let mut mismatches = 0;
    for q in &queries_text {
        let t = Instant::now();
        let hits: usize = feeds.iter().map(|f| f.search_stops(q, None, 20).len()).sum();
        fast.push(t.elapsed());
        let t = Instant::now();
        let folded = fold_for_search(q);
        let naive: usize = feeds
            .iter()
            .map(|f| {
                f.stops
                    .iter()
                    .filter(|s| {
                        s.parent.is_none()
                            && (fold_for_search(&s.name).contains(&folded)
                                || s.reading.as_deref().is_some_and(|r| fold_for_search(r).contains(&folded)))
                    })
                    .count()
                    .min(20)
            })
            .sum();
        slow.push(t.elapsed());
        mismatches += usize::from(naive > hits);
    }
    let ratio = quantile(&mut fast, 0.5).as_secs_f64() / quantile(&mut slow, 0.5).as_secs_f64();
    println!(
        "stop search over {} feeds, {queries} queries: median {} p99 {} (baseline, folding every name: median {} p99 {}; ×{ratio:.2}); {mismatches} found fewer than the baseline",
        feeds.len(),
        fmt(quantile(&mut fast, 0.5)),
        fmt(quantile(&mut fast, 0.99)),
        fmt(quantile(&mut slow, 0.5)),
        fmt(quantile(&mut slow, 0.99)),
    );

    // Departures from random stops of the feeds with times, at random times of their calendar.
    let (mut fast, mut slow) = (Vec::new(), Vec::new());
    let timed: Vec<&Feed> =
        feeds.iter().filter(|f| f.trips.iter().any(|t| !t.stop_times.is_empty())).collect();
    for _ in 0..queries / 4 {
        let f = timed[rng.random_range(0..timed.len())];
        let Some((a, z)) = f.span else { continue };
        let day = a + Days::days(rng.random_range(0..=(z - a).num_days()));
        let at = f
            .timezone
            .from_local_datetime(&day.and_hms_opt(rng.random_range(5..22), 0, 0).unwrap_or_default())
            .earliest();
        let Some(at) = at.map(|t| t.with_timezone(&Utc)) else { continue };
        let stop = rng.random_range(0..f.stops.len()) as u32;
        let t = Instant::now();
        let got = f.departures(stop, at, 10);
        fast.push(t.elapsed());
        let t = Instant::now();
        let mut all = Vec::new();
        for offset in -2..8 {
            let d = day + Days::days(offset);
            let Some(start) = f.day_start(d) else { continue };
            for trip in &f.trips {
                if !f.services[trip.service as usize].runs_on(d) {
                    continue;
                }
                for (k, st) in trip.stop_times.iter().enumerate() {
                    let when = start + Days::seconds(i64::from(st.departure));
                    let here = st.stop == stop || f.stops[st.stop as usize].parent == Some(stop);
                    if k + 1 < trip.stop_times.len() && st.boarding && here && when >= at {
                        all.push((when, trip.id.as_str()));
                    }
                }
            }
        }
        all.sort();
        all.truncate(10);
        slow.push(t.elapsed());
        assert_eq!(got.iter().map(|d| (d.at, d.trip.id.as_str())).collect::<Vec<_>>(), all);
    }
    let ratio = quantile(&mut fast, 0.5).as_secs_f64() / quantile(&mut slow, 0.5).as_secs_f64();
    println!(
        "departures (next 10), {} queries: median {} p99 {} (baseline, scanning every trip: median {} p99 {}; ×{ratio:.3}); all equal",
        fast.len(),
        fmt(quantile(&mut fast, 0.5)),
        fmt(quantile(&mut fast, 0.99)),
        fmt(quantile(&mut slow, 0.5)),
        fmt(quantile(&mut slow, 0.99)),
    );
}
