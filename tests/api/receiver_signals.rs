//! Receivers that ask hookgate to stop (`webhook-delivery: abort-message`) or to wait
//! (`Retry-After` on a 429 or 503).

use chrono::{DateTime, Duration, Utc};
use hookgate::clock::Clock;
use hookgate::delivery::retry::AttemptClass;
use hookgate::model::DeliveryState;
use serde_json::json;

use crate::helpers::{spawn_app, Backend, TestApp, TestReceiver};

/// A webhook on `receiver` under the default (hibob) policy, and one event published.
async fn one_delivery(app: &TestApp, receiver: &TestReceiver) -> (String, String) {
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    (key, webhook["id"].as_str().unwrap().to_string())
}

async fn attempt_due(
    app: &TestApp,
    webhook_id: &str,
) -> (
    hookgate::model::Attempt,
    Option<DateTime<Utc>>,
    DeliveryState,
) {
    let attempt = app.attempts(webhook_id).await.pop().expect("an attempt");
    let delivery = app.delivery(&attempt.delivery_id).await;
    (attempt, delivery.next_attempt_at, delivery.state)
}

async fn an_abort_message_fails_the_delivery_at_once_and_is_no_success(backend: Backend) {
    for status in [200u16, 500] {
        let app = spawn_app(backend).await;
        let receiver = TestReceiver::start(Some(app.clock.clone())).await;
        receiver.always(status);
        receiver.answer_headers(&[("webhook-delivery", "abort-message")]);
        let (key, webhook_id) = one_delivery(&app, &receiver).await;
        assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);

        let (attempt, due, state) = attempt_due(&app, &webhook_id).await;
        assert_eq!(attempt.outcome, AttemptClass::Aborted, "{status}");
        assert_eq!(attempt.status_code, Some(i64::from(status)));
        assert!(attempt.error.as_deref().unwrap().contains("abort-message"));
        assert_eq!((state, due), (DeliveryState::Failed, None), "{status}");

        // For health it is a failed attempt, not a success, even when it came with a 200.
        app.evaluator.tick().await.unwrap();
        let path = format!("/v1/apps/bob-app/webhooks/{webhook_id}/health");
        let health = app.get(&path, &key).await.body;
        assert_eq!(health["state"], "unavailable", "{status}: {health}");

        // Nothing more is ever sent for it, under the whole schedule.
        app.clock.advance(Duration::hours(4));
        assert!(app.dispatcher.run_once().await.unwrap().is_empty());
        assert_eq!(receiver.received().len(), 1);

        // The attempt log shows it, and the outcome filter knows it.
        let path = format!("/v1/apps/bob-app/webhooks/{webhook_id}/attempts?outcome=aborted");
        let log = app.get(&path, &key).await;
        assert_eq!(log.status, 200, "{}", log.body);
        assert_eq!(log.body["data"][0]["outcome"], "aborted");
        assert!(log.body["data"][0]["error"]
            .as_str()
            .unwrap()
            .contains("abort-message"));
    }
}

async fn retry_after_delays_the_next_attempt_within_the_policy(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    let (_, webhook_id) = one_delivery(&app, &receiver).await;
    let t0 = app.clock.now();
    let seconds = |s: i64| Duration::seconds(s);

    // 503 asking for 5 minutes, beyond the policy's 1: the retry waits 5 minutes.
    receiver.always(503);
    receiver.answer_headers(&[("retry-after", "300")]);
    app.dispatcher.run_once().await.unwrap();
    let (attempt, due, _) = attempt_due(&app, &webhook_id).await;
    let due = due.unwrap();
    assert!(
        due >= t0 + seconds(300) && due < t0 + seconds(302),
        "{due} vs {t0}"
    );
    assert_eq!(attempt.retry_after_at, Some(due), "recorded in the attempt");
    app.clock.set(t0 + seconds(290));
    assert!(
        app.dispatcher.run_once().await.unwrap().is_empty(),
        "not before it"
    );

    // 429 asking for 1 second: the policy's own next offset (10 minutes) stands.
    app.clock.set(due);
    receiver.always(429);
    receiver.answer_headers(&[("retry-after", "1")]);
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);
    let (attempt, due, _) = attempt_due(&app, &webhook_id).await;
    assert_eq!(due, Some(t0 + Duration::minutes(10)));
    assert!(attempt.retry_after_at.is_some());

    // An HTTP date two days on: capped at the policy's last offset, 160 minutes.
    app.clock.set(t0 + Duration::minutes(10));
    receiver.always(503);
    let in_two_days = app.clock.now() + Duration::days(2);
    let date = httpdate::fmt_http_date(in_two_days.into());
    receiver.answer_headers(&[("retry-after", &date)]);
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);
    let (attempt, due, _) = attempt_due(&app, &webhook_id).await;
    assert_eq!(due, Some(t0 + Duration::minutes(160)));
    assert_eq!(
        attempt.retry_after_at.map(|t| t.timestamp()),
        Some(in_two_days.timestamp())
    );

    // Retry-After on another status is not read; and the number of attempts stays the
    // policy's: 1 + 6 retries, then failed.
    app.clock.set(t0 + Duration::minutes(160));
    receiver.always(500);
    receiver.answer_headers(&[("retry-after", "3000")]);
    while !app.dispatcher.run_once().await.unwrap().is_empty() {}
    let attempts = app.attempts(&webhook_id).await;
    assert_eq!(attempts.len(), 7);
    assert_eq!(
        attempts[3].retry_after_at, None,
        "a 500's Retry-After is ignored"
    );
    let (_, due, state) = attempt_due(&app, &webhook_id).await;
    assert_eq!((state, due), (DeliveryState::Failed, None));
}

on_both_backends!(
    an_abort_message_fails_the_delivery_at_once_and_is_no_success,
    retry_after_delays_the_next_attempt_within_the_policy,
);
