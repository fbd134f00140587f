//! The operator console and the driver view in a real browser (Debian's
//! Chromium driven by Playwright for Python, `tests/python/console_flow.py`):
//! log in with a password, find a caller by half-width kana, book with an
//! offer in three keys, change it to five minutes later (an overlapping
//! window), cancel another ride with a reason, see the booking
//! on the live board, log in on the tablet with a driver token, mark arrived
//! and boarded, and see the board follow. The test then checks the server's
//! own record with a gRPC client and the store.
//!
//! Python is `NORIAI_PYTHON` (set by `scripts/test`, whose virtual
//! environment has Playwright) or `python3`. Screenshots of each step are
//! written to `target/console-screenshots/`.

use noriai_e2e::*;
use noriai_server::pb;
use std::io::Write;
use std::process::{Command, Stdio};

fn python() -> String {
    std::env::var("NORIAI_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_books_a_caller_and_a_driver_picks_them_up() {
    let now = noriai_server::now_unix();
    let local_s = (now + 9 * 3600).rem_euclid(86_400);
    if local_s > 22 * 3600 + 30 * 60 {
        eprintln!("skipped: run before 22:30 Asia/Tokyo, so the ride booked for the next hour is today's");
        return;
    }
    let dir = temp_dir("console");
    let server = Server::start(&dir, &[]);
    let ch = server.channel().await;
    let admin = server.admin_token();
    let mut root = server.clients().await;
    let service = root
        .accounts
        .create_service(pb::CreateServiceRequest {
            name: "コンソール試験".into(),
            name_kana: "こんそーるしけん".into(),
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
            wheelchair_places: 1,
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
    let driver_token = root
        .accounts
        .create_token(pb::CreateTokenRequest {
            role: pb::Role::Driver as i32,
            vehicle_id: vehicle,
            service_id: service,
            ..Default::default()
        })
        .await
        .expect("driver token")
        .into_inner()
        .secret;

    // An operator login, made on the command line as an admin would.
    let password = "yuki-no-hi-2026";
    let mut add = Command::new(binary())
        .args(["login", "add", "--name", "sato", "--role", "operator", "--data-dir"])
        .arg(&dir)
        .args(["--service", &service.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("noriai login add");
    writeln!(add.stdin.take().expect("stdin"), "{password}").expect("password");
    let added = add.wait_with_output().expect("login add");
    assert!(added.status.success(), "login add: {}", String::from_utf8_lossy(&added.stderr));

    // A caller who has been to the clinic before, with a ride tomorrow.
    let mut op = Clients::in_service(ch.clone(), &admin, service);
    let rider = op
        .riders
        .register_rider(pb::RegisterRiderRequest {
            name: "山田 花子".into(),
            name_kana: "ヤマダ ハナコ".into(),
            phone: "0172-55-0100".into(),
            home_address: "ファドゥーツ 1-2-3".into(),
            home: ll(PLACES[0].0, PLACES[0].1),
            needs: Some(pb::Needs { walking_aid: true, ..Default::default() }),
        })
        .await
        .expect("rider")
        .into_inner();
    let mut to_clinic = trip(rider.id, PLACES[0], PLACES[1], local_time(1, 10, 0), 1);
    to_clinic.destination = Some(pb::Place {
        kind: Some(pb::place::Kind::Point(pb::LatLon { lat: PLACES[1].0, lon: PLACES[1].1 })),
        label: "診療所".into(),
    });
    let tomorrow = op
        .booking
        .book(pb::BookRequest {
            idempotency_key: "seed".into(),
            what: Some(pb::book_request::What::Trip(to_clinic)),
            allow_overlap: false,
        })
        .await
        .expect("tomorrow's ride")
        .into_inner();

    let shots = repo_root().join("target/console-screenshots");
    let out = Command::new(python())
        .arg(repo_root().join("tests/python/console_flow.py"))
        .arg(format!("http://{}", server.addr))
        .args(["sato", password, &driver_token])
        .arg(&shots)
        .arg(tomorrow.id.to_string())
        .output()
        .expect("run python");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser flow failed (scripts/test installs Playwright into a virtual environment and sets NORIAI_PYTHON; screenshots in {}): {stderr}",
        shots.display()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let done: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("the flow's JSON line");
    eprintln!("browser flow: {done}");
    let booked = done["booking_id"].as_i64().expect("booking id");
    assert_eq!(done["cancelled_id"].as_i64(), Some(tomorrow.id));
    let first = done["changed_from"].as_i64().expect("the changed booking");

    // The server's record agrees with what the pages showed.
    let b = op
        .booking
        .get_booking(pb::GetBookingRequest { booking_id: booked })
        .await
        .expect("the booked ride")
        .into_inner();
    assert_eq!(b.trip.as_ref().map(|t| t.rider_id), Some(rider.id));
    assert_eq!(b.vehicle_id, vehicle);
    assert_eq!(b.ride_status, pb::RideStatus::OnBoard as i32, "{b:?}");
    assert_eq!(b.day, day(0));
    let destination = b.trip.as_ref().and_then(|t| t.destination.as_ref()).expect("destination");
    assert_eq!(destination.label, "診療所", "booked to the usual place");
    let c = op
        .booking
        .get_booking(pb::GetBookingRequest { booking_id: tomorrow.id })
        .await
        .expect("tomorrow's ride")
        .into_inner();
    assert_eq!(c.status, pb::BookingStatus::Cancelled as i32);
    let store = noriai_store::Store::connect(&format!("sqlite://{}", dir.join("noriai.sqlite").display()))
        .await
        .expect("store")
        .for_service(service);
    assert_eq!(store.cancel_reason(tomorrow.id).await.expect("reason").as_deref(), Some("家族が送るため"));
    assert_eq!(store.cancel_reason(booked).await.expect("reason"), None);
    // The change cancelled the first booking, saying by which it was replaced.
    let old = op
        .booking
        .get_booking(pb::GetBookingRequest { booking_id: first })
        .await
        .expect("the first booking")
        .into_inner();
    assert_eq!(old.status, pb::BookingStatus::Cancelled as i32);
    assert_eq!(
        store.cancel_reason(first).await.expect("reason"),
        Some(format!("changed to booking {booked}"))
    );
    // The tablet sent where it was, from its location service.
    let seen = store.last_position(vehicle).await.expect("positions").expect("a position from the tablet");
    assert!(
        (seen.location.lat - 47.1411).abs() < 1e-6 && (seen.location.lon - 9.5216).abs() < 1e-6,
        "{seen:?}"
    );
    // The console's reads were audited as the operator's session.
    let audit = store.audit_of_rider(rider.id, 1000).await.expect("audit");
    let sessions: Vec<i64> = store
        .list_tokens(Some(service))
        .await
        .expect("tokens")
        .into_iter()
        .filter(|t| t.name == noriai_server::web::login_session_name("sato"))
        .map(|t| t.id)
        .collect();
    assert!(
        audit.iter().any(|e| sessions.contains(&e.token_id) && e.rpc.ends_with("RiderService/GetRider")),
        "the rider card's read is in the audit trail"
    );
}
