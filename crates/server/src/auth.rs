//! Who is calling and what they may do. One tower layer in front of every
//! gRPC service reads `authorization: Bearer <token>`, finds the token by
//! the SHA-256 of its secret, checks the one table of RPC → roles
//! ([`RULES`]) and the caller's quota, and hands the handler a typed
//! [`Caller`]. Handlers then check the scope (a driver's own vehicle, a
//! rider's own bookings) with the [`Caller`] methods, and record reads and
//! changes of personal data in the audit trail with [`Caller::audit`].

use governor::{DefaultKeyedRateLimiter, Quota};
use noriai_model::access::{AuditAction, AuditEntry, Role, Scope, TokenRecord, TokenUnusable};
use noriai_store::{Store, StoreError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tonic::Status;

use crate::now_unix;

use Role::{Admin, Driver, Operator, Planner, Rider};

/// Every role.
const ANYONE: &[Role] = &Role::ALL;

/// Which roles may call each RPC (the path without its leading `/`). A path
/// missing here is refused for everyone; a test walks every RPC in the
/// descriptors so a new one cannot be forgotten. Scope (which vehicle,
/// which rider) is checked by the handler.
pub const RULES: &[(&str, &[Role])] = &[
    ("noriai.v1.RiderService/RegisterRider", &[Admin, Operator]),
    ("noriai.v1.RiderService/UpdateRider", &[Admin, Operator]),
    ("noriai.v1.RiderService/GetRider", &[Admin, Operator, Rider]),
    ("noriai.v1.RiderService/SearchRiders", &[Admin, Operator]),
    ("noriai.v1.FleetService/AddVehicle", &[Admin]),
    ("noriai.v1.FleetService/ListVehicles", &[Admin, Operator, Driver, Planner]),
    ("noriai.v1.FleetService/SetShift", &[Admin, Operator]),
    ("noriai.v1.FleetService/ListShifts", &[Admin, Operator, Driver, Planner]),
    ("noriai.v1.FleetService/SetServiceArea", &[Admin]),
    ("noriai.v1.FleetService/GetServiceArea", ANYONE),
    ("noriai.v1.FleetService/AddStop", &[Admin]),
    ("noriai.v1.FleetService/ListStops", ANYONE),
    ("noriai.v1.FleetService/DayPlan", &[Admin, Operator, Driver]),
    ("noriai.v1.FleetService/DayStats", &[Admin, Operator, Planner]),
    ("noriai.v1.BookingService/Quote", &[Admin, Operator, Rider]),
    ("noriai.v1.BookingService/Book", &[Admin, Operator, Rider]),
    ("noriai.v1.BookingService/Cancel", &[Admin, Operator, Rider]),
    ("noriai.v1.BookingService/GetBooking", &[Admin, Operator, Rider]),
    ("noriai.v1.BookingService/ListBookings", &[Admin, Operator, Rider]),
    ("noriai.v1.BookingService/BookRecurring", &[Admin, Operator]),
    ("noriai.v1.BookingService/ReplanDay", &[Admin, Operator]),
    ("noriai.v1.BookingService/FinalizeDay", &[Admin, Operator]),
    ("noriai.v1.BookingService/MarkRiderTold", &[Admin, Operator]),
    ("noriai.v1.DriverService/StreamManifest", &[Admin, Operator, Driver]),
    ("noriai.v1.OperationsService/WatchDay", &[Admin, Operator]),
    ("noriai.v1.OperationsService/CloseRoad", &[Admin, Operator]),
    ("noriai.v1.OperationsService/ReopenRoad", &[Admin, Operator]),
    ("noriai.v1.OperationsService/ListClosures", &[Admin, Operator, Planner]),
    ("noriai.v1.OperationsService/SetRoadConditions", &[Admin, Operator]),
    ("noriai.v1.DriverService/ReportEvent", &[Admin, Driver]),
    ("noriai.v1.DriverService/ReportPositions", &[Admin, Driver]),
    ("noriai.v1.TimetableService/SearchStops", ANYONE),
    ("noriai.v1.TimetableService/Departures", ANYONE),
    ("noriai.v1.TimetableService/RouteTimetable", ANYONE),
    ("noriai.v1.TimetableService/ListFeeds", ANYONE),
    ("noriai.v1.TimetableService/ReloadFeeds", &[Admin]),
    ("noriai.v1.JourneyService/PlanJourney", ANYONE),
    ("noriai.v1.JourneyService/BookJourney", &[Admin, Operator, Rider]),
    ("noriai.v1.JourneyService/CancelJourney", &[Admin, Operator, Rider]),
    ("noriai.v1.AccountService/CreateService", &[Admin]),
    // GTFS Realtime over HTTP (`realtime.rs`): the paths, not RPCs.
    // Where a door-to-door vehicle stops is a rider's home: operators only.
    ("gtfs-rt/vehicle-positions", &[Admin, Operator]),
    ("gtfs-rt/trip-updates", &[Admin, Operator]),
    // The console's own calls (`web`); its other calls use the RPCs' rules.
    ("console/session", &[Admin, Operator, Driver, Planner]),
    ("console/map", &[Admin, Operator, Driver, Planner]),
    ("noriai.v1.AccountService/ListServices", ANYONE),
    ("noriai.v1.AccountService/CreateToken", &[Admin]),
    ("noriai.v1.AccountService/ListTokens", &[Admin]),
    ("noriai.v1.AccountService/RevokeToken", &[Admin]),
    ("noriai.v1.AccountService/AuditLog", &[Admin]),
    ("noriai.v1.AccountService/ExportRider", &[Admin]),
    ("noriai.v1.AccountService/EraseRider", &[Admin]),
];

/// Calls that count against a token's quota: the ones that price trips or
/// list riders, which a leaked token would use to flood or to crawl.
const METERED: &[&str] = &[
    "noriai.v1.BookingService/Quote",
    "noriai.v1.RiderService/SearchRiders",
    // Each journey may price a few on-demand legs.
    "noriai.v1.JourneyService/PlanJourney",
];

/// Services anyone may call without a token: health checks for load
/// balancers, and reflection (it describes the API, no data).
const OPEN_PREFIXES: &[&str] = &[
    "grpc.health.v1.Health/",
    "grpc.reflection.v1.ServerReflection/",
    "grpc.reflection.v1alpha.ServerReflection/",
];

/// What a token secret looks like: this prefix and 64 hex digits (32 bytes
/// from the operating system's random source).
pub const SECRET_PREFIX: &str = "noriai_";
const SECRET_BYTES: usize = 32;

/// How long a looked-up token is trusted before it is read again, so a
/// revocation made by `noriai token revoke` in another process takes effect
/// within this time (revocations through `AccountService` are at once).
const CACHE_TTL: Duration = Duration::from_secs(5);
/// Entries kept at most; a flood of made-up tokens only clears the cache.
const CACHE_MAX: usize = 10_000;

/// The header naming the service a deployment-wide admin acts in.
pub const SERVICE_HEADER: &str = "x-noriai-service";

/// How long the list of services is trusted before it is read again.
const SERVICES_TTL: Duration = Duration::from_secs(5);

/// The caller of one request, as the auth layer found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: i64,
    pub role: Role,
    pub scope: Scope,
    /// The token's own service; `None` for a deployment-wide admin.
    pub home: Option<i64>,
    /// The service this call acts in: the token's own, or the one a
    /// deployment-wide admin named (or the only one there is).
    pub acting_in: Option<i64>,
    /// The RPC called, as in [`RULES`].
    pub rpc: &'static str,
}

impl Caller {
    /// The caller the auth layer put on the request. Missing only if the
    /// layer was left out, which is our bug.
    pub fn of<T>(req: &tonic::Request<T>) -> Result<Caller, Status> {
        req.extensions().get::<Caller>().cloned().ok_or_else(|| {
            tracing::error!("a request reached a handler without passing the auth layer");
            Status::internal("the request was not authenticated")
        })
    }

    fn denied(&self, what: impl std::fmt::Display) -> Status {
        Status::permission_denied(format!("a {} token {what}", self.role))
    }

    /// The service this call acts in.
    pub fn service(&self) -> Result<i64, Status> {
        self.acting_in.ok_or_else(|| {
            Status::invalid_argument(format!(
                "{SERVICE_HEADER}: this admin token acts in every service; name the service of this \
                 call in the `{SERVICE_HEADER}` header (AccountService.ListServices lists them)"
            ))
        })
    }

    /// Whether this token acts in every service.
    pub fn deployment_wide(&self) -> bool {
        self.home.is_none()
    }

    /// Deployment-wide admins manage every service (`None`: the deployment
    /// itself); other admins their own only.
    pub fn may_manage(&self, service: Option<i64>) -> Result<(), Status> {
        match (self.home, service) {
            (None, _) => Ok(()),
            (Some(own), Some(other)) if own == other => Ok(()),
            (Some(own), Some(other)) => {
                Err(self.denied(format!("of service {own} cannot manage service {other}")))
            }
            (Some(own), None) => {
                Err(self.denied(format!("of service {own} cannot manage the whole deployment")))
            }
        }
    }

    /// Riders see only themselves.
    pub fn may_see_rider(&self, rider_id: i64) -> Result<(), Status> {
        match self.scope {
            Scope::Rider(own) if own != rider_id => {
                Err(self.denied(format!("of rider {own} cannot reach rider {rider_id}")))
            }
            _ => Ok(()),
        }
    }

    /// Drivers see only their own vehicle.
    pub fn may_see_vehicle(&self, vehicle_id: i64) -> Result<(), Status> {
        match self.scope {
            Scope::Vehicle(own) if own != vehicle_id => {
                Err(self.denied(format!("of vehicle {own} cannot reach vehicle {vehicle_id}")))
            }
            _ => Ok(()),
        }
    }

    /// An audit entry of this caller naming nothing yet (the store fills in
    /// the booking it commits with the entry).
    pub fn entry(&self, action: AuditAction) -> AuditEntry {
        AuditEntry {
            id: 0,
            at: now_unix(),
            token_id: self.token_id,
            role: self.role,
            rpc: self.rpc.to_string(),
            action,
            rider_id: None,
            booking_id: None,
        }
    }

    /// Records that this caller read or changed a rider's or a booking's
    /// data. The call fails if the trail cannot be written: personal data is
    /// never handed out unrecorded.
    pub async fn audit(
        &self,
        store: &Store,
        action: AuditAction,
        riders: &[i64],
        bookings: &[i64],
    ) -> Result<(), Status> {
        let entry = |rider_id, booking_id| AuditEntry { rider_id, booking_id, ..self.entry(action) };
        let entries: Vec<AuditEntry> = riders
            .iter()
            .map(|&r| entry(Some(r), None))
            .chain(bookings.iter().map(|&b| entry(None, Some(b))))
            .collect();
        store.append_audit(&entries).await.map_err(crate::errors::store_status)
    }
}

/// A new token secret from the operating system's random source.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{SECRET_PREFIX}{}", hex::encode(bytes)))
}

/// The stored form of a secret: its SHA-256, in hex.
pub fn digest_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates a token and returns its record and its secret, which is shown
/// once and never stored.
pub async fn create_token(store: &Store, token: &TokenRecord) -> Result<(TokenRecord, String), CreateError> {
    create_session(store, token, noriai_store::SessionOf::Nothing).await
}

/// [`create_token`] for a console session opened from a token or a login.
pub async fn create_session(
    store: &Store,
    token: &TokenRecord,
    of: noriai_store::SessionOf,
) -> Result<(TokenRecord, String), CreateError> {
    let secret = new_secret().map_err(|e| CreateError::Random(e.to_string()))?;
    let saved = store.insert_session(&digest_hex(&secret), token, of).await?;
    Ok((saved, secret))
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("the operating system gave no random bytes: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Per-token limits, set by `noriai serve --quota-per-minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessConfig {
    /// Quotes and rider searches one token may make per minute (in bursts
    /// of up to this many).
    pub quota_per_minute: NonZeroU32,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self { quota_per_minute: NonZeroU32::new(300).unwrap_or(NonZeroU32::MIN) }
    }
}

/// Tokens looked up lately, by the SHA-256 of their secret: what was found
/// (`None` for an unknown secret) and when.
type TokenCache = HashMap<[u8; 32], (Option<TokenRecord>, Instant)>;

/// Checks tokens, roles and quotas; shared by every connection.
pub struct Gate {
    store: Store,
    cache: Mutex<TokenCache>,
    /// The service ids, read lately.
    services: Mutex<Option<(Vec<i64>, Instant)>>,
    /// Tokens revoked through this server: refused at once, even when a
    /// lookup that raced the revocation cached them as usable.
    revoked: Mutex<std::collections::HashSet<i64>>,
    quotas: DefaultKeyedRateLimiter<i64>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}

impl Gate {
    pub fn new(store: Store, config: AccessConfig) -> Gate {
        Gate {
            store,
            cache: Mutex::new(HashMap::new()),
            services: Mutex::new(None),
            revoked: Mutex::new(std::collections::HashSet::new()),
            quotas: DefaultKeyedRateLimiter::keyed(Quota::per_minute(config.quota_per_minute)),
        }
    }

    /// Reads the list of services again at the next call (after one was added).
    pub fn services_changed(&self) {
        if let Ok(mut services) = self.services.lock() {
            *services = None;
        }
    }

    /// The only service, while the deployment has exactly one.
    async fn only_service(&self) -> Result<Option<i64>, Status> {
        let now = Instant::now();
        let cached = self.services.lock().ok().and_then(|s| s.clone());
        let ids = match cached {
            Some((ids, at)) if now.duration_since(at) < SERVICES_TTL => ids,
            _ => {
                let ids: Vec<i64> = self
                    .store
                    .list_services()
                    .await
                    .map_err(crate::errors::store_status)?
                    .iter()
                    .map(|s| s.id)
                    .collect();
                if let Ok(mut services) = self.services.lock() {
                    *services = Some((ids.clone(), now));
                }
                ids
            }
        };
        Ok(match ids.as_slice() {
            [only] => Some(*only),
            _ => None,
        })
    }

    /// The service a call acts in: the token's own (a header naming
    /// another is refused), or for a deployment-wide admin the one the
    /// header names, else the only one there is.
    async fn acting_in(&self, token: &TokenRecord, headers: &http::HeaderMap) -> Result<Option<i64>, Status> {
        let named = match headers.get(SERVICE_HEADER) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .filter(|&id| id > 0)
                    .ok_or_else(|| {
                        Status::invalid_argument(format!(
                            "{SERVICE_HEADER}: give a service id, a positive number"
                        ))
                    })?,
            ),
        };
        match (token.service, named) {
            (Some(own), Some(other)) if own != other => Err(Status::permission_denied(format!(
                "this token acts in service {own} only, not in service {other}"
            ))),
            (Some(own), _) => Ok(Some(own)),
            (None, Some(named)) => Ok(Some(named)),
            (None, None) => self.only_service().await,
        }
    }

    /// Refuses a token from now on (after it was revoked in the store).
    pub fn revoked(&self, token_id: i64) {
        if let Ok(mut revoked) = self.revoked.lock() {
            revoked.insert(token_id);
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, (t, _)| t.as_ref().is_none_or(|t| t.id != token_id));
        }
    }

    /// Lets a request in (`Some(caller)`), lets it pass unauthenticated
    /// (`None`, for health and reflection), or refuses it.
    pub async fn admit(&self, path: &str, headers: &http::HeaderMap) -> Result<Option<Caller>, Status> {
        let path = path.trim_start_matches('/');
        if OPEN_PREFIXES.iter().any(|p| path.starts_with(p)) {
            return Ok(None);
        }
        let token = self.authenticate(headers).await?;
        let Some(&(rpc, roles)) = RULES.iter().find(|(rpc, _)| *rpc == path) else {
            return Err(Status::permission_denied(format!(
                "`{}` has no access rule, so no role may call it",
                noriai_model::excerpt(path)
            )));
        };
        let method = rpc.rsplit('/').next().unwrap_or(rpc);
        if !roles.contains(&token.role) {
            let allowed: Vec<&str> = roles.iter().map(|r| r.name()).collect();
            return Err(Status::permission_denied(format!(
                "role `{}` may not call {method}; it needs the role {}",
                token.role,
                allowed.join(" or ")
            )));
        }
        if METERED.contains(&rpc)
            && let Err(not_until) = self.quotas.check_key(&token.id)
        {
            let wait = not_until
                .wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            let mut status = Status::resource_exhausted(format!(
                "this token made too many quotes, journeys and rider searches; try again in {} s",
                wait.as_secs() + 1
            ));
            if let Ok(v) = wait.as_millis().to_string().parse() {
                status.metadata_mut().insert("retry-after-ms", v);
            }
            return Err(status);
        }
        let acting_in = self.acting_in(&token, headers).await?;
        Ok(Some(Caller {
            token_id: token.id,
            role: token.role,
            scope: token.scope,
            home: token.service,
            acting_in,
            rpc,
        }))
    }

    /// The usable token a request's `authorization` header carries.
    pub(crate) async fn authenticate(&self, headers: &http::HeaderMap) -> Result<TokenRecord, Status> {
        let unauthenticated = |why: &str| Status::unauthenticated(why.to_string());
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err(unauthenticated(
                "no token: send `authorization: Bearer <token>` (an admin's is in DATA_DIR/admin.token)",
            ));
        };
        let secret = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|s| well_formed(s))
            .ok_or_else(|| {
                unauthenticated("malformed token: expected `authorization: Bearer noriai_` and 64 hex digits")
            })?;
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let now = Instant::now();
        let cached = self.cache.lock().ok().and_then(|c| c.get(&digest).cloned());
        let token = match cached {
            Some((token, at)) if now.duration_since(at) < CACHE_TTL => token,
            _ => {
                let found = self.store.token_by_digest(&hex::encode(digest)).await.map_err(|e| match e {
                    StoreError::Database(db) if noriai_store::is_unreachable(&db) => Status::unavailable(
                        "cannot check the token: the database is not available; try again shortly",
                    ),
                    other => crate::errors::store_status(other),
                })?;
                // Compare the whole digest in constant time, whatever the
                // database's own comparison did.
                let token = found.and_then(|(token, stored)| {
                    let stored = hex::decode(stored).ok()?;
                    bool::from(stored.ct_eq(&digest)).then_some(token)
                });
                if let Ok(mut cache) = self.cache.lock() {
                    if cache.len() >= CACHE_MAX {
                        cache.clear();
                    }
                    cache.insert(digest, (token.clone(), now));
                }
                token
            }
        };
        let token = token.ok_or_else(|| unauthenticated("unknown token: it was never issued here"))?;
        if self.revoked.lock().is_ok_and(|r| r.contains(&token.id)) {
            return Err(unauthenticated(&format!("token {} was revoked", token.id)));
        }
        match token.usable_at(now_unix()) {
            Ok(()) => Ok(token),
            Err(TokenUnusable::Revoked) => Err(unauthenticated(&format!("token {} was revoked", token.id))),
            Err(TokenUnusable::Expired) => {
                Err(unauthenticated(&format!("token {} has expired; ask an admin for a new one", token.id)))
            }
        }
    }
}

fn well_formed(secret: &str) -> bool {
    secret
        .strip_prefix(SECRET_PREFIX)
        .is_some_and(|hex| hex.len() == 2 * SECRET_BYTES && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The tower layer that puts a [`Gate`] in front of the gRPC services.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    pub gate: Arc<Gate>,
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService { inner, gate: self.gate.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    gate: Arc<Gate>,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The service that was polled ready serves this request; a fresh
        // clone stays behind for the next one.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let gate = self.gate.clone();
        Box::pin(async move {
            // The console admits each of its calls itself, by the same rules.
            if crate::web::serves(req.uri().path()) {
                return inner.call(req).await;
            }
            match gate.admit(req.uri().path(), req.headers()).await {
                Ok(caller) => {
                    if let Some(caller) = caller {
                        req.extensions_mut().insert(caller);
                    }
                    inner.call(req).await
                }
                // Plain HTTP routes get plain HTTP answers.
                Err(status) if req.uri().path().starts_with("/gtfs-rt/") => Ok(http_refusal(&status)),
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

/// A refusal as an HTTP client reads it: 401, 403 or 429 with the reason as text.
fn http_refusal(status: &Status) -> http::Response<tonic::body::Body> {
    let code = match status.code() {
        tonic::Code::Unauthenticated => http::StatusCode::UNAUTHORIZED,
        tonic::Code::ResourceExhausted => http::StatusCode::TOO_MANY_REQUESTS,
        tonic::Code::InvalidArgument => http::StatusCode::BAD_REQUEST,
        tonic::Code::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
        _ => http::StatusCode::FORBIDDEN,
    };
    let mut response = http::Response::new(tonic::body::Body::new(axum::body::Body::from(format!(
        "{}\n",
        status.message()
    ))));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_well_formed() {
        let (a, b) = (new_secret().expect("random"), new_secret().expect("random"));
        assert_ne!(a, b);
        assert!(well_formed(&a) && well_formed(&b), "{a}");
        assert_eq!(a.len(), SECRET_PREFIX.len() + 64);
        assert!(!well_formed(&a[..a.len() - 1]) && !well_formed("noriai_zz"));
        assert_eq!(digest_hex(&a).len(), 64);
        assert_ne!(digest_hex(&a), digest_hex(&b));
    }

    #[test]
    fn every_rule_names_a_method_once() {
        for (i, (rpc, roles)) in RULES.iter().enumerate() {
            assert!(
                rpc.starts_with("noriai.v1.") || rpc.starts_with("gtfs-rt/") || rpc.starts_with("console/"),
                "{rpc}"
            );
            assert!(rpc.contains('/'), "{rpc}");
            assert!(!roles.is_empty(), "{rpc} allows nobody");
            assert!(RULES[i + 1..].iter().all(|(other, _)| other != rpc), "{rpc} twice");
        }
    }

    #[test]
    fn scope_checks_bind_drivers_and_riders() {
        let caller =
            |role, scope| Caller { token_id: 1, role, scope, home: Some(1), acting_in: Some(1), rpc: "x" };
        let driver = caller(Driver, Scope::Vehicle(3));
        assert!(driver.may_see_vehicle(3).is_ok());
        assert_eq!(driver.may_see_vehicle(4).expect_err("other").code(), tonic::Code::PermissionDenied);
        let rider = caller(Rider, Scope::Rider(9));
        assert!(rider.may_see_rider(9).is_ok() && rider.may_see_rider(8).is_err());
        let operator = caller(Operator, Scope::Service);
        assert!(operator.may_see_rider(8).is_ok() && operator.may_see_vehicle(4).is_ok());
    }

    #[test]
    fn only_deployment_admins_manage_other_services() {
        let town_admin = Caller {
            token_id: 1,
            role: Admin,
            scope: Scope::Service,
            home: Some(2),
            acting_in: Some(2),
            rpc: "x",
        };
        assert!(town_admin.may_manage(Some(2)).is_ok());
        assert_eq!(town_admin.may_manage(Some(3)).expect_err("other").code(), tonic::Code::PermissionDenied);
        assert!(town_admin.may_manage(None).is_err());
        let wide = Caller { home: None, acting_in: None, ..town_admin };
        assert!(wide.may_manage(Some(3)).is_ok() && wide.may_manage(None).is_ok());
        assert_eq!(wide.service().expect_err("none named").code(), tonic::Code::InvalidArgument);
    }
}
