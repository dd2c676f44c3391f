//! Listener ownership across real instances on one PostgreSQL: two gateways share the
//! webhooks' leases out, each held by one; one killed with SIGKILL loses its leases to
//! the other within a few heartbeats; one stopped cleanly leaves at once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::gateway::{count, unique_ids, wait_until, Gateway};
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

/// Three instances on one database, each heartbeating every `heartbeat`, with the
/// first's `setup_with(url, fields)`: once all three are live and the webhook has an
/// owner that has stayed put for a few beats (a join hands a webhook over, and the
/// handover drains for at most one beat).
async fn three_instances(
    database_url: &str,
    heartbeat: &'static str,
    url: &str,
    fields: serde_json::Value,
) -> Vec<Arc<Gateway>> {
    let env = [("HOOKGATE_INSTANCE_HEARTBEAT", heartbeat)];
    let first = Arc::new(Gateway::start(database_url, &env).await);
    first.setup_with(url, fields).await;
    let mut gateways = vec![first];
    for _ in 1..3 {
        gateways.push(Arc::new(Gateway::start(database_url, &env).await));
    }
    let beat = humantime::parse_duration(heartbeat).unwrap();
    let live = format!(
        "SELECT COUNT(*) FROM instances WHERE heartbeat_at > {NOW_MS} - {}",
        beat.as_millis() * 2
    );
    assert!(
        wait_until_count(database_url, &live, 3).await,
        "three instances are not all live"
    );
    let mut owner = lease(database_url).await;
    let mut stable_since = tokio::time::Instant::now();
    let deadline = stable_since + Duration::from_secs(20);
    while stable_since.elapsed() < beat * 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the webhook's owner did not settle: {owner:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = lease(database_url).await;
        if now != owner || now.is_none() {
            (owner, stable_since) = (now, tokio::time::Instant::now());
        }
    }
    gateways
}

/// The one webhook's live lease: its holder and fence.
async fn lease(database_url: &str) -> Option<(String, i64)> {
    let pool = sqlx::PgPool::connect(database_url).await.unwrap();
    sqlx::query_as(&format!(
        "SELECT instance_id, fence FROM webhook_owners WHERE expires_at > {NOW_MS}"
    ))
    .fetch_optional(&pool)
    .await
    .unwrap()
}

/// Only the owner sends: with events published to all three instances, a webhook's
/// `max_concurrency` of 4 holds at its listener (each instance alone would allow 4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_holds_across_instances() {
    let database_url = fresh_database(Backend::Postgres).await;
    let receiver = TestReceiver::start(None).await;
    receiver.delay(Duration::from_millis(50));
    let gateways = three_instances(
        &database_url,
        "500ms",
        &receiver.url(),
        json!({"max_concurrency": 4}),
    )
    .await;

    // Nine publishers, three on each instance.
    const EVENTS: usize = 270;
    const PUBLISHERS: usize = 9;
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let gateway = gateways[p % gateways.len()].clone();
            tokio::spawn(async move {
                for n in (p..EVENTS).step_by(PUBLISHERS) {
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

/// Only the owner sends, so one token bucket: a webhook's `rate_limit_per_second` of 50
/// holds at its listener to ±10 % over 10 s while batches are published to all three
/// instances (each alone would send 50 a second). The bucket starts full, so the first
/// second's burst is left out of the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_holds_across_instances() {
    let database_url = fresh_database(Backend::Postgres).await;
    let receiver = TestReceiver::start(None).await;
    // Beats of 1 s: a loaded machine's stall of a second or two hands nothing over
    // mid-window (the owner is asserted unchanged below).
    let gateways = three_instances(
        &database_url,
        "1s",
        &receiver.url(),
        json!({"rate_limit_per_second": 50}),
    )
    .await;
    let owner = lease(&database_url).await;

    // 900 events, nine batches of 100, three on each instance: 18 s at 50 a second.
    const EVENTS: usize = 900;
    for (batch, from) in (0..EVENTS).step_by(100).enumerate() {
        gateways[batch % gateways.len()].publish(from, 100).await;
    }
    let arrived = receiver.wait_for(EVENTS, Duration::from_secs(60)).await;
    assert_eq!(
        unique_ids(&receiver).len(),
        EVENTS,
        "not every event arrived"
    );
    assert_eq!(
        lease(&database_url).await,
        owner,
        "the webhook changed hands while it was measured"
    );

    let first = arrived.iter().map(|r| r.at).min().unwrap();
    let window = (
        first + chrono::Duration::seconds(2),
        first + chrono::Duration::seconds(12),
    );
    let in_window = arrived
        .iter()
        .filter(|r| r.at >= window.0 && r.at < window.1)
        .count();
    assert!(
        (450..=550).contains(&in_window),
        "{in_window} requests in 10 s at a listener limited to 50 a second"
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
        wait_until_count(&database_url, delivered, EVENTS as i64).await,
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

/// Polls `sql` (a count) every 100 ms for up to 10 s until it is `want`.
async fn wait_until_count(database_url: &str, sql: &str, want: i64) -> bool {
    for _ in 0..100 {
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
