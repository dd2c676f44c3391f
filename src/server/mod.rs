//! The HTTP server: hyper's HTTP/1.1 connections with the limits that `axum::serve` does
//! not expose, so that stalled or slow clients cannot hold the gateway.
//!
//! - A client must send a request's whole head within `header_read_timeout`; hyper's
//!   timer also runs while a keep-alive connection waits for its next request, so the
//!   same bound closes idle connections.
//! - At most `max_connections` are open. When one more arrives at the cap, the oldest
//!   connection with no request in flight (stalled in its head, or idle between
//!   requests) is closed to make room; failing that, the oldest whose request body is
//!   behind the minimum rate is shed (its request answered 408); if every connection is
//!   busy at pace, newcomers wait in the kernel's accept backlog. A flood of stalled or
//!   dripping sockets therefore cannot lock out a real client, and the process never
//!   runs out of descriptors.
//! - A request body must keep pace ([`paced_body`]): no gap over `body_timeout`, all of
//!   it within `body_deadline`, and past a grace at least `body_min_rate` bytes a second
//!   on average; else it fails to read and the API answers 408 and closes the
//!   connection (`api::error`). The 413 for a too-long `Content-Length` is the router's.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

mod paced_body;
pub use paced_body::{BodyPace, BodyTooSlow, RATE_GRACE};
use paced_body::{BodyProgress, PacedBody};

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub body: BodyPace,
}

/// Serves `app` on `listener` until `shutdown`, then lets requests in flight finish for
/// at most `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let connections = Arc::new(Connections::new(limits.max_connections, limits.body));
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: transient.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let slot = tokio::select! {
            slot = connections.admit() => slot,
            _ = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = Tracked {
            app: app.clone(),
            conn: slot.state.clone(),
            pace: limits.body,
        };
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            tokio::select! {
                result = conn => if let Err(e) = result {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                },
                _ = slot.state.evict.cancelled() => {
                    tracing::debug!(%remote, "idle connection closed to make room");
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace; closing them");
    }
}

/// A connection this young with no request yet is still sending its head, not idle.
const FRESH: Duration = Duration::from_millis(500);

struct ConnState {
    /// Requests of this connection being handled now.
    busy: AtomicUsize,
    /// Closes the connection at once (it is idle).
    evict: CancellationToken,
    /// Fails the body being read, so its request is answered 408 and the connection
    /// closed (it is too slow).
    shed: CancellationToken,
    /// When the connection was admitted: the origin of `body`'s times.
    epoch: tokio::time::Instant,
    body: BodyProgress,
}

/// The open connections, oldest first, and the cap's permits.
struct Connections {
    permits: Arc<Semaphore>,
    pace: BodyPace,
    open: Mutex<BTreeMap<u64, Arc<ConnState>>>,
    next_id: AtomicUsize,
}

/// One admitted connection; dropping it frees its place.
struct Slot {
    id: u64,
    state: Arc<ConnState>,
    connections: Arc<Connections>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections
            .open
            .lock()
            .expect("connection registry poisoned")
            .remove(&self.id);
    }
}

impl Connections {
    fn new(max: usize, pace: BodyPace) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max.max(1))),
            pace,
            open: Mutex::new(BTreeMap::new()),
            next_id: AtomicUsize::new(0),
        }
    }

    /// A place for one more connection: at once below the cap; at the cap, after the
    /// oldest idle connection is closed or the oldest slow one shed, or after any
    /// connection ends.
    async fn admit(self: &Arc<Self>) -> Slot {
        let permit = loop {
            if let Ok(permit) = self.permits.clone().try_acquire_owned() {
                break permit;
            }
            self.make_room();
            // Connections too fresh to judge now may be idle or slow in a moment.
            tokio::select! {
                permit = self.permits.clone().acquire_owned() => {
                    break permit.expect("the semaphore is never closed");
                }
                _ = tokio::time::sleep(FRESH / 4) => {}
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) as u64;
        let state = Arc::new(ConnState {
            busy: AtomicUsize::new(0),
            evict: CancellationToken::new(),
            shed: CancellationToken::new(),
            epoch: tokio::time::Instant::now(),
            body: BodyProgress::default(),
        });
        self.open
            .lock()
            .expect("connection registry poisoned")
            .insert(id, state.clone());
        Slot {
            id,
            state,
            connections: self.clone(),
            _permit: permit,
        }
    }

    /// Closes the oldest idle connection; failing that, sheds the oldest whose body is
    /// behind the minimum rate. Does nothing when every connection is busy at pace, or
    /// too fresh to have sent its request's head.
    fn make_room(&self) {
        let open = self.open.lock().expect("connection registry poisoned");
        let idle = open.values().find(|c| {
            c.busy.load(Ordering::Acquire) == 0
                && !c.evict.is_cancelled()
                && c.epoch.elapsed() >= FRESH
        });
        if let Some(conn) = idle {
            conn.evict.cancel();
            return;
        }
        let slow = open.values().find(|c| {
            !c.shed.is_cancelled()
                && c.body
                    .current(c.epoch)
                    .is_some_and(|(elapsed, bytes)| self.pace.is_behind(elapsed, bytes))
        });
        if let Some(conn) = slow {
            tracing::debug!("slow request body shed to make room");
            conn.shed.cancel();
        }
    }
}

/// The router, with each request's body held to its pace, counting the connection's
/// requests in flight so that a busy connection is never the one closed as idle.
#[derive(Clone)]
struct Tracked {
    app: Router,
    conn: Arc<ConnState>,
    pace: BodyPace,
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<axum::response::Response, Infallible>> + Send>>;

impl hyper::service::Service<hyper::Request<Incoming>> for Tracked {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        let guard = BusyGuard::enter(self.conn.clone());
        let (pace, conn) = (self.pace, self.conn.clone());
        let req = req.map(|body| axum::body::Body::new(PacedBody::new(body, pace, conn)));
        let response = self.app.clone().oneshot(req);
        Box::pin(async move {
            let response = response.await;
            drop(guard);
            response
        })
    }
}

struct BusyGuard(Arc<ConnState>);

impl BusyGuard {
    fn enter(state: Arc<ConnState>) -> Self {
        state.busy.fetch_add(1, Ordering::AcqRel);
        Self(state)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}
