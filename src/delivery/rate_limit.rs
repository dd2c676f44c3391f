//! A token bucket per webhook: at most `rate` attempts per second (bursts up to `rate`),
//! so fan-in from thousands of tenants cannot flood one partner. Excess waits; nothing
//! is dropped.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    /// How many tokens a full bucket holds.
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate_per_second: u32, now: Instant) -> Self {
        let rate = f64::from(rate_per_second.max(1));
        Self {
            rate,
            burst: rate,
            tokens: rate,
            last: now,
        }
    }

    /// `count` a minute, bursts up to `count`.
    pub fn per_minute(count: u32, now: Instant) -> Self {
        let count = f64::from(count.max(1));
        Self {
            rate: count / 60.0,
            burst: count,
            tokens: count,
            last: now,
        }
    }

    /// Takes a token, or says how long until one is available.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }

    pub fn rate(&self) -> u32 {
        self.rate as u32
    }

    /// Full again at `now`: no different from a new bucket, so it may be dropped.
    pub fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.rate >= self.burst
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_minute_bucket_bursts_its_count_then_refills_over_the_minute() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::per_minute(3, t0);
        assert!((0..3).all(|_| bucket.take(t0).is_ok()));
        let wait = bucket.take(t0).unwrap_err();
        assert_eq!(wait.as_secs(), 20);
        assert!(bucket.take(t0 + Duration::from_secs(20)).is_ok());
    }

    #[test]
    fn an_idle_bucket_fills_up() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(2, t0);
        assert!(bucket.is_full(t0));
        bucket.take(t0).unwrap();
        assert!(!bucket.is_full(t0));
        assert!(bucket.is_full(t0 + Duration::from_millis(500)));
    }

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(5, t0);
        for _ in 0..5 {
            assert!(bucket.take(t0).is_ok());
        }
        let wait = bucket.take(t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(200));
        assert!(bucket.take(t0 + Duration::from_millis(200)).is_ok());
        assert!(bucket.take(t0 + Duration::from_millis(200)).is_err());
    }

    proptest! {
        /// Over any span, no more than rate × seconds + burst tokens are handed out.
        #[test]
        fn never_exceeds_the_rate(rate in 1u32..200, steps in proptest::collection::vec(0u64..50, 1..500)) {
            let t0 = Instant::now();
            let mut bucket = TokenBucket::new(rate, t0);
            let mut now = t0;
            let mut taken = 0u64;
            for ms in steps {
                now += Duration::from_millis(ms);
                if bucket.take(now).is_ok() {
                    taken += 1;
                }
            }
            let span = (now - t0).as_secs_f64();
            prop_assert!(taken as f64 <= f64::from(rate) * span + f64::from(rate) + 1e-9);
        }
    }
}
