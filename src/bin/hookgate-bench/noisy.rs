//! The noisy-tenant scenario (issue "tenant-fair fan-in"): one partner webhook with a
//! `max_concurrency`, a listener answering in a few milliseconds, one tenant publishing a
//! burst in large batches while quiet tenants publish single events at a steady pace.
//! What it measures: the quiet tenants' publish→receipt latency while the burst drains,
//! the burst's own drain rate against the listener's nominal pace, and the most requests
//! the listener had at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::receiver::{now_us, Receiver};
use super::{create_apps, create_tenants, Setup, PLATFORM_KEY};

pub struct Noisy {
    pub events: u64,
    pub batch: usize,
    pub quiet_tenants: usize,
    /// Events a second from each quiet tenant.
    pub quiet_rate: f64,
    pub max_concurrency: i64,
    pub listener_delay_ms: u64,
}

fn quantiles(h: &hdrhistogram::Histogram<u64>) -> Value {
    json!({
        "count": h.len(),
        "p50": h.value_at_quantile(0.5) as f64 / 1000.0,
        "p99": h.value_at_quantile(0.99) as f64 / 1000.0,
        "max": h.max() as f64 / 1000.0,
    })
}

pub async fn run(
    s: &Arc<Setup>,
    receiver: &Arc<Receiver>,
    keys: &Mutex<std::collections::HashMap<String, Vec<u8>>>,
    n: &Noisy,
) -> (bool, Value) {
    let fields = json!({"max_concurrency": n.max_concurrency});
    let apps = create_apps(s, "app", 1, &receiver.url(), keys, fields).await;
    let noisy = create_tenants(s, "noisy", 1, &apps).await.remove(0);
    let quiet = Arc::new(create_tenants(s, "quiet", n.quiet_tenants, &apps).await);
    receiver.reset_latency();
    let baseline = receiver.unique();
    let started = Instant::now();

    // The listener's peak concurrency over the whole run.
    let peak = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (receiver, peak, stop) = (receiver.clone(), peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(receiver.take_peak(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // Quiet tenants: single publishes, round-robin, at their combined pace, until the
    // burst has drained.
    let quiet_published = Arc::new(AtomicU64::new(0));
    let quiet_task = {
        let (s, quiet, published, stop) = (
            s.clone(),
            quiet.clone(),
            quiet_published.clone(),
            stop.clone(),
        );
        let interval = Duration::from_secs_f64(1.0 / (n.quiet_rate * quiet.len() as f64));
        tokio::spawn(async move {
            let mut tasks = Vec::new();
            let mut k = 0usize;
            let began = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep_until((began + interval.mul_f64(k as f64)).into()).await;
                let (s, tenant, published) =
                    (s.clone(), quiet[k % quiet.len()].clone(), published.clone());
                tasks.push(tokio::spawn(async move {
                    let event = json!({"type": "employee.updated", "tenant_id": tenant,
                                       "data": {"class": "quiet", "sent_us": now_us()}});
                    s.post(k, "/v1/events", PLATFORM_KEY, event).await;
                    published.fetch_add(1, Ordering::Relaxed);
                }));
                k += 1;
            }
            for t in tasks {
                t.await.unwrap();
            }
        })
    };

    // The burst: batches, four requests at a time.
    let permits = Arc::new(tokio::sync::Semaphore::new(4));
    let mut burst = Vec::new();
    for first in (0..n.events).step_by(n.batch) {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (s, noisy) = (s.clone(), noisy.clone());
        let count = (n.events - first).min(n.batch as u64);
        burst.push(tokio::spawn(async move {
            let _permit = permit;
            let events: Vec<Value> = (first..first + count)
                .map(|i| {
                    json!({"type": "employee.updated", "tenant_id": noisy,
                                "data": {"class": "noisy", "n": i, "sent_us": now_us()}})
                })
                .collect();
            s.post(
                0,
                "/v1/events/batch",
                PLATFORM_KEY,
                json!({"events": events}),
            )
            .await;
        }));
    }
    for t in burst {
        t.await.unwrap();
    }
    let burst_published = started.elapsed();

    let limit = Duration::from_secs(600);
    let drained = loop {
        let noisy_arrived = receiver.class("noisy").map_or(0, |(h, _)| h.len());
        if noisy_arrived >= n.events {
            break true;
        }
        if started.elapsed() > limit {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.store(true, Ordering::Relaxed);
    quiet_task.await.unwrap();
    let total = n.events + quiet_published.load(Ordering::Relaxed);
    let complete = drained
        && receiver
            .wait_for(baseline + total, Duration::from_secs(60))
            .await;
    sampler.abort();
    peak.fetch_max(receiver.take_peak(), Ordering::Relaxed);

    let (noisy_latency, noisy_last_us) = receiver
        .class("noisy")
        .unwrap_or_else(|| (hdrhistogram::Histogram::new(3).unwrap(), 0));
    let quiet_latency = receiver.class("quiet").map(|(h, _)| h);
    let started_us = now_us() - started.elapsed().as_micros() as u64;
    let drain_s = noisy_last_us.saturating_sub(started_us) as f64 / 1e6;
    let nominal = n.max_concurrency as f64 * 1000.0 / n.listener_delay_ms.max(1) as f64;
    let noisy_rate = n.events as f64 / drain_s.max(1e-9);
    let result = json!({
        "scenario": "noisy-tenant",
        "noisy_events": n.events,
        "noisy_batch": n.batch,
        "quiet_tenants": n.quiet_tenants,
        "quiet_rate_each": n.quiet_rate,
        "quiet_events": quiet_published.load(Ordering::Relaxed),
        "max_concurrency": n.max_concurrency,
        "listener_delay_ms": n.listener_delay_ms,
        "complete": complete,
        "delivered_unique": receiver.unique() - baseline,
        "burst_publish_seconds": burst_published.as_secs_f64(),
        "noisy_drain_seconds": drain_s,
        "noisy_per_second": noisy_rate,
        "listener_nominal_per_second": nominal,
        "noisy_share_of_nominal": noisy_rate / nominal,
        "listener_peak_in_flight": peak.load(Ordering::Relaxed),
        "quiet_latency_ms": quiet_latency.as_ref().map(quantiles),
        "noisy_latency_ms": quantiles(&noisy_latency),
    });
    (complete, result)
}
