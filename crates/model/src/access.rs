//! Who may do what: the roles a token carries, what a token is scoped to,
//! and the audit trail's entries. Plain data; the rules live in the server.

use serde::{Deserialize, Serialize};

/// What a token's holder is. Each role sees only what its work needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Creates tokens, reads the audit trail, answers APPI requests; sees everything.
    Admin,
    /// The phone operator: books and manages riders.
    Operator,
    /// One vehicle: its plan and, of riders, what the driver needs today.
    Driver,
    /// Fleet, area and aggregate figures; no personal data.
    Planner,
    /// One rider: their own profile and bookings.
    Rider,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Admin, Role::Operator, Role::Driver, Role::Planner, Role::Rider];

    /// The stored and typed name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Driver => "driver",
            Role::Planner => "planner",
            Role::Rider => "rider",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a token may act on, besides what its role allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// The whole service (admins, operators, planners).
    Service,
    /// One vehicle (drivers).
    Vehicle(i64),
    /// One rider (riders).
    Rider(i64),
}

impl Scope {
    /// The scope a role needs: a driver names a vehicle, a rider a rider,
    /// the others none. Explains what is missing or extra otherwise.
    pub fn for_role(role: Role, vehicle: Option<i64>, rider: Option<i64>) -> Result<Scope, String> {
        match (role, vehicle, rider) {
            (Role::Driver, Some(v), None) => Ok(Scope::Vehicle(v)),
            (Role::Driver, None, _) => Err("a driver token needs the vehicle it drives".into()),
            (Role::Rider, None, Some(r)) => Ok(Scope::Rider(r)),
            (Role::Rider, _, None) => Err("a rider token needs the rider it belongs to".into()),
            (Role::Admin | Role::Operator | Role::Planner, None, None) => Ok(Scope::Service),
            (role, _, _) => Err(format!(
                "a {role} token takes no vehicle or rider; only driver (vehicle) and rider (rider) tokens do"
            )),
        }
    }

    pub fn vehicle(self) -> Option<i64> {
        match self {
            Scope::Vehicle(v) => Some(v),
            _ => None,
        }
    }

    pub fn rider(self) -> Option<i64> {
        match self {
            Scope::Rider(r) => Some(r),
            _ => None,
        }
    }
}

/// A stored token, without its secret. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: i64,
    pub role: Role,
    pub scope: Scope,
    /// The service it acts in; `None` only for an admin of the whole
    /// deployment (every service).
    pub service: Option<i64>,
    /// Who holds it, for people reading the list ("Sato, morning shift").
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Why a token does not let its holder in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUnusable {
    Revoked,
    Expired,
}

impl TokenRecord {
    /// Whether the token lets its holder in at `now`.
    pub fn usable_at(&self, now: i64) -> Result<(), TokenUnusable> {
        if self.revoked_at.is_some_and(|t| t <= now) {
            return Err(TokenUnusable::Revoked);
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            return Err(TokenUnusable::Expired);
        }
        Ok(())
    }
}

/// A console login: a person's name and password (kept as an argon2 hash by
/// the store) that opens a session with this role and scope. Riders do not
/// log in to the console. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRecord {
    pub id: i64,
    /// What the person types, e.g. "sato".
    pub name: String,
    pub role: Role,
    pub scope: Scope,
    /// The service it acts in; `None` only for an admin of every service.
    pub service: Option<i64>,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

/// Whether an access read or changed personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    Read,
    Change,
}

impl AuditAction {
    pub fn name(self) -> &'static str {
        match self {
            AuditAction::Read => "read",
            AuditAction::Change => "change",
        }
    }

    pub fn from_name(name: &str) -> Option<AuditAction> {
        [AuditAction::Read, AuditAction::Change].into_iter().find(|a| a.name() == name)
    }
}

/// One line of the audit trail: who (token and role) read or changed which
/// rider or booking, when (Unix seconds), through which call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub token_id: i64,
    pub role: Role,
    pub rpc: String,
    pub action: AuditAction,
    pub rider_id: Option<i64>,
    pub booking_id: Option<i64>,
}
