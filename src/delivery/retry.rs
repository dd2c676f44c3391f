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
}

impl AttemptClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::HttpError => "http_error",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Network => "network",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "success" => Self::Success,
            "http_error" => Self::HttpError,
            "timeout" => Self::Timeout,
            "connect" => Self::Connect,
            "network" => Self::Network,
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
    Custom {
        offsets_seconds: Vec<u64>,
        #[serde(default = "default_true")]
        retry_http_errors: bool,
    },
}

fn default_true() -> bool {
    true
}

pub const MAX_RETRIES: usize = 20;
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
                    "unknown retry policy preset {other:?}; use hibob, bindbee, exponential or {{\"offsets_seconds\": [...]}}"
                )),
            },
            RetryPolicySpec::Custom {
                offsets_seconds,
                retry_http_errors,
            } => {
                if offsets_seconds.len() > MAX_RETRIES {
                    return Err(format!("at most {MAX_RETRIES} retries"));
                }
                if offsets_seconds.iter().any(|&o| o == 0 || o > MAX_OFFSET_SECONDS) {
                    return Err(format!(
                        "each offset must be between 1 and {MAX_OFFSET_SECONDS} seconds"
                    ));
                }
                if offsets_seconds.windows(2).any(|w| w[0] >= w[1]) {
                    return Err("offsets must be strictly increasing".into());
                }
                Ok(Self {
                    name: "custom".into(),
                    offsets_seconds: offsets_seconds.clone(),
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
/// first attempt failing, that is this attempt's own start).
pub fn next_step(
    policy: &RetryPolicy,
    attempt_number: u32,
    class: AttemptClass,
    first_failure_at: DateTime<Utc>,
) -> NextStep {
    if class == AttemptClass::Success {
        return NextStep::Delivered;
    }
    if !policy.is_retryable(class) {
        return NextStep::Failed;
    }
    match policy
        .offsets_seconds
        .get(attempt_number.saturating_sub(1) as usize)
    {
        Some(&offset) => NextStep::RetryAt(first_failure_at + Duration::seconds(offset as i64)),
        None => NextStep::Failed,
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
            .map(|n| next_step(&policy, n, AttemptClass::HttpError, t0))
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
            next_step(&policy, 1, AttemptClass::HttpError, t0),
            NextStep::Failed
        );
        assert_eq!(
            next_step(&policy, 1, AttemptClass::Connect, t0),
            NextStep::RetryAt(t0 + Duration::seconds(5))
        );
        assert_eq!(
            next_step(&policy, 5, AttemptClass::Timeout, t0),
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
            RetryPolicy::from_spec(&RetryPolicySpec::Custom {
                offsets_seconds: offsets,
                retry_http_errors: true,
            })
            .is_err()
        };
        assert!(bad(vec![10, 5]));
        assert!(bad(vec![0]));
        assert!(bad(vec![MAX_OFFSET_SECONDS + 1]));
        assert!(bad((1..=21).collect()));
        assert!(!bad(vec![]));
        assert!(RetryPolicy::from_spec(&RetryPolicySpec::Preset("nope".into())).is_err());
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
            while let NextStep::RetryAt(at) = next_step(&policy, attempts, class, t0) {
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
        fn success_always_ends_the_delivery(policy in any_policy(), n in 1u32..30) {
            prop_assert_eq!(next_step(&policy, n, AttemptClass::Success, from_millis(0)), NextStep::Delivered);
        }
    }
}
