//! Partner notifications: written to the outbox with the health change that caused them,
//! one row per destination (the app's own, and the platform's queue when configured),
//! sent by a relay that retries each row on its own, so a failing destination delays
//! only its own messages and an outage loses none.

pub use crate::domain::notification as message;
pub use crate::domain::notification::Notification;

pub mod https;
pub mod relay;
pub mod senders;
pub mod sqs;

pub use relay::Relay;
pub use senders::Senders;

/// One message as it leaves: the same id on every destination.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub id: &'a str,
    /// `warning`, `deactivation`, `recovered`, or `test`.
    pub severity: &'a str,
    pub app_id: &'a str,
    pub webhook_id: Option<&'a str>,
    pub body: &'a serde_json::Value,
}
