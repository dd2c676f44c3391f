//! Adaptive per-listener concurrency: how many attempts one webhook may have in flight.
//!
//! A partner's one listener takes every tenant's events, so its in-flight limit is its
//! throughput. The limit follows the listener with AIMD (additive increase,
//! multiplicative decrease), as Netflix's `AIMDLimit` does, with a latency gate:
//!
//! - a fast success while the limit is in use (at least half of it in flight) adds one;
//! - a timeout, a connection or network error, a 429, a 5xx, or a success much slower
//!   than the listener's usual latency takes 10 % off;
//! - anything else (a 4xx, a success while the limit is mostly unused) leaves it.
//!
//! AIMD over a latency-gradient limiter (Vegas, Gradient2) because a webhook listener's
//! latency is mostly its own handler's time, not queueing we can measure: a gradient
//! needs a stable minimum RTT and misreads a handler whose time varies by request, while
//! AIMD reacts to what a partner can see and act on (errors, timeouts, slow answers) and
//! its rules are few enough to reason about. The latency gate compares with a slowly
//! moving baseline, so a listener that turns slow sheds concurrency within a few
//! answers, and one that stays slow is, after a while, taken as it is and may grow again.
//!
//! [`next`] is the whole rule, a plain function; the dispatcher keeps one [`LimitState`]
//! per webhook.

use std::time::Duration;

use super::retry::AttemptClass;

/// Where a webhook's limit starts (within its bounds) before its listener has answered.
pub const INITIAL_LIMIT: usize = 16;
/// The fraction of the limit kept after an overload signal.
pub const BACKOFF: f64 = 0.9;
/// A success slower than `SLOW_FACTOR ×` the baseline (and `SLOW_SLACK` above it) is an
/// overload signal: the listener is queueing.
pub const SLOW_FACTOR: f64 = 2.0;
pub const SLOW_SLACK: Duration = Duration::from_millis(50);
/// Weight of a new success in the baseline (an exponential moving average).
pub const BASELINE_WEIGHT: f64 = 0.05;
/// Successes the baseline needs before it judges an answer slow: the first answers
/// include connection set-up and say little about the listener's pace.
pub const BASELINE_MIN_SAMPLES: u32 = 20;

/// Where a webhook's limit may go: never below `floor` nor above `ceiling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub floor: usize,
    pub ceiling: usize,
}

impl Bounds {
    /// The gateway's floor and ceiling, lowered by the partner's own maximum if it set
    /// one (which then also lowers the floor: a partner's maximum is never exceeded).
    pub fn new(floor: usize, ceiling: usize, partner_max: Option<i64>) -> Self {
        let ceiling = match partner_max {
            Some(max) if max >= 1 => ceiling.min(max as usize),
            _ => ceiling,
        }
        .max(1);
        Self {
            floor: floor.clamp(1, ceiling),
            ceiling,
        }
    }

    pub fn clamp(self, limit: usize) -> usize {
        limit.clamp(self.floor, self.ceiling)
    }
}

/// One webhook's limit and what "usual latency" is for its listener.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitState {
    pub limit: usize,
    /// Moving average of successful attempts' latency, in milliseconds.
    pub baseline_ms: Option<f64>,
    /// Successes behind the baseline (counted up to `BASELINE_MIN_SAMPLES`).
    pub samples: u32,
}

impl LimitState {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            baseline_ms: None,
            samples: 0,
        }
    }
}

/// What one finished attempt says about the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub class: AttemptClass,
    pub status: Option<u16>,
    pub latency: Duration,
    /// Attempts to this webhook in flight when this one finished (itself included).
    pub in_flight: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Grow,
    Hold,
    Shrink,
}

/// How a sample moves the limit, given the listener's baseline latency (`None` until it
/// rests on enough answers).
pub fn verdict(sample: &Sample, limit: usize, baseline_ms: Option<f64>) -> Verdict {
    match sample.class {
        AttemptClass::Timeout | AttemptClass::Connect | AttemptClass::Network => Verdict::Shrink,
        // An abort is an answer like any status: only an overload status shrinks.
        AttemptClass::HttpError | AttemptClass::Aborted => match sample.status {
            Some(429) | Some(500..) => Verdict::Shrink,
            _ => Verdict::Hold,
        },
        AttemptClass::Success => {
            let latency_ms = sample.latency.as_secs_f64() * 1000.0;
            let slow = baseline_ms.is_some_and(|base| {
                latency_ms > base * SLOW_FACTOR
                    && latency_ms > base + SLOW_SLACK.as_secs_f64() * 1000.0
            });
            if slow {
                Verdict::Shrink
            } else if sample.in_flight * 2 >= limit {
                Verdict::Grow
            } else {
                Verdict::Hold
            }
        }
    }
}

/// The state after one sample: the rule of the module's header, within `bounds`.
pub fn next(state: LimitState, sample: &Sample, bounds: Bounds) -> LimitState {
    let limit = bounds.clamp(state.limit);
    let baseline = state
        .baseline_ms
        .filter(|_| state.samples >= BASELINE_MIN_SAMPLES);
    let limit = match verdict(sample, limit, baseline) {
        Verdict::Grow => limit + 1,
        Verdict::Hold => limit,
        Verdict::Shrink => (limit as f64 * BACKOFF).floor() as usize,
    };
    let (baseline_ms, samples) = match sample.class {
        AttemptClass::Success => {
            let ms = sample.latency.as_secs_f64() * 1000.0;
            let base = match state.baseline_ms {
                Some(base) => base + BASELINE_WEIGHT * (ms - base),
                None => ms,
            };
            (Some(base), (state.samples + 1).min(BASELINE_MIN_SAMPLES))
        }
        _ => (state.baseline_ms, state.samples),
    };
    LimitState {
        limit: bounds.clamp(limit),
        baseline_ms,
        samples,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const BOUNDS: Bounds = Bounds {
        floor: 4,
        ceiling: 256,
    };

    fn sample(class: AttemptClass, status: Option<u16>, ms: u64, in_flight: usize) -> Sample {
        Sample {
            class,
            status,
            latency: Duration::from_millis(ms),
            in_flight,
        }
    }

    fn any_class() -> impl Strategy<Value = AttemptClass> {
        prop::sample::select(vec![
            AttemptClass::Success,
            AttemptClass::HttpError,
            AttemptClass::Timeout,
            AttemptClass::Connect,
            AttemptClass::Network,
            AttemptClass::Aborted,
        ])
    }

    fn any_sample() -> impl Strategy<Value = Sample> {
        (
            any_class(),
            prop::option::of(100u16..600),
            0u64..20_000,
            0usize..400,
        )
            .prop_map(|(class, status, ms, in_flight)| sample(class, status, ms, in_flight))
    }

    fn any_bounds() -> impl Strategy<Value = (Bounds, Option<i64>)> {
        (1usize..16, 1usize..512, prop::option::of(-3i64..600))
            .prop_map(|(floor, ceiling, max)| (Bounds::new(floor, ceiling, max), max))
    }

    proptest! {
        #[test]
        fn the_limit_stays_within_its_bounds(
            (bounds, partner_max) in any_bounds(),
            start in 0usize..1000,
            samples in prop::collection::vec(any_sample(), 0..200),
        ) {
            let mut state = LimitState::new(start);
            for s in &samples {
                state = next(state, s, bounds);
                prop_assert!(state.limit >= bounds.floor && state.limit <= bounds.ceiling);
                if let Some(max) = partner_max.filter(|m| *m >= 1) {
                    prop_assert!(state.limit as i64 <= max);
                }
            }
        }

        #[test]
        fn one_sample_grows_by_one_at_most_and_overload_never_grows(
            start in 4usize..256,
            baseline in prop::option::of(0.0f64..5_000.0),
            s in any_sample(),
        ) {
            let state = LimitState { limit: start, baseline_ms: baseline, samples: BASELINE_MIN_SAMPLES };
            let after = next(state, &s, BOUNDS);
            prop_assert!(after.limit <= start + 1);
            let overload = matches!(s.class, AttemptClass::Timeout | AttemptClass::Connect | AttemptClass::Network)
                || matches!(s.status, Some(429) | Some(500..)) && matches!(s.class, AttemptClass::HttpError | AttemptClass::Aborted);
            if overload {
                prop_assert!(after.limit < start || after.limit == BOUNDS.floor);
            }
        }

        #[test]
        fn a_failing_listener_falls_to_the_floor_within_fifty_answers(
            start in 4usize..=256,
            class in prop::sample::select(vec![AttemptClass::Timeout, AttemptClass::Connect, AttemptClass::Network]),
        ) {
            let mut state = LimitState::new(start);
            for _ in 0..50 {
                state = next(state, &sample(class, None, 10_000, state.limit), BOUNDS);
            }
            prop_assert_eq!(state.limit, BOUNDS.floor);
        }

        #[test]
        fn an_unused_limit_does_not_grow(start in 4usize..=256, in_flight in 0usize..2) {
            let state = LimitState { limit: start, baseline_ms: Some(5.0), samples: BASELINE_MIN_SAMPLES };
            let after = next(state, &sample(AttemptClass::Success, Some(200), 5, in_flight), BOUNDS);
            prop_assert_eq!(after.limit, start);
        }
    }

    /// `n` successes of `latency_ms`, each while the whole limit is in flight.
    fn busy_successes(mut state: LimitState, n: usize, latency_ms: u64) -> LimitState {
        for _ in 0..n {
            let s = sample(AttemptClass::Success, Some(200), latency_ms, state.limit);
            state = next(state, &s, BOUNDS);
        }
        state
    }

    #[test]
    fn a_busy_fast_listener_grows_to_the_ceiling() {
        assert_eq!(busy_successes(LimitState::new(16), 300, 2).limit, 256);
    }

    #[test]
    fn a_listener_that_turns_slow_sheds_then_grows_again_at_its_new_pace() {
        let state = busy_successes(LimitState::new(16), 300, 2);
        assert_eq!(state.limit, 256);
        // Answers now take 200 ms: the first few cut the limit.
        let state = busy_successes(state, 10, 200);
        assert!(state.limit < 256 * 9 / 10 * 9 / 10, "{state:?}");
        let low = state.limit;
        // Once 200 ms is the listener's usual pace, it grows again.
        let state = busy_successes(state, 500, 200);
        assert!(state.limit > low, "{state:?}");
    }

    #[test]
    fn client_errors_hold_and_throttling_shrinks() {
        let state = LimitState::new(100);
        let hold = next(
            state,
            &sample(AttemptClass::HttpError, Some(404), 5, 100),
            BOUNDS,
        );
        assert_eq!(hold.limit, 100);
        let shrink = next(
            state,
            &sample(AttemptClass::HttpError, Some(429), 5, 100),
            BOUNDS,
        );
        assert_eq!(shrink.limit, 90);
    }

    #[test]
    fn a_partner_maximum_lowers_ceiling_and_floor() {
        assert_eq!(
            Bounds::new(4, 256, Some(2)),
            Bounds {
                floor: 2,
                ceiling: 2
            }
        );
        assert_eq!(
            Bounds::new(4, 256, Some(1000)),
            Bounds {
                floor: 4,
                ceiling: 256
            }
        );
        assert_eq!(
            Bounds::new(4, 256, None),
            Bounds {
                floor: 4,
                ceiling: 256
            }
        );
    }
}
