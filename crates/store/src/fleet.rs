//! Vehicles, their shifts, virtual stops and the service area.

use noriai_model::LatLon;
use noriai_model::service::{FleetVehicle, PlaceKind, ServiceDay, Shift, StopRecord};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::error::{to_day, to_u32};
use crate::{Store, StoreError};

/// Rows per multi-row INSERT: few round trips, far below either backend's
/// limit on bound parameters.
pub(crate) const ROWS_PER_INSERT: usize = 500;

/// `prefix` followed by `rows` groups of `columns` placeholders:
/// "… VALUES ($1, $2), ($3, $4)". Only placeholders are generated, never data.
pub(crate) fn values_sql(prefix: &str, columns: usize, rows: usize) -> String {
    let mut sql = String::from(prefix);
    for row in 0..rows {
        sql.push_str(if row == 0 { " (" } else { ", (" });
        for col in 0..columns {
            if col > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", row * columns + col + 1));
        }
        sql.push(')');
    }
    sql
}

fn vehicle_from_row(row: &AnyRow) -> Result<FleetVehicle, StoreError> {
    Ok(FleetVehicle {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        seats: to_u32(row.try_get("seats")?, "vehicle seats")?,
        wheelchair_places: to_u32(row.try_get("wheelchair_places")?, "vehicle wheelchair places")?,
        depot: LatLon { lat: row.try_get("depot_lat")?, lon: row.try_get("depot_lon")? },
    })
}

fn shift_from_row(row: &AnyRow) -> Result<Shift, StoreError> {
    Ok(Shift {
        vehicle_id: row.try_get("vehicle_id")?,
        day: to_day(row.try_get("day")?)?,
        start_s: to_u32(row.try_get("start_s")?, "shift start")?,
        end_s: to_u32(row.try_get("end_s")?, "shift end")?,
    })
}

fn stop_from_row(row: &AnyRow) -> Result<StopRecord, StoreError> {
    Ok(StopRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        name_kana: row.try_get("name_kana")?,
        location: LatLon { lat: row.try_get("lat")?, lon: row.try_get("lon")? },
    })
}

impl Store {
    /// Registers a vehicle (its `id` is ignored) and returns it with its id.
    pub async fn insert_vehicle(&self, vehicle: &FleetVehicle) -> Result<FleetVehicle, StoreError> {
        let mut w = self.begin_write().await?;
        let id = sqlx::query_scalar(
            "INSERT INTO vehicles (name, seats, wheelchair_places, depot_lat, depot_lon, service_id) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&vehicle.name)
        .bind(i64::from(vehicle.seats))
        .bind(i64::from(vehicle.wheelchair_places))
        .bind(vehicle.depot.lat)
        .bind(vehicle.depot.lon)
        .bind(self.service)
        .fetch_one(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(FleetVehicle { id, ..vehicle.clone() })
    }

    /// Every vehicle, by id.
    pub async fn list_vehicles(&self) -> Result<Vec<FleetVehicle>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, seats, wheelchair_places, depot_lat, depot_lon FROM vehicles \
             WHERE service_id = $1 ORDER BY id",
        )
        .bind(self.service)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(vehicle_from_row).collect()
    }

    pub async fn get_vehicle(&self, id: i64) -> Result<FleetVehicle, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, seats, wheelchair_places, depot_lat, depot_lon FROM vehicles \
             WHERE id = $1 AND service_id = $2",
        )
        .bind(id)
        .bind(self.service)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => vehicle_from_row(&row),
            None => Err(StoreError::NotFound { what: "vehicle", id }),
        }
    }

    /// Sets a vehicle's working hours on a day, replacing any earlier shift of
    /// that vehicle on that day.
    pub async fn set_shift(&self, shift: Shift) -> Result<(), StoreError> {
        if shift.end_s < shift.start_s {
            return Err(StoreError::Invalid(format!(
                "the shift of vehicle {} on {} ends ({} s) before it starts ({} s)",
                shift.vehicle_id, shift.day, shift.end_s, shift.start_s
            )));
        }
        let mut w = self.begin_write().await?;
        if !self.owns_vehicle(&mut w.tx, shift.vehicle_id).await? {
            return Err(StoreError::NotFound { what: "vehicle", id: shift.vehicle_id });
        }
        sqlx::query(
            "INSERT INTO shifts (vehicle_id, day, start_s, end_s) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (vehicle_id, day) DO UPDATE SET start_s = excluded.start_s, end_s = excluded.end_s",
        )
        .bind(shift.vehicle_id)
        .bind(i64::from(shift.day.0))
        .bind(i64::from(shift.start_s))
        .bind(i64::from(shift.end_s))
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Marks a vehicle as part of the demo fleet, whose shifts are kept rolling.
    pub async fn mark_demo_vehicle(&self, vehicle_id: i64) -> Result<(), StoreError> {
        let mut w = self.begin_write().await?;
        if !self.owns_vehicle(&mut w.tx, vehicle_id).await? {
            return Err(StoreError::NotFound { what: "vehicle", id: vehicle_id });
        }
        sqlx::query("INSERT INTO demo_vehicles (vehicle_id) VALUES ($1) ON CONFLICT (vehicle_id) DO NOTHING")
            .bind(vehicle_id)
            .execute(&mut *w.tx)
            .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// The vehicles of the demo fleet.
    pub async fn demo_vehicles(&self) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT d.vehicle_id FROM demo_vehicles d JOIN vehicles v ON v.id = d.vehicle_id \
             WHERE v.service_id = $1 ORDER BY d.vehicle_id",
        )
        .bind(self.service)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Adds shifts where the vehicle has none that day; an existing shift
    /// (perhaps changed by an operator) is left as it is. Returns how many
    /// were added.
    pub async fn add_missing_shifts(&self, shifts: &[Shift]) -> Result<usize, StoreError> {
        let mut w = self.begin_write().await?;
        let mut added = 0;
        for shift in shifts {
            if !self.owns_vehicle(&mut w.tx, shift.vehicle_id).await? {
                return Err(StoreError::NotFound { what: "vehicle", id: shift.vehicle_id });
            }
            let done = sqlx::query(
                "INSERT INTO shifts (vehicle_id, day, start_s, end_s) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (vehicle_id, day) DO NOTHING",
            )
            .bind(shift.vehicle_id)
            .bind(i64::from(shift.day.0))
            .bind(i64::from(shift.start_s))
            .bind(i64::from(shift.end_s))
            .execute(&mut *w.tx)
            .await?;
            added += done.rows_affected() as usize;
        }
        w.tx.commit().await?;
        Ok(added)
    }

    /// The shifts of a day, by vehicle.
    pub async fn shifts_on(&self, day: ServiceDay) -> Result<Vec<Shift>, StoreError> {
        let rows = sqlx::query(
            "SELECT vehicle_id, day, start_s, end_s FROM shifts \
             WHERE day = $1 AND vehicle_id IN (SELECT id FROM vehicles WHERE service_id = $2) ORDER BY vehicle_id",
        )
        .bind(i64::from(day.0))
        .bind(self.service)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(shift_from_row).collect()
    }

    /// The shifts of `day` and every later day, by day then vehicle.
    pub async fn shifts_from(&self, day: ServiceDay) -> Result<Vec<Shift>, StoreError> {
        let rows = sqlx::query(
            "SELECT vehicle_id, day, start_s, end_s FROM shifts \
             WHERE day >= $1 AND vehicle_id IN (SELECT id FROM vehicles WHERE service_id = $2) \
             ORDER BY day, vehicle_id",
        )
        .bind(i64::from(day.0))
        .bind(self.service)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(shift_from_row).collect()
    }

    /// Replaces the service area: H3 cells of one resolution. Duplicate cells
    /// are stored once.
    pub async fn set_service_area(&self, resolution: u8, cells: &[u64]) -> Result<(), StoreError> {
        if resolution > 15 {
            return Err(StoreError::Invalid(format!("H3 resolution {resolution} does not exist (0..=15)")));
        }
        let mut cells = cells.to_vec();
        cells.sort_unstable();
        cells.dedup();
        let mut w = self.begin_write().await?;
        sqlx::query("DELETE FROM service_area_cells WHERE service_id = $1")
            .bind(self.service)
            .execute(&mut *w.tx)
            .await?;
        sqlx::query(
            "INSERT INTO service_areas (service_id, resolution) VALUES ($1, $2) \
             ON CONFLICT (service_id) DO UPDATE SET resolution = excluded.resolution",
        )
        .bind(self.service)
        .bind(i64::from(resolution))
        .execute(&mut *w.tx)
        .await?;
        for chunk in cells.chunks(ROWS_PER_INSERT) {
            let sql = values_sql("INSERT INTO service_area_cells (service_id, cell) VALUES", 2, chunk.len());
            let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for &cell in chunk {
                // Bit cast: H3 indexes keep their top bit 0, so the order is kept too.
                query = query.bind(self.service).bind(cell as i64);
            }
            query.execute(&mut *w.tx).await?;
        }
        w.tx.commit().await?;
        Ok(())
    }

    /// The service area's resolution and cells (ascending), if one was set.
    pub async fn service_area(&self) -> Result<Option<(u8, Vec<u64>)>, StoreError> {
        let resolution: Option<i64> =
            sqlx::query_scalar("SELECT resolution FROM service_areas WHERE service_id = $1")
                .bind(self.service)
                .fetch_optional(&self.pool)
                .await?;
        let Some(resolution) = resolution else { return Ok(None) };
        let resolution = u8::try_from(resolution)
            .map_err(|_| StoreError::Corrupt(format!("H3 resolution {resolution}")))?;
        let cells: Vec<i64> =
            sqlx::query_scalar("SELECT cell FROM service_area_cells WHERE service_id = $1 ORDER BY cell")
                .bind(self.service)
                .fetch_all(&self.pool)
                .await?;
        Ok(Some((resolution, cells.into_iter().map(|c| c as u64).collect())))
    }

    /// Registers a virtual stop (its `id` is ignored) and returns it with its id.
    pub async fn insert_stop(&self, stop: &StopRecord) -> Result<StopRecord, StoreError> {
        let mut w = self.begin_write().await?;
        let id = sqlx::query_scalar(
            "INSERT INTO stops (name, name_kana, lat, lon, service_id) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&stop.name)
        .bind(&stop.name_kana)
        .bind(stop.location.lat)
        .bind(stop.location.lon)
        .bind(self.service)
        .fetch_one(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(StopRecord { id, ..stop.clone() })
    }

    /// Every stop, by id.
    pub async fn list_stops(&self) -> Result<Vec<StopRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name, name_kana, lat, lon FROM stops WHERE service_id = $1 ORDER BY id")
                .bind(self.service)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(stop_from_row).collect()
    }

    /// Where a trip end is: its point, or its virtual stop's.
    pub async fn place_location(&self, kind: &PlaceKind) -> Result<LatLon, StoreError> {
        match *kind {
            PlaceKind::Point(p) => Ok(p),
            PlaceKind::Stop(id) => Ok(self.get_stop(id).await?.location),
        }
    }

    pub async fn get_stop(&self, id: i64) -> Result<StopRecord, StoreError> {
        let row =
            sqlx::query("SELECT id, name, name_kana, lat, lon FROM stops WHERE id = $1 AND service_id = $2")
                .bind(id)
                .bind(self.service)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(row) => stop_from_row(&row),
            None => Err(StoreError::NotFound { what: "stop", id }),
        }
    }
}

impl Store {
    /// Whether vehicle `id` exists and belongs to this handle's service.
    pub(crate) async fn owns_vehicle(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM vehicles WHERE id = $1 AND service_id = $2")
            .bind(id)
            .bind(self.service)
            .fetch_optional(conn)
            .await?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_sql_numbers_placeholders_row_by_row() {
        assert_eq!(
            super::values_sql("INSERT INTO t (a, b) VALUES", 2, 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }
}
