//! The SSRF guard works at connect time: a name that resolves to a private address is
//! refused when the delivery is sent, not only when the webhook is saved.

use hookgate::delivery::retry::AttemptClass;
use serde_json::json;

use crate::helpers::{spawn_app_with, Backend, TestReceiver};

async fn setup(
    backend: Backend,
    allow_private: bool,
) -> (crate::helpers::TestApp, TestReceiver, String) {
    let app = spawn_app_with(backend, |s| {
        s.allow_private_targets = allow_private;
        s.dns_overrides = vec!["receiver.hookgate.test=127.0.0.1".into()];
    })
    .await;
    let receiver = TestReceiver::start(None).await;
    let url = format!(
        "http://receiver.hookgate.test:{}/hooks",
        receiver.addr.port()
    );
    let (_, webhook) = app.partner_setup(&url, json!({})).await;
    (app, receiver, webhook["id"].as_str().unwrap().to_string())
}

async fn a_name_resolving_to_loopback_is_refused_at_send_time(backend: Backend) {
    let (app, receiver, webhook_id) = setup(backend, false).await;
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);
    let attempt = &app.attempts(&webhook_id).await[0];
    assert_eq!(attempt.outcome, AttemptClass::Connect);
    let error = attempt.error.as_deref().unwrap();
    assert!(error.contains("refused"), "{error}");
    assert!(
        receiver.received().is_empty(),
        "nothing reached the private address"
    );
}

async fn the_same_name_is_delivered_when_private_targets_are_allowed(backend: Backend) {
    let (app, receiver, webhook_id) = setup(backend, true).await;
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    app.dispatcher.run_once().await.unwrap();
    assert_eq!(
        app.attempts(&webhook_id).await[0].outcome,
        AttemptClass::Success
    );
    assert_eq!(receiver.received().len(), 1);
}

async fn redirects_are_not_followed(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let receiver = TestReceiver::start(None).await;
    receiver.then(&[301]);
    let (_, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    app.dispatcher.run_once().await.unwrap();
    let attempt = &app.attempts(webhook["id"].as_str().unwrap()).await[0];
    assert_eq!(attempt.outcome, AttemptClass::HttpError);
    assert_eq!(attempt.status_code, Some(301));
    assert_eq!(receiver.received().len(), 1);
}

/// Port 0 and IPv6 literals that embed a loopback or metadata IPv4 address are refused
/// on create and on update (422), and nothing is stored.
async fn port_zero_and_embedded_private_addresses_are_refused_at_registration(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.allow_private_targets = false).await;
    let (key, webhook) = app
        .partner_setup("https://hooks.example.com/bob", json!({}))
        .await;
    let path = format!(
        "/v1/apps/bob-app/webhooks/{}",
        webhook["id"].as_str().unwrap()
    );
    for url in [
        "https://example.com:0/",
        "https://[::127.0.0.1]/",
        "https://[64:ff9b::7f00:1]/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://[2002:7f00:1::]/",
        "https://100.64.0.1/",
        "https://[fec0::1]/",
    ] {
        let created = app
            .call(
                reqwest::Method::POST,
                "/v1/apps/bob-app/webhooks",
                Some(&key),
                Some(json!({ "url": url })),
            )
            .await;
        assert_eq!(created.status, 422, "{url}: {}", created.body);
        let patched = app
            .call(
                reqwest::Method::PATCH,
                &path,
                Some(&key),
                Some(json!({ "url": url })),
            )
            .await;
        assert_eq!(patched.status, 422, "{url}: {}", patched.body);
    }
    let listed = app.get("/v1/apps/bob-app/webhooks", &key).await;
    let urls: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, ["https://hooks.example.com/bob"], "nothing stored");
}

on_both_backends!(
    a_name_resolving_to_loopback_is_refused_at_send_time,
    the_same_name_is_delivered_when_private_targets_are_allowed,
    redirects_are_not_followed,
    port_zero_and_embedded_private_addresses_are_refused_at_registration,
);
