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

use std::collections::HashMap;

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

/// Tags a batch of arrivals (in due order): each arrival's tag, and each (webhook,
/// tenant)'s finish afterwards, to be stored.
pub fn tag(arrivals: &[Arrival<'_>], clocks: &Clocks) -> (Vec<i64>, Vec<(Queue, i64)>) {
    let mut finish: HashMap<(&str, &str), i64> = HashMap::new();
    let tags = arrivals
        .iter()
        .map(|a| {
            let now = clocks.virtual_time.get(a.webhook).copied().unwrap_or(0);
            let previous = finish.get(&(a.webhook, a.tenant)).copied().or_else(|| {
                clocks
                    .finish
                    .get(&(a.webhook.to_string(), a.tenant.to_string()))
                    .copied()
            });
            let start = previous.map_or(now, |f| f.max(now));
            finish.insert((a.webhook, a.tenant), start + cost(a.weight));
            start
        })
        .collect();
    let mut finishes: Vec<_> = finish
        .into_iter()
        .map(|((w, t), f)| ((w.to_string(), t.to_string()), f))
        .collect();
    // Sorted, so that concurrent writers lock rows in one order.
    finishes.sort();
    (tags, finishes)
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
            let (tags, finishes) = tag(&arrivals, &self.clocks());
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
