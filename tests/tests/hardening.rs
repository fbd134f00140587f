//! What the first user trials broke, through the real binary and a real gRPC
//! client: a database outage, hostile or strange input, Japanese typing.

use noriai_e2e::*;
use noriai_server::pb;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

async fn health_of(server: &Server) -> i32 {
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    match health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await {
        Ok(r) => r.into_inner().status,
        Err(_) => -1,
    }
}

async fn wait_for_health(server: &Server, want: ServingStatus, within: Duration) -> Duration {
    let start = Instant::now();
    while start.elapsed() < within {
        if health_of(server).await == want as i32 {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("health did not become {want:?} within {within:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_fast_keeps_quoting_and_heals_by_itself() {
    let db = PostgresDb::create("outage");
    let proxy = DbProxy::start(&db.url).await;
    let dir = temp_dir("outage");
    let server = Server::start(&dir, &["--db", &proxy.url]);
    let mut c = server.clients().await;
    let rider = register(&mut c, "停電 試験", "テイデン シケン", "0172-00-0001", PLACES[0]).await.id;
    let quote = |c: &mut Clients, hh| {
        let mut b = c.booking.clone();
        let t = trip(rider, PLACES[0], PLACES[3], local_time(1, hh, 0), 1);
        async move { b.quote(pb::QuoteRequest { trip: Some(t) }).await }
    };
    quote(&mut c, 9).await.expect("quote before the outage");
    let before = c
        .booking
        .book(pb::BookRequest {
            allow_overlap: false,
            idempotency_key: "outage-1".into(),
            what: Some(pb::book_request::What::Trip(trip(
                rider,
                PLACES[0],
                PLACES[3],
                local_time(1, 9, 0),
                1,
            ))),
        })
        .await
        .expect("book before the outage")
        .into_inner();
    assert_eq!(health_of(&server).await, ServingStatus::Serving as i32);

    proxy.cut();
    wait_for_health(&server, ServingStatus::NotServing, Duration::from_secs(15)).await;
    // Quotes go on from memory, without waiting for the database.
    let t = Instant::now();
    let offers = quote(&mut c, 11).await.expect("quotes go on while the database is away").into_inner();
    assert!(!offers.offers.is_empty());
    assert!(t.elapsed() < Duration::from_secs(2), "a quote waited {:?} for the database", t.elapsed());
    // A booking fails fast with UNAVAILABLE and a message that says what to do.
    let t = Instant::now();
    let err = c
        .booking
        .book(pb::BookRequest {
            allow_overlap: false,
            idempotency_key: "outage-2".into(),
            what: Some(pb::book_request::What::OfferId(offers.offers[0].offer_id.clone())),
        })
        .await
        .expect_err("no booking without the database");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("try again"), "{}", err.message());
    assert!(!err.message().contains("pool"), "no raw database error: {}", err.message());
    assert!(t.elapsed() < Duration::from_secs(8), "the caller waited {:?}", t.elapsed());

    // A cancellation that cannot be stored changes nothing: the booking stays
    // confirmed and planned, and cancelling again later works.
    let err = c
        .booking
        .cancel(pb::CancelRequest { booking_id: before.id, ..Default::default() })
        .await
        .expect_err("no cancellation without the database");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    proxy.restore();
    wait_for_health(&server, ServingStatus::Serving, Duration::from_secs(20)).await;
    let plan = c.fleet.day_plan(pb::DayPlanRequest { day: day(1) }).await.expect("day plan").into_inner();
    let stops = plan.routes.iter().flat_map(|v| &v.stops).filter(|s| s.booking_id == before.id).count();
    assert_eq!(stops, 2, "the booking whose cancellation failed is still planned");
    // The same offer books now: it was kept while its commit failed.
    let after = c
        .booking
        .book(pb::BookRequest {
            allow_overlap: false,
            idempotency_key: "outage-2".into(),
            what: Some(pb::book_request::What::OfferId(offers.offers[0].offer_id.clone())),
        })
        .await
        .expect("booking works again without a restart")
        .into_inner();
    assert_ne!(after.id, before.id);
    let cancelled = c
        .booking
        .cancel(pb::CancelRequest { booking_id: before.id, ..Default::default() })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.status, pb::BookingStatus::Cancelled as i32);
    drop(server);
    drop(proxy);
}

fn nul_trip(rider: i64, label: &str) -> pb::Trip {
    let mut t = trip(rider, PLACES[0], PLACES[1], local_time(1, 10, 0), 1);
    if let Some(p) = t.destination.as_mut() {
        p.label = label.into();
    }
    t
}

/// Control characters, huge values and absurd numbers are refused with
/// INVALID_ARGUMENT naming the field, before the store is touched, on both backends.
async fn strange_input_is_refused_plainly(db_args: &[&str], tag: &str) {
    let dir = temp_dir(tag);
    let server = Server::start(&dir, db_args);
    let mut c = server.clients().await;
    let rider = register(&mut c, "入力 試験", "ニュウリョク", "0172-00-0002", PLACES[0]).await.id;
    let reg = |name: &str, kana: &str, phone: &str| pb::RegisterRiderRequest {
        name: name.into(),
        name_kana: kana.into(),
        phone: phone.into(),
        home_address: String::new(),
        home: ll(PLACES[1].0, PLACES[1].1),
        needs: None,
    };
    for (req, field) in [
        (reg("山田\u{0}花子", "ヤマダ", "0172-00-0003"), "name"),
        (reg("山田 花子", "ヤマダ\u{1b}", "0172-00-0003"), "name_kana"),
        (reg("山田 花子", "ヤマダ", "0172\u{0}-00-0003"), "phone"),
    ] {
        let err = c.riders.register_rider(req).await.expect_err("control character");
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert!(err.message().starts_with(field) && err.message().contains("U+"), "{}", err.message());
    }
    let err = c
        .booking
        .quote(pb::QuoteRequest { trip: Some(nul_trip(rider, "clinic\u{0}")) })
        .await
        .expect_err("label");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("trip.destination.label"), "{}", err.message());
    let err = c
        .booking
        .book(pb::BookRequest {
            allow_overlap: false,
            idempotency_key: "key\u{0}".into(),
            what: Some(pb::book_request::What::Trip(trip(
                rider,
                PLACES[0],
                PLACES[1],
                local_time(1, 10, 0),
                1,
            ))),
        })
        .await
        .expect_err("key");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("idempotency_key"), "{}", err.message());

    // A megabyte offer id is refused without being echoed back.
    let err = c
        .booking
        .book(pb::BookRequest {
            allow_overlap: false,
            idempotency_key: "big".into(),
            what: Some(pb::book_request::What::OfferId("9".repeat(1 << 20))),
        })
        .await
        .expect_err("huge offer id");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().len() < 200, "{} bytes", err.message().len());
    // Numbers are printed in a few characters, not 309 digits.
    let mut t = trip(rider, PLACES[0], PLACES[1], local_time(1, 10, 0), 1);
    t.origin = point(1e308, 9.5);
    let err = c.booking.quote(pb::QuoteRequest { trip: Some(t) }).await.expect_err("latitude");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("1e308") && err.message().len() < 120, "{}", err.message());
    // The store was never touched: the rider list is as it was.
    let found = c
        .riders
        .search_riders(pb::SearchRidersRequest { phone: String::new(), name: "ヤマダ".into(), limit: 10 })
        .await
        .expect("search")
        .into_inner();
    assert!(found.riders.is_empty(), "{:?}", found.riders);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strange_input_is_refused_plainly_on_sqlite() {
    strange_input_is_refused_plainly(&[], "strange-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strange_input_is_refused_plainly_on_postgres() {
    let db = PostgresDb::create("strange");
    strange_input_is_refused_plainly(&["--db", &db.url], "strange-postgres").await;
}

/// Bytes that are not the request's protobuf are the caller's mistake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_requests_are_invalid_arguments() {
    let dir = temp_dir("garbage");
    let server = Server::start(&dir, &[]);
    let ch = tonic::service::interceptor::InterceptedService::new(
        server.channel().await,
        Bearer::new(&server.admin_token()),
    );
    let mut grpc = tonic::client::Grpc::new(ch);
    for body in [vec![0xff_u8; 64], vec![0x0a, 0x03, 0xff, 0xfe, 0xfd], b"\x0a\x05hello\x12".to_vec()] {
        grpc.ready().await.expect("ready");
        let path =
            tonic::codegen::http::uri::PathAndQuery::from_static("/noriai.v1.RiderService/SearchRiders");
        let r: Result<tonic::Response<Vec<u8>>, tonic::Status> =
            grpc.unary(tonic::Request::new(body), path, RawCodec).await;
        let err = r.expect_err("garbage must be refused");
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    }
}

/// Operators type numbers and readings as Japanese keyboards give them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_numbers_and_readings_are_found_however_they_are_typed() {
    let dir = temp_dir("typing");
    let server = Server::start(&dir, &[]);
    let mut c = server.clients().await;
    let r = register(&mut c, "山田 花子", "やまだ　はなこ", "０１７－７３４－１１１１", PLACES[0]).await;
    assert_eq!(r.phone, "017-734-1111", "stored in its plain form");
    assert_eq!(r.name_kana, "ヤマダ ハナコ", "readings are stored as katakana");
    for phone in ["017-734-1111", "+81-17-734-1111", "０１７７３４１１１１", "734-1111"] {
        let found = c
            .riders
            .search_riders(pb::SearchRidersRequest { phone: phone.into(), name: String::new(), limit: 5 })
            .await
            .expect("search by phone")
            .into_inner();
        assert_eq!(found.riders.iter().map(|x| x.id).collect::<Vec<_>>(), vec![r.id], "{phone}");
    }
    for name in ["ﾔﾏﾀﾞ", "やまだ", "ヤマダ ハナコ", "山田花子"] {
        let found = c
            .riders
            .search_riders(pb::SearchRidersRequest { phone: String::new(), name: name.into(), limit: 5 })
            .await
            .expect("search by name")
            .into_inner();
        assert_eq!(found.riders.iter().map(|x| x.id).collect::<Vec<_>>(), vec![r.id], "{name}");
    }
    // The same number written the international way is the same rider.
    let again = c
        .riders
        .register_rider(pb::RegisterRiderRequest {
            name: "山田 花子".into(),
            name_kana: "ヤマダ ハナコ".into(),
            phone: "+81 17 734 1111".into(),
            home_address: String::new(),
            home: ll(PLACES[0].0, PLACES[0].1),
            needs: None,
        })
        .await
        .expect_err("a second rider with the same number");
    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
    // A reading must be kana.
    let err = c
        .riders
        .register_rider(pb::RegisterRiderRequest {
            name: "John Smith".into(),
            name_kana: "abc".into(),
            phone: "0172-99-9999".into(),
            home_address: String::new(),
            home: ll(PLACES[0].0, PLACES[0].1),
            needs: None,
        })
        .await
        .expect_err("not kana");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("name_kana") && err.message().contains("katakana"),
        "{}",
        err.message()
    );
    // A home no vehicle can reach is refused at registration, naming the distance.
    let err = c
        .riders
        .register_rider(pb::RegisterRiderRequest {
            name: "山小屋 太郎".into(),
            name_kana: "ヤマゴヤ タロウ".into(),
            phone: "0172-88-8888".into(),
            home_address: String::new(),
            home: ll(47.05, 9.62), // above the tree line, far from any road
            needs: None,
        })
        .await
        .expect_err("home far from roads");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("home") && err.message().contains(" m "), "{}", err.message());

    // Offers and bookings carry the local times an operator reads out.
    let t = trip(r.id, PLACES[0], PLACES[3], local_time(1, 9, 30), 1);
    let offers =
        c.booking.quote(pb::QuoteRequest { trip: Some(t) }).await.expect("quote").into_inner().offers;
    let o = &offers[0];
    assert_eq!(o.day, day(1));
    let start = o.pickup_window_start.as_ref().expect("start").seconds;
    let local = |unix: i64| {
        let s = (unix - local_time(1, 0, 0)).rem_euclid(86_400);
        format!("{:02}:{:02}", s / 3600, s % 3600 / 60)
    };
    assert!(
        o.pickup_window_local.starts_with(&local(start)),
        "{} vs {}",
        o.pickup_window_local,
        local(start)
    );
    assert!(
        o.pickup_window_local.contains('–') && o.pickup_window_local.starts_with("09:"),
        "{}",
        o.pickup_window_local
    );
    let b = c
        .booking
        .book(pb::BookRequest {
            allow_overlap: false,
            idempotency_key: "local-times".into(),
            what: Some(pb::book_request::What::OfferId(o.offer_id.clone())),
        })
        .await
        .expect("book")
        .into_inner();
    assert_eq!(b.pickup_window_local, o.pickup_window_local);
    assert_eq!(b.expected_arrival_local, local(b.expected_arrival.as_ref().expect("arrival").seconds));
}

/// The town's GIS office sends its boundary as GeoJSON; a file with latitude
/// and longitude swapped is refused with a hint instead of a useless area.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_town_boundary_in_geojson_becomes_the_service_area() {
    let dir = temp_dir("geojson-area");
    let server = Server::start(&dir, &[]);
    let mut c = server.clients().await;
    let boundary = |swap: bool| {
        let pts = [(9.47, 47.04), (9.64, 47.04), (9.64, 47.27), (9.47, 47.27), (9.47, 47.04)];
        let ring: Vec<String> = pts
            .iter()
            .map(|&(lon, lat)| if swap { format!("[{lat},{lon}]") } else { format!("[{lon},{lat}]") })
            .collect();
        format!(
            r#"{{"type":"Feature","properties":{{"name":"town"}},"geometry":{{"type":"Polygon","coordinates":[[{}]]}}}}"#,
            ring.join(",")
        )
    };
    let set = |text: String| pb::SetServiceAreaRequest {
        resolution: 7,
        shape: Some(pb::set_service_area_request::Shape::Geojson(text)),
    };
    let area = c.fleet.set_service_area(set(boundary(false))).await.expect("area").into_inner();
    assert!(area.cell_count > 10, "{}", area.cell_count);
    let err = c.fleet.set_service_area(set(boundary(true))).await.expect_err("swapped");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("swapped"), "{}", err.message());
    let err = c
        .fleet
        .set_service_area(set("{\"type\":\"Point\",\"coordinates\":[9.5,47.1]}".into()))
        .await
        .expect_err("a point");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("geojson"), "{}", err.message());
    // The first area stays in force.
    let now = c.fleet.get_service_area(pb::GetServiceAreaRequest {}).await.expect("get").into_inner();
    assert_eq!(now.cell_count, area.cell_count);
}
