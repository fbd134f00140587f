//! What can go wrong behind the gRPC edge, and the one place that chooses the
//! status a client sees for it. Each mapping is exhaustive (no catch-all arm),
//! so a new kind of error must be given its status on purpose.

use noriai_store::StoreError;
use tonic::Status;

/// Why the dispatcher refused or failed a command.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DispatchError {
    /// The request itself is wrong; `field` is its path in the request.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A rider, stop, offer or booking the request names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed but the service cannot take it as things
    /// are (outside the area or hours, already cancelled, in the past).
    #[error("{0}")]
    Precondition(String),
    /// No vehicle is free in time; the message lists times that would work.
    #[error("{0}")]
    NoVehicle(String),
    /// The idempotency key was used for another booking.
    #[error("{0}")]
    KeyReused(String),
    /// What the caller relied on changed meanwhile (an offer another booking
    /// took, a plan computed on an older state): asking again may succeed.
    #[error("{0}")]
    Stale(String),
    /// The booking database refused or could not be reached.
    #[error("{0}")]
    Store(StoreFailure),
    /// The dispatcher task is not running.
    #[error("the dispatcher is shutting down")]
    ShuttingDown,
    /// A broken invariant of our own: a bug, logged where it is made.
    #[error("dispatch failed: {0}")]
    Internal(String),
}

impl DispatchError {
    pub fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::Invalid { field: field.into(), message: message.to_string() }
    }

    /// A bug of ours, logged with its details.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!("dispatcher: {message}");
        Self::Internal(message.to_string())
    }
}

impl From<DispatchError> for Status {
    fn from(e: DispatchError) -> Status {
        let message = e.to_string();
        match e {
            DispatchError::Invalid { .. } => Status::invalid_argument(message),
            DispatchError::NotFound(_) => Status::not_found(message),
            DispatchError::Precondition(_) => Status::failed_precondition(message),
            DispatchError::NoVehicle(_) => Status::resource_exhausted(message),
            DispatchError::KeyReused(_) => Status::already_exists(message),
            DispatchError::Stale(_) => Status::aborted(message),
            DispatchError::Store(failure) => failure.into(),
            DispatchError::ShuttingDown => Status::unavailable(message),
            DispatchError::Internal(_) => Status::internal(message),
        }
    }
}

/// A store error as the caller should see it: its status and a message that
/// never carries a raw database error (those go to the log only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreFailure {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Duplicate(String),
    #[error("{0}")]
    Stale(String),
    #[error("{0}")]
    Precondition(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the booking database is not reachable; try again shortly")]
    Unavailable,
    #[error("the booking database failed ({0}); the error is logged")]
    Internal(&'static str),
}

impl From<StoreFailure> for Status {
    fn from(f: StoreFailure) -> Status {
        let message = f.to_string();
        match f {
            StoreFailure::NotFound(_) => Status::not_found(message),
            StoreFailure::Duplicate(_) => Status::already_exists(message),
            StoreFailure::Stale(_) => Status::aborted(message),
            StoreFailure::Precondition(_) => Status::failed_precondition(message),
            StoreFailure::Invalid(_) => Status::invalid_argument(message),
            StoreFailure::Unavailable => Status::unavailable(message),
            StoreFailure::Internal(_) => Status::internal(message),
        }
    }
}

impl From<StoreError> for StoreFailure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => Self::NotFound(e.to_string()),
            StoreError::Duplicate(m) => Self::Duplicate(m),
            StoreError::StalePlan(m) => Self::Stale(m),
            StoreError::AlreadyCancelled { .. }
            | StoreError::RidesToCome { .. }
            | StoreError::NotOnVehicle { .. } => Self::Precondition(e.to_string()),
            StoreError::Invalid(m) => Self::Invalid(m),
            StoreError::Corrupt(_) => {
                tracing::error!("store: {e}");
                Self::Internal("stored data is unreadable")
            }
            StoreError::BadUrl(_) | StoreError::Connect { .. } | StoreError::Migrate(_) => {
                tracing::error!("store: {e}");
                Self::Unavailable
            }
            StoreError::Database(ref source) if noriai_store::is_unreachable(source) => {
                tracing::warn!("store unreachable: {e}");
                Self::Unavailable
            }
            StoreError::Database(_) => {
                tracing::error!("store: {e}");
                Self::Internal("database error")
            }
        }
    }
}

impl From<StoreError> for DispatchError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.into())
    }
}

/// The status for a store error, for handlers that read the store directly.
pub fn store_status(e: StoreError) -> Status {
    StoreFailure::from(e).into()
}
