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
//! rate limit and adaptive limit are one controller for the cluster. Not yet: a publish
//! on another instance does not wake the owner (it finds the deliveries within
//! `HOOKGATE_IDLE_POLL`), an attempt is not checked against its lease's fence before it
//! is sent or recorded, and a dead owner's deliveries in flight wait for their delivery
//! lease. SQLite is one instance and runs no loop: it owns everything.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock, RwLock};
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

/// A lease as this instance counts it.
#[derive(Debug, Clone, Copy)]
struct Held {
    fence: i64,
    valid_until: Instant,
}

pub struct Ownership {
    store: SharedStore,
    clock: SharedClock,
    instance: String,
    started_at: DateTime<Utc>,
    heartbeat: Duration,
    held: RwLock<HashMap<String, Held>>,
    /// Every active webhook at the last beat, this instance's or another's.
    known: RwLock<HashSet<String>>,
    /// A webhook nobody knew of yet (just created) asks for a beat now, so that its
    /// first deliveries wait milliseconds for an owner, not a heartbeat.
    early: Notify,
    /// Told when a beat took a lease this instance did not hold (the claim loop).
    on_taken: OnceLock<Arc<Notify>>,
}

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
            known: RwLock::default(),
            early: Notify::new(),
            on_taken: OnceLock::new(),
        }
    }

    /// Wakes `notify` whenever a beat takes a lease this instance did not hold.
    pub fn wake_on_new_leases(&self, notify: Arc<Notify>) {
        let _ = self.on_taken.set(notify);
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
        held.get(webhook_id)
            .filter(|h| h.valid_until > Instant::now())
            .map(|h| h.fence)
    }

    /// The webhooks this instance holds a counting lease on.
    pub fn owned_webhooks(&self) -> Vec<String> {
        let now = Instant::now();
        let held = self.held.read().expect("ownership lock poisoned");
        held.iter()
            .filter(|(_, h)| h.valid_until > now)
            .map(|(w, _)| w.clone())
            .collect()
    }

    /// How many webhooks this instance holds a counting lease on.
    pub fn owned(&self) -> usize {
        let now = Instant::now();
        let held = self.held.read().expect("ownership lock poisoned");
        held.values().filter(|h| h.valid_until > now).count()
    }

    /// One heartbeat: beat, share the webhooks out over the live instances, give up what
    /// is no longer this instance's and take or renew the rest.
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
        let given_up: Vec<String> = {
            let held = self.held.read().expect("ownership lock poisoned");
            theirs
                .into_iter()
                .filter(|w| held.contains_key(w))
                .collect()
        };
        if !given_up.is_empty() {
            // Forgotten before released: nothing here counts it once another may take it.
            {
                let mut held = self.held.write().expect("ownership lock poisoned");
                for w in &given_up {
                    held.remove(w);
                }
            }
            self.store
                .release_ownership(&self.instance, &given_up, now)
                .await?;
        }
        let length = lease_duration(self.heartbeat);
        let until = now + chrono::Duration::from_std(length).unwrap_or_default();
        let taken = self
            .store
            .take_ownership(&self.instance, &mine, now, until)
            .await?;
        let valid_until = sent + length.saturating_sub(lease_margin(self.heartbeat));
        let mut held = self.held.write().expect("ownership lock poisoned");
        let new_lease = taken.iter().any(|l| !held.contains_key(&l.webhook_id));
        held.clear();
        for lease in taken {
            held.insert(
                lease.webhook_id,
                Held {
                    fence: lease.fence,
                    valid_until,
                },
            );
        }
        crate::metrics::set_owned_webhooks(held.len());
        drop(held);
        if new_lease {
            if let Some(claims) = self.on_taken.get() {
                claims.notify_one();
            }
        }
        Ok(())
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
        self.held.write().expect("ownership lock poisoned").clear();
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
