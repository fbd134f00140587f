//! Timetables over gRPC: `noriai serve --gtfs` with the real Aomori, Donan
//! (Muroran) and VVS feeds; stops found by kana and in English, departures
//! exactly as the timetable library computes them, clear errors, and a
//! reload that keeps the old feeds when the new ones are broken.

use noriai_e2e::*;
use noriai_server::pb;
use tonic::Code;

type TimetableClient = pb::timetable_service_client::TimetableServiceClient<Authed>;

fn client(ch: tonic::transport::Channel, token: &str) -> TimetableClient {
    pb::timetable_service_client::TimetableServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(ch, Bearer::new(token)),
    )
}

fn feed(name: &str) -> String {
    repo_root().join("feeds").join(name).display().to_string()
}

/// 07:00 on Monday 2020-06-01 in Japan.
const MONDAY_7AM_JST: i64 = 1_590_962_400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_by_kana_departures_and_route_tables_over_grpc() {
    let dir = temp_dir("timetable");
    let (aomori, donan, vvs) = (
        feed("aomori-citybus-gtfs-jp"),
        feed("donanbus-muroran-gtfs-jp.zip"),
        feed("vvs-bus-751-only.gtfs.zip"),
    );
    let server = Server::start(&dir, &["--gtfs", &aomori, "--gtfs", &donan, "--gtfs", &vvs]);
    let ch = server.channel().await;
    let planner = server.create_token(&["--role", "planner"]);
    let mut tt = client(ch.clone(), &planner);

    let feeds = tt.list_feeds(pb::ListFeedsRequest {}).await.expect("feeds").into_inner().feeds;
    let names: Vec<&str> = feeds.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["aomori-citybus-gtfs-jp", "donanbus-muroran-gtfs-jp", "vvs-bus-751-only"]);
    assert_eq!(feeds[1].stop_times, 20_594);
    assert!(feeds[1].warnings.iter().any(|w| w.contains("ended on 2021-04-01")), "{:?}", feeds[1].warnings);
    assert_eq!(feeds[1].time_zone, "Asia/Tokyo");

    // A caller says the stop's name; the operator types it in hiragana.
    let search = |query: &str, lang: &str| pb::SearchStopsRequest {
        query: query.into(),
        lang: lang.into(),
        limit: 5,
        ..Default::default()
    };
    let found = tt.search_stops(search("あおもりえき", "en")).await.expect("search").into_inner().stops;
    assert!(!found.is_empty());
    assert!(found.iter().all(|s| s.feed == "aomori-citybus-gtfs-jp" && s.name == "Aomori Sta."), "{found:?}");
    assert!(found.iter().all(|s| s.reading == "あおもりえき" && s.feed_name.starts_with("青森駅")));
    assert!(found.iter().any(|s| !s.platform.is_empty()));
    let katakana = tt.search_stops(search("アオモリエキ", "ja")).await.expect("search").into_inner().stops;
    assert_eq!(
        katakana.iter().map(|s| &s.stop_id).collect::<Vec<_>>(),
        found.iter().map(|s| &s.stop_id).collect::<Vec<_>>()
    );
    assert!(katakana.iter().all(|s| s.name == s.feed_name), "ja: the feed's own names");

    // Near Muroran station: only Donan stops, nearest first, each with its routes.
    let near = tt
        .search_stops(pb::SearchStopsRequest {
            near: ll(42.3177, 140.9736),
            near_radius_m: 400.0,
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("near")
        .into_inner()
        .stops;
    assert!(!near.is_empty());
    assert!(near.iter().all(|s| s.feed == "donanbus-muroran-gtfs-jp" && s.distance_m <= 400.0));
    assert!(near.windows(2).all(|w| w[0].distance_m <= w[1].distance_m));
    let station = near.iter().find(|s| !s.routes.is_empty()).expect("a stop with routes");

    // Departures: what the timetable library gives for the same feed, stop and time.
    let reply = tt
        .departures(pb::DeparturesRequest {
            stop_id: station.stop_id.clone(),
            after: Some(ts(MONDAY_7AM_JST)),
            limit: 8,
            lang: "ja-Hrkt".into(),
            feed: String::new(),
        })
        .await
        .expect("departures")
        .into_inner();
    let library =
        noriai_timetable::Feed::load(std::path::Path::new(&donan), chrono::NaiveDate::MIN).expect("feed");
    let index = library.stop_number(&station.stop_id).expect("stop");
    let after = chrono::DateTime::from_timestamp(MONDAY_7AM_JST, 0).expect("time");
    let expected = library.departures(index, after, 8);
    assert!(!expected.is_empty());
    assert_eq!(reply.departures.len(), expected.len());
    for (got, want) in reply.departures.iter().zip(&expected) {
        assert_eq!(got.departure_time.as_ref().map(|t| t.seconds), Some(want.at.timestamp()));
        assert_eq!(got.trip_id, want.trip.id);
        assert_eq!(got.route_id, want.route.id);
        assert!(got.departure_local.starts_with("2020-06-01 0"), "{}", got.departure_local);
        assert_eq!(got.service_day, "2020-06-01");
        assert!(!got.headsign.is_empty());
    }
    assert_eq!(reply.stop.expect("stop").stop_id, station.stop_id);

    // The route's day as a table: each trip's times run forward.
    let route = &station.routes[0];
    let table = tt
        .route_timetable(pb::RouteTimetableRequest {
            route_id: route.route_id.clone(),
            day: "2020-06-01".into(),
            lang: "en".into(),
            feed: String::new(),
        })
        .await
        .expect("route table")
        .into_inner();
    assert!(!table.trips.is_empty() && !table.stops.is_empty());
    for trip in &table.trips {
        assert_eq!(trip.times.len(), table.stops.len());
        let called: Vec<&String> = trip.times.iter().filter(|t| !t.is_empty()).collect();
        assert!(called.len() >= 2, "{trip:?}");
    }
    let sunday = tt
        .route_timetable(pb::RouteTimetableRequest {
            route_id: route.route_id.clone(),
            day: "2030-06-02".into(),
            ..Default::default()
        })
        .await
        .expect("route table")
        .into_inner();
    assert!(sunday.trips.is_empty(), "no trips after the calendar ends");

    // Bad input: named fields, not found, no token, not an admin.
    let code = |r: Result<tonic::Response<pb::DeparturesResponse>, tonic::Status>| {
        let e = r.expect_err("refused");
        (e.code(), e.message().to_string())
    };
    let (c, m) =
        code(tt.departures(pb::DeparturesRequest { stop_id: "nowhere".into(), ..Default::default() }).await);
    assert_eq!(c, Code::NotFound, "{m}");
    let (c, m) = code(tt.departures(pb::DeparturesRequest::default()).await);
    assert!(c == Code::InvalidArgument && m.starts_with("stop_id"), "{m}");
    let (c, m) = code(
        tt.departures(pb::DeparturesRequest {
            stop_id: station.stop_id.clone(),
            limit: 5000,
            ..Default::default()
        })
        .await,
    );
    assert!(c == Code::InvalidArgument && m.starts_with("limit"), "{m}");
    let e = tt.search_stops(search(&"あ".repeat(5000), "ja")).await.expect_err("too long");
    assert!(e.code() == Code::InvalidArgument && e.message().starts_with("query") && e.message().len() < 200);
    let e = tt.search_stops(search("x", "ja; DROP")).await.expect_err("bad lang");
    assert!(e.code() == Code::InvalidArgument && e.message().starts_with("lang"));
    let e = tt.reload_feeds(pb::ReloadFeedsRequest {}).await.expect_err("planner");
    assert_eq!(e.code(), Code::PermissionDenied);
    let mut anonymous = pb::timetable_service_client::TimetableServiceClient::new(ch.clone());
    let e = anonymous.list_feeds(pb::ListFeedsRequest {}).await.expect_err("no token");
    assert_eq!(e.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_reload_names_the_place_and_keeps_the_feeds() {
    let dir = temp_dir("timetable-reload");
    let feed_dir = dir.join("town-bus");
    std::fs::create_dir_all(&feed_dir).expect("feed dir");
    let write = |name: &str, text: &str| std::fs::write(feed_dir.join(name), text).expect("write");
    write(
        "agency.txt",
        "agency_id,agency_name,agency_url,agency_timezone\n1,町営バス,https://example.jp,Asia/Tokyo\n",
    );
    write("stops.txt", "stop_id,stop_name,stop_lat,stop_lon\nA,役場前,40.8,140.7\nB,駅前,40.81,140.71\n");
    write("routes.txt", "route_id,route_short_name,route_long_name,route_type\nR,1,役場線,3\n");
    write("trips.txt", "route_id,service_id,trip_id\nR,毎日,T1\n");
    write(
        "calendar.txt",
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n毎日,1,1,1,1,1,1,1,20200101,20391231\n",
    );
    write(
        "stop_times.txt",
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\nT1,23:50:00,23:50:00,A,1\nT1,24:20:00,24:20:00,B,2\n",
    );
    let feed = feed_dir.display().to_string();
    let server = Server::start(&dir, &["--gtfs", &feed]);
    let mut tt = client(server.channel().await, &server.admin_token());
    let next = |tt: &mut TimetableClient| {
        let mut tt = tt.clone();
        async move {
            tt.departures(pb::DeparturesRequest { stop_id: "A".into(), limit: 2, ..Default::default() })
                .await
                .expect("departures")
                .into_inner()
                .departures
        }
    };
    let before = next(&mut tt).await;
    assert_eq!(before.len(), 2, "every day at 23:50");
    assert!(before.iter().all(|d| d.departure_local.ends_with("23:50")));

    write(
        "stop_times.txt",
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\nT1,23:50:00,23:50:00,A,1\nT1,24:20:00,24:2O:00,B,2\n",
    );
    let e = tt.reload_feeds(pb::ReloadFeedsRequest {}).await.expect_err("broken");
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("stop_times.txt:3:3") && e.message().contains("24:2O:00"),
        "{}",
        e.message()
    );
    assert_eq!(next(&mut tt).await, before, "the old feed stays");

    write(
        "stop_times.txt",
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\nT1,6:05:00,6:05:00,A,1\nT1,6:30:00,6:30:00,B,2\n",
    );
    let feeds = tt.reload_feeds(pb::ReloadFeedsRequest {}).await.expect("reload").into_inner().feeds;
    assert_eq!(feeds.len(), 1);
    let after = next(&mut tt).await;
    assert!(after.iter().all(|d| d.departure_local.ends_with("06:05")), "{after:?}");
}
