//! Prometheus metrics. Names follow Prometheus conventions (`_total`, `_seconds`, base
//! units); labels are bounded: app and webhook ids, never tenants or URLs.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::delivery::retry::AttemptClass;
use crate::health::rules::{Severity, Status};

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
pub const PRUNED: &str = "hookgate_pruned_rows_total";
pub const HTTP_REQUESTS: &str = "hookgate_http_requests_total";
pub const HTTP_DURATION: &str = "hookgate_http_request_duration_seconds";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

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
    describe_gauge!(
        WEBHOOK_HEALTH,
        "1 for the webhook's current health state (healthy, unavailable, deactivated)."
    );
    describe_gauge!(
        WEBHOOK_FAILURE_RATE,
        "Failure rate of the webhook's attempts in the last evaluation window (0 to 1)."
    );
    describe_gauge!(
        CONCURRENCY_LIMIT,
        "This instance's adaptive limit of attempts in flight to the webhook."
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
        "Partner notifications published to SQS, by severity."
    );
    describe_gauge!(OUTBOX_BACKLOG, "Notifications waiting in the outbox.");
    describe_counter!(
        SQS_PUBLISH_ERRORS,
        "Failed attempts to publish a notification to SQS."
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
    for name in [EVENTS_PUBLISHED, EVALUATIONS, SQS_PUBLISH_ERRORS] {
        counter!(name).increment(0);
    }
    for severity in [
        Severity::Warning,
        Severity::Deactivation,
        Severity::Recovered,
    ] {
        counter!(NOTIFICATIONS, "severity" => severity.as_str()).increment(0);
        counter!(NOTIFICATIONS_PUBLISHED, "severity" => severity.as_str()).increment(0);
    }
    record_pruned(&crate::store::Pruned::default());
    record_queue(&QueueStats::default());
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

pub fn record_health(app_id: &str, webhook_id: &str, status: Status, failure_rate: Option<f64>) {
    for s in [Status::Healthy, Status::Unavailable, Status::Deactivated] {
        let value = if s == status { 1.0 } else { 0.0 };
        gauge!(WEBHOOK_HEALTH, "app_id" => app_id.to_string(), "webhook_id" => webhook_id.to_string(), "state" => s.as_str())
            .set(value);
    }
    if let Some(rate) = failure_rate {
        gauge!(WEBHOOK_FAILURE_RATE, "app_id" => app_id.to_string(), "webhook_id" => webhook_id.to_string()).set(rate);
    }
}

pub fn record_concurrency_limit(app_id: &str, webhook_id: &str, limit: usize) {
    gauge!(CONCURRENCY_LIMIT, "app_id" => app_id.to_string(), "webhook_id" => webhook_id.to_string())
        .set(limit as f64);
}

pub fn record_notification(severity: Severity) {
    counter!(NOTIFICATIONS, "severity" => severity.as_str()).increment(1);
}

pub fn record_pruned(pruned: &crate::store::Pruned) {
    for (table, n) in [
        ("attempts", pruned.attempts),
        ("deliveries", pruned.deliveries),
        ("events", pruned.events),
        ("notifications", pruned.notifications),
    ] {
        counter!(PRUNED, "table" => table).increment(n);
    }
}

/// Queue figures, read from the store when `/metrics` is scraped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub due: i64,
    pub scheduled: i64,
    pub in_flight: i64,
    pub held: i64,
    pub oldest_due_age_ms: i64,
    pub outbox_backlog: i64,
}

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
}

#[cfg(test)]
mod tests {
    use super::*;

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
