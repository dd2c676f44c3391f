//! The evaluator's schedule as data: which scheduled fire time ("slot") a tick belongs
//! to. Instances that fire on the same schedule, a little apart, name the same slot, so
//! each slot is evaluated once across a cluster, whatever the schedule's resolution.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

/// Every 30 minutes, at :00 and :30 (a cron expression with seconds).
pub const DEFAULT_SCHEDULE: &str = "0 0,30 * * * *";

#[derive(Debug, Clone)]
pub struct TickSchedule {
    cron: Cron,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid health schedule {expression:?}: {reason}")]
pub struct InvalidSchedule {
    expression: String,
    reason: String,
}

impl TickSchedule {
    /// Parses `expression` as tokio-cron-scheduler does (seconds required, day of month
    /// and day of week both applying), so the slots are the fire times it produces.
    pub fn parse(expression: &str) -> Result<Self, InvalidSchedule> {
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(expression)
            .map_err(|e| InvalidSchedule {
                expression: expression.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self { cron })
    }

    /// The latest fire time at or before `now`: the slot a tick firing at `now` evaluates.
    /// `now` itself when the schedule has none (it cannot fire then anyway).
    pub fn slot_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        // Cron times are whole seconds; croner would keep the fraction of `now`.
        let now = now.trunc_subsecs(0);
        self.cron
            .find_previous_occurrence(&now, true)
            .unwrap_or(now)
    }

    /// The time between the slot of `now` and the next one.
    pub fn interval_at(&self, now: DateTime<Utc>) -> Option<Duration> {
        let slot = self.slot_at(now);
        let next = self.cron.find_next_occurrence(&slot, false).ok()?;
        Some(next - slot)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::clock::from_millis;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().into()
    }

    #[test]
    fn slots_are_the_schedules_fire_times_to_the_second() {
        let every_two = TickSchedule::parse("*/2 * * * * *").unwrap();
        assert_eq!(
            every_two.slot_at(at("2026-11-28T10:00:03.900Z")),
            at("2026-11-28T10:00:02Z")
        );
        assert_eq!(
            every_two.slot_at(at("2026-11-28T10:00:04Z")),
            at("2026-11-28T10:00:04Z")
        );
        assert_eq!(
            every_two.interval_at(at("2026-11-28T10:00:05Z")),
            Some(Duration::seconds(2))
        );
        let half_hourly = TickSchedule::parse("0 0,30 * * * *").unwrap();
        assert_eq!(
            half_hourly.slot_at(at("2026-11-28T10:29:59Z")),
            at("2026-11-28T10:00:00Z")
        );
        assert_eq!(
            half_hourly.interval_at(at("2026-11-28T10:29:59Z")),
            Some(Duration::minutes(30))
        );
    }

    #[test]
    fn a_malformed_expression_is_refused() {
        for bad in ["", "* * * * *", "61 * * * * *", "every two seconds"] {
            assert!(TickSchedule::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        /// Two instances firing within the same interval name the same slot, and the
        /// slot is never after the firing.
        #[test]
        fn instances_a_little_apart_share_the_slot(start in 0i64..4_000_000_000_000, drift in 0i64..1_999) {
            let schedule = TickSchedule::parse("*/2 * * * * *").unwrap();
            let fired = schedule.slot_at(from_millis(start));
            let first = fired;
            let second = fired + Duration::milliseconds(drift);
            prop_assert_eq!(schedule.slot_at(first), schedule.slot_at(second));
            prop_assert!(schedule.slot_at(from_millis(start)) <= from_millis(start));
        }
    }
}
