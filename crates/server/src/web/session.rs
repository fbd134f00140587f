//! Console sessions. Logging in (with a token, or a login's name and
//! password) creates a short-lived token with the same role and scope and
//! puts its secret in an HttpOnly, SameSite=Strict cookie; every API call
//! then goes through the gate like a gRPC call carrying that token. Calls
//! that change something must also carry `x-noriai-console: 1`, which a
//! page on another site cannot send without this server's consent.

use super::{ApiError, Web};
use crate::auth::{self, SERVICE_HEADER};
use crate::now_unix;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota};
use noriai_model::access::{Role, TokenRecord};
use noriai_store::SessionOf;
use std::num::NonZeroU32;
use std::sync::Arc;

/// The cookie holding the session token's secret.
pub const SESSION_COOKIE: &str = "noriai_session";
/// The header every state-changing call must carry.
pub const CONSOLE_HEADER: &str = "x-noriai-console";
/// A session lasts an operator's working day.
const SESSION_S: i64 = 12 * 3600;
/// Password attempts per login name per minute.
const ATTEMPTS_PER_MINUTE: u32 = 5;
/// The shortest password a login may have.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest name or password read (argon2 hashes any length; a huge one
/// would only cost time).
const MAX_CREDENTIAL_CHARS: usize = 200;

/// The argon2id hash (PHC string) of a password, with a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::PasswordHasher;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no random salt: {e}"))?;
    let salt = argon2::password_hash::SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the stored hash (constant time in argon2).
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::password_hash::PasswordHash::new(hash)
        .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash of nothing anyone can type, checked for unknown names so a
/// wrong name takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("\u{0}no login has this password").unwrap_or_default())
}

/// Password checks running at once: each takes argon2's 19 MiB and tens
/// of milliseconds, so a flood of logins waits here instead of exhausting
/// memory and the blocking threads.
const CONCURRENT_CHECKS: usize = 2;
/// How long a login waits for a free check before it is told to retry.
const CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// Names remembered by the per-name limit before forgotten ones are dropped.
const REMEMBERED_NAMES: usize = 10_000;

/// Password attempts: limited per login name, and checked a few at a time.
pub(super) struct LoginLimits {
    per_name: DefaultKeyedRateLimiter<String>,
    checks: tokio::sync::Semaphore,
}

impl LoginLimits {
    pub(super) fn new() -> LoginLimits {
        let quota = Quota::per_minute(NonZeroU32::new(ATTEMPTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN));
        LoginLimits {
            per_name: DefaultKeyedRateLimiter::keyed(quota),
            checks: tokio::sync::Semaphore::new(CONCURRENT_CHECKS),
        }
    }

    fn admit(&self, name: &str) -> bool {
        if self.per_name.len() > REMEMBERED_NAMES {
            self.per_name.retain_recent();
        }
        self.per_name.check_key(&name.to_lowercase()).is_ok()
    }
}

/// The session of one API call: its token's secret and, for an admin of
/// every service, the service named by the page.
#[derive(Debug)]
pub struct Session {
    secret: String,
    service: Option<HeaderValue>,
}

impl Session {
    /// Headers as a gRPC call with this session's token would carry them.
    pub fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", self.secret)) {
            h.insert(header::AUTHORIZATION, v);
        }
        if let Some(service) = &self.service {
            h.insert(SERVICE_HEADER, service.clone());
        }
        h
    }
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Refuses a state-changing call that a page of another site could have
/// made: it must carry the console header, and its origin (if the browser
/// sent one) must be this server.
fn same_site(parts: &Parts) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return Ok(());
    }
    if parts.headers.get(CONSOLE_HEADER).and_then(|v| v.to_str().ok()) != Some("1") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_denied",
            format!("a call that changes something must carry `{CONSOLE_HEADER}: 1`"),
        ));
    }
    if let Some(origin) = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // HTTP/2 carries the host as the URI's authority, HTTP/1.1 as `Host`.
        let host = parts
            .uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()))
            .unwrap_or("");
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if !origin_host.eq_ignore_ascii_case(host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_denied",
                "this call came from a page of another site",
            ));
        }
    }
    Ok(())
}

impl FromRequestParts<Arc<Web>> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &Arc<Web>) -> Result<Session, ApiError> {
        same_site(parts)?;
        let secret = cookie_value(&parts.headers, SESSION_COOKIE)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "log in first"))?;
        Ok(Session { secret: secret.to_string(), service: parts.headers.get(SERVICE_HEADER).cloned() })
    }
}

/// How to log in: a token, or a login's name and password.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogIn {
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// Who is logged in, for the page to choose its screens.
#[derive(Debug, serde::Serialize)]
pub struct Who {
    role: Role,
    vehicle_id: Option<i64>,
    service_id: Option<i64>,
    /// How long a driver waits at a pickup before a no-show may be reported.
    no_show_wait_minutes: i64,
}

/// `POST /api/v1/session`: checks the token or the password and sets the cookie.
pub async fn log_in(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    body: Result<Json<LogIn>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let unauthenticated = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", m);
    if headers.get(CONSOLE_HEADER).and_then(|v| v.to_str().ok()) != Some("1") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_denied",
            format!("logging in must carry `{CONSOLE_HEADER}: 1`"),
        ));
    }
    let now = now_unix();
    let (source, of, role, scope, service, expires_at) = if !body.token.trim().is_empty() {
        let mut h = HeaderMap::new();
        let bearer = HeaderValue::from_str(&format!("Bearer {}", body.token.trim()))
            .map_err(|_| unauthenticated("malformed token"))?;
        h.insert(header::AUTHORIZATION, bearer);
        let token: TokenRecord = web.gate.authenticate(&h).await?;
        if token.role == Role::Rider {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "permission_denied", "riders have no console"));
        }
        let expires = token.expires_at.map_or(now + SESSION_S, |t| t.min(now + SESSION_S));
        let name = format!("console session (token {})", token.id);
        (name, SessionOf::Token(token.id), token.role, token.scope, token.service, expires)
    } else {
        let name = body.name.trim();
        if name.is_empty() || body.password.is_empty() {
            return Err(ApiError::invalid("name", "give a token, or a name and a password"));
        }
        if name.chars().count() > MAX_CREDENTIAL_CHARS || body.password.chars().count() > MAX_CREDENTIAL_CHARS
        {
            return Err(unauthenticated("wrong name or password"));
        }
        if !web.logins.admit(name) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "resource_exhausted",
                "too many attempts for this name; wait a minute",
            ));
        }
        let found = web.store.login_by_name(name).await.map_err(crate::errors::store_status)?;
        let password = body.password.clone();
        let hash = found.as_ref().map_or_else(|| decoy_hash().to_string(), |(_, h)| h.clone());
        let busy = || {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "resource_exhausted",
                "many logins at once; try again",
            )
        };
        let _check = match tokio::time::timeout(CHECK_WAIT, web.logins.checks.acquire()).await {
            Ok(Ok(permit)) => permit,
            _ => return Err(busy()),
        };
        let matches =
            tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
        let login = match found {
            Some((login, _)) if matches && login.disabled_at.is_none() => login,
            _ => {
                tracing::info!("a console login was refused");
                return Err(unauthenticated("wrong name or password"));
            }
        };
        let name = login_session_name(&login.name);
        (name, SessionOf::Login(login.id), login.role, login.scope, login.service, now + SESSION_S)
    };
    let record = TokenRecord {
        id: 0,
        role,
        scope,
        service,
        name: source,
        created_at: now,
        expires_at: Some(expires_at),
        revoked_at: None,
    };
    let (token, secret) = auth::create_session(&web.store, &record, of).await.map_err(|e| match e {
        auth::CreateError::Random(m) => tonic::Status::internal(m),
        auth::CreateError::Store(s) => crate::errors::store_status(s),
    })?;
    tracing::info!(session = token.id, role = %role, "console session opened");
    let secure = if web.secure_cookie { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        expires_at - now
    );
    let who = Who {
        role,
        vehicle_id: scope.vehicle(),
        service_id: service,
        no_show_wait_minutes: web.no_show_wait_s / 60,
    };
    let mut response = Json(who).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `GET /api/v1/session`: who the cookie belongs to (401 without one).
pub async fn who(State(web): State<Arc<Web>>, session: Session) -> Result<Json<Who>, ApiError> {
    let caller = super::admit(&session, &web, SESSION_RULE).await?;
    Ok(Json(Who {
        role: caller.role,
        vehicle_id: caller.scope.vehicle(),
        service_id: caller.acting_in,
        no_show_wait_minutes: web.no_show_wait_s / 60,
    }))
}

/// `DELETE /api/v1/session`: revokes the session's token and clears the cookie.
pub async fn log_out(State(web): State<Arc<Web>>, session: Session) -> Result<Response, ApiError> {
    let caller = super::admit(&session, &web, SESSION_RULE).await?;
    web.store.revoke_token(caller.token_id, None, now_unix()).await.map_err(crate::errors::store_status)?;
    web.gate.revoked(caller.token_id);
    let mut response = StatusCode::NO_CONTENT.into_response();
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// The name of a login's session tokens, as token lists show it.
pub fn login_session_name(login: &str) -> String {
    format!("console session (login {login})")
}

/// The rule of the session calls themselves (in [`auth::RULES`]).
pub const SESSION_RULE: &str = "console/session";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterx", &hash));
        assert!(!verify_password("", &hash));
        assert!(!verify_password("correct horse battery", "not a hash"));
        // A fresh salt each time.
        assert_ne!(hash, hash_password("correct horse battery").expect("hash"));
    }

    fn parts(method: Method, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = axum::http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn changes_need_the_console_header_and_this_origin() {
        let ok = [(CONSOLE_HEADER, "1"), ("origin", "https://ops.example.jp:8443")];
        // HTTP/2 (TLS): the host is the URI's authority, there is no Host header.
        assert!(same_site(&parts(Method::POST, "https://ops.example.jp:8443/api/v1/quotes", &ok)).is_ok());
        // HTTP/1.1: the Host header.
        let h1 = [(CONSOLE_HEADER, "1"), ("origin", "http://127.0.0.1:50051"), ("host", "127.0.0.1:50051")];
        assert!(same_site(&parts(Method::POST, "/api/v1/quotes", &h1)).is_ok());
        let other = [(CONSOLE_HEADER, "1"), ("origin", "https://evil.example"), ("host", "127.0.0.1:50051")];
        assert!(same_site(&parts(Method::POST, "/api/v1/quotes", &other)).is_err());
        let bare = [("host", "127.0.0.1:50051")];
        assert!(same_site(&parts(Method::DELETE, "/api/v1/session", &bare)).is_err());
        assert!(same_site(&parts(Method::GET, "/api/v1/riders", &bare)).is_ok(), "reads need no header");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; noriai_session=abc; b=2"));
        assert_eq!(cookie_value(&h, SESSION_COOKIE), Some("abc"));
        h.insert(header::COOKIE, HeaderValue::from_static("noriai_sessionx=abc"));
        assert_eq!(cookie_value(&h, SESSION_COOKIE), None);
    }
}
