//! What can go wrong, in words an operator or a caller can act on.

use sqlx::error::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no {what} with id {id}")]
    NotFound { what: &'static str, id: i64 },
    /// A value that must be unique is taken: a phone number or an
    /// idempotency key.
    #[error("{0}")]
    Duplicate(String),
    /// Plans computed from an older state than the stored one (another
    /// booking or cancellation was committed meanwhile): re-plan and retry.
    #[error("{0}")]
    StalePlan(String),
    /// Cancelling a booking twice is refused so a caller can tell "I cancelled
    /// it" from "someone already had".
    #[error("booking {id} is already cancelled")]
    AlreadyCancelled { id: i64 },
    /// A rider's data cannot be erased while rides are still to come: the
    /// driver needs it, and the plan its exact places.
    #[error(
        "rider {rider} still has bookings {bookings:?} today or later; cancel them (or wait until they are ridden) first"
    )]
    RidesToCome { rider: i64, bookings: Vec<i64> },
    /// A driver's event about a ride that now rides with another vehicle.
    #[error(
        "booking {booking} now rides with vehicle {rides_with}, not {vehicle}; the manifest shows the change"
    )]
    NotOnVehicle { booking: i64, vehicle: i64, rides_with: i64 },
    /// The input cannot be stored as given (e.g. a shift that ends before it
    /// starts, or plans that visit the same stop twice).
    #[error("{0}")]
    Invalid(String),
    /// A stored value does not fit the domain types: the database was changed
    /// by something other than this crate, or by a newer version of it.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("unusable database URL: {0}")]
    BadUrl(String),
    #[error("cannot open the database at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot bring the database schema up to date: {0}{hint}", hint = migrate_hint(.0))]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

fn migrate_hint(err: &sqlx::migrate::MigrateError) -> &'static str {
    use sqlx::migrate::MigrateError::{VersionMismatch, VersionMissing};
    match err {
        VersionMissing(_) => " (the database was written by a newer noriai; run that version)",
        VersionMismatch(_) => " (an applied migration file was edited; add a new migration instead)",
        _ => "",
    }
}

/// Whether a database error means the database could not be reached (the
/// server is down, the network broke, no connection was free in time), as
/// opposed to a refusal of this statement.
pub fn is_unreachable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_)
    ) || matches!(err, sqlx::Error::Database(db) if db.code().is_some_and(|c| is_connection_state(&c)))
}

/// PostgreSQL SQLSTATEs of a lost or refused connection: class 08
/// (connection exception) and 57P01-57P03 (the server is shutting down or
/// starting up).
fn is_connection_state(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Whether a database error is a broken constraint of this kind.
pub(crate) fn is_violation(err: &sqlx::Error, kind: ErrorKind) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.kind() == kind)
}

/// The URL with its password replaced, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_string() };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_string() };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &rest[..colon], &rest[at..]),
        None => url.to_string(),
    }
}

/// Reads an integer column that the domain keeps as `u32`.
pub(crate) fn to_u32(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} is {value}, not a count")))
}

pub(crate) fn to_day(value: i64) -> Result<noriai_model::service::ServiceDay, StoreError> {
    i32::try_from(value)
        .map(noriai_model::service::ServiceDay)
        .map_err(|_| StoreError::Corrupt(format!("day {value} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_do_not_reach_messages() {
        assert_eq!(redact("postgres://noriai:secret@db:5432/noriai"), "postgres://noriai:***@db:5432/noriai");
        assert_eq!(redact("postgres://noriai@db/noriai"), "postgres://noriai@db/noriai");
        assert_eq!(redact("sqlite:///var/lib/noriai.db"), "sqlite:///var/lib/noriai.db");
        assert_eq!(redact("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
    }
}
