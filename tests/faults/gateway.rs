//! The gateway binary as a child process, and what the fault tests read back.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{reply, Reply, TestReceiver, PLATFORM_KEY};

pub struct Gateway {
    pub child: Child,
    pub base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `hookgate serve` on a free loopback port, configured for tests, and its base URL.
pub fn serve_command(program: &str, database_url: &str, env: &[(&str, &str)]) -> (Command, String) {
    let port = free_port();
    let mut command = Command::new(program);
    command
        .env("HOOKGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("HOOKGATE_METRICS_LISTEN", "127.0.0.1:0")
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
    (command, format!("http://127.0.0.1:{port}"))
}

pub const BINARY: &str = env!("CARGO_BIN_EXE_hookgate");

impl Gateway {
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        let (mut command, base) = serve_command(BINARY, database_url, env);
        command.arg("serve");
        Self::spawn_ready(command, base).await
    }

    /// Like `start`, with the gateway's log (stderr) written to `log`.
    pub async fn start_logged(database_url: &str, env: &[(&str, &str)], log: &Path) -> Self {
        let (mut command, base) = serve_command(BINARY, database_url, env);
        command
            .arg("serve")
            .stderr(std::fs::File::create(log).unwrap());
        Self::spawn_ready(command, base).await
    }

    pub async fn spawn_ready(mut command: Command, base: String) -> Self {
        let mut child = command.spawn().unwrap();
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

    pub fn signal(&self, signal: &str) {
        Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
    }

    /// SIGTERM, and the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal("-TERM");
        self.child.wait().unwrap()
    }

    pub async fn call(&self, path: &str, key: &str, body: Value) -> Reply {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .timeout(Duration::from_secs(30))
            .json(&body)
            .send()
            .await
            .unwrap();
        reply(r).await
    }

    /// GET `path` with the platform key; it must succeed.
    pub async fn get(&self, path: &str) -> Value {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(PLATFORM_KEY)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        let r = reply(r).await;
        assert!(r.status.is_success(), "{path}: {} {}", r.status, r.body);
        r.body
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Value {
        let r = self.call(path, key, body).await;
        assert!(r.status.is_success(), "{path}: {} {}", r.status, r.body);
        r.body
    }

    pub async fn ready(&self) -> bool {
        match reqwest::Client::new()
            .get(format!("{}/readyz", self.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(r) => r.status().is_success(),
            Err(_) => false,
        }
    }

    /// A tenant, an app installed for it, and its webhook at `url`.
    pub async fn setup(&self, url: &str) {
        self.setup_with(url, json!({})).await;
    }

    /// `setup`, with `fields` besides the url in the webhook.
    pub async fn setup_with(&self, url: &str, fields: Value) {
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
        let mut webhook = json!({"url": url});
        if let (Some(w), Some(f)) = (webhook.as_object_mut(), fields.as_object()) {
            w.extend(f.clone());
        }
        self.post("/v1/apps/bob/webhooks", &key, webhook).await;
    }

    /// One event `evt-{n}` for the tenant of `setup`, with `padding` bytes of data.
    pub async fn publish_one(&self, n: usize, padding: usize) -> Reply {
        let body = json!({"id": format!("evt-{n}"), "type": "a.b", "tenant_id": "acme",
                          "data": {"n": n, "padding": "x".repeat(padding)}});
        self.call("/v1/events", PLATFORM_KEY, body).await
    }

    pub async fn publish(&self, from: usize, count: usize) {
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

/// A gateway left running (a panic before `stop`) would outlive the run and skew the
/// next one; it is killed instead.
impl Drop for Gateway {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub async fn count(database_url: &str, sql: &str) -> i64 {
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    }
}

pub fn unique_ids(receiver: &TestReceiver) -> std::collections::HashSet<String> {
    receiver
        .received()
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect()
}

/// The event ids (`evt-N`) whose deliveries reached the receiver.
pub fn delivered_events(receiver: &TestReceiver) -> std::collections::HashSet<String> {
    receiver
        .received()
        .iter()
        .filter_map(|r| r.json()["id"].as_str().map(str::to_string))
        .collect()
}

/// Polls `done` every 100 ms for at most `limit`; whether it came true.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}
