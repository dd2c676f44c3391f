//! Structured logs from the real binary: one JSON line per attempt with the delivery,
//! webhook, app and tenant ids, the outcome and the latency; nothing secret anywhere.

use std::time::Duration;

use serde_json::{json, Value};

use crate::binary::Gateway;
use crate::helpers::{TestReceiver, PLATFORM_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_ids_and_no_secrets() {
    let mut gateway = Gateway::start(&[]);
    let receiver = TestReceiver::start(None).await;
    gateway.add_tenant().await;
    let partner = gateway.add_partner("bob", &receiver.url()).await;

    let marker = "payload-marker-that-must-not-be-logged";
    let published = gateway
        .post(
            "/v1/events",
            PLATFORM_KEY,
            json!({"type": "a.b", "tenant_id": "acme", "data": {"m": marker}}),
        )
        .await;
    assert_eq!(published.status, 202);
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
    assert_eq!(span["webhook_id"], partner.webhook_id.as_str());
    assert_eq!(span["app_id"], "bob");
    assert_eq!(span["tenant_id"], "acme");

    let whole = log.join("\n");
    for (what, secret) in [
        ("platform key", PLATFORM_KEY),
        ("partner key", partner.key.as_str()),
        ("webhook secret", partner.secret.as_str()),
        ("signature", signature.as_str()),
        ("payload", marker),
    ] {
        assert!(!whole.contains(secret), "the {what} appears in the logs");
    }
}
