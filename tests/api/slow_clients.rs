//! Stalled and slow clients cannot hold the gateway: a head that never ends, a body that
//! never comes, an idle keep-alive connection and a body announced too large are each
//! closed by a bound, and a flood of stalled sockets at the connection cap does not keep
//! a real publish out.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_app_with, Backend, TestApp, PLATFORM_KEY};

const PUBLISH_HEAD: &str =
    "POST /v1/events HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n";

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// What the gateway sends until it closes the connection; panics if it is still open
/// after `limit`.
async fn read_until_closed(socket: &mut TcpStream, limit: Duration) -> String {
    let mut answer = Vec::new();
    match tokio::time::timeout(limit, socket.read_to_end(&mut answer)).await {
        Ok(_) => String::from_utf8_lossy(&answer).into_owned(),
        Err(_) => panic!(
            "connection still open after {limit:?}; got {:?}",
            String::from_utf8_lossy(&answer)
        ),
    }
}

/// Whether the gateway closed (or answered on) this connection already, without waiting
/// and without consuming the answer.
fn closed_or_answered(socket: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut read = tokio::io::ReadBuf::new(&mut buf);
    socket.poll_peek(&mut cx, &mut read).is_ready()
}

async fn short_timeouts(max_connections: usize, timeout: Duration) -> TestApp {
    let _ = rlimit::increase_nofile_limit(8192);
    spawn_app_with(Backend::Sqlite, |s| {
        s.max_connections = max_connections;
        s.header_read_timeout = timeout;
        s.body_timeout = timeout;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_announced_too_large_is_refused_before_it_is_read() {
    let app = short_timeouts(64, Duration::from_secs(60)).await;
    let mut socket = connect(&app).await;
    let request = format!(
        "{PUBLISH_HEAD}Authorization: Bearer {PLATFORM_KEY}\r\nContent-Length: 1000000000000\r\n\r\n{}",
        json!({"type": "a.b", "tenant_id": "acme"})
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    // Long before the 60 s timeouts: the 413 does not wait for the body.
    let answer = read_until_closed(&mut socket, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_answered_408_and_closed() {
    let app = short_timeouts(64, Duration::from_millis(500)).await;
    let mut socket = connect(&app).await;
    let request = format!(
        "{PUBLISH_HEAD}Authorization: Bearer {PLATFORM_KEY}\r\nContent-Length: 100\r\n\r\n{{\"type\":"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut socket, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    assert!(app.store.list_tenants().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_heads_and_idle_keep_alive_connections_are_closed() {
    let app = short_timeouts(64, Duration::from_millis(500)).await;
    let mut silent = connect(&app).await;
    let mut half_head = connect(&app).await;
    half_head
        .write_all(b"POST /v1/events HTTP/1.1\r\nHost: ga")
        .await
        .unwrap();
    let mut idle = connect(&app).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .await
        .unwrap();
    for socket in [&mut silent, &mut half_head] {
        let answer = read_until_closed(socket, Duration::from_secs(10)).await;
        assert!(!answer.contains("HTTP/1.1 2"), "{answer}");
    }
    // The keep-alive connection got its answer, then was closed while idle.
    let answer = read_until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// 500 stalled sockets against a cap of 32: the publish gets in while stalled sockets
/// are still held (the idle ones make room; it does not wait for a timeout), and the
/// timeouts then close every stalled socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_stalled_connections_do_not_keep_a_publish_out() {
    let timeout = Duration::from_secs(8);
    let app = short_timeouts(32, timeout).await;
    app.create_tenant("acme", "production").await;

    let mut stalled = Vec::new();
    // Bodies that never come first: each holds a request in flight, so it is never closed
    // as idle (only shed, answered 408, once behind the minimum rate).
    // The `100 Continue` shows that the handler is reading the body, so the request is
    // in flight before the flood starts.
    let body_stalled = 16;
    for _ in 0..body_stalled {
        let mut s = connect(&app).await;
        let head = format!(
            "{PUBLISH_HEAD}Authorization: Bearer {PLATFORM_KEY}\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut interim = [0u8; 25];
        s.read_exact(&mut interim).await.unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        s.write_all(b"{").await.unwrap();
        stalled.push(s);
    }
    for i in 0..500 - body_stalled {
        let mut s = connect(&app).await;
        if i % 10 != 0 {
            s.write_all(b"POST /v1/events HTTP/1.1\r\nHost: gate")
                .await
                .unwrap();
        }
        stalled.push(s);
    }

    let published = tokio::time::timeout(
        timeout,
        app.publish(json!({"type": "a.b", "tenant_id": "acme"})),
    )
    .await
    .expect("the publish is answered before any timeout frees a place");
    assert_eq!(published.status, 202, "{}", published.body);
    let still_held = stalled.iter().filter(|s| !closed_or_answered(s)).count();
    assert!(
        still_held >= body_stalled,
        "the publish got in while {still_held} stalled sockets were held"
    );

    // Then the timeouts close every one of them; the stalled bodies are answered 408.
    for (i, socket) in stalled.iter_mut().enumerate() {
        let answer = read_until_closed(socket, timeout * 3).await;
        if i < body_stalled {
            assert!(answer.starts_with("HTTP/1.1 408"), "{i}: {answer}");
        }
    }
}

/// Slow-POST ("R-U-Dead-Yet"): 300 clients each announce a 200 kB publish and then drip
/// one byte a second (never a gap the idle timeout sees) against a cap of 64. Each is
/// answered 408 (behind the minimum rate after its grace, or shed at the cap), and
/// publishes arriving meanwhile keep being answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dripping_bodies_are_answered_408_and_publishes_keep_getting_in() {
    let _ = rlimit::increase_nofile_limit(8192);
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.max_connections = 64;
        s.header_read_timeout = Duration::from_secs(10);
        s.body_timeout = Duration::from_secs(3);
        s.body_deadline = Duration::from_secs(20);
        s.body_min_rate = 500;
    })
    .await;
    app.create_tenant("acme", "production").await;

    let drippers = 300;
    let mut tasks = Vec::new();
    for _ in 0..drippers {
        let mut socket = connect(&app).await;
        tasks.push(tokio::spawn(async move {
            let head = format!(
                "{PUBLISH_HEAD}Authorization: Bearer {PLATFORM_KEY}\r\nContent-Length: 200000\r\n\r\n{{"
            );
            socket.write_all(head.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            let mut buf = [0u8; 1024];
            loop {
                tokio::select! {
                    read = socket.read(&mut buf) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => answer.extend_from_slice(&buf[..n]),
                    },
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {
                        // A closed connection refuses the byte; the answer is already read.
                        if socket.write_all(b" ").await.is_err() {
                            continue;
                        }
                    }
                }
            }
            String::from_utf8_lossy(&answer).into_owned()
        }));
    }

    // Publishes meanwhile, each on a connection of its own, each answered promptly.
    for i in 0..10 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = std::time::Instant::now();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let publish = client
            .post(format!("{}/v1/events", app.base))
            .bearer_auth(PLATFORM_KEY)
            .json(&json!({"type": "a.b", "tenant_id": "acme"}))
            .send();
        let published = tokio::time::timeout(Duration::from_secs(3), publish)
            .await
            .unwrap_or_else(|_| panic!("publish {i} not answered within 3 s among the drips"))
            .unwrap();
        assert_eq!(published.status(), 202);
        eprintln!("publish {i} answered in {:?}", started.elapsed());
    }

    // Every drip is answered 408, well before the deadline would free it.
    let mut timed_out = 0;
    for task in tasks {
        let answer = tokio::time::timeout(Duration::from_secs(15), task)
            .await
            .expect("a dripping request is answered within the rate's grace and its shedding")
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
        timed_out += 1;
    }
    assert_eq!(timed_out, drippers);
}
