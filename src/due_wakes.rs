//! Waking a webhook's owner from another instance (DESIGN.md, "Listener ownership"). A
//! publish, a resend, a replay or a reactivation on an instance that does not own the
//! webhook stores its deliveries and announces them here; the owner, listening, wakes
//! its claim loop at once instead of finding them at its next `HOOKGATE_IDLE_POLL`.
//!
//! Announcements linger [`LINGER`] and go out together, one statement for all the
//! webhooks gathered (a publish burst on a non-owner costs the database one `NOTIFY`
//! round trip every few milliseconds, not one a publish). A lost announcement costs a
//! delivery the poll interval, never the delivery: it is stored before it is announced.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::ownership::Ownership;
use crate::store::SharedStore;

/// How long announcements gather before they go out.
const LINGER: Duration = Duration::from_millis(2);
/// How long a listening connection that failed waits before it is made again.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

pub struct DueWakes {
    store: SharedStore,
    pending: Mutex<HashSet<String>>,
    ready: Notify,
}

impl DueWakes {
    pub fn new(store: SharedStore) -> Self {
        Self {
            store,
            pending: Mutex::default(),
            ready: Notify::new(),
        }
    }

    /// Tells the owners of `webhooks` (other instances) that deliveries of theirs fell
    /// due now. Returns at once; the announcement goes out within moments.
    pub fn announce<'a>(&self, webhooks: impl IntoIterator<Item = &'a str>) {
        let mut pending = self.pending.lock().expect("due wakes lock poisoned");
        let before = pending.len();
        pending.extend(webhooks.into_iter().map(str::to_string));
        if pending.len() != before {
            self.ready.notify_one();
        }
    }

    /// Sends what was announced, until `shutdown` (and what is pending then).
    pub async fn run_announcing(&self, shutdown: CancellationToken) {
        loop {
            let stopping = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = self.ready.notified() => false,
            };
            if !stopping {
                tokio::time::sleep(LINGER).await;
            }
            let webhooks: Vec<String> = self
                .pending
                .lock()
                .expect("due wakes lock poisoned")
                .drain()
                .collect();
            if !webhooks.is_empty() {
                // Bounded: a database that does not answer must not hold later ones.
                match tokio::time::timeout(RELISTEN_AFTER, self.store.announce_due(&webhooks)).await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::debug!(error = %e, "announcing due deliveries failed"),
                    Err(_) => tracing::debug!("announcing due deliveries timed out"),
                }
            }
            if stopping {
                return;
            }
        }
    }

    /// Wakes `claims` whenever another instance announces a webhook `ownership` holds
    /// here, until `shutdown`.
    pub async fn run_listening(
        &self,
        ownership: Arc<Ownership>,
        claims: Arc<Notify>,
        shutdown: CancellationToken,
    ) {
        while !shutdown.is_cancelled() {
            let signals = tokio::select! {
                _ = shutdown.cancelled() => return,
                listening = self.store.listen_due() => listening,
            };
            let mut signals = match signals {
                Ok(Some(signals)) => signals,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "listening for due deliveries failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(RELISTEN_AFTER) => continue,
                    }
                }
            };
            loop {
                let signal = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    signal = signals.next() => signal,
                };
                match signal {
                    Some(Ok(webhook)) => {
                        if ownership.fence(&webhook).is_some() {
                            claims.notify_one();
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "listening for due deliveries failed");
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(RELISTEN_AFTER) => {}
                        }
                    }
                    None => break,
                }
            }
        }
    }
}
