//! What this instance holds per webhook: deliveries leased and not yet finished, attempts
//! being sent, and the adaptive in-flight limit ([`concurrency`](crate::domain::concurrency)).
//! Claims and the publish fast path lease only up to a webhook's limit and the global
//! cap, so a backlog never piles up in memory and a slow listener cannot take the slots
//! of another. Which delivery may take a free place at once is the fair queue's rule
//! (`store::publish` asks only for deliveries at their queue's head).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;

use super::sender::SendOutcome;
use crate::domain::concurrency::{self, Bounds, LimitState, Sample};
use crate::store::ClaimLimits;

/// Floor, ceiling and start of every webhook's limit, and the cap on all leased at once.
#[derive(Debug, Clone, Copy)]
pub struct SlotSettings {
    pub floor: usize,
    pub ceiling: usize,
    pub initial: usize,
    pub total: usize,
}

/// Room a claim in progress may fill, counted as held meanwhile.
#[derive(Debug)]
pub struct Reservation {
    webhooks: Vec<(String, i64)>,
    total: usize,
}

#[derive(Debug)]
struct Slot {
    held: usize,
    sending: usize,
    state: LimitState,
    /// Last leased, sent or answered: an entry idle long enough is dropped.
    used: std::time::Instant,
    /// The webhook's app, once an answer moved the limit (for `/metrics`).
    app_id: Option<String>,
    /// The partner's `max_concurrency`, once seen.
    partner_max: Option<i64>,
}

pub struct Slots {
    settings: SlotSettings,
    webhooks: Mutex<HashMap<String, Slot>>,
    held_total: AtomicUsize,
    /// Claims between `reserve` and `settle`.
    claiming: AtomicUsize,
    /// Notified whenever a leased delivery is finished, so a claim loop waiting for
    /// capacity wakes.
    pub finished: Notify,
}

impl Slots {
    pub fn new(settings: SlotSettings) -> Self {
        Self {
            settings,
            webhooks: Mutex::new(HashMap::new()),
            held_total: AtomicUsize::new(0),
            claiming: AtomicUsize::new(0),
            finished: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.webhooks.lock().expect("slots map poisoned")
    }

    fn initial(&self) -> usize {
        self.settings
            .initial
            .clamp(self.settings.floor, self.settings.ceiling)
    }

    fn slot<'m>(&self, map: &'m mut HashMap<String, Slot>, webhook_id: &str) -> &'m mut Slot {
        let now = std::time::Instant::now();
        let slot = map.entry(webhook_id.to_string()).or_insert_with(|| Slot {
            held: 0,
            sending: 0,
            state: LimitState::new(self.initial()),
            used: now,
            app_id: None,
            partner_max: None,
        });
        slot.used = now;
        slot
    }

    /// Forgets webhooks with nothing leased here and no use for `idle` (deleted ones, or
    /// listeners with no traffic: their limit starts afresh), so that a partner churning
    /// webhooks grows neither memory nor the claim. Returns the ids dropped.
    pub fn forget_idle(&self, idle: std::time::Duration) -> Vec<String> {
        let now = std::time::Instant::now();
        let mut dropped = Vec::new();
        self.lock().retain(|id, slot| {
            let keep = slot.held > 0
                || slot.sending > 0
                || now.saturating_duration_since(slot.used) < idle;
            if !keep {
                dropped.push(id.clone());
            }
            keep
        });
        dropped
    }

    /// Forgets a deleted webhook at once, unless something of it is still leased here
    /// (then `forget_idle` drops it later).
    pub fn forget(&self, webhook_id: &str) {
        let mut map = self.lock();
        if map
            .get(webhook_id)
            .is_some_and(|s| s.held == 0 && s.sending == 0)
        {
            map.remove(webhook_id);
        }
    }

    /// Each webhook's current limit, by app, once an answer moved it: `/metrics` renders
    /// them from here, so a forgotten webhook's series ends with it.
    pub fn limits(&self) -> Vec<(String, String, usize)> {
        let mut limits: Vec<_> = self
            .lock()
            .iter()
            .filter_map(|(id, slot)| {
                let app = slot.app_id.clone()?;
                Some((app, id.clone(), slot.state.limit))
            })
            .collect();
        limits.sort();
        limits
    }

    /// Webhooks this instance keeps state for.
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    /// How many more deliveries this instance may lease now, across all webhooks.
    pub fn capacity(&self) -> usize {
        self.settings
            .total
            .saturating_sub(self.held_total.load(Ordering::Relaxed))
    }

    /// The current in-flight limit of a webhook on this instance.
    pub fn limit(&self, webhook_id: &str) -> usize {
        self.lock()
            .get(webhook_id)
            .map_or(self.initial(), |s| s.state.limit)
    }

    /// What a claim of up to `limit` may take: per webhook what its limit leaves, none
    /// of a webhook at its limit; a webhook not seen yet gets the initial limit.
    pub fn claim_limits(&self, limit: i64) -> ClaimLimits {
        self.claim_limits_of(&self.lock(), limit)
    }

    fn claim_limits_of(&self, map: &HashMap<String, Slot>, limit: i64) -> ClaimLimits {
        let mut claim = ClaimLimits {
            limit,
            per_webhook: self.initial() as i64,
            ..ClaimLimits::default()
        };
        // Only webhooks whose room differs from a fresh one's, or whose partner set a
        // maximum, are named: the claim's SQL grows with the listeners busy here, not
        // with every webhook ever seen, and a partner's maximum is reserved like any
        // room (see `reserve`).
        for (id, slot) in map.iter() {
            match slot.state.limit.saturating_sub(slot.held) {
                0 => claim.skip_webhooks.push(id.clone()),
                room if room as i64 == claim.per_webhook && slot.partner_max.is_none() => {}
                room => claim.remaining.push((id.clone(), room as i64)),
            }
        }
        claim
    }

    /// `claim_limits`, with the room it gives counted as held until `settle`: the publish
    /// fast path, which takes slots meanwhile, cannot fill the same room. Computed and
    /// counted under one lock, so that no fast-path lease slips in between (the bench
    /// saw 9 requests at once at a listener whose partner allows 8).
    pub fn reserve(&self, limit: i64) -> (ClaimLimits, Reservation) {
        let limit = limit.min(self.capacity() as i64).max(0);
        let mut map = self.lock();
        let claim = self.claim_limits_of(&map, limit);
        for (id, room) in &claim.remaining {
            if let Some(slot) = map.get_mut(id) {
                slot.held += *room as usize;
            }
        }
        self.held_total.fetch_add(limit as usize, Ordering::Relaxed);
        self.claiming.fetch_add(1, Ordering::Relaxed);
        drop(map);
        let reservation = Reservation {
            webhooks: claim.remaining.clone(),
            total: limit as usize,
        };
        (claim, reservation)
    }

    /// Ends a reservation: what the claim got is held, the rest of the room is free.
    pub fn settle<'a>(
        &self,
        reservation: Reservation,
        claimed: impl Iterator<Item = (&'a str, Option<i64>)>,
    ) {
        // The room given back and what the claim got are counted under one lock: a
        // fast-path lease in between would find the room free and take it twice.
        let mut map = self.lock();
        for (id, room) in &reservation.webhooks {
            if let Some(slot) = map.get_mut(id) {
                slot.held = slot.held.saturating_sub(*room as usize);
            }
        }
        let _ = self
            .held_total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(reservation.total))
            });
        self.hold_in(&mut map, claimed.into_iter());
        let _ = self
            .claiming
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        drop(map);
        self.finished.notify_waiters();
    }

    /// Counts claimed deliveries as held, each with its webhook's partner maximum (which
    /// the limit follows at once, not only after the next answer).
    pub fn hold<'a>(&self, webhooks: impl Iterator<Item = (&'a str, Option<i64>)>) {
        self.hold_in(&mut self.lock(), webhooks);
    }

    fn hold_in<'a>(
        &self,
        map: &mut HashMap<String, Slot>,
        webhooks: impl Iterator<Item = (&'a str, Option<i64>)>,
    ) {
        let mut n = 0;
        for (id, partner_max) in webhooks {
            let bounds = self.bounds(partner_max);
            let slot = self.slot(map, id);
            slot.held += 1;
            slot.state.limit = bounds.clamp(slot.state.limit);
            slot.partner_max = partner_max;
            n += 1;
        }
        self.held_total.fetch_add(n, Ordering::Relaxed);
    }

    fn bounds(&self, partner_max: Option<i64>) -> Bounds {
        Bounds::new(self.settings.floor, self.settings.ceiling, partner_max)
    }

    /// Takes one slot of the webhook if its limit and the global cap allow (the publish
    /// fast path); the caller releases it when the delivery is finished or not stored.
    pub fn try_hold(&self, webhook_id: &str, partner_max: Option<i64>) -> bool {
        let mut map = self.lock();
        // A claim in progress that did not know this webhook reserved none of its room,
        // and may fill all of it.
        let unseen_by_claim =
            !map.contains_key(webhook_id) && self.claiming.load(Ordering::Relaxed) > 0;
        let bounds = self.bounds(partner_max);
        let slot = self.slot(&mut map, webhook_id);
        slot.state.limit = bounds.clamp(slot.state.limit);
        slot.partner_max = partner_max;
        if unseen_by_claim || self.capacity() == 0 || slot.held >= slot.state.limit {
            return false;
        }
        slot.held += 1;
        self.held_total.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Whether deliveries of the webhook are leased here and not yet finished.
    pub fn holds(&self, webhook_id: &str) -> bool {
        self.lock().get(webhook_id).is_some_and(|s| s.held > 0)
    }

    pub fn release(&self, webhook_id: &str) {
        if let Some(slot) = self.lock().get_mut(webhook_id) {
            slot.held = slot.held.saturating_sub(1);
        }
        let _ = self
            .held_total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        self.finished.notify_waiters();
    }

    pub fn start_sending(&self, webhook_id: &str) {
        let mut map = self.lock();
        self.slot(&mut map, webhook_id).sending += 1;
    }

    /// Ends a send and moves the webhook's limit by what its answer says.
    pub fn finish_sending(
        &self,
        app_id: &str,
        webhook_id: &str,
        partner_max: Option<i64>,
        outcome: &SendOutcome,
    ) {
        let mut map = self.lock();
        let slot = self.slot(&mut map, webhook_id);
        let sample = Sample {
            class: outcome.class,
            status: outcome.status,
            latency: outcome.latency,
            in_flight: slot.sending,
        };
        slot.sending = slot.sending.saturating_sub(1);
        slot.partner_max = partner_max;
        slot.state = concurrency::next(slot.state, &sample, self.bounds(partner_max));
        if slot.app_id.as_deref() != Some(app_id) {
            slot.app_id = Some(app_id.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::retry::AttemptClass;

    fn slots() -> Slots {
        Slots::new(SlotSettings {
            floor: 2,
            ceiling: 8,
            initial: 4,
            total: 6,
        })
    }

    fn outcome(class: AttemptClass) -> SendOutcome {
        SendOutcome::unanswered(class, String::new(), Duration::from_millis(5))
    }

    #[test]
    fn claims_leave_out_webhooks_at_their_limit_and_give_the_rest_their_room() {
        let slots = slots();
        slots.hold(["a", "a", "a", "a", "b"].map(|id| (id, None)).into_iter());
        let claim = slots.claim_limits(10);
        assert_eq!(claim.per_webhook, 4);
        assert_eq!(claim.skip_webhooks, ["a"]);
        assert_eq!(claim.remaining, [("b".to_string(), 3)]);
        assert_eq!(slots.capacity(), 1);
    }

    #[test]
    fn the_fast_path_stops_at_the_webhook_limit_and_the_global_cap() {
        let slots = slots();
        assert!((0..4).all(|_| slots.try_hold("a", None)));
        assert!(!slots.try_hold("a", None), "a is at its limit of 4");
        assert!(slots.try_hold("b", Some(1)));
        assert!(!slots.try_hold("b", Some(1)), "b's partner allows one");
        assert!(slots.try_hold("c", None));
        assert!(!slots.try_hold("c", None), "the global cap of 6 is reached");
        slots.release("a");
        assert!(slots.try_hold("d", None), "a's freed place");
        assert!(!slots.try_hold("c", None), "the global cap again");
    }

    #[test]
    fn a_claim_in_progress_keeps_its_room_from_the_fast_path() {
        let slots = slots();
        slots.hold([("a", None)].into_iter());
        let (claim, reservation) = slots.reserve(10);
        assert_eq!(claim.limit, 5, "the global cap of 6 leaves 5");
        assert_eq!(claim.remaining, [("a".to_string(), 3)]);
        assert!(!slots.try_hold("a", None), "a's room is the claim's");
        assert!(!slots.try_hold("b", None), "so is the global room");
        slots.settle(reservation, [("a", None)].into_iter());
        assert_eq!(slots.capacity(), 4);
        assert!(slots.try_hold("a", None) && slots.try_hold("a", None));
        assert!(!slots.try_hold("a", None), "a holds its limit of 4");
    }

    #[test]
    fn a_claim_reserves_a_partner_maximum_and_what_it_did_not_know_of() {
        let slots = slots();
        slots.hold([("b", Some(4))].into_iter());
        slots.release("b");
        let (claim, reservation) = slots.reserve(6);
        assert_eq!(
            claim.remaining,
            [("b".to_string(), 4)],
            "named although its room is a fresh one's"
        );
        assert!(!slots.try_hold("b", Some(4)), "b's room is the claim's");
        assert!(
            !slots.try_hold("new", None),
            "a webhook the claim did not know of may be filled by it"
        );
        slots.settle(reservation, std::iter::empty());
        assert!(slots.try_hold("new", None) && slots.try_hold("b", Some(4)));
    }

    #[test]
    fn idle_and_deleted_webhooks_are_forgotten_and_leave_the_claim() {
        let slots = slots();
        slots.hold([("busy", None)].into_iter());
        slots.start_sending("idle");
        slots.finish_sending("app", "idle", None, &outcome(AttemptClass::Timeout));
        slots.start_sending("deleted");
        slots.finish_sending("app", "deleted", None, &outcome(AttemptClass::Timeout));
        assert_eq!(slots.tracked(), 3);
        let claim = slots.claim_limits(10);
        assert_eq!(claim.remaining.len(), 3, "{claim:?}");

        slots.forget("deleted");
        slots.forget("busy");
        assert_eq!(slots.tracked(), 2, "a webhook with a lease held is kept");
        assert_eq!(slots.forget_idle(Duration::ZERO), ["idle"]);
        assert_eq!(slots.tracked(), 1);
        slots.release("busy");
        assert_eq!(slots.forget_idle(Duration::ZERO), ["busy"]);
        let claim = slots.claim_limits(10);
        assert!(claim.remaining.is_empty() && claim.skip_webhooks.is_empty());
        assert_eq!(slots.limit("idle"), 4, "a forgotten webhook starts afresh");
    }

    #[test]
    fn a_fresh_webhook_is_not_named_in_the_claim() {
        let slots = slots();
        slots.start_sending("a");
        slots.finish_sending("app", "a", None, &outcome(AttemptClass::Success));
        let claim = slots.claim_limits(10);
        assert!(claim
            .remaining
            .iter()
            .all(|(_, room)| *room != claim.per_webhook));
    }

    #[test]
    fn failures_lower_the_limit_the_next_claim_sees() {
        let slots = slots();
        for _ in 0..5 {
            slots.start_sending("a");
            slots.finish_sending("app", "a", None, &outcome(AttemptClass::Timeout));
        }
        assert_eq!(slots.limit("a"), 2);
        slots.hold([("a", None), ("a", None)].into_iter());
        assert_eq!(slots.claim_limits(10).skip_webhooks, ["a"]);
    }
}
