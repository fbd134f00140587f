//! A driver's day end to end: the manifest stream follows every change,
//! events are idempotent and judged by the rules of the road, positions are
//! stored, and after `kill -9` everything acknowledged is still there.

use noriai_e2e::*;
use noriai_server::pb;
use tonic::Code;

type DriverClient = pb::driver_service_client::DriverServiceClient<Authed>;

fn driver_client(ch: tonic::transport::Channel, token: &str) -> DriverClient {
    pb::driver_service_client::DriverServiceClient::new(tonic::service::interceptor::InterceptedService::new(
        ch,
        Bearer::new(token),
    ))
}

fn now() -> i64 {
    noriai_server::now_unix()
}

fn event(id: &str, vehicle: i64, kind: pb::EventKind, booking: i64) -> pb::ReportEventRequest {
    pb::ReportEventRequest {
        event_id: id.into(),
        vehicle_id: vehicle,
        kind: kind as i32,
        booking_id: booking,
        ..Default::default()
    }
}

/// The status of the stop of `booking` with `action` in a manifest.
fn stop(m: &pb::Manifest, booking: i64, action: pb::StopAction) -> &pb::ManifestStop {
    m.stops
        .iter()
        .find(|s| s.booking_id == booking && s.action == action as i32)
        .unwrap_or_else(|| panic!("booking {booking} {action:?} in {m:?}"))
}

async fn next(stream: &mut tonic::Streaming<pb::Manifest>) -> pb::Manifest {
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("a manifest within 10 s")
        .expect("stream")
        .expect("open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_works_a_day_and_a_restart_loses_nothing() {
    // Local time must leave room for today's rides before midnight.
    let today_s = (now() + 9 * 3600).rem_euclid(86_400);
    if today_s > 23 * 3600 + 30 * 60 {
        eprintln!("skipped: run before 23:30 Asia/Tokyo, so today's rides end before the service day does");
        return;
    }
    let dir = temp_dir("driver");
    let args = ["--no-show-wait-minutes", "0"];
    let server = Server::start(&dir, &args);
    let ch = server.channel().await;
    let admin = server.admin_token();
    let mut root = server.clients().await;
    // A service of its own, so the one vehicle serves every ride.
    let service = root
        .accounts
        .create_service(pb::CreateServiceRequest {
            name: "運転試験".into(),
            name_kana: "うんてんしけん".into(),
            ..Default::default()
        })
        .await
        .expect("service")
        .into_inner()
        .id;
    let mut admin2 = Clients::in_service(ch.clone(), &admin, service);
    let vehicle = admin2
        .fleet
        .add_vehicle(pb::AddVehicleRequest {
            name: "試験1号".into(),
            seats: 6,
            wheelchair_places: 0,
            depot: ll(PLACES[0].0, PLACES[0].1),
        })
        .await
        .expect("vehicle")
        .into_inner()
        .id;
    for d in [0, 1] {
        admin2
            .fleet
            .set_shift(pb::SetShiftRequest {
                shift: Some(pb::Shift {
                    vehicle_id: vehicle,
                    day: day(d),
                    start: "00:00".into(),
                    end: "24:00".into(),
                }),
            })
            .await
            .expect("shift");
    }
    let token = |role: pb::Role, vehicle_id: i64| {
        let mut root = root.clone();
        async move {
            root.accounts
                .create_token(pb::CreateTokenRequest {
                    role: role as i32,
                    vehicle_id,
                    service_id: service,
                    ..Default::default()
                })
                .await
                .expect("token")
                .into_inner()
                .secret
        }
    };
    let driver_token = token(pb::Role::Driver, vehicle).await;
    let operator = token(pb::Role::Operator, 0).await;
    let mut op = server.clients_as(&operator).await;
    let mut driver = driver_client(ch.clone(), &driver_token);

    let a = register(&mut op, "青森 一郎", "アオモリ イチロウ", "0172-10-0001", PLACES[0]).await;
    let b = register(&mut op, "青森 二郎", "アオモリ ジロウ", "0172-10-0002", PLACES[0]).await;
    let book = |mut op: Clients, rider: i64, depart: i64, to: (f64, f64), key: &str| {
        let key = key.to_string();
        async move {
            op.booking
                .book(pb::BookRequest {
                    idempotency_key: key,
                    what: Some(pb::book_request::What::Trip(trip(rider, PLACES[0], to, depart, 1))),
                    allow_overlap: false,
                })
                .await
                .expect("book")
                .into_inner()
        }
    };
    let ba = book(op.clone(), a.id, now(), PLACES[2], "a").await;
    let bb = book(op.clone(), b.id, now(), PLACES[1], "b").await;

    // The manifest: both riders, what the driver needs, a road to follow.
    let mut stream = driver
        .stream_manifest(pb::StreamManifestRequest { vehicle_id: vehicle, day: String::new() })
        .await
        .expect("stream")
        .into_inner();
    let m = next(&mut stream).await;
    assert_eq!((m.version, m.vehicle_id, m.stops.len()), (1, vehicle, 4), "{m:?}");
    let pick_a = stop(&m, ba.id, pb::StopAction::Pickup);
    assert_eq!((pick_a.rider_name.as_str(), pick_a.rider_phone.as_str()), ("青森 一郎", "0172-10-0001"));
    assert_eq!(pick_a.status, pb::RideStatus::Scheduled as i32);
    assert!(m.next_leg_geojson.contains("LineString"), "{}", m.next_leg_geojson);

    // Another vehicle's manifest is not this driver's.
    let theirs = driver
        .stream_manifest(pb::StreamManifestRequest { vehicle_id: vehicle + 100, day: String::new() })
        .await
        .expect_err("another vehicle");
    assert_eq!(theirs.code(), Code::PermissionDenied, "{theirs:?}");

    // Shift start, arrival, boarding: the stream follows.
    let mut start = event("shift-1", vehicle, pb::EventKind::ShiftStarted, 0);
    start.odometer_km = 12_345.6;
    driver.report_event(start).await.expect("shift start");
    driver
        .report_event(event("arr-a", vehicle, pb::EventKind::VehicleArrived, ba.id))
        .await
        .expect("arrived");
    let boarded = event("board-a", vehicle, pb::EventKind::Boarded, ba.id);
    let first = driver.report_event(boarded.clone()).await.expect("boarded").into_inner();
    assert!(!first.duplicate);
    let mut m = next(&mut stream).await;
    while stop(&m, ba.id, pb::StopAction::Pickup).status != pb::RideStatus::OnBoard as i32 {
        m = next(&mut stream).await;
    }
    assert!(m.version > 1 && stop(&m, ba.id, pb::StopAction::Pickup).done);
    assert!(!stop(&m, ba.id, pb::StopAction::Dropoff).done);
    // A tablet that sends again gets the first answer; an id reused for
    // something else is refused.
    let again = driver.report_event(boarded).await.expect("repeat").into_inner();
    assert!(again.duplicate);
    let reused = driver
        .report_event(event("board-a", vehicle, pb::EventKind::UserNoShow, ba.id))
        .await
        .expect_err("id reused");
    assert_eq!(reused.code(), Code::AlreadyExists, "{reused:?}");
    // Events out of order are refused, saying where the ride is.
    let out = driver
        .report_event(event("noshow-a", vehicle, pb::EventKind::UserNoShow, ba.id))
        .await
        .expect_err("a rider on board is no no-show");
    assert_eq!(out.code(), Code::FailedPrecondition);
    assert!(out.message().contains("onboard"), "{}", out.message());

    // A no-show before the promised window opens is refused, then allowed.
    let opens = bb.pickup_window_start.as_ref().expect("window").seconds;
    let mut early = event("noshow-b-early", vehicle, pb::EventKind::UserNoShow, bb.id);
    early.at = Some(ts(opens - 60));
    let refused = driver.report_event(early).await.expect_err("too early");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().starts_with("a no-show can be reported from"), "{}", refused.message());
    // With the vehicle at the pickup and "depart now", the window opens now.
    assert!(opens <= now() + 100, "the window opens at {opens}, now is {}", now());
    let mut in_time = event("noshow-b", vehicle, pb::EventKind::UserNoShow, bb.id);
    in_time.at = Some(ts(opens));
    driver.report_event(in_time).await.expect("no-show");
    // Its seats are free again: the rider's stops leave the route.
    let mut m = next(&mut stream).await;
    while m.stops.iter().any(|s| s.booking_id == bb.id) {
        m = next(&mut stream).await;
    }
    driver.report_event(event("alight-a", vehicle, pb::EventKind::Alighted, ba.id)).await.expect("alighted");

    // The operators' board follows: ride statuses, and an alert when the
    // vehicle breaks down with a rider still waiting.
    let mut ops = pb::operations_service_client::OperationsServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(ch.clone(), Bearer::new(&operator)),
    );
    let mut board =
        ops.watch_day(pb::WatchDayRequest { day: String::new() }).await.expect("board").into_inner();
    let first_board = tokio::time::timeout(std::time::Duration::from_secs(10), board.message())
        .await
        .expect("a board")
        .expect("stream")
        .expect("open");
    let on_board = |b: &pb::DayBoard, id: i64| b.bookings.iter().find(|x| x.id == id).map(|x| x.ride_status);
    assert_eq!(on_board(&first_board, ba.id), Some(pb::RideStatus::Completed as i32), "{first_board:?}");
    assert!(first_board.alerts.is_empty(), "{:?}", first_board.alerts);
    let c = register(&mut op, "青森 三郎", "アオモリ サブロウ", "0172-10-0003", PLACES[0]).await;
    let bd = book(op.clone(), c.id, now(), PLACES[3], "d").await;
    let mut broken = event("down-1", vehicle, pb::EventKind::Breakdown, 0);
    broken.can_continue = false;
    broken.note = "雪で立ち往生".into();
    driver.report_event(broken).await.expect("breakdown");
    let alerted = loop {
        let b = tokio::time::timeout(std::time::Duration::from_secs(10), board.message())
            .await
            .expect("a new board")
            .expect("stream")
            .expect("open");
        if !b.alerts.is_empty() {
            break b;
        }
    };
    assert!(alerted.version > first_board.version);
    assert_eq!(alerted.alerts[0].booking_ids, vec![bd.id], "{:?}", alerted.alerts);
    assert!(alerted.alerts[0].text.contains("out of service"), "{}", alerted.alerts[0].text);
    assert_eq!(
        alerted.vehicles.iter().find(|v| v.vehicle_id == vehicle).map(|v| v.last_event.as_str()),
        Some("breakdown")
    );
    drop(board);
    // The driver ends the shift with the odometer (45.6 km after the start).
    let mut end = event("shift-end-1", vehicle, pb::EventKind::ShiftEnded, 0);
    end.odometer_km = 12_391.2;
    assert!(!driver.report_event(end).await.expect("shift end").into_inner().duplicate);

    // Positions, each stored once.
    let t0 = now() - 30;
    let reports: Vec<pb::PositionReport> = (0..3)
        .map(|k| pb::PositionReport {
            vehicle_id: vehicle,
            at: Some(ts(t0 + 5 * k)),
            position: ll(PLACES[2].0, PLACES[2].1 + 0.001 * k as f64),
            heading_deg: 90.0,
            speed_kmh: 30.0,
        })
        .collect();
    let stored = driver.report_positions(tokio_stream::iter(reports.clone())).await.expect("positions");
    assert_eq!(stored.into_inner().stored, 3);
    let again = driver.report_positions(tokio_stream::iter(reports)).await.expect("positions again");
    assert_eq!(again.into_inner().stored, 0, "repeats are stored once");

    // A booking for tomorrow shows up in tomorrow's stream as it is made.
    let mut tomorrow = driver
        .stream_manifest(pb::StreamManifestRequest { vehicle_id: vehicle, day: day(1) })
        .await
        .expect("tomorrow")
        .into_inner();
    let empty = next(&mut tomorrow).await;
    assert!(empty.stops.is_empty() && empty.next_leg_geojson.is_empty(), "{empty:?}");
    let bc = book(op.clone(), a.id, local_time(1, 10, 0), PLACES[3], "c").await;
    let m = next(&mut tomorrow).await;
    assert_eq!(m.version, 2);
    assert_eq!(stop(&m, bc.id, pb::StopAction::Pickup).rider_phone, "", "phones only for today's stops");

    // kill -9 and start again: everything acknowledged is still there.
    drop(stream);
    drop(tomorrow);
    let data = server.data_dir.clone();
    server.kill();
    let server = Server::start(&data, &args);
    let mut driver = driver_client(server.channel().await, &driver_token);
    let mut stream = driver
        .stream_manifest(pb::StreamManifestRequest { vehicle_id: vehicle, day: String::new() })
        .await
        .expect("stream after restart")
        .into_inner();
    let m = next(&mut stream).await;
    assert_eq!(stop(&m, ba.id, pb::StopAction::Dropoff).status, pb::RideStatus::Completed as i32);
    assert!(stop(&m, ba.id, pb::StopAction::Dropoff).done);
    assert!(m.stops.iter().all(|s| s.booking_id != bb.id), "a no-show's stops left the route: {m:?}");
    let last = m.last_position.expect("the last position");
    assert!((last.lon - (PLACES[2].1 + 0.002)).abs() < 1e-9, "{last:?}");
    let repeat = driver.report_event(event("board-a", vehicle, pb::EventKind::Boarded, ba.id)).await;
    assert!(repeat.expect("repeat after restart").into_inner().duplicate);
    // Operators see how far each ride got.
    let mut op = server.clients_as(&operator).await;
    let list = op
        .booking
        .list_bookings(pb::ListBookingsRequest { rider_id: 0, day: day(0), include_cancelled: true })
        .await
        .expect("list")
        .into_inner();
    let status = |id: i64| list.bookings.iter().find(|b| b.id == id).map(|b| b.ride_status);
    assert_eq!(status(ba.id), Some(pb::RideStatus::Completed as i32));
    assert_eq!(status(bb.id), Some(pb::RideStatus::NoShow as i32));
    let c =
        op.booking.get_booking(pb::GetBookingRequest { booking_id: bc.id }).await.expect("get").into_inner();
    assert_eq!(c.ride_status, pb::RideStatus::Scheduled as i32);

    // The day as it happened, in the simulator's terms: one ride served
    // (boarded and alighted), one no-show, the stranded one still open.
    let out = dir.join("report");
    let run = std::process::Command::new(binary())
        .args(["report", "day", "--day", &day(0), "--service", &service.to_string(), "--data-dir"])
        .arg(&server.data_dir)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run noriai report day");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("1 rides served, 1 no-shows, 1 still under way"));
    let kpis: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("kpis.json")).expect("kpis.json")).expect("JSON");
    assert_eq!((kpis["served"].as_u64(), kpis["no_show"].as_u64()), (Some(1), Some(1)), "{kpis}");
    assert_eq!(kpis["ride_min"]["n"].as_u64(), Some(1));
    let km = kpis["km_driven"].as_f64().expect("km_driven");
    assert!((km - 45.6).abs() < 1e-6, "km from the odometers at shift start and end: {km}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(!html.contains("青森"), "no rider names in the planners' report");
}

/// The next board with an alert about `booking`.
async fn board_alerting(
    board: &mut tonic::Streaming<pb::DayBoard>,
    booking: i64,
    says: &str,
) -> pb::DayBoard {
    loop {
        let b = tokio::time::timeout(std::time::Duration::from_secs(10), board.message())
            .await
            .unwrap_or_else(|_| panic!("a board alerting `{says}` about booking {booking} within 10 s"))
            .expect("stream")
            .expect("open");
        if b.alerts.iter().any(|a| a.booking_ids.contains(&booking) && a.text.contains(says)) {
            return b;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_vehicle_hands_its_rider_over_and_a_breakdown_strands_them() {
    let today_s = (now() + 9 * 3600).rem_euclid(86_400);
    if today_s > 22 * 3600 {
        eprintln!("skipped: run before 22:00 Asia/Tokyo, so an hour's delay still ends on the service day");
        return;
    }
    let dir = temp_dir("late");
    let server = Server::start(&dir, &[]);
    let ch = server.channel().await;
    let admin = server.admin_token();
    let mut root = server.clients().await;
    let service = root
        .accounts
        .create_service(pb::CreateServiceRequest {
            name: "遅延試験".into(),
            name_kana: "ちえんしけん".into(),
            ..Default::default()
        })
        .await
        .expect("service")
        .into_inner()
        .id;
    let mut admin2 = Clients::in_service(ch.clone(), &admin, service);
    let mut vehicles = Vec::new();
    for name in ["一号車", "二号車"] {
        let id = admin2
            .fleet
            .add_vehicle(pb::AddVehicleRequest {
                name: name.into(),
                seats: 4,
                wheelchair_places: 0,
                depot: ll(PLACES[0].0, PLACES[0].1),
            })
            .await
            .expect("vehicle")
            .into_inner()
            .id;
        admin2
            .fleet
            .set_shift(pb::SetShiftRequest {
                shift: Some(pb::Shift {
                    vehicle_id: id,
                    day: day(0),
                    start: "00:00".into(),
                    end: "24:00".into(),
                }),
            })
            .await
            .expect("shift");
        vehicles.push(id);
    }
    let token = |role: pb::Role, vehicle_id: i64| {
        let mut root = root.clone();
        async move {
            root.accounts
                .create_token(pb::CreateTokenRequest {
                    role: role as i32,
                    vehicle_id,
                    service_id: service,
                    ..Default::default()
                })
                .await
                .expect("token")
                .into_inner()
                .secret
        }
    };
    let operator = token(pb::Role::Operator, 0).await;
    let (first_token, second_token) =
        (token(pb::Role::Driver, vehicles[0]).await, token(pb::Role::Driver, vehicles[1]).await);
    let mut op = server.clients_as(&operator).await;
    let rider = register(&mut op, "八甲田 花子", "ハッコウダ ハナコ", "0172-20-0001", PLACES[0]).await;
    let booked = op
        .booking
        .book(pb::BookRequest {
            idempotency_key: "late-1".into(),
            what: Some(pb::book_request::What::Trip(trip(rider.id, PLACES[0], PLACES[2], now() + 600, 1))),
            allow_overlap: false,
        })
        .await
        .expect("book")
        .into_inner();
    let (first, second) = if booked.vehicle_id == vehicles[0] {
        (vehicles[0], vehicles[1])
    } else {
        (vehicles[1], vehicles[0])
    };
    let (first_token, second_token) =
        if first == vehicles[0] { (first_token, second_token) } else { (second_token, first_token) };
    let mut first_driver = driver_client(ch.clone(), &first_token);
    let mut second_driver = driver_client(ch.clone(), &second_token);
    let mut ops = pb::operations_service_client::OperationsServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(ch.clone(), Bearer::new(&operator)),
    );
    let mut board =
        ops.watch_day(pb::WatchDayRequest { day: String::new() }).await.expect("board").into_inner();
    let mut manifest = first_driver
        .stream_manifest(pb::StreamManifestRequest { vehicle_id: first, day: String::new() })
        .await
        .expect("stream")
        .into_inner();
    assert_eq!(next(&mut manifest).await.stops.len(), 2);

    // Stuck in snow for an hour: the rider's promised window cannot be kept,
    // and the other vehicle (idle at the depot) keeps it.
    first_driver.report_event(event("start-1", first, pb::EventKind::ShiftStarted, 0)).await.expect("start");
    let mut snow = event("snow-1", first, pb::EventKind::Delayed, 0);
    (snow.delay_minutes, snow.delay_reason) = (60, pb::DelayReason::Snow as i32);
    first_driver.report_event(snow).await.expect("delay");
    let moved = board_alerting(&mut board, booked.id, "tell the riders").await;
    let alert = moved.alerts.iter().find(|a| a.booking_ids.contains(&booked.id)).expect("alert");
    assert_eq!(alert.vehicle_id, first);
    assert!(alert.text.contains(&format!("booking {} to vehicle {second}", booked.id)), "{}", alert.text);
    let now_on = op
        .booking
        .get_booking(pb::GetBookingRequest { booking_id: booked.id })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(now_on.vehicle_id, second, "the booking rides with the other vehicle");
    assert!(!now_on.late, "the other vehicle keeps the promise: {now_on:?}");
    let eta = now_on.pickup_eta.as_ref().expect("a pickup time").seconds;
    let (opens, closes) = (
        now_on.pickup_window_start.expect("window").seconds,
        now_on.pickup_window_end.expect("window").seconds,
    );
    assert!(opens <= eta && eta <= closes, "pickup planned at {eta}, promised {opens}-{closes}");
    let mut m = next(&mut manifest).await;
    while !m.stops.is_empty() {
        m = next(&mut manifest).await;
    }
    let mut theirs = second_driver
        .stream_manifest(pb::StreamManifestRequest { vehicle_id: second, day: String::new() })
        .await
        .expect("the other stream")
        .into_inner();
    let m = next(&mut theirs).await;
    assert_eq!(stop(&m, booked.id, pb::StopAction::Pickup).rider_name, "八甲田 花子");

    // The other vehicle breaks down before the pickup: the late one cannot
    // keep the promise either, so the operator is told to call the rider.
    let mut down = event("down-2", second, pb::EventKind::Breakdown, 0);
    down.can_continue = false;
    second_driver.report_event(down).await.expect("breakdown");
    let stranded = board_alerting(&mut board, booked.id, "call the riders").await;
    let alert = stranded.alerts.iter().find(|a| a.vehicle_id == second).expect("alert of the broken vehicle");
    assert_eq!(alert.booking_ids, vec![booked.id]);
    assert!(alert.text.contains("out of service"), "{}", alert.text);
    drop((board, manifest, theirs));

    // After kill -9 the road is read again: the booking stays where it was
    // moved and the alert is back.
    let data = server.data_dir.clone();
    server.kill();
    let server = Server::start(&data, &[]);
    let ch = server.channel().await;
    let mut ops = pb::operations_service_client::OperationsServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(ch.clone(), Bearer::new(&operator)),
    );
    let mut board =
        ops.watch_day(pb::WatchDayRequest { day: String::new() }).await.expect("board").into_inner();
    let again = board_alerting(&mut board, booked.id, "out of service").await;
    let b = again.bookings.iter().find(|b| b.id == booked.id).expect("the booking on the board");
    assert_eq!(b.vehicle_id, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_on_the_way_moves_the_arrival() {
    if !inside_demo_shifts(1200, 2 * 3600) {
        eprintln!("skipped: run between 06:40 and 16:40 Asia/Tokyo, so today's ride fits the demo shifts");
        return;
    }
    let dir = temp_dir("position");
    let server = Server::start(&dir, &["--no-show-wait-minutes", "0"]);
    let ch = server.channel().await;
    let mut admin = server.clients().await;
    // The demo fleet's three vehicles; the ride goes to whichever takes it.
    let rider = register(&mut admin, "岩木 三郎", "イワキ サブロウ", "0172-40-0001", PLACES[0]).await;
    let booked = admin
        .booking
        .book(pb::BookRequest {
            idempotency_key: "pos-1".into(),
            what: Some(pb::book_request::What::Trip(trip(rider.id, PLACES[0], PLACES[3], now() + 1200, 1))),
            allow_overlap: false,
        })
        .await
        .expect("book")
        .into_inner();
    let vehicle = booked.vehicle_id;
    let token = server.create_token(&["--role", "driver", "--vehicle", &vehicle.to_string()]);
    let mut driver = driver_client(ch.clone(), &token);
    for (id, kind) in [
        ("p1", pb::EventKind::ShiftStarted),
        ("p2", pb::EventKind::VehicleArrived),
        ("p3", pb::EventKind::Boarded),
        ("p4", pb::EventKind::Departed),
    ] {
        let booking = if kind == pb::EventKind::ShiftStarted || kind == pb::EventKind::Departed {
            0
        } else {
            booked.id
        };
        driver.report_event(event(id, vehicle, kind, booking)).await.expect(id);
    }
    let arrival = |b: pb::Booking| b.expected_arrival.expect("arrival").seconds;
    let get = pb::GetBookingRequest { booking_id: booked.id };
    let before = arrival(admin.booking.get_booking(get).await.expect("get").into_inner());
    // Seen far up the valley (Ruggell) instead of on the way south to Balzers.
    let seen = pb::PositionReport {
        vehicle_id: vehicle,
        at: Some(ts(now())),
        position: ll(PLACES[5].0, PLACES[5].1),
        heading_deg: 0.0,
        speed_kmh: 40.0,
    };
    driver.report_positions(tokio_stream::iter(vec![seen])).await.expect("position");
    // The next event (or the 30 s clock) plans the vehicle from there.
    driver.report_event(event("p5", vehicle, pb::EventKind::BreakStarted, 0)).await.expect("break");
    let after = arrival(admin.booking.get_booking(get).await.expect("get").into_inner());
    assert!(
        after > before + 5 * 60,
        "a position 20 km off the way makes the arrival later: {before} -> {after}"
    );
}
