//! The store's behaviours, one function each, written once for both backends
//! (see `backends.rs`, which runs every function on SQLite and PostgreSQL).

use std::collections::HashSet;

use noriai_model::LatLon;
use noriai_model::access::{AuditAction, AuditEntry, LoginRecord, Role, Scope, TokenRecord, TokenUnusable};
use noriai_model::service::{
    Booking, BookingRules, BookingStatus, FleetVehicle, Needs, Place, PlaceKind, PlanStop, Rider, ServiceDay,
    Shift, StopAction, StopRecord, TownService, Trip, TripTime, WindowStage,
};
use noriai_store::{SessionOf, Store, StoreError, VehicleDayPlan};

use crate::TestDb;

use StopAction::{Dropoff, Pickup};

/// A Tuesday in winter.
fn day() -> ServiceDay {
    "2026-12-01".parse().unwrap()
}

fn rider(name: &str, kana: &str, phone: &str) -> Rider {
    Rider {
        id: 0,
        name: name.to_string(),
        name_kana: kana.to_string(),
        phone: phone.to_string(),
        home_address: "青森県五所川原市字布屋町41-1".to_string(),
        home: LatLon { lat: 40.807_999_123, lon: 140.440_555_987 },
        needs: Needs::default(),
    }
}

fn vehicle(name: &str) -> FleetVehicle {
    FleetVehicle {
        id: 0,
        name: name.to_string(),
        seats: 9,
        wheelchair_places: 1,
        depot: LatLon { lat: 40.812_3, lon: 140.451_2 },
    }
}

fn point(lat: f64, lon: f64, label: &str) -> Place {
    Place { kind: PlaceKind::Point(LatLon { lat, lon }), label: label.to_string() }
}

/// A booking of `rider_id` departing at `minute` after midnight of `day`.
fn booking(rider_id: i64, day: ServiceDay, minute: u32, key: &str) -> Booking {
    let t = day.at(minute * 60);
    Booking {
        id: 0,
        trip: Trip {
            rider_id,
            origin: point(40.80, 140.44, "自宅"),
            destination: point(40.78, 140.42, "つがる総合病院"),
            time: TripTime::DepartAfter(t),
            seats: 1,
            wheelchair_places: 0,
        },
        status: BookingStatus::Confirmed,
        day,
        pickup_window: (t, t + 900),
        window: WindowStage::Final,
        wide_window: None,
        expected_arrival: 0,
        vehicle_id: 0,
        recurrence_id: None,
        idempotency_key: key.to_string(),
    }
}

fn stop(booking_id: i64, action: StopAction, eta: i64) -> PlanStop {
    PlanStop { booking_id, action, eta }
}

/// One vehicle-day serving only `booking_id`, picked up at `eta`.
fn solo_plan(vehicle_id: i64, day: ServiceDay, booking_id: i64, eta: i64) -> VehicleDayPlan {
    VehicleDayPlan {
        vehicle_id,
        day,
        stops: vec![stop(booking_id, Pickup, eta), stop(booking_id, Dropoff, eta + 1200)],
    }
}

/// Commits `new` by appending its stops to the stored plan of its vehicle-day,
/// as a dispatcher that found room at the end would.
async fn commit_appended(store: &Store, new: &Booking, vehicle_id: i64) -> Booking {
    let mut plan = store
        .plans_from(new.day)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.vehicle_id == vehicle_id && p.day == new.day)
        .unwrap_or(VehicleDayPlan { vehicle_id, day: new.day, stops: vec![] });
    plan.stops.push(stop(0, Pickup, new.pickup_window.0));
    plan.stops.push(stop(0, Dropoff, new.pickup_window.0 + 1200));
    store.commit_booking(new, &[plan]).await.unwrap()
}

async fn seed(store: &Store) -> (Rider, FleetVehicle, FleetVehicle) {
    let r = store.insert_rider(&rider("山田 太郎", "ヤマダ タロウ", "0172-33-1234")).await.unwrap();
    let v1 = store.insert_vehicle(&vehicle("つがる1号")).await.unwrap();
    let v2 = store.insert_vehicle(&vehicle("つがる2号")).await.unwrap();
    (r, v1, v2)
}

fn is_duplicate(err: &StoreError) -> bool {
    matches!(err, StoreError::Duplicate(_))
}

fn is_stale(err: &StoreError) -> bool {
    matches!(err, StoreError::StalePlan(_))
}

pub async fn riders_round_trip(db: TestDb) {
    let store = &db.store;
    let mut r = rider("佐々木 ミツ", "ササキ ミツ", "0173-35-2111");
    r.needs =
        Needs {
            wheelchair: true, companion: true, walking_aid: true, driver_notes: "玄関前で待つ".into()
        };
    let stored = store.insert_rider(&r).await.unwrap();
    assert!(stored.id > 0);
    assert_eq!(stored, Rider { id: stored.id, ..r.clone() });
    assert_eq!(store.get_rider(stored.id).await.unwrap(), stored);

    let changed = Rider {
        name: "佐々木 みつ".into(),
        phone: "080-1234-5678".into(),
        home: LatLon { lat: 40.1, lon: 141.2 },
        needs: Needs { wheelchair: false, companion: true, walking_aid: false, driver_notes: String::new() },
        ..stored.clone()
    };
    store.update_rider(&changed).await.unwrap();
    assert_eq!(store.get_rider(stored.id).await.unwrap(), changed);

    let missing = Rider { id: stored.id + 100, ..changed };
    assert!(matches!(
        store.update_rider(&missing).await,
        Err(StoreError::NotFound { what: "rider", id }) if id == missing.id
    ));
    assert!(matches!(store.get_rider(missing.id).await, Err(StoreError::NotFound { what: "rider", .. })));
    assert!(matches!(
        store.insert_recurrence(missing.id, "毎週火曜 通院").await,
        Err(StoreError::NotFound { what: "rider", .. })
    ));
}

pub async fn phone_numbers_are_unique_by_digits(db: TestDb) {
    let store = &db.store;
    let first = store.insert_rider(&rider("山田 太郎", "ヤマダ タロウ", "0172-33-1234")).await.unwrap();
    let err = store.insert_rider(&rider("山田 花子", "ヤマダ ハナコ", "(0172) 33 1234")).await.unwrap_err();
    assert!(is_duplicate(&err), "{err:?}");
    assert!(err.to_string().contains(&format!("rider {}", first.id)), "names the rider who has it: {err}");

    // Riders without a phone do not collide.
    let a = store.insert_rider(&rider("工藤 一", "クドウ ハジメ", "")).await.unwrap();
    store.insert_rider(&rider("工藤 二", "クドウ ジ", "")).await.unwrap();

    let err = store.update_rider(&Rider { phone: "017233-1234".into(), ..a.clone() }).await.unwrap_err();
    assert!(is_duplicate(&err), "{err:?}");
    assert_eq!(store.get_rider(a.id).await.unwrap().phone, "", "a refused update changes nothing");
    // Keeping one's own number is not a conflict.
    store.update_rider(&Rider { home_address: "青森市".into(), ..first.clone() }).await.unwrap();
}

pub async fn riders_are_found_by_phone_digits_and_kana(db: TestDb) {
    let store = &db.store;
    let yamada = store.insert_rider(&rider("山田 太郎", "ヤマダ タロウ", "0172-33-1234")).await.unwrap();
    let sato = store.insert_rider(&rider("佐藤 花子", "サトウ ハナコ", "(0172) 44-5678")).await.unwrap();
    let yamamoto = store.insert_rider(&rider("山本 健", "やまもと けん", "+81 90-1111-2222")).await.unwrap();
    let smith = store.insert_rider(&rider("John Smith", "ジョン スミス", "")).await.unwrap();
    let ids = |riders: Vec<Rider>| riders.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let search = |phone: Option<&'static str>, name: Option<&'static str>| async move {
        ids(store.search_riders(phone, name, 50).await.unwrap())
    };

    assert_eq!(search(Some("33-12"), None).await, [yamada.id]);
    assert_eq!(search(Some("331234"), None).await, [yamada.id]);
    assert_eq!(search(Some("0172"), None).await, [sato.id, yamada.id], "ordered by kana");
    assert_eq!(search(Some("(0172) 44"), None).await, [sato.id]);
    assert_eq!(search(Some("９０－１１"), None).await, [yamamoto.id], "full-width digits");
    assert_eq!(search(Some("abc"), None).await, Vec::<i64>::new(), "no digits matches nobody");

    assert_eq!(search(None, Some("やまだ")).await, [yamada.id], "hiragana finds katakana");
    assert_eq!(search(None, Some("ヤマモト")).await, [yamamoto.id], "katakana finds hiragana");
    assert_eq!(search(None, Some("ヤマ")).await, [yamada.id, yamamoto.id]);
    assert_eq!(search(None, Some("山")).await, [yamada.id, yamamoto.id], "kanji name");
    assert_eq!(search(None, Some("山田太郎")).await, [yamada.id], "spaces ignored");
    assert_eq!(search(None, Some("ハナ")).await, [sato.id]);
    assert_eq!(search(None, Some("smith")).await, [smith.id], "case-insensitive");
    assert_eq!(search(None, Some("ＪＯＨＮ")).await, [smith.id], "full-width Latin");
    assert_eq!(search(None, Some("%")).await, Vec::<i64>::new(), "wildcards are literal");
    assert_eq!(search(Some("0172"), Some("さとう")).await, [sato.id], "both criteria");
    assert_eq!(search(None, None).await.len(), 4);
    assert_eq!(search(Some(" "), Some("")).await.len(), 4, "blank criteria do not filter");
    assert_eq!(ids(store.search_riders(None, Some("ヤマ"), 1).await.unwrap()), [yamada.id]);
}

pub async fn fleet_stops_and_service_area_round_trip(db: TestDb) {
    let store = &db.store;
    let v1 = store.insert_vehicle(&vehicle("つがる1号")).await.unwrap();
    let v2 = store
        .insert_vehicle(&FleetVehicle { seats: 4, wheelchair_places: 0, ..vehicle("ワゴン") })
        .await
        .unwrap();
    assert_eq!(store.list_vehicles().await.unwrap(), [v1.clone(), v2.clone()]);
    assert_eq!(store.get_vehicle(v2.id).await.unwrap(), v2);
    assert!(matches!(store.get_vehicle(v2.id + 10).await, Err(StoreError::NotFound { what: "vehicle", .. })));

    let d = day();
    let shift = |vehicle_id, day, start_h: u32, end_h: u32| Shift {
        vehicle_id,
        day,
        start_s: start_h * 3600,
        end_s: end_h * 3600,
    };
    store.set_shift(shift(v1.id, d, 8, 17)).await.unwrap();
    store.set_shift(shift(v2.id, d, 9, 26)).await.unwrap(); // past midnight
    store.set_shift(shift(v1.id, d.next(), 8, 12)).await.unwrap();
    store.set_shift(shift(v1.id, d, 7, 15)).await.unwrap(); // replaces 8–17
    assert_eq!(store.shifts_on(d).await.unwrap(), [shift(v1.id, d, 7, 15), shift(v2.id, d, 9, 26)]);
    assert_eq!(
        store.shifts_from(d).await.unwrap(),
        [shift(v1.id, d, 7, 15), shift(v2.id, d, 9, 26), shift(v1.id, d.next(), 8, 12)]
    );
    assert_eq!(store.shifts_from(d.next()).await.unwrap(), [shift(v1.id, d.next(), 8, 12)]);
    assert!(matches!(store.set_shift(shift(v1.id, d, 15, 7)).await, Err(StoreError::Invalid(_))));
    assert!(matches!(
        store.set_shift(shift(v2.id + 10, d, 8, 9)).await,
        Err(StoreError::NotFound { what: "vehicle", .. })
    ));

    assert_eq!(store.service_area().await.unwrap(), None);
    let cells =
        [0x0892_9a4a_4a43_ffff_u64, 0x0892_9a4a_4a4b_ffff, 0x0892_9a4a_4a43_ffff, 0x0892_f5a3_6d2b_ffff];
    store.set_service_area(9, &cells).await.unwrap();
    let mut expected = cells.to_vec();
    expected.sort();
    expected.dedup();
    assert_eq!(store.service_area().await.unwrap(), Some((9, expected)));
    store.set_service_area(7, &[0x0872_9a4a_4aff_ffff]).await.unwrap();
    assert_eq!(store.service_area().await.unwrap(), Some((7, vec![0x0872_9a4a_4aff_ffff])));
    let many: Vec<u64> = (0..1200).map(|i| 0x0892_9a4a_4a40_0000 + (i << 3)).collect();
    store.set_service_area(9, &many).await.unwrap();
    assert_eq!(store.service_area().await.unwrap(), Some((9, many)));
    assert!(matches!(store.set_service_area(16, &[]).await, Err(StoreError::Invalid(_))));

    let s1 = StopRecord {
        id: 0,
        name: "五所川原駅前".into(),
        name_kana: "ゴショガワラエキマエ".into(),
        location: LatLon { lat: 40.808_1, lon: 140.446_2 },
    };
    let s1 = store.insert_stop(&s1).await.unwrap();
    let s2 = store
        .insert_stop(&StopRecord {
            id: 0,
            name: "市役所".into(),
            name_kana: "シヤクショ".into(),
            ..s1.clone()
        })
        .await
        .unwrap();
    assert_eq!(store.list_stops().await.unwrap(), [s1.clone(), s2.clone()]);
    assert_eq!(store.get_stop(s1.id).await.unwrap(), s1);
    assert!(matches!(store.get_stop(s2.id + 10).await, Err(StoreError::NotFound { what: "stop", .. })));
}

pub async fn bookings_round_trip_every_field(db: TestDb) {
    let store = &db.store;
    let (r, v1, v2) = seed(store).await;
    let s = store
        .insert_stop(&StopRecord {
            id: 0,
            name: "役場前".into(),
            name_kana: "ヤクバマエ".into(),
            location: LatLon { lat: 40.9, lon: 140.5 },
        })
        .await
        .unwrap();
    let rec = store.insert_recurrence(r.id, "毎週火曜 通院").await.unwrap();
    let d = day();
    let arrive = d.at(10 * 3600);
    let first = Booking {
        trip: Trip {
            rider_id: r.id,
            origin: Place { kind: PlaceKind::Stop(s.id), label: "役場前".into() },
            destination: point(40.781_234_567_8, 140.421_987_654_3, "県立中央病院"),
            time: TripTime::ArriveBy(arrive),
            seats: 2,
            wheelchair_places: 1,
        },
        pickup_window: (arrive - 2400, arrive - 1800),
        recurrence_id: Some(rec),
        ..booking(r.id, d, 0, "call-42")
    };
    let plan = solo_plan(v2.id, d, 0, arrive - 2000);
    let stored = store.commit_booking(&first, &[plan]).await.unwrap();
    let expected =
        Booking { id: stored.id, vehicle_id: v2.id, expected_arrival: arrive - 800, ..first.clone() };
    assert_eq!(stored, expected, "vehicle and expected arrival come from the plan");
    assert_eq!(store.get_booking(stored.id).await.unwrap(), expected);
    assert_eq!(store.booking_by_key("call-42").await.unwrap(), Some(expected.clone()));

    let second = Booking {
        trip: Trip {
            origin: point(-0.5, -179.999_999, ""),
            destination: Place { kind: PlaceKind::Stop(s.id), label: String::new() },
            time: TripTime::DepartAfter(d.at(13 * 3600)),
            ..first.trip.clone()
        },
        recurrence_id: None,
        idempotency_key: String::new(),
        ..booking(r.id, d, 13 * 60, "")
    };
    let stored2 = store.commit_booking(&second, &[solo_plan(v1.id, d, 0, d.at(13 * 3600))]).await.unwrap();
    let expected2 =
        Booking { id: stored2.id, vehicle_id: v1.id, expected_arrival: d.at(13 * 3600) + 1200, ..second };
    assert_eq!(store.get_booking(stored2.id).await.unwrap(), expected2);
    assert_eq!(store.booking_by_key("").await.unwrap(), None, "an empty key is no key");

    // Stops and points alternate on pooled connections whose prepared
    // statements are reused; both must keep round-tripping.
    for i in 0..8_u32 {
        let origin = match i % 2 {
            0 => Place { kind: PlaceKind::Stop(s.id), label: format!("{i}") },
            _ => point(40.0 + f64::from(i) / 7.0, 140.0, &format!("{i}")),
        };
        let new = Booking {
            trip: Trip { origin, ..booking(r.id, d, 0, "").trip },
            ..booking(r.id, d.next(), 8 * 60 + i * 20, &format!("alt-{i}"))
        };
        let stored = commit_appended(store, &new, v1.id).await;
        assert_eq!(store.get_booking(stored.id).await.unwrap().trip, new.trip);
    }
    assert!(matches!(
        store.get_booking(stored2.id + 10).await,
        Err(StoreError::NotFound { what: "booking", .. })
    ));
}

pub async fn idempotency_key_is_used_once(db: TestDb) {
    let store = &db.store;
    let (r, v1, _) = seed(store).await;
    let d = day();
    let new = booking(r.id, d, 9 * 60, "op7-20261201-0001");
    let first = store.commit_booking(&new, &[solo_plan(v1.id, d, 0, d.at(9 * 3600))]).await.unwrap();

    // The retry arrives with plans that keep the first booking, as a
    // dispatcher that already saw it would send.
    let retry_plan = VehicleDayPlan {
        vehicle_id: v1.id,
        day: d,
        stops: vec![
            stop(first.id, Pickup, d.at(9 * 3600)),
            stop(0, Pickup, d.at(9 * 3600) + 60),
            stop(first.id, Dropoff, d.at(9 * 3600) + 1200),
            stop(0, Dropoff, d.at(9 * 3600) + 1300),
        ],
    };
    let err = store.commit_booking(&new, &[retry_plan]).await.unwrap_err();
    assert!(is_duplicate(&err), "{err:?}");
    assert!(err.to_string().contains(&format!("booking {}", first.id)), "{err}");
    assert_eq!(store.booking_by_key("op7-20261201-0001").await.unwrap(), Some(first.clone()));
    assert_eq!(store.booking_by_key("never-used").await.unwrap(), None);
    assert_eq!(store.list_bookings(None, None, true).await.unwrap(), std::slice::from_ref(&first));
    assert_eq!(store.plans_from(d).await.unwrap(), [solo_plan(v1.id, d, first.id, d.at(9 * 3600))]);

    // Keyless bookings never collide.
    commit_appended(store, &booking(r.id, d, 10 * 60, ""), v1.id).await;
    commit_appended(store, &booking(r.id, d, 11 * 60, ""), v1.id).await;
    assert_eq!(store.list_bookings(None, None, true).await.unwrap().len(), 3);
}

pub async fn commit_stores_plans_and_expected_arrivals(db: TestDb) {
    let store = &db.store;
    let (r, v1, _) = seed(store).await;
    let d = day();
    let t = d.at(9 * 3600);
    let a = store.commit_booking(&booking(r.id, d, 9 * 60, "a"), &[solo_plan(v1.id, d, 0, t)]).await.unwrap();
    assert!(a.id > 0);
    assert_eq!((a.vehicle_id, a.expected_arrival), (v1.id, t + 1200));

    // b is inserted between a's stops, which delays a's arrival.
    let plan = VehicleDayPlan {
        vehicle_id: v1.id,
        day: d,
        stops: vec![
            stop(a.id, Pickup, t),
            stop(0, Pickup, t + 600),
            stop(a.id, Dropoff, t + 1500),
            stop(0, Dropoff, t + 1800),
        ],
    };
    let b =
        store.commit_booking(&booking(r.id, d, 9 * 60 + 10, "b"), std::slice::from_ref(&plan)).await.unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(b.expected_arrival, t + 1800);
    assert_eq!(store.get_booking(a.id).await.unwrap().expected_arrival, t + 1500);

    let stored = VehicleDayPlan {
        stops: plan
            .stops
            .iter()
            .map(|s| PlanStop { booking_id: if s.booking_id == 0 { b.id } else { s.booking_id }, ..*s })
            .collect(),
        ..plan
    };
    assert_eq!(store.plans_from(d).await.unwrap(), std::slice::from_ref(&stored));
    assert_eq!(store.plans_from(d.next()).await.unwrap(), []);
    let confirmed: Vec<i64> = store.confirmed_bookings_from(d).await.unwrap().iter().map(|b| b.id).collect();
    assert_eq!(confirmed, [a.id, b.id]);
    let (bookings, plans) = store.live_state_from(d).await.unwrap();
    assert_eq!(bookings.iter().map(|b| b.id).collect::<Vec<_>>(), [a.id, b.id]);
    assert_eq!(plans, std::slice::from_ref(&stored));

    // Refused commits change nothing.
    let c = booking(r.id, d, 14 * 60, "c");
    let err =
        store.commit_booking(&c, &[VehicleDayPlan { vehicle_id: v1.id, day: d.next(), stops: vec![] }]).await;
    assert!(matches!(err, Err(StoreError::Invalid(_))), "the new booking must be planned: {err:?}");
    let err = store.commit_booking(&c, &[solo_plan(v1.id + 100, d, 0, t)]).await;
    assert!(matches!(err, Err(StoreError::NotFound { what: "vehicle", .. })), "{err:?}");
    let ghost = Booking { trip: Trip { rider_id: r.id + 100, ..c.trip.clone() }, ..c.clone() };
    let err = store.commit_booking(&ghost, &[solo_plan(v1.id, d.next(), 0, t)]).await;
    assert!(matches!(err, Err(StoreError::NotFound { what: "rider", .. })), "{err:?}");
    let cancelled = Booking { status: BookingStatus::Cancelled, ..c.clone() };
    assert!(matches!(
        store.commit_booking(&cancelled, &[solo_plan(v1.id, d.next(), 0, t)]).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.list_bookings(None, None, true).await.unwrap().len(), 2);
    assert_eq!(store.plans_from(d).await.unwrap(), [stored]);
}

pub async fn replans_move_bookings_and_refuse_stale_plans(db: TestDb) {
    let store = &db.store;
    let (r, v1, v2) = seed(store).await;
    let d = day();
    let t = d.at(9 * 3600);
    let a = commit_appended(store, &booking(r.id, d, 9 * 60, "a"), v1.id).await;
    let b = commit_appended(store, &booking(r.id, d, 10 * 60, "b"), v1.id).await;
    let before = store.plans_from(d).await.unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].stops.len(), 4);

    // Move a to the second vehicle.
    let moved = [solo_plan(v1.id, d, b.id, b.pickup_window.0), solo_plan(v2.id, d, a.id, t + 300)];
    store.replace_plans(&moved).await.unwrap();
    let a_now = store.get_booking(a.id).await.unwrap();
    assert_eq!((a_now.vehicle_id, a_now.expected_arrival), (v2.id, t + 1500));
    assert_eq!(store.get_booking(b.id).await.unwrap().vehicle_id, v1.id);
    assert_eq!(store.plans_from(d).await.unwrap(), moved);

    // Moving b without replacing the plan it is in.
    let err = store
        .replace_plans(&[VehicleDayPlan {
            vehicle_id: v2.id,
            day: d,
            stops: vec![
                stop(a.id, Pickup, t),
                stop(b.id, Pickup, t + 60),
                stop(a.id, Dropoff, t + 900),
                stop(b.id, Dropoff, t + 999),
            ],
        }])
        .await
        .unwrap_err();
    assert!(is_stale(&err), "{err:?}");
    // A stale plan that does not know b.
    let err = store
        .replace_plans(&[VehicleDayPlan { vehicle_id: v1.id, day: d, stops: vec![] }])
        .await
        .unwrap_err();
    assert!(is_stale(&err) && err.to_string().contains(&format!("booking {}", b.id)), "{err}");
    // A stale commit: computed from the plans before a moved to v2.
    let c = booking(r.id, d, 11 * 60, "c");
    let err = store.commit_booking(&c, &[solo_plan(v2.id, d, 0, t)]).await.unwrap_err();
    assert!(is_stale(&err), "{err:?}");
    assert_eq!(store.booking_by_key("c").await.unwrap(), None, "the refused booking is not stored");
    // Unknown records.
    let err = store.replace_plans(&[solo_plan(v1.id, d.next(), b.id + 100, t)]).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { what: "booking", .. }), "{err:?}");
    let err = store
        .replace_plans(&[VehicleDayPlan { vehicle_id: v2.id + 100, day: d, stops: vec![] }])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { what: "vehicle", .. }), "{err:?}");
    assert_eq!(store.plans_from(d).await.unwrap(), moved, "refused re-plans change nothing");
    assert_eq!(store.get_booking(a.id).await.unwrap(), a_now);
}

pub async fn cancel_removes_the_booking_from_the_plans(db: TestDb) {
    let store = &db.store;
    let (r, v1, _) = seed(store).await;
    let d = day();
    let a = commit_appended(store, &booking(r.id, d, 9 * 60, "a"), v1.id).await;
    let b = commit_appended(store, &booking(r.id, d, 10 * 60, "b"), v1.id).await;
    let only_b = solo_plan(v1.id, d, b.id, b.pickup_window.0 - 100);

    let cancelled = store.cancel_booking(a.id, std::slice::from_ref(&only_b)).await.unwrap();
    assert_eq!(cancelled, Booking { status: BookingStatus::Cancelled, ..a.clone() });
    assert_eq!(store.get_booking(a.id).await.unwrap().status, BookingStatus::Cancelled);
    assert_eq!(store.plans_from(d).await.unwrap(), std::slice::from_ref(&only_b));
    assert_eq!(store.get_booking(b.id).await.unwrap().expected_arrival, b.pickup_window.0 + 1100);

    assert!(
        matches!(store.cancel_booking(a.id, &[]).await, Err(StoreError::AlreadyCancelled { id }) if id == a.id)
    );
    assert!(matches!(
        store.cancel_booking(b.id + 100, &[]).await,
        Err(StoreError::NotFound { what: "booking", .. })
    ));
    let err = store.cancel_booking(b.id, std::slice::from_ref(&only_b)).await.unwrap_err();
    assert!(is_stale(&err), "plans that still visit it: {err:?}");
    assert_eq!(store.get_booking(b.id).await.unwrap().status, BookingStatus::Confirmed);
    let err = store.replace_plans(&[solo_plan(v1.id, d, a.id, 0)]).await.unwrap_err();
    assert!(is_stale(&err), "plans may not visit a cancelled booking: {err:?}");

    // Without plans, the booking's stops still leave its vehicle-day.
    store.cancel_booking(b.id, &[]).await.unwrap();
    assert_eq!(
        store.plans_from(d).await.unwrap(),
        [VehicleDayPlan { vehicle_id: v1.id, day: d, stops: vec![] }]
    );
    assert_eq!(store.list_bookings(None, Some(d), false).await.unwrap(), []);
    assert_eq!(store.list_bookings(None, Some(d), true).await.unwrap().len(), 2);
    assert_eq!(store.confirmed_bookings_from(d).await.unwrap(), []);
}

pub async fn bookings_are_listed_by_rider_and_day(db: TestDb) {
    let store = &db.store;
    let (r1, v1, v2) = seed(store).await;
    let r2 = store.insert_rider(&rider("佐藤 花子", "サトウ ハナコ", "0172-44-5678")).await.unwrap();
    let d = day();
    let r1_10 = commit_appended(store, &booking(r1.id, d, 10 * 60, "1"), v1.id).await;
    let r1_08 = commit_appended(store, &booking(r1.id, d, 8 * 60, "2"), v2.id).await;
    let r2_09 = commit_appended(store, &booking(r2.id, d, 9 * 60, "3"), v1.id).await;
    let r1_next = commit_appended(store, &booking(r1.id, d.next(), 7 * 60, "4"), v1.id).await;
    let ids = |bookings: Vec<Booking>| bookings.into_iter().map(|b| b.id).collect::<Vec<_>>();

    assert_eq!(
        ids(store.list_bookings(Some(r1.id), None, false).await.unwrap()),
        [r1_08.id, r1_10.id, r1_next.id]
    );
    assert_eq!(ids(store.list_bookings(Some(r1.id), Some(d), false).await.unwrap()), [r1_08.id, r1_10.id]);
    assert_eq!(ids(store.list_bookings(None, Some(d), false).await.unwrap()), [r1_08.id, r2_09.id, r1_10.id]);
    assert_eq!(
        ids(store.list_bookings(Some(r2.id), Some(d.next()), false).await.unwrap()),
        Vec::<i64>::new()
    );
    assert_eq!(ids(store.list_bookings(None, None, false).await.unwrap()).len(), 4);
    assert_eq!(ids(store.confirmed_bookings_from(d.next()).await.unwrap()), [r1_next.id]);

    let plan =
        store.plans_from(d).await.unwrap().into_iter().find(|p| p.vehicle_id == v1.id && p.day == d).unwrap();
    let without = VehicleDayPlan {
        stops: plan.stops.into_iter().filter(|s| s.booking_id != r1_10.id).collect(),
        ..plan
    };
    store.cancel_booking(r1_10.id, &[without]).await.unwrap();
    assert_eq!(ids(store.list_bookings(Some(r1.id), Some(d), false).await.unwrap()), [r1_08.id]);
    assert_eq!(ids(store.list_bookings(Some(r1.id), Some(d), true).await.unwrap()), [r1_08.id, r1_10.id]);
}

pub async fn reopening_finds_everything(mut db: TestDb) {
    let (r, v1, v2) = seed(&db.store).await;
    let store = &db.store;
    let d = day();
    store.set_shift(Shift { vehicle_id: v1.id, day: d, start_s: 8 * 3600, end_s: 18 * 3600 }).await.unwrap();
    store.set_service_area(9, &[0x0892_9a4a_4a43_ffff]).await.unwrap();
    let s = store
        .insert_stop(&StopRecord {
            id: 0, name: "駅".into(), name_kana: "エキ".into(), location: v1.depot
        })
        .await
        .unwrap();
    let rec = store.insert_recurrence(r.id, "平日 デイサービス").await.unwrap();
    let with_stop = Booking {
        trip: Trip {
            origin: Place { kind: PlaceKind::Stop(s.id), label: "駅".into() },
            ..booking(r.id, d, 0, "").trip
        },
        recurrence_id: Some(rec),
        ..booking(r.id, d, 8 * 60, "x")
    };
    commit_appended(store, &with_stop, v1.id).await;
    let cancelled = commit_appended(store, &booking(r.id, d, 9 * 60, "y"), v2.id).await;
    store
        .cancel_booking(cancelled.id, &[VehicleDayPlan { vehicle_id: v2.id, day: d, stops: vec![] }])
        .await
        .unwrap();
    commit_appended(store, &booking(r.id, d.next(), 9 * 60, "z"), v2.id).await;

    let before = (
        store.get_rider(r.id).await.unwrap(),
        store.list_vehicles().await.unwrap(),
        store.shifts_from(d).await.unwrap(),
        store.service_area().await.unwrap(),
        store.list_stops().await.unwrap(),
        store.list_bookings(None, None, true).await.unwrap(),
        store.plans_from(d).await.unwrap(),
    );
    assert_eq!(before.5.len(), 3);
    db.reopen().await;
    let store = &db.store;
    let after = (
        store.get_rider(r.id).await.unwrap(),
        store.list_vehicles().await.unwrap(),
        store.shifts_from(d).await.unwrap(),
        store.service_area().await.unwrap(),
        store.list_stops().await.unwrap(),
        store.list_bookings(None, None, true).await.unwrap(),
        store.plans_from(d).await.unwrap(),
    );
    assert_eq!(before, after);
    assert_eq!(store.search_riders(Some("331234"), None, 5).await.unwrap(), [before.0]);
    // And it still takes writes, with fresh ids.
    let next = commit_appended(store, &booking(r.id, d, 12 * 60, "after-restart"), v1.id).await;
    assert!(before.5.iter().all(|b| b.id < next.id));
}

pub async fn concurrent_commits_all_land(db: TestDb) {
    let store = &db.store;
    let r = store.insert_rider(&rider("山田 太郎", "ヤマダ タロウ", "0172-33-1234")).await.unwrap();
    let mut vehicles = Vec::new();
    for n in 0..4 {
        vehicles.push(store.insert_vehicle(&vehicle(&format!("{n}号車"))).await.unwrap().id);
    }
    let d = day();
    let tasks: Vec<_> = (0..32_u32)
        .map(|i| {
            let store = store.clone();
            // 32 different vehicle-days: no task's plan touches another's.
            let (vehicle_id, day) = (vehicles[i as usize % 4], ServiceDay(d.0 + (i / 4) as i32));
            tokio::spawn(async move {
                let new = booking(r.id, day, 8 * 60 + i, &format!("concurrent-{i}"));
                store.commit_booking(&new, &[solo_plan(vehicle_id, day, 0, new.pickup_window.0)]).await
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        let committed = task.await.unwrap().expect("every concurrent commit lands");
        assert!(ids.insert(committed.id), "ids are distinct");
    }
    assert_eq!(ids.len(), 32);
    let stored = store.list_bookings(None, None, false).await.unwrap();
    assert_eq!(stored.iter().map(|b| b.id).collect::<HashSet<_>>(), ids);
    let plans = store.plans_from(d).await.unwrap();
    assert_eq!(plans.len(), 32);
    for plan in plans {
        assert_eq!(plan.stops.len(), 2);
        let b = stored.iter().find(|b| b.id == plan.stops[0].booking_id).unwrap();
        assert_eq!((b.vehicle_id, b.day), (plan.vehicle_id, plan.day));
    }
}

pub async fn concurrent_commits_on_one_vehicle_day_never_lose_a_booking(db: TestDb) {
    let store = &db.store;
    let (r, v1, _) = seed(store).await;
    let d = day();
    // Sixteen callers planned against the same empty vehicle-day: one wins, the
    // others learn that their plans are stale instead of overwriting it.
    let tasks: Vec<_> = (0..16_u32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let new = booking(r.id, d, 8 * 60 + i, &format!("race-{i}"));
                store.commit_booking(&new, &[solo_plan(v1.id, d, 0, new.pickup_window.0)]).await
            })
        })
        .collect();
    let mut won = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(b) => won.push(b),
            Err(e) => assert!(is_stale(&e), "a losing commit is a conflict, not {e:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one commit fits an unchanged plan");
    assert_eq!(store.list_bookings(None, None, true).await.unwrap(), won);
    assert_eq!(store.plans_from(d).await.unwrap(), [solo_plan(v1.id, d, won[0].id, won[0].pickup_window.0)]);
}

pub async fn wide_windows_are_narrowed_once_and_told(db: TestDb) {
    let store = &db.store;
    let (r, v1, _) = seed(store).await;
    let d = day();
    let wide = Booking { window: WindowStage::Wide, ..booking(r.id, d, 9 * 60, "wide-1") };
    let t = wide.pickup_window.0;
    let wide =
        Booking { pickup_window: (t - 1800, t + 1800), wide_window: Some((t - 1800, t + 1800)), ..wide };
    let a = store.commit_booking(&wide, &[solo_plan(v1.id, d, 0, t)]).await.unwrap();
    assert_eq!((a.window, a.pickup_window), (WindowStage::Wide, (t - 1800, t + 1800)));
    // Nothing to tell yet.
    assert!(matches!(store.mark_told(a.id).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.narrow_windows(&[(a.id, (t - 300, t + 600))]).await.unwrap(), 1);
    let b = store.get_booking(a.id).await.unwrap();
    assert_eq!((b.window, b.pickup_window), (WindowStage::ToTell, (t - 300, t + 600)));
    // The wide window told at booking is kept beside the final one.
    assert_eq!(b.wide_window, Some((t - 1800, t + 1800)));
    // A repeat (a second evening run) changes nothing.
    assert_eq!(store.narrow_windows(&[(a.id, (t, t + 60))]).await.unwrap(), 0);
    assert_eq!(store.get_booking(a.id).await.unwrap().pickup_window, (t - 300, t + 600));
    let told = store.mark_told(a.id).await.unwrap();
    assert_eq!((told.window, told.wide_window), (WindowStage::Final, Some((t - 1800, t + 1800))));
    assert!(matches!(store.mark_told(a.id).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.mark_told(a.id + 99).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(store.narrow_windows(&[(a.id, (t, t - 1))]).await, Err(StoreError::Invalid(_))));
}

fn token(role: Role, scope: Scope, name: &str) -> TokenRecord {
    TokenRecord {
        id: 0,
        role,
        scope,
        service: Some(noriai_store::FIRST_SERVICE),
        name: name.into(),
        created_at: 1_000,
        expires_at: Some(9_000),
        revoked_at: None,
    }
}

pub async fn tokens_are_found_by_digest_listed_and_revoked(db: TestDb) {
    let store = &db.store;
    let (r, v1, _) = seed(store).await;
    let admin = store.insert_token("aa11", &token(Role::Admin, Scope::Service, "first admin")).await.unwrap();
    let driver =
        store.insert_token("bb22", &token(Role::Driver, Scope::Vehicle(v1.id), "Sato")).await.unwrap();
    let rider = store.insert_token("cc33", &token(Role::Rider, Scope::Rider(r.id), "app")).await.unwrap();
    assert_ne!(admin.id, driver.id);
    let (found, digest) = store.token_by_digest("bb22").await.unwrap().expect("found");
    assert_eq!((found, digest.as_str()), (driver.clone(), "bb22"));
    assert!(store.token_by_digest("bb2").await.unwrap().is_none(), "digests match whole");
    assert!(matches!(
        store.insert_token("aa11", &token(Role::Operator, Scope::Service, "copy")).await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(matches!(
        store.insert_token("dd44", &token(Role::Driver, Scope::Vehicle(v1.id + 100), "ghost")).await,
        Err(StoreError::NotFound { what: "vehicle", .. })
    ));
    assert_eq!(store.list_tokens(None).await.unwrap(), vec![admin.clone(), driver.clone(), rider.clone()]);
    let revoked = store.revoke_token(driver.id, None, 5_000).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(5_000));
    assert_eq!(
        store.revoke_token(driver.id, Some(driver.service.unwrap()), 6_000).await.unwrap().revoked_at,
        Some(5_000),
        "first time kept"
    );
    let (again, _) = store.token_by_digest("bb22").await.unwrap().expect("still listed");
    assert_eq!(again.usable_at(4_999), Ok(()));
    assert_eq!(again.usable_at(5_000), Err(TokenUnusable::Revoked));
    assert_eq!(admin.usable_at(9_000), Err(TokenUnusable::Expired));
    assert!(matches!(
        store.revoke_token(999, None, 1).await,
        Err(StoreError::NotFound { what: "token", .. })
    ));
}

pub async fn the_audit_trail_is_append_only_and_found_by_rider(db: TestDb) {
    let store = &db.store;
    let (r, v1, _) = seed(store).await;
    let other = store.insert_rider(&rider("他人", "タニン", "0172-00-0001")).await.unwrap();
    let d = day();
    let b = booking(r.id, d, 9 * 60, "audit-1");
    let t = b.pickup_window.0;
    let b = store.commit_booking(&b, &[solo_plan(v1.id, d, 0, t)]).await.unwrap();
    let entry = |rider_id, booking_id, action| AuditEntry {
        id: 0,
        at: 1_700_000_000,
        token_id: 7,
        role: Role::Operator,
        rpc: "RiderService/GetRider".into(),
        action,
        rider_id,
        booking_id,
    };
    store
        .append_audit(&[
            entry(Some(r.id), None, AuditAction::Read),
            entry(Some(other.id), None, AuditAction::Read),
            entry(None, Some(b.id), AuditAction::Change),
        ])
        .await
        .unwrap();
    let mine = store.audit_of_rider(r.id, 100).await.unwrap();
    assert_eq!(mine.len(), 2, "the rider's own entry and their booking's: {mine:?}");
    assert_eq!((mine[0].rider_id, mine[1].booking_id), (Some(r.id), Some(b.id)));
    assert_eq!(mine[1].action, AuditAction::Change);
    assert_eq!(store.audit_of_rider(other.id, 100).await.unwrap().len(), 1);
    assert_eq!(store.recent_audit(2).await.unwrap().len(), 2);
    // Nothing can rewrite or remove the trail, not even SQL through the pool.
    assert!(db.execute_raw("UPDATE audit SET role = 'admin'").await.is_err(), "updates refused");
    assert!(db.execute_raw("DELETE FROM audit").await.is_err(), "deletes refused");
    if db.url.starts_with("postgres") {
        assert!(db.execute_raw("TRUNCATE audit").await.is_err(), "truncation refused");
    }
    assert_eq!(store.audit_of_rider(r.id, 100).await.unwrap()[0].role, Role::Operator);
}

pub async fn erasing_a_rider_keeps_bookings_without_personal_data(db: TestDb) {
    let store = &db.store;
    let (r, v1, _) = seed(store).await;
    let d = day();
    let b = booking(r.id, d, 9 * 60, "erase-1");
    let t = b.pickup_window.0;
    let b = store.commit_booking(&b, &[solo_plan(v1.id, d, 0, t)]).await.unwrap();
    let app = store.insert_token("ee55", &token(Role::Rider, Scope::Rider(r.id), "app")).await.unwrap();
    // Not while the ride is still to come: the driver needs the data.
    match store.erase_rider(r.id, d, 2_000).await {
        Err(StoreError::RidesToCome { rider, bookings }) => assert_eq!((rider, bookings), (r.id, vec![b.id])),
        other => panic!("erased with a ride to come: {other:?}"),
    }
    assert_eq!(store.get_rider(r.id).await.unwrap().name, r.name, "nothing erased");
    assert_eq!(store.erase_rider(r.id, d.next(), 2_000).await.unwrap(), 1);
    assert!(matches!(store.get_rider(r.id).await, Err(StoreError::NotFound { what: "rider", .. })));
    assert!(store.search_riders(Some(&r.phone), None, 10).await.unwrap().is_empty());
    assert!(store.search_riders(None, Some(&r.name_kana), 10).await.unwrap().is_empty());
    let kept = store.get_booking(b.id).await.unwrap();
    assert_eq!((kept.status, kept.pickup_window, kept.trip.rider_id), (b.status, b.pickup_window, r.id));
    assert!(kept.trip.origin.label.is_empty() && kept.trip.destination.label.is_empty());
    assert!(kept.idempotency_key.is_empty());
    if let (PlaceKind::Point(was), PlaceKind::Point(now)) = (&b.trip.origin.kind, &kept.trip.origin.kind) {
        assert!(
            (was.lat - now.lat).abs() <= 0.005 + 1e-9
                && (now.lat * 100.0 - (now.lat * 100.0).round()).abs() < 1e-6
        );
    } else {
        panic!("the booking's origin stays a point");
    }
    let (revoked, _) = store.token_by_digest("ee55").await.unwrap().expect("kept");
    assert_eq!((revoked.id, revoked.revoked_at), (app.id, Some(2_000)));
    // The phone number is free for a new registration.
    store.insert_rider(&rider("新しい人", "アタラシイヒト", &r.phone)).await.unwrap();
    assert!(matches!(store.erase_rider(r.id + 999, d, 1).await, Err(StoreError::NotFound { .. })));
}

fn town(name: &str) -> TownService {
    TownService {
        id: 0,
        name: name.into(),
        name_kana: "シンゴウムラ".into(),
        operator_phone: "0178-78-2111".into(),
        created_at: 1_000,
        rules: BookingRules { book_days_ahead: 7, cutoff_minutes: 60, prebooking_window_minutes: 45 },
        fare_yen: 500,
    }
}

/// Two services in one database: each sees only its own riders, fleet,
/// stops, area, bookings, plans, tokens and audit entries, and nothing of
/// one can be reached, changed or referred to through the other.
pub async fn services_keep_their_records_apart(db: TestDb) {
    let one = &db.store;
    assert_eq!(one.service(), noriai_store::FIRST_SERVICE);
    let made = one.insert_service(&town("新郷村")).await.unwrap();
    assert_eq!(one.get_service(made.id).await.unwrap(), made);
    assert_eq!(one.list_services().await.unwrap().iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, made.id]);
    let two = &one.for_service(made.id);
    let bad_rules =
        TownService { rules: BookingRules { book_days_ahead: 400, ..made.rules }, ..made.clone() };
    assert!(matches!(one.insert_service(&bad_rules).await, Err(StoreError::Invalid(_))));
    let dear = TownService { fare_yen: 1_000_000, ..made.clone() };
    assert!(matches!(one.update_service(&dear).await, Err(StoreError::Invalid(_))));
    let renamed = TownService { name: "新郷村".into(), fare_yen: 400, ..made.clone() };
    one.update_service(&renamed).await.unwrap();
    assert_eq!(one.get_service(made.id).await.unwrap(), renamed);

    let (r1, v1, _) = seed(one).await;
    // The same phone number and the same idempotency key in another town.
    let r2 = two.insert_rider(&rider("山田 太郎", "ヤマダ タロウ", "0172-33-1234")).await.unwrap();
    let v2 = two.insert_vehicle(&vehicle("新郷1号")).await.unwrap();
    let d = day();
    let b1 = booking(r1.id, d, 9 * 60, "same-key");
    let b1 = one.commit_booking(&b1, &[solo_plan(v1.id, d, 0, b1.pickup_window.0)]).await.unwrap();
    let b2 = booking(r2.id, d, 10 * 60, "same-key");
    let b2 = two.commit_booking(&b2, &[solo_plan(v2.id, d, 0, b2.pickup_window.0)]).await.unwrap();
    assert_eq!(two.booking_by_key("same-key").await.unwrap().map(|b| b.id), Some(b2.id));

    // Reads see one side only.
    assert!(matches!(two.get_rider(r1.id).await, Err(StoreError::NotFound { what: "rider", .. })));
    assert!(matches!(one.get_rider(r2.id).await, Err(StoreError::NotFound { what: "rider", .. })));
    assert_eq!(two.search_riders(Some("33-12"), None, 10).await.unwrap(), vec![r2.clone()]);
    assert_eq!(two.list_vehicles().await.unwrap(), vec![v2.clone()]);
    assert!(matches!(two.get_vehicle(v1.id).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(two.get_booking(b1.id).await, Err(StoreError::NotFound { what: "booking", .. })));
    assert_eq!(ids(&two.list_bookings(None, Some(d), true).await.unwrap()), vec![b2.id]);
    assert_eq!(ids(&one.confirmed_bookings_from(d).await.unwrap()), vec![b1.id]);
    let (live, plans) = two.live_state_from(d).await.unwrap();
    assert_eq!(
        (ids(&live), plans.iter().map(|p| p.vehicle_id).collect::<Vec<_>>()),
        (vec![b2.id], vec![v2.id])
    );

    // Changes through the other town are refused as if the record did not exist.
    assert!(matches!(two.update_rider(&r1).await, Err(StoreError::NotFound { what: "rider", .. })));
    let shift = Shift { vehicle_id: v1.id, day: d, start_s: 0, end_s: 3600 };
    assert!(matches!(two.set_shift(shift).await, Err(StoreError::NotFound { what: "vehicle", .. })));
    assert!(matches!(
        two.cancel_booking(b1.id, &[]).await,
        Err(StoreError::NotFound { what: "booking", .. })
    ));
    assert!(matches!(two.mark_told(b1.id).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(two.insert_recurrence(r1.id, "Tuesdays").await, Err(StoreError::NotFound { .. })));
    assert!(matches!(two.erase_rider(r1.id, d, 1).await, Err(StoreError::NotFound { what: "rider", .. })));
    // A booking in town two may not name town one's rider or vehicle,
    let stray = booking(r1.id, d, 11 * 60, "stray");
    let err = two.commit_booking(&stray, &[solo_plan(v2.id, d, 0, stray.pickup_window.0)]).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { what: "rider", .. }), "{err:?}");
    let stray = booking(r2.id, d, 11 * 60, "stray");
    let err = two.commit_booking(&stray, &[solo_plan(v1.id, d, 0, stray.pickup_window.0)]).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { what: "vehicle", .. }), "{err:?}");
    // nor move town one's booking in a re-plan.
    let moved = solo_plan(v2.id, d, b1.id, b1.pickup_window.0);
    assert!(two.replace_plans(&[moved]).await.is_err());
    assert_eq!(one.get_booking(b1.id).await.unwrap().vehicle_id, v1.id);

    // Stops and the area.
    let stop = StopRecord {
        id: 0,
        name: "役場前".into(),
        name_kana: "ヤクバマエ".into(),
        location: LatLon { lat: 40.46, lon: 141.17 },
    };
    let s2 = two.insert_stop(&stop).await.unwrap();
    assert!(one.list_stops().await.unwrap().is_empty());
    assert!(matches!(one.get_stop(s2.id).await, Err(StoreError::NotFound { .. })));
    two.set_service_area(9, &[0x0891_1111_1111_1111, 0x0891_1111_1111_1112]).await.unwrap();
    one.set_service_area(9, &[0x0891_2222_2222_2222]).await.unwrap();
    assert_eq!(two.service_area().await.unwrap().map(|(_, c)| c.len()), Some(2));
    assert_eq!(one.service_area().await.unwrap().map(|(_, c)| c.len()), Some(1));

    // Tokens and the audit trail.
    let driver_two =
        TokenRecord { service: Some(two.service()), ..token(Role::Driver, Scope::Vehicle(v2.id), "Kudo") };
    two.insert_token("ab01", &driver_two).await.unwrap();
    let crossing =
        TokenRecord { service: Some(two.service()), ..token(Role::Driver, Scope::Vehicle(v1.id), "x") };
    assert!(matches!(
        two.insert_token("ab02", &crossing).await,
        Err(StoreError::NotFound { what: "vehicle", .. })
    ));
    let nowhere = TokenRecord { service: Some(999), ..token(Role::Operator, Scope::Service, "x") };
    assert!(matches!(
        two.insert_token("ab03", &nowhere).await,
        Err(StoreError::NotFound { what: "service", .. })
    ));
    let unhomed = TokenRecord { service: None, ..token(Role::Rider, Scope::Rider(r2.id), "x") };
    assert!(matches!(two.insert_token("ab04", &unhomed).await, Err(StoreError::Invalid(_))));
    assert_eq!(one.list_tokens(Some(two.service())).await.unwrap().len(), 1);
    assert!(one.list_tokens(Some(one.service())).await.unwrap().is_empty());
    let listed = one.list_tokens(None).await.unwrap();
    assert!(matches!(
        one.revoke_token(listed[0].id, Some(one.service()), 5).await,
        Err(StoreError::NotFound { what: "token", .. })
    ));
    let entry = AuditEntry {
        id: 0,
        at: 1_700_000_000,
        token_id: 7,
        role: Role::Operator,
        rpc: "RiderService/GetRider".into(),
        action: AuditAction::Read,
        rider_id: Some(r2.id),
        booking_id: None,
    };
    two.append_audit(&[entry]).await.unwrap();
    assert_eq!(two.recent_audit(10).await.unwrap().len(), 1);
    assert!(one.recent_audit(10).await.unwrap().is_empty());
    assert!(one.audit_of_rider(r2.id, 10).await.unwrap().is_empty());
}

fn ids(bookings: &[Booking]) -> Vec<i64> {
    bookings.iter().map(|b| b.id).collect()
}

/// Drivers' events are stored once per tablet-made id, a reused id for
/// another event is refused, positions are stored once per second, and
/// nothing of another service can be reported or read.
pub async fn road_events_and_positions_are_stored_once(db: TestDb) {
    use noriai_model::live::{EventKind, Position, VehicleEvent};
    let store = &db.store;
    let (r, v1, v2) = seed(store).await;
    let d = day();
    let b = booking(r.id, d, 9 * 60, "road-1");
    let t = b.pickup_window.0;
    let b = store.commit_booking(&b, &[solo_plan(v1.id, d, 0, t)]).await.unwrap();
    let event = |id: &str, kind: EventKind, at: i64| VehicleEvent {
        event_id: id.into(),
        vehicle_id: v1.id,
        at,
        kind,
        position: (at % 2 == 0).then_some(LatLon { lat: 40.8, lon: 140.4 }),
        note: String::new(),
    };
    let start = event("e1", EventKind::ShiftStarted { odometer_km: Some(12_345.6) }, t - 600);
    let boarded = event("e2", EventKind::Boarded { booking_id: b.id }, t + 61);
    assert!(!store.record_event(&start, t).await.unwrap());
    assert!(!store.record_event(&boarded, t).await.unwrap());
    assert!(store.record_event(&boarded, t + 5).await.unwrap(), "a repeat is a repeat");
    let reused = event("e2", EventKind::NoShow { booking_id: b.id }, t + 62);
    assert!(matches!(store.record_event(&reused, t).await, Err(StoreError::Duplicate(_))));
    let elsewhere = VehicleEvent { vehicle_id: v2.id, ..event("e1", EventKind::Departed, t) };
    assert!(!store.record_event(&elsewhere, t).await.unwrap(), "ids are per vehicle");
    assert_eq!(store.vehicle_events(v1.id, t - 3600, t + 3600).await.unwrap(), vec![start, boarded.clone()]);
    let by_booking = store.events_of_bookings(&[b.id, b.id + 50]).await.unwrap();
    assert_eq!(by_booking.get(&b.id), Some(&vec![boarded.kind.clone()]));
    // The rider is with v1: v2 cannot report about the ride, and plans
    // made before the boarding that hand it to v2 are stale.
    let not_mine =
        VehicleEvent { vehicle_id: v2.id, ..event("e3", EventKind::Alighted { booking_id: b.id }, t + 900) };
    assert!(matches!(
        store.record_event(&not_mine, t).await,
        Err(StoreError::NotOnVehicle { rides_with, .. }) if rides_with == v1.id
    ));
    let handed = [VehicleDayPlan { vehicle_id: v1.id, day: d, stops: vec![] }, solo_plan(v2.id, d, b.id, t)];
    assert!(matches!(store.replace_plans(&handed).await, Err(StoreError::StalePlan(_))));
    assert_eq!(store.get_booking(b.id).await.unwrap().vehicle_id, v1.id);
    store.replace_plans(&[solo_plan(v1.id, d, b.id, t + 60)]).await.unwrap();

    let at = |s: i64| Position {
        vehicle_id: v1.id,
        at: t + s,
        location: LatLon { lat: 40.8 + s as f64 * 1e-4, lon: 140.4 },
        heading_deg: Some(90.0),
        speed_kmh: None,
    };
    assert_eq!(store.record_positions(&[at(0), at(5), at(10)]).await.unwrap(), 3);
    assert_eq!(store.record_positions(&[at(5), at(15)]).await.unwrap(), 1);
    assert_eq!(store.last_position(v1.id).await.unwrap(), Some(at(15)));
    assert_eq!(store.last_position(v2.id).await.unwrap(), None);

    let other = store.for_service(store.insert_service(&town("他町")).await.unwrap().id);
    let sneaky = event("e9", EventKind::Departed, t);
    assert!(matches!(
        other.record_event(&sneaky, t).await,
        Err(StoreError::NotFound { what: "vehicle", .. })
    ));
    assert!(matches!(other.record_positions(&[at(20)]).await, Err(StoreError::NotFound { .. })));
    assert!(other.vehicle_events(v1.id, 0, i64::MAX).await.unwrap().is_empty());
    assert_eq!(other.last_position(v1.id).await.unwrap(), None);
    assert!(other.events_of_bookings(&[b.id]).await.unwrap().is_empty());
}

pub async fn road_closures_are_stored_reopened_and_kept_per_service(db: TestDb) {
    use noriai_model::live::{ClosurePlace, ClosureReason, RoadClosure};
    let store = &db.store;
    let snow = RoadClosure {
        id: 0,
        place: ClosurePlace::Point(LatLon { lat: 40.65, lon: 140.85 }),
        reason: ClosureReason::Snow,
        note: "八甲田 通行止め".into(),
        from: 1_000,
        until: None,
        reopened_at: None,
    };
    let slide = RoadClosure {
        place: ClosurePlace::Area(vec![
            LatLon { lat: 40.0, lon: 140.0 },
            LatLon { lat: 40.1, lon: 140.0 },
            LatLon { lat: 40.1, lon: 140.1 },
        ]),
        reason: ClosureReason::Disaster,
        until: Some(9_000),
        ..snow.clone()
    };
    let a = store.insert_closure(&snow, 900).await.unwrap();
    let b = store.insert_closure(&slide, 950).await.unwrap();
    assert!(b.id > a.id);
    assert_eq!(store.closures().await.unwrap(), vec![b.clone(), a.clone()], "newest first, as stored");
    let reopened = store.reopen_closure(a.id, 5_000).await.unwrap();
    assert_eq!(reopened.reopened_at, Some(5_000));
    assert_eq!(
        store.reopen_closure(a.id, 6_000).await.unwrap().reopened_at,
        Some(5_000),
        "the first reopening counts"
    );
    assert!(reopened.closes_during(4_000, 4_500) && !reopened.closes_during(5_000, 6_000));
    assert!(matches!(store.reopen_closure(a.id + 100, 1).await, Err(StoreError::NotFound { .. })));
    let other = store.for_service(store.insert_service(&town("閉鎖町")).await.unwrap().id);
    assert!(other.closures().await.unwrap().is_empty(), "closures belong to their service");
    assert!(matches!(other.reopen_closure(b.id, 1).await, Err(StoreError::NotFound { .. })));
    // Days switched to winter speeds, per service; repeats change nothing.
    let (d1, d2) = (day(), day().next());
    store.set_winter(d2, true, 1).await.unwrap();
    store.set_winter(d1, true, 2).await.unwrap();
    store.set_winter(d1, true, 3).await.unwrap();
    assert_eq!(store.winter_days().await.unwrap(), vec![d1, d2]);
    store.set_winter(d2, false, 4).await.unwrap();
    store.set_winter(d2, false, 5).await.unwrap();
    assert_eq!(store.winter_days().await.unwrap(), vec![d1]);
    assert!(other.winter_days().await.unwrap().is_empty());
}

pub async fn console_logins_are_unique_scoped_and_disabled(db: TestDb) {
    let store = &db.store;
    let (_, v1, _) = seed(store).await;
    let login = |name: &str, role, scope| LoginRecord {
        id: 0,
        name: name.into(),
        role,
        scope,
        service: Some(noriai_store::FIRST_SERVICE),
        created_at: 1_000,
        disabled_at: None,
    };
    let sato =
        store.insert_login(&login("sato", Role::Operator, Scope::Service), "$argon2id$one").await.unwrap();
    let kimura = store
        .insert_login(&login("kimura", Role::Driver, Scope::Vehicle(v1.id)), "$argon2id$two")
        .await
        .unwrap();
    assert_ne!(sato.id, kimura.id);
    let (found, hash) = store.login_by_name("kimura").await.unwrap().expect("found");
    assert_eq!((found, hash.as_str()), (kimura.clone(), "$argon2id$two"));
    assert!(store.login_by_name("kimur").await.unwrap().is_none(), "names match whole");
    assert!(matches!(
        store.insert_login(&login("sato", Role::Planner, Scope::Service), "$x").await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(matches!(
        store.insert_login(&login("ghost", Role::Driver, Scope::Vehicle(v1.id + 100)), "$x").await,
        Err(StoreError::NotFound { what: "vehicle", .. })
    ));
    assert!(matches!(
        store.insert_login(&login("rider", Role::Rider, Scope::Rider(1)), "$x").await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.list_logins(None).await.unwrap(), vec![sato.clone(), kimura.clone()]);
    assert_eq!(store.list_logins(Some(noriai_store::FIRST_SERVICE + 1)).await.unwrap(), vec![]);
    // Sessions end with their login, or with the token they were opened from.
    let session = token(Role::Operator, Scope::Service, "session");
    let of_sato = store.insert_session("s1", &session, SessionOf::Login(sato.id)).await.unwrap();
    let parent = store.insert_token("p1", &token(Role::Operator, Scope::Service, "desk")).await.unwrap();
    let of_parent = store.insert_session("s2", &session, SessionOf::Token(parent.id)).await.unwrap();
    let revoked_at =
        |d: &'static str| async move { store.token_by_digest(d).await.unwrap().expect("token").0.revoked_at };
    assert_eq!((revoked_at("s1").await, revoked_at("s2").await), (None, None));
    store.revoke_token(parent.id, None, 4_000).await.unwrap();
    assert_eq!(revoked_at("s2").await, Some(4_000), "the parent's revocation ends session {}", of_parent.id);
    assert_eq!(revoked_at("s1").await, None);
    let off = store.disable_login("sato", None, 5_000).await.unwrap();
    assert_eq!(revoked_at("s1").await, Some(5_000), "disabling the login ends session {}", of_sato.id);
    assert_eq!(off.disabled_at, Some(5_000));
    assert_eq!(
        store.disable_login("sato", None, 6_000).await.unwrap().disabled_at,
        Some(5_000),
        "first time kept"
    );
    assert!(matches!(store.disable_login("nobody", None, 6_000).await, Err(StoreError::Invalid(_))));
}

pub async fn a_cancellation_keeps_its_reason(db: TestDb) {
    let store = &db.store;
    let (r, v1, _) = seed(store).await;
    let d = day();
    let a = commit_appended(store, &booking(r.id, d, 9 * 60, "a"), v1.id).await;
    let b = commit_appended(store, &booking(r.id, d, 10 * 60, "b"), v1.id).await;
    assert_eq!(store.cancel_reason(a.id).await.unwrap(), None);
    let only_b = solo_plan(v1.id, d, b.id, b.pickup_window.0 - 100);
    store.cancel_booking_audited(a.id, std::slice::from_ref(&only_b), None, "入院のため").await.unwrap();
    assert_eq!(store.cancel_reason(a.id).await.unwrap().as_deref(), Some("入院のため"));
    store.cancel_booking(b.id, &[]).await.unwrap();
    assert_eq!(store.cancel_reason(b.id).await.unwrap(), None, "no reason given");
    assert!(matches!(
        store.cancel_reason(b.id + 100).await,
        Err(StoreError::NotFound { what: "booking", .. })
    ));
}
