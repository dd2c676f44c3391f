//! OpenTelemetry traces from the real binary to a real OTLP/HTTP receiver in the test,
//! decoded with the `opentelemetry-proto` types: a publish sent with a `traceparent`
//! continues the caller's trace; each attempt of its deliveries links to the publish and
//! sends its own `traceparent` to the listener; an evaluation has its span, and so has
//! the publish of a notification to SQS; no span carries a secret, a payload or a URL's
//! query.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

use crate::binary::Gateway;
use crate::helpers::{fresh_database, Backend, TestReceiver, PLATFORM_KEY};
use crate::moto::MotoServer;

type Spans = Arc<Mutex<Vec<Span>>>;

/// An OTLP/HTTP traces endpoint (`POST /v1/traces`, protobuf) that keeps every span.
async fn otlp_receiver() -> (String, Spans) {
    let spans: Spans = Arc::default();
    let kept = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let mut kept = kept.lock().unwrap();
                for resource in request.resource_spans {
                    for scope in resource.scope_spans {
                        kept.extend(scope.spans);
                    }
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), spans)
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            AnyValue::StringValue(s) => s.clone(),
            AnyValue::IntValue(i) => i.to_string(),
            AnyValue::BoolValue(b) => b.to_string(),
            AnyValue::DoubleValue(d) => d.to_string(),
            other => format!("{other:?}"),
        })
}

/// Waits (at most 20 s) until the names of the spans received so far satisfy `done`.
async fn wait_for_spans(spans: &Spans, done: impl Fn(&[String]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let names: Vec<String> = spans
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.name.clone())
            .collect();
        if done(&names) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "spans so far: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// On both backends: the publish's context is stored with the event and read back by
/// the claim (or handed over by the fast path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_is_linked_to_its_attempts_and_no_span_carries_a_secret() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        traced_publish(backend).await;
    }
}

async fn traced_publish(backend: Backend) {
    let (endpoint, spans) = otlp_receiver().await;
    let database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(fresh_database(backend).await),
    };
    let mut env = vec![
        ("HOOKGATE_OTEL_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("HOOKGATE_HEALTH_SCHEDULE", "*/2 * * * * *"),
    ];
    if let Some(url) = &database {
        env.push(("HOOKGATE_DATABASE_URL", url.as_str()));
    }
    let mut gateway = Gateway::start(&env);
    let receiver = TestReceiver::start(None).await;
    let query_secret = "query-secret-0123";
    let listener = format!("{}?token={query_secret}", receiver.url());
    gateway.add_tenant().await;
    let mut secrets = vec![PLATFORM_KEY.to_string(), query_secret.to_string()];
    for app in ["bob", "eve"] {
        let partner = gateway.add_partner(app, &listener).await;
        secrets.extend([partner.key, partner.secret]);
    }

    // The platform publishes within a trace of its own.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let marker = "payload-marker-not-for-traces";
    secrets.push(marker.to_string());
    let published = reqwest::Client::new()
        .post(format!("{}/v1/events", gateway.base))
        .bearer_auth(PLATFORM_KEY)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({"type": "a.b", "tenant_id": "acme", "data": {"m": marker}}))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 202);
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2, "one delivery per app");

    // Spans arrive in batches: wait (bounded) for both attempts and an evaluation.
    wait_for_spans(&spans, |names| {
        names.iter().filter(|n| *n == "attempt").count() >= 2
            && names.iter().any(|n| n == "health.evaluate")
    })
    .await;
    gateway.stop();
    let spans = spans.lock().unwrap().clone();

    // The request continues the caller's trace; the publish is its child.
    let request = spans
        .iter()
        .find(|s| s.name == "POST /v1/events")
        .expect("a span for the publish request");
    assert_eq!(hex(&request.trace_id), trace_id);
    assert_eq!(hex(&request.parent_span_id), caller_span);
    let publish = spans
        .iter()
        .find(|s| s.name == "publish")
        .expect("a publish span");
    assert_eq!(hex(&publish.trace_id), trace_id);
    assert_eq!(publish.parent_span_id, request.span_id);
    assert_eq!(attribute(publish, "tenant_id").as_deref(), Some("acme"));
    assert_eq!(attribute(publish, "deliveries").as_deref(), Some("2"));
    let links_to_publish = |s: &Span| {
        s.links
            .iter()
            .any(|l| l.trace_id == publish.trace_id && l.span_id == publish.span_id)
    };
    assert!(
        spans
            .iter()
            .any(|s| s.name == "publish.transaction" && links_to_publish(s)),
        "the transaction that stored the event links to its publish"
    );

    // Each attempt links to the publish, carries its ids and outcome, and sent its own
    // context to the listener.
    let attempts: Vec<&Span> = spans.iter().filter(|s| s.name == "attempt").collect();
    assert_eq!(attempts.len(), 2);
    for attempt in &attempts {
        assert!(
            links_to_publish(attempt),
            "the attempt links to the publish"
        );
        assert_eq!(attribute(attempt, "tenant_id").as_deref(), Some("acme"));
        assert_eq!(attribute(attempt, "outcome").as_deref(), Some("success"));
        assert_eq!(
            attribute(attempt, "http.response.status_code").as_deref(),
            Some("200")
        );
        let delivery = attribute(attempt, "delivery_id").unwrap();
        let sent = got
            .iter()
            .find(|r| r.header("webhook-id") == delivery)
            .expect("the listener got this attempt");
        assert_eq!(
            sent.header("traceparent"),
            format!("00-{}-{}-01", hex(&attempt.trace_id), hex(&attempt.span_id)),
            "the listener can join the attempt's trace"
        );
    }

    // Nothing secret in any span: keys, webhook secrets, the payload, the URL's query.
    let everything = format!("{spans:?}");
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "{secret} is in a span"
        );
    }
}

/// A listener that fails from the start, with the warning mark compressed to a second:
/// the warning the evaluator writes to the outbox is published to a real SQS server
/// (moto) within a `notification.publish` span that names it. The relay's span does not
/// depend on the backend, so SQLite alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_sent_to_sqs_has_its_span() {
    let (endpoint, spans) = otlp_receiver().await;
    let moto = MotoServer::start().await;
    let queue_url = moto.create_queue("partner-notifications").await;
    let moto_endpoint = moto.endpoint();
    let mut gateway = Gateway::start(&[
        ("HOOKGATE_OTEL_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("HOOKGATE_HEALTH_SCHEDULE", "*/2 * * * * *"),
        ("HOOKGATE_HEALTH_WARN_AFTER", "1s"),
        ("HOOKGATE_SQS_QUEUE_URL", queue_url.as_str()),
        ("HOOKGATE_SQS_ENDPOINT", moto_endpoint.as_str()),
    ]);
    let receiver = TestReceiver::start(None).await;
    receiver.always(500);
    gateway.add_tenant().await;
    let partner = gateway.add_partner("bob", &receiver.url()).await;
    let published = gateway
        .post(
            "/v1/events",
            PLATFORM_KEY,
            json!({"type": "a.b", "tenant_id": "acme", "data": {}}),
        )
        .await;
    assert_eq!(published.status, 202);

    wait_for_spans(&spans, |names| {
        names.iter().any(|n| n == "notification.publish")
    })
    .await;
    gateway.stop();
    let spans = spans.lock().unwrap().clone();
    let messages = moto.drain(&queue_url).await;

    let span = spans
        .iter()
        .find(|s| s.name == "notification.publish")
        .unwrap();
    assert_eq!(attribute(span, "app_id").as_deref(), Some("bob"));
    assert_eq!(
        attribute(span, "webhook_id").as_deref(),
        Some(partner.webhook_id.as_str())
    );
    assert_eq!(attribute(span, "severity").as_deref(), Some("warning"));
    let notification_id = attribute(span, "notification_id").unwrap();
    assert!(
        messages.iter().any(|(body, id)| *id == notification_id
            && body["severity"] == "warning"
            && body["webhook"]["id"] == partner.webhook_id.as_str()),
        "the span names the message on the queue: {messages:?}"
    );
    let everything = format!("{spans:?}");
    for secret in [PLATFORM_KEY, &partner.key, &partner.secret] {
        assert!(!everything.contains(secret), "{secret} is in a span");
    }
}
