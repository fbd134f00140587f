//! Accounts and roles end to end: every RPC of every service for every
//! role, tokens that cannot be used, scopes, the audit trail, APPI export
//! and erasure, quotas, logs without personal data, and TLS.

use noriai_e2e::*;
use noriai_server::pb;
use prost::Message;
use tonic::Code;

/// Every method of our services, as `noriai.v1.Service/Method`, read from
/// the descriptors the server itself serves.
fn every_rpc() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).expect("descriptors");
    let mut out = Vec::new();
    for file in set.file {
        for service in &file.service {
            for method in &service.method {
                out.push(format!("{}.{}/{}", file.package(), service.name(), method.name()));
            }
        }
    }
    assert!(out.len() >= 25, "found only {out:?}");
    out
}

/// Calls `rpc` with an empty request (every field at its default) and the
/// given token, and returns the status (OK as `Code::Ok`, also for a stream
/// that stays open).
async fn call(server: &Server, rpc: &str, token: Option<&str>) -> tonic::Status {
    let ch = server.channel().await;
    let mut req = tonic::Request::new(Vec::<u8>::new());
    if let Some(t) = token {
        req.metadata_mut().insert("authorization", format!("Bearer {t}").parse().expect("ascii"));
    }
    let mut grpc = tonic::client::Grpc::new(ch);
    grpc.ready().await.expect("ready");
    let path: tonic::codegen::http::uri::PathAndQuery = format!("/{rpc}").parse().expect("path");
    // A stream that was let in stays open (a manifest, the day board): no
    // answer within seconds means the call was admitted.
    match tokio::time::timeout(std::time::Duration::from_secs(3), grpc.unary(req, path, RawCodec)).await {
        Ok(Ok(_)) | Err(_) => tonic::Status::ok(""),
        Ok(Err(s)) => s,
    }
}

struct Tokens {
    admin: String,
    operator: String,
    driver: String,
    planner: String,
    rider: String,
    rider_id: i64,
}

async fn tokens(server: &Server) -> Tokens {
    let mut c = server.clients().await;
    let r = register(&mut c, "試験 太郎", "シケン タロウ", "0172-11-2233", PLACES[0]).await;
    Tokens {
        admin: server.admin_token(),
        operator: server.create_token(&["--role", "operator", "--name", "受付 佐藤"]),
        driver: server.create_token(&["--role", "driver", "--vehicle", "1"]),
        planner: server.create_token(&["--role", "planner"]),
        rider: server.create_token(&["--role", "rider", "--rider", &r.id.to_string()]),
        rider_id: r.id,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_has_a_rule_and_every_role_gets_only_what_it_allows() {
    let dir = temp_dir("roles");
    let server = Server::start(&dir, &[]);
    let t = tokens(&server).await;
    let roles = [
        ("admin", &t.admin),
        ("operator", &t.operator),
        ("driver", &t.driver),
        ("planner", &t.planner),
        ("rider", &t.rider),
    ];
    for rpc in every_rpc() {
        let rule = noriai_server::auth::RULES.iter().find(|(path, _)| *path == rpc);
        let Some((_, allowed)) = rule else { panic!("{rpc} has no access rule") };
        let anonymous = call(&server, &rpc, None).await;
        assert_eq!(anonymous.code(), Code::Unauthenticated, "{rpc} without a token: {anonymous:?}");
        for (name, token) in roles {
            let status = call(&server, &rpc, Some(token)).await;
            let may = allowed.iter().any(|r| r.name() == name);
            let refused_by_role = status.code() == Code::PermissionDenied
                && status.message().contains(&format!("role `{name}` may not call"));
            assert_eq!(!may, refused_by_role, "{rpc} as {name}: {status:?}");
            assert_ne!(status.code(), Code::Unauthenticated, "{rpc} as {name}: {status:?}");
        }
    }
    // Health and reflection stay open for load balancers and tools.
    let health = call(&server, "grpc.health.v1.Health/Check", None).await;
    assert_eq!(health.code(), Code::Ok, "{health:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_that_cannot_be_used_say_why() {
    let dir = temp_dir("badtokens");
    let server = Server::start(&dir, &[]);
    let rpc = "noriai.v1.FleetService/ListVehicles";
    let says = |s: tonic::Status, what: &str| {
        assert_eq!(s.code(), Code::Unauthenticated, "{s:?}");
        assert!(s.message().contains(what), "`{}` should say {what}", s.message());
    };
    says(call(&server, rpc, None).await, "no token");
    says(call(&server, rpc, Some("letmein")).await, "malformed");
    says(call(&server, rpc, Some(&format!("noriai_{}", "ab".repeat(32)))).await, "unknown");
    let operator = server.create_token(&["--role", "operator"]);
    assert_eq!(call(&server, rpc, Some(&operator)).await.code(), Code::Ok);
    // Revoked through the admin API: refused at once.
    let mut admin = server.clients().await;
    let list = admin.accounts.list_tokens(pb::ListTokensRequest {}).await.expect("list").into_inner();
    let id = list.tokens.iter().find(|t| t.role == pb::Role::Operator as i32).expect("operator token").id;
    assert!(list.tokens.iter().all(|t| !format!("{t:?}").contains(&operator[7..])), "no secrets listed");
    admin.accounts.revoke_token(pb::RevokeTokenRequest { id }).await.expect("revoke");
    says(call(&server, rpc, Some(&operator)).await, "revoked");
    // Expired: a token whose time ran out (written past the API, which
    // only makes tokens that expire in the future).
    let store = noriai_store::Store::connect(&format!("sqlite://{}", dir.join("noriai.sqlite").display()))
        .await
        .expect("store");
    let secret = noriai_server::auth::new_secret().expect("random");
    let old = noriai_model::access::TokenRecord {
        id: 0,
        role: noriai_model::access::Role::Operator,
        scope: noriai_model::access::Scope::Service,
        service: Some(store.service()),
        name: "last winter".into(),
        created_at: 1_700_000_000,
        expires_at: Some(1_700_086_400),
        revoked_at: None,
    };
    store.insert_token(&noriai_server::auth::digest_hex(&secret), &old).await.expect("insert");
    store.close().await;
    says(call(&server, rpc, Some(&secret)).await, "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drivers_and_riders_reach_only_their_own_and_every_access_is_audited() {
    let dir = temp_dir("scopes");
    let server = Server::start(&dir, &[]);
    let t = tokens(&server).await;
    let mut operator = server.clients_as(&t.operator).await;
    let other = register(&mut operator, "別人 花子", "ベツジン ハナコ", "0172-99-8877", PLACES[1]).await;
    // The operator books for both riders.
    let mut booked = Vec::new();
    for (k, rider) in [t.rider_id, other.id].into_iter().enumerate() {
        let trip = trip(rider, PLACES[0], PLACES[2], local_time(1, 9 + 2 * k as u32, 0), 1);
        let b = operator
            .booking
            .book(pb::BookRequest {
                idempotency_key: format!("scope-{k}"),
                what: Some(pb::book_request::What::Trip(trip)),
                allow_overlap: false,
            })
            .await
            .expect("book")
            .into_inner();
        booked.push(b);
    }
    // A rider sees their own profile and bookings, nobody else's.
    let mut rider = server.clients_as(&t.rider).await;
    rider.riders.get_rider(pb::GetRiderRequest { id: t.rider_id }).await.expect("own profile");
    let denied = rider.riders.get_rider(pb::GetRiderRequest { id: other.id }).await.expect_err("other");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let mine = rider
        .booking
        .list_bookings(pb::ListBookingsRequest { rider_id: 0, day: day(1), include_cancelled: true })
        .await
        .expect("own bookings")
        .into_inner();
    assert_eq!(mine.bookings.iter().map(|b| b.id).collect::<Vec<_>>(), vec![booked[0].id]);
    let theirs = rider.booking.get_booking(pb::GetBookingRequest { booking_id: booked[1].id }).await;
    assert_eq!(theirs.expect_err("other's booking").code(), Code::PermissionDenied);
    let cancel =
        rider.booking.cancel(pb::CancelRequest { booking_id: booked[1].id, ..Default::default() }).await;
    assert_eq!(cancel.expect_err("other's booking").code(), Code::PermissionDenied);
    // Nor by booking an offer quoted for someone else, nor by replaying
    // another booking's idempotency key.
    let quote = operator
        .booking
        .quote(pb::QuoteRequest { trip: Some(trip(other.id, PLACES[1], PLACES[2], local_time(2, 9, 0), 1)) })
        .await
        .expect("quote")
        .into_inner();
    let offer_id = quote.offers[0].offer_id.clone();
    let theirs = rider
        .booking
        .book(pb::BookRequest {
            idempotency_key: "rider-takes-offer".into(),
            what: Some(pb::book_request::What::OfferId(offer_id)),
            allow_overlap: false,
        })
        .await;
    assert_eq!(theirs.expect_err("someone else's offer").code(), Code::PermissionDenied);
    let replay = rider
        .booking
        .book(pb::BookRequest {
            idempotency_key: "scope-1".into(),
            what: Some(pb::book_request::What::OfferId("made-up-1".into())),
            allow_overlap: false,
        })
        .await;
    let replay = replay.expect_err("another rider's key");
    assert_eq!(replay.code(), Code::PermissionDenied, "{replay:?}");
    assert!(!replay.message().contains(&booked[1].day), "nothing of the booking: {}", replay.message());
    // Operators see the day's routes with phones; a driver only their own
    // vehicle, its shifts, and today's and tomorrow's route (phones today only).
    let admin_plan = server
        .clients()
        .await
        .fleet
        .day_plan(pb::DayPlanRequest { day: day(1) })
        .await
        .expect("plan")
        .into_inner();
    let stops = |p: &pb::DayPlanResponse| p.routes.iter().map(|r| r.stops.len()).sum::<usize>();
    assert_eq!(stops(&admin_plan), 4, "both bookings planned");
    let phones: Vec<&str> =
        admin_plan.routes.iter().flat_map(|r| &r.stops).map(|s| s.rider_phone.as_str()).collect();
    assert!(phones.contains(&"0172-99-8877"), "operators and admins see phones: {phones:?}");
    let busy = admin_plan.routes[0].vehicle_id;
    let idle =
        (1..=3).find(|v| admin_plan.routes.iter().all(|r| r.vehicle_id != *v)).expect("an idle vehicle");
    for (vehicle, expect_route) in [(busy, true), (idle, false)] {
        let token = server.create_token(&["--role", "driver", "--vehicle", &vehicle.to_string()]);
        let mut driver = server.clients_as(&token).await;
        let plan =
            driver.fleet.day_plan(pb::DayPlanRequest { day: day(1) }).await.expect("plan").into_inner();
        assert!(plan.routes.iter().all(|r| r.vehicle_id == vehicle), "{:?}", plan.routes);
        assert_eq!(!plan.routes.is_empty(), expect_route, "vehicle {vehicle}");
        let stops: Vec<&pb::RouteStop> = plan.routes.iter().flat_map(|r| &r.stops).collect();
        assert!(stops.iter().all(|s| s.rider_phone.is_empty()), "no phones before the day");
        assert!(stops.iter().all(|s| !s.rider_name.is_empty()), "names, to prepare tomorrow");
        let later = driver.fleet.day_plan(pb::DayPlanRequest { day: day(2) }).await.expect_err("next week");
        assert_eq!(later.code(), Code::PermissionDenied, "{later:?}");
        let vehicles =
            driver.fleet.list_vehicles(pb::ListVehiclesRequest {}).await.expect("list").into_inner();
        assert_eq!(vehicles.vehicles.iter().map(|v| v.id).collect::<Vec<_>>(), vec![vehicle]);
        let shifts = driver
            .fleet
            .list_shifts(pb::ListShiftsRequest { day: day(1) })
            .await
            .expect("shifts")
            .into_inner();
        assert!(!shifts.shifts.is_empty() && shifts.shifts.iter().all(|s| s.vehicle_id == vehicle));
    }
    // A planner sees the day in figures only.
    let mut planner = server.clients_as(&t.planner).await;
    let stats =
        planner.fleet.day_stats(pb::DayStatsRequest { day: day(1) }).await.expect("stats").into_inner();
    assert_eq!((stats.bookings_confirmed, stats.riders, stats.seats), (2, 2, 2), "{stats:?}");
    assert_eq!((stats.vehicles_on_shift, stats.bookings_cancelled), (3, 0));
    assert!(stats.vehicles_used >= 1);
    // Whatever a planner may call, no rider's name, reading or phone is in it.
    let seen = format!(
        "{:?}{:?}{:?}{:?}{:?}",
        stats,
        planner.fleet.list_vehicles(pb::ListVehiclesRequest {}).await.expect("vehicles").into_inner(),
        planner.fleet.list_shifts(pb::ListShiftsRequest { day: day(1) }).await.expect("shifts").into_inner(),
        planner.fleet.get_service_area(pb::GetServiceAreaRequest {}).await.expect("area").into_inner(),
        planner.fleet.list_stops(pb::ListStopsRequest {}).await.expect("stops").into_inner(),
    );
    for personal in ["別人", "ベツジン", "0172-99-8877", "試験", "シケン", "0172-11-2233"] {
        assert!(!seen.contains(personal), "a planner saw `{personal}`");
    }
    // The operator's read of the other rider is in the trail, with who and how.
    operator.riders.get_rider(pb::GetRiderRequest { id: other.id }).await.expect("read");
    let mut admin = server.clients().await;
    let trail = admin
        .accounts
        .audit_log(pb::AuditLogRequest { rider_id: other.id, limit: 0 })
        .await
        .expect("audit")
        .into_inner()
        .entries;
    let read = trail
        .iter()
        .find(|e| e.rpc == "noriai.v1.RiderService/GetRider" && e.action == "read")
        .expect("the read is recorded");
    assert_eq!(read.role, pb::Role::Operator as i32);
    assert!(trail.iter().any(|e| e.booking_id == booked[1].id && e.action == "change"), "the booking too");
    assert!(!trail.iter().any(|e| e.booking_id == booked[0].id), "another rider's booking is not theirs");
    // The same trail on the command line.
    let out = std::process::Command::new(binary())
        .args(["audit", "--rider", &other.id.to_string(), "--data-dir"])
        .arg(&dir)
        .output()
        .expect("noriai audit");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("noriai.v1.RiderService/GetRider"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rider_can_have_their_data_exported_and_erased() {
    let dir = temp_dir("appi");
    let server = Server::start(&dir, &[]);
    let mut admin = server.clients().await;
    let r = register(&mut admin, "消去 次郎", "ショウキョ ジロウ", "0172-55-6677", PLACES[0]).await;
    let mut trip = trip(r.id, PLACES[0], PLACES[2], local_time(1, 10, 0), 1);
    if let Some(d) = trip.destination.as_mut() {
        d.label = "Triesen clinic".into();
    }
    let b = admin
        .booking
        .book(pb::BookRequest {
            idempotency_key: "appi-1".into(),
            what: Some(pb::book_request::What::Trip(trip)),
            allow_overlap: false,
        })
        .await
        .expect("book")
        .into_inner();
    let export =
        admin.accounts.export_rider(pb::ExportRiderRequest { rider_id: r.id }).await.expect("export");
    let json: serde_json::Value = serde_json::from_str(&export.into_inner().json).expect("JSON");
    assert_eq!(json["rider"]["name"], "消去 次郎");
    assert_eq!(json["bookings"][0]["id"], b.id);
    assert_eq!(json["bookings"][0]["trip"]["destination"]["label"], "Triesen clinic");
    let audit = json["audit"].as_array().expect("audit entries");
    assert!(
        audit.iter().any(|e| e["rpc"] == "noriai.v1.BookingService/Book" && e["booking_id"] == b.id),
        "{json}"
    );
    // Not while her ride is still to come; once it is cancelled, yes.
    let early =
        admin.accounts.erase_rider(pb::EraseRiderRequest { rider_id: r.id }).await.expect_err("ride to come");
    assert_eq!(early.code(), Code::FailedPrecondition, "{early:?}");
    assert!(early.message().contains(&b.id.to_string()), "names the booking: {}", early.message());
    admin.booking.cancel(pb::CancelRequest { booking_id: b.id, ..Default::default() }).await.expect("cancel");
    let erased = admin
        .accounts
        .erase_rider(pb::EraseRiderRequest { rider_id: r.id })
        .await
        .expect("erase")
        .into_inner();
    assert_eq!(erased.bookings_stripped, 1);
    let gone = admin.riders.get_rider(pb::GetRiderRequest { id: r.id }).await.expect_err("erased");
    assert_eq!(gone.code(), Code::NotFound);
    let kept = admin.booking.get_booking(pb::GetBookingRequest { booking_id: b.id }).await.expect("kept");
    let kept = kept.into_inner();
    let labels = kept.trip.as_ref().map(|t| {
        (t.destination.as_ref().map(|p| p.label.clone()), t.origin.as_ref().map(|p| p.label.clone()))
    });
    assert_eq!(
        labels,
        Some((Some(String::new()), Some(String::new()))),
        "kept for statistics without labels"
    );
    // The command line: export of another rider, and erasure asks for --yes.
    let s = register(&mut admin, "輸出 三郎", "ユシュツ サブロウ", "0172-55-0000", PLACES[1]).await;
    let run = |args: &[&str]| {
        std::process::Command::new(binary()).args(args).arg("--data-dir").arg(&dir).output().expect("run")
    };
    let out = run(&["rider", "export", &s.id.to_string()]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["rider"]["phone"], "0172-55-0000");
    let trail = admin
        .accounts
        .audit_log(pb::AuditLogRequest { rider_id: s.id, limit: 0 })
        .await
        .expect("audit")
        .into_inner();
    assert!(trail.entries.iter().any(|e| e.rpc == "noriai rider export"), "the command line is audited too");
    assert!(!run(&["rider", "erase", &s.id.to_string()]).status.success(), "needs --yes");
    assert!(run(&["rider", "erase", &s.id.to_string(), "--yes"]).status.success());
    let gone = admin.riders.get_rider(pb::GetRiderRequest { id: s.id }).await.expect_err("erased");
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_past_its_quota_is_told_when_to_try_again() {
    let dir = temp_dir("quota");
    let server = Server::start(&dir, &["--quota-per-minute", "5"]);
    let operator = server.create_token(&["--role", "operator"]);
    let mut c = server.clients_as(&operator).await;
    let search = pb::SearchRidersRequest { phone: "0172".into(), name: String::new(), limit: 5 };
    for _ in 0..5 {
        c.riders.search_riders(search.clone()).await.expect("within the quota");
    }
    let refused = c.riders.search_riders(search.clone()).await.expect_err("over the quota");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("try again in"), "{}", refused.message());
    assert!(refused.metadata().get("retry-after-ms").is_some());
    // Other tokens have quotas of their own; unmetered calls go on.
    let mut admin = server.clients().await;
    admin.riders.search_riders(search).await.expect("another token");
    c.fleet.list_vehicles(pb::ListVehiclesRequest {}).await.expect("not metered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn riders_personal_data_never_reaches_the_logs() {
    let dir = temp_dir("pii-logs");
    let server = Server::start_with_env(&dir, &[], &[("RUST_LOG", "trace,geo=info")]);
    let mut c = server.clients().await;
    let (name, kana, phone) = ("秘密 梅子", "ヒミツ ウメコ", "0173-98-7654");
    let r = register(&mut c, name, kana, phone, PLACES[3]).await;
    c.riders
        .search_riders(pb::SearchRidersRequest { phone: "98-7654".into(), name: String::new(), limit: 5 })
        .await
        .expect("search");
    let trip = trip(r.id, PLACES[3], PLACES[0], local_time(1, 11, 0), 1);
    c.booking
        .book(pb::BookRequest {
            idempotency_key: "pii-1".into(),
            what: Some(pb::book_request::What::Trip(trip)),
            allow_overlap: false,
        })
        .await
        .expect("book");
    // A refused duplicate registration names the rider by id only.
    let dup = c
        .riders
        .register_rider(pb::RegisterRiderRequest {
            name: name.into(),
            name_kana: kana.into(),
            phone: phone.into(),
            home_address: String::new(),
            home: ll(PLACES[3].0, PLACES[3].1),
            needs: None,
        })
        .await;
    assert_eq!(dup.expect_err("duplicate").code(), Code::AlreadyExists);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = server.log.lock().expect("log").join("\n");
    assert!(log.len() > 1000, "trace logging is on: {} bytes", log.len());
    for secret in [name, kana, phone, "0173987654", "秘密", "ヒミツ", &server.admin_token()] {
        let line = log.lines().find(|l| l.contains(secret));
        assert!(line.is_none(), "`{secret}` is in the server log: {}", line.unwrap_or_default());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_end_to_end_and_plain_listening_stays_on_loopback() {
    let dir = temp_dir("tls");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    std::fs::write(dir.join("cert.pem"), &cert_pem).expect("write");
    std::fs::write(dir.join("key.pem"), &key_pem).expect("write");
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    let server = Server::start(
        &dir,
        &["--tls-cert", c.to_str().expect("utf-8"), "--tls-key", k.to_str().expect("utf-8")],
    );
    let port = server.addr.rsplit(':').next().expect("port").to_string();
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(&cert_pem))
        .domain_name("localhost");
    let ch = tonic::transport::Channel::from_shared(format!("https://localhost:{port}"))
        .expect("uri")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("TLS connect");
    let mut c = Clients::over(ch, &server.admin_token());
    let vehicles = c.fleet.list_vehicles(pb::ListVehiclesRequest {}).await.expect("over TLS").into_inner();
    assert_eq!(vehicles.vehicles.len(), 3);
    // Plain HTTP/2 to the TLS port gets nowhere.
    let plain = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("uri")
        .connect_timeout(std::time::Duration::from_secs(3))
        .connect()
        .await;
    if let Ok(ch) = plain {
        let mut p = Clients::over(ch, &server.admin_token());
        assert!(p.fleet.list_vehicles(pb::ListVehiclesRequest {}).await.is_err(), "plaintext refused");
    }
    // Without TLS, a network address needs an explicit --insecure-listen.
    let out = std::process::Command::new(binary())
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(temp_dir("tls-plain"))
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--insecure-listen"), "{err}");
}

/// Books in two services at once, each through its own operator: both
/// succeed (the same phone number and idempotency key in both), and neither
/// can see, change or name anything of the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_services_book_at_once_and_neither_sees_the_other() {
    let dir = temp_dir("services");
    let server = Server::start(&dir, &[]);
    let ch = server.channel().await;
    let admin_token = server.admin_token();
    let mut admin = server.clients().await;
    let rules = pb::BookingRules { book_days_ahead: 7, cutoff_minutes: 60, prebooking_window_minutes: 45 };
    let shingo = admin
        .accounts
        .create_service(pb::CreateServiceRequest {
            name: "新郷村デマンド".into(),
            name_kana: "しんごうむら".into(),
            operator_phone: "０１７８－７８－２１１１".into(),
            rules: Some(rules),
            fare_yen: 500,
        })
        .await
        .expect("create service")
        .into_inner();
    assert_eq!((shingo.name_kana.as_str(), shingo.operator_phone.as_str()), ("シンゴウムラ", "0178-78-2111"));
    assert_eq!(shingo.rules, Some(rules));
    let listed = admin.accounts.list_services(pb::ListServicesRequest {}).await.expect("list").into_inner();
    assert_eq!(listed.services.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, shingo.id]);

    // With two services, a deployment-wide admin must name one.
    let unnamed = admin.fleet.list_vehicles(pb::ListVehiclesRequest {}).await.expect_err("which service?");
    assert_eq!(unnamed.code(), Code::InvalidArgument, "{unnamed:?}");
    assert!(unnamed.message().starts_with("x-noriai-service"), "{}", unnamed.message());
    let mut nowhere = Clients::in_service(ch.clone(), &admin_token, 999);
    let missing = nowhere.fleet.list_vehicles(pb::ListVehiclesRequest {}).await.expect_err("no such service");
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");

    // The new service's fleet, set up by the deployment admin acting in it.
    let mut admin2 = Clients::in_service(ch.clone(), &admin_token, shingo.id);
    let van = admin2
        .fleet
        .add_vehicle(pb::AddVehicleRequest {
            name: "新郷1号".into(),
            seats: 8,
            wheelchair_places: 1,
            depot: ll(PLACES[1].0, PLACES[1].1),
        })
        .await
        .expect("add vehicle")
        .into_inner();
    for days in [1, 2] {
        admin2
            .fleet
            .set_shift(pb::SetShiftRequest {
                shift: Some(pb::Shift {
                    vehicle_id: van.id,
                    day: day(days),
                    start: "07:00".into(),
                    end: "19:00".into(),
                }),
            })
            .await
            .expect("shift");
    }
    let demo_vehicles: Vec<i64> = Clients::in_service(ch.clone(), &admin_token, 1)
        .fleet
        .list_vehicles(pb::ListVehiclesRequest {})
        .await
        .expect("demo fleet")
        .into_inner()
        .vehicles
        .iter()
        .map(|v| v.id)
        .collect();
    assert!(!demo_vehicles.contains(&van.id) && !demo_vehicles.is_empty());
    let theirs = admin2
        .fleet
        .set_shift(pb::SetShiftRequest {
            shift: Some(pb::Shift {
                vehicle_id: demo_vehicles[0],
                day: day(1),
                start: "07:00".into(),
                end: "08:00".into(),
            }),
        })
        .await
        .expect_err("another service's vehicle");
    assert_eq!(theirs.code(), Code::NotFound, "{theirs:?}");

    // One operator per service.
    let token_in = |admin: &mut Clients, service: i64, role: pb::Role| {
        let mut admin = admin.clone();
        async move {
            admin
                .accounts
                .create_token(pb::CreateTokenRequest {
                    role: role as i32,
                    name: format!("{role:?} of {service}"),
                    service_id: service,
                    ..Default::default()
                })
                .await
                .expect("create token")
                .into_inner()
        }
    };
    let op1 = token_in(&mut admin, 1, pb::Role::Operator).await;
    let op2 = token_in(&mut admin, shingo.id, pb::Role::Operator).await;
    assert_eq!(
        (op1.token.as_ref().map(|t| t.service_id), op2.token.as_ref().map(|t| t.service_id)),
        (Some(1), Some(shingo.id))
    );
    let mut one = server.clients_as(&op1.secret).await;
    let mut two = server.clients_as(&op2.secret).await;
    let crossing = Clients::in_service(ch.clone(), &op2.secret, 1)
        .fleet
        .list_vehicles(pb::ListVehiclesRequest {})
        .await
        .expect_err("an operator of service 2 naming service 1");
    assert_eq!(crossing.code(), Code::PermissionDenied, "{crossing:?}");

    // The same caller registered in both towns.
    let r1 = register(&mut one, "山田 花子", "ヤマダ ハナコ", "0172-55-0101", PLACES[0]).await;
    let r2 = register(&mut two, "山田 花子", "ヤマダ ハナコ", "0172-55-0101", PLACES[0]).await;
    // Both towns book at the same time, with the same idempotency keys.
    let book_all = |mut c: Clients, rider: i64| async move {
        let mut ids = Vec::new();
        for k in 0..4u32 {
            let depart = local_time(1, 9 + k, 0);
            let b = c
                .booking
                .book(pb::BookRequest {
                    idempotency_key: format!("call-{k}"),
                    what: Some(pb::book_request::What::Trip(trip(rider, PLACES[0], PLACES[2], depart, 1))),
                    allow_overlap: false,
                })
                .await
                .expect("book")
                .into_inner();
            ids.push(b.id);
        }
        ids
    };
    let (ones, twos) = tokio::join!(book_all(one.clone(), r1.id), book_all(two.clone(), r2.id));
    assert!(ones.iter().all(|id| !twos.contains(id)));

    // Each sees its own only.
    let listed = |mut c: Clients| async move {
        let list = c
            .booking
            .list_bookings(pb::ListBookingsRequest { rider_id: 0, day: day(1), include_cancelled: true })
            .await
            .expect("list")
            .into_inner();
        list.bookings.iter().map(|b| b.id).collect::<Vec<_>>()
    };
    assert_eq!(listed(one.clone()).await, ones);
    assert_eq!(listed(two.clone()).await, twos);
    let plan = two.fleet.day_plan(pb::DayPlanRequest { day: day(1) }).await.expect("plan").into_inner();
    assert!(plan.routes.iter().all(|r| r.vehicle_id == van.id) && !plan.routes.is_empty());
    let found = two
        .riders
        .search_riders(pb::SearchRidersRequest { phone: "0172-55".into(), name: String::new(), limit: 10 })
        .await
        .expect("search")
        .into_inner();
    assert_eq!(found.riders.iter().map(|r| r.id).collect::<Vec<_>>(), vec![r2.id]);
    for status in [
        two.riders.get_rider(pb::GetRiderRequest { id: r1.id }).await.expect_err("rider of 1"),
        two.booking
            .get_booking(pb::GetBookingRequest { booking_id: ones[0] })
            .await
            .expect_err("booking of 1"),
        two.booking
            .cancel(pb::CancelRequest { booking_id: ones[0], ..Default::default() })
            .await
            .expect_err("cancel in 1"),
        one.booking
            .get_booking(pb::GetBookingRequest { booking_id: twos[0] })
            .await
            .expect_err("booking of 2"),
    ] {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }
    let stray = two
        .booking
        .quote(pb::QuoteRequest { trip: Some(trip(r1.id, PLACES[0], PLACES[2], local_time(1, 15, 0), 1)) })
        .await
        .expect_err("a rider of service 1 in service 2");
    assert_eq!(stray.code(), Code::NotFound, "{stray:?}");
    let still = one.booking.get_booking(pb::GetBookingRequest { booking_id: ones[0] }).await.expect("kept");
    assert_eq!(still.into_inner().status, pb::BookingStatus::Confirmed as i32);

    // Service 2's own fare, for each of two seats.
    let offers = two
        .booking
        .quote(pb::QuoteRequest { trip: Some(trip(r2.id, PLACES[0], PLACES[2], local_time(2, 10, 0), 2)) })
        .await
        .expect("quote")
        .into_inner();
    assert!(!offers.offers.is_empty() && offers.offers.iter().all(|o| o.fare_yen == 1000), "{offers:?}");
    // Service 2's own rules: a week ahead, closing an hour before.
    for (depart, says) in [(local_time(9, 10, 0), "7 days ahead"), (now_plus(30 * 60), "60 minutes before")] {
        let refused = two
            .booking
            .quote(pb::QuoteRequest { trip: Some(trip(r2.id, PLACES[0], PLACES[2], depart, 1)) })
            .await
            .expect_err("outside the booking rules");
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
        assert!(refused.message().contains(says), "{}", refused.message());
    }

    // An admin of service 2 manages service 2 only.
    let town_admin = token_in(&mut admin2, shingo.id, pb::Role::Admin).await;
    let mut town = server.clients_as(&town_admin.secret).await;
    let denied = town
        .accounts
        .create_service(pb::CreateServiceRequest {
            name: "x".into(),
            name_kana: "エックス".into(),
            operator_phone: String::new(),
            rules: None,
            fare_yen: 0,
        })
        .await
        .expect_err("a town admin adds no services");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = town
        .accounts
        .create_token(pb::CreateTokenRequest {
            role: pb::Role::Operator as i32,
            service_id: 1,
            ..Default::default()
        })
        .await
        .expect_err("a town admin makes no tokens for another service");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let tokens =
        town.accounts.list_tokens(pb::ListTokensRequest {}).await.expect("tokens").into_inner().tokens;
    assert!(!tokens.is_empty() && tokens.iter().all(|t| t.service_id == shingo.id), "{tokens:?}");
    let services = town.accounts.list_services(pb::ListServicesRequest {}).await.expect("own").into_inner();
    assert_eq!(services.services.iter().map(|s| s.id).collect::<Vec<_>>(), vec![shingo.id]);
    let audit =
        town.accounts.audit_log(pb::AuditLogRequest { rider_id: 0, limit: 1000 }).await.expect("audit");
    let audit = audit.into_inner().entries;
    assert!(audit.iter().any(|e| e.rider_id == r2.id));
    assert!(audit.iter().all(|e| e.rider_id != r1.id && !ones.contains(&e.booking_id)), "{audit:?}");
}

fn now_plus(seconds: i64) -> i64 {
    noriai_server::now_unix() + seconds
}
