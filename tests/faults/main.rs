//! Faults injected into the real binary: `kill -9` with deliveries in flight, SIGTERM,
//! PostgreSQL restarted under load, SQLite out of space or read-only. Each test runs the
//! gateway as a child process on a fresh database and a real receiver.

#[allow(dead_code, unused_macros)]
#[macro_use]
#[path = "../api/helpers.rs"]
mod helpers;
mod cut;
mod database;
mod gateway;
mod ordering;
mod ownership;
mod private_postgres;
mod rolling;
mod three_instances;
mod timeline;

use std::time::Duration;

use gateway::{count, unique_ids, Gateway};
use helpers::{fresh_database, Backend, TestReceiver};

/// `kill -9` while deliveries are in flight, then a restart: every accepted event reaches
/// the listener, duplicates carry the same `webhook-id` and body, nothing stays leased.
async fn crash_loses_nothing(backend: Backend) {
    crash_and_restart(backend, 10_000, 1).await;
}

/// The long variant (`cargo test --test faults -- --ignored`, listed in RELIABILITY.md):
/// 50,000 events and five kills, each with deliveries in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long variant: a few minutes"]
async fn long_crash_loop_loses_nothing_sqlite() {
    crash_and_restart(Backend::Sqlite, 50_000, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long variant: a few minutes"]
async fn long_crash_loop_loses_nothing_postgres() {
    crash_and_restart(Backend::Postgres, 50_000, 5).await;
}

/// Publishes `events`, then `kills` times: lets a share of them arrive, `kill -9`, restart.
async fn crash_and_restart(backend: Backend, events: usize, kills: usize) {
    let database_url = fresh_database(backend).await;
    let receiver = TestReceiver::start(None).await;
    receiver.delay(Duration::from_millis(5));
    // The shortest lease the settings allow (it must exceed the 30 s longest timeout).
    // At most 8 in flight to the listener: 10,000 answers of 5 ms then take seconds, so
    // each kill comes with work left (at the adaptive ceiling of 256 they all arrived
    // within a fraction of a second, sometimes before the first kill).
    let env = [
        ("HOOKGATE_LEASE", "31s"),
        ("HOOKGATE_MAX_IN_FLIGHT_PER_WEBHOOK", "8"),
    ];
    let mut gateway = Gateway::start(&database_url, &env).await;
    gateway.setup(&receiver.url()).await;
    gateway.publish(0, events).await;
    for kill in 1..=kills {
        // Kill points spread over the run, the first once 500 have arrived.
        let arrived = 500.max(events * (kill - 1) / (kills + 1));
        let limit = Duration::from_secs(120);
        assert!(receiver.wait_for(arrived, limit).await.len() >= arrived);
        gateway.signal("-KILL");
        gateway.child.wait().unwrap();
        let before_restart = unique_ids(&receiver).len();
        assert!(
            before_restart < events,
            "kill {kill} came with work left: {before_restart}"
        );
        gateway = Gateway::start(&database_url, &env).await;
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120 * kills as u64);
    while unique_ids(&receiver).len() < events && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        unique_ids(&receiver).len(),
        events,
        "every accepted event arrived"
    );
    // A duplicate is the same delivery again: same webhook-id, same body.
    let mut bodies = std::collections::HashMap::new();
    for r in receiver.received() {
        let previous = bodies.insert(r.header("webhook-id").to_string(), r.body.clone());
        if let Some(previous) = previous {
            assert_eq!(previous, r.body, "a duplicate carries the same body");
        }
    }
    // Deliveries a dead process had sent but not recorded are sent again once their
    // lease (31 s from their claim) expires; after that nothing is left in flight.
    let open_sql = "SELECT COUNT(*) FROM deliveries WHERE state IN ('in_flight', 'pending')";
    let mut open = -1;
    for _ in 0..250 {
        open = count(&database_url, open_sql).await;
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(open, 0, "deliveries left in flight or pending");
    gateway.signal("-TERM");
    gateway.child.wait().unwrap();
}

/// SIGTERM: the gateway stops claiming, lets in-flight attempts finish, exits 0, and
/// leaves nothing leased.
async fn sigterm_drains_and_exits_cleanly(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let receiver = TestReceiver::start(None).await;
    receiver.delay(Duration::from_millis(1500));
    let gateway = Gateway::start(&database_url, &[("HOOKGATE_SHUTDOWN_GRACE", "20s")]).await;
    gateway.setup(&receiver.url()).await;
    gateway.publish(0, 20).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    gateway.signal("-TERM");
    let mut gateway = gateway;
    let status = gateway.child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    let leased = count(
        &database_url,
        "SELECT COUNT(*) FROM deliveries WHERE state = 'in_flight'",
    )
    .await;
    assert_eq!(leased, 0, "in-flight attempts were finished and recorded");
    let attempts = count(&database_url, "SELECT COUNT(*) FROM attempts").await;
    assert_eq!(
        attempts as usize,
        receiver.received().len(),
        "every attempt the listener saw was recorded"
    );
}

on_both_backends!(crash_loses_nothing, sigterm_drains_and_exits_cleanly);
