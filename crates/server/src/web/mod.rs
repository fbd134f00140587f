//! The operator console and the driver view in the browser, on the gRPC
//! port: the embedded page and its files (`console/`), a JSON API under
//! `/api/v1/` and live updates as server-sent events. Every API call opens
//! a session (an HttpOnly cookie holding a short-lived token), is admitted
//! by the same [`Gate`] and rule table as gRPC, and then calls the gRPC
//! service's own handler, so the console has no business rules of its own.

mod api;
mod assets;
mod map;
pub mod places;
mod session;
mod views;

use crate::auth::{Caller, Gate};
use crate::towns::Towns;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use noriai_roads::RoadNetwork;
use noriai_store::Store;
use std::sync::Arc;

pub use session::{MIN_PASSWORD_CHARS, hash_password, login_session_name};

/// Whether a request path belongs to the console (page, files, JSON API),
/// which admits its own calls, rather than to gRPC.
pub fn serves(path: &str) -> bool {
    path == "/" || path == "/driver" || path.starts_with("/api/") || path.starts_with("/assets/")
}

/// What the console's handlers share: the gate, the store, and the gRPC
/// services they call.
pub struct Web {
    pub gate: Arc<Gate>,
    pub store: Store,
    pub roads: Arc<RoadNetwork>,
    pub riders: crate::riders::Riders,
    pub bookings: crate::booking::Bookings,
    pub fleet: crate::fleet::Fleet,
    pub operations: crate::operations::Operations,
    pub drivers: crate::driver::Drivers,
    /// The session cookie is `Secure`: served over TLS, or on a network
    /// address (behind a TLS proxy); only a loopback address without TLS
    /// (a browser on the same machine) goes without.
    pub secure_cookie: bool,
    /// How long a driver waits before a no-show may be reported.
    pub no_show_wait_s: i64,
    logins: session::LoginLimits,
}

impl Web {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gate: Arc<Gate>,
        store: Store,
        towns: Arc<Towns>,
        roads: Arc<RoadNetwork>,
        live: noriai_dispatch::live::LiveRules,
        secure_cookie: bool,
    ) -> Web {
        Web {
            gate,
            store,
            riders: crate::riders::Riders { towns: towns.clone(), roads: roads.clone() },
            bookings: crate::booking::Bookings { towns: towns.clone() },
            fleet: crate::fleet::Fleet { towns: towns.clone(), roads: roads.clone() },
            operations: crate::operations::Operations { towns: towns.clone(), roads: roads.clone() },
            drivers: crate::driver::Drivers { towns, roads: roads.clone(), rules: live },
            roads,
            secure_cookie,
            no_show_wait_s: live.no_show_wait_s,
            logins: session::LoginLimits::new(),
        }
    }
}

/// The console's routes, to merge with the gRPC services.
pub fn router(web: Arc<Web>) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/", get(assets::console))
        .route("/driver", get(assets::driver))
        .route("/assets/{*file}", get(assets::file))
        .route("/api/v1/session", post(session::log_in).get(session::who).delete(session::log_out))
        .route("/api/v1/riders", get(api::search_riders).post(api::register_rider))
        .route("/api/v1/riders/{id}", get(api::rider_card))
        .route("/api/v1/stops", get(api::stops))
        .route("/api/v1/quotes", post(api::quote))
        .route("/api/v1/bookings", post(api::book))
        .route("/api/v1/bookings/{id}/cancel", post(api::cancel))
        .route("/api/v1/recurring", post(api::book_recurring))
        .route("/api/v1/board", get(api::board))
        .route("/api/v1/map", get(map::lines))
        .route("/api/v1/map/extent", get(map::extent))
        .route("/api/v1/driver/manifest", get(api::manifest))
        .route("/api/v1/driver/events", post(api::report_event))
        .route("/api/v1/driver/positions", post(api::report_positions))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(web)
}

/// The largest JSON body the console sends is a new rider: far below this.
const MAX_BODY_BYTES: usize = 32 * 1024;

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such page or API call")
}

/// Nothing from elsewhere: scripts, styles, images and connections come from
/// this server only, and no other site may frame the console.
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::http::HeaderValue;
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

/// An API refusal: an HTTP status and, as JSON, the gRPC code's name and a
/// message a person can act on.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_argument", format!("{field}: {why}"))
    }
}

impl From<tonic::Status> for ApiError {
    fn from(s: tonic::Status) -> ApiError {
        use tonic::Code;
        let (status, code) = match s.code() {
            Code::InvalidArgument | Code::OutOfRange => (StatusCode::BAD_REQUEST, "invalid_argument"),
            Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Code::PermissionDenied => (StatusCode::FORBIDDEN, "permission_denied"),
            Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Code::AlreadyExists => (StatusCode::CONFLICT, "already_exists"),
            Code::FailedPrecondition => (StatusCode::CONFLICT, "failed_precondition"),
            Code::Aborted => (StatusCode::CONFLICT, "aborted"),
            Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "resource_exhausted"),
            Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "deadline_exceeded"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, s.message())
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> ApiError {
        // The rejection's text names the field and the place in the body; cut it short.
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_argument", noriai_model::excerpt(&r.body_text()))
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_argument", noriai_model::excerpt(&r.body_text()))
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_argument", noriai_model::excerpt(&r.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

/// Calls one gRPC handler as the session's holder: the gate admits the call
/// by the RPC's rule (role, quota, service), the handler gets the same typed
/// [`Caller`] a gRPC client's call would.
async fn call<Req, Resp, F, Fut>(
    session: &session::Session,
    web: &Web,
    rpc: &str,
    message: Req,
    handler: F,
) -> Result<Resp, ApiError>
where
    F: FnOnce(tonic::Request<Req>) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
{
    let caller = admit(session, web, rpc).await?;
    let mut request = tonic::Request::new(message);
    request.extensions_mut().insert(caller);
    Ok(handler(request).await?.into_inner())
}

/// The session's caller for one RPC (`noriai.v1.Service/Method`).
async fn admit(session: &session::Session, web: &Web, rpc: &str) -> Result<Caller, ApiError> {
    match web.gate.admit(rpc, &session.headers()).await? {
        Some(caller) => Ok(caller),
        None => Err(ApiError::new(StatusCode::FORBIDDEN, "permission_denied", "not a console call")),
    }
}

/// The local day ("YYYY-MM-DD", Asia/Tokyo) of a JSON field, or today.
fn day_or_today(field: &str, day: Option<&str>) -> Result<String, ApiError> {
    match day.map(str::trim) {
        None | Some("") => Ok(noriai_model::service::ServiceDay::of_unix(crate::now_unix()).to_string()),
        Some(d) => crate::convert::day(field, d).map(|d| d.to_string()).map_err(ApiError::from),
    }
}
