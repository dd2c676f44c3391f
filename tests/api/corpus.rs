//! The hostile-request corpus (`tests/corpus/hostile.jsonl`): every request must be
//! refused with a 4xx and a JSON error, none may be a 5xx, and together they change no row.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, PLATFORM_KEY};

const CORPUS: &str = include_str!("../corpus/hostile.jsonl");

async fn hostile_corpus_is_refused_without_change(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.allow_insecure_targets = false;
        s.allow_private_targets = false;
        // OAuth on, with an issuer nobody answers at: the corpus's tokens must be refused
        // before any key is fetched.
        s.oauth_issuer = Some("http://127.0.0.1:9".into());
    })
    .await;
    app.create_tenant("acme", "production").await;
    let bob = app.create_app("bob").await;
    let eve = app.create_app("eve").await;
    app.install("acme", "bob").await;
    let webhook = app
        .create_webhook("bob", &bob, "https://hooks.example.com/bob", json!({}))
        .await;
    let webhook_id = webhook["id"].as_str().unwrap().to_string();
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    let delivery_id = app
        .store
        .list_deliveries(&webhook_id, &hookgate::store::DeliveryFilter::latest(1))
        .await
        .unwrap()[0]
        .id
        .clone();

    let destination = app
        .platform_post(
            "/v1/apps/bob/notification-destinations",
            json!({"type": "sqs", "queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/bob"}),
        )
        .await;
    assert_eq!(destination.status, 201, "{}", destination.body);
    let destination_id = destination.body["id"].as_str().unwrap().to_string();

    let fill = |s: &str| {
        s.replace("{app}", "bob")
            .replace("{destination}", &destination_id)
            .replace("{other_app}", "eve")
            .replace("{webhook}", &webhook_id)
            .replace("{delivery}", &delivery_id)
    };
    let cases: Vec<Value> = CORPUS
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(cases.len() >= 100, "the corpus holds at least 100 requests");

    let before = app.snapshot().await;
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let method = Method::from_bytes(case["method"].as_str().unwrap().as_bytes()).unwrap();
        let mut req = app.http.request(
            method,
            format!("{}{}", app.base, fill(case["path"].as_str().unwrap())),
        );
        let authorization = match case["key"].as_str().unwrap() {
            "platform" => Some(format!("Bearer {PLATFORM_KEY}")),
            "partner" => Some(format!("Bearer {bob}")),
            "other" => Some(format!("Bearer {eve}")),
            "none" => None,
            raw => Some(raw.to_string()),
        };
        if let Some(value) = authorization {
            req = req.header("authorization", value);
        }
        if let Some(headers) = case["headers"].as_object() {
            for (k, v) in headers {
                req = req.header(k, v.as_str().unwrap());
            }
        }
        let body = match (&case["body"], &case["repeat"]) {
            (Value::String(b), _) => Some(b.clone()),
            (_, Value::Object(r)) => Some(format!(
                "{}{}{}",
                r["prefix"].as_str().unwrap(),
                r["fill"]
                    .as_str()
                    .unwrap()
                    .repeat(r["count"].as_u64().unwrap() as usize),
                r["suffix"].as_str().unwrap()
            )),
            _ => None,
        };
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json: Option<Value> = serde_json::from_str(&text).ok();
        let has_error = json
            .as_ref()
            .is_some_and(|j| j["error"]["code"].is_string() && j["error"]["message"].is_string());
        if !(400..500).contains(&status) || !has_error {
            failures.push(format!(
                "{name}: {status} {}",
                text.chars().take(200).collect::<String>()
            ));
        }
    }
    // Made-up methods and unmatched paths made no series of their own.
    let metrics = app
        .http
        .get(format!("{}/metrics", app.metrics_base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for made_up in ["M00001X", "M00002X", "BREW", "label-probe"] {
        assert!(
            !metrics.contains(made_up),
            "{made_up} is a label of /metrics"
        );
    }
    assert!(
        metrics.contains(r#"method="other""#),
        "made-up methods are counted as other"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases misbehaved:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused request changed something"
    );
}

on_both_backends!(hostile_corpus_is_refused_without_change);
