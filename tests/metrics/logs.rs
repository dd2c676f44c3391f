//! Structured logs from the real binary: one JSON line per attempt with the delivery,
//! webhook, app and tenant ids, the outcome and the latency; nothing secret anywhere.

use std::time::Duration;

use serde_json::{json, Value};

use crate::binary::Gateway;
use crate::helpers::{reply, TestReceiver, PLATFORM_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_ids_and_no_secrets() {
    let mut gateway = Gateway::start(&[]);
    let base = gateway.base.clone();
    let http = reqwest::Client::new();
    let call = |path: &str, key: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let receiver = TestReceiver::start(None).await;
    reply(
        call(
            "/v1/tenants",
            PLATFORM_KEY,
            json!({"id": "acme", "name": "Acme", "environment": "production"}),
        )
        .await
        .unwrap(),
    )
    .await;
    let app = reply(
        call(
            "/v1/apps",
            PLATFORM_KEY,
            json!({"id": "bob", "name": "Bob"}),
        )
        .await
        .unwrap(),
    )
    .await;
    let partner_key = app.body["partner_key"].as_str().unwrap().to_string();
    reply(
        call(
            "/v1/installations",
            PLATFORM_KEY,
            json!({"tenant_id": "acme", "app_id": "bob"}),
        )
        .await
        .unwrap(),
    )
    .await;
    let webhook = reply(
        call(
            "/v1/apps/bob/webhooks",
            &partner_key,
            json!({"url": receiver.url()}),
        )
        .await
        .unwrap(),
    )
    .await;
    let secret = webhook.body["secret"].as_str().unwrap().to_string();
    let marker = "payload-marker-that-must-not-be-logged";
    let r = call(
        "/v1/events",
        PLATFORM_KEY,
        json!({"type": "a.b", "tenant_id": "acme", "data": {"m": marker}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    let signature = got[0].header("webhook-signature").to_string();

    // Stop it (SIGTERM) and collect the rest of the log.
    gateway.stop();
    let log = &gateway.log;

    let attempts: Vec<Value> = log
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["fields"]["message"] == "delivery attempt")
        .collect();
    assert_eq!(attempts.len(), 1, "one line per attempt");
    let line = &attempts[0];
    assert_eq!(line["fields"]["outcome"], "success");
    assert!(line["fields"]["latency_ms"].is_u64());
    let span = &line["span"];
    assert_eq!(span["delivery_id"], got[0].header("webhook-id"));
    assert_eq!(span["webhook_id"], webhook.body["id"]);
    assert_eq!(span["app_id"], "bob");
    assert_eq!(span["tenant_id"], "acme");

    let whole = log.join("\n");
    for (what, secret) in [
        ("platform key", PLATFORM_KEY),
        ("partner key", partner_key.as_str()),
        ("webhook secret", secret.as_str()),
        ("signature", signature.as_str()),
        ("payload", marker),
    ] {
        assert!(!whole.contains(secret), "the {what} appears in the logs");
    }
}
