//! Drivers' events and vehicle positions, stored before they are
//! acknowledged so a restart loses nothing the tablet was told was received.

use noriai_model::LatLon;
use noriai_model::live::{DelayReason, EventKind, Position, VehicleEvent};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::bookings::{Reference, Table};
use crate::error::to_u32;
use crate::fleet::{ROWS_PER_INSERT, values_sql};
use crate::{Store, StoreError};

const EVENT_COLUMNS: &str = "event_id, vehicle_id, kind, booking_id, at, lat, lon, odometer_km, delay_minutes, \
                             delay_reason, CASE WHEN can_continue THEN 1 ELSE 0 END AS can_continue, note";

fn event_from_row(row: &AnyRow) -> Result<VehicleEvent, StoreError> {
    let kind: String = row.try_get("kind")?;
    let booking: Option<i64> = row.try_get("booking_id")?;
    let booking =
        || booking.ok_or_else(|| StoreError::Corrupt(format!("a `{kind}` event without its booking")));
    let odometer_km: Option<f64> = row.try_get("odometer_km")?;
    let kind = match kind.as_str() {
        "shift_started" => EventKind::ShiftStarted { odometer_km },
        "shift_ended" => EventKind::ShiftEnded { odometer_km },
        "arrived" => EventKind::Arrived { booking_id: booking()? },
        "boarded" => EventKind::Boarded { booking_id: booking()? },
        "no_show" => EventKind::NoShow { booking_id: booking()? },
        "alighted" => EventKind::Alighted { booking_id: booking()? },
        "departed" => EventKind::Departed,
        "delayed" => {
            let reason: String = row.try_get::<Option<String>, _>("delay_reason")?.unwrap_or_default();
            EventKind::Delayed {
                minutes: to_u32(row.try_get::<Option<i64>, _>("delay_minutes")?.unwrap_or(0), "delay")?,
                reason: DelayReason::from_name(&reason)
                    .ok_or_else(|| StoreError::Corrupt(format!("delay reason `{reason}`")))?,
            }
        }
        "breakdown" => EventKind::Breakdown { can_continue: row.try_get::<i64, _>("can_continue")? != 0 },
        "break_started" => EventKind::BreakStarted,
        "break_ended" => EventKind::BreakEnded,
        other => return Err(StoreError::Corrupt(format!("event kind `{other}`"))),
    };
    let position = match (row.try_get::<Option<f64>, _>("lat")?, row.try_get::<Option<f64>, _>("lon")?) {
        (Some(lat), Some(lon)) => Some(LatLon { lat, lon }),
        _ => None,
    };
    Ok(VehicleEvent {
        event_id: row.try_get("event_id")?,
        vehicle_id: row.try_get("vehicle_id")?,
        at: row.try_get("at")?,
        kind,
        position,
        note: row.try_get("note")?,
    })
}

impl Store {
    /// Stores an event, unless the vehicle reported this event id before:
    /// then nothing changes and `true` says it was a repeat. An id used
    /// before for a different event is [`StoreError::Duplicate`]. The
    /// vehicle, and the booking named, must be this service's.
    pub async fn record_event(&self, e: &VehicleEvent, received_at: i64) -> Result<bool, StoreError> {
        let mut w = self.begin_write().await?;
        let mut refs: Vec<Reference> = vec![(Table::Vehicles, e.vehicle_id)];
        refs.extend(e.kind.booking().map(|b| (Table::Bookings, b)));
        self.check_references(&mut w.tx, &refs).await?;
        // Checked with the write: the plan may have handed the ride to
        // another vehicle since the caller looked (a repeat is answered below).
        if let Some(booking) = e.kind.booking() {
            let rides_with: i64 = sqlx::query_scalar("SELECT vehicle_id FROM bookings WHERE id = $1")
                .bind(booking)
                .fetch_one(&mut *w.tx)
                .await?;
            let repeat: Option<i64> =
                sqlx::query_scalar("SELECT id FROM vehicle_events WHERE vehicle_id = $1 AND event_id = $2")
                    .bind(e.vehicle_id)
                    .bind(&e.event_id)
                    .fetch_optional(&mut *w.tx)
                    .await?;
            if rides_with != e.vehicle_id && repeat.is_none() {
                return Err(StoreError::NotOnVehicle { booking, vehicle: e.vehicle_id, rides_with });
            }
        }
        let (odometer, minutes, reason, can_continue) = match &e.kind {
            EventKind::ShiftStarted { odometer_km } | EventKind::ShiftEnded { odometer_km } => {
                (*odometer_km, None, None, None)
            }
            EventKind::Delayed { minutes, reason } => {
                (None, Some(i64::from(*minutes)), Some(reason.name()), None)
            }
            EventKind::Breakdown { can_continue } => (None, None, None, Some(*can_continue)),
            _ => (None, None, None, None),
        };
        // Nullable floats are bound as a flag and a value (see
        // `bookings::place_columns` for the sqlx bug this avoids).
        let (has_position, lat, lon) = match e.position {
            Some(p) => (true, p.lat, p.lon),
            None => (false, 0.0, 0.0),
        };
        let inserted = sqlx::query(
            "INSERT INTO vehicle_events (vehicle_id, event_id, kind, booking_id, at, received_at, lat, lon, \
             odometer_km, delay_minutes, delay_reason, can_continue, note) \
             VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN $8 END, CASE WHEN $7 THEN $9 END, \
             CASE WHEN $10 THEN $11 END, $12, $13, $14, $15) \
             ON CONFLICT (vehicle_id, event_id) DO NOTHING",
        )
        .bind(e.vehicle_id)
        .bind(&e.event_id)
        .bind(e.kind.name())
        .bind(e.kind.booking())
        .bind(e.at)
        .bind(received_at)
        .bind(has_position)
        .bind(lat)
        .bind(lon)
        .bind(odometer.is_some())
        .bind(odometer.unwrap_or(0.0))
        .bind(minutes)
        .bind(reason)
        .bind(can_continue)
        .bind(&e.note)
        .execute(&mut *w.tx)
        .await?;
        if inserted.rows_affected() == 1 {
            w.tx.commit().await?;
            return Ok(false);
        }
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM vehicle_events WHERE vehicle_id = $1 AND event_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(e.vehicle_id)
            .bind(&e.event_id)
            .fetch_one(&mut *w.tx)
            .await?;
        let first = event_from_row(&row)?;
        if first.kind.name() != e.kind.name() || first.kind.booking() != e.kind.booking() {
            return Err(StoreError::Duplicate(format!(
                "event id `{}` was used before for a `{}` event; give each event its own id",
                noriai_model::excerpt(&e.event_id),
                first.kind.name()
            )));
        }
        Ok(true)
    }

    /// The events of a vehicle from `from` to before `to`, in the order they happened.
    pub async fn vehicle_events(
        &self,
        vehicle_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<VehicleEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM vehicle_events e WHERE vehicle_id = $1 AND at >= $2 AND at < $3 \
             AND vehicle_id IN (SELECT id FROM vehicles WHERE service_id = $4) ORDER BY at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(vehicle_id)
            .bind(from)
            .bind(to)
            .bind(self.service)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The events about each of `bookings` (of this service), in the order
    /// they happened.
    pub async fn events_of_bookings(
        &self,
        bookings: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<EventKind>>, StoreError> {
        let mut by_booking: std::collections::HashMap<i64, Vec<EventKind>> = Default::default();
        for chunk in bookings.chunks(crate::plans::IDS_PER_QUERY) {
            let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM vehicle_events WHERE booking_id IN ({}) \
                 AND booking_id IN (SELECT id FROM bookings WHERE service_id = $1) ORDER BY at, id",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false).bind(self.service);
            for &id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&self.pool).await? {
                let e = event_from_row(&row)?;
                if let Some(b) = e.kind.booking() {
                    by_booking.entry(b).or_default().push(e.kind);
                }
            }
        }
        Ok(by_booking)
    }

    /// Stores positions of this service's vehicles; a repeat of a vehicle's
    /// time is stored once. Returns how many were new.
    pub async fn record_positions(&self, positions: &[Position]) -> Result<usize, StoreError> {
        if positions.is_empty() {
            return Ok(0);
        }
        let mut w = self.begin_write().await?;
        let refs: Vec<Reference> = positions.iter().map(|p| (Table::Vehicles, p.vehicle_id)).collect();
        self.check_references(&mut w.tx, &refs).await?;
        let mut stored = 0;
        for chunk in positions.chunks(ROWS_PER_INSERT) {
            let sql = values_sql(
                "INSERT INTO vehicle_positions (vehicle_id, at, lat, lon, heading_deg, speed_kmh) VALUES",
                6,
                chunk.len(),
            ) + " ON CONFLICT (vehicle_id, at) DO NOTHING";
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for p in chunk {
                query = query
                    .bind(p.vehicle_id)
                    .bind(p.at)
                    .bind(p.location.lat)
                    .bind(p.location.lon)
                    .bind(p.heading_deg.unwrap_or(-1.0))
                    .bind(p.speed_kmh.unwrap_or(-1.0));
            }
            stored += query.execute(&mut *w.tx).await?.rows_affected() as usize;
        }
        w.tx.commit().await?;
        Ok(stored)
    }

    /// The latest stored position of a vehicle of this service.
    pub async fn last_position(&self, vehicle_id: i64) -> Result<Option<Position>, StoreError> {
        let row = sqlx::query(
            "SELECT vehicle_id, at, lat, lon, heading_deg, speed_kmh FROM vehicle_positions \
             WHERE vehicle_id = $1 AND vehicle_id IN (SELECT id FROM vehicles WHERE service_id = $2) \
             ORDER BY at DESC LIMIT 1",
        )
        .bind(vehicle_id)
        .bind(self.service)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(position_from_row).transpose()
    }

    /// A vehicle's positions in `[from, to)`, in time order.
    pub async fn positions(&self, vehicle_id: i64, from: i64, to: i64) -> Result<Vec<Position>, StoreError> {
        let rows = sqlx::query(
            "SELECT vehicle_id, at, lat, lon, heading_deg, speed_kmh FROM vehicle_positions \
             WHERE vehicle_id = $1 AND vehicle_id IN (SELECT id FROM vehicles WHERE service_id = $2) \
             AND at >= $3 AND at < $4 ORDER BY at",
        )
        .bind(vehicle_id)
        .bind(self.service)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(position_from_row).collect()
    }
}

fn position_from_row(row: &AnyRow) -> Result<Position, StoreError> {
    let known = |v: f64| (v >= 0.0).then_some(v);
    Ok(Position {
        vehicle_id: row.try_get("vehicle_id")?,
        at: row.try_get("at")?,
        location: LatLon { lat: row.try_get("lat")?, lon: row.try_get("lon")? },
        heading_deg: known(row.try_get("heading_deg")?),
        speed_kmh: known(row.try_get("speed_kmh")?),
    })
}
