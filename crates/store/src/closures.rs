//! Roads closed at run time and days switched to winter speeds, stored so
//! a restart plans on the same roads.

use noriai_model::live::{ClosurePlace, ClosureReason, RoadClosure};
use noriai_model::service::ServiceDay;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::to_day;
use crate::{Store, StoreError};

const COLUMNS: &str = "id, place, reason, note, starts_at, ends_at, reopened_at";

fn closure_from_row(row: &AnyRow) -> Result<RoadClosure, StoreError> {
    let place: String = row.try_get("place")?;
    let reason: String = row.try_get("reason")?;
    Ok(RoadClosure {
        id: row.try_get("id")?,
        place: serde_json::from_str::<ClosurePlace>(&place)
            .map_err(|e| StoreError::Corrupt(format!("road closure place: {e}")))?,
        reason: ClosureReason::from_name(&reason)
            .ok_or_else(|| StoreError::Corrupt(format!("road closure reason `{reason}`")))?,
        note: row.try_get("note")?,
        from: row.try_get("starts_at")?,
        until: row.try_get("ends_at")?,
        reopened_at: row.try_get("reopened_at")?,
    })
}

impl Store {
    /// Stores a closure (its `id` is ignored) and returns it with its id.
    pub async fn insert_closure(&self, c: &RoadClosure, now: i64) -> Result<RoadClosure, StoreError> {
        let place = serde_json::to_string(&c.place)
            .map_err(|e| StoreError::Corrupt(format!("road closure place: {e}")))?;
        let mut w = self.begin_write().await?;
        let id = sqlx::query_scalar(
            "INSERT INTO road_closures (service_id, place, reason, note, starts_at, ends_at, created_at, reopened_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL) RETURNING id",
        )
        .bind(self.service)
        .bind(place)
        .bind(c.reason.name())
        .bind(&c.note)
        .bind(c.from)
        .bind(c.until)
        .bind(now)
        .fetch_one(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(RoadClosure { id, reopened_at: None, ..c.clone() })
    }

    /// Marks a closure reopened at `at` (a repeat keeps the first time).
    pub async fn reopen_closure(&self, id: i64, at: i64) -> Result<RoadClosure, StoreError> {
        let mut w = self.begin_write().await?;
        sqlx::query(
            "UPDATE road_closures SET reopened_at = COALESCE(reopened_at, $1) WHERE id = $2 AND service_id = $3",
        )
        .bind(at)
        .bind(id)
        .bind(self.service)
        .execute(&mut *w.tx)
        .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM road_closures WHERE id = $1 AND service_id = $2"
        )))
        .bind(id)
        .bind(self.service)
        .fetch_optional(&mut *w.tx)
        .await?;
        let closure = match row {
            Some(row) => closure_from_row(&row)?,
            None => return Err(StoreError::NotFound { what: "road closure", id }),
        };
        w.tx.commit().await?;
        Ok(closure)
    }

    /// The service's closures, newest first.
    pub async fn closures(&self) -> Result<Vec<RoadClosure>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM road_closures WHERE service_id = $1 ORDER BY id DESC"
        )))
        .bind(self.service)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(closure_from_row).collect()
    }
}

impl Store {
    /// Switches `day` to winter speeds (`true`) or back; a repeat changes nothing.
    pub async fn set_winter(&self, day: ServiceDay, winter: bool, now: i64) -> Result<(), StoreError> {
        let mut w = self.begin_write().await?;
        let day = i64::from(day.0);
        if winter {
            sqlx::query(
                "INSERT INTO winter_days (service_id, day, set_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (service_id, day) DO NOTHING",
            )
            .bind(self.service)
            .bind(day)
            .bind(now)
            .execute(&mut *w.tx)
            .await?;
        } else {
            sqlx::query("DELETE FROM winter_days WHERE service_id = $1 AND day = $2")
                .bind(self.service)
                .bind(day)
                .execute(&mut *w.tx)
                .await?;
        }
        w.tx.commit().await?;
        Ok(())
    }

    /// The service's days switched to winter speeds, in order.
    pub async fn winter_days(&self) -> Result<Vec<ServiceDay>, StoreError> {
        let rows = sqlx::query("SELECT day FROM winter_days WHERE service_id = $1 ORDER BY day")
            .bind(self.service)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| to_day(r.try_get("day")?)).collect()
    }
}
