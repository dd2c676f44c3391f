//! Retry policies are data: a list of offsets measured from the *first* failure of a
//! delivery, and whether an HTTP error status is worth retrying at all.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How one attempt ended. Stored as its `as_str()` form in the attempts table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptClass {
    /// A 2xx answer within the timeout.
    Success,
    /// Any other status, 3xx included: redirects are never followed.
    HttpError,
    /// No complete answer within the webhook's timeout.
    Timeout,
    /// The connection could not be made (refused, DNS, unreachable, refused target).
    Connect,
    /// Reset, TLS or protocol error after connecting.
    Network,
    /// The receiver answered with `webhook-delivery: abort-message` (Svix's convention):
    /// it wants no more attempts of this delivery, whatever the status.
    Aborted,
}

impl AttemptClass {
    pub const ALL: [Self; 6] = [
        Self::Success,
        Self::HttpError,
        Self::Timeout,
        Self::Connect,
        Self::Network,
        Self::Aborted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::HttpError => "http_error",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Network => "network",
            Self::Aborted => "aborted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "success" => Self::Success,
            "http_error" => Self::HttpError,
            "timeout" => Self::Timeout,
            "connect" => Self::Connect,
            "network" => Self::Network,
            "aborted" => Self::Aborted,
            _ => return None,
        })
    }

    fn is_network_error(self) -> bool {
        matches!(self, Self::Timeout | Self::Connect | Self::Network)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RetryPolicy {
    /// `hibob`, `bindbee`, `exponential` or `custom`.
    pub name: String,
    /// Retry `k` (1-based) is due `offsets_seconds[k - 1]` after the first failure.
    pub offsets_seconds: Vec<u64>,
    /// When false only network errors (timeout, connect, reset) are retried.
    pub retry_http_errors: bool,
}

/// What the partner may send: a preset name or an explicit list.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum RetryPolicySpec {
    Preset(String),
    Custom(CustomPolicy),
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomPolicy {
    #[serde(deserialize_with = "crate::domain::whole::vec")]
    pub offsets_seconds: Vec<u64>,
    #[serde(default = "default_true")]
    pub retry_http_errors: bool,
}

fn default_true() -> bool {
    true
}

pub const MAX_RETRIES: usize = 20;
/// The named schedules `RetryPolicySpec::Preset` takes.
pub const PRESETS: &[&str] = &["hibob", "bindbee", "exponential"];
pub const MAX_OFFSET_SECONDS: u64 = 7 * 24 * 3600;

impl RetryPolicy {
    /// HiBob's partner schedule: 1, 10, 20, 40, 80, 160 minutes after the first failure.
    pub fn hibob() -> Self {
        Self {
            name: "hibob".into(),
            offsets_seconds: [1, 10, 20, 40, 80, 160].iter().map(|m| m * 60).collect(),
            retry_http_errors: true,
        }
    }

    /// Bindbee: network errors only, 4 retries within 60 s, no retry on any HTTP status.
    pub fn bindbee() -> Self {
        Self {
            name: "bindbee".into(),
            offsets_seconds: vec![5, 15, 30, 60],
            retry_http_errors: false,
        }
    }

    /// Bridge-style exponential back-off: doubling from 1 minute, last retry at 2 days.
    pub fn exponential() -> Self {
        let mut offsets: Vec<u64> = (0..12).map(|k| 60 << k).collect();
        offsets.push(2 * 24 * 3600);
        Self {
            name: "exponential".into(),
            offsets_seconds: offsets,
            retry_http_errors: true,
        }
    }

    pub fn from_spec(spec: &RetryPolicySpec) -> Result<Self, String> {
        match spec {
            RetryPolicySpec::Preset(name) => match name.as_str() {
                "hibob" => Ok(Self::hibob()),
                "bindbee" => Ok(Self::bindbee()),
                "exponential" => Ok(Self::exponential()),
                other => Err(format!(
                    "unknown retry policy preset {other:?}; use {} or {{\"offsets_seconds\": [...]}}",
                    PRESETS.join(", ")
                )),
            },
            RetryPolicySpec::Custom(CustomPolicy {
                offsets_seconds,
                retry_http_errors,
            }) => {
                if offsets_seconds.len() > MAX_RETRIES {
                    return Err(format!("at most {MAX_RETRIES} retries"));
                }
                if offsets_seconds.iter().any(|&o| o == 0 || o > MAX_OFFSET_SECONDS) {
                    return Err(format!(
                        "each offset must be between 1 and {MAX_OFFSET_SECONDS} seconds"
                    ));
                }
                // A set of times: sorted here, so only a repeat is a mistake.
                let mut offsets = offsets_seconds.clone();
                offsets.sort_unstable();
                if offsets.windows(2).any(|w| w[0] == w[1]) {
                    return Err("offsets must not repeat".into());
                }
                Ok(Self {
                    name: "custom".into(),
                    offsets_seconds: offsets,
                    retry_http_errors: *retry_http_errors,
                })
            }
        }
    }

    fn is_retryable(&self, class: AttemptClass) -> bool {
        class.is_network_error() || (class == AttemptClass::HttpError && self.retry_http_errors)
    }
}

/// What happens to a delivery after one of its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(DateTime<Utc>),
    /// Out of retries, or a failure the policy does not retry.
    Failed,
}

/// `attempt_number` is 1-based: the first attempt is not a retry, attempt `n` is retry `n-1`.
/// `first_failure_at` is when the first failed attempt of this delivery started (for the
/// first attempt failing, that is this attempt's own start). `not_before` is what the
/// receiver asked for with `Retry-After`: it can push the next retry later than the
/// policy's offset, never earlier, and never past the policy's last offset, so neither
/// the number of retries nor the schedule's end moves.
pub fn next_step(
    policy: &RetryPolicy,
    attempt_number: u32,
    class: AttemptClass,
    first_failure_at: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
) -> NextStep {
    if class == AttemptClass::Success {
        return NextStep::Delivered;
    }
    if !policy.is_retryable(class) {
        return NextStep::Failed;
    }
    let at_offset = |offset: u64| first_failure_at + Duration::seconds(offset as i64);
    let Some(&offset) = policy
        .offsets_seconds
        .get(attempt_number.saturating_sub(1) as usize)
    else {
        return NextStep::Failed;
    };
    let due = at_offset(offset);
    let last = policy.offsets_seconds.last().map_or(due, |&o| at_offset(o));
    NextStep::RetryAt(match not_before {
        Some(asked) if asked > due => asked.min(last),
        _ => due,
    })
}

/// A `Retry-After` value (RFC 9110 §10.2.3): a number of seconds or an HTTP date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    Seconds(u64),
    At(DateTime<Utc>),
}

impl RetryAfter {
    /// `None` for anything that is neither form: a malformed header is ignored.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Self::Seconds(seconds));
        }
        httpdate::parse_http_date(value)
            .ok()
            .map(|t| Self::At(DateTime::<Utc>::from(t)))
    }

    /// The earliest time the receiver accepts another attempt, for an answer at `answered_at`.
    pub fn not_before(self, answered_at: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            // Clamped so that absurd values cannot overflow the date arithmetic; the
            // policy's last offset bounds the result anyway.
            Self::Seconds(s) => {
                answered_at + Duration::seconds(s.min(MAX_OFFSET_SECONDS * 2) as i64)
            }
            Self::At(t) => t,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::clock::from_millis;

    const FAILURES: [AttemptClass; 4] = [
        AttemptClass::HttpError,
        AttemptClass::Timeout,
        AttemptClass::Connect,
        AttemptClass::Network,
    ];

    #[test]
    fn hibob_schedule_is_1_10_20_40_80_160_minutes_after_first_failure() {
        let t0 = from_millis(1_700_000_000_000);
        let policy = RetryPolicy::hibob();
        let due: Vec<_> = (1..=7)
            .map(|n| next_step(&policy, n, AttemptClass::HttpError, t0, None))
            .collect();
        let minutes = |m| NextStep::RetryAt(t0 + Duration::minutes(m));
        assert_eq!(
            due,
            vec![
                minutes(1),
                minutes(10),
                minutes(20),
                minutes(40),
                minutes(80),
                minutes(160),
                NextStep::Failed
            ]
        );
    }

    #[test]
    fn bindbee_never_retries_an_http_status_but_retries_network_errors() {
        let t0 = from_millis(0);
        let policy = RetryPolicy::bindbee();
        assert_eq!(
            next_step(&policy, 1, AttemptClass::HttpError, t0, None),
            NextStep::Failed
        );
        assert_eq!(
            next_step(&policy, 1, AttemptClass::Connect, t0, None),
            NextStep::RetryAt(t0 + Duration::seconds(5))
        );
        assert_eq!(
            next_step(&policy, 5, AttemptClass::Timeout, t0, None),
            NextStep::Failed
        );
    }

    #[test]
    fn exponential_ends_at_two_days() {
        let policy = RetryPolicy::exponential();
        assert_eq!(*policy.offsets_seconds.last().unwrap(), 172_800);
        assert!(policy.offsets_seconds.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn custom_specs_are_validated() {
        let bad = |offsets: Vec<u64>| {
            RetryPolicy::from_spec(&RetryPolicySpec::Custom(CustomPolicy {
                offsets_seconds: offsets,
                retry_http_errors: true,
            }))
            .is_err()
        };
        assert!(bad(vec![10, 5, 10]));
        let sorted = RetryPolicy::from_spec(&RetryPolicySpec::Custom(CustomPolicy {
            offsets_seconds: vec![600, 60],
            retry_http_errors: true,
        }));
        assert_eq!(sorted.unwrap().offsets_seconds, vec![60, 600]);
        assert!(bad(vec![0]));
        assert!(bad(vec![MAX_OFFSET_SECONDS + 1]));
        assert!(bad((1..=21).collect()));
        assert!(!bad(vec![]));
        assert!(RetryPolicy::from_spec(&RetryPolicySpec::Preset("nope".into())).is_err());
    }

    #[test]
    fn an_aborted_delivery_fails_at_once_under_every_policy() {
        for policy in [
            RetryPolicy::hibob(),
            RetryPolicy::bindbee(),
            RetryPolicy::exponential(),
        ] {
            assert_eq!(
                next_step(&policy, 1, AttemptClass::Aborted, from_millis(0), None),
                NextStep::Failed
            );
        }
    }

    #[test]
    fn retry_after_delays_within_the_policy_bounds() {
        let t0 = from_millis(1_700_000_000_000);
        let hibob = RetryPolicy::hibob();
        let retry = |n, asked| next_step(&hibob, n, AttemptClass::HttpError, t0, Some(asked));
        // Later than the policy's 1 minute: honoured.
        assert_eq!(
            retry(1, t0 + Duration::minutes(5)),
            NextStep::RetryAt(t0 + Duration::minutes(5))
        );
        // Earlier than the policy: the policy's offset stands.
        assert_eq!(
            retry(2, t0 + Duration::minutes(2)),
            NextStep::RetryAt(t0 + Duration::minutes(10))
        );
        // Past the policy's last offset: capped at it.
        assert_eq!(
            retry(1, t0 + Duration::days(3)),
            NextStep::RetryAt(t0 + Duration::minutes(160))
        );
        // Out of retries stays out of retries.
        assert_eq!(retry(7, t0 + Duration::minutes(5)), NextStep::Failed);
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        assert_eq!(RetryAfter::parse(" 120 "), Some(RetryAfter::Seconds(120)));
        assert_eq!(
            RetryAfter::parse("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(RetryAfter::At(
                chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
                    .unwrap()
                    .into()
            ))
        );
        for bad in ["", "-5", "1.5", "soon", "Wed, 32 Oct 2015 07:28:00 GMT"] {
            assert_eq!(RetryAfter::parse(bad), None, "{bad:?}");
        }
        let t = from_millis(0);
        assert_eq!(
            RetryAfter::Seconds(30).not_before(t),
            t + Duration::seconds(30)
        );
        assert!(RetryAfter::Seconds(u64::MAX).not_before(t) > t);
    }

    fn any_policy() -> impl Strategy<Value = RetryPolicy> {
        (
            proptest::collection::btree_set(1..MAX_OFFSET_SECONDS, 0..MAX_RETRIES),
            any::<bool>(),
        )
            .prop_map(|(offsets, retry_http_errors)| RetryPolicy {
                name: "custom".into(),
                offsets_seconds: offsets.into_iter().collect(),
                retry_http_errors,
            })
    }

    proptest! {
        #[test]
        fn a_delivery_is_attempted_at_most_retries_plus_one_times(
            policy in any_policy(), class_idx in 0usize..4, start in 0i64..4_000_000_000_000,
        ) {
            let t0 = from_millis(start);
            let class = FAILURES[class_idx];
            let mut attempts = 1u32;
            let mut last = t0;
            while let NextStep::RetryAt(at) = next_step(&policy, attempts, class, t0, None) {
                prop_assert!(at > last, "retries move strictly forward");
                last = at;
                attempts += 1;
            }
            prop_assert!(attempts as usize <= policy.offsets_seconds.len() + 1);
            if class == AttemptClass::HttpError && !policy.retry_http_errors {
                prop_assert_eq!(attempts, 1);
            } else {
                prop_assert_eq!(attempts as usize, policy.offsets_seconds.len() + 1);
            }
        }

        #[test]
        fn retry_after_never_moves_a_retry_earlier_nor_past_the_last_offset_nor_adds_one(
            policy in any_policy(), class_idx in 0usize..4,
            asked in proptest::collection::vec(0i64..2 * MAX_OFFSET_SECONDS as i64, MAX_RETRIES + 1),
        ) {
            let t0 = from_millis(1_700_000_000_000);
            let class = FAILURES[class_idx];
            let mut attempts = 1u32;
            loop {
                let not_before = t0 + Duration::seconds(asked[attempts as usize - 1]);
                let with = next_step(&policy, attempts, class, t0, Some(not_before));
                let without = next_step(&policy, attempts, class, t0, None);
                match (with, without) {
                    (NextStep::RetryAt(at), NextStep::RetryAt(policy_at)) => {
                        let last = t0 + Duration::seconds(*policy.offsets_seconds.last().unwrap() as i64);
                        prop_assert!(at >= policy_at && at <= last);
                        prop_assert!(at == policy_at || at == not_before || at == last);
                    }
                    (with, without) => {
                        prop_assert_eq!(with, without);
                        break;
                    }
                }
                attempts += 1;
            }
            prop_assert!(attempts as usize <= policy.offsets_seconds.len() + 1);
        }

        #[test]
        fn success_always_ends_the_delivery(policy in any_policy(), n in 1u32..30) {
            prop_assert_eq!(next_step(&policy, n, AttemptClass::Success, from_millis(0), None), NextStep::Delivered);
        }
    }
}
