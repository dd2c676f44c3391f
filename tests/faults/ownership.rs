//! Listener ownership across real instances on one PostgreSQL: two gateways share the
//! webhooks' leases out, each held by one; one killed with SIGKILL loses its leases to
//! the other within a few heartbeats; one stopped cleanly leaves at once.

use std::time::Duration;

use serde_json::json;

use crate::gateway::{count, unique_ids, wait_until, Gateway};
use crate::helpers::{fresh_database, Backend, TestReceiver, PLATFORM_KEY};

pub(crate) const NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint";

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

pub(crate) async fn wait_held(
    database_url: &str,
    limit: Duration,
    want: (i64, i64),
) -> (bool, (i64, i64)) {
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

/// Whether `host`'s instance (ids start with `HOSTNAME`) holds a lease now.
async fn holds_a_lease(database_url: &str, host: &str) -> bool {
    count(
        database_url,
        &format!(
            "SELECT COUNT(*) FROM webhook_owners \
             WHERE instance_id LIKE '{host}-%' AND expires_at > {NOW_MS}"
        ),
    )
    .await
        > 0
}

/// Fencing: an owner stopped with SIGSTOP past its lease, then continued, sends nothing
/// more under the lost lease and records no attempt for it, while the instance that took
/// the listener over has sent everything, the deliveries the paused one had leased too
/// (at once, not after their 5-minute delivery lease).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_paused_past_its_lease_sends_and_records_nothing_under_it() {
    let database_url = fresh_database(Backend::Postgres).await;
    let receiver = TestReceiver::start(None).await;
    // Sends under way at any moment, and leased deliveries waiting on the rate limit.
    receiver.delay(Duration::from_millis(100));
    let env = |host: &'static str| [("HOOKGATE_INSTANCE_HEARTBEAT", "500ms"), ("HOSTNAME", host)];
    let first = Gateway::start(&database_url, &env("first")).await;
    first
        .setup_with(&receiver.url(), json!({"rate_limit_per_second": 10}))
        .await;
    let second = Gateway::start(&database_url, &env("second")).await;
    let (ready, now) = wait_held(&database_url, Duration::from_secs(10), (1, 1)).await;
    assert!(ready, "the webhook has no owner: {now:?}");
    let (owner, other) = if holds_a_lease(&database_url, "first").await {
        (&first, "second")
    } else {
        (&second, "first")
    };

    const EVENTS: usize = 30;
    for n in 0..EVENTS {
        let r = first.publish_one(n, 0).await;
        assert_eq!(r.status.as_u16(), 202, "evt-{n}: {}", r.body);
    }
    assert!(
        wait_until(Duration::from_secs(10), || receiver.received().len() >= 3).await,
        "the owner is not sending"
    );
    owner.signal("-STOP");
    let mut taken_over = false;
    for _ in 0..100 {
        if holds_a_lease(&database_url, other).await {
            taken_over = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(taken_over, "nobody took the paused owner's listener over");
    let all_sent = wait_until(Duration::from_secs(20), || {
        unique_ids(&receiver).len() >= EVENTS
    })
    .await;
    assert!(
        all_sent,
        "{} of {EVENTS} sent while the old owner is paused",
        unique_ids(&receiver).len()
    );
    // The new owner's last records are written within moments.
    let delivered = "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered' AND id IN \
         (SELECT delivery_id FROM attempts)";
    assert!(
        wait_until_count(
            &database_url,
            delivered,
            EVENTS as i64,
            Duration::from_secs(10)
        )
        .await,
        "the new owner's attempts were not all recorded"
    );
    let (requests, attempts) = (
        receiver.received().len(),
        count(&database_url, "SELECT COUNT(*) FROM attempts").await,
    );

    // Continued: its leased deliveries' rate-limit waits and its sends' answers are
    // all past due at once.
    owner.signal("-CONT");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        receiver.received().len(),
        requests,
        "the old owner sent under its lost lease"
    );
    assert_eq!(
        count(&database_url, "SELECT COUNT(*) FROM attempts").await,
        attempts,
        "the old owner recorded attempts under its lost lease"
    );
    assert_eq!(
        count(
            &database_url,
            "SELECT COUNT(*) FROM deliveries WHERE state <> 'delivered'"
        )
        .await,
        0
    );
}

/// Polls `sql` (a count) every 100 ms for up to `limit` until it is `want`.
pub(crate) async fn wait_until_count(
    database_url: &str,
    sql: &str,
    want: i64,
    limit: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if count(database_url, sql).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A publish on an instance that does not own the webhook wakes its owner at once
/// (PostgreSQL `NOTIFY`), not at the owner's next idle poll: here 30 s, so every event
/// arriving within 10 s was announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_another_instance_wakes_the_owner() {
    let database_url = fresh_database(Backend::Postgres).await;
    let receiver = TestReceiver::start(None).await;
    let env = |host: &'static str| {
        [
            ("HOOKGATE_INSTANCE_HEARTBEAT", "500ms"),
            ("HOOKGATE_IDLE_POLL", "30s"),
            ("HOSTNAME", host),
        ]
    };
    let first = Gateway::start(&database_url, &env("first")).await;
    first.setup(&receiver.url()).await;
    let second = Gateway::start(&database_url, &env("second")).await;
    let (ready, now) = wait_held(&database_url, Duration::from_secs(10), (1, 1)).await;
    assert!(ready, "the webhook has no owner: {now:?}");
    // Both instances' claim loops have looked once and now sleep their idle poll.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (owner, other) = if holds_a_lease(&database_url, "first").await {
        (&first, &second)
    } else {
        (&second, &first)
    };

    // Both name the owner in the webhook's health; only the owner's answer is its own.
    let webhook = owner.get("/v1/apps/bob/webhooks").await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let health = format!("/v1/apps/bob/webhooks/{webhook}/health");
    let (from_owner, from_other) = (owner.get(&health).await, other.get(&health).await);
    let owner_id = from_owner["owner"]["instance"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        owner_id.starts_with(if std::ptr::eq(owner, &first) {
            "first-"
        } else {
            "second-"
        }),
        "{from_owner}"
    );
    assert_eq!(
        from_other["owner"]["instance"],
        owner_id.as_str(),
        "{from_other}"
    );
    assert_eq!(from_owner["owner"]["answered"], true, "{from_owner}");
    assert_eq!(from_other["owner"]["answered"], false, "{from_other}");

    const EVENTS: usize = 5;
    for n in 0..EVENTS {
        let r = other.publish_one(n, 0).await;
        assert_eq!(r.status.as_u16(), 202, "evt-{n}: {}", r.body);
        // Each on its own, so each needs its own wake.
        let arrived = wait_until(Duration::from_secs(10), || unique_ids(&receiver).len() > n).await;
        assert!(
            arrived,
            "evt-{n}, published on the instance that does not own the webhook, was not \
             sent within 10 s (its owner polls every 30 s)"
        );
    }
}
