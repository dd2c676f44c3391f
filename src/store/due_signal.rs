//! Telling the other instances that deliveries fell due now, so that a webhook's owner
//! sends a delivery another instance stored within moments, not at its next poll
//! (DESIGN.md, "Listener ownership"). PostgreSQL carries it with `NOTIFY` on one
//! channel, a webhook id a notification; SQLite is one instance and has nobody to tell.
//!
//! A signal is only a hint: one lost (the listening connection dropped, the database
//! restarted) costs its delivery a poll interval, never the delivery, which is stored
//! before it is announced.

use async_trait::async_trait;
use futures::stream::BoxStream;

use super::StoreResult;

/// The channel the instances' signals go on.
pub const DUE_CHANNEL: &str = "hookgate_due";

/// What arrives on a listening instance: a webhook whose deliveries fell due, or a
/// failure of the listening connection (the next item waits for it to be re-made).
pub type DueSignals = BoxStream<'static, StoreResult<String>>;

#[async_trait]
pub trait DueSignal: Send + Sync {
    /// Tells every listening instance that `webhooks` have deliveries due now.
    async fn announce_due(&self, _webhooks: &[String]) -> StoreResult<()> {
        Ok(())
    }

    /// The webhooks other instances announce, from now on; `None` where there are no
    /// other instances to hear from.
    async fn listen_due(&self) -> StoreResult<Option<DueSignals>> {
        Ok(None)
    }
}
