//! Structured logs from the real binary: one JSON line per attempt with the delivery,
//! webhook, app and tenant ids, the outcome and the latency; nothing secret anywhere.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{reply, TestReceiver, PLATFORM_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_ids_and_no_secrets() {
    let db = std::env::temp_dir().join(format!(
        "hookgate-logs-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .arg("serve")
        .env("HOOKGATE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("HOOKGATE_LISTEN", "127.0.0.1:0")
        .env(
            "HOOKGATE_DATABASE_URL",
            format!("sqlite://{}", db.display()),
        )
        .env("HOOKGATE_PLATFORM_KEY", PLATFORM_KEY)
        .env("HOOKGATE_ALLOW_INSECURE_TARGETS", "true")
        .env("HOOKGATE_ALLOW_PRIVATE_TARGETS", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut log: Vec<String> = Vec::new();
    let addr = loop {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the gateway starts");
        let parsed: Value = serde_json::from_str(&line).expect("every log line is JSON");
        log.push(line);
        if parsed["fields"]["message"] == "hookgate listening" {
            break parsed["fields"]["addr"].as_str().unwrap().to_string();
        }
    };
    let base = format!("http://{addr}");
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
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "a graceful shutdown exits 0: {status:?}");
    log.extend(lines_rx.try_iter());
    let _ = std::fs::remove_file(&db);

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
