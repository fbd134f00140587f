//! AccountService: services (municipalities), tokens, the audit trail, and
//! riders' requests under APPI (export, erasure). The same functions serve
//! `noriai service`, `noriai token`, `noriai audit` and `noriai rider` on
//! the command line.

use crate::auth::{self, Caller, Gate};
use crate::convert::{self, invalid};
use crate::errors::store_status;
use crate::now_unix;
use crate::pb;
use crate::pb::account_service_server::AccountService;
use crate::towns::Towns;
use noriai_model::access::{AuditAction, AuditEntry, LoginRecord, Role, Scope, TokenRecord};
use noriai_model::service::{BookingRules, ServiceDay, TownService, local_hhmm};
use noriai_store::{Store, StoreError};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// What a new token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub role: Role,
    /// The service it acts in; `None`: an admin of every service.
    pub service: Option<i64>,
    pub vehicle: Option<i64>,
    pub rider: Option<i64>,
    pub name: String,
    pub expires_days: Option<u32>,
}

/// Why an account command failed, in words the admin can act on.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Create(#[from] auth::CreateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccountError> for Status {
    fn from(e: AccountError) -> Status {
        match e {
            AccountError::Invalid(m) => Status::invalid_argument(m),
            AccountError::Create(auth::CreateError::Random(m)) => Status::internal(m),
            AccountError::Create(auth::CreateError::Store(s)) | AccountError::Store(s) => store_status(s),
        }
    }
}

/// Creates a token; returns its record and the secret to hand over once.
pub async fn create_token(store: &Store, new: &NewToken) -> Result<(TokenRecord, String), AccountError> {
    let scope = Scope::for_role(new.role, new.vehicle, new.rider).map_err(AccountError::Invalid)?;
    if new.service.is_none() && new.role != Role::Admin {
        return Err(AccountError::Invalid(format!(
            "service_id: a {} token acts in one service; name it",
            new.role
        )));
    }
    let now = now_unix();
    let expires_at = match new.expires_days {
        Some(0) | None => None,
        Some(days) if days > 3650 => {
            return Err(AccountError::Invalid("expires_days: at most 3650 (ten years)".into()));
        }
        Some(days) => Some(now + i64::from(days) * 86_400),
    };
    if new.name.chars().any(char::is_control) || new.name.chars().count() > 200 {
        return Err(AccountError::Invalid("name: plain text of at most 200 characters".into()));
    }
    let record = TokenRecord {
        id: 0,
        role: new.role,
        scope,
        service: new.service,
        name: new.name.clone(),
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    Ok(auth::create_token(store, &record).await?)
}

/// A console login to create: who, with what password, as which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogin {
    pub name: String,
    pub password: String,
    pub role: Role,
    pub service: Option<i64>,
    pub vehicle: Option<i64>,
}

/// Creates a console login; its password is kept only as an argon2 hash.
pub async fn create_login(store: &Store, new: &NewLogin) -> Result<LoginRecord, AccountError> {
    let name = new.name.trim();
    let plain = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@');
    if name.is_empty() || name.chars().count() > 64 || !name.chars().all(plain) {
        return Err(AccountError::Invalid("name: 1 to 64 letters, digits, `.`, `-`, `_` or `@`".into()));
    }
    if new.password.chars().count() < crate::web::MIN_PASSWORD_CHARS || new.password.chars().count() > 200 {
        return Err(AccountError::Invalid(format!(
            "password: {} to 200 characters",
            crate::web::MIN_PASSWORD_CHARS
        )));
    }
    if new.role == Role::Rider {
        return Err(AccountError::Invalid("role: riders do not log in to the console".into()));
    }
    let scope = Scope::for_role(new.role, new.vehicle, None).map_err(AccountError::Invalid)?;
    if new.service.is_none() && new.role != Role::Admin {
        return Err(AccountError::Invalid(format!(
            "service_id: a {} login acts in one service; name it",
            new.role
        )));
    }
    let password = new.password.clone();
    let hash = tokio::task::spawn_blocking(move || crate::web::hash_password(&password))
        .await
        .map_err(|e| AccountError::Invalid(format!("hashing the password failed: {e}")))?
        .map_err(|e| AccountError::Invalid(format!("hashing the password failed: {e}")))?;
    let record = LoginRecord {
        id: 0,
        name: name.to_string(),
        role: new.role,
        scope,
        service: new.service,
        created_at: now_unix(),
        disabled_at: None,
    };
    Ok(store.insert_login(&record, &hash).await?)
}

/// One rider's data as JSON: the profile, every booking (cancelled ones too,
/// with the reasons given) and the audit entries about them.
pub async fn export_rider(store: &Store, rider_id: i64) -> Result<serde_json::Value, StoreError> {
    let rider = store.get_rider(rider_id).await?;
    let bookings = store.list_bookings(Some(rider_id), None, true).await?;
    let mut reasons = serde_json::Map::new();
    for b in &bookings {
        if let Some(reason) = store.cancel_reason(b.id).await? {
            reasons.insert(b.id.to_string(), reason.into());
        }
    }
    let audit = store.audit_of_rider(rider_id, 100_000).await?;
    Ok(serde_json::json!({ "rider": rider, "bookings": bookings, "cancel_reasons": reasons, "audit": audit }))
}

fn role_to_pb(role: Role) -> pb::Role {
    match role {
        Role::Admin => pb::Role::Admin,
        Role::Operator => pb::Role::Operator,
        Role::Driver => pb::Role::Driver,
        Role::Planner => pb::Role::Planner,
        Role::Rider => pb::Role::Rider,
    }
}

fn role_from_pb(role: i32) -> Result<Role, Status> {
    match pb::Role::try_from(role) {
        Ok(pb::Role::Admin) => Ok(Role::Admin),
        Ok(pb::Role::Operator) => Ok(Role::Operator),
        Ok(pb::Role::Driver) => Ok(Role::Driver),
        Ok(pb::Role::Planner) => Ok(Role::Planner),
        Ok(pb::Role::Rider) => Ok(Role::Rider),
        Ok(pb::Role::Unspecified) | Err(_) => Err(invalid(
            "role",
            "give one of ROLE_ADMIN, ROLE_OPERATOR, ROLE_DRIVER, ROLE_PLANNER, ROLE_RIDER",
        )),
    }
}

pub fn token_to_pb(t: &TokenRecord) -> pb::Token {
    pb::Token {
        id: t.id,
        role: role_to_pb(t.role) as i32,
        vehicle_id: t.scope.vehicle().unwrap_or(0),
        rider_id: t.scope.rider().unwrap_or(0),
        name: t.name.clone(),
        created_at: convert::timestamp(t.created_at),
        expires_at: t.expires_at.and_then(convert::timestamp),
        revoked_at: t.revoked_at.and_then(convert::timestamp),
        service_id: t.service.unwrap_or(0),
    }
}

/// Creates a service after checking its texts and rules.
pub async fn create_service(
    root: &Store,
    name: &str,
    name_kana: &str,
    operator_phone: &str,
    rules: BookingRules,
    fare_yen: u32,
) -> Result<TownService, Status> {
    if let Some((field, range)) = rules.out_of_range() {
        return Err(invalid(&format!("rules.{field}"), format!("must be in {range}")));
    }
    if fare_yen > TownService::MAX_FARE_YEN {
        return Err(invalid("fare_yen", format!("must be at most {}", TownService::MAX_FARE_YEN)));
    }
    let service = TownService {
        id: 0,
        name: convert::required_text("name", name)?,
        name_kana: convert::reading("name_kana", name_kana)?,
        // The phone may follow later, when the town has set up its line.
        operator_phone: match operator_phone.trim() {
            "" => String::new(),
            phone => convert::phone("operator_phone", phone)?,
        },
        created_at: now_unix(),
        rules,
        fare_yen,
    };
    root.insert_service(&service).await.map_err(store_status)
}

pub fn service_to_pb(s: &TownService) -> pb::Service {
    pb::Service {
        id: s.id,
        name: s.name.clone(),
        name_kana: s.name_kana.clone(),
        operator_phone: s.operator_phone.clone(),
        created_at: convert::timestamp(s.created_at),
        rules: Some(pb::BookingRules {
            book_days_ahead: s.rules.book_days_ahead,
            cutoff_minutes: s.rules.cutoff_minutes,
            prebooking_window_minutes: s.rules.prebooking_window_minutes,
        }),
        fare_yen: s.fare_yen,
    }
}

/// "2026-12-01 09:30:12" in Asia/Tokyo.
pub fn local_date_time(unix: i64) -> String {
    let day = ServiceDay::of_unix(unix);
    format!("{day} {}:{:02}", local_hhmm(unix), (unix - day.midnight_unix()).rem_euclid(60))
}

fn audit_to_pb(e: &AuditEntry) -> pb::AuditEntry {
    pb::AuditEntry {
        id: e.id,
        at: convert::timestamp(e.at),
        at_local: local_date_time(e.at),
        token_id: e.token_id,
        role: role_to_pb(e.role) as i32,
        rpc: e.rpc.clone(),
        action: e.action.name().to_string(),
        rider_id: e.rider_id.unwrap_or(0),
        booking_id: e.booking_id.unwrap_or(0),
    }
}

pub struct Accounts {
    pub towns: Arc<Towns>,
    pub gate: Arc<Gate>,
}

#[tonic::async_trait]
impl AccountService for Accounts {
    async fn create_service(
        &self,
        req: Request<pb::CreateServiceRequest>,
    ) -> Result<Response<pb::Service>, Status> {
        let caller = Caller::of(&req)?;
        caller.may_manage(None)?;
        let r = req.into_inner();
        let rules = match r.rules {
            None => BookingRules::default(),
            Some(rules) => BookingRules {
                book_days_ahead: rules.book_days_ahead,
                cutoff_minutes: rules.cutoff_minutes,
                prebooking_window_minutes: rules.prebooking_window_minutes,
            },
        };
        let service =
            create_service(self.towns.root(), &r.name, &r.name_kana, &r.operator_phone, rules, r.fare_yen)
                .await?;
        self.gate.services_changed();
        self.towns.of_id(service.id).await?;
        tracing::info!(service = service.id, "service created");
        Ok(Response::new(service_to_pb(&service)))
    }

    async fn list_services(
        &self,
        req: Request<pb::ListServicesRequest>,
    ) -> Result<Response<pb::ListServicesResponse>, Status> {
        let caller = Caller::of(&req)?;
        let root = self.towns.root();
        let services = match caller.home {
            None => root.list_services().await.map_err(store_status)?,
            Some(own) => vec![root.get_service(own).await.map_err(store_status)?],
        };
        Ok(Response::new(pb::ListServicesResponse { services: services.iter().map(service_to_pb).collect() }))
    }

    async fn create_token(
        &self,
        req: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        let caller = Caller::of(&req)?;
        let r = req.into_inner();
        let role = role_from_pb(r.role)?;
        let service = match (r.all_services, r.service_id) {
            (true, 0) if role == Role::Admin => None,
            (true, 0) => return Err(invalid("all_services", "only admin tokens act in every service")),
            (true, _) => return Err(invalid("service_id", "leave it 0 for a token of every service")),
            (false, 0) => Some(caller.service()?),
            (false, id) => Some(id),
        };
        caller.may_manage(service)?;
        let new = NewToken {
            role,
            service,
            vehicle: (r.vehicle_id != 0).then_some(r.vehicle_id),
            rider: (r.rider_id != 0).then_some(r.rider_id),
            name: r.name,
            expires_days: Some(r.expires_days),
        };
        let (token, secret) = create_token(self.towns.root(), &new).await?;
        tracing::info!(token = token.id, role = %token.role, "token created");
        Ok(Response::new(pb::CreateTokenResponse { token: Some(token_to_pb(&token)), secret }))
    }

    async fn list_tokens(
        &self,
        req: Request<pb::ListTokensRequest>,
    ) -> Result<Response<pb::ListTokensResponse>, Status> {
        let caller = Caller::of(&req)?;
        let tokens = self.towns.root().list_tokens(caller.home).await.map_err(store_status)?;
        Ok(Response::new(pb::ListTokensResponse { tokens: tokens.iter().map(token_to_pb).collect() }))
    }

    async fn revoke_token(
        &self,
        req: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::Token>, Status> {
        let caller = Caller::of(&req)?;
        let id = req.into_inner().id;
        let token =
            self.towns.root().revoke_token(id, caller.home, now_unix()).await.map_err(store_status)?;
        self.gate.revoked(id);
        tracing::info!(token = id, "token revoked");
        Ok(Response::new(token_to_pb(&token)))
    }

    async fn audit_log(
        &self,
        req: Request<pb::AuditLogRequest>,
    ) -> Result<Response<pb::AuditLogResponse>, Status> {
        let caller = Caller::of(&req)?;
        let store = self.towns.of(&caller).await?.store.clone();
        let r = req.into_inner();
        let limit = match r.limit {
            0 => 100,
            n => n.min(1000),
        };
        let entries = match r.rider_id {
            0 => store.recent_audit(limit).await,
            id => store.audit_of_rider(id, limit).await,
        }
        .map_err(store_status)?;
        Ok(Response::new(pb::AuditLogResponse { entries: entries.iter().map(audit_to_pb).collect() }))
    }

    async fn export_rider(
        &self,
        req: Request<pb::ExportRiderRequest>,
    ) -> Result<Response<pb::ExportRiderResponse>, Status> {
        let caller = Caller::of(&req)?;
        let store = self.towns.of(&caller).await?.store.clone();
        let id = req.into_inner().rider_id;
        // Recorded first, so the export holds its own entry.
        caller.audit(&store, AuditAction::Read, &[id], &[]).await?;
        let data = export_rider(&store, id).await.map_err(store_status)?;
        Ok(Response::new(pb::ExportRiderResponse { json: data.to_string() }))
    }

    async fn erase_rider(
        &self,
        req: Request<pb::EraseRiderRequest>,
    ) -> Result<Response<pb::EraseRiderResponse>, Status> {
        let caller = Caller::of(&req)?;
        let store = self.towns.of(&caller).await?.store.clone();
        let id = req.into_inner().rider_id;
        // Recorded first: an erasure must never go unrecorded.
        caller.audit(&store, AuditAction::Change, &[id], &[]).await?;
        let today = ServiceDay::of_unix(now_unix());
        let stripped = store.erase_rider(id, today, now_unix()).await.map_err(store_status)?;
        for token in store.list_tokens(Some(store.service())).await.map_err(store_status)? {
            if token.scope == Scope::Rider(id) {
                self.gate.revoked(token.id);
            }
        }
        tracing::info!(rider = id, bookings = stripped, "rider's personal data erased on request");
        Ok(Response::new(pb::EraseRiderResponse { bookings_stripped: stripped as u32 }))
    }
}
