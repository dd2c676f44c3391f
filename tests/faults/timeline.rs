//! The health timeline with two instances on one PostgreSQL, in compressed time (a tick
//! every 4 s, a warning after 8 s unavailable, deactivation after 24 s): each tick is
//! evaluated by one instance, the warning and the deactivation come at exactly the ticks
//! the rules name, a deactivated webhook's events are held on both instances, and
//! reactivation with replay sends them.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::gateway::{count, Gateway};
use crate::helpers::{fresh_database, Backend, TestReceiver, PLATFORM_KEY};
use crate::ownership::{wait_held, wait_until_count};

const WARN_AFTER_MS: i64 = 8_000;
const DEACTIVATE_AFTER_MS: i64 = 24_000;

fn millis(body: &Value, field: &str) -> i64 {
    let at: DateTime<Utc> = body[field].as_str().unwrap().parse().unwrap();
    at.timestamp_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_timeline_holds_with_two_instances() {
    let database_url = fresh_database(Backend::Postgres).await;
    let receiver = TestReceiver::start(None).await;
    receiver.always(503);
    let env = [
        ("HOOKGATE_INSTANCE_HEARTBEAT", "500ms"),
        ("HOOKGATE_HEALTH_EVALUATOR", "true"),
        ("HOOKGATE_HEALTH_SCHEDULE", "*/4 * * * * *"),
        ("HOOKGATE_HEALTH_WINDOW", "4s"),
        ("HOOKGATE_HEALTH_WARN_AFTER", "8s"),
        ("HOOKGATE_HEALTH_DEACTIVATE_AFTER", "24s"),
    ];
    let first = Gateway::start(&database_url, &env).await;
    // Retries every second or two, so every window has attempts in it.
    first
        .setup_with(
            &receiver.url(),
            json!({"retry_policy": {"offsets_seconds": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}),
        )
        .await;
    let second = Gateway::start(&database_url, &env).await;
    let gateways = [first, second];
    let (ready, now) = wait_held(&database_url, Duration::from_secs(10), (1, 1)).await;
    assert!(ready, "the webhook has no owner: {now:?}");
    let webhook = gateways[0].get("/v1/apps/bob/webhooks").await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let health = format!("/v1/apps/bob/webhooks/{webhook}/health");

    // An event a second, alternately on both instances, until the webhook is deactivated.
    let mut n = 0;
    let deactivated = loop {
        let state = gateways[0].get(&health).await["state"].clone();
        if state == "deactivated" || n >= 60 {
            break state == "deactivated";
        }
        let r = gateways[n % 2].publish_one(n, 0).await;
        assert_eq!(r.status.as_u16(), 202, "evt-{n}: {}", r.body);
        n += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert!(
        deactivated,
        "not deactivated within 60 s of failing: {}, {}",
        gateways[0].get(&health).await,
        gateways[0].get("/v1/apps/bob/notifications").await
    );

    let notifications = gateways[1].get("/v1/apps/bob/notifications").await["data"]
        .as_array()
        .unwrap()
        .clone();
    let mut bodies: Vec<&Value> = notifications.iter().map(|n| &n["body"]).collect();
    bodies.sort_by_key(|b| millis(b, "evaluated_at"));
    let severities: Vec<&str> = bodies
        .iter()
        .map(|b| b["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities, ["warning", "deactivation"], "{notifications:?}");
    let failure_since = millis(bodies[0], "failure_started_at");
    assert_eq!(millis(bodies[1], "failure_started_at"), failure_since);

    // Each tick once, by one instance or the other, and the notices at the first tick
    // past each bound.
    let pool = sqlx::PgPool::connect(&database_url).await.unwrap();
    let ticks: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT tick_at, started_at, instance FROM evaluation_ticks ORDER BY tick_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        ticks.iter().all(|(slot, _, _)| slot % 4_000 == 0),
        "{ticks:?}"
    );
    let first_tick_past = |bound: i64| {
        ticks
            .iter()
            .map(|(_, started, _)| *started)
            .find(|started| started - failure_since >= bound)
    };
    assert_eq!(
        Some(millis(bodies[0], "evaluated_at")),
        first_tick_past(WARN_AFTER_MS),
        "the warning is not at the first tick 8 s into the failure: {ticks:?}"
    );
    assert_eq!(
        Some(millis(bodies[1], "evaluated_at")),
        first_tick_past(DEACTIVATE_AFTER_MS),
        "the deactivation is not at the first tick 24 s into the failure: {ticks:?}"
    );

    // Deactivated: what either instance accepts is held, and nothing is sent.
    let sent = receiver.received().len();
    for gateway in &gateways {
        let r = gateway.publish_one(n, 0).await;
        assert_eq!(r.status.as_u16(), 202, "evt-{n}: {}", r.body);
        n += 1;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), sent, "sent while deactivated");
    assert!(
        count(
            &database_url,
            "SELECT COUNT(*) FROM deliveries WHERE state = 'held'"
        )
        .await
            >= 2
    );

    // Fixed and reactivated with replay, those that failed for good meanwhile too:
    // every event is delivered, the held ones included.
    receiver.always(200);
    gateways[1]
        .post(
            &format!("/v1/apps/bob/webhooks/{webhook}/reactivate"),
            PLATFORM_KEY,
            json!({"replay": true, "include_failed": true}),
        )
        .await;
    let delivered = "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'";
    assert!(
        wait_until_count(&database_url, delivered, n as i64, Duration::from_secs(30)).await,
        "{} of {n} events delivered after the replay",
        count(&database_url, delivered).await
    );
    let replayed: HashSet<String> = receiver.received()[sent..]
        .iter()
        .filter_map(|r| r.json()["id"].as_str().map(str::to_string))
        .collect();
    assert!(
        replayed.contains(&format!("evt-{}", n - 1))
            && replayed.contains(&format!("evt-{}", n - 2)),
        "the held events were not replayed: {replayed:?}"
    );
    assert_eq!(gateways[0].get(&health).await["state"], "healthy");
    for gateway in gateways {
        assert!(gateway.stop().success());
    }
}
