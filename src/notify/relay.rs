//! Publishes pending outbox rows to SQS and marks them sent. A failed publish stays in the
//! outbox and is retried with back-off, so an SQS outage delays notifications, never
//! loses them. Rows are leased while being published so two relays do not both send one.

use std::time::Duration;

use chrono::TimeDelta;
use tokio_util::sync::CancellationToken;

use super::sqs::SqsPublisher;
use crate::clock::SharedClock;
use crate::store::{SharedStore, StoreError};

const BATCH: i64 = 10;
const LEASE: TimeDelta = TimeDelta::seconds(60);
const MAX_BACKOFF_SECONDS: i64 = 300;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayOutcome {
    pub sent: usize,
    pub failed: usize,
}

pub struct Relay {
    store: SharedStore,
    clock: SharedClock,
    publisher: SqsPublisher,
    poll: Duration,
}

impl Relay {
    pub fn new(
        store: SharedStore,
        clock: SharedClock,
        publisher: SqsPublisher,
        poll: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            publisher,
            poll,
        }
    }

    /// Publishes one batch of due outbox rows.
    pub async fn run_once(&self) -> Result<RelayOutcome, StoreError> {
        let now = self.clock.now();
        let pending = self
            .store
            .claim_notifications(now, now + LEASE, BATCH)
            .await?;
        let mut outcome = RelayOutcome::default();
        for n in pending {
            let span = tracing::info_span!(
                "notification.publish",
                notification_id = %n.id,
                app_id = %n.app_id,
                webhook_id = %n.webhook_id,
                severity = n.severity.as_str(),
            );
            let published = tracing::Instrument::instrument(self.publisher.publish(&n), span).await;
            match published {
                Ok(()) => {
                    self.store
                        .mark_notification_sent(&n.id, self.clock.now())
                        .await?;
                    tracing::info!(notification_id = %n.id, webhook_id = %n.webhook_id,
                        severity = n.severity.as_str(), "notification published");
                    metrics::counter!(crate::metrics::NOTIFICATIONS_PUBLISHED, "severity" => n.severity.as_str())
                        .increment(1);
                    outcome.sent += 1;
                }
                Err(e) => {
                    let backoff = (1i64 << n.publish_attempts.clamp(0, 8)).min(MAX_BACKOFF_SECONDS);
                    let retry_at = self.clock.now() + TimeDelta::seconds(backoff);
                    tracing::warn!(notification_id = %n.id, error = %e, backoff_s = backoff,
                        "notification publish failed; kept in the outbox");
                    self.store
                        .release_notification(&n.id, &e.to_string(), retry_at)
                        .await?;
                    metrics::counter!(crate::metrics::SQS_PUBLISH_ERRORS).increment(1);
                    outcome.failed += 1;
                }
            }
        }
        Ok(outcome)
    }

    pub async fn run(self: std::sync::Arc<Self>, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let wait = match self.run_once().await {
                Ok(o) if o.sent > 0 && o.failed == 0 => continue,
                Ok(_) => self.poll,
                Err(e) => {
                    tracing::error!(error = %e, "outbox relay failed");
                    self.poll
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
