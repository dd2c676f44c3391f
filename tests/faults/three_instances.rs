//! Three instances on one PostgreSQL and one webhook: only its owner sends, so its
//! `max_concurrency` and its rate limit hold at the listener whatever instance the events
//! are published to, and an owner killed with SIGKILL hands its listener on within a
//! few beats, losing nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::gateway::{delivered_events, unique_ids, wait_until, Gateway};
use crate::helpers::{fresh_database, Backend, TestReceiver};
use crate::ownership::{wait_until_count, NOW_MS};

/// The instances' host names: each one's id starts with its own.
const HOSTS: [&str; 3] = ["one", "two", "three"];

/// Three instances on one database, each heartbeating every `heartbeat`, with the
/// first's `setup_with(url, fields)`: once all three are live and the webhook has an
/// owner that has stayed put for a few beats (a join hands a webhook over, and the
/// handover drains for at most one beat).
pub(crate) async fn three_instances(
    database_url: &str,
    heartbeat: &'static str,
    url: &str,
    fields: serde_json::Value,
) -> Vec<Arc<Gateway>> {
    let env = |host| {
        [
            ("HOOKGATE_INSTANCE_HEARTBEAT", heartbeat),
            ("HOSTNAME", host),
        ]
    };
    let first = Arc::new(Gateway::start(database_url, &env(HOSTS[0])).await);
    first.setup_with(url, fields).await;
    let mut gateways = vec![first];
    for host in &HOSTS[1..] {
        gateways.push(Arc::new(Gateway::start(database_url, &env(host)).await));
    }
    let beat = humantime::parse_duration(heartbeat).unwrap();
    let live = format!(
        "SELECT COUNT(*) FROM instances WHERE heartbeat_at > {NOW_MS} - {}",
        beat.as_millis() * 2
    );
    assert!(
        wait_until_count(database_url, &live, 3, Duration::from_secs(10)).await,
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

/// Which of the three holds the webhook's lease now.
async fn owner(database_url: &str) -> Option<usize> {
    let (instance, _) = lease(database_url).await?;
    HOSTS
        .iter()
        .position(|host| instance.starts_with(&format!("{host}-")))
}

/// Failover: the owner killed with SIGKILL while events are published to the other two;
/// one of them sends within 10 s, every accepted event arrives (those the killed owner
/// had in flight again, with the same `webhook-id`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_killed_hands_its_listener_on_within_seconds_and_loses_nothing() {
    let database_url = fresh_database(Backend::Postgres).await;
    let receiver = TestReceiver::start(None).await;
    receiver.delay(Duration::from_millis(20));
    let gateways = three_instances(&database_url, "500ms", &receiver.url(), json!({})).await;
    let killed = owner(&database_url)
        .await
        .expect("the webhook has an owner");
    let survivors: Vec<Arc<Gateway>> = (0..3)
        .filter(|i| *i != killed)
        .map(|i| gateways[i].clone())
        .collect();

    // Events published to the survivors before and after the kill.
    const BEFORE: usize = 100;
    const AFTER: usize = 100;
    let mut accepted = HashSet::new();
    for n in 0..BEFORE {
        let r = survivors[n % 2].publish_one(n, 0).await;
        assert_eq!(r.status.as_u16(), 202, "evt-{n}: {}", r.body);
        accepted.insert(format!("evt-{n}"));
    }
    assert!(
        wait_until(Duration::from_secs(10), || receiver.received().len() >= 20).await,
        "the owner is not sending"
    );
    gateways[killed].signal("-KILL");
    let killed_at = chrono::Utc::now();
    for n in BEFORE..BEFORE + AFTER {
        let r = survivors[n % 2].publish_one(n, 0).await;
        assert_eq!(r.status.as_u16(), 202, "evt-{n}: {}", r.body);
        accepted.insert(format!("evt-{n}"));
    }
    let all_arrived = wait_until(Duration::from_secs(30), || {
        delivered_events(&receiver).is_superset(&accepted)
    })
    .await;
    assert!(
        all_arrived,
        "{} of {} accepted events never arrived",
        accepted.difference(&delivered_events(&receiver)).count(),
        accepted.len()
    );
    // The killed process sends nothing, so the first request after the kill is the new
    // owner's (its own in-flight ones were read before the kill was noted, or just after).
    let resumed = receiver
        .received()
        .iter()
        .map(|r| r.at)
        .filter(|at| *at > killed_at + chrono::Duration::milliseconds(200))
        .min()
        .expect("requests after the kill");
    assert!(
        resumed - killed_at <= chrono::Duration::seconds(10),
        "the listener got nothing for {} after its owner was killed",
        resumed - killed_at
    );
    let new_owner = owner(&database_url).await;
    assert!(
        new_owner.is_some_and(|o| o != killed),
        "the lease did not move: {new_owner:?}"
    );
    assert_eq!(
        unique_ids(&receiver).len(),
        BEFORE + AFTER,
        "one delivery per event, whatever was sent twice"
    );
}
