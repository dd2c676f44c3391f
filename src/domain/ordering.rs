//! Ordered delivery per key (DESIGN.md, "Ordered delivery"): for a webhook with
//! `ordering: "per_key"`, the deliveries of one (tenant, `ordering_key`) are attempted one
//! at a time in publish order. The next is not attempted before the one ahead of it has
//! ended: delivered, failed for good, aborted by the receiver or skipped. Keys are
//! independent, so one key's failing head holds only that key, and a fan-in listener
//! keeps its concurrency across keys. Events without a key are unordered.
//!
//! The rule is stated over one key's deliveries in `sequence` order (1, 2, 3… per
//! webhook, tenant and key, given at insert in commit order): only the head, the first
//! that has not ended, may be attempted, and only when it is due and not under way. A
//! held head (a deactivated webhook) holds its key, so a replay releases a key's held
//! deliveries in their order.
//!
//! The store keeps it without a probe per claim: only a key's head is ever claimable
//! (pending, in flight or held), those behind it are `waiting` and are made due one at a
//! time as the head ends (`store::ordering`), so the claim and the fast path stay as
//! they are.

/// A webhook's ordering setting.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Ordering {
    /// Deliveries are attempted concurrently, whatever their key (today's behaviour).
    #[default]
    None,
    /// One at a time per (tenant, ordering key), in publish order.
    PerKey,
}

impl Ordering {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::PerKey => "per_key",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "per_key" => Some(Self::PerKey),
            _ => None,
        }
    }
}

/// The most characters an ordering key has.
pub const KEY_MAX: usize = 200;

/// An ordering key: 1 to [`KEY_MAX`] visible ASCII characters (no spaces), so that it
/// reads the same in a body, a log and a URL.
pub fn valid_key(key: &str) -> bool {
    (1..=KEY_MAX).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Where one delivery of a key stands, as far as ordering is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyedState {
    /// Due now: fresh, or a retry whose time has come.
    Due,
    /// A retry scheduled for later.
    Scheduled,
    /// Under way: leased and being attempted.
    InFlight,
    /// Kept while its webhook is deactivated.
    Held,
    /// Delivered, failed for good, aborted by the receiver, or skipped.
    Ended,
}

impl KeyedState {
    pub fn has_ended(self) -> bool {
        self == Self::Ended
    }
}

/// The head of a key: the index of its first delivery, in sequence order, that has not
/// ended; `None` when all have.
pub fn head(in_sequence: &[KeyedState]) -> Option<usize> {
    in_sequence.iter().position(|s| !s.has_ended())
}

/// Which of a key's deliveries, in sequence order, may be attempted now: its head, when
/// the head is due. Whatever is behind the head waits, due or not.
pub fn attemptable(in_sequence: &[KeyedState]) -> Option<usize> {
    head(in_sequence).filter(|&h| in_sequence[h] == KeyedState::Due)
}

/// Whether a delivery may be attempted, given the states of those ahead of it in its
/// key (any order): only when every one of them has ended. The form a claim checks.
pub fn may_attempt(own: KeyedState, ahead: impl IntoIterator<Item = KeyedState>) -> bool {
    own == KeyedState::Due && ahead.into_iter().all(KeyedState::has_ended)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::KeyedState::*;
    use super::*;

    #[test]
    fn only_a_due_head_is_attemptable() {
        assert_eq!(attemptable(&[Ended, Due, Due]), Some(1));
        assert_eq!(attemptable(&[Ended, InFlight, Due]), None);
        assert_eq!(
            attemptable(&[Scheduled, Due]),
            None,
            "a retrying head holds its key"
        );
        assert_eq!(attemptable(&[Held, Due]), None, "a held head holds its key");
        assert_eq!(attemptable(&[Ended, Ended]), None);
        assert_eq!(attemptable(&[]), None);
    }

    #[test]
    fn the_claims_form_agrees_with_the_head() {
        assert!(may_attempt(Due, [Ended, Ended]));
        assert!(may_attempt(Due, []));
        assert!(!may_attempt(Due, [Ended, Scheduled]));
        assert!(!may_attempt(Scheduled, [Ended]));
    }

    /// What happens to an attempt at the listener.
    #[derive(Debug, Clone, Copy)]
    enum Outcome {
        Delivered,
        Failed,
        TimedOut,
        Aborted,
    }

    #[derive(Debug, Clone)]
    enum Step {
        /// Publish one event for key `k`.
        Publish(usize),
        /// Start attempting what the rule allows on key `k` (a claim).
        Start(usize),
        /// Finish the attempt under way on key `k`, if any, with an outcome.
        Finish(usize, Outcome),
        /// Time passes: retries scheduled become due.
        Tick,
    }

    const KEYS: usize = 4;
    const RETRIES: u32 = 3;

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..KEYS).prop_map(Step::Publish),
            (0..KEYS).prop_map(Step::Start),
            (
                0..KEYS,
                prop_oneof![
                    Just(Outcome::Delivered),
                    Just(Outcome::Failed),
                    Just(Outcome::TimedOut),
                    Just(Outcome::Aborted),
                ]
            )
                .prop_map(|(k, o)| Step::Finish(k, o)),
            Just(Step::Tick),
        ]
    }

    /// One key's deliveries: state and failures so far, in sequence order.
    #[derive(Default)]
    struct Key {
        deliveries: Vec<(KeyedState, u32)>,
        /// Sequences as the listener received them, one per attempt.
        received: Vec<usize>,
    }

    impl Key {
        fn states(&self) -> Vec<KeyedState> {
            self.deliveries.iter().map(|(s, _)| *s).collect()
        }

        fn finish(&mut self, outcome: Outcome) {
            let Some(i) = self.deliveries.iter().position(|(s, _)| *s == InFlight) else {
                return;
            };
            let (state, failures) = &mut self.deliveries[i];
            *state = match outcome {
                Outcome::Delivered | Outcome::Aborted => Ended,
                Outcome::Failed | Outcome::TimedOut if *failures >= RETRIES => Ended,
                Outcome::Failed | Outcome::TimedOut => {
                    *failures += 1;
                    Scheduled
                }
            };
        }
    }

    proptest! {
        /// Over any interleaving of publishes, claims, failures, timeouts and aborts:
        /// the listener gets each key's deliveries in publish order (a retry repeats the
        /// one it retries), never two of one key at once, and once the listener answers
        /// every delivery ends.
        #[test]
        fn each_key_is_attempted_one_at_a_time_in_publish_order(
            steps in proptest::collection::vec(step(), 0..200),
        ) {
            let mut keys: HashMap<usize, Key> = HashMap::new();
            for step in steps {
                match step {
                    Step::Publish(k) => keys.entry(k).or_default().deliveries.push((Due, 0)),
                    Step::Start(k) => {
                        let key = keys.entry(k).or_default();
                        if let Some(i) = attemptable(&key.states()) {
                            let ahead = key.states()[..i].to_vec();
                            prop_assert!(may_attempt(Due, ahead));
                            key.deliveries[i].0 = InFlight;
                            key.received.push(i);
                        }
                    }
                    Step::Finish(k, outcome) => keys.entry(k).or_default().finish(outcome),
                    Step::Tick => {
                        for key in keys.values_mut() {
                            for (state, _) in &mut key.deliveries {
                                if *state == Scheduled {
                                    *state = Due;
                                }
                            }
                        }
                    }
                }
                for key in keys.values() {
                    let in_flight = key.states().iter().filter(|s| **s == InFlight).count();
                    prop_assert!(in_flight <= 1, "two of one key at once");
                }
            }
            for key in keys.values() {
                prop_assert!(key.received.windows(2).all(|w| w[0] <= w[1]), "{:?}", key.received);
            }
            // A listener that answers from now on: every delivery ends, in order.
            for key in keys.values_mut() {
                for _ in 0..key.deliveries.len() * (RETRIES as usize + 2) {
                    key.finish(Outcome::Delivered);
                    for (state, _) in &mut key.deliveries {
                        if *state == Scheduled {
                            *state = Due;
                        }
                    }
                    if let Some(i) = attemptable(&key.states()) {
                        key.deliveries[i].0 = InFlight;
                        key.received.push(i);
                    }
                }
                key.finish(Outcome::Delivered);
                prop_assert!(key.states().iter().all(|s| s.has_ended()));
                prop_assert!(key.received.windows(2).all(|w| w[0] <= w[1]));
            }
        }
    }
}
