//! The real `noriai serve` binary, a real gRPC client, a real SQLite file.

use noriai_e2e::*;
use noriai_server::pb;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_and_plans_survive_sigkill_on_sqlite() {
    restart_scenario("restart-sqlite", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_and_plans_survive_sigkill_on_postgres() {
    let db = PostgresDb::create("restart");
    restart_scenario("restart-postgres", &["--db", &db.url]).await;
}

/// Books through the real server, SIGKILLs it, restarts it on the same store
/// and checks every booking and plan, then books again.
async fn restart_scenario(name: &str, db_args: &[&str]) {
    let dir = temp_dir(name);
    let server = Server::start(&dir, db_args);
    let mut c = server.clients().await;
    let hanako = register(&mut c, "山田 花子", "ヤマダ ハナコ", "017-734-1111", PLACES[0]).await;
    let taro = register(&mut c, "佐藤 太郎", "サトウ タロウ", "0172-33-2222", PLACES[1]).await;
    let mut booked = Vec::new();
    for k in 0..8usize {
        let rider = if k % 2 == 0 { hanako.id } else { taro.id };
        let t = trip(rider, PLACES[k % 6], PLACES[(k + 2) % 6], local_time(1, 8 + k as u32, 15), 1);
        let quote = c.booking.quote(pb::QuoteRequest { trip: Some(t) }).await.expect("quote").into_inner();
        assert!(!quote.offers.is_empty() && quote.offers.len() <= 3);
        let offer = &quote.offers[0];
        let b = c
            .booking
            .book(pb::BookRequest {
                allow_overlap: false,
                idempotency_key: format!("restart-{k}"),
                what: Some(pb::book_request::What::OfferId(offer.offer_id.clone())),
            })
            .await
            .expect("book")
            .into_inner();
        assert_eq!(b.pickup_window_start, offer.pickup_window_start, "the booking keeps the quoted promise");
        booked.push(b);
    }
    let tomorrow = day(1);
    let list = |mut c: Clients| {
        let tomorrow = tomorrow.clone();
        async move {
            let mut l = c
                .booking
                .list_bookings(pb::ListBookingsRequest {
                    rider_id: 0,
                    day: tomorrow.clone(),
                    include_cancelled: false,
                })
                .await
                .expect("list")
                .into_inner()
                .bookings;
            l.sort_by_key(|b| b.id);
            let plan =
                c.fleet.day_plan(pb::DayPlanRequest { day: tomorrow }).await.expect("plan").into_inner();
            (l, plan)
        }
    };
    let (before, plan_before) = list(c.clone()).await;
    assert_eq!(before.len(), 8);
    let stops: usize = plan_before.routes.iter().map(|r| r.stops.len()).sum();
    assert_eq!(stops, 16, "every booking has a pickup and a dropoff in the plan");

    server.kill();
    let server = Server::start(&dir, db_args);
    let mut c = server.clients().await;
    let (after, plan_after) = list(c.clone()).await;
    assert_eq!(after, before, "every confirmed booking is back after SIGKILL");
    assert_eq!(plan_after, plan_before, "the plans are intact");

    // The restored live plan keeps every earlier promise when a new rider books.
    let t = trip(hanako.id, PLACES[2], PLACES[0], local_time(1, 9, 0), 1);
    let b = c
        .booking
        .book(pb::BookRequest {
            allow_overlap: false,
            idempotency_key: "after-restart".into(),
            what: Some(pb::book_request::What::Trip(t)),
        })
        .await
        .expect("book after restart")
        .into_inner();
    assert_eq!(b.status, pb::BookingStatus::Confirmed as i32);
    let plan = c.fleet.day_plan(pb::DayPlanRequest { day: day(1) }).await.expect("plan").into_inner();
    for old in &before {
        let pickup = plan
            .routes
            .iter()
            .flat_map(|r| &r.stops)
            .find(|s| s.booking_id == old.id && s.action == pb::StopAction::Pickup as i32)
            .expect("still planned");
        let eta = pickup.eta.as_ref().map_or(0, |t| t.seconds);
        let (lo, hi) = (
            old.pickup_window_start.as_ref().map_or(0, |t| t.seconds),
            old.pickup_window_end.as_ref().map_or(0, |t| t.seconds),
        );
        assert!(lo <= eta + 1 && eta <= hi + 1, "booking {} promised {lo}..{hi}, planned {eta}", old.id);
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_never_overbook_or_lose_a_booking() {
    let dir = temp_dir("concurrent");
    let server = Server::start(&dir, &[]);
    let mut c = server.clients().await;
    let riders: Vec<i64> = {
        let mut v = Vec::new();
        for k in 0..16 {
            v.push(
                register(
                    &mut c,
                    &format!("利用者 {k}"),
                    "リヨウシャ",
                    &format!("0175-22-{:04}", 1000 + k),
                    PLACES[k % 6],
                )
                .await
                .id,
            );
        }
        v
    };
    // 16 clients at once, each asking for 3 seats at nearly the same time: more
    // than the demo fleet can carry together.
    let mut tasks = Vec::new();
    for (k, &rider) in riders.iter().enumerate() {
        let mut c = server.clients().await;
        tasks.push(tokio::spawn(async move {
            let t = trip(rider, PLACES[k % 3], PLACES[3 + k % 3], local_time(2, 10, (k % 4) as u32), 3);
            let r = c
                .booking
                .book(pb::BookRequest {
                    allow_overlap: false,
                    idempotency_key: format!("c-{k}"),
                    what: Some(pb::book_request::What::Trip(t)),
                })
                .await;
            r.map(|b| b.into_inner().id).map_err(|s| s.code())
        }));
    }
    let mut ok = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            Ok(id) => ok.push(id),
            Err(code) => assert!(
                matches!(code, Code::ResourceExhausted | Code::FailedPrecondition | Code::Aborted),
                "unexpected {code:?}"
            ),
        }
    }
    assert!(!ok.is_empty());
    let stored = c
        .booking
        .list_bookings(pb::ListBookingsRequest { rider_id: 0, day: day(2), include_cancelled: false })
        .await
        .expect("list")
        .into_inner()
        .bookings;
    let mut stored_ids: Vec<i64> = stored.iter().map(|b| b.id).collect();
    stored_ids.sort();
    ok.sort();
    assert_eq!(stored_ids, ok, "exactly the confirmed bookings are stored");
    // Replay the stored plans: the load never exceeds a vehicle's seats.
    let vehicles =
        c.fleet.list_vehicles(pb::ListVehiclesRequest {}).await.expect("vehicles").into_inner().vehicles;
    let plan = c.fleet.day_plan(pb::DayPlanRequest { day: day(2) }).await.expect("plan").into_inner();
    for r in &plan.routes {
        let seats = vehicles.iter().find(|v| v.id == r.vehicle_id).expect("vehicle").seats;
        let mut load = 0i64;
        for s in &r.stops {
            load +=
                if s.action == pb::StopAction::Pickup as i32 { s.seats as i64 } else { -(s.seats as i64) };
            assert!(load <= seats as i64, "vehicle {} carries {load} > {seats}", r.vehicle_id);
            assert!(load >= 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_right_status_and_an_actionable_message() {
    let dir = temp_dir("errors");
    let server = Server::start(&dir, &[]);
    let mut c = server.clients().await;
    let r = register(&mut c, "青森 一郎", "アオモリ イチロウ", "017-700-0001", PLACES[0]).await;
    let tomorrow = local_time(1, 10, 0);
    let quote = |t: pb::Trip| {
        let mut c = c.clone();
        async move { c.booking.quote(pb::QuoteRequest { trip: Some(t) }).await.expect_err("refused") }
    };

    let mut bad = trip(r.id, PLACES[0], PLACES[1], tomorrow, 1);
    bad.origin = point(123.0, 9.5);
    let e = quote(bad).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("trip.origin.point"), "{}", e.message());

    let e = quote(trip(r.id, PLACES[0], PLACES[1], local_time(-1, 10, 0), 1)).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("trip.depart_after") && e.message().contains("past"), "{}", e.message());

    let e = quote(trip(r.id, PLACES[0], PLACES[1], tomorrow, 0)).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("trip.seats"), "{}", e.message());

    let e = quote(trip(999_999, PLACES[0], PLACES[1], tomorrow, 1)).await;
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("rider"), "{}", e.message());

    // Tokyo is far outside the demo service area.
    let e = quote(trip(r.id, (35.68, 139.76), PLACES[1], tomorrow, 1)).await;
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("outside the service area"), "{}", e.message());

    // Outside service hours (the demo fleet works 07:00-19:00).
    let e = quote(trip(r.id, PLACES[0], PLACES[1], local_time(1, 3, 0), 1)).await;
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("service hours"), "{}", e.message());

    // More seats than any vehicle has.
    let e = quote(trip(r.id, PLACES[0], PLACES[1], tomorrow, 12)).await;
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());

    // Same idempotency key, different trip.
    let t1 = trip(r.id, PLACES[0], PLACES[1], tomorrow, 1);
    let first = c
        .booking
        .book(pb::BookRequest {
            allow_overlap: false,
            idempotency_key: "k1".into(),
            what: Some(pb::book_request::What::Trip(t1.clone())),
        })
        .await
        .expect("book")
        .into_inner();
    let again = c
        .booking
        .book(pb::BookRequest {
            allow_overlap: false,
            idempotency_key: "k1".into(),
            what: Some(pb::book_request::What::Trip(t1)),
        })
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, again, "a retried call returns the same booking");
    let e = c
        .booking
        .book(pb::BookRequest {
            allow_overlap: false,
            idempotency_key: "k1".into(),
            what: Some(pb::book_request::What::Trip(trip(r.id, PLACES[2], PLACES[1], tomorrow, 1))),
        })
        .await
        .expect_err("conflict");
    assert_eq!(e.code(), Code::AlreadyExists);

    let e = c.booking.get_booking(pb::GetBookingRequest { booking_id: 424_242 }).await.expect_err("missing");
    assert_eq!(e.code(), Code::NotFound);
    let cancelled = c
        .booking
        .cancel(pb::CancelRequest { booking_id: first.id, ..Default::default() })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.status, pb::BookingStatus::Cancelled as i32);
    let e = c
        .booking
        .cancel(pb::CancelRequest { booking_id: first.id, ..Default::default() })
        .await
        .expect_err("twice");
    assert_eq!(e.code(), Code::FailedPrecondition);

    let e = c
        .riders
        .register_rider(pb::RegisterRiderRequest {
            name: "x".into(),
            name_kana: "エックス".into(),
            phone: "abc".into(),
            home: ll(47.14, 9.52),
            ..Default::default()
        })
        .await
        .expect_err("bad phone");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("phone"), "{}", e.message());

    // An offer priced before the fleet changed is not booked blindly.
    let q = c
        .booking
        .quote(pb::QuoteRequest { trip: Some(trip(r.id, PLACES[2], PLACES[3], tomorrow, 1)) })
        .await
        .expect("quote")
        .into_inner();
    c.fleet
        .add_vehicle(pb::AddVehicleRequest {
            name: "Extra".into(),
            seats: 4,
            wheelchair_places: 0,
            depot: ll(PLACES[0].0, PLACES[0].1),
        })
        .await
        .expect("add vehicle");
    let e = c
        .booking
        .book(pb::BookRequest {
            allow_overlap: false,
            idempotency_key: "stale".into(),
            what: Some(pb::book_request::What::OfferId(q.offers[0].offer_id.clone())),
        })
        .await
        .expect_err("stale offer");
    assert_eq!(e.code(), Code::Aborted, "{}", e.message());
    let e = c
        .fleet
        .add_vehicle(pb::AddVehicleRequest {
            name: "Zero".into(),
            seats: 0,
            wheelchair_places: 0,
            depot: ll(PLACES[0].0, PLACES[0].1),
        })
        .await
        .expect_err("zero seats");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("seats"), "{}", e.message());

    // The server is still up after all of that.
    let found = c
        .riders
        .search_riders(pb::SearchRidersRequest { phone: "0177000001".into(), name: String::new(), limit: 0 })
        .await
        .expect("search")
        .into_inner();
    assert_eq!(found.riders.len(), 1);
    let found = c
        .riders
        .search_riders(pb::SearchRidersRequest {
            phone: String::new(), name: "アオモリ".into(), limit: 0
        })
        .await
        .expect("search kana")
        .into_inner();
    assert_eq!(found.riders[0].name, "青森 一郎");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_and_health_answer_generic_clients() {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let dir = temp_dir("reflection");
    let server = Server::start(&dir, &[]);
    let ch = server.channel().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "noriai.v1.BookingService".into() })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(status.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
    let mut refl = ServerReflectionClient::new(ch);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream =
        refl.server_reflection_info(tokio_stream::iter([req])).await.expect("reflection").into_inner();
    let resp = stream.next().await.expect("one answer").expect("ok");
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("unexpected answer")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for want in [
        "noriai.v1.RiderService",
        "noriai.v1.FleetService",
        "noriai.v1.BookingService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_replan_keeps_every_promise_and_never_lengthens_the_plan() {
    let dir = temp_dir("replan");
    let server = Server::start(&dir, &[]);
    let mut c = server.clients().await;
    let r = register(&mut c, "弘前 花", "ヒロサキ ハナ", "0172-11-1111", PLACES[0]).await;
    let mut booked = Vec::new();
    for k in 0..12usize {
        let t = trip(
            r.id,
            PLACES[k % 6],
            PLACES[(k * 5 + 1) % 6],
            local_time(3, 8 + (k as u32 % 5), (k as u32 * 7) % 60),
            1,
        );
        let b = c
            .booking
            .book(pb::BookRequest {
                // One test rider stands in for twelve: their pickups overlap.
                allow_overlap: true,
                idempotency_key: format!("r-{k}"),
                what: Some(pb::book_request::What::Trip(t)),
            })
            .await
            .expect("book")
            .into_inner();
        booked.push(b);
    }
    let s = c
        .booking
        .replan_day(pb::ReplanDayRequest { day: day(3), seconds: 1.0 })
        .await
        .expect("replan")
        .into_inner();
    assert_eq!(s.bookings, 12);
    assert!(s.km_after <= s.km_before + 1e-9, "{s:?}");
    let plan = c.fleet.day_plan(pb::DayPlanRequest { day: day(3) }).await.expect("plan").into_inner();
    for b in &booked {
        let stops: Vec<&pb::RouteStop> =
            plan.routes.iter().flat_map(|r| &r.stops).filter(|s| s.booking_id == b.id).collect();
        assert_eq!(stops.len(), 2, "booking {} has its pickup and dropoff", b.id);
        let eta = stops[0].eta.as_ref().map_or(0, |t| t.seconds);
        let lo = b.pickup_window_start.as_ref().map_or(0, |t| t.seconds);
        let hi = b.pickup_window_end.as_ref().map_or(0, |t| t.seconds);
        assert!(lo <= eta + 1 && eta <= hi + 1, "booking {}: promised {lo}..{hi}, planned {eta}", b.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurring_trips_book_each_day_on_its_own() {
    let dir = temp_dir("recurring");
    let server = Server::start(&dir, &[]);
    let mut c = server.clients().await;
    let r = register(&mut c, "八戸 次郎", "ハチノヘ ジロウ", "0178-22-3333", PLACES[1]).await;
    let (first, last) = (day(1), day(21));
    let req = pb::BookRecurringRequest {
        allow_overlap: false,
        idempotency_key: "hospital-tue-fri".into(),
        rider_id: r.id,
        origin: point(PLACES[1].0, PLACES[1].1),
        destination: point(PLACES[0].0, PLACES[0].1),
        depart_after: "09:00".into(),
        weekdays: vec![pb::Weekday::Tuesday as i32, pb::Weekday::Friday as i32],
        first_day: first,
        last_day: last,
        seats: Some(1),
        wheelchair_places: Some(0),
    };
    let out = c.booking.book_recurring(req.clone()).await.expect("recurring").into_inner();
    // 21 consecutive days hold exactly three Tuesdays and three Fridays.
    assert_eq!(out.booked.len() + out.missed.len(), 6, "{out:?}");
    assert_eq!(out.booked.len(), 6, "{:?}", out.missed);
    let mut ids: Vec<i64> = out.booked.iter().map(|b| b.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 6, "each occurrence is a booking of its own");
    assert!(out.booked.iter().all(|b| b.recurrence_id == out.recurrence_id));
    // Retrying the same call books nothing twice.
    let again = c.booking.book_recurring(req).await.expect("retry").into_inner();
    assert_eq!(again.recurrence_id, out.recurrence_id);
    let mine = c
        .booking
        .list_bookings(pb::ListBookingsRequest {
            rider_id: r.id,
            day: String::new(),
            include_cancelled: true,
        })
        .await
        .expect("list")
        .into_inner()
        .bookings;
    assert_eq!(mine.len(), 6);
}
