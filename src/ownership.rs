//! Listener ownership at run time (DESIGN.md, "Listener ownership"; the rules are in
//! [`domain::ownership`](crate::domain::ownership), the leases in
//! [`store::ownership`](crate::store::ownership)). Every `HOOKGATE_INSTANCE_HEARTBEAT`
//! the instance beats, reads which instances are live, works out which active webhooks
//! are its own by rendezvous hashing, releases the leases it should no longer hold and
//! takes or renews the rest.
//!
//! What this instance believes it holds is bounded by its own monotonic clock: a lease
//! counts from when its renewal was *sent*, less a margin, so an instance paused
//! (SIGSTOP) or cut off past its lease stops counting it before any other instance can
//! take it over, whatever its last renewal's answer said.
//!
//! The dispatcher claims and fast-paths only the deliveries of the webhooks this
//! instance counts as its own ([`Ownership::fence`]), so a webhook's `max_concurrency`,
//! rate limit and adaptive limit are one controller for the cluster. Each delivery
//! carries the fence it was leased under: it is sent only while that lease still
//! counts here, and recorded only while the fence is still the webhook's in the
//! database (checked under a share lock in the record's transaction).
//!
//! A webhook handed over (another instance joined, or it is this one's no longer)
//! first drains: nothing new is sent, and its lease is renewed until its attempts
//! under way are recorded, for one beat at most. A lease taken rather than renewed
//! makes the deliveries the previous holder left in flight due at once, so a killed
//! owner's attempts are retried within a few beats, not after the delivery lease.
//! A publish on another instance wakes the owner through
//! [`due_wakes`](crate::due_wakes). SQLite is one instance and runs no loop: it owns
//! everything.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::domain::ownership::{is_live, lease_duration, owner};
use crate::store::{SharedStore, StoreError};

/// Taken off a lease's length on this side, half a heartbeat: what a renewal's commit
/// may lose on a PostgreSQL crash (asynchronous commit on the delivery pool, a fraction
/// of a second), and clock drift between the instances.
fn lease_margin(heartbeat: Duration) -> Duration {
    heartbeat / 2
}

/// The leases this instance counts as its own, as the last beat left them: every one
/// taken or renewed in that beat, so all valid until the same instant.
struct Leases {
    fences: HashMap<String, i64>,
    /// The same webhooks, for claims: built once a beat, not once a claim.
    ids: Arc<[String]>,
    valid_until: Instant,
}

impl Default for Leases {
    fn default() -> Self {
        Self {
            fences: HashMap::new(),
            ids: Arc::from(Vec::new()),
            valid_until: Instant::now(),
        }
    }
}

impl Leases {
    fn counting(&self) -> bool {
        self.valid_until > Instant::now()
    }

    fn forget<'a>(&mut self, webhooks: impl Iterator<Item = &'a String>) {
        let before = self.fences.len();
        for w in webhooks {
            self.fences.remove(w);
        }
        if self.fences.len() != before {
            self.ids = self.fences.keys().cloned().collect::<Vec<_>>().into();
        }
    }
}

/// Whether this instance still has attempts of a webhook under way (the dispatcher's).
pub type Busy = Box<dyn Fn(&str) -> bool + Send + Sync>;

pub struct Ownership {
    store: SharedStore,
    clock: SharedClock,
    instance: String,
    started_at: DateTime<Utc>,
    heartbeat: Duration,
    held: RwLock<Leases>,
    /// Webhooks now another instance's whose lease this one still renews while its
    /// attempts finish and are recorded (at most [`DRAIN_BEATS`] beats): nothing new
    /// is sent, and the next owner starts without resending what was under way.
    draining: Mutex<HashMap<String, u32>>,
    busy: OnceLock<Busy>,
    /// Every active webhook at the last beat, this instance's or another's.
    known: RwLock<HashSet<String>>,
    /// A webhook nobody knew of yet (just created) asks for a beat now, so that its
    /// first deliveries wait milliseconds for an owner, not a heartbeat.
    early: Notify,
    /// Told when a beat took a lease this instance did not hold (the claim loop).
    on_taken: OnceLock<Arc<Notify>>,
}

/// A webhook handed over waits at most this many beats for its attempts under way.
const DRAIN_BEATS: u32 = 1;
/// What an attempt just finished takes to be recorded (the recorder's linger and
/// commit), waited before a drained lease is released.
const RECORD_SETTLE: Duration = Duration::from_millis(50);

/// Early beats come at most this often.
const EARLY_BEAT_SPACING: Duration = Duration::from_millis(100);

impl Ownership {
    pub fn new(
        store: SharedStore,
        clock: SharedClock,
        instance: String,
        heartbeat: Duration,
    ) -> Self {
        let started_at = clock.now();
        Self {
            store,
            clock,
            instance,
            started_at,
            heartbeat,
            held: RwLock::default(),
            draining: Mutex::default(),
            busy: OnceLock::new(),
            known: RwLock::default(),
            early: Notify::new(),
            on_taken: OnceLock::new(),
        }
    }

    /// Wakes `notify` whenever a beat takes a lease this instance did not hold.
    pub fn wake_on_new_leases(&self, notify: Arc<Notify>) {
        let _ = self.on_taken.set(notify);
    }

    /// Tells what attempts are still under way, for handing a webhook over cleanly.
    pub fn drain_while(&self, busy: Busy) {
        let _ = self.busy.set(busy);
    }

    /// [`fence`](Self::fence); for a webhook no beat has seen yet, also asks for one now.
    pub fn fence_or_ask(&self, webhook_id: &str) -> Option<i64> {
        let fence = self.fence(webhook_id);
        if fence.is_none()
            && !self
                .known
                .read()
                .expect("ownership lock poisoned")
                .contains(webhook_id)
        {
            self.early.notify_one();
        }
        fence
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The fence of this instance's lease on the webhook, while it still counts.
    pub fn fence(&self, webhook_id: &str) -> Option<i64> {
        let held = self.held.read().expect("ownership lock poisoned");
        held.fences
            .get(webhook_id)
            .filter(|_| held.counting())
            .copied()
    }

    /// The webhooks this instance holds a counting lease on.
    pub fn owned_webhooks(&self) -> Arc<[String]> {
        let held = self.held.read().expect("ownership lock poisoned");
        if held.counting() {
            held.ids.clone()
        } else {
            Arc::from(Vec::new())
        }
    }

    /// How many webhooks this instance holds a counting lease on.
    pub fn owned(&self) -> usize {
        self.owned_webhooks().len()
    }

    fn is_busy(&self, webhook_id: &str) -> bool {
        self.busy.get().is_some_and(|busy| busy(webhook_id))
    }

    /// One heartbeat: beat, share the webhooks out over the live instances, hand over
    /// what is no longer this instance's once its attempts are recorded, take or renew
    /// the rest, and make due again the deliveries a previous owner left in flight on
    /// the webhooks just taken.
    pub async fn beat(&self) -> Result<(), StoreError> {
        let sent = Instant::now();
        let now = self.clock.now();
        self.store
            .beat(&self.instance, self.started_at, now)
            .await?;
        let live: Vec<String> = self
            .store
            .instances(now)
            .await?
            .into_iter()
            .filter(|i| {
                i.id == self.instance
                    || is_live(
                        (now - i.heartbeat_at).to_std().unwrap_or_default(),
                        self.heartbeat,
                    )
            })
            .map(|i| i.id)
            .collect();
        let active = self.store.active_webhook_ids().await?;
        *self.known.write().expect("ownership lock poisoned") = active.iter().cloned().collect();
        let (mine, theirs): (Vec<String>, Vec<String>) = active
            .into_iter()
            .partition(|w| owner(w, &live) == Some(self.instance.as_str()));
        let previous = self
            .held
            .read()
            .expect("ownership lock poisoned")
            .fences
            .clone();
        let (handed_over, still_draining) = self.hand_over(&previous, &theirs);
        // Nothing new is sent under a lease being handed over.
        self.held
            .write()
            .expect("ownership lock poisoned")
            .forget(handed_over.iter().chain(&still_draining));
        if !handed_over.is_empty() {
            tokio::time::sleep(RECORD_SETTLE).await;
            self.store
                .release_ownership(&self.instance, &handed_over, now)
                .await?;
        }
        let length = lease_duration(self.heartbeat);
        let until = now + chrono::Duration::from_std(length).unwrap_or_default();
        let renew: Vec<String> = mine.iter().chain(&still_draining).cloned().collect();
        let taken = self
            .store
            .take_ownership(&self.instance, &renew, now, until)
            .await?;
        let valid_until = sent + length.saturating_sub(lease_margin(self.heartbeat));
        let fences: HashMap<String, i64> = taken
            .into_iter()
            .filter(|l| !still_draining.contains(&l.webhook_id))
            .map(|l| (l.webhook_id, l.fence))
            .collect();
        // Taken, not renewed: what the previous holder left in flight is due now.
        let new_leases: Vec<String> = fences
            .iter()
            .filter(|(w, fence)| previous.get(*w) != Some(fence))
            .map(|(w, _)| w.clone())
            .collect();
        if !new_leases.is_empty() {
            let made_due = self.store.take_over_deliveries(&new_leases, now).await?;
            if made_due > 0 {
                tracing::info!(
                    deliveries = made_due,
                    webhooks = new_leases.len(),
                    "taken over: deliveries a previous owner left in flight are due again"
                );
            }
        }
        let ids: Arc<[String]> = fences.keys().cloned().collect::<Vec<_>>().into();
        crate::metrics::set_owned_webhooks(ids.len());
        *self.held.write().expect("ownership lock poisoned") = Leases {
            fences,
            ids,
            valid_until,
        };
        if !new_leases.is_empty() {
            if let Some(claims) = self.on_taken.get() {
                claims.notify_one();
            }
        }
        Ok(())
    }

    /// Of the webhooks held until now and those draining, which are handed over now
    /// (another's, and nothing of theirs under way here, or drained long enough) and
    /// which still drain. A webhook this instance's again stops draining.
    fn hand_over(
        &self,
        previous: &HashMap<String, i64>,
        theirs: &[String],
    ) -> (Vec<String>, Vec<String>) {
        let mut draining = self.draining.lock().expect("ownership lock poisoned");
        let theirs: HashSet<&String> = theirs.iter().collect();
        draining.retain(|w, _| theirs.contains(w));
        for w in previous.keys().filter(|w| theirs.contains(w)) {
            draining.entry(w.clone()).or_insert(0);
        }
        let mut handed_over = Vec::new();
        draining.retain(|w, beats| {
            if *beats >= DRAIN_BEATS || !self.is_busy(w) {
                handed_over.push(w.clone());
                false
            } else {
                *beats += 1;
                true
            }
        });
        (handed_over, draining.keys().cloned().collect())
    }

    /// Beats until `shutdown`, then leaves: its leases lapse at once, so the others take
    /// its webhooks at their next beat instead of after a lease.
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut every = tokio::time::interval(self.heartbeat);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = every.tick() => {}
                _ = self.early.notified() => {}
            }
            // A beat that hangs (a database cut off) must not outlive its lease.
            match tokio::time::timeout(self.heartbeat, self.beat()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "heartbeat failed"),
                Err(_) => tracing::warn!("heartbeat timed out"),
            }
            tokio::time::sleep(EARLY_BEAT_SPACING).await;
        }
        *self.held.write().expect("ownership lock poisoned") = Leases::default();
        if let Err(e) = self.store.leave(&self.instance, self.clock.now()).await {
            tracing::warn!(error = %e, "leaving the cluster failed; its leases will lapse");
        }
    }
}

/// An id for this process: the host's name and a random suffix (two instances on one
/// host, or one restarted, are never taken for each other).
pub fn instance_id() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "hookgate".to_string());
    let suffix = Alphanumeric
        .sample_string(&mut rand::thread_rng(), 8)
        .to_lowercase();
    format!("{host}-{suffix}")
}
