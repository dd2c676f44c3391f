//! Partner notifications: written to an outbox with the health change that caused them,
//! published to SQS by a relay, so an SQS outage delays them and loses none.

pub use crate::domain::notification as message;
pub use crate::domain::notification::Notification;

pub mod relay;
pub mod sqs;

pub use relay::Relay;
