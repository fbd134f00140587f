//! The vehicles' stored plans: which stops each vehicle visits on a day, in
//! order, and how writing new plans keeps bookings and plans in step.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use noriai_model::service::{PlanStop, ServiceDay, StopAction};
use sqlx::error::ErrorKind;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::bookings::{Reference, Table};
use crate::error::{is_violation, to_day};
use crate::fleet::{ROWS_PER_INSERT, values_sql};
use crate::{Store, StoreError};

/// The planned stops of one vehicle on one service day, in visiting order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VehicleDayPlan {
    pub vehicle_id: i64,
    pub day: ServiceDay,
    pub stops: Vec<PlanStop>,
}

/// Ids per `IN (…)` list.
pub(crate) const IDS_PER_QUERY: usize = 500;

pub(crate) fn action_name(action: StopAction) -> &'static str {
    match action {
        StopAction::Pickup => "pickup",
        StopAction::Dropoff => "dropoff",
    }
}

fn action_from_name(name: &str) -> Result<StopAction, StoreError> {
    match name {
        "pickup" => Ok(StopAction::Pickup),
        "dropoff" => Ok(StopAction::Dropoff),
        other => Err(StoreError::Corrupt(format!("plan stop action `{other}`"))),
    }
}

/// "$first, $first+1, …" for an `IN (…)` list of `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Where a set of new plans puts one booking.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placement {
    pub vehicle_id: i64,
    pub day: ServiceDay,
    pub pickup: bool,
    pub dropoff_eta: Option<i64>,
}

/// New plans, checked for consistency among themselves, ready to be written.
pub(crate) struct PlanSet<'a> {
    /// Sorted by (vehicle, day): every writer locks plans in this order, so two
    /// writers never wait on each other in a cycle.
    plans: Vec<&'a VehicleDayPlan>,
    /// By booking id as given (0 = the booking being inserted).
    placements: BTreeMap<i64, Placement>,
}

impl<'a> PlanSet<'a> {
    /// Checks the plans: each vehicle-day at most once, each booking picked up
    /// and dropped off at most once, both by the same vehicle-day, pickup
    /// first. Booking id 0 is allowed only when `new_booking` is true.
    pub(crate) fn new(plans: &'a [VehicleDayPlan], new_booking: bool) -> Result<Self, StoreError> {
        let mut sorted: Vec<&VehicleDayPlan> = plans.iter().collect();
        sorted.sort_by_key(|p| (p.vehicle_id, p.day));
        for pair in sorted.windows(2) {
            if (pair[0].vehicle_id, pair[0].day) == (pair[1].vehicle_id, pair[1].day) {
                return Err(StoreError::Invalid(format!(
                    "two plans given for vehicle {} on {}",
                    pair[0].vehicle_id, pair[0].day
                )));
            }
        }
        let mut placements: BTreeMap<i64, Placement> = BTreeMap::new();
        for plan in &sorted {
            for stop in &plan.stops {
                let id = stop.booking_id;
                let here = format!("the plan of vehicle {} on {}", plan.vehicle_id, plan.day);
                if id < 0 || (id == 0 && !new_booking) {
                    return Err(StoreError::Invalid(format!(
                        "{here} visits booking {id}; booking 0 stands for the new booking of commit_booking"
                    )));
                }
                let placement = placements.entry(id).or_insert(Placement {
                    vehicle_id: plan.vehicle_id,
                    day: plan.day,
                    pickup: false,
                    dropoff_eta: None,
                });
                if (placement.vehicle_id, placement.day) != (plan.vehicle_id, plan.day) {
                    return Err(StoreError::Invalid(format!(
                        "booking {id} is split between vehicle {} on {} and {here}",
                        placement.vehicle_id, placement.day
                    )));
                }
                match stop.action {
                    StopAction::Pickup if placement.pickup => {
                        return Err(StoreError::Invalid(format!("{here} picks up booking {id} twice")));
                    }
                    StopAction::Pickup if placement.dropoff_eta.is_some() => {
                        return Err(StoreError::Invalid(format!(
                            "{here} drops booking {id} off before picking it up"
                        )));
                    }
                    StopAction::Pickup => placement.pickup = true,
                    StopAction::Dropoff if placement.dropoff_eta.is_some() => {
                        return Err(StoreError::Invalid(format!("{here} drops booking {id} off twice")));
                    }
                    StopAction::Dropoff => placement.dropoff_eta = Some(stop.eta),
                }
            }
        }
        Ok(PlanSet { plans: sorted, placements })
    }

    /// The vehicles these plans are for, as references to check.
    pub(crate) fn vehicle_refs(&self) -> Vec<Reference> {
        self.plans.iter().map(|p| (Table::Vehicles, p.vehicle_id)).collect()
    }

    pub(crate) fn placement(&self, booking_id: i64) -> Option<Placement> {
        self.placements.get(&booking_id).copied()
    }

    /// Writes the plans inside the caller's transaction: replaces the stops of
    /// each given vehicle-day, moves each planned booking to its plan's vehicle
    /// and takes its expected arrival from its dropoff. With `cancelled`, first
    /// cancels that booking and removes its stops from every stored plan.
    ///
    /// Refuses (so the caller's transaction rolls back) plans that visit a
    /// cancelled booking, leave a booking in a stored plan that was not
    /// replaced, or drop a confirmed booking's stop.
    pub(crate) async fn write(
        &self,
        store: &Store,
        conn: &mut AnyConnection,
        new_id: Option<i64>,
        cancelled: Option<i64>,
    ) -> Result<(), StoreError> {
        let real = |id: i64| if id == 0 { new_id.unwrap_or(0) } else { id };
        // Plans move only this service's vehicles (checked by the caller,
        // with the booking's other references) and bookings (below).

        // Lock every vehicle-day this call changes before reading any of them.
        let mut locks: BTreeSet<(i64, ServiceDay)> =
            self.plans.iter().map(|p| (p.vehicle_id, p.day)).collect();
        if let Some(id) = cancelled {
            let rows = sqlx::query("SELECT DISTINCT vehicle_id, day FROM plan_stops WHERE booking_id = $1")
                .bind(id)
                .fetch_all(&mut *conn)
                .await?;
            for row in rows {
                locks.insert((row.try_get("vehicle_id")?, to_day(row.try_get("day")?)?));
            }
        }
        for &(vehicle_id, day) in &locks {
            lock_plan(conn, vehicle_id, day).await?;
        }

        if let Some(id) = cancelled {
            let done = sqlx::query(
                "UPDATE bookings SET status = 'cancelled' WHERE id = $1 AND status = 'confirmed'",
            )
            .bind(id)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::AlreadyCancelled { id });
            }
            sqlx::query("DELETE FROM plan_stops WHERE booking_id = $1").bind(id).execute(&mut *conn).await?;
        }

        // Clear the given vehicle-days, remembering what was there.
        let mut removed: Vec<(i64, StopAction, i64, ServiceDay)> = Vec::new();
        for plan in &self.plans {
            let rows = sqlx::query(
                "DELETE FROM plan_stops WHERE vehicle_id = $1 AND day = $2 RETURNING booking_id, action",
            )
            .bind(plan.vehicle_id)
            .bind(i64::from(plan.day.0))
            .fetch_all(&mut *conn)
            .await?;
            for row in rows {
                let action = action_from_name(row.try_get("action")?)?;
                removed.push((row.try_get("booking_id")?, action, plan.vehicle_id, plan.day));
            }
        }

        for (&given_id, placement) in &self.placements {
            let id = real(given_id);
            let done = sqlx::query(
                "UPDATE bookings SET vehicle_id = $2, expected_arrival = COALESCE($3, expected_arrival) \
                 WHERE id = $1 AND status = 'confirmed' AND service_id = $4",
            )
            .bind(id)
            .bind(placement.vehicle_id)
            .bind(placement.dropoff_eta)
            .bind(store.service)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                let status: Option<String> =
                    sqlx::query_scalar("SELECT status FROM bookings WHERE id = $1 AND service_id = $2")
                        .bind(id)
                        .bind(store.service)
                        .fetch_optional(&mut *conn)
                        .await?;
                return Err(match status {
                    None => StoreError::NotFound { what: "booking", id },
                    Some(_) => StoreError::StalePlan(format!(
                        "the plan of vehicle {} on {} visits booking {id}, which is cancelled",
                        placement.vehicle_id, placement.day
                    )),
                });
            }
        }

        // A planned booking must not also stay in a plan this call leaves alone.
        let planned: Vec<i64> = self.placements.keys().map(|&id| real(id)).collect();
        for chunk in planned.chunks(IDS_PER_QUERY) {
            let sql = format!(
                "SELECT booking_id, vehicle_id, day FROM plan_stops WHERE booking_id IN ({}) LIMIT 1",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for &id in chunk {
                query = query.bind(id);
            }
            if let Some(row) = query.fetch_optional(&mut *conn).await? {
                let (id, vehicle_id): (i64, i64) = (row.try_get("booking_id")?, row.try_get("vehicle_id")?);
                return Err(StoreError::StalePlan(format!(
                    "booking {id} is still in the stored plan of vehicle {vehicle_id} on {}; \
                     send that vehicle-day's new plan in the same call",
                    to_day(row.try_get("day")?)?
                )));
            }
        }

        for plan in &self.plans {
            for (n, chunk) in plan.stops.chunks(ROWS_PER_INSERT).enumerate() {
                let sql = values_sql(
                    "INSERT INTO plan_stops (vehicle_id, day, position, booking_id, action, eta) VALUES",
                    6,
                    chunk.len(),
                );
                let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
                for (i, stop) in chunk.iter().enumerate() {
                    query = query
                        .bind(plan.vehicle_id)
                        .bind(i64::from(plan.day.0))
                        .bind((n * ROWS_PER_INSERT + i) as i64)
                        .bind(real(stop.booking_id))
                        .bind(action_name(stop.action))
                        .bind(stop.eta);
                }
                query.execute(&mut *conn).await.map_err(|e| {
                    match is_violation(&e, ErrorKind::UniqueViolation) {
                        true => StoreError::StalePlan(
                            "a booking in these plans was planned elsewhere at the same moment; \
                         re-plan from the stored plans and retry"
                                .to_string(),
                        ),
                        false => e.into(),
                    }
                })?;
            }
        }

        // Whatever left the plans must have been cancelled: a confirmed
        // booking that disappears means the plans were computed from a state
        // older than the stored one.
        let kept: HashSet<(i64, &str)> = self
            .plans
            .iter()
            .flat_map(|p| p.stops.iter().map(|s| (real(s.booking_id), action_name(s.action))))
            .collect();
        let mut dropped: BTreeMap<i64, (i64, ServiceDay)> = BTreeMap::new();
        for &(id, action, vehicle_id, day) in &removed {
            if Some(id) != cancelled && !kept.contains(&(id, action_name(action))) {
                dropped.insert(id, (vehicle_id, day));
            }
        }
        let dropped_ids: Vec<i64> = dropped.keys().copied().collect();
        for chunk in dropped_ids.chunks(IDS_PER_QUERY) {
            let sql = format!(
                "SELECT id FROM bookings WHERE status = 'confirmed' AND id IN ({}) ORDER BY id LIMIT 1",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_scalar(AssertSqlSafe(sql)).persistent(false);
            for &id in chunk {
                query = query.bind(id);
            }
            let lost: Option<i64> = query.fetch_optional(&mut *conn).await?;
            if let Some(id) = lost {
                let (vehicle_id, day) = dropped[&id];
                return Err(StoreError::StalePlan(format!(
                    "the new plans leave out confirmed booking {id} (planned on vehicle {vehicle_id} on {day}); \
                     only cancel_booking removes a booking from the plans, so these plans were probably \
                     computed before it was booked: re-plan from the stored plans and retry"
                )));
            }
        }
        Ok(())
    }
}

/// Creates the plan row of a vehicle-day if needed and bumps its revision,
/// which on PostgreSQL holds a row lock until the transaction ends: writers of
/// the same vehicle-day take turns.
async fn lock_plan(conn: &mut AnyConnection, vehicle_id: i64, day: ServiceDay) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO vehicle_day_plans (vehicle_id, day) VALUES ($1, $2) \
         ON CONFLICT (vehicle_id, day) DO UPDATE SET revision = vehicle_day_plans.revision + 1",
    )
    .bind(vehicle_id)
    .bind(i64::from(day.0))
    .execute(&mut *conn)
    .await
    .map_err(|e| match is_violation(&e, ErrorKind::ForeignKeyViolation) {
        true => StoreError::NotFound { what: "vehicle", id: vehicle_id },
        false => e.into(),
    })?;
    Ok(())
}

/// Reads the plans of `day` and later (an empty plan is one whose stops were
/// all cancelled or moved), by day then vehicle, stops in stored order. One
/// statement, so one consistent snapshot on both backends.
pub(crate) async fn read_plans_from(
    conn: &mut AnyConnection,
    service: i64,
    day: ServiceDay,
) -> Result<Vec<VehicleDayPlan>, StoreError> {
    let rows = sqlx::query(
        "SELECT p.vehicle_id, p.day, s.booking_id, s.action, s.eta \
         FROM vehicle_day_plans p \
         JOIN vehicles v ON v.id = p.vehicle_id \
         LEFT JOIN plan_stops s ON s.vehicle_id = p.vehicle_id AND s.day = p.day \
         WHERE p.day >= $1 AND v.service_id = $2 ORDER BY p.day, p.vehicle_id, s.position",
    )
    .bind(i64::from(day.0))
    .bind(service)
    .fetch_all(&mut *conn)
    .await?;
    let mut plans: Vec<VehicleDayPlan> = Vec::new();
    for row in rows {
        let vehicle_id: i64 = row.try_get("vehicle_id")?;
        let day = to_day(row.try_get("day")?)?;
        let plan = match plans.last_mut() {
            Some(last) if (last.vehicle_id, last.day) == (vehicle_id, day) => last,
            _ => {
                plans.push(VehicleDayPlan { vehicle_id, day, stops: Vec::new() });
                let n = plans.len();
                &mut plans[n - 1]
            }
        };
        let booking_id: Option<i64> = row.try_get("booking_id")?;
        if let Some(booking_id) = booking_id {
            let action: String = row.try_get("action")?;
            plan.stops.push(PlanStop {
                booking_id,
                action: action_from_name(&action)?,
                eta: row.try_get("eta")?,
            });
        }
    }
    Ok(plans)
}

impl Store {
    /// Replaces the stored plans of the given vehicle-days in one transaction
    /// (e.g. after the dispatcher improved them): each booking they visit moves
    /// to its plan's vehicle and takes its expected arrival from its dropoff.
    ///
    /// A booking moved between vehicles must have both its old and new
    /// vehicle-day in `plans`; a confirmed booking cannot be left out (cancel
    /// it instead). Either is a [`StoreError::StalePlan`] and nothing changes.
    pub async fn replace_plans(&self, plans: &[VehicleDayPlan]) -> Result<(), StoreError> {
        let set = PlanSet::new(plans, false)?;
        let mut w = self.begin_write().await?;
        self.check_references(&mut w.tx, &set.vehicle_refs()).await?;
        // A rider who boarded is with that vehicle: plans computed before
        // the driver said so may not hand the ride to another.
        for plan in plans {
            let mut ids: Vec<i64> = plan.stops.iter().map(|s| s.booking_id).collect();
            ids.sort_unstable();
            ids.dedup();
            for chunk in ids.chunks(IDS_PER_QUERY) {
                let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
                let sql = format!(
                    "SELECT booking_id, vehicle_id FROM vehicle_events WHERE vehicle_id <> $1 \
                     AND kind = 'boarded' AND booking_id IN ({}) LIMIT 1",
                    placeholders.join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false).bind(plan.vehicle_id);
                for &id in chunk {
                    query = query.bind(id);
                }
                if let Some(row) = query.fetch_optional(&mut *w.tx).await? {
                    let (booking, vehicle): (i64, i64) =
                        (row.try_get("booking_id")?, row.try_get("vehicle_id")?);
                    return Err(StoreError::StalePlan(format!(
                        "booking {booking} is with vehicle {vehicle}, which picked the rider up; plan again"
                    )));
                }
            }
        }
        set.write(self, &mut w.tx, None, None).await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// When each of `bookings` is planned to be picked up (Unix), as the
    /// plans stand now (they follow the road); bookings not in any plan are left out.
    pub async fn pickup_etas(&self, bookings: &[i64]) -> Result<HashMap<i64, i64>, StoreError> {
        let mut etas = HashMap::new();
        for chunk in bookings.chunks(IDS_PER_QUERY) {
            let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT booking_id, eta FROM plan_stops WHERE action = 'pickup' AND booking_id IN ({}) \
                 AND booking_id IN (SELECT id FROM bookings WHERE service_id = $1)",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false).bind(self.service);
            for &id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&self.pool).await? {
                etas.insert(row.try_get("booking_id")?, row.try_get("eta")?);
            }
        }
        Ok(etas)
    }

    /// The stored plans of `day` and later, by day then vehicle, for rebuilding
    /// the live plan after a restart.
    pub async fn plans_from(&self, day: ServiceDay) -> Result<Vec<VehicleDayPlan>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_plans_from(&mut conn, self.service, day).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(booking_id: i64, action: StopAction) -> PlanStop {
        PlanStop { booking_id, action, eta: 0 }
    }

    fn plan(vehicle_id: i64, stops: Vec<PlanStop>) -> VehicleDayPlan {
        VehicleDayPlan { vehicle_id, day: ServiceDay(20_000), stops }
    }

    #[test]
    fn plans_must_be_consistent_among_themselves() {
        use StopAction::{Dropoff, Pickup};
        let ok = [plan(2, vec![stop(5, Pickup), stop(0, Pickup), stop(5, Dropoff), stop(0, Dropoff)])];
        assert!(PlanSet::new(&ok, true).is_ok());
        assert!(PlanSet::new(&ok, false).is_err(), "booking 0 only in commit_booking");
        let twice = [plan(2, vec![]), plan(2, vec![])];
        assert!(PlanSet::new(&twice, false).is_err());
        let split = [plan(1, vec![stop(5, Pickup)]), plan(2, vec![stop(5, Dropoff)])];
        assert!(PlanSet::new(&split, false).is_err());
        let backwards = [plan(1, vec![stop(5, Dropoff), stop(5, Pickup)])];
        assert!(PlanSet::new(&backwards, false).is_err());
        let double = [plan(1, vec![stop(5, Pickup), stop(5, Pickup)])];
        assert!(PlanSet::new(&double, false).is_err());
    }

    #[test]
    fn placeholders_count_from_the_first() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
    }
}
