//! What the use cases ask of the delivery runtime. The dispatcher implements it, so the
//! use cases (a layer below the runtime) never import it, and a test can stand in a
//! runtime of its own.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::destination::Destination;
use crate::domain::model::{ClaimedDelivery, Webhook};
use crate::domain::retry::AttemptClass;

/// A test send refused: the app's test sends of the last minute reached the cap.
#[derive(Debug, thiserror::Error)]
#[error("at most {per_minute} test sends a minute per app; try again in {} s", retry_after.as_secs().max(1))]
pub struct TestSendsExhausted {
    pub per_minute: u32,
    pub retry_after: Duration,
}

/// What a test send got back from the listener.
#[derive(Debug, Clone)]
pub struct TestSent {
    /// The `webhook-id` the test carried.
    pub msg_id: String,
    pub class: AttemptClass,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub excerpt: Option<String>,
    pub latency: Duration,
}

/// What the use cases ask of the notification runtime: a destination's test send.
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// Sends `body` (id `id`) to the destination now; the message id it was given, or
    /// what went wrong (the AWS error code and message, the HTTP status).
    async fn send_test(
        &self,
        destination: &Destination,
        id: &str,
        body: &serde_json::Value,
    ) -> Result<String, String>;
}

#[async_trait]
pub trait Deliveries: Send + Sync + 'static {
    /// Deliveries of `webhooks` became due now: their owner (this instance, or the one
    /// holding the listener) looks for them without waiting for its next poll.
    fn wake(&self, webhooks: &[&str]);
    /// This instance's id among the instances sharing the listeners (PostgreSQL, when it
    /// delivers); `None` when it is the only one.
    fn instance_id(&self) -> Option<&str>;
    /// The webhook is gone: drop what this instance keeps for it.
    fn forget_webhook(&self, webhook_id: &str);
    /// Attempts this instance sends to the webhook at once, at most.
    fn concurrency_limit(&self, webhook_id: &str) -> usize;
    /// Takes one of the app's test sends of this minute (webhooks' and notification
    /// destinations' share the cap).
    fn take_test_send(&self, app_id: &str) -> Result<(), TestSendsExhausted>;
    /// Sends a signed `webhook.test` event now; nothing is stored.
    async fn send_test(
        &self,
        webhook: &Webhook,
        data: &str,
    ) -> Result<TestSent, TestSendsExhausted>;

    // The fast path: a publish leases fresh deliveries to this instance where a webhook
    // has room, and hands them over without a claim.

    /// Whether the runtime takes deliveries from a publish now.
    fn fast_path_open(&self) -> bool;
    /// The end of a lease taken now.
    fn lease_until(&self) -> DateTime<Utc>;
    /// Takes a place under the webhook's limit for a delivery a publish is leasing.
    fn try_hold(&self, webhook_id: &str, partner_max: Option<i64>) -> bool;
    /// Gives back a place taken by [`try_hold`](Self::try_hold) for a publish that failed.
    fn release_hold(&self, webhook_id: &str);
    /// Sends deliveries a publish leased to this instance.
    async fn dispatch_leased(self: Arc<Self>, leased: Vec<ClaimedDelivery>);
}
