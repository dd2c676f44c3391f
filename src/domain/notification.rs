//! The notification a partner receives, built from one evaluation of one webhook.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;

use super::health::{HealthInput, Severity, WindowFigures};
use super::model::rfc3339;

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Notification {
    /// Stable: also the SQS message attribute and FIFO deduplication id.
    pub id: String,
    pub app_id: String,
    pub webhook_id: String,
    pub severity: Severity,
    /// The message body, as sent.
    pub body: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub publish_attempts: i64,
    pub last_error: Option<String>,
    /// One per destination it was written for (`platform`: the gateway's own queue).
    pub sends: Vec<NotificationSend>,
}

/// How one notification fared at one destination.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct NotificationSend {
    /// A destination's id, or `platform`.
    pub destination_id: String,
    pub state: SendState,
    pub attempts: i64,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// `expired`: given up after days of failing, or its destination was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SendState {
    Pending,
    Sent,
    Expired,
}

impl SendState {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// What a destination's test send carries: the shape of a notification, `severity`
/// `test`, so a consumer's parsing is tested too. Never stored.
pub fn test_message(
    app_id: &str,
    app_name: &str,
    now: DateTime<Utc>,
) -> (String, serde_json::Value) {
    let id = format!("ntf_test_{}", uuid::Uuid::now_v7().simple());
    let body = json!({
        "id": id,
        "type": "webhook.health",
        "severity": "test",
        "app": {"id": app_id, "name": app_name},
        "webhook": null,
        "failure_started_at": null,
        "evaluated_at": rfc3339(now),
        "window": null,
        "recommended_next_steps": [
            "This is a test from hookgate: your destination receives notifications. No action is needed."
        ],
    });
    (id, body)
}

fn next_steps(severity: Severity) -> &'static [&'static str] {
    match severity {
        Severity::Warning => &[
            "Your webhook listener has failed at least 80% of deliveries for over an hour.",
            "Check that the listener is reachable and answers 2xx within the timeout (10 s by default).",
            "Look at the attempt log (GET /v1/apps/{app}/webhooks/{id}/attempts) for status codes and errors.",
            "If it keeps failing for 3 hours in total, the webhook will be deactivated.",
        ],
        Severity::Deactivation => &[
            "Your webhook has been deactivated after 3 hours of failing deliveries; no events are sent to it now.",
            "Events published meanwhile are kept as held deliveries.",
            "Fix the listener, then reactivate: POST /v1/apps/{app}/webhooks/{id}/reactivate with {\"replay\": true} to receive the held events, or {\"replay\": false} to drop them.",
        ],
        Severity::Recovered => &[
            "Your webhook listener is answering again; no action is needed.",
            "Deliveries that failed during the outage are retried on their schedule.",
        ],
    }
}

pub fn build(
    input: &HealthInput,
    severity: Severity,
    failure_since: Option<DateTime<Utc>>,
    window: WindowFigures,
    window_length: Duration,
    now: DateTime<Utc>,
) -> Notification {
    let id = format!("ntf_{}", uuid::Uuid::now_v7().simple());
    let steps: Vec<String> = next_steps(severity)
        .iter()
        .map(|s| {
            s.replace("{app}", &input.app_id)
                .replace("{id}", &input.webhook_id)
        })
        .collect();
    let body = json!({
        "id": id,
        "type": "webhook.health",
        "severity": severity.as_str(),
        "app": {"id": input.app_id, "name": input.app_name},
        "webhook": {"id": input.webhook_id, "url": input.url},
        "failure_started_at": failure_since.map(rfc3339),
        "evaluated_at": rfc3339(now),
        "window": {
            "start": rfc3339(now - window_length),
            "end": rfc3339(now),
            "attempts": window.attempts,
            "failures": window.failures,
            "failure_rate": window.failure_rate(),
        },
        "recommended_next_steps": steps,
    });
    Notification {
        id,
        app_id: input.app_id.clone(),
        webhook_id: input.webhook_id.clone(),
        severity,
        body,
        created_at: now,
        sent_at: None,
        publish_attempts: 0,
        last_error: None,
        sends: Vec::new(),
    }
}
