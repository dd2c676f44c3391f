//! Listener ownership across real instances on one PostgreSQL: two gateways share the
//! webhooks' leases out, each held by one; one killed with SIGKILL loses its leases to
//! the other within a few heartbeats; one stopped cleanly leaves at once.

use std::time::Duration;

use serde_json::json;

use crate::gateway::{count, Gateway};
use crate::helpers::{fresh_database, Backend, PLATFORM_KEY};

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
