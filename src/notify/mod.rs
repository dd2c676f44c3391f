//! Partner notifications: written to an outbox with the health change that caused them,
//! published to SQS by a relay, so an SQS outage delays them and loses none.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::health::rules::Severity;

pub mod message;
pub mod relay;
pub mod sqs;

pub use relay::Relay;

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
}
