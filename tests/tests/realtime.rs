//! GTFS Realtime over plain HTTP/1.1 on the gRPC port: a driver's position
//! shows in `/gtfs-rt/vehicle-positions` and a booked ride's stops in
//! `/gtfs-rt/trip-updates` as a NEW trip, decoded with the specification's
//! own messages; no token is 401, a driver's or a planner's is 403.

use noriai_e2e::*;
use noriai_server::gtfs_rt as rt;
use noriai_server::pb;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A GET over HTTP/1.1: the status code and the body.
async fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let host = addr.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let auth = token.map(|t| format!("authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n{auth}connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.expect("read");
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("headers end");
    let head = String::from_utf8_lossy(&bytes[..split]).to_string();
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
    assert!(!head.to_lowercase().contains("transfer-encoding: chunked"), "{head}");
    (status, bytes[split + 4..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vehicle_positions_and_trip_updates_over_http() {
    let dir = temp_dir("realtime");
    let server = Server::start(&dir, &[]);
    let ch = server.channel().await;
    let admin_token = server.admin_token();
    let operator = server.create_token(&["--role", "operator"]);
    let planner = server.create_token(&["--role", "planner"]);
    let driver_token = server.create_token(&["--role", "driver", "--vehicle", "1"]);

    let (status, body) = get(&server.addr, "/gtfs-rt/vehicle-positions", None).await;
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    let (status, _) = get(&server.addr, "/gtfs-rt/vehicle-positions", Some(&driver_token)).await;
    assert_eq!(status, 403);

    // The driver reports where vehicle 1 is.
    let mut driver = pb::driver_service_client::DriverServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(ch.clone(), Bearer::new(&driver_token)),
    );
    let now = noriai_server::now_unix();
    let report = pb::PositionReport {
        vehicle_id: 1,
        at: Some(ts(now - 2)),
        position: ll(PLACES[2].0, PLACES[2].1),
        heading_deg: 90.0,
        speed_kmh: 36.0,
    };
    driver.report_positions(tokio_stream::iter(vec![report])).await.expect("position");

    // Where a door-to-door vehicle stops is a rider's home: not for planners.
    let (status, _) = get(&server.addr, "/gtfs-rt/vehicle-positions", Some(&planner)).await;
    assert_eq!(status, 403);
    let (status, body) = get(&server.addr, "/gtfs-rt/vehicle-positions", Some(&operator)).await;
    assert_eq!(status, 200);
    let feed = rt::FeedMessage::decode(body.as_slice()).expect("a GTFS-rt FeedMessage");
    assert_eq!(feed.header.gtfs_realtime_version, "2.0");
    let vehicle = feed
        .entity
        .iter()
        .find_map(|e| {
            e.vehicle.as_ref().filter(|v| v.vehicle.as_ref().and_then(|d| d.id.as_deref()) == Some("1"))
        })
        .expect("vehicle 1 is shown");
    let p = vehicle.position.as_ref().expect("position");
    assert!(
        (f64::from(p.latitude) - PLACES[2].0).abs() < 1e-4
            && (f64::from(p.longitude) - PLACES[2].1).abs() < 1e-4
    );
    assert!((p.speed.expect("speed") - 10.0).abs() < 1e-3, "m/s");
    let trip = vehicle.trip.as_ref().expect("trip");
    assert_eq!(trip.schedule_relationship, Some(rt::trip_descriptor::ScheduleRelationship::New as i32));
    assert_eq!(feed.entity.iter().filter(|e| e.vehicle.is_some()).count(), 1, "only vehicles that report");

    // A ride booked for later today shows as the vehicle's NEW trip with its stops' times.
    let jst_s = (now + 9 * 3600).rem_euclid(86_400);
    if !(7 * 3600..17 * 3600).contains(&jst_s) {
        eprintln!(
            "skipped the trip update part: run between 07:00 and 17:00 Asia/Tokyo, inside the demo shifts"
        );
        return;
    }
    let mut op = server.clients_as(&admin_token).await;
    let rider = register(&mut op, "八戸 花子", "ハチノヘ ハナコ", "0178-00-0001", PLACES[0]).await;
    let booked = op
        .booking
        .book(pb::BookRequest {
            idempotency_key: "rt-1".into(),
            what: Some(pb::book_request::What::Trip(trip_of(rider.id, now + 1800))),
            allow_overlap: false,
        })
        .await
        .expect("book")
        .into_inner();
    let (status, body) = get(&server.addr, "/gtfs-rt/trip-updates", Some(&admin_token)).await;
    assert_eq!(status, 200);
    let feed = rt::FeedMessage::decode(body.as_slice()).expect("FeedMessage");
    let update = feed
        .entity
        .iter()
        .find_map(|e| {
            e.trip_update.as_ref().filter(|t| {
                t.vehicle.as_ref().and_then(|v| v.id.clone()) == Some(booked.vehicle_id.to_string())
            })
        })
        .expect("the booked vehicle's trip");
    assert_eq!(
        update.trip.schedule_relationship,
        Some(rt::trip_descriptor::ScheduleRelationship::New as i32)
    );
    assert_eq!(update.stop_time_update.len(), 2, "pickup and drop-off");
    let times: Vec<i64> = update
        .stop_time_update
        .iter()
        .map(|s| s.arrival.as_ref().and_then(|a| a.time).expect("time"))
        .collect();
    let pickup =
        (booked.pickup_window_start.expect("w").seconds, booked.pickup_window_end.expect("w").seconds);
    assert!(times[0] >= pickup.0 && times[0] <= pickup.1, "{times:?} {pickup:?}");
    assert!(times[1] > times[0]);
    assert!(update.stop_time_update.iter().all(|s| s.stop_id.is_none()), "no rider's place is published");
}

fn trip_of(rider: i64, depart: i64) -> pb::Trip {
    trip(rider, PLACES[0], PLACES[3], depart, 1)
}
