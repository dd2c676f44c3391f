//! Sends the outbox's rows and marks them sent. Each row is its destination's oldest
//! pending one (the claim sees to it), so a destination's messages arrive in creation
//! order. The rows of one claim are sent concurrently, each bounded in time, and claims
//! go on while a batch is out, so a slow or failing destination never delays another's.
//! A failed row is due again after a backoff growing to an hour and is given up after
//! days. Rows are leased while being sent, so two relays do not both send one; a relay
//! that dies mid-send leaves its rows to expire and be sent again (at least once, with
//! the same id).

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use tokio_util::sync::CancellationToken;

use super::{Outgoing, Senders};
use crate::clock::SharedClock;
use crate::domain::destination::{self, PLATFORM};
use crate::store::{ClaimedSend, SharedStore, StoreError};

const BATCH: i64 = 32;
/// Batches out at once (each holds at most one row of a destination).
const BATCHES: usize = 8;
const LEASE: TimeDelta = TimeDelta::seconds(60);
/// One send's bound, well inside the lease.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayOutcome {
    pub sent: usize,
    pub failed: usize,
}

pub struct Relay {
    store: SharedStore,
    clock: SharedClock,
    senders: Arc<Senders>,
    poll: Duration,
}

/// What one row's send came to.
enum Sent {
    Ok,
    Failed(String),
    /// Its destination is gone.
    Orphaned,
}

impl Relay {
    pub fn new(
        store: SharedStore,
        clock: SharedClock,
        senders: Arc<Senders>,
        poll: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            senders,
            poll,
        }
    }

    /// Claims one batch of due rows and sends it.
    pub async fn run_once(&self) -> Result<RelayOutcome, StoreError> {
        let claimed = self.claim().await?;
        self.send_batch(claimed).await
    }

    async fn claim(&self) -> Result<Vec<ClaimedSend>, StoreError> {
        let now = self.clock.now();
        let include_platform = self.senders.platform.is_some();
        self.store
            .claim_sends(now, now + LEASE, BATCH, include_platform)
            .await
    }

    /// Sends claimed rows concurrently and records each outcome.
    async fn send_batch(&self, claimed: Vec<ClaimedSend>) -> Result<RelayOutcome, StoreError> {
        let sends = claimed.iter().map(|row| self.send_one(row));
        let results = futures::future::join_all(sends).await;
        let mut outcome = RelayOutcome::default();
        for (row, (kind, result)) in claimed.iter().zip(results) {
            let n = &row.notification;
            let now = self.clock.now();
            match result {
                Sent::Ok => {
                    self.store
                        .mark_send_sent(&n.id, &row.destination_id, now)
                        .await?;
                    tracing::info!(notification_id = %n.id, destination_id = %row.destination_id,
                        webhook_id = %n.webhook_id, severity = n.severity.as_str(), "notification sent");
                    metrics::counter!(crate::metrics::NOTIFICATIONS_PUBLISHED, "severity" => n.severity.as_str())
                        .increment(1);
                    metrics::counter!(crate::metrics::NOTIFICATION_SENDS, "destination" => kind, "outcome" => "sent")
                        .increment(1);
                    outcome.sent += 1;
                }
                Sent::Failed(error) => {
                    let attempts = row.attempts + 1;
                    let retry_at = (!destination::gives_up(n.created_at, now))
                        .then(|| now + destination::retry_delay(attempts));
                    tracing::warn!(notification_id = %n.id, destination_id = %row.destination_id,
                        error = %error, attempts, given_up = retry_at.is_none(),
                        "notification send failed; kept in the outbox");
                    self.store
                        .release_send(&n.id, &row.destination_id, &error, retry_at, now)
                        .await?;
                    let label = if retry_at.is_some() {
                        "failed"
                    } else {
                        "expired"
                    };
                    metrics::counter!(crate::metrics::NOTIFICATION_SENDS, "destination" => kind, "outcome" => label)
                        .increment(1);
                    outcome.failed += 1;
                }
                Sent::Orphaned => {
                    self.store
                        .release_send(
                            &n.id,
                            &row.destination_id,
                            "the destination was deleted",
                            None,
                            now,
                        )
                        .await?;
                }
            }
        }
        Ok(outcome)
    }

    /// Sends one row: (the destination's type as metrics label it, what happened).
    async fn send_one(&self, row: &ClaimedSend) -> (&'static str, Sent) {
        let n = &row.notification;
        let span = tracing::info_span!(
            "notification.publish",
            notification_id = %n.id,
            destination_id = %row.destination_id,
            app_id = %n.app_id,
            webhook_id = %n.webhook_id,
            severity = n.severity.as_str(),
        );
        let m = Outgoing {
            id: &n.id,
            severity: n.severity.as_str(),
            app_id: &n.app_id,
            webhook_id: Some(&n.webhook_id),
            body: &n.body,
        };
        let (kind, sending) = if row.destination_id == PLATFORM {
            ("platform", None)
        } else {
            match self
                .store
                .get_destination(&n.app_id, &row.destination_id)
                .await
            {
                Ok(Some(d)) => (d.kind.as_str(), Some(d)),
                Ok(None) => return ("platform", Sent::Orphaned),
                Err(e) => return ("platform", Sent::Failed(e.to_string())),
            }
        };
        let send = async {
            match &sending {
                None => self.senders.to_platform(&m).await,
                Some(d) => self.senders.to_destination(d, &m).await,
            }
        };
        let sent = tokio::time::timeout(SEND_TIMEOUT, tracing::Instrument::instrument(send, span))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", SEND_TIMEOUT.as_secs())));
        match sent {
            Ok(_) => (kind, Sent::Ok),
            Err(error) => (kind, Sent::Failed(error)),
        }
    }

    /// Claims while there is something due, each batch sent on its own task (up to
    /// [`BATCHES`] at once): a batch held up by a slow destination (up to its send's
    /// bound) does not hold the next claim, and with it every other destination's rows.
    /// The leases keep concurrent batches apart, and a destination's next row is not
    /// claimable while one of its rows is out.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let batches = Arc::new(tokio::sync::Semaphore::new(BATCHES));
        // A batch that sent something may have made its destinations' next rows due.
        let sent = Arc::new(tokio::sync::Notify::new());
        while !shutdown.is_cancelled() {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = batches.clone().acquire_owned() => permit.expect("never closed"),
            };
            match self.claim().await {
                Ok(claimed) if !claimed.is_empty() => {
                    let (relay, sent) = (self.clone(), sent.clone());
                    tokio::spawn(async move {
                        match relay.send_batch(claimed).await {
                            Ok(outcome) if outcome.sent > 0 => sent.notify_one(),
                            Ok(_) => {}
                            Err(e) => tracing::error!(error = %e, "outbox relay failed"),
                        }
                        drop(permit);
                    });
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox relay failed"),
            }
            drop(permit);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = sent.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}
