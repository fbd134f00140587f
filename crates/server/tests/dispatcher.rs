//! The dispatcher on the bundled map and a real SQLite store: quotes must not
//! grow the day's travel-time table, bookings add exactly their points, and
//! cancellations give memory back without breaking the live plan.

use noriai_model::LatLon;
use noriai_model::service::{Needs, Place, PlaceKind, Rider, ServiceDay, TripAsk, TripTime};
use noriai_roads::{NoProgress, RoadNetwork, SpeedProfile};
use noriai_server::ServicePolicy;
use noriai_server::dispatcher::{BookOptions, BookWhat, Dispatcher, DispatcherHandle};
use noriai_store::Store;
use std::path::PathBuf;
use std::sync::Arc;

fn roads() -> Arc<RoadNetwork> {
    let map = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps/liechtenstein-2015.osm.pbf");
    let (net, _) = RoadNetwork::open(&map, &SpeedProfile::default(), &NoProgress).expect("bundled map");
    Arc::new(net)
}

struct Setup {
    _dir: tempfile::TempDir,
    roads: Arc<RoadNetwork>,
    store: Store,
    handle: DispatcherHandle,
    rider: i64,
    day: ServiceDay,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let roads = roads();
    let url = format!("sqlite://{}", dir.path().join("noriai.sqlite").display());
    let store = Store::connect(&url).await.expect("store");
    noriai_server::demo::seed_if_empty(&store, &roads).await.expect("demo fleet");
    let rider = store
        .insert_rider(&Rider {
            id: 0,
            name: "山田 花子".into(),
            name_kana: "ヤマダ ハナコ".into(),
            phone: "017-734-1111".into(),
            home_address: String::new(),
            home: noriai_server::demo::central_point(&roads),
            needs: Needs::default(),
        })
        .await
        .expect("rider")
        .id;
    let handle = Dispatcher::spawn(roads.clone(), store.clone(), None, ServicePolicy::default());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let day = ServiceDay::of_unix(now as i64).next();
    Setup { _dir: dir, roads, store, handle, rider, day }
}

/// Road nodes spread over the map, as distinct trip ends.
fn points(roads: &RoadNetwork, n: usize) -> Vec<LatLon> {
    let nodes = &roads.graph().nodes;
    (0..n).map(|i| nodes[(i * 7919 + 13) % nodes.len()]).collect()
}

fn trip(s: &Setup, from: LatLon, to: LatLon, hour: f64) -> TripAsk {
    TripAsk {
        rider_id: s.rider,
        origin: Place { kind: PlaceKind::Point(from), label: String::new() },
        destination: Place { kind: PlaceKind::Point(to), label: String::new() },
        time: TripTime::DepartAfter(s.day.midnight_unix() + (hour * 3600.0) as i64),
        seats: None,
        wheelchair_places: None,
    }
}

/// Many trips of one test rider at overlapping times.
const ANYWAY: BookOptions = BookOptions { recurrence: None, allow_overlap: true, audit: None };

async fn table_points(s: &Setup) -> usize {
    s.handle.day_view(s.day).await.expect("day view").table_points()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_do_not_grow_the_table_and_bookings_add_only_their_points() {
    let s = setup().await;
    let depots = table_points(&s).await;
    let pts = points(&s.roads, 602);
    let mut offers = Vec::new();
    for (k, pair) in pts.chunks(2).enumerate() {
        let hour = 8.0 + (k % 10) as f64;
        if let Ok(mut quoted) = s.handle.quote(trip(&s, pair[0], pair[1], hour)).await {
            offers.push(quoted.remove(0));
        }
    }
    assert!(offers.len() > 200, "most quotes find a vehicle: {}", offers.len());
    assert_eq!(table_points(&s).await, depots, "301 quotes must leave the day's table as it was");
    assert!(s.handle.pending_offers() >= offers.len());

    // Booking an offer adds exactly its two points, and takes the offer.
    let booked =
        s.handle.book("key-1".into(), BookWhat::Offer(offers[0].id.clone()), ANYWAY).await.expect("book");
    assert_eq!(table_points(&s).await, depots + 2);
    let again = s.handle.book("key-2".into(), BookWhat::Offer(offers[0].id.clone()), ANYWAY).await;
    assert!(again.is_err(), "an offer is booked once");
    // A retry with the same key returns the same booking and adds nothing.
    let retry =
        s.handle.book("key-1".into(), BookWhat::Offer(offers[0].id.clone()), ANYWAY).await.expect("retry");
    assert_eq!(retry.id, booked.id);
    assert_eq!(table_points(&s).await, depots + 2);

    // Quoting again after a booking still leaves the table alone.
    for pair in pts[..40].chunks(2) {
        let _ = s.handle.quote(trip(&s, pair[1], pair[0], 12.0)).await;
    }
    assert_eq!(table_points(&s).await, depots + 2);
    s.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellations_give_points_back_and_the_plan_stays_whole() {
    let s = setup().await;
    let depots = table_points(&s).await;
    let pts = points(&s.roads, 160);
    let mut booked = Vec::new();
    for (k, pair) in pts.chunks(2).enumerate() {
        let hour = 7.5 + (k % 22) as f64 * 0.5;
        let key = format!("trip-{k}");
        if let Ok(b) = s.handle.book(key, BookWhat::Trip(trip(&s, pair[0], pair[1], hour)), ANYWAY).await {
            booked.push(b);
        }
    }
    assert!(booked.len() >= 40, "the demo fleet takes most trips: {}", booked.len());
    let grown = table_points(&s).await;
    assert!(grown >= depots + booked.len(), "each booking adds its points: {grown}");

    let keep = booked.split_off(booked.len() - 5);
    for b in &booked {
        s.handle.cancel(b.id, None, String::new()).await.expect("cancel");
    }
    let shrunk = table_points(&s).await;
    assert!(shrunk < grown, "cancelled bookings give their points back: {grown} -> {shrunk}");
    assert!(shrunk <= depots + 2 * keep.len() + 2 * (2 * (keep.len() + 3) + 64), "{shrunk}");

    // The remaining bookings are still planned, and new ones still fit.
    let plans = s.store.plans_from(s.day).await.expect("plans");
    let planned: Vec<i64> = plans.iter().flat_map(|p| p.stops.iter().map(|x| x.booking_id)).collect();
    for b in &keep {
        assert_eq!(
            planned.iter().filter(|&&id| id == b.id).count(),
            2,
            "booking {} keeps its two stops",
            b.id
        );
    }
    let quoted = s.handle.quote(trip(&s, pts[0], pts[3], 10.0)).await.expect("quote after compaction");
    let b = s.handle.book("after".into(), BookWhat::Offer(quoted[0].id.clone()), ANYWAY).await.expect("book");
    assert_eq!(b.status, noriai_model::service::BookingStatus::Confirmed);
    // A fresh dispatcher on the same store rebuilds the same day without complaint.
    let fresh = Dispatcher::spawn(s.roads.clone(), s.store.clone(), None, ServicePolicy::default());
    let view = fresh.day_view(s.day).await.expect("rebuilt day");
    assert!(view.table_points() >= depots + 2);
    s.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_riders_needs_come_with_every_trip_and_a_double_booking_is_refused() {
    let s = setup().await;
    let home = noriai_server::demo::central_point(&s.roads);
    let user = s
        .store
        .insert_rider(&Rider {
            id: 0,
            name: "車椅子 利用者".into(),
            name_kana: "クルマイス リヨウシャ".into(),
            phone: "017-734-2222".into(),
            home_address: String::new(),
            home,
            needs: Needs {
                wheelchair: true,
                companion: true,
                walking_aid: false,
                driver_notes: String::new(),
            },
        })
        .await
        .expect("rider")
        .id;
    let pts = points(&s.roads, 4);
    let ask = TripAsk { rider_id: user, ..trip(&s, pts[0], pts[1], 10.0) };
    let first = s
        .handle
        .book("wc-1".into(), BookWhat::Trip(ask.clone()), BookOptions::default())
        .await
        .expect("book");
    assert_eq!(
        (first.trip.seats, first.trip.wheelchair_places),
        (1, 1),
        "a wheelchair place and a companion's seat"
    );
    let plans = s.store.plans_from(s.day).await.expect("plans");
    assert!(plans.iter().any(|p| p.stops.iter().any(|x| x.booking_id == first.id)));

    // The operator books the same ride again after a timeout, under a new key.
    let again = s.handle.book("wc-2".into(), BookWhat::Trip(ask.clone()), BookOptions::default()).await;
    let err = again.expect_err("a second booking with an overlapping pickup");
    assert!(
        matches!(err, noriai_server::errors::DispatchError::Precondition(ref m) if m.contains(&format!("booking {}", first.id))),
        "{err:?}"
    );
    // The same key is a retry, not a double booking; asked explicitly, both are booked.
    let retry = s
        .handle
        .book("wc-1".into(), BookWhat::Trip(ask.clone()), BookOptions::default())
        .await
        .expect("retry");
    assert_eq!(retry.id, first.id);
    let both = BookOptions { allow_overlap: true, ..BookOptions::default() };
    let second = s.handle.book("wc-3".into(), BookWhat::Trip(ask.clone()), both).await.expect("allowed");
    assert_ne!(second.id, first.id);
    // A later trip the same day does not overlap and needs no flag; explicit places win.
    let back = TripAsk { seats: Some(3), wheelchair_places: Some(0), ..trip(&s, pts[1], pts[0], 15.0) };
    let back = s
        .handle
        .book("wc-4".into(), BookWhat::Trip(TripAsk { rider_id: user, ..back }), BookOptions::default())
        .await
        .expect("return trip");
    assert_eq!((back.trip.seats, back.trip.wheelchair_places), (3, 0));
    s.store.close().await;
}

/// The demo fleet's shifts roll on: a store whose demo shifts ran out gets
/// the next 60 days again, and a shift an operator changed is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_shifts_roll_on_and_keep_an_operators_change() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("old.sqlite").display());
    let store = Store::connect(&url).await.expect("store");
    let v = store
        .insert_vehicle(&noriai_model::service::FleetVehicle {
            id: 0,
            name: "Demo 1".into(),
            seats: 6,
            wheelchair_places: 1,
            depot: LatLon { lat: 47.14, lon: 9.52 },
        })
        .await
        .expect("vehicle");
    store.mark_demo_vehicle(v.id).await.expect("mark");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let today = ServiceDay::of_unix(now as i64);
    let changed = noriai_model::service::Shift {
        vehicle_id: v.id,
        day: today.next(),
        start_s: 9 * 3600,
        end_s: 12 * 3600,
    };
    store.set_shift(changed).await.expect("operator's shift");
    let added = noriai_server::demo::keep_demo_shifts(&store).await.expect("roll");
    assert_eq!(added, noriai_server::demo::DEMO_DAYS as usize - 1);
    assert_eq!(store.shifts_on(today.next()).await.expect("shifts"), vec![changed]);
    let last = ServiceDay(today.0 + noriai_server::demo::DEMO_DAYS - 1);
    assert_eq!(store.shifts_on(last).await.expect("shifts").len(), 1);
    assert_eq!(noriai_server::demo::keep_demo_shifts(&store).await.expect("again"), 0);
    store.close().await;
}

/// A rider booking for a later day is told a wide window; the evening before,
/// the day is finalised: each wide window becomes the final one around the
/// plan, inside the first, the rider is to be told, and the plan keeps them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advance_bookings_get_a_wide_window_then_the_final_one() {
    use noriai_model::service::WindowStage;
    let s = setup().await;
    let later = s.day.next(); // the day after tomorrow: always before its evening batch
    let pts = points(&s.roads, 12);
    let mut booked = Vec::new();
    for (k, pair) in pts.chunks(2).enumerate() {
        let t = TripAsk {
            time: TripTime::DepartAfter(later.at((9 + k as u32) * 3600)),
            ..trip(&s, pair[0], pair[1], 9.0)
        };
        let b =
            s.handle.book(format!("adv-{k}"), BookWhat::Trip(t), BookOptions::default()).await.expect("book");
        assert_eq!(b.window, WindowStage::Wide);
        assert_eq!(b.wide_window, Some(b.pickup_window));
        assert!(b.pickup_window.1 - b.pickup_window.0 >= 25 * 60, "{:?}", b.pickup_window);
        booked.push(b);
    }
    let told = s.handle.finalize(later).await.expect("finalize");
    assert_eq!(told.len(), booked.len());
    for b in &booked {
        let now = told.iter().find(|t| t.id == b.id).expect("told");
        assert_eq!(now.window, WindowStage::ToTell);
        assert_eq!(now.wide_window, Some(b.pickup_window), "the wide window told at booking is kept");
        let (w, f) = (b.pickup_window, now.pickup_window);
        assert!(w.0 <= f.0 && f.1 <= w.1 + 1, "final {f:?} inside told {w:?}");
        assert!(f.1 - f.0 <= 15 * 60 + 2, "{f:?}");
    }
    assert!(s.handle.finalize(later).await.expect("again").is_empty(), "a repeat narrows nothing");
    let plans = s.store.plans_from(later).await.expect("plans");
    for b in &booked {
        let stops = plans.iter().flat_map(|p| &p.stops).filter(|x| x.booking_id == b.id).count();
        assert_eq!(stops, 2, "booking {} keeps its stops", b.id);
        let pickup = plans.iter().flat_map(|p| &p.stops).find(|x| x.booking_id == b.id).expect("pickup");
        let f = told.iter().find(|t| t.id == b.id).expect("told").pickup_window;
        assert!(f.0 - 1 <= pickup.eta && pickup.eta <= f.1 + 1, "planned {} outside final {f:?}", pickup.eta);
    }
    // A restart rebuilds the day with the final windows, and new riders still fit.
    let fresh = Dispatcher::spawn(s.roads.clone(), s.store.clone(), None, ServicePolicy::default());
    let again = TripAsk { time: TripTime::DepartAfter(later.at(12 * 3600)), ..trip(&s, pts[3], pts[8], 9.0) };
    fresh.book("adv-after".into(), BookWhat::Trip(again), ANYWAY).await.expect("book after finalizing");
    let told_now = s.store.mark_told(booked[0].id).await.expect("told");
    assert_eq!(told_now.window, WindowStage::Final);
    s.store.close().await;
}
