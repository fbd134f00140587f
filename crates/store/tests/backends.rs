//! Runs the store's behaviour suite (`suite/mod.rs`) against both backends:
//! SQLite in a fresh temporary directory, and PostgreSQL in a fresh database
//! per test, created through `NORIAI_TEST_POSTGRES_URL` (default
//! `postgres://noriai:noriai@127.0.0.1:5432/noriai`; the role needs CREATEDB)
//! and dropped afterwards. An unreachable PostgreSQL fails the PostgreSQL
//! tests: start it with `scripts/postgres`.

// The suite's helpers are not `#[test]` functions, which clippy.toml covers.
#![allow(clippy::unwrap_used)]

mod suite;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use noriai_store::{Store, StoreError};
use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_POSTGRES_URL: &str = "postgres://noriai:noriai@127.0.0.1:5432/noriai";

/// A store under test and the URL it was opened with, so a test can reopen it.
pub struct TestDb {
    pub store: Store,
    pub url: String,
}

impl TestDb {
    /// Closes the store and opens the same database again, as after a restart.
    pub async fn reopen(&mut self) {
        self.store.close().await;
        self.store = Store::connect(&self.url).await.expect("reopen the store");
    }

    /// Runs SQL on a connection of its own, past the store's API (what a
    /// careless script or an intruder with the database password would do).
    pub async fn execute_raw(&self, sql: &'static str) -> Result<(), sqlx::Error> {
        use sqlx::Connection;
        if self.url.starts_with("sqlite") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await?;
            sqlx::raw_sql(sql).execute(&mut conn).await.map(drop)
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.url).await?;
            sqlx::raw_sql(sql).execute(&mut conn).await.map(drop)
        }
    }
}

async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("noriai.db").display());
    let store = Store::connect(&url).await.expect("open a new SQLite store");
    test(TestDb { store, url }).await;
}

fn postgres_admin_url() -> String {
    std::env::var("NORIAI_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_string())
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

static NEXT_DATABASE: AtomicUsize = AtomicUsize::new(0);
static SWEPT: AtomicBool = AtomicBool::new(false);

async fn admin_connection(admin_url: &str) -> PgConnection {
    match PgConnection::connect(admin_url).await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "PostgreSQL is not reachable through NORIAI_TEST_POSTGRES_URL (default {DEFAULT_POSTGRES_URL}): \
             {e}\nStart it with `scripts/postgres` (as root), or point NORIAI_TEST_POSTGRES_URL at a \
             server where the role may CREATE DATABASE."
        ),
    }
}

/// Drops test databases left behind by test processes that no longer run
/// (killed mid-test), once per process.
async fn sweep_stale_databases(admin: &mut PgConnection) {
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 'noriai\\_test\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .await;
        }
    }
}

async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin_url = postgres_admin_url();
    let mut admin = admin_connection(&admin_url).await;
    sweep_stale_databases(&mut admin).await;
    let name = format!("noriai_test_{}_{}", std::process::id(), NEXT_DATABASE.fetch_add(1, Ordering::SeqCst));
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name} (does the role have CREATEDB?): {e}"));
    let url = with_database(&admin_url, &name);
    let outcome = match Store::connect(&url).await {
        Ok(store) => {
            let keep = store.clone();
            // A task of its own, so the database is dropped even if the test panics.
            let outcome = tokio::spawn(test(TestDb { store, url })).await;
            keep.close().await;
            outcome.map_err(|e| e.into_panic())
        }
        Err(e) => {
            Err(Box::new(format!("cannot open the store in {name}: {e}")) as Box<dyn std::any::Any + Send>)
        }
    };
    // FORCE cannot end an autovacuum worker that has just started on the
    // new database (it belongs to the server, not to our role): wait for it
    // a little, and otherwise leave the database to the next sweep.
    for attempt in 1..=10 {
        match admin.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await
        {
            Ok(_) => break,
            Err(e) if attempt == 10 => eprintln!("test database {name} left for the next sweep: {e}"),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(300)).await,
        }
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// One test per behaviour and backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::on_sqlite(crate::suite::$name).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::on_postgres(crate::suite::$name).await
                }
            )*
        }
    };
}

on_both_backends!(
    riders_round_trip,
    phone_numbers_are_unique_by_digits,
    riders_are_found_by_phone_digits_and_kana,
    fleet_stops_and_service_area_round_trip,
    bookings_round_trip_every_field,
    idempotency_key_is_used_once,
    commit_stores_plans_and_expected_arrivals,
    replans_move_bookings_and_refuse_stale_plans,
    cancel_removes_the_booking_from_the_plans,
    bookings_are_listed_by_rider_and_day,
    reopening_finds_everything,
    concurrent_commits_all_land,
    concurrent_commits_on_one_vehicle_day_never_lose_a_booking,
    wide_windows_are_narrowed_once_and_told,
    tokens_are_found_by_digest_listed_and_revoked,
    the_audit_trail_is_append_only_and_found_by_rider,
    erasing_a_rider_keeps_bookings_without_personal_data,
    services_keep_their_records_apart,
    road_events_and_positions_are_stored_once,
    road_closures_are_stored_reopened_and_kept_per_service,
    console_logins_are_unique_scoped_and_disabled,
    a_cancellation_keeps_its_reason,
);

#[tokio::test]
async fn unknown_url_schemes_are_refused() {
    let err = Store::connect("mysql://u:secret@localhost/db").await.expect_err("not supported");
    assert!(matches!(err, StoreError::BadUrl(_)), "{err}");
    assert!(!err.to_string().contains("secret"), "the password stays out of messages: {err}");
}

#[tokio::test]
async fn sqlite_files_use_wal_and_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let store = Store::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    store.close().await;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap();
    assert_eq!(mode, "wal", "WAL is a property of the file and stays on");
}

#[test]
fn test_database_urls_keep_credentials_and_options() {
    assert_eq!(with_database("postgres://a:b@h:5432/noriai", "t1"), "postgres://a:b@h:5432/t1");
    assert_eq!(
        with_database("postgres://a:b@h/noriai?sslmode=disable", "t1"),
        "postgres://a:b@h/t1?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("newer.db").display());
    Store::connect(&url).await.unwrap().close().await;
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'from the future', TRUE, X'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let err = Store::connect(&url).await.expect_err("unknown migration");
    assert!(matches!(err, StoreError::Migrate(_)), "{err:?}");
    assert!(err.to_string().contains("newer noriai"), "{err}");
}

/// A database written by the release before accounts (commit 52c59ef: a
/// demo fleet, one rider, a booking told its final window and one booked
/// days ahead with a wide window) opens with everything in it.
#[tokio::test]
async fn a_database_of_the_previous_release_opens_with_everything_in_it() {
    use noriai_model::service::WindowStage;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/release-52c59ef.sqlite"), &path).unwrap();
    let store = Store::connect(&format!("sqlite://{}", path.display())).await.expect("migrates");
    let rider = store.get_rider(1).await.unwrap();
    assert_eq!((rider.name.as_str(), rider.phone.as_str()), ("旧版 花子", "0172-00-1111"));
    assert!(rider.needs.wheelchair);
    assert_eq!(store.list_vehicles().await.unwrap().len(), 3);
    let bookings = store.list_bookings(Some(1), None, true).await.unwrap();
    assert_eq!(bookings.len(), 2);
    let (told, wide) = (&bookings[0], &bookings[1]);
    assert_eq!((told.window, told.wide_window), (WindowStage::Final, None));
    assert_eq!(told.trip.destination.label, "Balzers clinic");
    assert_eq!(wide.window, WindowStage::Wide);
    assert_eq!(wide.wide_window, Some(wide.pickup_window), "the wide window told is kept from now on");
    assert!(store.list_tokens(None).await.unwrap().is_empty());
    assert!(store.audit_of_rider(1, 10).await.unwrap().is_empty());
    // Everything became service 1, the only one; a new service sees none of it.
    assert_eq!(store.service(), 1);
    let services = store.list_services().await.unwrap();
    assert_eq!(services.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1]);
    let mut town = services[0].clone();
    town.name = "新郷村".into();
    let other = store.for_service(store.insert_service(&town).await.unwrap().id);
    assert!(other.list_vehicles().await.unwrap().is_empty());
    assert!(other.list_bookings(None, None, true).await.unwrap().is_empty());
    assert!(matches!(other.get_rider(1).await, Err(StoreError::NotFound { .. })));
    assert!(other.service_area().await.unwrap().is_none());
    assert!(store.service_area().await.unwrap().is_some(), "the old area is service 1's");
    store.close().await;
}
