//! A fast listener for benchmarks: counts unique `webhook-id`s, measures publish→first
//! attempt latency from the `sent_us` the generator puts in each event, verifies a sample
//! of signatures, and notices one delivery attempted twice at the same time.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hdrhistogram::Histogram;
use hookgate::delivery::signing;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    Ok,
    /// Accepts and never answers (the gateway's timeout ends the attempt).
    Hang,
}

#[derive(Default)]
struct Inner {
    first_seen: HashSet<String>,
    in_progress: HashSet<String>,
    latency_us: Option<Histogram<u64>>,
    /// By the event's `data.class`, when it has one (the noisy-tenant scenario's
    /// `noisy` and `quiet`): latency, and the last first arrival.
    by_class: HashMap<String, (Histogram<u64>, u64)>,
    first_arrival_us: Option<u64>,
    last_new_arrival_us: u64,
    /// With `track_failover`: each webhook's last request, and its longest wait for a
    /// request since the kill.
    last_by_webhook: Option<HashMap<String, u64>>,
    wait_across_kill_us: HashMap<String, u64>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    pub requests: Arc<AtomicU64>,
    pub overlaps: Arc<AtomicU64>,
    pub signatures_checked: Arc<AtomicU64>,
    pub signatures_bad: Arc<AtomicU64>,
    /// How long each answer waits (settable mid-run: a listener that turns slow).
    pub delay_ms: Arc<AtomicU64>,
    /// Requests being answered now, and the most at once since the last `take_peak`.
    pub in_flight: Arc<AtomicU64>,
    peak_in_flight: Arc<AtomicU64>,
    kill_us: Arc<AtomicU64>,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    requests: Arc<AtomicU64>,
    overlaps: Arc<AtomicU64>,
    checked: Arc<AtomicU64>,
    bad: Arc<AtomicU64>,
    /// webhook id → signing key, for the sampled signature checks.
    keys: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    behaviour: Behaviour,
    delay_ms: Arc<AtomicU64>,
    in_flight: Arc<AtomicU64>,
    peak_in_flight: Arc<AtomicU64>,
    /// When an instance was killed (Unix microseconds; 0: none).
    kill_us: Arc<AtomicU64>,
}

pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

impl Receiver {
    pub async fn start(behaviour: Behaviour, keys: Arc<Mutex<HashMap<String, Vec<u8>>>>) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            latency_us: Some(Histogram::new_with_bounds(1, 600_000_000, 3).unwrap()),
            ..Default::default()
        }));
        let shared = Shared {
            inner: inner.clone(),
            requests: Arc::new(AtomicU64::new(0)),
            overlaps: Arc::new(AtomicU64::new(0)),
            checked: Arc::new(AtomicU64::new(0)),
            bad: Arc::new(AtomicU64::new(0)),
            keys,
            behaviour,
            delay_ms: Arc::new(AtomicU64::new(0)),
            in_flight: Arc::new(AtomicU64::new(0)),
            peak_in_flight: Arc::new(AtomicU64::new(0)),
            kill_us: Arc::new(AtomicU64::new(0)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let receiver = Self {
            addr,
            inner,
            requests: shared.requests.clone(),
            overlaps: shared.overlaps.clone(),
            signatures_checked: shared.checked.clone(),
            signatures_bad: shared.bad.clone(),
            delay_ms: shared.delay_ms.clone(),
            in_flight: shared.in_flight.clone(),
            peak_in_flight: shared.peak_in_flight.clone(),
            kill_us: shared.kill_us.clone(),
        };
        let app = axum::Router::new().fallback(receive).with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The most requests answered at once since the last call.
    pub fn take_peak(&self) -> u64 {
        self.peak_in_flight
            .swap(self.in_flight.load(Ordering::Relaxed), Ordering::Relaxed)
    }

    pub fn unique(&self) -> u64 {
        self.inner.lock().unwrap().first_seen.len() as u64
    }

    /// (first arrival, last first-arrival) in Unix microseconds.
    pub fn span_us(&self) -> (u64, u64) {
        let inner = self.inner.lock().unwrap();
        (
            inner.first_arrival_us.unwrap_or(0),
            inner.last_new_arrival_us,
        )
    }

    pub fn latency(&self) -> Histogram<u64> {
        self.inner.lock().unwrap().latency_us.clone().unwrap()
    }

    /// The latency of one class of events, and when its last one first arrived.
    pub fn class(&self, class: &str) -> Option<(Histogram<u64>, u64)> {
        self.inner.lock().unwrap().by_class.get(class).cloned()
    }

    pub fn reset_latency(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.latency_us = Some(Histogram::new_with_bounds(1, 600_000_000, 3).unwrap());
    }

    /// From now on, notes each webhook's last request (for `killed` and `failover`).
    pub fn track_failover(&self) {
        self.inner.lock().unwrap().last_by_webhook = Some(HashMap::new());
    }

    /// An instance was killed now.
    pub fn killed(&self) {
        self.kill_us.store(now_us(), Ordering::Relaxed);
    }

    /// Each webhook's longest wait for a request since the kill, in milliseconds,
    /// longest first, and how many webhooks had no request since.
    pub fn failover(&self) -> (Vec<f64>, usize) {
        let inner = self.inner.lock().unwrap();
        let kill = self.kill_us.load(Ordering::Relaxed);
        let mut waits: Vec<f64> = inner
            .wait_across_kill_us
            .values()
            .map(|us| *us as f64 / 1000.0)
            .collect();
        waits.sort_by(|a, b| b.total_cmp(a));
        let not_resumed = inner
            .last_by_webhook
            .iter()
            .flatten()
            .filter(|(_, last)| **last < kill)
            .count();
        (waits, not_resumed)
    }

    /// Waits until `n` unique deliveries arrived, or `limit` passes.
    pub async fn wait_for(&self, n: u64, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.unique() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.unique() >= n
    }
}

async fn receive(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let arrived = now_us();
    let n = s.requests.fetch_add(1, Ordering::Relaxed);
    if s.behaviour == Behaviour::Hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return StatusCode::OK;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let id = header("webhook-id").to_string();
    let payload: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    {
        let mut inner = s.inner.lock().unwrap();
        let Inner {
            last_by_webhook,
            wait_across_kill_us,
            ..
        } = &mut *inner;
        if let Some(last_by_webhook) = last_by_webhook {
            let webhook = payload["webhook_id"].as_str().unwrap_or("").to_string();
            let kill = s.kill_us.load(Ordering::Relaxed);
            // The longest gap since the kill, not the one spanning it: requests the killed
            // instance had sent may still be read just after the kill.
            // Handlers stamp their arrival before this lock, so they may come a little
            // out of order.
            let last = last_by_webhook.entry(webhook.clone()).or_insert(arrived);
            let gap = arrived.saturating_sub(*last);
            *last = (*last).max(arrived);
            if kill > 0 && arrived >= kill {
                let wait = wait_across_kill_us.entry(webhook).or_default();
                *wait = (*wait).max(gap);
            }
        }
        if !inner.in_progress.insert(id.clone()) {
            s.overlaps.fetch_add(1, Ordering::Relaxed);
        }
        if inner.first_seen.insert(id.clone()) {
            inner.first_arrival_us.get_or_insert(arrived);
            inner.last_new_arrival_us = arrived;
            if let Some(sent) = payload["data"]["sent_us"].as_u64() {
                let took = arrived.saturating_sub(sent).max(1);
                let _ = inner.latency_us.as_mut().unwrap().record(took);
                if let Some(class) = payload["data"]["class"].as_str() {
                    let (histogram, last) =
                        inner.by_class.entry(class.to_string()).or_insert_with(|| {
                            (Histogram::new_with_bounds(1, 600_000_000, 3).unwrap(), 0)
                        });
                    let _ = histogram.record(took);
                    *last = arrived;
                }
            }
        }
    }
    if n % 100 == 0 {
        let webhook = payload["webhook_id"].as_str().unwrap_or("");
        let key = s.keys.lock().unwrap().get(webhook).cloned();
        if let (Some(key), Ok(ts)) = (key, header("webhook-timestamp").parse::<i64>()) {
            s.checked.fetch_add(1, Ordering::Relaxed);
            let expected = signing::sign(&key, &id, ts, &body);
            if !header("webhook-signature")
                .split(' ')
                .any(|sig| sig == expected)
            {
                s.bad.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let now_in_flight = s.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    s.peak_in_flight.fetch_max(now_in_flight, Ordering::Relaxed);
    let delay = s.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    s.in_flight.fetch_sub(1, Ordering::Relaxed);
    s.inner.lock().unwrap().in_progress.remove(&id);
    StatusCode::OK
}
