//! The noriai store: the only crate that speaks SQL. It owns the durable
//! records of the service — riders, the fleet and its shifts, virtual stops,
//! the service area, recurring trips, bookings and the vehicles' stored plans —
//! in SQLite (embedded, the default) or PostgreSQL (production).
//!
//! Both backends run the same statements through sqlx's `Any` driver: SQL uses
//! `$1`-style placeholders (SQLite accepts them too), every integer column is
//! 64-bit, flags are read back through `CASE WHEN` so both backends return an
//! integer, ids come back through `RETURNING`, and no nullable float is ever
//! bound (see `bookings::place_columns` for the sqlx bug that avoids). Each
//! backend has its own migration directory because the DDL differs (identity
//! columns, STRICT tables, booleans).
//!
//! Every call that changes bookings or plans is one transaction, committed
//! durably before it returns. The store also keeps the plans honest: a
//! confirmed booking's stops may only leave the stored plans through
//! [`Store::cancel_booking`], which turns a stale re-plan (one computed before
//! another booking was committed) into [`StoreError::StalePlan`] instead of a
//! silently lost booking.
//!
//! A [`Store`] sees one service (municipality) at a time: every query about
//! riders, the fleet, stops, the area, bookings and plans is limited to
//! [`Store::service`], so one town's data never reaches another's handlers.
//! [`Store::for_service`] gives the same pool seen as another service.

mod accounts;
mod bookings;
mod closures;
mod error;
mod fleet;
mod live;
mod plans;
mod riders;
mod services;
mod text;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use accounts::SessionOf;
pub use error::{StoreError, is_unreachable};
pub use plans::VehicleDayPlan;
pub use text::{fold_for_search, phone_digits, plain_phone, reading};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The service every database has (the one made by the migration that
/// introduced services); a fresh handle sees it.
pub const FIRST_SERVICE: i64 = 1;

/// SQLite has one writer at a time; more connections only add readers, which
/// WAL lets run beside the writer.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
const POSTGRES_MAX_CONNECTIONS: u32 = 8;
/// How long a call waits for a connection before it fails: a caller on the
/// phone must hear "try again" in seconds, not after sqlx's default 30 s,
/// when the database is down.
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// How long a SQLite writer waits for another process's write to finish
/// before giving up with "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite writers queue here (first come, first served) instead of in
    /// SQLite's busy handler, which sleeps and retries and can starve a writer
    /// under load. `None` on PostgreSQL, which locks rows instead.
    write_turn: Option<Arc<Mutex<()>>>,
    /// The service this handle reads and writes.
    service: i64,
}

impl Store {
    /// Opens the database at `url` and brings its schema up to date.
    ///
    /// - `sqlite://PATH` (or `sqlite:PATH`): the file is created if missing.
    ///   Connections use WAL, `synchronous=FULL` (a commit survives power loss,
    ///   not just a crash), a 30 s busy timeout and foreign keys.
    /// - `postgres://user:pass@host:port/db` (or `postgresql://`).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(url).await
        } else {
            Err(StoreError::BadUrl(format!(
                "`{}` is not a database URL this store knows; use sqlite://PATH or \
                 postgres://user:password@host:port/database",
                error::redact(url)
            )))
        }
    }

    async fn connect_sqlite(url: &str) -> Result<Store, StoreError> {
        let any_options = AnyConnectOptions::from_str(&sqlite_any_url(url, &std::env::current_dir)?)
            .map_err(|e| StoreError::BadUrl(format!("`{url}`: {e}")))?;
        let pool = AnyPoolOptions::new()
            .max_connections(SQLITE_MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(|conn: &mut AnyConnection, _meta: PoolConnectionMetadata| {
                Box::pin(async move { configure_sqlite(conn).await })
            })
            .connect_with(any_options)
            .await
            .map_err(|source| StoreError::Connect { url: error::redact(url), source })?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        let store = Store {
            pool,
            backend: Backend::Sqlite,
            write_turn: Some(Arc::new(Mutex::new(()))),
            service: FIRST_SERVICE,
        };
        store.renormalise_riders().await?;
        Ok(store)
    }

    async fn connect_postgres(url: &str) -> Result<Store, StoreError> {
        let any_options = AnyConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl(format!("`{}`: {e}", error::redact(url))))?;
        let pool = AnyPoolOptions::new()
            .max_connections(POSTGRES_MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(any_options)
            .await
            .map_err(|source| StoreError::Connect { url: error::redact(url), source })?;
        POSTGRES_MIGRATIONS.run(&pool).await?;
        let store = Store { pool, backend: Backend::Postgres, write_turn: None, service: FIRST_SERVICE };
        store.renormalise_riders().await?;
        Ok(store)
    }

    /// Whether the database answers now: one trivial query, failing within
    /// [`ACQUIRE_TIMEOUT`] when it is unreachable.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The service this handle reads and writes.
    pub fn service(&self) -> i64 {
        self.service
    }

    /// The same database seen as service `id` (which is not checked here:
    /// see [`Store::get_service`]).
    pub fn for_service(&self, id: i64) -> Store {
        Store { service: id, ..self.clone() }
    }

    /// Closes every connection; waits for connections in use to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock
    /// up front (`BEGIN IMMEDIATE`), so two writers never both read and then
    /// fail to upgrade with SQLITE_BUSY.
    async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let turn = match &self.write_turn {
            Some(turn) => Some(turn.clone().lock_owned().await),
            None => None,
        };
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _turn: turn })
    }
}

/// The URL the `Any` pool opens for `sqlite://PATH`: the same file, as an
/// absolute path (a relative one is taken from the working directory now),
/// created if missing. Every pooled connection parses this URL again, so it
/// must name one file: in-memory databases are refused (each connection would
/// get its own), and so are URL options (the store sets its own).
fn sqlite_any_url(url: &str, cwd: &dyn Fn() -> std::io::Result<PathBuf>) -> Result<String, StoreError> {
    let bad = |why: &str| StoreError::BadUrl(format!("`{url}`: {why}"));
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    if path.is_empty() || path.contains(":memory:") || path.contains("mode=memory") {
        return Err(bad("in-memory SQLite is not supported, as each pooled connection would see its own \
             empty database; use a file, e.g. in a temporary directory"));
    }
    if path.contains('?') {
        return Err(bad("remove the `?` options: the store sets SQLite's options itself"));
    }
    let absolute = if path.starts_with('/') {
        path.to_string()
    } else {
        let dir = cwd().map_err(|e| bad(&format!("the working directory is unreadable: {e}")))?;
        let dir = dir.to_str().ok_or_else(|| bad("the working directory is not UTF-8"))?;
        // The path part of a URL is percent-decoded, so escape what would
        // otherwise be read as an escape, an option or a fragment.
        let dir = dir.replace('%', "%25").replace('?', "%3F").replace('#', "%23");
        format!("{}/{path}", dir.trim_end_matches('/'))
    };
    let any_url = format!("sqlite://{absolute}?mode=rwc");
    SqliteConnectOptions::from_str(&any_url).map_err(|e| bad(&e.to_string()))?;
    Ok(any_url)
}

/// A write transaction and, on SQLite, this process's writer turn. Fields drop
/// in order: an uncommitted transaction queues its rollback before the turn
/// passes on, and the next writer's `BEGIN IMMEDIATE` waits (busy timeout) for
/// that rollback to release the database.
struct WriteTx {
    tx: Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

async fn configure_sqlite(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    // Busy timeout first: switching to WAL needs a lock that another process
    // may hold for a moment.
    let busy = format!("PRAGMA busy_timeout = {}", SQLITE_BUSY_TIMEOUT.as_millis());
    sqlx::query(sqlx::AssertSqlSafe(busy)).execute(&mut *conn).await?;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode = WAL").fetch_one(&mut *conn).await?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(journal_mode = %mode, "SQLite refused WAL; readers will wait for writers");
    }
    // WAL with FULL syncs the log on every commit: a booking confirmed to a
    // caller is on disk even if the machine loses power right after.
    sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
    sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any_url(url: &str) -> Result<String, StoreError> {
        sqlite_any_url(url, &|| Ok(PathBuf::from("/srv/noriai 100%")))
    }

    #[test]
    fn sqlite_urls_name_one_absolute_file() {
        assert_eq!(any_url("sqlite:///var/lib/noriai.db").unwrap(), "sqlite:///var/lib/noriai.db?mode=rwc");
        assert_eq!(
            any_url("sqlite://data/noriai.db").unwrap(),
            "sqlite:///srv/noriai 100%25/data/noriai.db?mode=rwc"
        );
        assert_eq!(any_url("sqlite:a:b.db").unwrap(), "sqlite:///srv/noriai 100%25/a:b.db?mode=rwc");
        for refused in ["sqlite::memory:", "sqlite://", "sqlite://x.db?mode=ro", "sqlite:x.db?mode=memory"] {
            assert!(matches!(any_url(refused), Err(StoreError::BadUrl(_))), "{refused}");
        }
    }
}
