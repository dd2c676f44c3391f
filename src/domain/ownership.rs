//! Which instance owns a webhook: the rules of listener ownership (DESIGN.md, "Listener
//! ownership"). Each live instance heartbeats; a webhook belongs to the live instance
//! with the highest rendezvous score for it (highest random weight, Thaler and
//! Ravishankar, 1998), and the owner holds that as a lease in the database.
//!
//! Why rendezvous hashing: every instance computes the same answer from the same list of
//! live instances, with no coordinator and no table of assignments to keep in step; the
//! webhooks spread evenly; and when an instance joins or leaves only the webhooks whose
//! owner changes move (those of the one that left, or those the new one wins), so a
//! rebalance never pauses the listeners that stay put. The hash is SHA-256, not the
//! standard library's, so that instances of different builds agree.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// Heartbeats an instance may miss before the others count it gone.
pub const MISSED_BEATS: u32 = 3;

/// How long a lease lasts past its last renewal, in heartbeats: an owner that stops
/// (SIGKILL, SIGSTOP, a cut link) loses its webhooks this long after its last beat.
pub const LEASE_BEATS: u32 = 3;

/// A webhook's score for an instance: the highest score owns it.
fn score(webhook_id: &str, instance_id: &str) -> u64 {
    let mut hash = Sha256::new();
    hash.update(webhook_id.as_bytes());
    hash.update([0]);
    hash.update(instance_id.as_bytes());
    let digest = hash.finalize();
    u64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 8 bytes"),
    )
}

/// The live instance that should own the webhook; `None` when none is live. Ties (a
/// 64-bit collision) go to the lower instance id, so every instance still agrees.
pub fn owner<'a>(webhook_id: &str, live: &'a [String]) -> Option<&'a str> {
    live.iter()
        .map(|instance| (score(webhook_id, instance), instance))
        .max_by(|(a, ia), (b, ib)| a.cmp(b).then_with(|| ib.cmp(ia)))
        .map(|(_, instance)| instance.as_str())
}

/// Whether an instance whose last heartbeat was `since_beat` ago still counts as live.
pub fn is_live(since_beat: Duration, heartbeat: Duration) -> bool {
    since_beat <= heartbeat * MISSED_BEATS
}

/// How long a lease renewed now lasts.
pub fn lease_duration(heartbeat: Duration) -> Duration {
    heartbeat * LEASE_BEATS
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn instances(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("instance-{i}")).collect()
    }

    #[test]
    fn nobody_owns_without_a_live_instance() {
        assert_eq!(owner("wh-1", &[]), None);
    }

    #[test]
    fn a_lone_instance_owns_everything() {
        let live = instances(1);
        for w in 0..100 {
            assert_eq!(owner(&format!("wh-{w}"), &live), Some("instance-0"));
        }
    }

    #[test]
    fn webhooks_spread_evenly() {
        let live = instances(3);
        let mut owned: HashMap<&str, usize> = HashMap::new();
        for w in 0..3_000 {
            *owned
                .entry(owner(&format!("wh-{w}"), &live).unwrap())
                .or_default() += 1;
        }
        for instance in &live {
            let n = owned[instance.as_str()];
            assert!((850..=1_150).contains(&n), "{instance} owns {n} of 3,000");
        }
    }

    #[test]
    fn an_instance_is_gone_after_missed_beats() {
        let beat = Duration::from_secs(2);
        assert!(is_live(Duration::from_secs(6), beat));
        assert!(!is_live(Duration::from_millis(6_001), beat));
        assert_eq!(lease_duration(beat), Duration::from_secs(6));
    }

    proptest! {
        /// Whatever the order the instances are listed in, every one agrees.
        #[test]
        fn the_owner_is_one_of_the_live_and_the_order_does_not_matter(
            webhook in "[a-z0-9-]{1,40}",
            mut live in prop::collection::vec("[a-z0-9-]{1,20}", 1..8),
        ) {
            let first = owner(&webhook, &live).map(str::to_string);
            prop_assert!(live.contains(first.as_ref().unwrap()));
            live.reverse();
            prop_assert_eq!(owner(&webhook, &live).map(str::to_string), first);
        }

        /// An instance leaving moves only its own webhooks; one joining takes some and
        /// moves nothing else.
        #[test]
        fn a_rebalance_moves_only_what_changes_hands(
            webhooks in prop::collection::vec("[a-z0-9-]{1,40}", 1..50),
            n in 2usize..6,
            leaving in 0usize..6,
        ) {
            let all = instances(n);
            let leaving = leaving % n;
            let rest: Vec<String> =
                all.iter().enumerate().filter(|(i, _)| *i != leaving).map(|(_, s)| s.clone()).collect();
            for w in &webhooks {
                let before = owner(w, &all).unwrap();
                let after = owner(w, &rest).unwrap();
                if before != all[leaving] {
                    prop_assert_eq!(before, after, "{} moved though its owner stayed", w);
                }
                // Joining is the same change the other way round.
                if after != before {
                    prop_assert_eq!(before, all[leaving].as_str());
                }
            }
        }
    }
}
