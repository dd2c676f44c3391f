//! A request the database does not answer is answered anyway, within
//! `HOOKGATE_DB_TIMEOUT`: 503 `database_unavailable` with `Retry-After`. A link that
//! silently drops packets closes nothing, so no statement fails: without a bound every
//! publish would hang until its client gives up, when the publisher needs a fast, clear
//! answer to fail over or buffer. The pool bounds the wait for a connection; this bounds
//! the rest (each statement, a transaction's commit). sqlx sets no TCP keepalive on its
//! connections, so the bound is kept here, on the request, not on the socket.
//!
//! The clock starts once the request's body is read (or dropped unread): a slow client
//! is the body's pace rule's to answer (408), not the database's. Test sends wait on a
//! listener under the webhook's own timeout, and are not bound here.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::sync::oneshot;

use super::ApiError;

/// Bounds the request's handling, from the end of its body, by `limit`.
pub async fn bound_database_wait(
    State(limit): State<Duration>,
    path: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    if path.is_some_and(|p| waits_on_a_listener(p.as_str())) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let (read, body_read) = oneshot::channel();
    let request = Request::from_parts(parts, Body::new(Watched::new(body, read)));
    let handling = next.run(request);
    tokio::pin!(handling);
    tokio::select! {
        response = &mut handling => response,
        () = async {
            // The sender is dropped with the body: either way, the body is done.
            let _ = body_read.await;
            tokio::time::sleep(limit).await;
        } => {
            tracing::error!(timeout = ?limit, "the database did not answer in time");
            ApiError::database_timeout(limit).into_response()
        }
    }
}

/// A route whose answer waits on a partner's listener (a test send), not on the database.
fn waits_on_a_listener(route: &str) -> bool {
    route.ends_with("/test")
}

/// A body that says when it is done: read to its end, failed, or dropped.
struct Watched {
    inner: Body,
    done: Option<oneshot::Sender<()>>,
}

impl Watched {
    fn new(inner: Body, done: oneshot::Sender<()>) -> Self {
        Self {
            inner,
            done: Some(done),
        }
    }
}

impl http_body::Body for Watched {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.done.take();
        }
        polled
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

    #[test]
    fn only_test_sends_wait_on_a_listener() {
        assert!(waits_on_a_listener("/v1/apps/{app}/webhooks/{id}/test"));
        assert!(waits_on_a_listener(
            "/v1/apps/{app}/notification-destinations/{id}/test"
        ));
        assert!(!waits_on_a_listener("/v1/events"));
        assert!(!waits_on_a_listener("/v1/events/batch"));
        assert!(!waits_on_a_listener("/v1/event-types/{name}"));
    }

    #[tokio::test]
    async fn a_body_is_done_when_read_to_its_end_or_dropped() {
        let (done, mut read) = oneshot::channel();
        let body = Watched::new(Body::from("{}"), done);
        assert!(read.try_recv().is_err(), "not done before it is read");
        let bytes = axum::body::to_bytes(Body::new(body), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"{}");
        assert!(read.await.is_err(), "the sender is gone: done");

        let (done, read) = oneshot::channel();
        drop(Watched::new(Body::from("{}"), done));
        assert!(read.await.is_err(), "dropped unread: done");
    }
}
