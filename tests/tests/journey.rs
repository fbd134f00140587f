//! Journeys that join the on-demand service and a fixed bus line, over gRPC:
//! on the Cobb County map with the real CobbLinc route 30 (its calendar
//! moved to this year; the shared VVS feed lies 10 km off the Herrenberg
//! map, so this is the pair of real map and feed that overlap here), a rider
//! far from the line is driven to a route-30 stop and rides on. The
//! itinerary agrees with the feed, the booked ride is promised to reach the
//! stop before the bus leaves, and cancelling the journey cancels it.

use noriai_e2e::*;
use noriai_server::pb;
use tonic::Code;

type JourneyClient = pb::journey_service_client::JourneyServiceClient<Authed>;

/// The next weekday after today in New York, at 17:30 there (07:30 the next
/// morning in Japan, inside the demo fleet's shifts).
fn next_weekday_evening() -> i64 {
    use chrono::{Datelike, TimeZone};
    let ny = chrono_tz::America::New_York;
    let mut day = chrono::Utc::now().with_timezone(&ny).date_naive() + chrono::Duration::days(1);
    while day.weekday().number_from_monday() > 5 {
        day += chrono::Duration::days(1);
    }
    ny.from_local_datetime(&day.and_hms_opt(17, 30, 0).expect("time")).earliest().expect("local").timestamp()
}

/// Far from route 30 (1.7 km from its nearest stop), on the map's roads.
const EDGE: (f64, f64) = (33.85, -84.62);
/// MARTA Holmes station, route 30's southern end (off the map: no vehicle goes there).
const HOLMES: (f64, f64) = (33.7543, -84.4707);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rider_is_driven_to_the_bus_and_rides_on() {
    let dir = temp_dir("journey");
    let feed = cobblinc_30_this_year(&dir);
    let map = repo_root().join("tests/data/cobb-county-filtered.osm.pbf");
    let server =
        Server::start(&dir, &["--map", &map.display().to_string(), "--gtfs", &feed.display().to_string()]);
    let ch = server.channel().await;
    let operator = server.create_token(&["--role", "operator"]);
    let mut op = server.clients_as(&operator).await;
    let rider = register(&mut op, "Jones Mary", "ジョーンズ メアリー", "770-555-0101", EDGE).await;
    let mut journeys: JourneyClient = pb::journey_service_client::JourneyServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(ch.clone(), Bearer::new(&operator)),
    );
    let leave = next_weekday_evening();
    let ask = |rider_id: i64| pb::PlanJourneyRequest {
        origin: ll(EDGE.0, EDGE.1),
        destination: ll(HOLMES.0, HOLMES.1),
        time: Some(pb::plan_journey_request::Time::DepartAfter(ts(leave))),
        lang: "en".into(),
        rider_id,
        ..Default::default()
    };
    let planned = journeys.plan_journey(ask(rider.id)).await.expect("plan").into_inner().itineraries;
    let on_demand = pb::LegMode::OnDemand as i32;
    let bus = pb::LegMode::Bus as i32;
    let it = planned
        .iter()
        .find(|i| i.legs.len() >= 2 && i.legs[0].mode == on_demand && i.legs[1].mode == bus)
        .unwrap_or_else(|| panic!("driven to the bus: {planned:#?}"))
        .clone();
    let (ride, line) = (&it.legs[0], &it.legs[1]);
    let secs = |t: &Option<prost_types::Timestamp>| t.as_ref().expect("time").seconds;
    // The ride: after the rider is ready, to the stop where the bus leaves, before it leaves.
    assert!(secs(&ride.pickup_window_start) >= leave);
    assert!(secs(&ride.arrival) <= secs(&line.departure) - 3 * 60, "{ride:?} {line:?}");
    let stop = line.from.as_ref().expect("from");
    assert_eq!(ride.to.as_ref().expect("to").stop_id, stop.stop_id);
    assert!(!ride.offer_id.is_empty() && ride.geometry.len() >= 2);
    assert_eq!(line.route_short_name, "30");
    // The bus leg is the feed's: that trip leaves that stop then and reaches the next stop of the leg then.
    let library = noriai_timetable::Feed::load(&feed, chrono::NaiveDate::MIN).expect("feed");
    let trip = library.trips.iter().find(|t| t.id == line.trip_id).expect("trip in the feed");
    let day_start = library
        .day_start(library.local_day(chrono::DateTime::from_timestamp(secs(&line.departure), 0).expect("t")))
        .expect("day")
        .timestamp();
    let call = |stop_id: &str| {
        trip.stop_times
            .iter()
            .find(|st| library.stops[st.stop as usize].id == stop_id)
            .expect("the trip calls there")
    };
    assert_eq!(day_start + i64::from(call(&stop.stop_id).departure), secs(&line.departure));
    let to = line.to.as_ref().expect("to");
    assert_eq!(day_start + i64::from(call(&to.stop_id).arrival), secs(&line.arrival));
    // And the walk at the end reaches the destination.
    let last = it.legs.last().expect("legs");
    assert_eq!(last.mode, pb::LegMode::Walk as i32);
    assert!(it.walk_m <= 400.0 && secs(&it.arrival) == secs(&last.arrival));

    // Booked: the promise is the offer's, and the ride must reach the stop before the bus.
    let booked = journeys
        .book_journey(pb::BookJourneyRequest {
            idempotency_key: "journey-1".into(),
            rider_id: rider.id,
            itinerary: Some(it.clone()),
        })
        .await
        .expect("book")
        .into_inner();
    assert_eq!(booked.booking_ids.len(), 1);
    let b = op
        .booking
        .get_booking(pb::GetBookingRequest { booking_id: booked.booking_ids[0] })
        .await
        .expect("booking")
        .into_inner();
    assert_eq!(b.status, pb::BookingStatus::Confirmed as i32);
    assert_eq!(secs(&b.pickup_window_start), secs(&ride.pickup_window_start));
    assert_eq!(secs(&b.pickup_window_end), secs(&ride.pickup_window_end));
    // The promise fits the bus: asked to arrive by its departure less the
    // change time, or (when that would fetch the rider too early) leaving
    // after they are ready with the latest pickup still in time.
    let by = secs(&line.departure) - 3 * 60;
    match b.trip.as_ref().and_then(|t| t.time) {
        Some(pb::trip::Time::ArriveBy(t)) => assert_eq!(t.seconds, by),
        Some(pb::trip::Time::DepartAfter(t)) => {
            assert!(t.seconds >= leave);
            assert!(secs(&b.pickup_window_end) < by, "the latest pickup still makes the bus");
        }
        None => panic!("the ride has a time"),
    }
    assert!(secs(&b.expected_arrival) <= by);
    // The same key again answers the same journey.
    let again = journeys
        .book_journey(pb::BookJourneyRequest {
            idempotency_key: "journey-1".into(),
            rider_id: rider.id,
            itinerary: Some(it.clone()),
        })
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(again.booking_ids, booked.booking_ids);

    // Cancelling the journey cancels its ride.
    let cancelled = journeys
        .cancel_journey(pb::CancelJourneyRequest { idempotency_key: "journey-1".into() })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.booking_ids, booked.booking_ids);
    let b = op
        .booking
        .get_booking(pb::GetBookingRequest { booking_id: booked.booking_ids[0] })
        .await
        .expect("booking")
        .into_inner();
    assert_eq!(b.status, pb::BookingStatus::Cancelled as i32);

    // Without a rider there is no on-demand leg; from 0.9 km away, a long enough walk reaches the line.
    let walking = journeys
        .plan_journey(pb::PlanJourneyRequest { origin: ll(33.86, -84.61), max_walk_m: 1500.0, ..ask(0) })
        .await
        .expect("plan")
        .into_inner()
        .itineraries;
    assert!(!walking.is_empty());
    assert!(walking.iter().all(|i| i.legs.iter().all(|l| l.mode != on_demand)));
    assert!(walking.iter().all(|i| i.legs[0].mode == pb::LegMode::Walk as i32));

    // A planner plans without riders; on-demand legs need an operator or the rider.
    let planner = server.create_token(&["--role", "planner"]);
    let mut as_planner: JourneyClient = pb::journey_service_client::JourneyServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(ch.clone(), Bearer::new(&planner)),
    );
    let e = as_planner.plan_journey(ask(rider.id)).await.expect_err("planner with a rider");
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(
        as_planner
            .plan_journey(pb::PlanJourneyRequest { origin: ll(33.86, -84.61), max_walk_m: 1500.0, ..ask(0) })
            .await
            .is_ok()
    );

    // Clear refusals.
    let e = journeys
        .plan_journey(pb::PlanJourneyRequest { origin: None, ..ask(0) })
        .await
        .expect_err("no origin");
    assert!(e.code() == Code::InvalidArgument && e.message().starts_with("origin"), "{e:?}");
    let e = journeys
        .plan_journey(pb::PlanJourneyRequest { max_walk_m: 90_000.0, ..ask(0) })
        .await
        .expect_err("walk");
    assert!(e.code() == Code::InvalidArgument && e.message().starts_with("max_walk_m"));
    let e = journeys
        .book_journey(pb::BookJourneyRequest {
            idempotency_key: "j2".into(),
            rider_id: rider.id,
            itinerary: None,
        })
        .await
        .expect_err("no itinerary");
    assert!(e.code() == Code::InvalidArgument && e.message().starts_with("itinerary"));
    let e = journeys
        .cancel_journey(pb::CancelJourneyRequest { idempotency_key: "never-booked".into() })
        .await
        .expect_err("unknown");
    assert_eq!(e.code(), Code::NotFound);
}
