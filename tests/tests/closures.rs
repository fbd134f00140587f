//! Roads closed at run time: an operator closes a road on a booked ride's
//! route, the plan goes around it at once (a later arrival), the closure
//! survives `kill -9`, and reopening gives the first plan back; a day
//! switched to winter speeds is planned slower, and back again.

use noriai_e2e::*;
use noriai_server::pb;
use std::process::Command;
use tonic::Code;

type OpsClient = pb::operations_service_client::OperationsServiceClient<Authed>;

fn ops_client(ch: tonic::transport::Channel, token: &str) -> OpsClient {
    pb::operations_service_client::OperationsServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(ch, Bearer::new(token)),
    )
}

/// Points along the fastest route between two places, from `noriai route`.
fn route_points(from: (f64, f64), to: (f64, f64)) -> Vec<(f64, f64)> {
    let out = Command::new(binary())
        .args([
            "route",
            "--json",
            "--from",
            &format!("{},{}", from.0, from.1),
            "--to",
            &format!("{},{}", to.0, to.1),
        ])
        .output()
        .expect("run noriai route");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("route JSON");
    json["geometry"]["coordinates"]
        .as_array()
        .expect("coordinates")
        .iter()
        .map(|c| (c[1].as_f64().expect("lat"), c[0].as_f64().expect("lon")))
        .collect()
}

async fn arrival(op: &mut Clients, booking: i64) -> i64 {
    let b = op
        .booking
        .get_booking(pb::GetBookingRequest { booking_id: booking })
        .await
        .expect("get")
        .into_inner();
    b.expected_arrival.expect("an arrival").seconds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_road_is_planned_around_and_reopening_restores_the_plan() {
    if !inside_demo_shifts(1800, 2 * 3600) {
        eprintln!("skipped: run between 06:30 and 16:30 Asia/Tokyo, so today's ride fits the demo shifts");
        return;
    }
    let dir = temp_dir("closures");
    let server = Server::start(&dir, &[]);
    let ch = server.channel().await;
    let operator = server.create_token(&["--role", "operator"]);
    let planner = server.create_token(&["--role", "planner"]);
    let mut op = server.clients_as(&operator).await;
    let mut ops = ops_client(ch.clone(), &operator);
    let rider = register(&mut op, "十和田 次郎", "トワダ ジロウ", "0176-30-0001", PLACES[0]).await;
    let (from, to) = (PLACES[0], PLACES[3]);
    let booked = op
        .booking
        .book(pb::BookRequest {
            idempotency_key: "closure-1".into(),
            what: Some(pb::book_request::What::Trip(trip(
                rider.id,
                from,
                to,
                noriai_server::now_unix() + 1800,
                1,
            ))),
            allow_overlap: false,
        })
        .await
        .expect("book")
        .into_inner();
    let open = arrival(&mut op, booked.id).await;

    // Bad closures are refused, naming what to fix.
    let none = ops.close_road(pb::CloseRoadRequest::default()).await.expect_err("no place");
    assert_eq!(none.code(), Code::InvalidArgument);
    assert!(none.message().contains("place"), "{}", none.message());
    let far = ops
        .close_road(pb::CloseRoadRequest {
            place: Some(pb::close_road_request::Place::Point(pb::LatLon { lat: 35.0, lon: 139.0 })),
            reason: pb::ClosureReason::Snow as i32,
            ..Default::default()
        })
        .await
        .expect_err("far from the map");
    assert_eq!(far.code(), Code::InvalidArgument);
    assert!(far.message().starts_with("point"), "{}", far.message());
    let unknown = ops.reopen_road(pb::ReopenRoadRequest { closure_id: 999 }).await.expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
    let planner_ops = ops_client(ch.clone(), &planner).close_road(pb::CloseRoadRequest::default()).await;
    assert_eq!(planner_ops.expect_err("planners do not close roads").code(), Code::PermissionDenied);

    // Close the road under the ride, point by point along its route, until
    // a closure makes the ride longer (a closure beside a parallel street
    // of equal time may not); each closure that does not is reopened.
    let points = route_points(from, to);
    let mut closed = None;
    for p in points.iter().skip(points.len() / 4).step_by((points.len() / 12).max(1)).take(8) {
        let c = ops
            .close_road(pb::CloseRoadRequest {
                place: Some(pb::close_road_request::Place::Point(pb::LatLon { lat: p.0, lon: p.1 })),
                reason: pb::ClosureReason::Snow as i32,
                note: "吹雪で通行止め".into(),
                ..Default::default()
            })
            .await
            .expect("close")
            .into_inner();
        assert_eq!(c.roads_closed, 1);
        assert!(c.when_local.ends_with("until reopened"), "{}", c.when_local);
        let around = arrival(&mut op, booked.id).await;
        assert!(around >= open, "closing a road made the ride arrive earlier: {open} -> {around}");
        if around > open {
            closed = Some((c.id, around));
            break;
        }
        ops.reopen_road(pb::ReopenRoadRequest { closure_id: c.id }).await.expect("reopen");
        assert_eq!(arrival(&mut op, booked.id).await, open);
    }
    let (closure, around) = closed.expect("some closure on the route makes the ride longer");
    let listed = ops.list_closures(pb::ListClosuresRequest {}).await.expect("list").into_inner();
    assert_eq!(listed.closures[0].id, closure);
    assert_eq!(listed.closures[0].note, "吹雪で通行止め");
    let seen_by_planner = ops_client(ch.clone(), &planner).list_closures(pb::ListClosuresRequest {}).await;
    assert_eq!(
        seen_by_planner.expect("planners see closures").into_inner().closures.len(),
        listed.closures.len()
    );

    // kill -9: the closure and the plan around it are still there, and a
    // new booking is planned around it too.
    let data = server.data_dir.clone();
    server.kill();
    let server = Server::start(&data, &[]);
    let ch = server.channel().await;
    let mut op = server.clients_as(&operator).await;
    let mut ops = ops_client(ch, &operator);
    assert_eq!(arrival(&mut op, booked.id).await, around);

    // Reopened: planned again without it, exactly as before.
    let reopened =
        ops.reopen_road(pb::ReopenRoadRequest { closure_id: closure }).await.expect("reopen").into_inner();
    assert!(reopened.reopened_at.is_some());
    assert_eq!(arrival(&mut op, booked.id).await, open);

    // Snow on every road: the day switched to winter speeds arrives later,
    // and back to the usual speeds exactly as first planned.
    let winter = ops
        .set_road_conditions(pb::SetRoadConditionsRequest { day: String::new(), winter: true })
        .await
        .expect("winter")
        .into_inner();
    assert!(winter.winter);
    let snowy = arrival(&mut op, booked.id).await;
    assert!(snowy > open, "winter speeds arrive later: {open} -> {snowy}");
    ops.set_road_conditions(pb::SetRoadConditionsRequest { day: String::new(), winter: false })
        .await
        .expect("usual");
    assert_eq!(arrival(&mut op, booked.id).await, open);
    let past = ops
        .set_road_conditions(pb::SetRoadConditionsRequest { day: day(-1), winter: true })
        .await
        .expect_err("a day that has passed");
    assert_eq!(past.code(), Code::FailedPrecondition, "{past:?}");
}
