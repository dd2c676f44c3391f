//! What a listener receives: a signed POST that verifies with the public Standard
//! Webhooks library and carries the tenant and installation.

use std::time::Duration;

use hookgate::model::DeliveryState;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Backend, TestReceiver};

async fn delivery_is_signed_and_carries_its_tenant(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = app
        .partner_setup(
            &receiver.url(),
            json!({"headers": {"X-Partner-Token": "abc"}}),
        )
        .await;
    let secret = webhook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    let installation = app.installation_id("acme", None).await;

    let r = app
        .publish(json!({
            "id": "evt_1", "type": "employee.created", "tenant_id": "acme",
            "occurred_at": "2026-11-24T10:00:00Z", "data": {"employee_id": 42, "name": "Zoë"}
        }))
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.body["deliveries"], 1);
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);

    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    let verifier = standardwebhooks::Webhook::new(secret).unwrap();
    verifier
        .verify(&req.body, &req.headers)
        .expect("signature verifies");
    assert_eq!(req.header("content-type"), "application/json");
    assert_eq!(req.header("x-partner-token"), "abc");
    assert_eq!(
        req.json(),
        json!({
            "id": "evt_1",
            "type": "employee.created",
            "occurred_at": "2026-11-24T10:00:00.000Z",
            "tenant": {"id": "acme", "name": "acme Inc."},
            "installation_id": installation,
            "app_id": "bob-app",
            "webhook_id": webhook["id"],
            "data": {"employee_id": 42, "name": "Zoë"},
        })
    );
    let delivery = app.delivery(req.header("webhook-id")).await;
    assert_eq!(delivery.state, DeliveryState::Delivered);
    assert_eq!(delivery.event_id, "evt_1");

    // A tampered body does not verify.
    let mut tampered = req.body.to_vec();
    tampered.extend_from_slice(b" ");
    assert!(verifier.verify(&tampered, &req.headers).is_err());
}

async fn attempts_are_logged_with_status_latency_and_excerpt(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    receiver.then(&[500]);
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let webhook_id = webhook["id"].as_str().unwrap();
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    app.dispatcher.run_once().await.unwrap();

    let r = app
        .get(
            &format!("/v1/apps/bob-app/webhooks/{webhook_id}/attempts"),
            &key,
        )
        .await;
    assert_eq!(r.status, 200);
    let attempt = &r.body["data"][0];
    assert_eq!(attempt["outcome"], "http_error");
    assert_eq!(attempt["status_code"], 500);
    assert_eq!(attempt["attempt_number"], 1);
    assert!(attempt["latency_ms"].as_i64().unwrap() >= 0);
    assert!(attempt["response_excerpt"].is_string());

    let r = app
        .get(
            &format!("/v1/apps/bob-app/webhooks/{webhook_id}/deliveries"),
            &key,
        )
        .await;
    assert_eq!(r.body["data"][0]["state"], "pending");
    assert_eq!(r.body["data"][0]["attempt_count"], 1);
    assert!(r.body["data"][0]["next_attempt_at"].is_string());
}

/// With the real clock and the workers running, a new event is attempted at once: the
/// idle poll is set to a minute, so only the publish's wake-up can explain a quick send.
async fn new_deliveries_wake_the_dispatcher(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.dispatcher = true;
        s.idle_poll = Duration::from_secs(60);
    })
    .await;
    let receiver = TestReceiver::start(None).await;
    app.partner_setup(&receiver.url(), json!({})).await;
    // Let the workers reach their idle wait first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for n in 0..3 {
        let r = app
            .publish(json!({"type": "a.b", "tenant_id": "acme", "data": {"n": n}}))
            .await;
        assert_eq!(r.status, 202);
    }
    let got = receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(
        got.len(),
        3,
        "every event reached the listener without waiting for a poll"
    );
}

on_both_backends!(
    delivery_is_signed_and_carries_its_tenant,
    attempts_are_logged_with_status_latency_and_excerpt,
    new_deliveries_wake_the_dispatcher,
);
