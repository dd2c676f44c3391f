//! The health rules of a partner webhook as one pure function: (state, window figures,
//! now) → (new state, notifications). The evaluator only stores and sends what it returns.
//!
//! Edge cases, decided here:
//! - A window with no attempts is no evidence either way: the state is kept as it is and
//!   no mark (1 h, 3 h) is applied until attempts show the listener still failing.
//! - The failure start is the earlier of this evaluation and the first failed attempt in
//!   the window that opened the streak; later evaluations keep it.
//! - An evaluation that finds the streak already past 3 h deactivates at once and sends
//!   only the deactivation (it says everything a warning would).
//! - `recovered` is sent only when a warning went out in that streak.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::notification::Notification;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Healthy,
    Unavailable,
    Deactivated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Unavailable => "unavailable",
            Self::Deactivated => "deactivated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "healthy" => Self::Healthy,
            "unavailable" => Self::Unavailable,
            "deactivated" => Self::Deactivated,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthState {
    pub status: Status,
    pub failure_since: Option<DateTime<Utc>>,
    pub warned: bool,
}

impl HealthState {
    pub const HEALTHY: Self = Self {
        status: Status::Healthy,
        failure_since: None,
        warned: false,
    };
}

/// Attempts of one webhook in the evaluation window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowFigures {
    pub attempts: i64,
    pub failures: i64,
    pub first_failure_at: Option<DateTime<Utc>>,
}

impl WindowFigures {
    pub fn failure_rate(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.failures as f64 / self.attempts as f64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Deactivation,
    Recovered,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Deactivation => "deactivation",
            Self::Recovered => "recovered",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthRules {
    /// Failure rate at or above which a webhook is unavailable (0.8).
    pub threshold: f64,
    pub warn_after: Duration,
    pub deactivate_after: Duration,
}

impl Default for HealthRules {
    fn default() -> Self {
        Self {
            threshold: 0.8,
            warn_after: Duration::hours(1),
            deactivate_after: Duration::hours(3),
        }
    }
}

pub fn evaluate(
    state: HealthState,
    window: WindowFigures,
    now: DateTime<Utc>,
    rules: &HealthRules,
) -> (HealthState, Option<Severity>) {
    if state.status == Status::Deactivated {
        return (state, None);
    }
    let Some(rate) = window.failure_rate() else {
        return (state, None);
    };
    if rate < rules.threshold {
        let notice = state.warned.then_some(Severity::Recovered);
        return (HealthState::HEALTHY, notice);
    }
    let failure_since = state
        .failure_since
        .unwrap_or_else(|| window.first_failure_at.map_or(now, |first| first.min(now)));
    let unavailable_for = now - failure_since;
    if unavailable_for >= rules.deactivate_after {
        let deactivated = HealthState {
            status: Status::Deactivated,
            failure_since: Some(failure_since),
            warned: state.warned,
        };
        return (deactivated, Some(Severity::Deactivation));
    }
    let warn = !state.warned && unavailable_for >= rules.warn_after;
    let next = HealthState {
        status: Status::Unavailable,
        failure_since: Some(failure_since),
        warned: state.warned || warn,
    };
    (next, warn.then_some(Severity::Warning))
}

/// One active webhook as the evaluator sees it.
#[derive(Debug, Clone)]
pub struct HealthInput {
    pub webhook_id: String,
    pub app_id: String,
    pub app_name: String,
    pub url: String,
    pub state: HealthState,
    pub window: WindowFigures,
}

/// What one evaluation writes for one webhook, in one transaction.
#[derive(Debug, Clone)]
pub struct HealthChange {
    pub webhook_id: String,
    pub state: HealthState,
    pub evaluated_at: DateTime<Utc>,
    pub window: WindowFigures,
    pub notification: Option<Notification>,
    /// The notification goes to the gateway's own queue too, beside the app's
    /// destinations.
    pub platform_copy: bool,
}

/// What a webhook has waiting: deliveries due now, scheduled for later (retries), held
/// while it is deactivated, and the tenants with the most due (at most ten).
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Backlog {
    pub due: i64,
    pub scheduled: i64,
    pub held: i64,
    /// Most due first.
    pub top_tenants: Vec<TenantBacklog>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TenantBacklog {
    pub tenant_id: String,
    pub due: i64,
}

/// The tenants a backlog names at most.
pub const TOP_TENANTS: i64 = 10;

/// `GET …/webhooks/{id}/health`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct WebhookHealth {
    pub webhook_id: String,
    pub state: Status,
    pub failure_since: Option<DateTime<Utc>>,
    pub warned: bool,
    pub last_evaluated_at: Option<DateTime<Utc>>,
    pub window_attempts: i64,
    pub window_failures: i64,
    pub window_failure_rate: Option<f64>,
}

/// What a reactivation did with the deliveries kept while the webhook was off.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Reactivated {
    pub released: u64,
    pub skipped: u64,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::clock::from_millis;

    fn failing(attempts: i64, failures: i64, first: DateTime<Utc>) -> WindowFigures {
        WindowFigures {
            attempts,
            failures,
            first_failure_at: (failures > 0).then_some(first),
        }
    }

    /// Evaluations every 30 minutes of a listener that always fails.
    #[test]
    fn warning_at_one_hour_deactivation_at_three() {
        let rules = HealthRules::default();
        let t0 = from_millis(1_700_000_000_000);
        let mut state = HealthState::HEALTHY;
        let mut notices = Vec::new();
        for tick in 1..=8 {
            let now = t0 + Duration::minutes(30 * tick);
            let window = failing(
                4,
                4,
                if tick == 1 {
                    t0
                } else {
                    now - Duration::minutes(29)
                },
            );
            let (next, notice) = evaluate(state, window, now, &rules);
            if let Some(n) = notice {
                notices.push((tick * 30, n));
            }
            state = next;
        }
        assert_eq!(
            notices,
            vec![(60, Severity::Warning), (180, Severity::Deactivation)]
        );
        assert_eq!(state.status, Status::Deactivated);
        assert_eq!(state.failure_since, Some(t0));
    }

    #[test]
    fn seventy_percent_failures_is_never_unavailable() {
        let rules = HealthRules::default();
        let (state, notice) = evaluate(
            HealthState::HEALTHY,
            failing(10, 7, from_millis(0)),
            from_millis(1),
            &rules,
        );
        assert_eq!((state, notice), (HealthState::HEALTHY, None));
        let (state, _) = evaluate(
            HealthState::HEALTHY,
            failing(10, 8, from_millis(0)),
            from_millis(1),
            &rules,
        );
        assert_eq!(state.status, Status::Unavailable, "80 % is unavailable");
    }

    #[test]
    fn recovery_after_a_warning_is_announced() {
        let rules = HealthRules::default();
        let warned = HealthState {
            status: Status::Unavailable,
            failure_since: Some(from_millis(0)),
            warned: true,
        };
        let now = from_millis(90 * 60_000);
        assert_eq!(
            evaluate(warned, failing(10, 1, now), now, &rules),
            (HealthState::HEALTHY, Some(Severity::Recovered))
        );
        let unwarned = HealthState {
            warned: false,
            ..warned
        };
        assert_eq!(
            evaluate(unwarned, failing(10, 1, now), now, &rules),
            (HealthState::HEALTHY, None)
        );
    }

    #[test]
    fn an_empty_window_keeps_the_state() {
        let rules = HealthRules::default();
        let streak = HealthState {
            status: Status::Unavailable,
            failure_since: Some(from_millis(0)),
            warned: false,
        };
        let late = from_millis(5 * 3600 * 1000);
        assert_eq!(
            evaluate(streak, WindowFigures::default(), late, &rules),
            (streak, None)
        );
    }

    fn any_window() -> impl Strategy<Value = (i64, i64)> {
        (0i64..50).prop_flat_map(|attempts| (Just(attempts), 0..=attempts))
    }

    proptest! {
        /// Any sequence of evaluations: at most one warning per streak, a deactivation only
        /// after 3 h of unavailability, and nothing after deactivation.
        #[test]
        fn streak_properties(
            steps in proptest::collection::vec((any_window(), 1i64..120), 1..40),
        ) {
            let rules = HealthRules::default();
            let mut now = from_millis(1_700_000_000_000);
            let mut state = HealthState::HEALTHY;
            let mut warnings_in_streak = 0;
            for ((attempts, failures), minutes) in steps {
                let window = failing(attempts, failures, now - Duration::minutes(minutes.min(30)));
                now += Duration::minutes(minutes);
                let before = state;
                let (next, notice) = evaluate(state, window, now, &rules);
                match notice {
                    Some(Severity::Warning) => {
                        warnings_in_streak += 1;
                        prop_assert_eq!(warnings_in_streak, 1, "two warnings in one streak");
                        prop_assert!(now - next.failure_since.unwrap() >= rules.warn_after);
                    }
                    Some(Severity::Deactivation) => {
                        prop_assert!(now - next.failure_since.unwrap() >= rules.deactivate_after);
                        prop_assert_eq!(next.status, Status::Deactivated);
                    }
                    Some(Severity::Recovered) => prop_assert!(before.warned),
                    None => {}
                }
                if before.status == Status::Deactivated {
                    prop_assert_eq!(next, before);
                    prop_assert!(notice.is_none());
                }
                if next.status == Status::Healthy {
                    warnings_in_streak = 0;
                    prop_assert!(next.failure_since.is_none() && !next.warned);
                }
                state = next;
            }
        }
    }
}
