//! `/metrics` through a delivery, a failure and an evaluation: the text passes the real
//! `promtool check metrics`, the counters moved by the right amounts, and every metric the
//! Grafana dashboard queries exists. Its own test binary (its own process), so that no
//! other test moves the process-wide counters; one test function, so both backends run
//! one after the other.

#[allow(dead_code, unused_macros)]
#[path = "../api/helpers.rs"]
mod helpers;

#[allow(dead_code)]
#[path = "../api/moto.rs"]
mod moto;

mod binary;
mod logs;
mod proxy;
mod traces;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::process::{Command, Stdio};

use chrono::Duration;
use helpers::{spawn_app_with, Backend, TestApp, TestReceiver};
use serde_json::json;

type Samples = HashMap<String, f64>;

/// Parses the exposition text with a Prometheus text-format parser; keys are
/// `name{label="value",…}` with labels sorted.
fn parse(text: &str) -> Samples {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition format");
    let mut samples = HashMap::new();
    for s in scrape.samples {
        let mut labels: Vec<_> = s
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        labels.sort();
        let value = match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.iter().map(|b| b.count).fold(0.0, f64::max)
            }
            prometheus_parse::Value::Summary(_) => continue,
        };
        samples.insert(format!("{}{{{}}}", s.metric, labels.join(",")), value);
    }
    samples
}

fn value(samples: &Samples, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let r = app
        .http
        .get(format!("{}/metrics", app.metrics_base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test.sh installs Debian's prometheus package)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn run(backend: Backend) -> String {
    let app = spawn_app_with(backend, |_| {}).await;
    let for_app = |s: &str| format!("{s}-{}", uuid::Uuid::new_v4().simple());
    let (tenant, app_id) = (for_app("tenant"), for_app("app"));
    let receiver = TestReceiver::start(None).await;
    receiver.then(&[200, 503, 404]);
    app.create_tenant(&tenant, "production").await;
    let key = app.create_app(&app_id).await;
    app.install(&tenant, &app_id).await;
    let webhook = app
        .create_webhook(
            &app_id,
            &key,
            &receiver.url(),
            json!({"retry_policy": "bindbee"}),
        )
        .await;
    let webhook_id = webhook["id"].as_str().unwrap();
    let before = parse(&scrape(&app).await);

    for n in 0..3 {
        let r = app
            .publish(json!({"type": "a.b", "tenant_id": tenant, "data": {"n": n}}))
            .await;
        assert_eq!(r.status, 202);
    }
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 3);
    app.clock.advance(Duration::minutes(30));
    app.evaluator.tick().await.unwrap();
    // One more event, left due: the queue shows it.
    app.publish(json!({"type": "a.b", "tenant_id": tenant}))
        .await;

    let text = scrape(&app).await;
    promtool_check(&text);
    let after = parse(&text);
    let delta = |key: &str| value(&after, key) - value(&before, key);
    let attempts = |outcome: &str| {
        format!("hookgate_attempts_total{{app_id=\"{app_id}\",outcome=\"{outcome}\",webhook_id=\"{webhook_id}\"}}")
    };
    assert_eq!(delta("hookgate_events_published_total{}"), 4.0);
    assert!(
        text.lines().any(|l| l.starts_with("hookgate_webhook_concurrency_limit{")
            && l.contains(webhook_id)),
        "the webhook's adaptive limit is exposed"
    );
    assert_eq!(
        delta(&format!(
            "hookgate_deliveries_created_total{{app_id=\"{app_id}\"}}"
        )),
        4.0
    );
    assert_eq!(delta(&attempts("success")), 1.0);
    assert_eq!(delta(&attempts("http_5xx")), 1.0);
    assert_eq!(delta(&attempts("http_4xx")), 1.0);
    assert_eq!(
        delta(&format!(
            "hookgate_deliveries_failed_total{{app_id=\"{app_id}\",webhook_id=\"{webhook_id}\"}}"
        )),
        2.0,
        "bindbee does not retry an HTTP status"
    );
    assert_eq!(
        delta(&format!(
            "hookgate_attempt_duration_seconds_count{{app_id=\"{app_id}\"}}"
        )),
        3.0
    );
    assert_eq!(delta("hookgate_health_evaluations_total{}"), 1.0);
    let health = |state: &str| {
        format!("hookgate_webhook_health_state{{app_id=\"{app_id}\",state=\"{state}\",webhook_id=\"{webhook_id}\"}}")
    };
    assert_eq!(value(&after, &health("healthy")), 1.0);
    assert_eq!(value(&after, &health("unavailable")), 0.0);
    let rate = value(
        &after,
        &format!(
            "hookgate_webhook_failure_rate{{app_id=\"{app_id}\",webhook_id=\"{webhook_id}\"}}"
        ),
    );
    assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{rate}");
    assert_eq!(
        value(&after, "hookgate_queue_deliveries{state=\"due\"}"),
        1.0
    );
    assert_eq!(
        delta("hookgate_http_requests_total{method=\"POST\",route=\"/v1/events\",status=\"202\"}"),
        4.0
    );

    for probe in ["/healthz", "/readyz"] {
        let r = app
            .http
            .get(format!("{}{probe}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{probe}");
    }
    text
}

/// Metric families named in the dashboard's PromQL.
fn dashboard_metrics() -> BTreeSet<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/grafana/dashboards/hookgate.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut names = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel {} has a query", panel["title"]);
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            for (i, _) in expr.match_indices("hookgate_") {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name);
            }
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_count_right_and_feed_the_dashboard() {
    run(Backend::Sqlite).await;
    let text = run(Backend::Postgres).await;

    // Series names as exposed, histogram `_bucket`/`_sum`/`_count` included.
    let exposed: BTreeSet<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect();
    let wanted = dashboard_metrics();
    assert!(wanted.len() >= 10, "{wanted:?}");
    let missing: Vec<_> = wanted.iter().filter(|m| !exposed.contains(*m)).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics the gateway does not expose: {missing:?}"
    );
}
