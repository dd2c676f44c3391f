//! The fair-share rule for one webhook: how the tenants with deliveries due for a
//! partner's one listener share its places (its adaptive limit, `max_concurrency`, rate
//! limit), max-min fairly and in proportion to each installation's weight.
//!
//! Start-time fair queuing (Goyal, Vin and Cheng, 1996). When a delivery falls due — a
//! fresh one, a retry, a released held one, an expired lease — it joins its webhook's
//! queue with a virtual start tag: the later of the webhook's virtual time and where its
//! tenant's previous delivery finished, and the tenant's finish moves on by the cost of
//! one delivery at its weight. The claim takes each webhook's lowest tags.
//!
//! - A tenant with a backlog has tags far ahead; one with a single delivery due starts at
//!   the virtual time, the tag now being served, so it goes out with the next free place
//!   (at most one place per other tenant before it).
//! - A lone tenant gets the whole listener: the claim takes whatever is lowest.
//! - Within a tenant, tags rise in due order.
//! - Under saturation, any two tenants' services (counted in cost) differ by at most
//!   one delivery's cost each.
//!
//! Why this and not deficit round robin in the dispatcher's memory: a tag is assigned
//! once per delivery (O(1), with one probe of the queue's head per webhook and of the
//! tenant's finish per batch), the claim stays one walk of an index in tag order, and
//! the state is in the database, so a restart, a crash or another instance claiming
//! sees the same order. A round robin needs to list the tenants with something due on
//! every claim, which is O(tenants) per freed place. Tags are assigned when a delivery
//! falls due, not at insert, so a retry scheduled for later is no tenant's debt meanwhile.

use std::collections::{HashMap, HashSet};

/// An installation's weight when the platform set none.
pub const DEFAULT_WEIGHT: i64 = 1;
pub const MIN_WEIGHT: i64 = 1;
pub const MAX_WEIGHT: i64 = 100;

/// The virtual time one delivery of a weight-1 tenant costs. Divisible by every weight up
/// to 16 and large enough that rounding for the others is below one part in 10⁵.
const UNIT: i64 = 720_720_000;

/// What one delivery costs a tenant of `weight` in virtual time.
pub fn cost(weight: i64) -> i64 {
    UNIT / weight.clamp(MIN_WEIGHT, MAX_WEIGHT)
}

/// A webhook's virtual time for deliveries joining its queue: the lowest tag waiting
/// (the one served next), or, when nothing waits, the latest finish any tenant reached.
pub fn virtual_time(lowest_waiting: Option<i64>, latest_finish: Option<i64>) -> i64 {
    lowest_waiting.or(latest_finish).unwrap_or(0)
}

/// One delivery falling due, in due order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival<'a> {
    pub webhook: &'a str,
    pub tenant: &'a str,
    pub weight: i64,
}

/// A (webhook, tenant) pair: one tenant's queue on one webhook.
pub type Queue = (String, String);

/// What the store knows before tagging a batch: per webhook its virtual time, per
/// (webhook, tenant) its finish tag.
#[derive(Debug, Clone, Default)]
pub struct Clocks {
    pub virtual_time: HashMap<String, i64>,
    pub finish: HashMap<Queue, i64>,
}

/// Where a delivery stands in its webhook's fair queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub tag: i64,
    /// Nothing waits ahead of it: its webhook's queue is empty, or its tag is the
    /// virtual time (it ties with the head). Such a delivery may be sent at once when
    /// the listener has a free place: queued, it would be next anyway.
    pub at_head: bool,
}

/// One batch's view of the fair queues it touches: the clocks as read, and the
/// finishes the batch moved, to be stored with it.
#[derive(Debug, Default)]
pub struct Ledger {
    clocks: Clocks,
    /// Webhooks with deliveries waiting in their queue.
    waiting: HashSet<String>,
    moved: HashMap<Queue, i64>,
}

impl Ledger {
    /// `waiting` names the webhooks whose queues hold something (their virtual time is
    /// then their lowest waiting tag).
    pub fn new(clocks: Clocks, waiting: HashSet<String>) -> Self {
        Self {
            clocks,
            waiting,
            moved: HashMap::new(),
        }
    }

    fn finish_of(&self, a: &Arrival<'_>) -> Option<i64> {
        let queue = (a.webhook.to_string(), a.tenant.to_string());
        self.moved
            .get(&queue)
            .or_else(|| self.clocks.finish.get(&queue))
            .copied()
    }

    /// The place `a`'s next delivery would take.
    pub fn place(&self, a: &Arrival<'_>) -> Place {
        let now = self
            .clocks
            .virtual_time
            .get(a.webhook)
            .copied()
            .unwrap_or(0);
        let tag = self.finish_of(a).map_or(now, |f| f.max(now));
        Place {
            tag,
            at_head: !self.waiting.contains(a.webhook) || tag <= now,
        }
    }

    /// `a`'s delivery joins the queue: its tag, and its tenant's finish moves on by
    /// one delivery's cost.
    pub fn queue(&mut self, a: &Arrival<'_>) -> i64 {
        let tag = self.place(a).tag;
        self.moved.insert(
            (a.webhook.to_string(), a.tenant.to_string()),
            tag + cost(a.weight),
        );
        self.waiting.insert(a.webhook.to_string());
        tag
    }

    /// `a`'s delivery, at the head, is sent at once. While others wait this was its
    /// tenant's place, so its finish moves on as if it had queued (one such place per
    /// tenant until the head moves); with nothing waiting the listener had a free place
    /// and it is no one's debt.
    pub fn send_at_once(&mut self, a: &Arrival<'_>) {
        if self.waiting.contains(a.webhook) {
            let tag = self.place(a).tag;
            self.moved.insert(
                (a.webhook.to_string(), a.tenant.to_string()),
                tag + cost(a.weight),
            );
        }
    }

    /// The finishes this batch moved, to be stored: sorted, so that concurrent writers
    /// lock rows in one order.
    pub fn finishes(self) -> Vec<(Queue, i64)> {
        let mut finishes: Vec<_> = self.moved.into_iter().collect();
        finishes.sort();
        finishes
    }
}

/// Tags a batch of arrivals (in due order) that all join their queues: each arrival's
/// tag, and each (webhook, tenant)'s finish afterwards, to be stored.
pub fn tag(arrivals: &[Arrival<'_>], clocks: Clocks) -> (Vec<i64>, Vec<(Queue, i64)>) {
    let mut ledger = Ledger::new(clocks, HashSet::new());
    let tags = arrivals.iter().map(|a| ledger.queue(a)).collect();
    (tags, ledger.finishes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One webhook's queue as the store keeps it: tags assigned as deliveries fall due,
    /// the lowest served first (ties in arrival order).
    #[derive(Default)]
    struct Model {
        waiting: std::collections::BTreeSet<(i64, u64, usize)>,
        finish: HashMap<super::Queue, i64>,
        arrived: u64,
    }

    impl Model {
        fn clocks(&self) -> Clocks {
            let lowest = self.waiting.first().map(|w| w.0);
            let latest = self.finish.values().copied().max();
            Clocks {
                virtual_time: HashMap::from([("w".to_string(), virtual_time(lowest, latest))]),
                finish: self.finish.clone(),
            }
        }

        /// `count` deliveries of tenant `t` fall due.
        fn arrive(&mut self, t: usize, weight: i64, count: usize) {
            let name = format!("t{t}");
            let arrivals: Vec<_> = (0..count)
                .map(|_| Arrival {
                    webhook: "w",
                    tenant: &name,
                    weight,
                })
                .collect();
            let (tags, finishes) = tag(&arrivals, self.clocks());
            for tag in tags {
                self.waiting.insert((tag, self.arrived, t));
                self.arrived += 1;
            }
            self.finish.extend(finishes);
        }

        /// The claim: the lowest tag goes out.
        fn serve(&mut self) -> Option<usize> {
            self.waiting.pop_first().map(|w| w.2)
        }
    }

    #[test]
    fn a_quiet_tenant_goes_out_with_the_next_free_place() {
        let mut q = Model::default();
        q.arrive(0, 1, 12_000);
        for _ in 0..100 {
            assert_eq!(q.serve(), Some(0));
        }
        q.arrive(1, 1, 1);
        let next_two = [q.serve(), q.serve()];
        assert!(next_two.contains(&Some(1)), "{next_two:?}");
        assert_eq!(q.serve(), Some(0));
    }

    #[test]
    fn a_retry_due_later_queues_behind_its_own_tenant_and_beside_the_others() {
        let mut q = Model::default();
        q.arrive(0, 1, 50);
        q.arrive(1, 1, 50);
        // Tenant 0's retry falls due now: one more delivery of tenant 0.
        q.arrive(0, 1, 1);
        let served: Vec<_> = (0..101).map(|_| q.serve().unwrap()).collect();
        assert_eq!(served.iter().filter(|&&t| t == 0).count(), 51);
        assert_eq!(served[100], 0, "tenant 0's retry is its last");
    }

    #[test]
    fn weights_share_in_proportion() {
        let mut q = Model::default();
        q.arrive(0, 3, 10_000);
        q.arrive(1, 1, 10_000);
        let mut served = [0, 0];
        for _ in 0..400 {
            served[q.serve().unwrap()] += 1;
        }
        assert_eq!(served, [300, 100]);
    }

    #[test]
    fn an_idle_tenant_saves_no_credit() {
        let mut q = Model::default();
        q.arrive(0, 1, 10);
        q.arrive(1, 1, 1_000);
        for _ in 0..500 {
            q.serve();
        }
        // Tenant 0 was idle for ~490 places; coming back it shares, it does not
        // take the listener for as long as it was away.
        q.arrive(0, 1, 1_000);
        let served: Vec<_> = (0..100).map(|_| q.serve().unwrap()).collect();
        let zero = served.iter().filter(|&&t| t == 0).count();
        assert!((49..=51).contains(&zero), "{zero} of 100");
    }

    #[test]
    fn costs_follow_weights() {
        assert_eq!(cost(1), UNIT);
        assert_eq!(cost(4) * 4, UNIT);
        assert_eq!(cost(0), UNIT, "clamped to the lowest weight");
        assert_eq!(cost(1_000), UNIT / 100, "clamped to the highest weight");
        assert_eq!(virtual_time(Some(5), Some(9)), 5);
        assert_eq!(virtual_time(None, Some(9)), 9);
        assert_eq!(virtual_time(None, None), 0);
    }

    #[test]
    fn at_the_head_while_nothing_waits_and_no_debt_for_it() {
        let a = Arrival {
            webhook: "w",
            tenant: "t0",
            weight: 1,
        };
        let mut l = Ledger::new(Clocks::default(), HashSet::new());
        assert_eq!(
            l.place(&a),
            Place {
                tag: 0,
                at_head: true
            }
        );
        l.send_at_once(&a);
        assert!(l.finishes().is_empty(), "a free place is no one's debt");
    }

    #[test]
    fn at_the_head_once_per_tenant_while_others_wait() {
        let clocks = Clocks {
            virtual_time: HashMap::from([("w".to_string(), 5 * UNIT)]),
            finish: HashMap::from([(("w".to_string(), "noisy".to_string()), 900 * UNIT)]),
        };
        let mut l = Ledger::new(clocks, HashSet::from(["w".to_string()]));
        let quiet = Arrival {
            webhook: "w",
            tenant: "quiet",
            weight: 1,
        };
        let noisy = Arrival {
            webhook: "w",
            tenant: "noisy",
            weight: 1,
        };
        assert!(!l.place(&noisy).at_head, "a backlogged tenant queues");
        assert_eq!(
            l.place(&quiet),
            Place {
                tag: 5 * UNIT,
                at_head: true
            }
        );
        l.send_at_once(&quiet);
        // Its place is taken: the next one of the same tenant queues behind the head.
        assert_eq!(
            l.place(&quiet),
            Place {
                tag: 6 * UNIT,
                at_head: false
            }
        );
        assert_eq!(l.queue(&quiet), 6 * UNIT);
        assert_eq!(
            l.finishes(),
            vec![(("w".to_string(), "quiet".to_string()), 7 * UNIT)]
        );
    }

    proptest! {
        /// A lone tenant gets every place, in its due order, whatever arrives when.
        #[test]
        fn a_lone_tenant_gets_the_whole_listener(
            batches in prop::collection::vec((1usize..30, 0usize..30), 1..20),
            weight in 1i64..=100,
        ) {
            let mut q = Model::default();
            let mut order = Vec::new();
            for (arrive, serve) in batches {
                let first = q.arrived;
                q.arrive(0, weight, arrive);
                order.extend(first..q.arrived);
                for _ in 0..serve {
                    let Some((_, seq, t)) = q.waiting.pop_first() else { break };
                    prop_assert_eq!(t, 0);
                    prop_assert_eq!(seq, order.remove(0), "due order within the tenant");
                }
            }
        }

        /// Every tenant backlogged: at every point, any two tenants' services in cost differ
        /// by at most one delivery's cost each (SFQ's bound), so shares converge to the
        /// weights and no tenant starves.
        #[test]
        fn shares_converge_under_saturation(
            weights in prop::collection::vec(1i64..=100, 1..7),
            places in 1usize..600,
        ) {
            let mut q = Model::default();
            for (t, w) in weights.iter().enumerate() {
                q.arrive(t, *w, 600);
            }
            let mut served = vec![0i64; weights.len()];
            for _ in 0..places {
                served[q.serve().unwrap()] += 1;
                for i in 0..weights.len() {
                    for j in 0..weights.len() {
                        let gap = served[i] * cost(weights[i]) - served[j] * cost(weights[j]);
                        prop_assert!(gap <= cost(weights[i]) + cost(weights[j]),
                            "{:?} served {:?}", weights, served);
                    }
                }
            }
        }

        /// Backlogged tenants, and one that publishes a delivery at a time and is sent at
        /// once whenever its place is at the head (the publish fast path), else queued:
        /// it never gets more than its share, and the backlogged ones still get theirs.
        #[test]
        fn sending_at_the_head_keeps_the_shares(
            backlogged in 1usize..6,
            steps in 1usize..400,
            free_place in prop::collection::vec(any::<bool>(), 400),
        ) {
            let mut q = Model::default();
            for t in 0..backlogged {
                q.arrive(t, 1, 500);
            }
            let trickle = backlogged;
            let name = format!("t{trickle}");
            let a = Arrival { webhook: "w", tenant: &name, weight: 1 };
            let mut served = vec![0i64; backlogged + 1];
            for free in free_place.iter().take(steps) {
                let mut ledger = Ledger::new(q.clocks(), HashSet::from(["w".to_string()]));
                if *free && ledger.place(&a).at_head {
                    ledger.send_at_once(&a);
                    served[trickle] += 1;
                } else {
                    let tag = ledger.queue(&a);
                    q.waiting.insert((tag, q.arrived, trickle));
                    q.arrived += 1;
                }
                q.finish.extend(ledger.finishes());
                served[q.serve().unwrap()] += 1;
                for i in 0..served.len() {
                    for j in 0..backlogged {
                        prop_assert!(served[i] - served[j] <= 2, "served {:?}", served);
                    }
                }
            }
        }

        /// Tenants arriving and leaving at random, one place served per step: a tenant
        /// whose first delivery arrives while others have backlogs waits at most one
        /// place per other tenant (a few more behind a tenant with a larger weight).
        #[test]
        fn a_newcomer_waits_at_most_one_place_per_other_tenant(
            weights in prop::collection::vec(1i64..=5, 6),
            steps in prop::collection::vec((0usize..6, 0usize..40), 1..60),
        ) {
            let mut q = Model::default();
            for (t, count) in steps {
                let newcomer = count > 0 && !q.waiting.iter().any(|w| w.2 == t);
                let others: std::collections::HashSet<usize> =
                    q.waiting.iter().map(|w| w.2).filter(|o| *o != t).collect();
                let bound: i64 = others
                    .iter()
                    .map(|&o| cost(weights[t]) / cost(weights[o]) + 1)
                    .sum();
                q.arrive(t, weights[t], count);
                if newcomer {
                    let mut before = 0;
                    // Serve until the newcomer's first delivery goes out.
                    while q.serve().unwrap() != t {
                        before += 1;
                    }
                    prop_assert!(before <= bound, "waited {} places behind {:?}", before, others);
                    if weights.iter().all(|w| *w == weights[0]) {
                        prop_assert!(before <= others.len() as i64);
                    }
                } else {
                    q.serve();
                }
            }
        }
    }
}
