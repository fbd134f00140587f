//! Access tokens (kept as SHA-256 digests of their secrets), the append-only
//! audit trail, and erasing a rider's personal data on request.

use noriai_model::access::{AuditAction, AuditEntry, LoginRecord, Role, Scope, TokenRecord};
use noriai_model::service::ServiceDay;
use sqlx::Row;
use sqlx::any::AnyRow;
use sqlx::error::ErrorKind;

use crate::error::is_violation;
use crate::{Store, StoreError};

macro_rules! token_columns {
    () => {
        "id, role, vehicle_id, rider_id, service_id, name, created_at, expires_at, revoked_at"
    };
}

fn token_from_row(row: &AnyRow) -> Result<TokenRecord, StoreError> {
    let role_name: String = row.try_get("role")?;
    let role = Role::from_name(&role_name)
        .ok_or_else(|| StoreError::Corrupt(format!("token role `{role_name}`")))?;
    let scope = Scope::for_role(role, row.try_get("vehicle_id")?, row.try_get("rider_id")?)
        .map_err(|why| StoreError::Corrupt(format!("token scope: {why}")))?;
    Ok(TokenRecord {
        id: row.try_get("id")?,
        role,
        scope,
        service: row.try_get("service_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn audit_from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let role_name: String = row.try_get("role")?;
    let action_name: String = row.try_get("action")?;
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        token_id: row.try_get("token_id")?,
        role: Role::from_name(&role_name)
            .ok_or_else(|| StoreError::Corrupt(format!("audit role `{role_name}`")))?,
        rpc: row.try_get("rpc")?,
        action: AuditAction::from_name(&action_name)
            .ok_or_else(|| StoreError::Corrupt(format!("audit action `{action_name}`")))?,
        rider_id: row.try_get("rider_id")?,
        booking_id: row.try_get("booking_id")?,
    })
}

/// Appends one audit entry inside the caller's transaction, so a change and
/// its record commit together.
/// `service` is `None` for an entry about the deployment, not one service.
pub(crate) async fn insert_audit(
    conn: &mut sqlx::AnyConnection,
    service: Option<i64>,
    e: &AuditEntry,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit (at, token_id, role, rpc, action, rider_id, booking_id, service_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.at)
    .bind(e.token_id)
    .bind(e.role.name())
    .bind(&e.rpc)
    .bind(e.action.name())
    .bind(e.rider_id)
    .bind(e.booking_id)
    .bind(service)
    .execute(conn)
    .await
    .map(drop)
}

/// Checks inside a write that a token's or login's service exists and that
/// the vehicle or rider of its scope is that service's.
async fn check_holder(
    tx: &mut sqlx::AnyConnection,
    service: Option<i64>,
    scope: Scope,
) -> Result<(), StoreError> {
    if let Some(service) = service {
        let known = sqlx::query("SELECT 1 FROM services WHERE id = $1")
            .bind(service)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !known {
            return Err(StoreError::NotFound { what: "service", id: service });
        }
        let scoped = match scope {
            Scope::Vehicle(id) => {
                Some(("vehicle", "SELECT 1 FROM vehicles WHERE id = $1 AND service_id = $2", id))
            }
            Scope::Rider(id) => Some((
                "rider",
                "SELECT 1 FROM riders WHERE id = $1 AND service_id = $2 AND erased_at IS NULL",
                id,
            )),
            Scope::Service => None,
        };
        if let Some((what, sql, id)) = scoped {
            let found = sqlx::query(sql).bind(id).bind(service).fetch_optional(&mut *tx).await?;
            if found.is_none() {
                return Err(StoreError::NotFound { what, id });
            }
        }
    } else if scope != Scope::Service {
        return Err(StoreError::Invalid("a token scoped to a vehicle or rider needs its service".into()));
    }
    Ok(())
}

/// What a console session was opened from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOf {
    /// Not a session: a token of its own.
    Nothing,
    /// A token pasted into the login form.
    Token(i64),
    /// A login's name and password.
    Login(i64),
}

fn login_from_row(row: &AnyRow) -> Result<LoginRecord, StoreError> {
    let role_name: String = row.try_get("role")?;
    let role = Role::from_name(&role_name)
        .ok_or_else(|| StoreError::Corrupt(format!("login role `{role_name}`")))?;
    let scope = Scope::for_role(role, row.try_get("vehicle_id")?, None)
        .map_err(|why| StoreError::Corrupt(format!("login scope: {why}")))?;
    Ok(LoginRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role,
        scope,
        service: row.try_get("service_id")?,
        created_at: row.try_get("created_at")?,
        disabled_at: row.try_get("disabled_at")?,
    })
}

impl Store {
    /// Stores a new token by the SHA-256 digest of its secret (hex); the
    /// record's `id` is ignored and the stored one returned. Its service
    /// must exist, and a vehicle or rider in its scope must be that
    /// service's.
    pub async fn insert_token(
        &self,
        secret_sha256: &str,
        token: &TokenRecord,
    ) -> Result<TokenRecord, StoreError> {
        self.insert_session(secret_sha256, token, SessionOf::Nothing).await
    }

    /// [`Store::insert_token`] for a console session, which stops being
    /// usable when what it was opened from is revoked or disabled (see
    /// [`Store::token_by_digest`]).
    pub async fn insert_session(
        &self,
        secret_sha256: &str,
        token: &TokenRecord,
        of: SessionOf,
    ) -> Result<TokenRecord, StoreError> {
        let (parent, login) = match of {
            SessionOf::Nothing => (None, None),
            SessionOf::Token(id) => (Some(id), None),
            SessionOf::Login(id) => (None, Some(id)),
        };
        let mut w = self.begin_write().await?;
        check_holder(&mut w.tx, token.service, token.scope).await?;
        let inserted = sqlx::query_scalar(
            "INSERT INTO tokens (secret_sha256, role, vehicle_id, rider_id, name, created_at, expires_at, \
             service_id, parent_id, login_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(secret_sha256)
        .bind(token.role.name())
        .bind(token.scope.vehicle())
        .bind(token.scope.rider())
        .bind(&token.name)
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.service)
        .bind(parent)
        .bind(login)
        .fetch_one(&mut *w.tx)
        .await;
        let id: i64 = match inserted {
            Ok(id) => id,
            Err(e) if is_violation(&e, ErrorKind::ForeignKeyViolation) => {
                return Err(match token.scope {
                    Scope::Vehicle(id) => StoreError::NotFound { what: "vehicle", id },
                    Scope::Rider(id) => StoreError::NotFound { what: "rider", id },
                    Scope::Service => e.into(),
                });
            }
            Err(e) if is_violation(&e, ErrorKind::UniqueViolation) => {
                return Err(StoreError::Duplicate("a token with this secret exists already".into()));
            }
            Err(e) => return Err(e.into()),
        };
        w.tx.commit().await?;
        Ok(TokenRecord { id, revoked_at: None, ..token.clone() })
    }

    /// The token whose secret has this SHA-256 digest (hex), revoked and
    /// expired ones included, with the stored digest. A session counts as
    /// revoked from when its parent token was revoked or its login disabled.
    pub async fn token_by_digest(
        &self,
        secret_sha256: &str,
    ) -> Result<Option<(TokenRecord, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT t.id, t.role, t.vehicle_id, t.rider_id, t.service_id, t.name, t.created_at, t.expires_at, \
             CASE WHEN t.revoked_at IS NOT NULL THEN t.revoked_at \
                  WHEN p.revoked_at IS NOT NULL THEN p.revoked_at \
                  ELSE l.disabled_at END AS revoked_at, \
             t.secret_sha256 FROM tokens t \
             LEFT JOIN tokens p ON p.id = t.parent_id \
             LEFT JOIN console_logins l ON l.id = t.login_id \
             WHERE t.secret_sha256 = $1",
        )
        .bind(secret_sha256)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some((token_from_row(&row)?, row.try_get("secret_sha256")?))),
            None => Ok(None),
        }
    }

    /// The tokens of `service` (`None`: every token), oldest first; never
    /// their secrets.
    pub async fn list_tokens(&self, service: Option<i64>) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM tokens WHERE $1 IS NULL OR service_id = $1 ORDER BY id"
        ))
        .bind(service)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Stores a console login with the argon2 hash of its password; the
    /// record's `id` is ignored and the stored one returned. Names are unique.
    pub async fn insert_login(
        &self,
        login: &LoginRecord,
        password_hash: &str,
    ) -> Result<LoginRecord, StoreError> {
        if login.role == Role::Rider {
            return Err(StoreError::Invalid("riders do not log in to the console".into()));
        }
        let mut w = self.begin_write().await?;
        check_holder(&mut w.tx, login.service, login.scope).await?;
        let inserted = sqlx::query_scalar(
            "INSERT INTO console_logins (name, password_hash, role, vehicle_id, service_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&login.name)
        .bind(password_hash)
        .bind(login.role.name())
        .bind(login.scope.vehicle())
        .bind(login.service)
        .bind(login.created_at)
        .fetch_one(&mut *w.tx)
        .await;
        let id: i64 = match inserted {
            Ok(id) => id,
            Err(e) if is_violation(&e, ErrorKind::UniqueViolation) => {
                return Err(StoreError::Duplicate(format!("a login named `{}` exists already", login.name)));
            }
            Err(e) => return Err(e.into()),
        };
        w.tx.commit().await?;
        Ok(LoginRecord { id, disabled_at: None, ..login.clone() })
    }

    /// The login of this name, disabled ones included, with its password hash.
    pub async fn login_by_name(&self, name: &str) -> Result<Option<(LoginRecord, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, role, vehicle_id, service_id, created_at, disabled_at, password_hash \
             FROM console_logins WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some((login_from_row(&row)?, row.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    /// The logins of `service` (`None`: every login), oldest first; never their hashes.
    pub async fn list_logins(&self, service: Option<i64>) -> Result<Vec<LoginRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, role, vehicle_id, service_id, created_at, disabled_at FROM console_logins \
             WHERE $1 IS NULL OR service_id = $1 ORDER BY id",
        )
        .bind(service)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(login_from_row).collect()
    }

    /// Disables a login of `service` (`None`: any) from `now` on; its open
    /// sessions are tokens and are revoked by the caller.
    pub async fn disable_login(
        &self,
        name: &str,
        service: Option<i64>,
        now: i64,
    ) -> Result<LoginRecord, StoreError> {
        let mut w = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE console_logins SET disabled_at = COALESCE(disabled_at, $2) WHERE name = $1 \
             AND ($3 IS NULL OR service_id = $3)",
        )
        .bind(name)
        .bind(now)
        .bind(service)
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Invalid(format!("there is no login named `{name}`")));
        }
        w.tx.commit().await?;
        self.login_by_name(name)
            .await?
            .map(|(login, _)| login)
            .ok_or_else(|| StoreError::Invalid(format!("there is no login named `{name}`")))
    }

    /// Revokes a token of `service` (`None`: any token) from `now` on.
    /// Revoking twice keeps the first time.
    pub async fn revoke_token(
        &self,
        id: i64,
        service: Option<i64>,
        now: i64,
    ) -> Result<TokenRecord, StoreError> {
        let mut w = self.begin_write().await?;
        sqlx::query(
            "UPDATE tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 \
             AND ($3 IS NULL OR service_id = $3)",
        )
        .bind(id)
        .bind(now)
        .bind(service)
        .execute(&mut *w.tx)
        .await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM tokens WHERE id = $1 AND ($2 IS NULL OR service_id = $2)"
        ))
        .bind(id)
        .bind(service)
        .fetch_optional(&mut *w.tx)
        .await?;
        let token = match row {
            Some(row) => token_from_row(&row)?,
            None => return Err(StoreError::NotFound { what: "token", id }),
        };
        w.tx.commit().await?;
        Ok(token)
    }

    /// Appends entries about this service to the audit trail (their `id` is
    /// ignored), in one transaction.
    pub async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut w = self.begin_write().await?;
        for e in entries {
            insert_audit(&mut w.tx, Some(self.service), e).await?;
        }
        w.tx.commit().await?;
        Ok(())
    }

    /// The audit trail of one rider: entries naming the rider or one of the
    /// rider's bookings, oldest first, at most `limit`.
    pub async fn audit_of_rider(&self, rider_id: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, token_id, role, rpc, action, rider_id, booking_id FROM audit \
             WHERE service_id = $3 \
               AND (rider_id = $1 OR booking_id IN (SELECT id FROM bookings WHERE rider_id = $1)) \
             ORDER BY id LIMIT $2",
        )
        .bind(rider_id)
        .bind(i64::from(limit))
        .bind(self.service)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(audit_from_row).collect()
    }

    /// The latest `limit` audit entries of this service, newest first.
    pub async fn recent_audit(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, token_id, role, rpc, action, rider_id, booking_id FROM audit \
             WHERE service_id = $2 ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .bind(self.service)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(audit_from_row).collect()
    }

    /// Erases a rider's personal data on request (APPI): the profile is
    /// blanked and the row kept as erased, the bookings stay for statistics
    /// without labels or idempotency keys and with their points rounded to
    /// about a kilometre, recurring-trip notes are blanked, and the rider's
    /// own tokens are revoked. Returns how many bookings were stripped.
    /// Refused with [`StoreError::RidesToCome`] while the rider has confirmed
    /// bookings on `today` or later.
    pub async fn erase_rider(&self, id: i64, today: ServiceDay, now: i64) -> Result<usize, StoreError> {
        let mut w = self.begin_write().await?;
        let known = sqlx::query("SELECT 1 FROM riders WHERE id = $1 AND service_id = $2")
            .bind(id)
            .bind(self.service)
            .fetch_optional(&mut *w.tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::NotFound { what: "rider", id });
        }
        let upcoming: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM bookings WHERE rider_id = $1 AND status = 'confirmed' AND day >= $2 ORDER BY id",
        )
        .bind(id)
        .bind(i64::from(today.0))
        .fetch_all(&mut *w.tx)
        .await?;
        if !upcoming.is_empty() {
            return Err(StoreError::RidesToCome { rider: id, bookings: upcoming });
        }
        let erased = sqlx::query(
            "UPDATE riders SET name = '', name_kana = '', phone = '', phone_digits = NULL, name_fold = '', \
             kana_fold = '', home_address = '', home_lat = 0, home_lon = 0, driver_notes = '', \
             erased_at = COALESCE(erased_at, $2) WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
        if erased.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "rider", id });
        }
        let bookings = sqlx::query(
            "UPDATE bookings SET origin_label = '', destination_label = '', idempotency_key = NULL, cancel_reason = NULL, \
             origin_lat = ROUND(CAST(origin_lat AS NUMERIC), 2), origin_lon = ROUND(CAST(origin_lon AS NUMERIC), 2), \
             destination_lat = ROUND(CAST(destination_lat AS NUMERIC), 2), \
             destination_lon = ROUND(CAST(destination_lon AS NUMERIC), 2) WHERE rider_id = $1",
        )
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
        sqlx::query("UPDATE recurrences SET description = '' WHERE rider_id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        sqlx::query("UPDATE tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE rider_id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *w.tx)
            .await?;
        w.tx.commit().await?;
        Ok(bookings.rows_affected() as usize)
    }
}
