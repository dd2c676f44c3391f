//! The fair-share rule for one webhook: when a partner's listener has room for `room`
//! more attempts and several tenants have deliveries due for it, who gets the places.
//!
//! Weighted deficit round robin over the tenants with due deliveries (Shreedhar and
//! Varghese, 1995): each turn a tenant earns its weight in credit and spends it on its
//! own due deliveries, oldest first; a tenant with nothing due keeps no credit. It costs
//! O(1) per place handed out (plus one step per tenant passed over), keeps its state
//! between calls (each tenant's credit, and where the round stopped) so that small rooms
//! — one freed place at a time, the usual case of a saturated listener — still rotate
//! among tenants, and within a tenant the order stays the store's (due order).
//!
//! Why this and not virtual finish tags assigned at insert: the room is decided in
//! memory just before a claim, from the tenants the store reports due, so nothing is
//! written on the publish path and retries or released held deliveries need no re-tag:
//! they are simply due deliveries of their tenant.

use std::collections::HashMap;

/// An installation's weight when the platform set none.
pub const DEFAULT_WEIGHT: u32 = 1;
pub const MAX_WEIGHT: u32 = 100;

/// What one tenant has due for the webhook now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub tenant: String,
    pub deliveries: usize,
    /// 1 to [`MAX_WEIGHT`].
    pub weight: u32,
}

/// The rotation's memory for one webhook: each tenant's unspent credit, and the tenant
/// the next turn starts after.
#[derive(Debug, Clone, Default)]
pub struct Rotation {
    credit: HashMap<String, u32>,
    last: Option<String>,
}

impl Rotation {
    /// Tenants whose credit it still holds (at most those with something due lately).
    pub fn tracked(&self) -> usize {
        self.credit.len()
    }
}

/// Hands out up to `room` places among `due` (in any order; sorted here by tenant so the
/// rotation is stable): how many deliveries each tenant may send now. Never more than a
/// tenant has due, never more than `room` in all, and as many as both allow.
pub fn allocate(room: usize, due: &[Due], rotation: &mut Rotation) -> Vec<(String, usize)> {
    let mut ring: Vec<&Due> = due.iter().filter(|d| d.deliveries > 0).collect();
    ring.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    // A tenant with nothing due keeps no credit (DRR's rule: an idle flow saves nothing).
    rotation
        .credit
        .retain(|tenant, _| ring.iter().any(|d| &d.tenant == tenant));
    let mut granted: Vec<usize> = vec![0; ring.len()];
    if ring.is_empty() || room == 0 {
        return Vec::new();
    }
    // Start after the tenant the last call stopped at.
    let start = match &rotation.last {
        Some(last) => ring.iter().position(|d| d.tenant > *last).unwrap_or(0),
        None => 0,
    };
    let mut left = room;
    let mut i = start;
    // A tenant stopped mid-credit is served again first, without new credit.
    let mut resumed = rotation
        .last
        .as_ref()
        .and_then(|last| ring.iter().position(|d| &d.tenant == last))
        .filter(|&p| rotation.credit.get(&ring[p].tenant).is_some_and(|&c| c > 0));
    while left > 0 && granted.iter().zip(&ring).any(|(g, d)| *g < d.deliveries) {
        let index = resumed.take().unwrap_or(i);
        let d = ring[index];
        let wanting = d.deliveries - granted[index];
        if wanting > 0 {
            let weight = d.weight.clamp(1, MAX_WEIGHT);
            let credit = rotation.credit.entry(d.tenant.clone()).or_insert(0);
            // Credit left from a larger weight is no more than the weight now.
            *credit = match *credit {
                0 => weight,
                left => left.min(weight),
            };
            let take = (*credit as usize).min(wanting).min(left);
            granted[index] += take;
            left -= take;
            *credit -= take as u32;
            if d.deliveries == granted[index] {
                *credit = 0;
            }
            rotation.last = Some(d.tenant.clone());
            if left == 0 {
                break;
            }
        }
        if index == i {
            i = (i + 1) % ring.len();
        }
    }
    ring.iter()
        .zip(granted)
        .filter(|(_, g)| *g > 0)
        .map(|(d, g)| (d.tenant.clone(), g))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn due(tenant: &str, deliveries: usize, weight: u32) -> Due {
        Due {
            tenant: tenant.into(),
            deliveries,
            weight,
        }
    }

    #[test]
    fn a_lone_tenant_gets_the_whole_listener() {
        let mut r = Rotation::default();
        assert_eq!(
            allocate(8, &[due("noisy", 12_000, 1)], &mut r),
            [("noisy".to_string(), 8)]
        );
        assert_eq!(
            allocate(8, &[due("noisy", 3, 1)], &mut r),
            [("noisy".to_string(), 3)]
        );
    }

    #[test]
    fn a_quiet_tenant_is_served_at_the_next_free_place() {
        // A saturated listener frees one place at a time.
        let mut r = Rotation::default();
        assert_eq!(
            allocate(1, &[due("noisy", 12_000, 1)], &mut r),
            [("noisy".to_string(), 1)]
        );
        let both = [due("noisy", 11_999, 1), due("quiet", 1, 1)];
        assert_eq!(allocate(1, &both, &mut r), [("quiet".to_string(), 1)]);
        assert_eq!(
            allocate(1, &[due("noisy", 11_999, 1)], &mut r),
            [("noisy".to_string(), 1)]
        );
    }

    #[test]
    fn weights_share_in_proportion() {
        let mut r = Rotation::default();
        let mut got: HashMap<String, usize> = HashMap::new();
        let tenants = [due("big", 1000, 3), due("small", 1000, 1)];
        for _ in 0..400 {
            for (t, n) in allocate(1, &tenants, &mut r) {
                *got.entry(t).or_default() += n;
            }
        }
        assert_eq!((got["big"], got["small"]), (300, 100));
    }

    fn tenants() -> impl Strategy<Value = Vec<Due>> {
        prop::collection::vec((0usize..50, 1u32..5), 1..8).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (n, w))| due(&format!("t{i}"), n, w))
                .collect()
        })
    }

    proptest! {
        /// Never more than room, never more than due, and as many as both allow.
        #[test]
        fn hands_out_exactly_what_fits(room in 0usize..40, due in tenants()) {
            let mut r = Rotation::default();
            let granted = allocate(room, &due, &mut r);
            let total: usize = granted.iter().map(|(_, n)| n).sum();
            let wanted: usize = due.iter().map(|d| d.deliveries).sum();
            prop_assert_eq!(total, room.min(wanted));
            for (tenant, n) in &granted {
                let d = due.iter().find(|d| &d.tenant == tenant).unwrap();
                prop_assert!(*n <= d.deliveries && *n > 0);
            }
        }

        /// Under saturation (every tenant always has more due), one place at a time: each
        /// tenant is served within one round of the others' weights, and over whole
        /// rounds the shares are exactly the weights.
        #[test]
        fn no_tenant_starves_and_shares_converge(
            weights in prop::collection::vec(1u32..5, 1..7),
            rounds in 1usize..20,
        ) {
            let due: Vec<Due> = weights
                .iter()
                .enumerate()
                .map(|(i, w)| due(&format!("t{i}"), 1_000_000, *w))
                .collect();
            let round: u32 = weights.iter().sum();
            let mut r = Rotation::default();
            let mut served = vec![0usize; due.len()];
            let mut since_last = vec![0u32; due.len()];
            for _ in 0..(round as usize * rounds) {
                let granted = allocate(1, &due, &mut r);
                prop_assert_eq!(granted.len(), 1);
                for (i, d) in due.iter().enumerate() {
                    if d.tenant == granted[0].0 {
                        served[i] += 1;
                        since_last[i] = 0;
                    } else {
                        since_last[i] += 1;
                        prop_assert!(since_last[i] <= round, "{} waited {} places", d.tenant, since_last[i]);
                    }
                }
            }
            for (i, w) in weights.iter().enumerate() {
                prop_assert_eq!(served[i], *w as usize * rounds);
            }
        }

        /// Demand that comes and goes, rooms of one round (the active tenants' weights
        /// summed): every tenant with something due is served in each, whatever credit
        /// the last call left.
        #[test]
        fn every_tenant_with_work_is_served_in_a_round(
            calls in prop::collection::vec(tenants(), 1..30),
        ) {
            let mut r = Rotation::default();
            for due in calls {
                let round: usize = due.iter().filter(|d| d.deliveries > 0).map(|d| d.weight as usize).sum();
                let granted = allocate(round, &due, &mut r);
                for d in due.iter().filter(|d| d.deliveries > 0) {
                    prop_assert!(granted.iter().any(|(t, _)| *t == d.tenant), "{} left out", d.tenant);
                }
                prop_assert!(r.tracked() <= due.len());
            }
        }
    }
}
