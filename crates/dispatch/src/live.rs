//! The rules of live operations, pure so the server and the simulator judge
//! the road the same way: how far a ride has got from its events, which
//! event may come next, and when a rider who did not come counts as a
//! no-show.

use noriai_model::live::{EventKind, RideStatus};

/// Rules a service sets for the road.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveRules {
    /// A no-show may be reported once the promised pickup window has been
    /// open this long (the driver waits, and the operator may call).
    pub no_show_wait_s: i64,
}

impl Default for LiveRules {
    fn default() -> Self {
        Self { no_show_wait_s: 5 * 60 }
    }
}

/// Why an event about a ride is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A no-show before the wait is over; allowed from this Unix time.
    NotYet { allowed_from: i64 },
    /// The event does not follow from where the ride is.
    Out { status: RideStatus },
}

/// Where a ride is after its events (in the order they happened). A
/// no-show's booking is taken out of the plans like a cancelled one but
/// stays a no-show; any other cancelled booking is cancelled.
pub fn ride_status<'a>(cancelled: bool, events: impl IntoIterator<Item = &'a EventKind>) -> RideStatus {
    let status =
        events.into_iter().fold(RideStatus::Scheduled, |status, event| next(status, event).unwrap_or(status));
    match status {
        RideStatus::NoShow => RideStatus::NoShow,
        _ if cancelled => RideStatus::Cancelled,
        other => other,
    }
}

/// The status after `event`, or `None` when it does not apply there.
fn next(status: RideStatus, event: &EventKind) -> Option<RideStatus> {
    use RideStatus::*;
    match (status, event) {
        (Scheduled, EventKind::Arrived { .. }) => Some(Arrived),
        (Scheduled | Arrived, EventKind::Boarded { .. }) => Some(OnBoard),
        (Scheduled | Arrived, EventKind::NoShow { .. }) => Some(NoShow),
        (OnBoard, EventKind::Alighted { .. }) => Some(Completed),
        // Arriving at the drop-off with the rider on board changes nothing.
        (OnBoard, EventKind::Arrived { .. }) => Some(OnBoard),
        _ => None,
    }
}

/// Whether `event` about a ride now at `status`, whose promised pickup
/// window opens at `window_start`, may be recorded at `now`.
pub fn check(
    status: RideStatus,
    event: &EventKind,
    window_start: i64,
    now: i64,
    rules: LiveRules,
) -> Result<RideStatus, Refusal> {
    let after = next(status, event).ok_or(Refusal::Out { status })?;
    if let EventKind::NoShow { .. } = event {
        let allowed_from = window_start + rules.no_show_wait_s;
        if now < allowed_from {
            return Err(Refusal::NotYet { allowed_from });
        }
    }
    Ok(after)
}

/// A ride on a vehicle, as the alerts look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RideOnVehicle {
    pub booking_id: i64,
    pub status: RideStatus,
    /// The planned pickup, and the end of the window promised to the rider.
    pub planned_pickup: i64,
    pub promised_latest: i64,
}

/// What an operator must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// The vehicle cannot go on: riders waiting for it need another vehicle
    /// (or a call), riders on board need fetching.
    BrokenDown { vehicle_id: i64, waiting: Vec<i64>, on_board: Vec<i64> },
    /// The driver reported being late; these riders' promised windows end
    /// before the vehicle can now be there.
    Late { vehicle_id: i64, minutes: u32, promises_broken: Vec<i64> },
}

/// The alerts of one vehicle from its events (in order) and its rides. A
/// reported delay holds until the vehicle next arrives at a stop.
pub fn alerts(vehicle_id: i64, events: &[&EventKind], rides: &[RideOnVehicle]) -> Vec<Alert> {
    let mut out = Vec::new();
    let broken = events.iter().rev().find_map(|e| match e {
        EventKind::Breakdown { can_continue } => Some(!can_continue),
        EventKind::ShiftStarted { .. } => Some(false),
        _ => None,
    });
    if broken == Some(true) {
        let with = |wanted: &[RideStatus]| -> Vec<i64> {
            rides.iter().filter(|r| wanted.contains(&r.status)).map(|r| r.booking_id).collect()
        };
        out.push(Alert::BrokenDown {
            vehicle_id,
            waiting: with(&[RideStatus::Scheduled, RideStatus::Arrived]),
            on_board: with(&[RideStatus::OnBoard]),
        });
    }
    let delay = events.iter().rev().find_map(|e| match e {
        EventKind::Delayed { minutes, .. } => Some(Some(*minutes)),
        EventKind::Arrived { .. } => Some(None),
        _ => None,
    });
    if let Some(Some(minutes)) = delay {
        let late_s = i64::from(minutes) * 60;
        let promises_broken: Vec<i64> = rides
            .iter()
            .filter(|r| r.status == RideStatus::Scheduled && r.planned_pickup + late_s > r.promised_latest)
            .map(|r| r.booking_id)
            .collect();
        out.push(Alert::Late { vehicle_id, minutes, promises_broken });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const B: i64 = 7;

    fn kind(k: u8) -> EventKind {
        match k % 4 {
            0 => EventKind::Arrived { booking_id: B },
            1 => EventKind::Boarded { booking_id: B },
            2 => EventKind::NoShow { booking_id: B },
            _ => EventKind::Alighted { booking_id: B },
        }
    }

    #[test]
    fn a_ride_goes_scheduled_arrived_on_board_completed() {
        let ride = [
            EventKind::Arrived { booking_id: B },
            EventKind::Boarded { booking_id: B },
            EventKind::Arrived { booking_id: B },
            EventKind::Alighted { booking_id: B },
        ];
        assert_eq!(ride_status(false, &ride[..0]), RideStatus::Scheduled);
        assert_eq!(ride_status(false, &ride[..1]), RideStatus::Arrived);
        assert_eq!(ride_status(false, &ride[..2]), RideStatus::OnBoard);
        assert_eq!(ride_status(false, &ride[..3]), RideStatus::OnBoard);
        assert_eq!(ride_status(false, &ride), RideStatus::Completed);
        assert_eq!(ride_status(true, &ride), RideStatus::Cancelled);
        let gone = [EventKind::Arrived { booking_id: B }, EventKind::NoShow { booking_id: B }];
        assert_eq!(ride_status(true, &gone), RideStatus::NoShow, "a no-show leaves the plans as one");
    }

    #[test]
    fn a_no_show_waits_for_the_window_and_the_wait() {
        let rules = LiveRules { no_show_wait_s: 300 };
        let no_show = EventKind::NoShow { booking_id: B };
        assert_eq!(
            check(RideStatus::Arrived, &no_show, 1_000, 1_299, rules),
            Err(Refusal::NotYet { allowed_from: 1_300 })
        );
        assert_eq!(check(RideStatus::Arrived, &no_show, 1_000, 1_300, rules), Ok(RideStatus::NoShow));
        assert_eq!(
            check(RideStatus::OnBoard, &no_show, 1_000, 9_999, rules),
            Err(Refusal::Out { status: RideStatus::OnBoard })
        );
        let alight = EventKind::Alighted { booking_id: B };
        assert_eq!(
            check(RideStatus::Scheduled, &alight, 0, 0, rules),
            Err(Refusal::Out { status: RideStatus::Scheduled })
        );
    }

    #[test]
    fn a_breakdown_and_a_delay_raise_alerts_until_resolved() {
        use noriai_model::live::DelayReason;
        let ride = |booking_id, status, planned_pickup| RideOnVehicle {
            booking_id,
            status,
            planned_pickup,
            promised_latest: 1_000,
        };
        let rides = [
            ride(1, RideStatus::OnBoard, 0),
            ride(2, RideStatus::Scheduled, 500),
            ride(3, RideStatus::Scheduled, 900),
            ride(4, RideStatus::Completed, 0),
        ];
        let late = EventKind::Delayed { minutes: 5, reason: DelayReason::Snow };
        assert_eq!(
            alerts(9, &[&late], &rides),
            vec![Alert::Late { vehicle_id: 9, minutes: 5, promises_broken: vec![3] }]
        );
        let arrived = EventKind::Arrived { booking_id: 2 };
        assert!(alerts(9, &[&late, &arrived], &rides).is_empty(), "arriving ends the delay");
        let down = EventKind::Breakdown { can_continue: false };
        assert_eq!(
            alerts(9, &[&down], &rides),
            vec![Alert::BrokenDown { vehicle_id: 9, waiting: vec![2, 3], on_board: vec![1] }]
        );
        let limping = EventKind::Breakdown { can_continue: true };
        assert!(alerts(9, &[&down, &limping], &rides).is_empty());
    }

    proptest! {
        /// Folding only the events `check` accepts gives the status `check`
        /// reports, and never leaves a final state (completed, no-show).
        #[test]
        fn checked_events_agree_with_the_fold(kinds in prop::collection::vec(0u8..4, 0..12)) {
            let rules = LiveRules::default();
            let mut status = RideStatus::Scheduled;
            let mut accepted = Vec::new();
            for k in kinds {
                let event = kind(k);
                match check(status, &event, 0, rules.no_show_wait_s, rules) {
                    Ok(after) => {
                        prop_assert!(!matches!(status, RideStatus::Completed | RideStatus::NoShow));
                        status = after;
                        accepted.push(event);
                    }
                    Err(Refusal::Out { status: at }) => prop_assert_eq!(at, status),
                    Err(other) => prop_assert!(false, "{other:?}"),
                }
                prop_assert_eq!(ride_status(false, &accepted), status);
            }
        }
    }
}
