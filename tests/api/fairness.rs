//! Tenant-fair fan-in: one tenant's burst, retry or released backlog does not hold another
//! tenant's deliveries behind it on the partner's one listener, and weights share it.
//! The webhook takes 4 at a time (`max_concurrency`), so each `run_once` is one claim of
//! 4 places.

use std::collections::HashMap;

use chrono::Duration;
use hookgate::clock::Clock;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp, TestReceiver};

/// Tenants `noisy` and `quiet` (and any `more`), all with the app installed, and one
/// webhook of 4 places. Returns the partner key and the webhook's id.
async fn setup(app: &TestApp, receiver: &TestReceiver, more: &[&str]) -> (String, String) {
    let key = app.create_app("bob-app").await;
    for tenant in ["noisy", "quiet"].iter().chain(more) {
        app.create_tenant(tenant, "production").await;
        app.install(tenant, "bob-app").await;
    }
    let webhook = app
        .create_webhook(
            "bob-app",
            &key,
            &receiver.url(),
            json!({"max_concurrency": 4}),
        )
        .await;
    (key, webhook["id"].as_str().unwrap().to_string())
}

async fn burst(app: &TestApp, tenant: &str, n: usize) {
    let events: Vec<Value> = (0..n)
        .map(|i| json!({"type": "a.b", "tenant_id": tenant, "data": {"n": i}}))
        .collect();
    let r = app
        .platform_post("/v1/events/batch", json!({"events": events}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

/// One claim: which tenants its deliveries were for, and how many each.
async fn claim_once(app: &TestApp) -> HashMap<String, usize> {
    let mut tenants = HashMap::new();
    for record in app.dispatcher.run_once().await.unwrap() {
        let delivery = app.delivery(&record.attempt.delivery_id).await;
        *tenants.entry(delivery.tenant_id).or_default() += 1;
    }
    tenants
}

async fn a_quiet_tenant_is_not_queued_behind_a_burst(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    setup(&app, &receiver, &[]).await;
    burst(&app, "noisy", 200).await;
    assert_eq!(
        claim_once(&app).await["noisy"],
        4,
        "a lone tenant takes every place"
    );
    app.clock.advance(Duration::milliseconds(5));
    app.publish(json!({"type": "a.b", "tenant_id": "quiet"}))
        .await;
    let next = claim_once(&app).await;
    assert_eq!(next.get("quiet"), Some(&1), "{next:?}");
    assert_eq!(next["noisy"], 3, "the rest of the places stay the burst's");
    // Nothing lost and nothing twice.
    while !app.dispatcher.run_once().await.unwrap().is_empty() {}
    assert_eq!(receiver.received().len(), 201);
}

async fn weights_share_the_listener_in_proportion(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    setup(&app, &receiver, &[]).await;
    let installations = app
        .get(
            "/v1/installations?tenant_id=quiet",
            crate::helpers::PLATFORM_KEY,
        )
        .await;
    let id = installations.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/installations/{id}"),
            Some(crate::helpers::PLATFORM_KEY),
            Some(json!({"delivery_weight": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["delivery_weight"], 3);
    for (weight, status) in [(json!(0), 422), (json!(101), 422), (json!(2.5), 422)] {
        let r = app
            .call(
                reqwest::Method::PATCH,
                &format!("/v1/installations/{id}"),
                Some(crate::helpers::PLATFORM_KEY),
                Some(json!({"delivery_weight": weight})),
            )
            .await;
        assert_eq!(r.status.as_u16(), status, "{weight}: {}", r.body);
    }

    burst(&app, "noisy", 40).await;
    burst(&app, "quiet", 40).await;
    let mut served: HashMap<String, usize> = HashMap::new();
    for _ in 0..5 {
        for (tenant, n) in claim_once(&app).await {
            *served.entry(tenant).or_default() += n;
        }
    }
    assert_eq!((served["quiet"], served["noisy"]), (15, 5), "{served:?}");
}

async fn a_retry_due_among_fresh_deliveries_is_one_more_of_its_tenant(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    setup(&app, &receiver, &[]).await;
    receiver.then(&[500]);
    app.publish(json!({"type": "a.b", "tenant_id": "quiet"}))
        .await;
    assert_eq!(
        claim_once(&app).await["quiet"],
        1,
        "the first attempt fails"
    );
    // The burst arrives before the retry falls due (1 minute later): in due order the
    // retry would wait behind all of it.
    burst(&app, "noisy", 100).await;
    app.clock.advance(Duration::minutes(1));
    let next = claim_once(&app).await;
    assert_eq!(next.get("quiet"), Some(&1), "{next:?}");
}

async fn held_deliveries_released_into_a_busy_listener_share_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    let (key, webhook_id) = setup(&app, &receiver, &[]).await;
    // Failing for three hours: the evaluator deactivates the webhook.
    receiver.always(500);
    let t0 = app.clock.now();
    let health = format!("/v1/apps/bob-app/webhooks/{webhook_id}/health");
    for minute in (0..=240).step_by(10) {
        app.clock.set(t0 + Duration::minutes(minute));
        app.publish(json!({"type": "a.b", "tenant_id": "noisy"}))
            .await;
        while !app.dispatcher.run_once().await.unwrap().is_empty() {}
        if minute > 0 && minute % 30 == 0 {
            app.evaluator.tick().await.unwrap();
        }
        if app.get(&health, &key).await.body["state"] == "deactivated" {
            break;
        }
    }
    assert_eq!(app.get(&health, &key).await.body["state"], "deactivated");
    // Held meanwhile: the noisy tenant's backlog first, then the quiet one's few.
    burst(&app, "noisy", 60).await;
    burst(&app, "quiet", 3).await;
    receiver.always(200);
    let r = app
        .call(
            reqwest::Method::POST,
            &format!("/v1/apps/bob-app/webhooks/{webhook_id}/reactivate"),
            Some(&key),
            Some(json!({"replay": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let first = claim_once(&app).await;
    assert_eq!(first.get("quiet"), Some(&2), "{first:?}");
    let second = claim_once(&app).await;
    assert_eq!(second.get("quiet"), Some(&1), "{second:?}");
}

/// One batch whose (webhook, tenant) pairs outnumber one statement's chunk: every
/// delivery is queued, tagged and sent once.
async fn a_batch_of_many_tenants_and_webhooks_is_tagged_in_chunks(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let tenants: Vec<String> = (0..200).map(|i| format!("t{i}")).collect();
    for app_id in ["a1", "a2", "a3"] {
        let key = app.create_app(app_id).await;
        app.create_webhook(app_id, &key, &receiver.url(), json!({}))
            .await;
    }
    for tenant in &tenants {
        app.create_tenant(tenant, "production").await;
        for app_id in ["a1", "a2", "a3"] {
            app.install(tenant, app_id).await;
        }
    }
    let events: Vec<Value> = tenants
        .iter()
        .map(|t| json!({"type": "a.b", "tenant_id": t}))
        .collect();
    let r = app
        .platform_post("/v1/events/batch", json!({"events": events}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    while !app.dispatcher.run_once().await.unwrap().is_empty() {}
    let received = receiver.received();
    assert_eq!(received.len(), 600);
    let ids: std::collections::HashSet<_> =
        received.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 600, "each sent once");
}

/// PostgreSQL: the gateway analyzes a young `deliveries` table as it grows, so the claim's
/// plan (made once per connection) is made for the table as it is, not for the handful of
/// rows autovacuum last saw (`store::statistics`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_analyzes_a_young_deliveries_table_as_it_grows() {
    use sqlx::Connection;
    let app = spawn_app(Backend::Postgres).await;
    let receiver = TestReceiver::start(None).await;
    setup(&app, &receiver, &[]).await;
    let batch = hookgate::domain::model::MAX_BATCH;
    for _ in 0..1_000_usize.div_ceil(batch) {
        burst(&app, "noisy", batch).await;
    }
    let mut db = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    // Statistics reach pg_stat_user_tables within a second or so of the analysis.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (analyzed, rows): (i64, f32) = sqlx::query_as(
            "SELECT s.analyze_count, c.reltuples FROM pg_stat_user_tables s \
             JOIN pg_class c ON c.oid = s.relid WHERE s.relname = 'deliveries'",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        // analyze_count counts ANALYZE statements only, never autovacuum's.
        if analyzed >= 1 {
            assert!(rows >= 1_000.0, "analyzed with {rows} rows");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "deliveries not analyzed after 1,000 were inserted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

on_both_backends!(
    a_batch_of_many_tenants_and_webhooks_is_tagged_in_chunks,
    a_quiet_tenant_is_not_queued_behind_a_burst,
    weights_share_the_listener_in_proportion,
    a_retry_due_among_fresh_deliveries_is_one_more_of_its_tenant,
    held_deliveries_released_into_a_busy_listener_share_it,
);
