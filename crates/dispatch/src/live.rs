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

/// Where a ride is after its events (in the order they happened); a
/// cancelled booking stays cancelled.
pub fn ride_status<'a>(cancelled: bool, events: impl IntoIterator<Item = &'a EventKind>) -> RideStatus {
    if cancelled {
        return RideStatus::Cancelled;
    }
    events.into_iter().fold(RideStatus::Scheduled, |status, event| next(status, event).unwrap_or(status))
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
