//! Receiver faults: every way a listener can misbehave is classified right, recorded, and
//! retried by the policy; a huge or endless answer costs no more than the excerpt.

use std::time::Duration;

use hookgate::delivery::retry::AttemptClass;
use hookgate::model::DeliveryState;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{spawn_app, Backend, TestApp};

#[derive(Clone, Copy)]
enum Fault {
    /// Reads the request, then closes the connection without answering.
    ResetMidResponse,
    /// Accepts and never answers.
    NeverAnswers,
    /// Answers with this status after this delay.
    Slow(u16, Duration),
    /// 200 with a body that never ends.
    EndlessBody,
    /// 200 with 5 MiB of body.
    HugeBody,
}

/// A raw TCP listener on 127.0.0.1 that misbehaves as told.
async fn faulty_listener(fault: Fault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                match fault {
                    Fault::ResetMidResponse => {
                        let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
                        drop(socket);
                    }
                    Fault::NeverAnswers => {
                        tokio::time::sleep(Duration::from_secs(120)).await;
                    }
                    Fault::Slow(status, delay) => {
                        tokio::time::sleep(delay).await;
                        let head = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
                        let _ = socket.write_all(head.as_bytes()).await;
                    }
                    Fault::EndlessBody => {
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                            .await;
                        let chunk = format!("{:x}\r\n{}\r\n", 8192, "z".repeat(8192));
                        for _ in 0..100_000 {
                            if socket.write_all(chunk.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                    Fault::HugeBody => {
                        let size = 5 * 1024 * 1024;
                        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
                        let _ = socket.write_all(head.as_bytes()).await;
                        let _ = socket.write_all(&vec![b'h'; size]).await;
                    }
                }
            });
        }
    });
    format!("http://{addr}/hooks")
}

/// One event to a webhook at `url` with `timeout_seconds`; returns its first attempt.
async fn one_attempt(
    app: &TestApp,
    url: &str,
    timeout_seconds: u64,
) -> (hookgate::model::Attempt, DeliveryState) {
    let (_, webhook) = app
        .partner_setup(url, json!({"timeout_seconds": timeout_seconds}))
        .await;
    let webhook_id = webhook["id"].as_str().unwrap();
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);
    let attempt = app.attempts(webhook_id).await.remove(0);
    let state = app.delivery(&attempt.delivery_id).await.state;
    (attempt, state)
}

async fn a_reset_mid_response_is_a_network_error_and_retried(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = faulty_listener(Fault::ResetMidResponse).await;
    let (attempt, state) = one_attempt(&app, &url, 5).await;
    assert_eq!(attempt.outcome, AttemptClass::Network, "{attempt:?}");
    assert_eq!(state, DeliveryState::Pending, "retried under hibob");
}

async fn no_answer_is_a_timeout_and_retried(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = faulty_listener(Fault::NeverAnswers).await;
    let (attempt, state) = one_attempt(&app, &url, 1).await;
    assert_eq!(attempt.outcome, AttemptClass::Timeout);
    assert!(attempt.latency_ms >= 1000);
    assert_eq!(state, DeliveryState::Pending);
}

/// The 9.5 s / 10.5 s case of a 10 s timeout, scaled to a 2 s timeout: just inside is a
/// success, just outside is a timeout.
async fn an_answer_just_inside_the_timeout_counts_and_just_outside_does_not(backend: Backend) {
    let app = spawn_app(backend).await;
    let inside = faulty_listener(Fault::Slow(200, Duration::from_millis(1500))).await;
    let (attempt, state) = one_attempt(&app, &inside, 2).await;
    assert_eq!(
        (attempt.outcome, state),
        (AttemptClass::Success, DeliveryState::Delivered)
    );

    let app = spawn_app(backend).await;
    let outside = faulty_listener(Fault::Slow(200, Duration::from_millis(2500))).await;
    let (attempt, state) = one_attempt(&app, &outside, 2).await;
    assert_eq!(
        (attempt.outcome, state),
        (AttemptClass::Timeout, DeliveryState::Pending)
    );
}

async fn statuses_are_failures_with_their_code(backend: Backend) {
    for status in [500u16, 429, 301, 404] {
        let app = spawn_app(backend).await;
        let url = faulty_listener(Fault::Slow(status, Duration::ZERO)).await;
        let (attempt, state) = one_attempt(&app, &url, 5).await;
        assert_eq!(attempt.outcome, AttemptClass::HttpError, "{status}");
        assert_eq!(attempt.status_code, Some(i64::from(status)));
        assert_eq!(
            state,
            DeliveryState::Pending,
            "{status} is retried under hibob"
        );
    }
}

async fn huge_and_endless_bodies_cost_only_the_excerpt(backend: Backend) {
    for fault in [Fault::EndlessBody, Fault::HugeBody] {
        let app = spawn_app(backend).await;
        let url = faulty_listener(fault).await;
        let (attempt, state) = one_attempt(&app, &url, 5).await;
        assert_eq!(
            attempt.outcome,
            AttemptClass::Success,
            "a 2xx is a success whatever follows"
        );
        assert_eq!(state, DeliveryState::Delivered);
        let excerpt = attempt.response_excerpt.unwrap();
        assert_eq!(
            excerpt.len(),
            1024,
            "the excerpt is bounded; the rest is never read"
        );
    }
}

on_both_backends!(
    a_reset_mid_response_is_a_network_error_and_retried,
    no_answer_is_a_timeout_and_retried,
    an_answer_just_inside_the_timeout_counts_and_just_outside_does_not,
    statuses_are_failures_with_their_code,
    huge_and_endless_bodies_cost_only_the_excerpt,
);
