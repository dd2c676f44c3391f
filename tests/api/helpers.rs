//! Spawns hookgate on a random port with a fresh database (SQLite file or PostgreSQL
//! database) and a manual clock, plus a real HTTP receiver on 127.0.0.1 that fails on
//! command.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use hookgate::clock::{ManualClock, SharedClock};
use hookgate::config::Settings;
use hookgate::delivery::Dispatcher;
use hookgate::startup::Application;
use hookgate::store::SharedStore;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

/// Runs each named `async fn name(backend: Backend)` once per backend.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Postgres).await
                }
            )+
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const PLATFORM_KEY: &str = "test-platform-key-0123456789";

/// A fresh, empty database URL for one test.
pub async fn fresh_database(backend: Backend) -> String {
    let name = format!("hg_test_{}", uuid::Uuid::new_v4().simple());
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("hookgate-tests");
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}", dir.join(format!("{name}.db")).display())
        }
        Backend::Postgres => {
            let admin = std::env::var("HOOKGATE_TEST_PG_URL").expect(
                "HOOKGATE_TEST_PG_URL is not set: run the suite with scripts/test.sh, \
                 which starts PostgreSQL",
            );
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connecting to the test PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .await
                .expect("creating a test database");
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&name);
            url.to_string()
        }
    }
}

pub fn test_settings(database_url: String) -> Settings {
    let mut s = Settings::defaults();
    s.listen = "127.0.0.1:0".parse().unwrap();
    s.metrics_listen = "127.0.0.1:0".parse().unwrap();
    s.database_url = database_url;
    s.platform_key = Some(PLATFORM_KEY.into());
    s.allow_insecure_targets = true;
    s.allow_private_targets = true;
    s.dispatcher = false;
    // Tests step the relay with `app.relay.run_once()`, on the manual clock.
    s.relay = false;
    s.health_evaluator = false;
    // Tests prune with a Pruner of their own, on the manual clock.
    s.retention = std::time::Duration::ZERO;
    s.db_max_connections = 5;
    s
}

pub struct TestApp {
    pub base: String,
    /// Where `/metrics` is served.
    pub metrics_base: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub store: SharedStore,
    pub dispatcher: Arc<Dispatcher>,
    pub publisher: Arc<hookgate::usecases::publishing::GroupCommit>,
    pub evaluator: Arc<hookgate::health::Evaluator>,
    pub relay: Arc<hookgate::notify::Relay>,
    pub database_url: String,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts the API with a manual clock; the dispatcher does not run on its own, tests
/// step it with `app.dispatcher.run_once()`.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(fresh_database(backend).await, configure).await
}

/// Another instance on an existing database, as in a cluster.
pub async fn spawn_app_on(database_url: String, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings(database_url.clone());
    configure(&mut settings);
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let shared: SharedClock = clock.clone();
    let app = Application::build(settings, shared)
        .await
        .expect("app builds");
    let base = format!("http://{}", app.addr);
    let metrics_base = format!("http://{}", app.metrics_addr);
    let (store, dispatcher) = (app.store.clone(), app.dispatcher.clone());
    let (evaluator, relay) = (app.evaluator.clone(), app.relay.clone());
    let publisher = app.publisher.clone();
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run_until(shutdown.clone()));
    TestApp {
        base,
        metrics_base,
        http: reqwest::Client::new(),
        clock,
        store,
        dispatcher,
        publisher,
        evaluator,
        relay,
        database_url,
        shutdown,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl TestApp {
    /// Everything a client could have changed, read through the store.
    pub async fn snapshot(&self) -> Value {
        let store = &self.store;
        let mut webhooks = Vec::new();
        let mut deliveries = Vec::new();
        let mut keys = Vec::new();
        for a in store.list_apps().await.unwrap() {
            keys.push(serde_json::to_value(store.list_app_keys(&a.id).await.unwrap()).unwrap());
            for w in store.list_webhooks(&a.id).await.unwrap() {
                let filter = hookgate::store::DeliveryFilter::latest(10_000);
                let list = store.list_deliveries(&w.id, &filter).await.unwrap();
                deliveries.push(serde_json::to_value(list).unwrap());
                let mut value = serde_json::to_value(&w).unwrap();
                value["secret"] = json!(w.secret);
                value["headers"] = json!(w.headers);
                webhooks.push(value);
            }
        }
        json!({
            "tenants": store.list_tenants().await.unwrap(),
            "apps": store.list_apps().await.unwrap(),
            "installations": store.list_installations(None, None).await.unwrap(),
            "webhooks": webhooks,
            "deliveries": deliveries,
            "keys": keys,
            "notifications": store.list_notifications(None, 1000).await.unwrap(),
            "destinations": store.list_destinations(None).await.unwrap(),
        })
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        reply(req.send().await.expect("request reaches the app")).await
    }

    pub async fn platform_post(&self, path: &str, body: Value) -> Reply {
        self.call(reqwest::Method::POST, path, Some(PLATFORM_KEY), Some(body))
            .await
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.call(reqwest::Method::GET, path, Some(key), None).await
    }

    pub async fn create_tenant(&self, id: &str, environment: &str) {
        let r = self
            .platform_post(
                "/v1/tenants",
                json!({"id": id, "name": format!("{id} Inc."), "environment": environment}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }

    /// Creates an app and returns its partner key.
    pub async fn create_app(&self, id: &str) -> String {
        let r = self
            .platform_post("/v1/apps", json!({"id": id, "name": format!("App {id}")}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["partner_key"].as_str().unwrap().to_string()
    }

    /// The id of the tenant's installation of `app` (of its first one, with `None`).
    pub async fn installation_id(&self, tenant: &str, app: Option<&str>) -> String {
        let installations = self.store.list_installations(Some(tenant), app).await;
        installations.unwrap()[0].id.clone()
    }

    pub async fn install(&self, tenant: &str, app: &str) -> String {
        let r = self
            .platform_post(
                "/v1/installations",
                json!({"tenant_id": tenant, "app_id": app}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Creates a webhook; `extra` fields are merged into the request. Returns the body.
    pub async fn create_webhook(&self, app: &str, key: &str, url: &str, extra: Value) -> Value {
        let mut body = json!({"url": url});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let r = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/apps/{app}/webhooks"),
                Some(key),
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    pub async fn publish(&self, body: Value) -> Reply {
        self.platform_post("/v1/events", body).await
    }

    /// One tenant, one app installed for it, one webhook at `url`: (partner key, webhook).
    pub async fn partner_setup(&self, url: &str, extra: Value) -> (String, Value) {
        self.create_tenant("acme", "production").await;
        let key = self.create_app("bob-app").await;
        self.install("acme", "bob-app").await;
        let webhook = self.create_webhook("bob-app", &key, url, extra).await;
        (key, webhook)
    }

    /// All attempts of a webhook, oldest first.
    pub async fn attempts(&self, webhook_id: &str) -> Vec<hookgate::model::Attempt> {
        let filter = hookgate::store::AttemptFilter {
            limit: 1000,
            ..Default::default()
        };
        let mut attempts = self.store.list_attempts(webhook_id, &filter).await.unwrap();
        attempts.reverse();
        attempts
    }

    pub async fn delivery(&self, id: &str) -> hookgate::model::Delivery {
        self.store
            .get_delivery(id)
            .await
            .unwrap()
            .expect("delivery exists")
    }

    /// With the listener failing: publishes at minutes 0, 30 and 60 from now, attempts
    /// what is due each time and evaluates at 30 and 60, so one warning is due. Returns
    /// the start.
    pub async fn publish_failing_for_an_hour(&self) -> DateTime<Utc> {
        use hookgate::clock::Clock;
        let t0 = self.clock.now();
        for minute in [0, 30, 60] {
            self.clock.set(t0 + chrono::Duration::minutes(minute));
            self.publish(json!({"type": "a.b", "tenant_id": "acme"}))
                .await;
            while !self.dispatcher.run_once().await.unwrap().is_empty() {}
            if minute > 0 {
                self.evaluator.tick().await.unwrap();
            }
        }
        t0
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("response is not JSON: {}", String::from_utf8_lossy(&bytes)))
    };
    Reply {
        status: StatusCode::from_u16(status.as_u16()).unwrap(),
        body,
        headers,
    }
}

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: DateTime<Utc>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One scripted answer: a status, optionally `webhook-delivery: abort-message` (the
/// receiver gives the message up), or held past the gateway's timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub abort: bool,
    pub hang: Option<Duration>,
}

impl From<u16> for Answer {
    fn from(status: u16) -> Self {
        Self {
            status,
            abort: false,
            hang: None,
        }
    }
}

#[derive(Default)]
struct ReceiverInner {
    received: Vec<Received>,
    /// Answers, in order; then `cycle` over and over, or `default_status`.
    script: VecDeque<Answer>,
    cycle: Vec<u16>,
    /// Unscripted answers fail (500) with this probability, else `default_status`.
    failing_at_random: f64,
    /// How long each answer takes.
    delay: Duration,
    default_status: u16,
    /// Headers sent with every answer.
    answer_headers: HeaderMap,
    /// The body of every answer.
    answer_body: Bytes,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: usize,
    peak_in_flight: usize,
}

/// A real HTTP listener on 127.0.0.1 that records what it receives.
#[derive(Clone)]
pub struct TestReceiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<ReceiverInner>>,
    clock: Option<Arc<ManualClock>>,
}

impl TestReceiver {
    pub async fn start(clock: Option<Arc<ManualClock>>) -> Self {
        let inner = Arc::new(Mutex::new(ReceiverInner {
            default_status: 200,
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let receiver = Self { addr, inner, clock };
        let router = axum::Router::new()
            .fallback(receive)
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        receiver
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn always(&self, status: u16) {
        self.inner.lock().unwrap().default_status = status;
    }

    pub fn then(&self, statuses: &[u16]) {
        let answers = statuses.iter().map(|&s| Answer::from(s));
        self.inner.lock().unwrap().script.extend(answers);
    }

    /// Answers the next requests with these, in place of whatever was scripted.
    #[allow(dead_code)] // tests/api/ordering_property.rs's, not the fault tests'.
    pub fn script(&self, answers: &[Answer]) {
        let mut inner = self.inner.lock().unwrap();
        inner.script = answers.iter().copied().collect();
    }

    /// Answers with these statuses in turn, forever.
    pub fn cycle(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().cycle = statuses.to_vec();
    }

    /// Answers 500 to this fraction of the requests, at random, and `default_status`
    /// to the rest (once no script or cycle is left).
    #[allow(dead_code)] // tests/faults/ordering.rs's.
    pub fn fail_at_random(&self, fraction: f64) {
        self.inner.lock().unwrap().failing_at_random = fraction;
    }

    /// Sends these headers with every answer from now on (unused by tests/faults).
    #[allow(dead_code)]
    pub fn answer_headers(&self, headers: &[(&'static str, &str)]) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        self.inner.lock().unwrap().answer_headers = map;
    }

    /// Answers every request with this body from now on (unused by tests/faults).
    #[allow(dead_code)]
    pub fn answer_body(&self, body: &'static [u8]) {
        self.inner.lock().unwrap().answer_body = Bytes::from_static(body);
    }

    /// Delays every answer (tests/faults shares this file and does not call it).
    #[allow(dead_code)]
    pub fn delay(&self, delay: Duration) {
        self.inner.lock().unwrap().delay = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The most requests it was answering at once so far.
    #[allow(dead_code)] // The fault tests' (tests/faults/ownership.rs).
    pub fn peak_in_flight(&self) -> usize {
        self.inner.lock().unwrap().peak_in_flight
    }

    /// Waits (bounded) until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let got = self.received();
            if got.len() >= n || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(
    State(r): State<TestReceiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, Bytes) {
    let at = || {
        r.clock
            .as_ref()
            .map(|c| hookgate::clock::Clock::now(&**c))
            .unwrap_or_else(Utc::now)
    };
    let (delay, answer) = {
        let mut inner = r.inner.lock().unwrap();
        inner.in_flight += 1;
        inner.peak_in_flight = inner.peak_in_flight.max(inner.in_flight);
        if inner.script.is_empty() {
            let cycle = inner
                .cycle
                .iter()
                .map(|&s| Answer::from(s))
                .collect::<Vec<_>>();
            inner.script.extend(cycle);
        }
        let status = if rand::Rng::gen_bool(&mut rand::thread_rng(), inner.failing_at_random) {
            500
        } else {
            inner.default_status
        };
        let answer = inner.script.pop_front().unwrap_or(Answer::from(status));
        (inner.delay, answer)
    };
    // Counted out when the answer is done, or the request given up.
    struct Answering<'a>(&'a Mutex<ReceiverInner>);
    impl Drop for Answering<'_> {
        fn drop(&mut self) {
            if let Ok(mut inner) = self.0.lock() {
                inner.in_flight -= 1;
            }
        }
    }
    let answering = Answering(&r.inner);
    if let Some(hang) = answer.hang {
        // Received, then held until the gateway gives up and drops this future.
        let received = Received {
            headers: headers.clone(),
            body: body.clone(),
            at: at(),
        };
        r.inner.lock().unwrap().received.push(received);
        tokio::time::sleep(hang).await;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    drop(answering);
    let mut inner = r.inner.lock().unwrap();
    if answer.hang.is_none() {
        inner.received.push(Received {
            headers,
            body,
            at: at(),
        });
    }
    let status = answer.status;
    let mut answer_headers = inner.answer_headers.clone();
    if answer.abort {
        answer_headers.insert("webhook-delivery", "abort-message".parse().unwrap());
    }
    (
        StatusCode::from_u16(status).unwrap(),
        answer_headers,
        inner.answer_body.clone(),
    )
}
