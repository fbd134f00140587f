//! Bookings: committing a booking together with the plans that serve it,
//! cancelling, and reading them back exactly as they were given.

use noriai_model::LatLon;
use noriai_model::access::AuditEntry;
use noriai_model::service::{
    Booking, BookingStatus, Place, PlaceKind, ServiceDay, Trip, TripTime, WindowStage,
};
use sqlx::any::AnyRow;
use sqlx::error::ErrorKind;
use sqlx::{AnyConnection, Row};

use crate::accounts::insert_audit;
use crate::error::{is_violation, to_day, to_u32};
use crate::plans::{PlanSet, VehicleDayPlan, read_plans_from};
use crate::{Backend, Store, StoreError};

macro_rules! booking_columns {
    () => {
        "id, rider_id, origin_stop_id, origin_lat, origin_lon, origin_label, \
         destination_stop_id, destination_lat, destination_lon, destination_label, \
         time_kind, time_unix, seats, wheelchair_places, status, day, pickup_earliest, pickup_latest, \
         expected_arrival, vehicle_id, recurrence_id, idempotency_key, window_stage, \
         wide_earliest, wide_latest"
    };
}

fn place_from_row(row: &AnyRow, end: &str) -> Result<Place, StoreError> {
    let stop: Option<i64> = row.try_get(format!("{end}_stop_id").as_str())?;
    let lat: Option<f64> = row.try_get(format!("{end}_lat").as_str())?;
    let lon: Option<f64> = row.try_get(format!("{end}_lon").as_str())?;
    let kind = match (stop, lat, lon) {
        (Some(id), None, None) => PlaceKind::Stop(id),
        (None, Some(lat), Some(lon)) => PlaceKind::Point(LatLon { lat, lon }),
        _ => return Err(StoreError::Corrupt(format!("booking {end} is neither a stop nor a point"))),
    };
    Ok(Place { kind, label: row.try_get(format!("{end}_label").as_str())? })
}

fn booking_from_row(row: &AnyRow) -> Result<Booking, StoreError> {
    let time_unix: i64 = row.try_get("time_unix")?;
    let time = match row.try_get::<String, _>("time_kind")?.as_str() {
        "depart_after" => TripTime::DepartAfter(time_unix),
        "arrive_by" => TripTime::ArriveBy(time_unix),
        other => return Err(StoreError::Corrupt(format!("trip time kind `{other}`"))),
    };
    let status = match row.try_get::<String, _>("status")?.as_str() {
        "confirmed" => BookingStatus::Confirmed,
        "cancelled" => BookingStatus::Cancelled,
        other => return Err(StoreError::Corrupt(format!("booking status `{other}`"))),
    };
    let key: Option<String> = row.try_get("idempotency_key")?;
    Ok(Booking {
        id: row.try_get("id")?,
        trip: Trip {
            rider_id: row.try_get("rider_id")?,
            origin: place_from_row(row, "origin")?,
            destination: place_from_row(row, "destination")?,
            time,
            seats: to_u32(row.try_get("seats")?, "booked seats")?,
            wheelchair_places: to_u32(row.try_get("wheelchair_places")?, "booked wheelchair places")?,
        },
        status,
        day: to_day(row.try_get("day")?)?,
        pickup_window: (row.try_get("pickup_earliest")?, row.try_get("pickup_latest")?),
        window: {
            let stage: String = row.try_get("window_stage")?;
            WindowStage::from_name(&stage)
                .ok_or_else(|| StoreError::Corrupt(format!("pickup window stage `{stage}`")))?
        },
        wide_window: match (row.try_get("wide_earliest")?, row.try_get("wide_latest")?) {
            (Some(start), Some(end)) => Some((start, end)),
            (None, None) => None,
            _ => return Err(StoreError::Corrupt("a wide window with one end only".into())),
        },
        expected_arrival: row.try_get("expected_arrival")?,
        vehicle_id: row.try_get("vehicle_id")?,
        recurrence_id: row.try_get("recurrence_id")?,
        idempotency_key: key.unwrap_or_default(),
    })
}

/// (stop id, lat, lon, label) bind values of a place. The coordinates of a
/// stop are bound as 0.0 and stored as NULL by the INSERT: sqlx 0.9's Any
/// driver sends a NULL `f64` to PostgreSQL typed as float4, which breaks the
/// cached statement the next time a real `f64` is bound (upstream sqlx #4284),
/// so this crate never binds a nullable float.
fn place_columns(place: &Place) -> (Option<i64>, f64, f64, &str) {
    match place.kind {
        PlaceKind::Stop(id) => (Some(id), 0.0, 0.0, &place.label),
        PlaceKind::Point(p) => (None, p.lat, p.lon, &place.label),
    }
}

fn status_name(status: BookingStatus) -> &'static str {
    match status {
        BookingStatus::Confirmed => "confirmed",
        BookingStatus::Cancelled => "cancelled",
    }
}

/// The stored key: `None` for an empty key, so bookings made without one do
/// not collide on the unique index.
fn stored_key(key: &str) -> Option<&str> {
    Some(key).filter(|k| !k.is_empty())
}

async fn insert_booking(
    conn: &mut AnyConnection,
    service: i64,
    b: &Booking,
    vehicle_id: i64,
    expected_arrival: i64,
) -> Result<i64, sqlx::Error> {
    let (o_stop, o_lat, o_lon, o_label) = place_columns(&b.trip.origin);
    let (d_stop, d_lat, d_lon, d_label) = place_columns(&b.trip.destination);
    let time_kind = match b.trip.time {
        TripTime::DepartAfter(_) => "depart_after",
        TripTime::ArriveBy(_) => "arrive_by",
    };
    sqlx::query_scalar(concat!(
        "INSERT INTO bookings (",
        "rider_id, origin_stop_id, origin_lat, origin_lon, origin_label, \
         destination_stop_id, destination_lat, destination_lon, destination_label, \
         time_kind, time_unix, seats, wheelchair_places, status, day, pickup_earliest, pickup_latest, \
         expected_arrival, vehicle_id, recurrence_id, idempotency_key, window_stage, \
         wide_earliest, wide_latest, service_id",
        ") VALUES ($1, $2, CASE WHEN $2 IS NULL THEN $3 END, CASE WHEN $2 IS NULL THEN $4 END, $5, \
         $6, CASE WHEN $6 IS NULL THEN $7 END, CASE WHEN $6 IS NULL THEN $8 END, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25) RETURNING id"
    ))
    .bind(b.trip.rider_id)
    .bind(o_stop)
    .bind(o_lat)
    .bind(o_lon)
    .bind(o_label)
    .bind(d_stop)
    .bind(d_lat)
    .bind(d_lon)
    .bind(d_label)
    .bind(time_kind)
    .bind(b.trip.time.unix())
    .bind(i64::from(b.trip.seats))
    .bind(i64::from(b.trip.wheelchair_places))
    .bind(status_name(b.status))
    .bind(i64::from(b.day.0))
    .bind(b.pickup_window.0)
    .bind(b.pickup_window.1)
    .bind(expected_arrival)
    .bind(vehicle_id)
    .bind(b.recurrence_id)
    .bind(stored_key(&b.idempotency_key))
    .bind(b.window.name())
    .bind(b.wide_window.map(|w| w.0))
    .bind(b.wide_window.map(|w| w.1))
    .bind(service)
    .fetch_one(conn)
    .await
}

async fn fetch_booking(conn: &mut AnyConnection, service: i64, id: i64) -> Result<Booking, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        booking_columns!(),
        " FROM bookings WHERE id = $1 AND service_id = $2"
    ))
    .bind(id)
    .bind(service)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => booking_from_row(&row),
        None => Err(StoreError::NotFound { what: "booking", id }),
    }
}

/// The kinds of record a booking or a plan refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Table {
    Riders,
    Vehicles,
    Stops,
    Recurrences,
    Bookings,
}

impl Table {
    fn what(self) -> &'static str {
        match self {
            Table::Riders => "rider",
            Table::Vehicles => "vehicle",
            Table::Stops => "stop",
            Table::Recurrences => "recurrence",
            Table::Bookings => "booking",
        }
    }

    /// How many rows with id `$n` this service has (0 or 1); `$1` is the service.
    fn count_sql(self, n: usize) -> String {
        match self {
            Table::Riders => {
                format!(
                    "(SELECT COUNT(*) FROM riders WHERE id = ${n} AND service_id = $1 AND erased_at IS NULL)"
                )
            }
            Table::Vehicles => format!("(SELECT COUNT(*) FROM vehicles WHERE id = ${n} AND service_id = $1)"),
            Table::Stops => format!("(SELECT COUNT(*) FROM stops WHERE id = ${n} AND service_id = $1)"),
            Table::Bookings => format!("(SELECT COUNT(*) FROM bookings WHERE id = ${n} AND service_id = $1)"),
            Table::Recurrences => format!(
                "(SELECT COUNT(*) FROM recurrences r JOIN riders p ON p.id = r.rider_id \
                 WHERE r.id = ${n} AND p.service_id = $1)"
            ),
        }
    }
}

/// A record referred to: its table and id.
pub(crate) type Reference = (Table, i64);

/// The records a new booking refers to.
fn references(b: &Booking) -> Vec<Reference> {
    let mut refs = vec![(Table::Riders, b.trip.rider_id)];
    for place in [&b.trip.origin, &b.trip.destination] {
        if let PlaceKind::Stop(id) = place.kind {
            refs.push((Table::Stops, id));
        }
    }
    if let Some(id) = b.recurrence_id {
        refs.push((Table::Recurrences, id));
    }
    refs
}

impl Store {
    /// Refuses, as [`StoreError::NotFound`] naming the first, references to
    /// records that do not exist in this service. One query for all of
    /// them: every booking pays it inside its write transaction.
    pub(crate) async fn check_references(
        &self,
        conn: &mut AnyConnection,
        refs: &[Reference],
    ) -> Result<(), StoreError> {
        let mut distinct = refs.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.is_empty() {
            return Ok(());
        }
        let counts: Vec<String> =
            distinct.iter().enumerate().map(|(i, (table, _))| table.count_sql(i + 2)).collect();
        let sql = format!("SELECT {}", counts.join(" + "));
        let mut query =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).persistent(false).bind(self.service);
        for &(_, id) in &distinct {
            query = query.bind(id);
        }
        let found: i64 = query.fetch_one(&mut *conn).await?;
        if found == distinct.len() as i64 {
            return Ok(());
        }
        // Name the first missing one, in the order given.
        for &(table, id) in refs {
            let one: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {}", table.count_sql(2))))
                .persistent(false)
                .bind(self.service)
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
            if one == 0 {
                return Err(StoreError::NotFound { what: table.what(), id });
            }
        }
        Err(StoreError::Corrupt("a reference is both missing and present".into()))
    }
}

impl Store {
    /// Commits a new booking and the plans that serve it, in one transaction.
    ///
    /// `new.id` is ignored; `new.vehicle_id` and `new.expected_arrival` are
    /// taken from the plans, which must pick up and drop off the new booking,
    /// written as `booking_id == 0`. Each given vehicle-day's stored stops are
    /// replaced; every booking in the plans moves to its plan's vehicle and
    /// takes its expected arrival from its dropoff's eta.
    ///
    /// [`StoreError::Duplicate`] if `new.idempotency_key` was used before (a
    /// retry: fetch the first with [`Store::booking_by_key`]) or the plans
    /// leave out a confirmed booking (they were computed from an older state:
    /// re-plan). An empty key is no key.
    pub async fn commit_booking(
        &self,
        new: &Booking,
        plans: &[VehicleDayPlan],
    ) -> Result<Booking, StoreError> {
        self.commit_booking_audited(new, plans, None).await
    }

    /// [`Store::commit_booking`] with its audit entry (whose `booking_id`
    /// becomes the new booking's) in the same transaction.
    pub async fn commit_booking_audited(
        &self,
        new: &Booking,
        plans: &[VehicleDayPlan],
        audit: Option<&AuditEntry>,
    ) -> Result<Booking, StoreError> {
        if new.status != BookingStatus::Confirmed {
            return Err(StoreError::Invalid("a new booking must be confirmed".to_string()));
        }
        let set = PlanSet::new(plans, true)?;
        let placement =
            set.placement(0).filter(|p| p.pickup && p.dropoff_eta.is_some()).ok_or_else(|| {
                StoreError::Invalid(
                    "the plans must pick up and drop off the new booking (stops with booking_id 0)"
                        .to_string(),
                )
            })?;
        let expected_arrival = placement.dropoff_eta.unwrap_or(new.expected_arrival);
        let mut w = self.begin_write().await?;
        // Everything the booking and its plans refer to must be this service's.
        let mut refs = references(new);
        refs.extend(set.vehicle_refs());
        self.check_references(&mut w.tx, &refs).await?;
        let id = match insert_booking(&mut w.tx, self.service, new, placement.vehicle_id, expected_arrival)
            .await
        {
            Ok(id) => id,
            Err(e) if is_violation(&e, ErrorKind::UniqueViolation) => {
                drop(w);
                return Err(self.key_taken(&new.idempotency_key).await);
            }
            Err(e) => return Err(e.into()),
        };
        set.write(self, &mut w.tx, Some(id), None).await?;
        if let Some(entry) = audit {
            insert_audit(
                &mut w.tx,
                Some(self.service),
                &AuditEntry { booking_id: Some(id), ..entry.clone() },
            )
            .await?;
        }
        let booking = fetch_booking(&mut w.tx, self.service, id).await?;
        w.tx.commit().await?;
        Ok(booking)
    }

    async fn key_taken(&self, key: &str) -> StoreError {
        match self.booking_by_key(key).await {
            Ok(Some(first)) => StoreError::Duplicate(format!(
                "idempotency key `{key}` was already used by booking {}; this is a retry",
                first.id
            )),
            _ => StoreError::Duplicate(format!("idempotency key `{key}` was already used")),
        }
    }

    /// The evening before: each booking's wide window becomes its final one
    /// (`windows`: booking id and window, in Unix seconds), and the rider is
    /// to be told. One transaction; only confirmed bookings still in their
    /// wide window change, so a repeat changes nothing. Returns how many did.
    pub async fn narrow_windows(&self, windows: &[(i64, (i64, i64))]) -> Result<usize, StoreError> {
        let mut w = self.begin_write().await?;
        let mut changed = 0;
        for &(id, (start, end)) in windows {
            if end < start {
                return Err(StoreError::Invalid(format!("the window of booking {id} ends before it starts")));
            }
            let done = sqlx::query(
                "UPDATE bookings SET pickup_earliest = $2, pickup_latest = $3, window_stage = 'to_tell', \
                 wide_earliest = COALESCE(wide_earliest, pickup_earliest), \
                 wide_latest = COALESCE(wide_latest, pickup_latest) \
                 WHERE id = $1 AND status = 'confirmed' AND window_stage = 'wide' AND service_id = $4",
            )
            .bind(id)
            .bind(start)
            .bind(end)
            .bind(self.service)
            .execute(&mut *w.tx)
            .await?;
            changed += done.rows_affected() as usize;
        }
        w.tx.commit().await?;
        Ok(changed)
    }

    /// Records that the rider of a booking was told its final window.
    /// [`StoreError::AlreadyCancelled`] for a cancelled booking,
    /// [`StoreError::Invalid`] when there is nothing to tell.
    pub async fn mark_told(&self, id: i64) -> Result<Booking, StoreError> {
        let mut w = self.begin_write().await?;
        let b = fetch_booking(&mut w.tx, self.service, id).await?;
        if b.status == BookingStatus::Cancelled {
            return Err(StoreError::AlreadyCancelled { id });
        }
        match b.window {
            WindowStage::ToTell => {}
            WindowStage::Wide => {
                return Err(StoreError::Invalid(format!(
                    "booking {id} still has its wide window; its final one is set the evening before"
                )));
            }
            WindowStage::Final => {
                return Err(StoreError::Invalid(format!(
                    "the rider of booking {id} already knows the final window"
                )));
            }
        }
        sqlx::query("UPDATE bookings SET window_stage = 'final' WHERE id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        let b = fetch_booking(&mut w.tx, self.service, id).await?;
        w.tx.commit().await?;
        Ok(b)
    }

    /// The booking made with this idempotency key, if any (an empty key finds
    /// nothing).
    pub async fn booking_by_key(&self, key: &str) -> Result<Option<Booking>, StoreError> {
        if key.is_empty() {
            return Ok(None);
        }
        let row = sqlx::query(concat!(
            "SELECT ",
            booking_columns!(),
            " FROM bookings WHERE idempotency_key = $1 AND service_id = $2"
        ))
        .bind(key)
        .bind(self.service)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(booking_from_row).transpose()
    }

    /// Cancels a booking and stores the re-planned vehicle-days, in one
    /// transaction; the booking's stops are removed from every stored plan
    /// even if its vehicle-day is not among `plans`. Returns the cancelled
    /// booking.
    ///
    /// [`StoreError::NotFound`] if there is no such booking,
    /// [`StoreError::AlreadyCancelled`] if it was cancelled before (nothing
    /// changes), [`StoreError::StalePlan`] if `plans` still visit it.
    pub async fn cancel_booking(&self, id: i64, plans: &[VehicleDayPlan]) -> Result<Booking, StoreError> {
        self.cancel_booking_audited(id, plans, None, "").await
    }

    /// [`Store::cancel_booking`] with its audit entry and the reason given
    /// (empty: none) in the same transaction.
    pub async fn cancel_booking_audited(
        &self,
        id: i64,
        plans: &[VehicleDayPlan],
        audit: Option<&AuditEntry>,
        reason: &str,
    ) -> Result<Booking, StoreError> {
        let set = PlanSet::new(plans, false)?;
        let mut w = self.begin_write().await?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM bookings WHERE id = $1 AND service_id = $2")
                .bind(id)
                .bind(self.service)
                .fetch_optional(&mut *w.tx)
                .await?;
        match status.as_deref() {
            None => return Err(StoreError::NotFound { what: "booking", id }),
            Some("cancelled") => return Err(StoreError::AlreadyCancelled { id }),
            Some(_) => {}
        }
        self.check_references(&mut w.tx, &set.vehicle_refs()).await?;
        set.write(self, &mut w.tx, None, Some(id)).await?;
        if !reason.is_empty() {
            sqlx::query("UPDATE bookings SET cancel_reason = $1 WHERE id = $2")
                .bind(reason)
                .bind(id)
                .execute(&mut *w.tx)
                .await?;
        }
        if let Some(entry) = audit {
            insert_audit(
                &mut w.tx,
                Some(self.service),
                &AuditEntry { booking_id: Some(id), ..entry.clone() },
            )
            .await?;
        }
        let booking = fetch_booking(&mut w.tx, self.service, id).await?;
        w.tx.commit().await?;
        Ok(booking)
    }

    /// Why a cancelled booking was cancelled, if a reason was given.
    pub async fn cancel_reason(&self, id: i64) -> Result<Option<String>, StoreError> {
        let reason: Option<Option<String>> =
            sqlx::query_scalar("SELECT cancel_reason FROM bookings WHERE id = $1 AND service_id = $2")
                .bind(id)
                .bind(self.service)
                .fetch_optional(&self.pool)
                .await?;
        reason.ok_or(StoreError::NotFound { what: "booking", id })
    }

    pub async fn get_booking(&self, id: i64) -> Result<Booking, StoreError> {
        let mut conn = self.pool.acquire().await?;
        fetch_booking(&mut conn, self.service, id).await
    }

    /// Bookings of a rider and/or a day (`None` = any), by start of the pickup
    /// window.
    pub async fn list_bookings(
        &self,
        rider: Option<i64>,
        day: Option<ServiceDay>,
        include_cancelled: bool,
    ) -> Result<Vec<Booking>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            booking_columns!(),
            " FROM bookings WHERE service_id = $4 AND ($1 IS NULL OR rider_id = $1) \
             AND ($2 IS NULL OR day = $2) AND ($3 OR status = 'confirmed') ORDER BY pickup_earliest, id"
        ))
        .bind(rider)
        .bind(day.map(|d| i64::from(d.0)))
        .bind(include_cancelled)
        .bind(self.service)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(booking_from_row).collect()
    }

    /// Confirmed bookings of `day` and later, by day and pickup window, for
    /// rebuilding the live plan after a restart.
    pub async fn confirmed_bookings_from(&self, day: ServiceDay) -> Result<Vec<Booking>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_confirmed_from(&mut conn, self.service, day).await
    }

    /// [`Store::confirmed_bookings_from`] and [`Store::plans_from`] read from
    /// one snapshot, so the two agree even while bookings are being made.
    pub async fn live_state_from(
        &self,
        day: ServiceDay,
    ) -> Result<(Vec<Booking>, Vec<VehicleDayPlan>), StoreError> {
        let mut tx = match self.backend {
            // A deferred transaction in WAL mode reads one snapshot.
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?
            }
        };
        let bookings = read_confirmed_from(&mut tx, self.service, day).await?;
        let plans = read_plans_from(&mut tx, self.service, day).await?;
        tx.commit().await?;
        Ok((bookings, plans))
    }
}

async fn read_confirmed_from(
    conn: &mut AnyConnection,
    service: i64,
    day: ServiceDay,
) -> Result<Vec<Booking>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        booking_columns!(),
        " FROM bookings WHERE service_id = $2 AND status = 'confirmed' AND day >= $1 \
         ORDER BY day, pickup_earliest, id"
    ))
    .bind(i64::from(day.0))
    .bind(service)
    .fetch_all(conn)
    .await?;
    rows.iter().map(booking_from_row).collect()
}
