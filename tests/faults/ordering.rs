//! Ordered delivery on real binaries: 1,000 keys × 20 events to a `per_key` webhook whose
//! listener fails 30 % of requests at random. Each key's requests arrive in its order (a
//! retry of the head, then the next, never back), every sequence arrives and nothing is
//! lost, on SQLite with one instance and on PostgreSQL with three, where only the owner
//! sends: the owner's own publishes take the fast path, the others' go through its claim.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::gateway::{count, Gateway};
use crate::helpers::PLATFORM_KEY;
use crate::helpers::{fresh_database, Backend, TestReceiver};
use crate::three_instances::three_instances;

const KEYS: usize = 1_000;
const ROUNDS: usize = 20;

fn fields() -> Value {
    json!({"ordering": "per_key", "retry_policy": {"offsets_seconds": [1, 2, 3, 4, 5, 6]}})
}

/// Publishes round after round, one batch of 500 at a time, to the instances in turn, so
/// that a key's publish order is its round's: `data.n` is its sequence.
async fn publish_rounds(gateways: &[Arc<Gateway>]) {
    let events: Vec<Value> = (0..ROUNDS)
        .flat_map(|round| {
            (0..KEYS).map(move |k| {
                json!({"id": format!("evt-{k}-{round}"), "type": "a.b", "tenant_id": "acme",
                       "ordering_key": format!("employee:{k}"), "data": {"n": round + 1}})
            })
        })
        .collect();
    for (i, batch) in events.chunks(500).enumerate() {
        let r = gateways[i % gateways.len()]
            .call("/v1/events/batch", PLATFORM_KEY, json!({"events": batch}))
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
    }
}

async fn every_key_arrives_in_order(
    database_url: &str,
    gateways: &[Arc<Gateway>],
    receiver: &TestReceiver,
) {
    receiver.fail_at_random(0.3);
    publish_rounds(gateways).await;
    let open = "SELECT COUNT(*) FROM deliveries \
                WHERE state IN ('pending', 'in_flight', 'held', 'waiting')";
    // No fixed deadline: a busy machine only slows this down. What fails it is a stall,
    // no delivery ending for a minute, while a head ends at most 6 s after it first fails.
    let mut fewest = i64::MAX;
    let mut last_progress = tokio::time::Instant::now();
    loop {
        let now_open = count(database_url, open).await;
        if now_open == 0 {
            break;
        }
        if now_open < fewest {
            fewest = now_open;
            last_progress = tokio::time::Instant::now();
        }
        assert!(
            last_progress.elapsed() < Duration::from_secs(60),
            "stalled: {now_open} deliveries open, none ended for 60 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let total = count(database_url, "SELECT COUNT(*) FROM deliveries").await;
    assert_eq!(total, (KEYS * ROUNDS) as i64, "one delivery per event");

    let mut last = HashMap::<String, i64>::new();
    let mut seen = HashMap::<String, Vec<bool>>::new();
    for r in receiver.received() {
        let body = r.json();
        let key = body["ordering_key"].as_str().unwrap().to_string();
        let sequence = body["sequence"].as_i64().unwrap();
        assert_eq!(
            sequence,
            body["data"]["n"].as_i64().unwrap(),
            "{key}: publish order"
        );
        let previous = last.entry(key.clone()).or_default();
        assert!(
            sequence >= *previous,
            "{key}: {sequence} arrived after {previous}"
        );
        *previous = sequence;
        seen.entry(key).or_insert_with(|| vec![false; ROUNDS])[sequence as usize - 1] = true;
    }
    assert_eq!(seen.len(), KEYS);
    assert!(
        seen.values().all(|s| s.iter().all(|&arrived| arrived)),
        "a sequence never arrived"
    );
    // 30 % failing makes some deliveries fail all 7 attempts (0.3^7 of 20,000: about 4);
    // a failed delivery must be one whose schedule ran out, never one cut short.
    let cut_short = count(
        database_url,
        "SELECT COUNT(*) FROM deliveries d WHERE d.state = 'failed' \
         AND (SELECT COUNT(*) FROM attempts a WHERE a.delivery_id = d.id) <> 7",
    )
    .await;
    assert_eq!(cut_short, 0, "failed before its 7 attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_keys_arrive_in_order_on_sqlite() {
    let database_url = fresh_database(Backend::Sqlite).await;
    let receiver = TestReceiver::start(None).await;
    let gateway = Arc::new(Gateway::start(&database_url, &[]).await);
    gateway.setup_with(&receiver.url(), fields()).await;
    every_key_arrives_in_order(&database_url, &[gateway], &receiver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_keys_arrive_in_order_across_three_instances() {
    let database_url = fresh_database(Backend::Postgres).await;
    let receiver = TestReceiver::start(None).await;
    let gateways = three_instances(&database_url, "1s", &receiver.url(), fields()).await;
    every_key_arrives_in_order(&database_url, &gateways, &receiver).await;
}
