//! Group commit: concurrent single publishes share transactions, and each request still
//! gets its own answer — a bad event fails alone, repeats and conflicts are per request.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, Reply, TestApp, TestReceiver};

/// Publishes all at once, each in its own request.
async fn publish_together(app: &TestApp, events: Vec<Value>) -> Vec<Reply> {
    futures::future::join_all(events.into_iter().map(|e| app.publish(e))).await
}

async fn deliveries_of(app: &TestApp, key: &str, webhook_id: &str) -> usize {
    let r = app
        .get(
            &format!("/v1/apps/bob-app/webhooks/{webhook_id}/deliveries?limit=200"),
            key,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["data"].as_array().unwrap().len()
}

async fn concurrent_publishes_share_transactions_and_answer_alone(backend: Backend) {
    // A wide window so that requests sent together surely meet in a group.
    let app = spawn_app_with(backend, |s| {
        s.group_commit_window = std::time::Duration::from_millis(50);
    })
    .await;
    let receiver = TestReceiver::start(None).await;
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let id = webhook["id"].as_str().unwrap();

    let before = app.publisher.transactions();
    let good: Vec<Value> = (0..20)
        .map(|n| json!({"id": format!("good-{n}"), "type": "a.b", "tenant_id": "acme"}))
        .collect();
    for r in publish_together(&app, good).await {
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        assert_eq!(r.body["deliveries"], 1);
    }
    let used = app.publisher.transactions() - before;
    assert!(used < 20, "20 publishes took {used} transactions");
    assert_eq!(deliveries_of(&app, &key, id).await, 20);

    // Neighbours of bad events: an unknown tenant, an id reused with another body, and
    // an exact repeat, all in flight with good ones.
    let mut mixed: Vec<Value> = (0..10)
        .map(|n| json!({"id": format!("more-{n}"), "type": "a.b", "tenant_id": "acme"}))
        .collect();
    mixed.push(json!({"id": "lost", "type": "a.b", "tenant_id": "nobody"}));
    mixed.push(json!({"id": "good-0", "type": "a.b", "tenant_id": "acme", "data": {"x": 1}}));
    mixed.push(json!({"id": "good-1", "type": "a.b", "tenant_id": "acme"}));
    let replies = publish_together(&app, mixed).await;
    for r in &replies[..10] {
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
    assert_eq!(
        replies[10].status,
        StatusCode::NOT_FOUND,
        "{}",
        replies[10].body
    );
    assert_eq!(
        replies[11].status,
        StatusCode::CONFLICT,
        "{}",
        replies[11].body
    );
    assert_eq!(
        replies[12].status,
        StatusCode::ACCEPTED,
        "{}",
        replies[12].body
    );
    assert_eq!(
        replies[12].headers.get("idempotent-replayed").unwrap(),
        "true"
    );
    assert_eq!(
        deliveries_of(&app, &key, id).await,
        30,
        "every good event stored once, nothing of the bad ones"
    );
}

/// With the dispatcher running, a publish leases its delivery to it and the claim never
/// sees it: sent at once, recorded once. The webhook's first delivery may go through the
/// claim instead (a claim in progress that did not know the webhook could fill its room),
/// so the second one is the one looked at.
async fn a_publish_hands_its_deliveries_to_the_running_dispatcher(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.dispatcher = true).await;
    let receiver = TestReceiver::start(None).await;
    let (_, _) = app.partner_setup(&receiver.url(), json!({})).await;
    // The dispatcher opens the fast path when its loop starts.
    for _ in 0..100 {
        if app.dispatcher.fast_path_open() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let wait = std::time::Duration::from_secs(10);
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    assert_eq!(receiver.wait_for(1, wait).await.len(), 1);
    let before = app.dispatcher.fast_pathed();
    let r = app
        .publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let got = receiver.wait_for(2, wait).await;
    assert_eq!(got.len(), 2);
    assert_eq!(app.dispatcher.fast_pathed(), before + 1);
    let delivery_id = got[1].header("webhook-id").to_string();
    let mut state = None;
    for _ in 0..250 {
        let d = app.delivery(&delivery_id).await;
        if d.state == hookgate::model::DeliveryState::Delivered {
            state = Some(d);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let d = state.expect("the attempt is recorded");
    assert_eq!(d.attempt_count, 1);
    assert_eq!(receiver.received().len(), 2, "each sent once");
}

/// Batch inserts of events waiting for a row lock in this database.
async fn waiting_at_the_lock(db: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO events%'",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

/// PostgreSQL: batch publishes are stored two at a time per instance (more would take the
/// database from delivery while a flood lasts); the others wait their turn and all are
/// stored. The tenant's row, locked here, holds each batch's insert where it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_batch_publishes_are_stored_two_at_a_time() {
    use sqlx::Connection;
    let app = crate::helpers::spawn_app(Backend::Postgres).await;
    app.create_tenant("acme", "production").await;
    let mut locker = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    let mut lock = locker.begin().await.unwrap();
    sqlx::query("SELECT id FROM tenants WHERE id = 'acme' FOR UPDATE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let publishes = futures::future::join_all((0..4).map(|n| {
        app.platform_post(
            "/v1/events/batch",
            json!({"events": [{"type": "a.b", "tenant_id": "acme", "data": {"n": n}}]}),
        )
    }));
    let watch = async {
        let mut watcher = sqlx::PgConnection::connect(&app.database_url)
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while waiting_at_the_lock(&mut watcher).await < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "no batch reached the database"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Without the bound all four are at the lock within milliseconds.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(waiting_at_the_lock(&mut watcher).await, 2);
        lock.rollback().await.unwrap();
    };
    let (replies, ()) = tokio::join!(publishes, watch);
    for r in replies {
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
}

on_both_backends!(
    concurrent_publishes_share_transactions_and_answer_alone,
    a_publish_hands_its_deliveries_to_the_running_dispatcher,
);
