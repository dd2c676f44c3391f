//! Where an app's health notifications go: the partner's own SQS queue (reached with the
//! gateway's credentials, which the queue's policy grants, or through an IAM role in the
//! partner's account assumed with an ExternalId hookgate issues), or a signed HTTPS
//! endpoint. Pure rules: what a queue URL and a role ARN look like, when a failed send is
//! tried again, when a destination counts as failing.

use chrono::{DateTime, TimeDelta, Utc};
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};

use super::health::Severity;

/// At most this many destinations per app.
pub const MAX_PER_APP: i64 = 5;
/// The outbox row of the gateway's own queue (`HOOKGATE_SQS_QUEUE_URL`).
pub const PLATFORM: &str = "platform";
/// A failed send is tried again for this long after its notification, then given up.
pub const GIVE_UP_AFTER: TimeDelta = TimeDelta::days(7);
/// The longest wait between two sends of one row.
pub const MAX_BACKOFF: TimeDelta = TimeDelta::hours(1);
/// An SQS queue name: 1–80 letters, digits, `-` and `_`, `.fifo` for a FIFO queue.
pub const QUEUE_NAME_MAX: usize = 80;
/// The longest role ARN IAM accepts.
pub const ROLE_ARN_MAX: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DestinationKind {
    Sqs,
    Https,
}

impl DestinationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqs => "sqs",
            Self::Https => "https",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sqs" => Some(Self::Sqs),
            "https" => Some(Self::Https),
            _ => None,
        }
    }
}

/// `failing` while the last send (or test) to it failed; `active` again after one succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DestinationState {
    Active,
    Failing,
}

impl DestinationState {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "failing" => Some(Self::Failing),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SendError {
    pub at: DateTime<Utc>,
    /// The AWS error code and message, or the HTTP status.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Destination {
    pub id: String,
    pub app_id: String,
    #[serde(rename = "type")]
    pub kind: DestinationKind,
    /// SQS: the queue's URL.
    pub queue_url: Option<String>,
    /// SQS: the queue's region.
    pub region: Option<String>,
    /// SQS: the role hookgate assumes to send, in the partner's account; without it,
    /// hookgate sends with its own credentials.
    pub role_arn: Option<String>,
    /// SQS: the ExternalId hookgate passes when assuming `role_arn`; put it in the role's
    /// trust policy.
    pub external_id: Option<String>,
    /// HTTPS: where the signed POST goes.
    pub url: Option<String>,
    /// HTTPS: the signing secret, shown on create and at `…/secret` only.
    #[serde(skip)]
    pub secret: Option<String>,
    pub severities: Vec<Severity>,
    pub description: String,
    pub state: DestinationState,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<SendError>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Destination {
    pub fn wants(&self, severity: Severity) -> bool {
        self.severities.contains(&severity)
    }
}

/// Every severity, the default of a new destination.
pub const ALL_SEVERITIES: [Severity; 3] = [
    Severity::Warning,
    Severity::Deactivation,
    Severity::Recovered,
];

/// How severities are stored: comma-separated, in the order of [`ALL_SEVERITIES`].
pub fn severities_text(severities: &[Severity]) -> String {
    ALL_SEVERITIES
        .iter()
        .filter(|s| severities.contains(s))
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn parse_severities(text: &str) -> Vec<Severity> {
    ALL_SEVERITIES
        .into_iter()
        .filter(|s| text.split(',').any(|t| t == s.as_str()))
        .collect()
}

/// The longest error a destination keeps (an AWS message, a connect error).
pub const ERROR_MAX: usize = 1000;

/// A send's error as it is stored: no NUL (PostgreSQL refuses it), at most
/// [`ERROR_MAX`] characters, whatever the destination or AWS answered.
pub fn stored_error(error: &str) -> String {
    let text = super::model::storable_text(error);
    match text.char_indices().nth(ERROR_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

/// A fresh ExternalId: unguessable, so only this destination's sends assume the role.
pub fn generate_external_id() -> String {
    format!(
        "hookgate-{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
    )
}

/// When a row that failed `attempts` times (this one included) is tried again: doubling
/// from 2 s up to an hour.
pub fn retry_delay(attempts: i64) -> TimeDelta {
    let exponent = attempts.clamp(1, 12) as u32;
    TimeDelta::seconds(1i64 << exponent).min(MAX_BACKOFF)
}

/// Whether a row of a notification created at `created_at` is given up at `now`.
pub fn gives_up(created_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - created_at >= GIVE_UP_AFTER
}

/// The region of an AWS SQS queue URL, `https://sqs.<region>.amazonaws.com/<account>/<name>`
/// (also `.amazonaws.com.cn`); `None` for anything else.
pub fn queue_url_region(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://sqs.")?;
    let (host_rest, path) = rest.split_once('/')?;
    let region = host_rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| host_rest.strip_suffix(".amazonaws.com.cn"))?;
    let (account, name) = path.split_once('/')?;
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (is_region(region) && account_ok && is_queue_name(name)).then_some(region)
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-4`…
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 4
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].len() == 1
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

fn is_queue_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    (1..=QUEUE_NAME_MAX).contains(&name.len())
        && !base.is_empty()
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `arn:<partition>:iam::<12 digits>:role/<path and name>`, as IAM writes it.
pub fn is_role_arn(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:") else {
        return false;
    };
    let mut parts = rest.splitn(5, ':');
    let (Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let Some(name) = resource.strip_prefix("role/") else {
        return false;
    };
    s.len() <= ROLE_ARN_MAX
        && matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && name.split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn aws_queue_urls_give_their_region() {
        let url = "https://sqs.eu-west-1.amazonaws.com/123456789012/partner-alerts";
        assert_eq!(queue_url_region(url), Some("eu-west-1"));
        let fifo = "https://sqs.us-gov-west-1.amazonaws.com/123456789012/a_b.fifo";
        assert_eq!(queue_url_region(fifo), Some("us-gov-west-1"));
        for bad in [
            "http://sqs.eu-west-1.amazonaws.com/123456789012/q",
            "https://sqs.eu-west-1.amazonaws.com/12345678901/q",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/q/x",
            "https://sqs.eu-west-1.evil.com/123456789012/q",
            "https://sqs.EU-west-1.amazonaws.com/123456789012/q",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/.fifo",
            "https://127.0.0.1/123456789012/q",
        ] {
            assert_eq!(queue_url_region(bad), None, "{bad}");
        }
    }

    #[test]
    fn role_arns_are_iam_roles() {
        assert!(is_role_arn(
            "arn:aws:iam::123456789012:role/hookgate-notify"
        ));
        assert!(is_role_arn(
            "arn:aws-cn:iam::123456789012:role/path/to/Role+=,.@_-"
        ));
        for bad in [
            "arn:aws:iam::123456789012:user/bob",
            "arn:aws:iam:us-east-1:123456789012:role/r",
            "arn:aws:s3::123456789012:role/r",
            "arn:aws:iam::1234:role/r",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
            "arn:aws:iam::123456789012:role/a//b",
            "role/r",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
    }

    #[test]
    fn errors_are_stored_without_nul_and_bounded() {
        assert_eq!(stored_error("Access\0Denied"), "Access\u{FFFD}Denied");
        let long = "é".repeat(5000);
        assert_eq!(stored_error(&long).chars().count(), ERROR_MAX + 1);
        assert_eq!(stored_error("HTTP 503"), "HTTP 503");
    }

    #[test]
    fn severities_round_trip_in_a_fixed_order() {
        let some = [Severity::Recovered, Severity::Warning];
        assert_eq!(severities_text(&some), "warning,recovered");
        assert_eq!(
            parse_severities("warning,recovered"),
            vec![Severity::Warning, Severity::Recovered]
        );
        assert_eq!(
            parse_severities(&severities_text(&ALL_SEVERITIES)),
            ALL_SEVERITIES
        );
    }

    proptest! {
        #[test]
        fn backoff_grows_and_is_capped_at_an_hour(a in 0i64..10_000, b in 0i64..10_000) {
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(retry_delay(lo) <= retry_delay(hi));
            prop_assert!(retry_delay(hi) <= MAX_BACKOFF);
            prop_assert!(retry_delay(lo) >= TimeDelta::seconds(2));
        }

        #[test]
        fn rows_are_retried_for_at_least_three_days(hours in 0i64..72) {
            let created = Utc::now();
            prop_assert!(!gives_up(created, created + TimeDelta::hours(hours)));
        }
    }
}
