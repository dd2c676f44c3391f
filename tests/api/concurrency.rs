//! Adaptive per-listener concurrency: a failing listener gets fewer attempts at once, a
//! busy healthy one more, and a partner's `max_concurrency` is never exceeded. The
//! dispatcher is stepped with `run_once`, so what each claim takes is exact.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp, TestReceiver};

async fn limit_shown(app: &TestApp, key: &str, webhook_id: &str) -> u64 {
    let health = app
        .get(
            &format!("/v1/apps/bob-app/webhooks/{webhook_id}/health"),
            key,
        )
        .await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    health.body["concurrency_limit"].as_u64().unwrap()
}

async fn publish_many(app: &TestApp, n: usize) {
    let events: Vec<Value> = (0..n)
        .map(|i| json!({"type": "a.b", "tenant_id": "acme", "data": {"n": i}}))
        .collect();
    let r = app
        .platform_post("/v1/events/batch", json!({"events": events}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

async fn a_failing_listener_gets_fewer_attempts_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    receiver.always(503);
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let id = webhook["id"].as_str().unwrap();
    assert_eq!(limit_shown(&app, &key, id).await, 16, "the initial limit");
    publish_many(&app, 40).await;

    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 16);
    assert_eq!(
        limit_shown(&app, &key, id).await,
        4,
        "16 answers of 503 bring it to the floor"
    );
    let text = reqwest::get(format!("{}/metrics", app.metrics_base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("hookgate_webhook_concurrency_limit{")
                && l.contains(id)
                && l.ends_with(" 4")),
        "the limit is a metric"
    );

    // The retries of the first 16 and 24 fresh deliveries are due: the claim takes 4.
    app.clock.advance(Duration::minutes(1));
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 4);

    // The listener recovers: successes while busy raise the limit again (answers take
    // 100 ms so that each step's sends are in flight together).
    receiver.always(200);
    receiver.delay(std::time::Duration::from_millis(100));
    for _ in 0..6 {
        app.dispatcher.run_once().await.unwrap();
    }
    assert!(limit_shown(&app, &key, id).await > 4);
}

async fn a_busy_fast_listener_gets_more(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let id = webhook["id"].as_str().unwrap();
    // Answers take 100 ms, so that the 16 sends of a step are surely in flight together
    // when the first answer comes back (a step starts them one after another).
    receiver.delay(std::time::Duration::from_millis(100));
    publish_many(&app, 200).await;
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 16);
    let grown = limit_shown(&app, &key, id).await;
    assert!(grown > 16, "{grown}");
    assert_eq!(
        app.dispatcher.run_once().await.unwrap().len() as u64,
        grown,
        "the next claim takes the new limit"
    );
}

async fn a_partner_maximum_caps_the_claim(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (key, webhook) = app
        .partner_setup(&receiver.url(), json!({"max_concurrency": 3}))
        .await;
    let id = webhook["id"].as_str().unwrap();
    assert_eq!(webhook["max_concurrency"], 3);
    publish_many(&app, 20).await;
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 3);
    assert_eq!(limit_shown(&app, &key, id).await, 3);

    let path = format!("/v1/apps/bob-app/webhooks/{id}");
    for bad in [json!(-1), json!(1001), json!("8")] {
        let r = app
            .call(
                Method::PATCH,
                &path,
                Some(&key),
                Some(json!({ "max_concurrency": bad })),
            )
            .await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.status);
    }
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&key),
            Some(json!({"max_concurrency": 0})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["max_concurrency"], Value::Null, "0 removes it");
}

on_both_backends!(
    a_failing_listener_gets_fewer_attempts_at_once,
    a_busy_fast_listener_gets_more,
    a_partner_maximum_caps_the_claim,
);
