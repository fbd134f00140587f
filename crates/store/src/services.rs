//! Services (municipalities): the one table every other record hangs from.

use noriai_model::service::{BookingRules, TownService};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::to_u32;
use crate::{Store, StoreError};

const SERVICE_COLUMNS: &str = "id, name, name_kana, operator_phone, created_at, book_days_ahead, cutoff_minutes, \
                               prebooking_window_minutes, fare_yen";

fn service_from_row(row: &AnyRow) -> Result<TownService, StoreError> {
    Ok(TownService {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        name_kana: row.try_get("name_kana")?,
        operator_phone: row.try_get("operator_phone")?,
        created_at: row.try_get("created_at")?,
        rules: BookingRules {
            book_days_ahead: to_u32(row.try_get("book_days_ahead")?, "days ahead")?,
            cutoff_minutes: to_u32(row.try_get("cutoff_minutes")?, "cut-off")?,
            prebooking_window_minutes: to_u32(row.try_get("prebooking_window_minutes")?, "window width")?,
        },
        fare_yen: to_u32(row.try_get("fare_yen")?, "fare")?,
    })
}

/// Refuses rules and fares out of range before the database's checks do.
fn check(service: &TownService) -> Result<(), StoreError> {
    if let Some((field, range)) = service.rules.out_of_range() {
        return Err(StoreError::Invalid(format!("{field} must be in {range}")));
    }
    if service.fare_yen > TownService::MAX_FARE_YEN {
        return Err(StoreError::Invalid(format!("fare_yen must be in 0..={}", TownService::MAX_FARE_YEN)));
    }
    Ok(())
}

impl Store {
    /// Creates a service (its `id` is ignored) and returns it with its id.
    pub async fn insert_service(&self, service: &TownService) -> Result<TownService, StoreError> {
        check(service)?;
        let mut w = self.begin_write().await?;
        let id = sqlx::query_scalar(
            "INSERT INTO services (name, name_kana, operator_phone, created_at, book_days_ahead, \
             cutoff_minutes, prebooking_window_minutes, fare_yen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING id",
        )
        .bind(&service.name)
        .bind(&service.name_kana)
        .bind(&service.operator_phone)
        .bind(service.created_at)
        .bind(i64::from(service.rules.book_days_ahead))
        .bind(i64::from(service.rules.cutoff_minutes))
        .bind(i64::from(service.rules.prebooking_window_minutes))
        .bind(i64::from(service.fare_yen))
        .fetch_one(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(TownService { id, ..service.clone() })
    }

    /// Renames a service, changes its phone number or its booking rules.
    pub async fn update_service(&self, service: &TownService) -> Result<(), StoreError> {
        check(service)?;
        let mut w = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE services SET name = $2, name_kana = $3, operator_phone = $4, book_days_ahead = $5, \
             cutoff_minutes = $6, prebooking_window_minutes = $7, fare_yen = $8 WHERE id = $1",
        )
        .bind(service.id)
        .bind(&service.name)
        .bind(&service.name_kana)
        .bind(&service.operator_phone)
        .bind(i64::from(service.rules.book_days_ahead))
        .bind(i64::from(service.rules.cutoff_minutes))
        .bind(i64::from(service.rules.prebooking_window_minutes))
        .bind(i64::from(service.fare_yen))
        .execute(&mut *w.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "service", id: service.id });
        }
        w.tx.commit().await?;
        Ok(())
    }

    /// Every service, by id.
    pub async fn list_services(&self) -> Result<Vec<TownService>, StoreError> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM services ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(service_from_row).collect()
    }

    pub async fn get_service(&self, id: i64) -> Result<TownService, StoreError> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM services WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
        match row {
            Some(row) => service_from_row(&row),
            None => Err(StoreError::NotFound { what: "service", id }),
        }
    }
}
