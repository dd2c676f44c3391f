//! A request body that must keep pace: the bytes must keep coming (no gap longer than
//! the idle timeout), arrive within a total deadline, and, past a grace period, at an
//! average of at least the minimum rate (Apache's `mod_reqtimeout` `MinRate`, the classic
//! answer to slow-POST). A body that falls behind fails to read with [`BodyTooSlow`],
//! which the API answers 408 and closes the connection. The connection's record of the
//! body lets the server shed it first when the connection cap is reached.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::ConnState;

/// How a body must arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyPace {
    /// The longest gap with nothing received.
    pub idle: Duration,
    /// The whole body within this, from the request's start.
    pub deadline: Duration,
    /// Bytes per second on average, once past [`RATE_GRACE`]; 0 checks no rate.
    pub min_rate: u64,
}

/// A body's first seconds are not held to the rate: connections start slowly.
pub const RATE_GRACE: Duration = Duration::from_secs(5);

/// Why the body stopped being read.
#[derive(Debug, thiserror::Error)]
pub enum BodyTooSlow {
    #[error("the request body sent nothing for {0:?}")]
    Idle(Duration),
    #[error("the request body did not arrive within {0:?}")]
    Deadline(Duration),
    #[error("the request body arrived slower than {0} bytes per second")]
    Rate(u64),
    #[error("the request body was too slow while the gateway needed its connection")]
    Shed,
}

impl BodyPace {
    /// When the body, `bytes` in with the last at `last_byte`, next breaks a rule if
    /// nothing more arrives (measured from the request's start), and which rule that is. Pure: the
    /// rule the tests check.
    pub fn next_breach(&self, bytes: u64, last_byte: Duration) -> (Duration, BodyTooSlow) {
        let mut breach = (self.deadline, BodyTooSlow::Deadline(self.deadline));
        let idle_at = last_byte + self.idle;
        if idle_at < breach.0 {
            breach = (idle_at, BodyTooSlow::Idle(self.idle));
        }
        if self.min_rate > 0 {
            // The average drops below the rate at bytes / rate seconds.
            let rate_at =
                Duration::from_secs_f64(bytes as f64 / self.min_rate as f64).max(RATE_GRACE);
            if rate_at < breach.0 {
                breach = (rate_at, BodyTooSlow::Rate(self.min_rate));
            }
        }
        breach
    }

    /// Whether a body `bytes` in after `elapsed` is behind the minimum rate (ignoring
    /// the grace): what makes its connection the first to shed at the cap.
    pub fn is_behind(&self, elapsed: Duration, bytes: u64) -> bool {
        self.min_rate > 0 && (bytes as f64) < self.min_rate as f64 * elapsed.as_secs_f64()
    }
}

/// What a connection's server knows of the body it is reading.
#[derive(Debug, Default)]
pub struct BodyProgress {
    /// Milliseconds since the connection's epoch at which the body started, plus one; 0
    /// when no body is being read.
    started: AtomicU64,
    bytes: AtomicU64,
}

impl BodyProgress {
    /// The body marked `stamp` is done. A later request's body on the same connection
    /// (a pipelined one, made before this one is dropped) keeps its own mark.
    fn finish(&self, stamp: u64) {
        let _ = self
            .started
            .compare_exchange(stamp, 0, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The body being read now: how long since it started and how many bytes are in.
    pub fn current(&self, epoch: Instant) -> Option<(Duration, u64)> {
        match self.started.load(Ordering::Acquire) {
            0 => None,
            started => {
                let since = epoch
                    .elapsed()
                    .saturating_sub(Duration::from_millis(started - 1));
                Some((since, self.bytes.load(Ordering::Acquire)))
            }
        }
    }
}

pin_project_lite::pin_project! {
    pub struct PacedBody<B> {
        #[pin]
        inner: B,
        pace: BodyPace,
        started: Instant,
        last_byte: Duration,
        bytes: u64,
        #[pin]
        timer: Sleep,
        #[pin]
        shed: WaitForCancellationFutureOwned,
        conn: Arc<ConnState>,
        // This body's mark in `conn.body.started` (0: none).
        stamp: u64,
        done: bool,
    }

    impl<B> PinnedDrop for PacedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            this.conn.body.finish(this.stamp);
        }
    }
}

impl<B: Body> PacedBody<B> {
    pub fn new(inner: B, pace: BodyPace, conn: Arc<ConnState>) -> Self {
        let started = Instant::now();
        // A request without a body (most GETs) has nothing to pace.
        let done = inner.is_end_stream();
        let mut stamp = 0;
        if !done {
            stamp = started.saturating_duration_since(conn.epoch).as_millis() as u64 + 1;
            conn.body.bytes.store(0, Ordering::Release);
            conn.body.started.store(stamp, Ordering::Release);
        }
        let (at, _) = pace.next_breach(0, Duration::ZERO);
        Self {
            inner,
            pace,
            started,
            last_byte: Duration::ZERO,
            bytes: 0,
            timer: tokio::time::sleep_until(started + at),
            shed: conn.shed.clone().cancelled_owned(),
            conn,
            stamp,
            done,
        }
    }
}

impl<B> Body for PacedBody<B>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        if *this.done {
            return this.inner.poll_frame(cx).map_err(Into::into);
        }
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    use bytes::Buf;
                    *this.bytes += data.remaining() as u64;
                    *this.last_byte = this.started.elapsed();
                    this.conn.body.bytes.store(*this.bytes, Ordering::Release);
                    let (at, _) = this.pace.next_breach(*this.bytes, *this.last_byte);
                    this.timer.as_mut().reset(*this.started + at);
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(None) => {
                *this.done = true;
                this.conn.body.finish(*this.stamp);
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Pending => {}
        }
        if this.shed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTooSlow::Shed))));
        }
        if this.timer.as_mut().poll(cx).is_ready() {
            let elapsed = this.started.elapsed();
            let (at, rule) = this.pace.next_breach(*this.bytes, *this.last_byte);
            if at <= elapsed {
                return Poll::Ready(Some(Err(Box::new(rule))));
            }
            // Woken early (the rate's point moved with new bytes): wait for the next one.
            this.timer.as_mut().reset(*this.started + at);
            let _ = this.timer.as_mut().poll(cx);
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PACE: BodyPace = BodyPace {
        idle: Duration::from_secs(3),
        deadline: Duration::from_secs(60),
        min_rate: 500,
    };

    #[test]
    fn a_silent_body_breaks_the_idle_gap_first() {
        let (at, rule) = PACE.next_breach(0, Duration::ZERO);
        assert_eq!(at, Duration::from_secs(3));
        assert!(matches!(rule, BodyTooSlow::Idle(_)));
    }

    #[test]
    fn a_drip_breaks_the_rate_once_past_the_grace() {
        // One byte every 2 s never leaves a 3 s gap, but averages 0.5 B/s.
        let (at, rule) = PACE.next_breach(2, Duration::from_secs(4));
        assert_eq!(at, RATE_GRACE);
        assert!(matches!(rule, BodyTooSlow::Rate(500)));
        assert!(PACE.is_behind(Duration::from_secs(4), 2));
    }

    #[test]
    fn without_a_rate_the_deadline_bounds_a_drip() {
        let pace = BodyPace {
            min_rate: 0,
            ..PACE
        };
        let (at, rule) = pace.next_breach(29, Duration::from_secs(58));
        assert_eq!(at, Duration::from_secs(60));
        assert!(matches!(rule, BodyTooSlow::Deadline(_)));
    }

    proptest! {
        /// A body that keeps above the rate, without gaps, is never cut before the
        /// deadline; the breach is never before what was already received allows.
        #[test]
        fn a_body_at_pace_is_let_through(rate in 500u64..100_000, secs in 0u64..59) {
            let elapsed = Duration::from_secs(secs);
            let bytes = rate * secs.max(1) * 2;
            let (at, _) = PACE.next_breach(bytes, elapsed);
            prop_assert!(at > elapsed);
            prop_assert!(at <= PACE.deadline);
            prop_assert!(!PACE.is_behind(elapsed, bytes));
        }
    }
}
