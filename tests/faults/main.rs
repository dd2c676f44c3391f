//! Faults injected into the real binary: `kill -9` with deliveries in flight, and SIGTERM.
//! Each test runs the gateway as a child process on a fresh database and a real receiver.

#[allow(dead_code, unused_macros)]
#[macro_use]
#[path = "../api/helpers.rs"]
mod helpers;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use helpers::{fresh_database, reply, Backend, TestReceiver, PLATFORM_KEY};
use serde_json::{json, Value};

struct Gateway {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Gateway {
    async fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_hookgate"));
        command
            .arg("serve")
            .env("HOOKGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("HOOKGATE_DATABASE_URL", database_url)
            .env("HOOKGATE_PLATFORM_KEY", PLATFORM_KEY)
            .env("HOOKGATE_ALLOW_INSECURE_TARGETS", "true")
            .env("HOOKGATE_ALLOW_PRIVATE_TARGETS", "true")
            .env("HOOKGATE_HEALTH_EVALUATOR", "false")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..400 {
            if let Ok(r) = reqwest::get(format!("{base}/readyz")).await {
                if r.status().is_success() {
                    return Self { child, base };
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the gateway did not become ready");
    }

    fn signal(&self, signal: &str) {
        Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
    }

    async fn post(&self, path: &str, key: &str, body: Value) -> Value {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let r = reply(r).await;
        assert!(r.status.is_success(), "{path}: {} {}", r.status, r.body);
        r.body
    }

    /// A tenant, an app installed for it, and its webhook at `url`.
    async fn setup(&self, url: &str) {
        self.post(
            "/v1/tenants",
            PLATFORM_KEY,
            json!({"id": "acme", "name": "Acme", "environment": "production"}),
        )
        .await;
        let app = self
            .post(
                "/v1/apps",
                PLATFORM_KEY,
                json!({"id": "bob", "name": "Bob"}),
            )
            .await;
        let key = app["partner_key"].as_str().unwrap().to_string();
        self.post(
            "/v1/installations",
            PLATFORM_KEY,
            json!({"tenant_id": "acme", "app_id": "bob"}),
        )
        .await;
        self.post("/v1/apps/bob/webhooks", &key, json!({"url": url}))
            .await;
    }

    async fn publish(&self, from: usize, count: usize) {
        for chunk in (from..from + count).collect::<Vec<_>>().chunks(100) {
            let events: Vec<Value> = chunk
                .iter()
                .map(|n| json!({"id": format!("evt-{n}"), "type": "a.b", "tenant_id": "acme", "data": {"n": n}}))
                .collect();
            self.post("/v1/events/batch", PLATFORM_KEY, json!({"events": events}))
                .await;
        }
    }
}

async fn count(database_url: &str, sql: &str) -> i64 {
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    }
}

fn unique_ids(receiver: &TestReceiver) -> std::collections::HashSet<String> {
    receiver
        .received()
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect()
}

/// `kill -9` while deliveries are in flight, then a restart: every accepted event reaches
/// the listener, duplicates carry the same `webhook-id` and body, nothing stays leased.
async fn crash_loses_nothing(backend: Backend) {
    const EVENTS: usize = 10_000;
    let database_url = fresh_database(backend).await;
    let receiver = TestReceiver::start(None).await;
    receiver.delay(Duration::from_millis(5));
    // The shortest lease the settings allow (it must exceed the 30 s longest timeout).
    let env = [("HOOKGATE_LEASE", "31s")];
    let gateway = Gateway::start(&database_url, &env).await;
    gateway.setup(&receiver.url()).await;
    gateway.publish(0, EVENTS).await;
    assert!(receiver.wait_for(500, Duration::from_secs(60)).await.len() >= 500);
    gateway.signal("-KILL");
    let mut dead = gateway;
    dead.child.wait().unwrap();
    let before_restart = unique_ids(&receiver).len();
    assert!(
        before_restart < EVENTS,
        "the crash came with work left: {before_restart}"
    );

    let restarted = Gateway::start(&database_url, &env).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while unique_ids(&receiver).len() < EVENTS && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        unique_ids(&receiver).len(),
        EVENTS,
        "every accepted event arrived"
    );
    // A duplicate is the same delivery again: same webhook-id, same body.
    let mut bodies = std::collections::HashMap::new();
    for r in receiver.received() {
        let previous = bodies.insert(r.header("webhook-id").to_string(), r.body.clone());
        if let Some(previous) = previous {
            assert_eq!(previous, r.body, "a duplicate carries the same body");
        }
    }
    // Deliveries the dead process had sent but not recorded are sent again once their
    // lease (31 s from their claim) expires; after that nothing is left in flight.
    let open_sql = "SELECT COUNT(*) FROM deliveries WHERE state IN ('in_flight', 'pending')";
    let mut open = -1;
    for _ in 0..250 {
        open = count(&database_url, open_sql).await;
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(open, 0, "deliveries left in flight or pending");
    restarted.signal("-TERM");
    let mut restarted = restarted;
    restarted.child.wait().unwrap();
}

/// SIGTERM: the gateway stops claiming, lets in-flight attempts finish, exits 0, and
/// leaves nothing leased.
async fn sigterm_drains_and_exits_cleanly(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let receiver = TestReceiver::start(None).await;
    receiver.delay(Duration::from_millis(1500));
    let gateway = Gateway::start(&database_url, &[("HOOKGATE_SHUTDOWN_GRACE", "20s")]).await;
    gateway.setup(&receiver.url()).await;
    gateway.publish(0, 20).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    gateway.signal("-TERM");
    let mut gateway = gateway;
    let status = gateway.child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    let leased = count(
        &database_url,
        "SELECT COUNT(*) FROM deliveries WHERE state = 'in_flight'",
    )
    .await;
    assert_eq!(leased, 0, "in-flight attempts were finished and recorded");
    let attempts = count(&database_url, "SELECT COUNT(*) FROM attempts").await;
    assert_eq!(
        attempts as usize,
        receiver.received().len(),
        "every attempt the listener saw was recorded"
    );
}

on_both_backends!(crash_loses_nothing, sigterm_drains_and_exits_cleanly);
