//! The retry schedule, driven through with a manual clock against a real receiver.

use chrono::Duration;
use hookgate::clock::Clock;
use hookgate::delivery::retry::AttemptClass;
use hookgate::model::DeliveryState;
use serde_json::json;

use crate::helpers::{spawn_app, Backend, TestApp, TestReceiver};

/// Publishes one event for the `acme` tenant and returns its only delivery's id.
async fn publish_one(app: &TestApp, webhook_id: &str) -> String {
    let r = app
        .publish(json!({"type": "employee.created", "tenant_id": "acme", "data": {"n": 1}}))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let deliveries = app
        .store
        .list_deliveries(webhook_id, &hookgate::store::DeliveryFilter::latest(10))
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    deliveries[0].id.clone()
}

/// Steps the dispatcher once and returns how many attempts it made.
async fn step(app: &TestApp) -> usize {
    app.dispatcher
        .run_once()
        .await
        .expect("dispatcher step")
        .len()
}

async fn full_hibob_schedule_then_failed(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    receiver.always(500);
    let (_, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let webhook_id = webhook["id"].as_str().unwrap();
    let delivery_id = publish_one(&app, webhook_id).await;
    let t0 = app.clock.now();

    assert_eq!(step(&app).await, 1, "the first attempt is made at once");
    let offsets = [1, 10, 20, 40, 80, 160];
    for (i, minutes) in offsets.iter().enumerate() {
        // Just before the retry is due, nothing is claimed.
        app.clock
            .set(t0 + Duration::minutes(*minutes) - Duration::seconds(1));
        assert_eq!(step(&app).await, 0, "retry {} must not run early", i + 1);
        let d = app.delivery(&delivery_id).await;
        assert_eq!(d.state, DeliveryState::Pending);
        assert_eq!(d.next_attempt_at, Some(t0 + Duration::minutes(*minutes)));

        app.clock.set(t0 + Duration::minutes(*minutes));
        assert_eq!(step(&app).await, 1, "retry {} runs when due", i + 1);
    }

    let d = app.delivery(&delivery_id).await;
    assert_eq!(d.state, DeliveryState::Failed);
    assert_eq!(d.attempt_count, 7);
    assert_eq!(d.next_attempt_at, None);
    app.clock.advance(Duration::days(3));
    assert_eq!(
        step(&app).await,
        0,
        "a failed delivery is never attempted again"
    );

    let attempts = app.attempts(webhook_id).await;
    let got: Vec<i64> = attempts
        .iter()
        .map(|a| (a.started_at - t0).num_minutes())
        .collect();
    assert_eq!(got, vec![0, 1, 10, 20, 40, 80, 160]);
    assert!(attempts
        .iter()
        .all(|a| a.outcome == AttemptClass::HttpError && a.status_code == Some(500)));
    assert_eq!(
        attempts
            .iter()
            .map(|a| a.attempt_number)
            .collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );

    // The receiver saw the same seven attempts, all with the delivery's stable webhook-id.
    let received = receiver.received();
    assert_eq!(received.len(), 7);
    assert!(received
        .iter()
        .all(|r| r.header("webhook-id") == delivery_id));
    let seen: Vec<i64> = received.iter().map(|r| (r.at - t0).num_minutes()).collect();
    assert_eq!(seen, vec![0, 1, 10, 20, 40, 80, 160]);
}

async fn success_mid_schedule_ends_retries(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    receiver.then(&[503, 502, 500]);
    let (_, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let webhook_id = webhook["id"].as_str().unwrap();
    let delivery_id = publish_one(&app, webhook_id).await;
    let t0 = app.clock.now();

    assert_eq!(step(&app).await, 1);
    for minutes in [1, 10, 20] {
        app.clock.set(t0 + Duration::minutes(minutes));
        assert_eq!(step(&app).await, 1);
    }
    let d = app.delivery(&delivery_id).await;
    assert_eq!(d.state, DeliveryState::Delivered);
    assert_eq!(d.attempt_count, 4);
    assert_eq!(d.first_failure_at, Some(t0));

    app.clock.advance(Duration::hours(4));
    assert_eq!(step(&app).await, 0);
    assert_eq!(receiver.received().len(), 4);
    let outcomes: Vec<_> = app
        .attempts(webhook_id)
        .await
        .iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            AttemptClass::HttpError,
            AttemptClass::HttpError,
            AttemptClass::HttpError,
            AttemptClass::Success
        ]
    );
}

async fn a_4xx_is_retried_under_hibob_but_not_bindbee(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    receiver.always(404);
    app.create_tenant("acme", "production").await;
    let key = app.create_app("bob-app").await;
    app.install("acme", "bob-app").await;
    let hibob = app
        .create_webhook("bob-app", &key, &receiver.url(), json!({}))
        .await;
    let bindbee = app
        .create_webhook(
            "bob-app",
            &key,
            &receiver.url(),
            json!({"retry_policy": "bindbee"}),
        )
        .await;
    assert_eq!(bindbee["retry_policy"]["name"], "bindbee");

    let r = app
        .publish(json!({"type": "sync.error", "tenant_id": "acme"}))
        .await;
    assert_eq!(r.body["deliveries"], 2);
    assert_eq!(step(&app).await, 2);

    let hibob_delivery = &app
        .store
        .list_deliveries(
            hibob["id"].as_str().unwrap(),
            &hookgate::store::DeliveryFilter::latest(1),
        )
        .await
        .unwrap()[0];
    let bindbee_delivery = &app
        .store
        .list_deliveries(
            bindbee["id"].as_str().unwrap(),
            &hookgate::store::DeliveryFilter::latest(1),
        )
        .await
        .unwrap()[0];
    assert_eq!(hibob_delivery.state, DeliveryState::Pending);
    assert_eq!(
        hibob_delivery.next_attempt_at,
        Some(app.clock.now() + Duration::minutes(1))
    );
    assert_eq!(
        bindbee_delivery.state,
        DeliveryState::Failed,
        "bindbee never retries an HTTP status"
    );
    assert_eq!(bindbee_delivery.attempt_count, 1);
}

async fn bindbee_retries_network_errors_within_a_minute(backend: Backend) {
    let app = spawn_app(backend).await;
    // A port that was just free: connecting is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (_, webhook) = app
        .partner_setup(
            &format!("http://{closed}/hooks"),
            json!({"retry_policy": "bindbee"}),
        )
        .await;
    let webhook_id = webhook["id"].as_str().unwrap();
    let delivery_id = publish_one(&app, webhook_id).await;
    let t0 = app.clock.now();
    assert_eq!(step(&app).await, 1);
    for seconds in [5, 15, 30, 60] {
        app.clock.set(t0 + Duration::seconds(seconds));
        assert_eq!(step(&app).await, 1);
    }
    let attempts = app.attempts(webhook_id).await;
    assert!(
        attempts.iter().all(|a| a.outcome == AttemptClass::Connect),
        "{attempts:?}"
    );
    assert_eq!(
        app.delivery(&delivery_id).await.state,
        DeliveryState::Failed
    );
}

on_both_backends!(
    full_hibob_schedule_then_failed,
    success_mid_schedule_ends_retries,
    a_4xx_is_retried_under_hibob_but_not_bindbee,
    bindbee_retries_network_errors_within_a_minute,
);
