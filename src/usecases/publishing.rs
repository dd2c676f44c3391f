//! Group commit of single publishes, and the fast path: concurrent publishes share one
//! transaction. Each request is answered after the commit that holds its event.
//!
//! Committers take whatever requests are queued (waiting up to `window` for more, at most
//! `max` in all) and store them with [`Store::publish_batch`]: while one group commits, the
//! next one gathers, so under load groups grow by themselves and an idle gateway adds no
//! wait beyond `window`. Outcomes stay per request: a repeat inside a group is a replay of
//! its first occurrence, exactly as if published one after the other, and when the group
//! fails (an unknown tenant, an id reused with another body, a database error) each of
//! its events is published again alone, so one bad event answers its own error and never
//! fails its neighbours.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Mutex};

use super::Deliveries;
use crate::domain::model::{NewEvent, PublishOutcome};
use crate::store::publish::FastLease;
use crate::store::{SharedStore, StoreError, StoreResult};

/// Committers working at once: one gathers the next group while another commits.
const COMMITTERS: usize = 2;

/// Batch publishes storing at once in this instance; the others wait their turn. More
/// took the database from delivery while a flood lasted: on PostgreSQL, scenario 1's
/// deliveries advanced at 0.27 of their rate after publishing with 10 batches at once,
/// 0.71 with 2, at the same total (BENCHMARKS.md, "… batches two at a time"). SQLite
/// has one writer: a second batch only queues for it, ahead of the attempts' records.
fn batch_writers(backend: &str) -> usize {
    if backend == "sqlite" {
        1
    } else {
        2
    }
}

#[derive(Debug, Clone, Copy)]
pub struct GroupSettings {
    /// Events in one transaction at most; 1 turns group commit off.
    pub max: usize,
    /// How long the first request of a group waits for neighbours.
    pub window: Duration,
}

struct Job {
    event: NewEvent,
    reply: oneshot::Sender<StoreResult<PublishOutcome>>,
}

pub struct GroupCommit {
    store: SharedStore,
    queue: Option<mpsc::Sender<Job>>,
    transactions: Arc<AtomicU64>,
    batch_writers: tokio::sync::Semaphore,
}

impl GroupCommit {
    /// Starts the committers (none when `max` is 1: each publish commits alone). They
    /// stop when the `GroupCommit` is dropped and the queue is drained. With a
    /// `dispatcher`, groups lease fresh deliveries to it while it runs (the fast path).
    pub fn start(
        store: SharedStore,
        settings: GroupSettings,
        dispatcher: Option<Arc<dyn Deliveries>>,
    ) -> Self {
        let transactions = Arc::new(AtomicU64::new(0));
        let writers = batch_writers(store.backend());
        let queue = (settings.max > 1).then(|| {
            let (queue, jobs) = mpsc::channel(settings.max * COMMITTERS * 4);
            let jobs = Arc::new(Mutex::new(jobs));
            for _ in 0..COMMITTERS {
                tokio::spawn(commit_loop(
                    store.clone(),
                    dispatcher.clone(),
                    jobs.clone(),
                    settings,
                    transactions.clone(),
                ));
            }
            queue
        });
        Self {
            store,
            queue,
            transactions,
            batch_writers: tokio::sync::Semaphore::new(writers),
        }
    }

    /// Stores a batch in one transaction, [`batch_writers`] at a time.
    pub async fn publish_batch(&self, events: &[NewEvent]) -> StoreResult<Vec<PublishOutcome>> {
        let _writer = self.batch_writers.acquire().await.expect("never closed");
        self.store.publish_batch(events).await
    }

    /// Stores one event with its fan-out; returns after its transaction committed.
    pub async fn publish(&self, event: NewEvent) -> StoreResult<PublishOutcome> {
        let Some(queue) = &self.queue else {
            self.transactions.fetch_add(1, Ordering::Relaxed);
            return self.store.publish(&event).await;
        };
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(job)) = queue.send(Job { event, reply }).await {
            // The committers are gone (shutting down): commit alone.
            return self.store.publish(&job.event).await;
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Database(sqlx::Error::WorkerCrashed)))
    }

    /// Transactions committed (or tried) for single publishes so far.
    pub fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }
}

async fn commit_loop(
    store: SharedStore,
    dispatcher: Option<Arc<dyn Deliveries>>,
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    settings: GroupSettings,
    transactions: Arc<AtomicU64>,
) {
    let mut group = Vec::with_capacity(settings.max);
    loop {
        {
            let mut jobs = jobs.lock().await;
            if jobs.recv_many(&mut group, settings.max).await == 0 {
                return;
            }
            let deadline = tokio::time::Instant::now() + settings.window;
            while group.len() < settings.max && !settings.window.is_zero() {
                let room = settings.max - group.len();
                match tokio::time::timeout_at(deadline, jobs.recv_many(&mut group, room)).await {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
        let dispatcher = dispatcher.as_ref().filter(|d| d.fast_path_open());
        commit(
            &store,
            dispatcher,
            std::mem::take(&mut group),
            &transactions,
        )
        .await;
    }
}

/// Stores a group, leasing what `dispatcher` has room for; a failed attempt gives the
/// slots it took back.
async fn publish_group(
    store: &SharedStore,
    dispatcher: Option<&Arc<dyn Deliveries>>,
    events: &[NewEvent],
) -> StoreResult<Vec<PublishOutcome>> {
    let Some(dispatcher) = dispatcher else {
        return store.publish_batch(events).await;
    };
    let held = std::sync::Mutex::new(Vec::<String>::new());
    let try_hold = |webhook_id: &str, partner_max: Option<i64>| {
        let ok = dispatcher.try_hold(webhook_id, partner_max);
        if ok {
            held.lock()
                .expect("held list poisoned")
                .push(webhook_id.to_string());
        }
        ok
    };
    let lease = FastLease {
        token: uuid::Uuid::now_v7().to_string(),
        until: dispatcher.lease_until(),
        try_hold: &try_hold,
    };
    match store.publish_leasing(events, &lease).await {
        Ok((outcomes, leased)) => {
            dispatcher.clone().dispatch_leased(leased).await;
            Ok(outcomes)
        }
        Err(e) => {
            for webhook_id in held.into_inner().expect("held list poisoned") {
                dispatcher.release_hold(&webhook_id);
            }
            Err(e)
        }
    }
}

/// Commits a group, or each of its events alone when the group as a whole fails. Its
/// span links to the publish span of every event it holds.
#[tracing::instrument(name = "publish.transaction", skip_all, fields(events = group.len()))]
async fn commit(
    store: &SharedStore,
    dispatcher: Option<&Arc<dyn Deliveries>>,
    group: Vec<Job>,
    transactions: &AtomicU64,
) {
    transactions.fetch_add(1, Ordering::Relaxed);
    let (events, replies): (Vec<NewEvent>, Vec<_>) =
        group.into_iter().map(|j| (j.event, j.reply)).unzip();
    let span = tracing::Span::current();
    for event in &events {
        crate::telemetry::link_to(&span, event.traceparent.as_deref());
    }
    match publish_group(store, dispatcher, &events).await {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) if events.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "group commit failed; publishing its events one by one");
            transactions.fetch_add(events.len() as u64, Ordering::Relaxed);
            let alone = events.iter().map(|event| store.publish(event));
            for (reply, outcome) in replies
                .into_iter()
                .zip(futures::future::join_all(alone).await)
            {
                let _ = reply.send(outcome);
            }
        }
    }
}
