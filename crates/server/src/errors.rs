//! Mapping store errors to gRPC statuses a client can act on.

use noriai_store::StoreError;
use tonic::Status;

pub fn store_status(e: StoreError) -> Status {
    match &e {
        StoreError::NotFound { .. } => Status::not_found(e.to_string()),
        StoreError::Conflict(_) => Status::already_exists(e.to_string()),
        _ => {
            tracing::error!("store: {e}");
            Status::unavailable(format!("the booking database is not available ({e}); try again shortly"))
        }
    }
}
