//! Prometheus metrics. Names follow Prometheus conventions (`_total`, `_seconds`, base
//! units); labels are bounded: app and webhook ids, never tenants or URLs.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;

use crate::domain::health::{Severity, Status};
use crate::domain::retry::AttemptClass;

pub const EVENTS_PUBLISHED: &str = "hookgate_events_published_total";
pub const DELIVERIES_CREATED: &str = "hookgate_deliveries_created_total";
pub const ATTEMPTS: &str = "hookgate_attempts_total";
pub const ATTEMPT_DURATION: &str = "hookgate_attempt_duration_seconds";
pub const DELIVERIES_FAILED: &str = "hookgate_deliveries_failed_total";
pub const QUEUE_DELIVERIES: &str = "hookgate_queue_deliveries";
pub const QUEUE_OLDEST_DUE_AGE: &str = "hookgate_queue_oldest_due_age_seconds";
pub const WEBHOOK_HEALTH: &str = "hookgate_webhook_health_state";
pub const WEBHOOK_FAILURE_RATE: &str = "hookgate_webhook_failure_rate";
pub const CONCURRENCY_LIMIT: &str = "hookgate_webhook_concurrency_limit";
pub const EVALUATIONS: &str = "hookgate_health_evaluations_total";
pub const EVALUATION_DURATION: &str = "hookgate_health_evaluation_duration_seconds";
pub const NOTIFICATIONS: &str = "hookgate_notifications_total";
pub const NOTIFICATIONS_PUBLISHED: &str = "hookgate_notifications_published_total";
pub const OUTBOX_BACKLOG: &str = "hookgate_notification_outbox_backlog";
pub const SQS_PUBLISH_ERRORS: &str = "hookgate_sqs_publish_errors_total";
pub const STS_ERRORS: &str = "hookgate_sts_errors_total";
pub const NOTIFICATION_SENDS: &str = "hookgate_notification_sends_total";
pub const OUTBOX_OLDEST_AGE: &str = "hookgate_notification_outbox_oldest_pending_age_seconds";
pub const FAILING_DESTINATIONS: &str = "hookgate_notification_destinations_failing";
pub const PRUNED: &str = "hookgate_pruned_rows_total";
pub const OWNED_WEBHOOKS: &str = "hookgate_instance_owned_webhooks";
pub const HTTP_REQUESTS: &str = "hookgate_http_requests_total";
pub const HTTP_DURATION: &str = "hookgate_http_request_duration_seconds";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How long a series may go without an update before it is dropped: past the longest
/// gap of the default retry schedule (80 minutes), so a retrying webhook keeps its series.
pub const SERIES_IDLE_TIMEOUT: Duration = Duration::from_secs(2 * 3600);

/// Installs the process-wide recorder once and returns its handle.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[
                        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    ],
                )
                .expect("bucket list is not empty")
                // Series not updated for this long are dropped (a deleted webhook's, a
                // listener's with no traffic): per-webhook series follow the webhooks in
                // use. The fixed series are kept alive by `keep_fixed_series`.
                .idle_timeout(MetricKindMask::ALL, Some(SERIES_IDLE_TIMEOUT))
                .install_recorder()
                .expect("no other metrics recorder is installed");
            describe();
            initialise();
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(
        EVENTS_PUBLISHED,
        "Events accepted by POST /v1/events (replays excluded)."
    );
    describe_counter!(
        DELIVERIES_CREATED,
        "Deliveries created by fan-out, per app."
    );
    describe_counter!(
        ATTEMPTS,
        "Delivery attempts by outcome: success, http_4xx, http_5xx, timeout, connect, aborted, other."
    );
    describe_histogram!(
        ATTEMPT_DURATION,
        Unit::Seconds,
        "Time from sending an attempt to its answer."
    );
    describe_counter!(
        DELIVERIES_FAILED,
        "Deliveries that failed for good (out of retries, or not retryable)."
    );
    describe_gauge!(
        QUEUE_DELIVERIES,
        "Deliveries by queue state: due, scheduled (a retry later), in_flight, held."
    );
    describe_gauge!(
        QUEUE_OLDEST_DUE_AGE,
        Unit::Seconds,
        "How long the oldest due delivery has been waiting."
    );
    describe_counter!(EVALUATIONS, "Health evaluations run by this instance.");
    describe_histogram!(
        EVALUATION_DURATION,
        Unit::Seconds,
        "Duration of a health evaluation."
    );
    describe_counter!(NOTIFICATIONS, "Partner notifications created, by severity.");
    describe_counter!(
        NOTIFICATIONS_PUBLISHED,
        "Notification sends that succeeded (one per destination reached), by severity."
    );
    describe_gauge!(
        OUTBOX_BACKLOG,
        "Outbox rows (one per notification and destination) not sent yet."
    );
    describe_gauge!(
        OUTBOX_OLDEST_AGE,
        Unit::Seconds,
        "How long ago the oldest outbox row not sent yet was created."
    );
    describe_gauge!(
        FAILING_DESTINATIONS,
        "Notification destinations whose last send failed."
    );
    describe_counter!(
        NOTIFICATION_SENDS,
        "Notification sends by destination type (sqs, https, platform) and outcome (sent, failed, expired)."
    );
    describe_counter!(
        SQS_PUBLISH_ERRORS,
        "Failed attempts to publish a notification to SQS."
    );
    describe_counter!(
        STS_ERRORS,
        "Failed attempts to assume a partner's role through STS."
    );
    describe_gauge!(
        OWNED_WEBHOOKS,
        "Webhooks whose listener lease this instance holds (PostgreSQL; SQLite owns all)."
    );
    describe_counter!(
        PRUNED,
        "Rows deleted by retention, by table: attempts, deliveries, events, notifications."
    );
    describe_counter!(
        HTTP_REQUESTS,
        "API requests by method, route template and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "API request duration by method and route template."
    );
}

/// Series without per-app labels exist from the start, at zero, so dashboards and alerts
/// see them before the first event.
fn initialise() {
    keep_fixed_series();
    record_queue(&QueueStats::default());
}

/// Touches the series without per-app labels, so that the idle timeout never drops them
/// (called at start and by the upkeep loop).
pub fn keep_fixed_series() {
    for name in [
        EVENTS_PUBLISHED,
        EVALUATIONS,
        SQS_PUBLISH_ERRORS,
        STS_ERRORS,
    ] {
        counter!(name).increment(0);
    }
    for destination in ["sqs", "https", "platform"] {
        for outcome in ["sent", "failed", "expired"] {
            counter!(NOTIFICATION_SENDS, "destination" => destination, "outcome" => outcome)
                .increment(0);
        }
    }
    for severity in [
        Severity::Warning,
        Severity::Deactivation,
        Severity::Recovered,
    ] {
        counter!(NOTIFICATIONS, "severity" => severity.as_str()).increment(0);
        counter!(NOTIFICATIONS_PUBLISHED, "severity" => severity.as_str()).increment(0);
    }
    record_pruned(&crate::domain::stats::Pruned::default());
}

/// How many webhooks this instance owns, after each heartbeat.
pub fn set_owned_webhooks(n: usize) {
    gauge!(OWNED_WEBHOOKS).set(n as f64);
}

/// The outcome label of an attempt.
pub fn outcome_label(class: AttemptClass, status: Option<u16>) -> &'static str {
    match (class, status) {
        (AttemptClass::Success, _) => "success",
        (AttemptClass::HttpError, Some(400..=499)) => "http_4xx",
        (AttemptClass::HttpError, Some(500..=599)) => "http_5xx",
        (AttemptClass::Timeout, _) => "timeout",
        (AttemptClass::Connect, _) => "connect",
        (AttemptClass::Aborted, _) => "aborted",
        _ => "other",
    }
}

pub fn record_attempt(
    app_id: &str,
    webhook_id: &str,
    class: AttemptClass,
    status: Option<u16>,
    latency: Duration,
) {
    let outcome = outcome_label(class, status);
    counter!(ATTEMPTS, "app_id" => app_id.to_string(), "webhook_id" => webhook_id.to_string(), "outcome" => outcome)
        .increment(1);
    histogram!(ATTEMPT_DURATION, "app_id" => app_id.to_string()).record(latency.as_secs_f64());
}

pub fn record_failed_for_good(app_id: &str, webhook_id: &str) {
    counter!(DELIVERIES_FAILED, "app_id" => app_id.to_string(), "webhook_id" => webhook_id.to_string()).increment(1);
}

/// The health series of every webhook that exists now, rendered from the database's
/// figures at scrape time (not kept in the recorder: a deleted webhook's series end with
/// it).
pub fn render_health(webhooks: &[(String, String, Status, Option<f64>)]) -> String {
    let states = [Status::Healthy, Status::Unavailable, Status::Deactivated];
    let mut text = webhook_gauge(
        WEBHOOK_HEALTH,
        "1 for the webhook's current health state (healthy, unavailable, deactivated).",
        webhooks.iter().flat_map(|(app_id, webhook_id, status, _)| {
            states.iter().map(move |s| {
                let state = format!(",state=\"{}\"", s.as_str());
                (
                    app_id.as_str(),
                    webhook_id.as_str(),
                    state,
                    u8::from(s == status).to_string(),
                )
            })
        }),
    );
    text.push_str(&webhook_gauge(
        WEBHOOK_FAILURE_RATE,
        "Failure rate of the webhook's attempts in the last evaluation window (0 to 1).",
        webhooks.iter().filter_map(|(app_id, webhook_id, _, rate)| {
            rate.map(|r| {
                (
                    app_id.as_str(),
                    webhook_id.as_str(),
                    String::new(),
                    r.to_string(),
                )
            })
        }),
    ));
    text
}

/// One gauge family of per-webhook series in the exposition format, from
/// (app id, webhook id, further labels, value); nothing when there are none.
fn webhook_gauge<'a>(
    name: &str,
    help: &str,
    series: impl Iterator<Item = (&'a str, &'a str, String, String)>,
) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    for (app_id, webhook_id, labels, value) in series {
        if text.is_empty() {
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge");
        }
        let _ = writeln!(
            text,
            "{name}{{app_id=\"{}\",webhook_id=\"{}\"{labels}}} {value}",
            label_value(app_id),
            label_value(webhook_id)
        );
    }
    text
}

/// A label value as the exposition format escapes it.
fn label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The HTTP method as a label: the standard ones, `other` for any other token (hyper
/// accepts any, and each would otherwise make new series).
pub fn method_label(method: &axum::http::Method) -> &'static str {
    match *method {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// This instance's adaptive limit per webhook, rendered from the dispatcher's state at
/// scrape time (a forgotten webhook has none).
pub fn render_concurrency_limits(limits: &[(String, String, usize)]) -> String {
    webhook_gauge(
        CONCURRENCY_LIMIT,
        "This instance's adaptive limit of attempts in flight to the webhook.",
        limits.iter().map(|(app_id, webhook_id, limit)| {
            (
                app_id.as_str(),
                webhook_id.as_str(),
                String::new(),
                limit.to_string(),
            )
        }),
    )
}

pub fn record_notification(severity: Severity) {
    counter!(NOTIFICATIONS, "severity" => severity.as_str()).increment(1);
}

pub fn record_pruned(pruned: &crate::domain::stats::Pruned) {
    for (table, n) in [
        ("attempts", pruned.attempts),
        ("deliveries", pruned.deliveries),
        ("events", pruned.events),
        ("notifications", pruned.notifications),
    ] {
        counter!(PRUNED, "table" => table).increment(n);
    }
}

pub use crate::domain::stats::QueueStats;

pub fn record_queue(stats: &QueueStats) {
    for (state, n) in [
        ("due", stats.due),
        ("scheduled", stats.scheduled),
        ("in_flight", stats.in_flight),
        ("held", stats.held),
    ] {
        gauge!(QUEUE_DELIVERIES, "state" => state).set(n as f64);
    }
    gauge!(QUEUE_OLDEST_DUE_AGE).set(stats.oldest_due_age_ms as f64 / 1000.0);
    gauge!(OUTBOX_BACKLOG).set(stats.outbox_backlog as f64);
    gauge!(OUTBOX_OLDEST_AGE).set(stats.outbox_oldest_age_ms as f64 / 1000.0);
    gauge!(FAILING_DESTINATIONS).set(stats.failing_destinations as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        assert_eq!(method_label(&axum::http::Method::GET), "GET");
        assert_eq!(method_label(&axum::http::Method::DELETE), "DELETE");
        for made_up in ["M00001X", "BREW", "get"] {
            let method = axum::http::Method::from_bytes(made_up.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{made_up}");
        }
    }

    #[test]
    fn health_series_escape_their_labels_and_name_every_state() {
        let text = render_health(&[
            ("a\"pp".into(), "w1".into(), Status::Unavailable, Some(0.9)),
            ("b".into(), "w2".into(), Status::Healthy, None),
        ]);
        assert!(text.contains(r#"hookgate_webhook_health_state{app_id="a\"pp",webhook_id="w1",state="unavailable"} 1"#), "{text}");
        assert!(text.contains(
            r#"hookgate_webhook_health_state{app_id="b",webhook_id="w2",state="deactivated"} 0"#
        ));
        assert!(
            text.contains(r#"hookgate_webhook_failure_rate{app_id="a\"pp",webhook_id="w1"} 0.9"#)
        );
        assert!(!text.contains("w2\"} "), "no rate without a window");
        assert_eq!(render_health(&[]), "");
    }

    #[test]
    fn outcome_labels_are_the_documented_set() {
        assert_eq!(outcome_label(AttemptClass::Success, Some(204)), "success");
        assert_eq!(
            outcome_label(AttemptClass::HttpError, Some(404)),
            "http_4xx"
        );
        assert_eq!(
            outcome_label(AttemptClass::HttpError, Some(503)),
            "http_5xx"
        );
        assert_eq!(outcome_label(AttemptClass::HttpError, Some(301)), "other");
        assert_eq!(outcome_label(AttemptClass::Timeout, None), "timeout");
        assert_eq!(outcome_label(AttemptClass::Connect, None), "connect");
        assert_eq!(outcome_label(AttemptClass::Network, None), "other");
    }
}
