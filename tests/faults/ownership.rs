//! Listener ownership across real instances on one PostgreSQL: two gateways share the
//! webhooks' leases out, each held by one; one killed with SIGKILL loses its leases to
//! the other within a few heartbeats; one stopped cleanly leaves at once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::gateway::{count, Gateway};
use crate::helpers::{fresh_database, Backend, TestReceiver, PLATFORM_KEY};

const NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint";

/// Leases held now, and by how many instances.
async fn held(database_url: &str) -> (i64, i64) {
    let leases = count(
        database_url,
        &format!("SELECT COUNT(*) FROM webhook_owners WHERE expires_at > {NOW_MS}"),
    )
    .await;
    let holders = count(
        database_url,
        &format!(
            "SELECT COUNT(DISTINCT instance_id) FROM webhook_owners WHERE expires_at > {NOW_MS}"
        ),
    )
    .await;
    (leases, holders)
}

async fn wait_held(database_url: &str, limit: Duration, want: (i64, i64)) -> (bool, (i64, i64)) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let now = held(database_url).await;
        if now == want || tokio::time::Instant::now() >= deadline {
            return (now == want, now);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_the_leases_and_a_killed_one_loses_them_within_a_few_beats() {
    let database_url = fresh_database(Backend::Postgres).await;
    let env = [("HOOKGATE_INSTANCE_HEARTBEAT", "500ms")];
    let first = Gateway::start(&database_url, &env).await;
    // 30 webhooks (three apps of ten, an app's limit): neither instance's share is empty
    // but once in 2^29 draws of their random ids.
    for a in 0..3 {
        let app = first
            .post(
                "/v1/apps",
                PLATFORM_KEY,
                json!({"id": format!("app-{a}"), "name": "App"}),
            )
            .await;
        let key = app["partner_key"].as_str().unwrap().to_string();
        for n in 0..10 {
            let url = format!("http://127.0.0.1:9/{a}/{n}");
            first
                .post(
                    &format!("/v1/apps/app-{a}/webhooks"),
                    &key,
                    json!({"url": url}),
                )
                .await;
        }
    }
    let (held_by_one, now) = wait_held(&database_url, Duration::from_secs(10), (30, 1)).await;
    assert!(
        held_by_one,
        "alone, the first instance holds every lease: {now:?}"
    );

    let second = Gateway::start(&database_url, &env).await;
    let (shared, now) = wait_held(&database_url, Duration::from_secs(10), (30, 2)).await;
    assert!(
        shared,
        "the two instances did not share the leases out: {now:?}"
    );

    // SIGKILL: no goodbye. Its leases lapse three beats after their last renewal, and the
    // survivor takes them at its next beat (the bound: within 10 s).
    second.signal("-KILL");
    let killed_at = tokio::time::Instant::now();
    let (taken_over, now) = wait_held(&database_url, Duration::from_secs(10), (30, 1)).await;
    assert!(
        taken_over,
        "the survivor did not take the killed instance's leases: {now:?}"
    );
    let took = killed_at.elapsed();
    assert!(took <= Duration::from_secs(10), "failover took {took:?}");
    drop(second);

    // A clean stop leaves: no lease outlives it, nor its row.
    assert!(first.stop().success());
    assert_eq!(
        held(&database_url).await.0,
        0,
        "a lease outlived a clean stop"
    );
    assert_eq!(
        count(&database_url, "SELECT COUNT(*) FROM instances").await,
        1,
        "only the killed instance's row is left"
    );
}

/// Only the owner sends: with events published to both instances, a webhook's
/// `max_concurrency` of 4 holds at its listener (each instance alone would allow 4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_holds_across_instances() {
    let database_url = fresh_database(Backend::Postgres).await;
    let receiver = TestReceiver::start(None).await;
    receiver.delay(Duration::from_millis(50));
    let env = [("HOOKGATE_INSTANCE_HEARTBEAT", "500ms")];
    let first = Arc::new(Gateway::start(&database_url, &env).await);
    first
        .setup_with(&receiver.url(), json!({"max_concurrency": 4}))
        .await;
    let second = Arc::new(Gateway::start(&database_url, &env).await);
    let (ready, now) = wait_held(&database_url, Duration::from_secs(10), (1, 1)).await;
    assert!(ready, "the webhook has no owner: {now:?}");

    // Eight publishers, alternately on both instances.
    const EVENTS: usize = 200;
    let publishers: Vec<_> = (0..8)
        .map(|p| {
            let gateway = if p % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                for n in (p..EVENTS).step_by(8) {
                    let r = gateway.publish_one(n, 0).await;
                    assert_eq!(r.status.as_u16(), 202, "evt-{n}: {}", r.body);
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.await.unwrap();
    }
    let arrived = receiver.wait_for(EVENTS, Duration::from_secs(60)).await;
    assert!(
        arrived.len() >= EVENTS,
        "{} of {EVENTS} delivered",
        arrived.len()
    );
    assert!(
        receiver.peak_in_flight() <= 4,
        "{} in flight at the listener, above its max_concurrency of 4",
        receiver.peak_in_flight()
    );
}
