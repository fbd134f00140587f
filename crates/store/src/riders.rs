//! Riders and their recurring trips.

use noriai_model::LatLon;
use noriai_model::service::{Needs, Rider};
use sqlx::Row;
use sqlx::any::AnyRow;
use sqlx::error::ErrorKind;

use crate::error::is_violation;
use crate::text::{contains_pattern, fold_for_search, phone_digits, plain_phone};
use crate::{Store, StoreError};

/// Flags go through `CASE WHEN` so both backends return an integer (the Any
/// driver reads PostgreSQL booleans but not SQLite's).
macro_rules! rider_columns {
    () => {
        "id, name, name_kana, phone, home_address, home_lat, home_lon, \
         CASE WHEN wheelchair THEN 1 ELSE 0 END AS wheelchair, \
         CASE WHEN companion THEN 1 ELSE 0 END AS companion, \
         CASE WHEN walking_aid THEN 1 ELSE 0 END AS walking_aid, driver_notes"
    };
}

fn rider_from_row(row: &AnyRow) -> Result<Rider, StoreError> {
    Ok(Rider {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        name_kana: row.try_get("name_kana")?,
        phone: row.try_get("phone")?,
        home_address: row.try_get("home_address")?,
        home: LatLon { lat: row.try_get("home_lat")?, lon: row.try_get("home_lon")? },
        needs: Needs {
            wheelchair: row.try_get::<i64, _>("wheelchair")? != 0,
            companion: row.try_get::<i64, _>("companion")? != 0,
            walking_aid: row.try_get::<i64, _>("walking_aid")? != 0,
            driver_notes: row.try_get("driver_notes")?,
        },
    })
}

/// The normalised phone column: `None` when there are no digits, so riders
/// without a phone number do not collide on the unique index.
fn stored_digits(phone: &str) -> Option<String> {
    Some(phone_digits(phone)).filter(|d| !d.is_empty())
}

impl Store {
    /// Brings the search keys of stored riders up to the current rules (phone
    /// digits with `+81` as 0, NFKC name folds) and stores phone numbers in
    /// their plain form. Runs at every start and touches only rows that
    /// differ; a number that now collides with another rider's is left as it
    /// was and logged, for an operator to merge the two riders.
    pub(crate) async fn renormalise_riders(&self) -> Result<(), StoreError> {
        let rows =
            sqlx::query("SELECT id, phone, name, name_kana, phone_digits, name_fold, kana_fold FROM riders")
                .fetch_all(&self.pool)
                .await?;
        let mut changed = 0;
        for row in &rows {
            let (id, phone, name, kana): (i64, String, String, String) =
                (row.try_get("id")?, row.try_get("phone")?, row.try_get("name")?, row.try_get("name_kana")?);
            let now: (Option<String>, String, String) =
                (row.try_get("phone_digits")?, row.try_get("name_fold")?, row.try_get("kana_fold")?);
            let plain = plain_phone(&phone);
            let want = (stored_digits(&plain), fold_for_search(&name), fold_for_search(&kana));
            if want == now && plain == phone {
                continue;
            }
            let mut w = self.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE riders SET phone = $2, phone_digits = $3, name_fold = $4, kana_fold = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(&plain)
            .bind(&want.0)
            .bind(&want.1)
            .bind(&want.2)
            .execute(&mut *w.tx)
            .await;
            match updated {
                Ok(_) => {
                    w.tx.commit().await?;
                    changed += 1;
                }
                Err(e) if is_violation(&e, ErrorKind::UniqueViolation) => {
                    tracing::warn!(
                        rider = id,
                        "another rider has the same phone number; merge the two riders"
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        if changed > 0 {
            tracing::info!(riders = changed, "normalised stored phone numbers and name search keys");
        }
        Ok(())
    }

    /// Registers a rider (its `id` is ignored) and returns it with its new id.
    /// A phone number already registered (compared by digits) is a
    /// [`StoreError::Duplicate`] naming the rider who has it.
    pub async fn insert_rider(&self, rider: &Rider) -> Result<Rider, StoreError> {
        let digits = stored_digits(&rider.phone);
        let mut w = self.begin_write().await?;
        let inserted = sqlx::query_scalar(
            "INSERT INTO riders (name, name_kana, phone, phone_digits, name_fold, kana_fold, home_address, \
             home_lat, home_lon, wheelchair, companion, walking_aid, driver_notes, service_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        )
        .bind(&rider.name)
        .bind(&rider.name_kana)
        .bind(&rider.phone)
        .bind(digits.as_deref())
        .bind(fold_for_search(&rider.name))
        .bind(fold_for_search(&rider.name_kana))
        .bind(&rider.home_address)
        .bind(rider.home.lat)
        .bind(rider.home.lon)
        .bind(rider.needs.wheelchair)
        .bind(rider.needs.companion)
        .bind(rider.needs.walking_aid)
        .bind(&rider.needs.driver_notes)
        .bind(self.service)
        .fetch_one(&mut *w.tx)
        .await;
        let id: i64 = match inserted {
            Ok(id) => id,
            Err(e) if is_violation(&e, ErrorKind::UniqueViolation) => {
                drop(w);
                return Err(self.phone_taken(&rider.phone, None).await);
            }
            Err(e) => return Err(e.into()),
        };
        w.tx.commit().await?;
        Ok(Rider { id, ..rider.clone() })
    }

    /// Overwrites the rider with `rider.id`.
    pub async fn update_rider(&self, rider: &Rider) -> Result<(), StoreError> {
        let digits = stored_digits(&rider.phone);
        let mut w = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE riders SET name = $2, name_kana = $3, phone = $4, phone_digits = $5, name_fold = $6, \
             kana_fold = $7, home_address = $8, home_lat = $9, home_lon = $10, wheelchair = $11, \
             companion = $12, walking_aid = $13, driver_notes = $14 \
             WHERE id = $1 AND service_id = $15 AND erased_at IS NULL",
        )
        .bind(rider.id)
        .bind(&rider.name)
        .bind(&rider.name_kana)
        .bind(&rider.phone)
        .bind(digits.as_deref())
        .bind(fold_for_search(&rider.name))
        .bind(fold_for_search(&rider.name_kana))
        .bind(&rider.home_address)
        .bind(rider.home.lat)
        .bind(rider.home.lon)
        .bind(rider.needs.wheelchair)
        .bind(rider.needs.companion)
        .bind(rider.needs.walking_aid)
        .bind(&rider.needs.driver_notes)
        .bind(self.service)
        .execute(&mut *w.tx)
        .await;
        match updated {
            Ok(done) if done.rows_affected() == 0 => {
                Err(StoreError::NotFound { what: "rider", id: rider.id })
            }
            Ok(_) => Ok(w.tx.commit().await?),
            Err(e) if is_violation(&e, ErrorKind::UniqueViolation) => {
                drop(w);
                Err(self.phone_taken(&rider.phone, Some(rider.id)).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The conflict error for a phone number that another rider has.
    async fn phone_taken(&self, phone: &str, except: Option<i64>) -> StoreError {
        let owner: Result<Option<i64>, _> = sqlx::query_scalar(
            "SELECT id FROM riders WHERE phone_digits = $1 AND id <> $2 AND service_id = $3",
        )
        .bind(phone_digits(phone))
        .bind(except.unwrap_or(-1))
        .bind(self.service)
        .fetch_optional(&self.pool)
        .await;
        match owner {
            Ok(Some(id)) => {
                StoreError::Duplicate(format!("phone number {phone} is already registered to rider {id}"))
            }
            _ => {
                StoreError::Duplicate(format!("phone number {phone} is already registered to another rider"))
            }
        }
    }

    pub async fn get_rider(&self, id: i64) -> Result<Rider, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            rider_columns!(),
            " FROM riders WHERE id = $1 AND service_id = $2 AND erased_at IS NULL"
        ))
        .bind(id)
        .bind(self.service)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => rider_from_row(&row),
            None => Err(StoreError::NotFound { what: "rider", id }),
        }
    }

    /// Riders whose phone digits contain the digits of `phone` (so
    /// "33-12" finds "0172-33-1234"), and whose name or kana reading contains
    /// `name` (case-, width- and hiragana/katakana-insensitive, spaces
    /// ignored). A missing or blank criterion does not filter; a phone query
    /// with characters but no digits matches nobody. Ordered by kana reading.
    pub async fn search_riders(
        &self,
        phone: Option<&str>,
        name: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Rider>, StoreError> {
        let phone = phone.map(str::trim).filter(|p| !p.is_empty());
        let phone_pattern = phone.map(|p| match phone_digits(p) {
            // No stored digits string contains this, so nothing matches.
            d if d.is_empty() => "x".to_string(),
            d => contains_pattern(&d),
        });
        let name_pattern = name.map(fold_for_search).filter(|n| !n.is_empty()).map(|n| contains_pattern(&n));
        let rows = sqlx::query(concat!(
            "SELECT ",
            rider_columns!(),
            " FROM riders \
             WHERE service_id = $4 AND erased_at IS NULL AND ($1 IS NULL OR phone_digits LIKE $1 ESCAPE '!') \
               AND ($2 IS NULL OR name_fold LIKE $2 ESCAPE '!' OR kana_fold LIKE $2 ESCAPE '!') \
             ORDER BY kana_fold, id LIMIT $3"
        ))
        .bind(phone_pattern)
        .bind(name_pattern)
        .bind(i64::from(limit))
        .bind(self.service)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rider_from_row).collect()
    }

    /// Records a recurring trip of a rider (e.g. "Tuesdays to the clinic");
    /// bookings made from it carry its id in `recurrence_id`.
    pub async fn insert_recurrence(&self, rider_id: i64, description: &str) -> Result<i64, StoreError> {
        let mut w = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO recurrences (rider_id, description) SELECT $1, $2 \
             WHERE EXISTS (SELECT 1 FROM riders WHERE id = $1 AND service_id = $3) RETURNING id",
        )
        .bind(rider_id)
        .bind(description)
        .bind(self.service)
        .fetch_optional(&mut *w.tx)
        .await?;
        let id = id.ok_or(StoreError::NotFound { what: "rider", id: rider_id })?;
        w.tx.commit().await?;
        Ok(id)
    }
}
