//! Claims due deliveries in batches under a lease, fairly across webhooks, sends them
//! concurrently (bounded globally and per webhook) and records attempts in batches.
//! `run_once` is one synchronous step; tests drive it directly with a manual clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::rate_limit::TokenBucket;
use super::resolver::GuardedResolver;
use super::sender::{OutboundRequest, SendOutcome, Sender};
use super::slots::{SlotSettings, Slots};
use super::{payload, signing};
use crate::clock::SharedClock;
use crate::domain::model::{Attempt, AttemptRecord, ClaimedDelivery, DeliveryState, Webhook};
use crate::domain::retry::{next_step, AttemptClass, NextStep};
use crate::store::{SharedStore, StoreError};

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    pub workers: usize,
    pub batch_size: i64,
    pub max_in_flight: usize,
    /// Bounds of each webhook's adaptive in-flight limit, and where it starts.
    pub min_in_flight_per_webhook: usize,
    pub max_in_flight_per_webhook: usize,
    pub initial_in_flight_per_webhook: usize,
    pub lease: Duration,
    pub idle_poll: Duration,
    pub response_excerpt_bytes: usize,
    /// Deliver to loopback, private and link-local addresses (development only).
    pub allow_private_targets: bool,
    /// `host=ip` answers that bypass DNS (the SSRF guard still applies to them).
    pub dns_overrides: std::collections::HashMap<String, std::net::IpAddr>,
    /// Test sends one app may make a minute on this instance.
    pub test_sends_per_minute: u32,
    /// The only proxy outbound requests go through; proxy variables of the environment
    /// are ignored.
    pub outbound_proxy: Option<String>,
    /// Name servers and the bound of one lookup.
    pub dns: super::resolver::DnsSettings,
}

pub use crate::usecases::TestSendsExhausted;

pub struct Dispatcher {
    store: SharedStore,
    clock: SharedClock,
    sender: Sender,
    settings: DispatchSettings,
    wake: Arc<Notify>,
    in_flight: Arc<Semaphore>,
    rate_limits: Mutex<HashMap<String, TokenBucket>>,
    /// Per app, the test sends it may still make (a bucket of `test_sends_per_minute`).
    test_sends: Mutex<HashMap<String, TokenBucket>>,
    /// Deliveries this instance has leased and not yet finished, and each webhook's
    /// adaptive limit: claims stop at them.
    slots: Slots,
    claim_turn: tokio::sync::Mutex<()>,
    /// While `run` delivers: where deliveries leased by a publish (the fast path) are
    /// sent and recorded. `None` before and after, when publishes lease nothing.
    fast_path: std::sync::RwLock<Option<(mpsc::Sender<AttemptRecord>, TaskTracker)>>,
    fast_pathed: std::sync::atomic::AtomicU64,
    /// PostgreSQL: the listeners this instance owns; only their deliveries are claimed
    /// or fast-pathed here. Unset (SQLite, one instance): every webhook is this one's.
    ownership: std::sync::OnceLock<Arc<crate::ownership::Ownership>>,
    /// PostgreSQL: how the owners of webhooks this instance does not own are woken.
    due_wakes: std::sync::OnceLock<Arc<crate::due_wakes::DueWakes>>,
}

/// One leased delivery counted in `held` until it is finished (or dropped).
struct Held<'a> {
    dispatcher: &'a Dispatcher,
    webhook_id: String,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.dispatcher.slots.release(&self.webhook_id);
    }
}

/// Attempt records written in one transaction at most.
const RECORD_BATCH: usize = 256;
/// A record batch smaller than this waits [`RECORD_LINGER`] for more attempts to finish.
const RECORD_LINGER_BELOW: usize = 16;
const RECORD_LINGER: Duration = Duration::from_millis(2);

/// How an idle claim loop waits, besides for a new event.
enum Idle {
    For(Duration),
    /// For an attempt of this instance to finish (or `idle_poll`).
    UntilCapacity,
}

impl Dispatcher {
    pub fn new(
        store: SharedStore,
        clock: SharedClock,
        settings: DispatchSettings,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            sender: Sender::new(
                settings.response_excerpt_bytes,
                GuardedResolver::with_dns(
                    settings.allow_private_targets,
                    settings.dns_overrides.clone(),
                    &settings.dns,
                ),
                settings.allow_private_targets,
                settings.outbound_proxy.as_deref(),
            )?,
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
            wake: Arc::new(Notify::new()),
            rate_limits: Mutex::new(HashMap::new()),
            test_sends: Mutex::new(HashMap::new()),
            claim_turn: tokio::sync::Mutex::new(()),
            fast_path: std::sync::RwLock::new(None),
            fast_pathed: std::sync::atomic::AtomicU64::new(0),
            ownership: std::sync::OnceLock::new(),
            due_wakes: std::sync::OnceLock::new(),
            slots: Slots::new(SlotSettings {
                floor: settings.min_in_flight_per_webhook,
                ceiling: settings.max_in_flight_per_webhook,
                initial: settings.initial_in_flight_per_webhook,
                total: settings.max_in_flight,
            }),
            store,
            clock,
            settings,
        })
    }

    /// Notified by the API when new deliveries are due now, so none waits for a poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Whether publishes may lease fresh deliveries to this instance now.
    pub fn fast_path_open(&self) -> bool {
        self.fast_path
            .read()
            .expect("fast path lock poisoned")
            .is_some()
    }

    /// Deliveries sent through the fast path so far (for tests).
    pub fn fast_pathed(&self) -> u64 {
        self.fast_pathed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Until when a delivery leased now stays leased.
    pub fn lease_until(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now() + TimeDelta::from_std(self.settings.lease).unwrap_or(TimeDelta::minutes(5))
    }

    /// From now on, claims and the fast path take only the webhooks `ownership` holds.
    pub fn own_through(&self, ownership: Arc<crate::ownership::Ownership>) {
        let _ = self.ownership.set(ownership);
    }

    /// This instance's id in the cluster, when it owns listeners by lease.
    pub fn instance_id(&self) -> Option<&str> {
        self.ownership.get().map(|o| o.instance())
    }

    /// From now on, deliveries falling due on webhooks this instance does not own are
    /// announced to their owners through `wakes`.
    pub fn wake_owners_through(&self, wakes: Arc<crate::due_wakes::DueWakes>) {
        let _ = self.due_wakes.set(wakes);
    }

    /// Deliveries of `webhooks` fell due now: the claim loop looks for this instance's
    /// at once, and the owners of the others are told.
    pub fn wake(&self, webhooks: &[&str]) {
        let Some(wakes) = self.due_wakes.get() else {
            self.wake.notify_one();
            return;
        };
        let mut any_mine = false;
        // Empty, so not allocated, on a publish whose webhooks are all this instance's.
        let theirs: Vec<&str> = webhooks
            .iter()
            .copied()
            .filter(|w| {
                let mine = self.ownership.get().is_some_and(|o| o.fence(w).is_some());
                any_mine |= mine;
                !mine
            })
            .collect();
        if !theirs.is_empty() {
            wakes.announce(theirs);
        }
        if any_mine {
            self.wake.notify_one();
        }
    }

    /// Whether this instance sends the webhook's deliveries: it owns its listener.
    fn owns(&self, webhook_id: &str) -> bool {
        self.ownership
            .get()
            .is_none_or(|o| o.fence_or_ask(webhook_id).is_some())
    }

    /// Takes a slot of the webhook for a delivery a publish is about to lease.
    pub fn try_hold(&self, webhook_id: &str, partner_max: Option<i64>) -> bool {
        self.fast_path_open()
            && self.owns(webhook_id)
            && self.slots.try_hold(webhook_id, partner_max)
    }

    /// Gives back a slot taken with `try_hold` whose delivery was not stored.
    pub fn release_hold(&self, webhook_id: &str) {
        self.slots.release(webhook_id);
    }

    /// Sends deliveries a committed publish leased to this instance, each in a task of
    /// its own like a claimed one. Past shutdown (the publish committed while the
    /// dispatcher stopped) their leases are given back at once, so that any instance
    /// claims them now; if even that fails, the leases expire as after a crash.
    pub async fn dispatch_leased(self: &Arc<Self>, mut leased: Vec<ClaimedDelivery>) {
        self.fence_all(&mut leased);
        if let Err(leased) = self.send_leased(leased) {
            for d in &leased {
                self.slots.release(&d.webhook_id);
            }
            let tokens: std::collections::BTreeSet<&str> =
                leased.iter().map(|d| d.lease_token.as_str()).collect();
            for token in tokens {
                let now = self.clock.now();
                match self.store.release_leases(token, now).await {
                    Ok(n) => tracing::info!(deliveries = n, "shutting down: leases given back"),
                    Err(e) => tracing::warn!(error = %e,
                        "shutting down: leases could not be given back; they will expire"),
                }
            }
        }
    }

    /// Spawns the attempts of leased deliveries, unless the dispatcher is not running.
    fn send_leased(
        self: &Arc<Self>,
        leased: Vec<ClaimedDelivery>,
    ) -> Result<(), Vec<ClaimedDelivery>> {
        if leased.is_empty() {
            return Ok(());
        }
        let fast_path = self.fast_path.read().expect("fast path lock poisoned");
        let Some((records, attempts)) = fast_path.as_ref() else {
            return Err(leased);
        };
        self.fast_pathed
            .fetch_add(leased.len() as u64, std::sync::atomic::Ordering::Relaxed);
        for d in leased {
            self.spawn_attempt(attempts, records, d);
        }
        Ok(())
    }

    /// Attempts a held delivery in a task of its own and hands the record to the recorder.
    fn spawn_attempt(
        self: &Arc<Self>,
        attempts: &TaskTracker,
        records: &mpsc::Sender<AttemptRecord>,
        d: ClaimedDelivery,
    ) {
        let (this, records) = (self.clone(), records.clone());
        attempts.spawn(async move {
            if let Some(record) = this.attempt_held(d).await {
                let _ = records.send(record).await;
            }
        });
    }

    /// Forgets what this instance keeps for a deleted webhook.
    pub fn forget_webhook(&self, webhook_id: &str) {
        self.slots.forget(webhook_id);
        self.rate_limits
            .lock()
            .expect("rate limit map poisoned")
            .remove(webhook_id);
    }

    /// Drops per-webhook state idle for `idle` and token buckets full again (no
    /// different from new ones): memory follows the webhooks in use, not every webhook
    /// ever seen. Returns the webhooks forgotten.
    pub fn forget_idle(&self, idle: Duration) -> Vec<String> {
        let now = std::time::Instant::now();
        for buckets in [&self.rate_limits, &self.test_sends] {
            buckets
                .lock()
                .expect("rate limit map poisoned")
                .retain(|_, bucket| !bucket.is_full(now));
        }
        self.slots.forget_idle(idle)
    }

    /// Webhooks this instance keeps state for, and token buckets it holds (for tests).
    pub fn tracked(&self) -> (usize, usize) {
        let buckets = self
            .rate_limits
            .lock()
            .expect("rate limit map poisoned")
            .len();
        (self.slots.tracked(), buckets)
    }

    /// Every webhook's limit on this instance, by app, once an answer moved it.
    pub fn concurrency_limits(&self) -> Vec<(String, String, usize)> {
        self.slots.limits()
    }

    /// This instance's current in-flight limit for a webhook.
    /// The guarded HTTP sender, which notification endpoints share.
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    pub fn concurrency_limit(&self, webhook_id: &str) -> usize {
        self.slots.limit(webhook_id)
    }

    /// Leases due deliveries and counts them as held; each is released by the `Held`
    /// guard its attempt runs under. This instance's claims take turns, each sees what
    /// the one before it holds, and the room a claim may fill counts as held while it
    /// runs: so neither concurrent workers nor the publish fast path lease past a
    /// webhook's limit or the global cap (the bench saw 448, then 297, in flight
    /// against a limit of 256 before each).
    async fn claim(&self, limit: i64) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let _turn = self.claim_turn.lock().await;
        let (mut limits, reservation) = self.slots.reserve(limit);
        limits.only_webhooks = self.ownership.get().map(|o| o.owned_webhooks());
        if limits.limit == 0 || limits.only_webhooks.as_ref().is_some_and(|w| w.is_empty()) {
            self.slots.settle(reservation, std::iter::empty());
            return Ok(Vec::new());
        }
        let (now, until) = (self.clock.now(), self.lease_until());
        let mut claimed = self.store.claim_due(now, until, &limits).await;
        if let Ok(claimed) = &mut claimed {
            self.fence_all(claimed);
        }
        let got = claimed.as_deref().unwrap_or_default();
        self.slots.settle(
            reservation,
            got.iter()
                .map(|d| (d.webhook_id.as_str(), d.max_concurrency)),
        );
        claimed
    }

    /// Marks leased deliveries with the fence of this instance's lease on their listener.
    fn fence_all(&self, leased: &mut [ClaimedDelivery]) {
        if let Some(ownership) = self.ownership.get() {
            for d in leased {
                d.fence = ownership.fence(&d.webhook_id);
            }
        }
    }

    /// Whether the listener lease `d` was leased under still counts here: past it
    /// (paused, cut off, or handed over) nothing more is sent under it.
    fn still_owned(&self, d: &ClaimedDelivery) -> bool {
        self.ownership
            .get()
            .is_none_or(|o| d.fence.is_some() && o.fence(&d.webhook_id) == d.fence)
    }

    /// Whether this instance has deliveries of the webhook leased and not yet finished.
    pub fn holds(&self, webhook_id: &str) -> bool {
        self.slots.holds(webhook_id)
    }

    /// Attempts a claimed delivery and then releases it from `held`; `None` when its
    /// listener lease was lost before it was sent.
    async fn attempt_held(&self, d: ClaimedDelivery) -> Option<AttemptRecord> {
        let _held = Held {
            dispatcher: self,
            webhook_id: d.webhook_id.clone(),
        };
        self.attempt(d).await
    }

    /// How many more deliveries this instance may lease now.
    fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Claims up to one batch of due deliveries, attempts them all and records the
    /// outcomes. Returns what was recorded (empty when nothing was due). Tests step the
    /// dispatcher with this; `run` pipelines the same steps.
    pub async fn run_once(&self) -> Result<Vec<AttemptRecord>, StoreError> {
        let claimed = self.claim(self.settings.batch_size).await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let records: Vec<AttemptRecord> =
            futures::future::join_all(claimed.into_iter().map(|d| self.attempt_held(d)))
                .await
                .into_iter()
                .flatten()
                .collect();
        self.record_attempts(&records).await.map_err(|(e, _)| e)?;
        Ok(records)
    }

    /// Delivers until `shutdown` fires: `workers` claim loops lease what capacity allows
    /// and send each delivery in a task of its own, and one recorder writes attempts in
    /// batches as they finish. A slow or hanging listener holds only its own tasks, never
    /// a claim loop. On shutdown, claiming stops, in-flight attempts finish and are
    /// recorded (the caller bounds this with the grace period).
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let (records, recorder_rx) = mpsc::channel(self.settings.max_in_flight * 2);
        let recorder = tokio::spawn(self.clone().record_loop(recorder_rx));
        let attempts = TaskTracker::new();
        *self.fast_path.write().expect("fast path lock poisoned") =
            Some((records.clone(), attempts.clone()));
        let loops: Vec<_> = (0..self.settings.workers)
            .map(|n| {
                let (this, shutdown) = (self.clone(), shutdown.clone());
                let (records, attempts) = (records.clone(), attempts.clone());
                tokio::spawn(
                    async move { this.claim_loop(shutdown, records, attempts).await }
                        .instrument(tracing::info_span!("worker", n)),
                )
            })
            .collect();
        futures::future::join_all(loops).await;
        // Publishes lease nothing more; what they leased before is in `attempts`.
        self.fast_path
            .write()
            .expect("fast path lock poisoned")
            .take();
        attempts.close();
        attempts.wait().await;
        drop(records);
        let _ = recorder.await;
    }

    async fn claim_loop(
        self: Arc<Self>,
        shutdown: CancellationToken,
        records: mpsc::Sender<AttemptRecord>,
        attempts: TaskTracker,
    ) {
        loop {
            // Wait for capacity before leasing anything.
            while self.capacity() == 0 {
                let finished = self.slots.finished.notified();
                if self.capacity() > 0 {
                    break;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = finished => {}
                }
            }
            let limit = (self.capacity() as i64).min(self.settings.batch_size);
            // Created before the claim so that an attempt finishing meanwhile counts.
            let finished = self.slots.finished.notified();
            let idle = match self.claim(limit).await {
                Ok(claimed) if !claimed.is_empty() => {
                    for d in claimed {
                        self.spawn_attempt(&attempts, &records, d);
                    }
                    continue;
                }
                Ok(_) => self.idle_wait().await,
                Err(e) => {
                    tracing::error!(error = %e, "claiming deliveries failed");
                    Idle::For(self.settings.idle_poll)
                }
            };
            let (sleep, until_capacity) = match idle {
                Idle::For(wait) => (wait, false),
                Idle::UntilCapacity => (self.settings.idle_poll, true),
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = finished, if until_capacity => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Writes attempts in batches as they finish. While the database is down the write is
    /// retried, backing off, for half a lease: the deliveries are still ours, so a short
    /// outage costs no second send. Past that it is given up; the leases expire and the
    /// deliveries are attempted again, so nothing is lost.
    async fn record_loop(self: Arc<Self>, mut finished: mpsc::Receiver<AttemptRecord>) {
        let mut batch = Vec::with_capacity(RECORD_BATCH);
        while finished.recv_many(&mut batch, RECORD_BATCH).await > 0 {
            if batch.len() < RECORD_LINGER_BELOW {
                // The delivery is sent and its slot free: waiting costs the listener
                // nothing, and fewer, larger record transactions leave SQLite's one
                // write lock to publishes (BENCHMARKS.md, "the record linger").
                tokio::time::sleep(RECORD_LINGER).await;
                while batch.len() < RECORD_BATCH {
                    match finished.try_recv() {
                        Ok(record) => batch.push(record),
                        Err(_) => break,
                    }
                }
            }
            let give_up = tokio::time::Instant::now() + self.settings.lease / 2;
            let mut backoff = Duration::from_millis(100);
            let mut retries = 0u32;
            loop {
                match self.record_attempts(&batch).await {
                    Ok(()) => {
                        if retries > 0 {
                            tracing::info!(retries, "recording attempts succeeded again");
                        }
                        break;
                    }
                    // A record the database refused alone is tried twice more (a deadlock
                    // or a serialisation failure passes); then it is left to its lease,
                    // so that it never holds the records behind it for long.
                    Err((e, unrecorded))
                        if tokio::time::Instant::now() + backoff < give_up
                            && !(e.is_refusal() && retries >= 2) =>
                    {
                        retries += 1;
                        tracing::warn!(error = %e, retries, attempts = unrecorded.len(),
                            "recording attempts failed; retrying");
                        batch = unrecorded;
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                    }
                    Err((e, unrecorded)) => {
                        tracing::error!(
                            error = %e, attempts = unrecorded.len(),
                            "recording attempts failed; their deliveries will be retried after the lease"
                        );
                        break;
                    }
                }
            }
            batch.clear();
        }
    }

    /// Records a batch ([`Self::record_batch`]). An ordered delivery that ended made the
    /// next of its key due: the claim loop looks at once (this instance owns the key's
    /// webhook, having sent its head).
    pub async fn record_attempts(
        &self,
        batch: &[AttemptRecord],
    ) -> Result<(), (StoreError, Vec<AttemptRecord>)> {
        let recorded = self.record_batch(batch).await;
        if batch
            .iter()
            .any(|r| r.ordered && r.new_state != DeliveryState::Pending)
        {
            self.wake.notify_one();
        }
        recorded
    }

    /// Records a batch in one transaction. When the database refuses it (one row it
    /// cannot store would fail all of them: one partner's listener must not keep every
    /// other partner's attempts unrecorded and their deliveries in flight), each record
    /// is written alone. Returns the first error and the records not written.
    async fn record_batch(
        &self,
        batch: &[AttemptRecord],
    ) -> Result<(), (StoreError, Vec<AttemptRecord>)> {
        let e = match self.store.record_attempts(batch).await {
            Ok(()) => return Ok(()),
            Err(e) if batch.len() > 1 && e.is_refusal() => e,
            Err(e) => return Err((e, batch.to_vec())),
        };
        tracing::warn!(error = %e, attempts = batch.len(),
            "the database refused a batch of attempts; recording them one by one");
        let mut unrecorded = Vec::new();
        let mut first_error = None;
        for record in batch {
            if let Err(e) = self
                .store
                .record_attempts(std::slice::from_ref(record))
                .await
            {
                tracing::error!(error = %e, delivery_id = %record.attempt.delivery_id,
                    webhook_id = %record.attempt.webhook_id, "an attempt could not be recorded");
                first_error.get_or_insert(e);
                unrecorded.push(record.clone());
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err((e, unrecorded)),
        }
    }

    /// After a claim that found nothing: until the next delivery falls due, but never
    /// longer than `idle_poll` (other instances may add work this one is not told
    /// about). Deliveries already due that the claim did not get belong to webhooks at
    /// their cap here (or were just leased by another worker): claiming again at once
    /// would poll in a loop, so the loop waits for one of its attempts to finish.
    async fn idle_wait(&self) -> Idle {
        match self.store.next_due_at().await {
            Ok(Some(due)) => match (due - self.clock.now()).to_std() {
                Ok(wait) if !wait.is_zero() => Idle::For(wait.min(self.settings.idle_poll)),
                _ => Idle::UntilCapacity,
            },
            _ => Idle::For(self.settings.idle_poll),
        }
    }

    /// Sends a signed `webhook.test` event to the webhook now and reports what happened.
    /// Nothing is stored, so a test never counts towards the webhook's health. A test
    /// waits for the webhook's rate limit and a place under the global in-flight bound
    /// like any attempt, and each app has a few a minute: the gateway is no free relay
    /// of signed POSTs.
    pub async fn send_test(
        &self,
        webhook: &Webhook,
        data: &str,
    ) -> Result<(String, SendOutcome), TestSendsExhausted> {
        self.take_test_send(&webhook.app_id)?;
        let msg_id = format!("test_{}", uuid::Uuid::now_v7().simple());
        self.rate_limit(&webhook.id, webhook.rate_limit_per_second)
            .await;
        let _slot = self.in_flight.acquire().await;
        let now = self.clock.now();
        let claimed = ClaimedDelivery {
            delivery_id: msg_id.clone(),
            lease_token: String::new(),
            attempt_count: 0,
            retry_base: 0,
            first_failure_at: None,
            event_id: msg_id.clone(),
            event_type: "webhook.test".into(),
            occurred_at: now,
            data: data.to_string(),
            tenant_id: String::new(),
            tenant_name: String::new(),
            installation_id: String::new(),
            app_id: webhook.app_id.clone(),
            webhook_id: webhook.id.clone(),
            url: webhook.url.clone(),
            secret: webhook.secret.clone(),
            previous_secret: webhook.previous_secret.clone(),
            previous_secret_expires_at: webhook.previous_secret_expires_at,
            headers: webhook.headers.clone(),
            timeout_ms: webhook.timeout_ms,
            retry_policy: webhook.retry_policy.clone(),
            rate_limit_per_second: webhook.rate_limit_per_second,
            max_concurrency: webhook.max_concurrency,
            traceparent: None,
            fence: None,
            ordering_key: None,
            sequence: None,
            ordered: false,
        };
        let outcome = self.send_signed(&claimed, now).await;
        Ok((msg_id, outcome))
    }

    pub fn take_test_send(&self, app_id: &str) -> Result<(), TestSendsExhausted> {
        let per_minute = self.settings.test_sends_per_minute.max(1);
        let mut buckets = self.test_sends.lock().expect("test send map poisoned");
        let now = std::time::Instant::now();
        let bucket = buckets
            .entry(app_id.to_string())
            .or_insert_with(|| TokenBucket::per_minute(per_minute, now));
        bucket.take(now).map_err(|retry_after| TestSendsExhausted {
            per_minute,
            retry_after,
        })
    }

    async fn send_signed(
        &self,
        d: &ClaimedDelivery,
        now: chrono::DateTime<chrono::Utc>,
    ) -> SendOutcome {
        match (payload::build(d), signing_keys(d, now)) {
            (Ok(body), Ok(keys)) => {
                let timestamp = now.timestamp();
                let signature = signing::signature_header(
                    keys.iter().map(Vec::as_slice),
                    &d.delivery_id,
                    timestamp,
                    &body,
                );
                // The attempt's own context, for the partner's tracing to join.
                let traceparent = crate::telemetry::traceparent(&tracing::Span::current());
                let request = OutboundRequest {
                    traceparent: traceparent.as_deref(),
                    url: &d.url,
                    msg_id: &d.delivery_id,
                    timestamp,
                    signature: &signature,
                    custom_headers: &d.headers,
                    timeout: Duration::from_millis(d.timeout_ms.max(1) as u64),
                };
                self.sender.send(request, body).await
            }
            (Err(e), _) => internal_failure(format!("payload could not be built: {e}")),
            (_, Err(e)) => internal_failure(e.to_string()),
        }
    }

    /// Waits until the webhook's rate limit allows one more attempt.
    async fn rate_limit(&self, webhook_id: &str, per_second: Option<i64>) {
        let Some(rate) = per_second
            .and_then(|r| u32::try_from(r).ok())
            .filter(|r| *r > 0)
        else {
            return;
        };
        loop {
            let wait = {
                let mut buckets = self.rate_limits.lock().expect("rate limit map poisoned");
                let now = std::time::Instant::now();
                let bucket = buckets
                    .entry(webhook_id.to_string())
                    .or_insert_with(|| TokenBucket::new(rate, now));
                if bucket.rate() != rate {
                    *bucket = TokenBucket::new(rate, now);
                }
                match bucket.take(now) {
                    Ok(()) => return,
                    Err(wait) => wait,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt, in a span of its own (exported as a trace when OpenTelemetry is on)
    /// linked to the publish that stored the event, with the ids but no URL or payload.
    // A root span: an attempt belongs to no request, and its retry may come hours later.
    #[tracing::instrument(name = "attempt", parent = None, skip_all, fields(
        delivery_id = %d.delivery_id, webhook_id = %d.webhook_id,
        app_id = %d.app_id, tenant_id = %d.tenant_id, event_type = %d.event_type,
        attempt = d.attempt_count + 1, outcome = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    ))]
    async fn attempt(&self, d: ClaimedDelivery) -> Option<AttemptRecord> {
        crate::telemetry::link_to(&tracing::Span::current(), d.traceparent.as_deref());
        self.rate_limit(&d.webhook_id, d.rate_limit_per_second)
            .await;
        let _slot = self.in_flight.acquire().await;
        if !self.still_owned(&d) {
            // Whoever holds the listener now sends it; given back, it need not wait
            // for its delivery lease.
            tracing::info!("listener lease lost before sending; the delivery is given back");
            if let Err(e) = self
                .store
                .release_delivery(&d.delivery_id, &d.lease_token, self.clock.now())
                .await
            {
                tracing::warn!(error = %e, "giving the delivery back failed; its lease will expire");
            }
            return None;
        }

        let started_at = self.clock.now();
        self.slots.start_sending(&d.webhook_id);
        let outcome = self.send_signed(&d, started_at).await;
        self.slots
            .finish_sending(&d.app_id, &d.webhook_id, d.max_concurrency, &outcome);
        crate::metrics::record_attempt(
            &d.app_id,
            &d.webhook_id,
            outcome.class,
            outcome.status,
            outcome.latency,
        );
        let span = tracing::Span::current();
        span.record("outcome", outcome.class.as_str());
        if let Some(status) = outcome.status {
            span.record("http.response.status_code", status);
        }
        tracing::info!(
            outcome = outcome.class.as_str(),
            status = outcome.status,
            latency_ms = outcome.latency.as_millis() as u64,
            attempt = d.attempt_count + 1,
            "delivery attempt"
        );
        Some(record_for(&d, started_at, outcome))
    }
}

/// The current secret, and the previous one while its rotation overlap lasts.
fn signing_keys(
    d: &ClaimedDelivery,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Vec<u8>>, signing::InvalidSecret> {
    let mut keys = vec![signing::secret_key(&d.secret)?];
    if let (Some(previous), Some(until)) = (&d.previous_secret, d.previous_secret_expires_at) {
        if now < until {
            keys.push(signing::secret_key(previous)?);
        }
    }
    Ok(keys)
}

fn internal_failure(error: String) -> SendOutcome {
    SendOutcome::unanswered(AttemptClass::Network, error, Duration::ZERO)
}

/// The attempt row and the delivery's next state under its webhook's retry policy.
fn record_for(
    d: &ClaimedDelivery,
    started_at: chrono::DateTime<chrono::Utc>,
    outcome: SendOutcome,
) -> AttemptRecord {
    let attempt_number = d.attempt_count + 1;
    let first_failure_at = match outcome.class {
        AttemptClass::Success => d.first_failure_at,
        _ => Some(d.first_failure_at.unwrap_or(started_at)),
    };
    let answered_at = started_at
        + chrono::Duration::from_std(outcome.latency).unwrap_or(chrono::TimeDelta::zero());
    let retry_after_at = outcome.retry_after.map(|r| r.not_before(answered_at));
    let step = next_step(
        &d.retry_policy,
        u32::try_from(attempt_number - d.retry_base).unwrap_or(u32::MAX),
        outcome.class,
        first_failure_at.unwrap_or(started_at),
        retry_after_at,
    );
    let (new_state, next_attempt_at) = match step {
        NextStep::Delivered => (DeliveryState::Delivered, None),
        NextStep::RetryAt(at) => (DeliveryState::Pending, Some(at)),
        NextStep::Failed => {
            crate::metrics::record_failed_for_good(&d.app_id, &d.webhook_id);
            (DeliveryState::Failed, None)
        }
    };
    AttemptRecord {
        attempt: Attempt {
            id: uuid::Uuid::now_v7().to_string(),
            delivery_id: d.delivery_id.clone(),
            webhook_id: d.webhook_id.clone(),
            attempt_number,
            started_at,
            latency_ms: outcome.latency.as_millis() as i64,
            outcome: outcome.class,
            status_code: outcome.status.map(i64::from),
            error: outcome.error,
            response_excerpt: outcome.excerpt,
            retry_after_at,
        },
        lease_token: d.lease_token.clone(),
        fence: d.fence,
        new_state,
        next_attempt_at,
        first_failure_at,
        ordered: d.ordered,
    }
}
