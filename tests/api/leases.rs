//! Leases: a crashed worker's deliveries come back; two workers never hold the same one.

use std::collections::HashSet;

use chrono::Duration;
use hookgate::clock::Clock;
use hookgate::model::DeliveryState;
use hookgate::store::ClaimLimits;
use serde_json::json;

use crate::helpers::{spawn_app, Backend, TestReceiver};

fn limits(limit: i64, per_webhook: i64) -> ClaimLimits {
    ClaimLimits {
        limit,
        per_webhook,
        ..ClaimLimits::default()
    }
}

async fn an_expired_lease_makes_a_delivery_claimable_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    let now = app.clock.now();

    // A worker claims and then "crashes": it never records anything.
    let lost = app
        .store
        .claim_due(now, now + Duration::minutes(5), &limits(10, 100))
        .await
        .unwrap();
    assert_eq!(lost.len(), 1);
    let delivery_id = lost[0].delivery_id.clone();
    assert_eq!(
        app.delivery(&delivery_id).await.state,
        DeliveryState::InFlight
    );
    assert_eq!(
        app.dispatcher.run_once().await.unwrap().len(),
        0,
        "leased: nobody else takes it"
    );

    app.clock.advance(Duration::minutes(5));
    assert_eq!(
        app.dispatcher.run_once().await.unwrap().len(),
        1,
        "the lease expired"
    );
    let d = app.delivery(&delivery_id).await;
    assert_eq!(d.state, DeliveryState::Delivered);
    assert_eq!(d.attempt_count, 1);
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(receiver.received()[0].header("webhook-id"), delivery_id);

    // The crashed worker's late write cannot undo the newer state.
    let mut stale = app.dispatcher.run_once().await.unwrap();
    assert!(stale.is_empty());
    let attempt = app
        .attempts(webhook["id"].as_str().unwrap())
        .await
        .remove(0);
    stale.push(hookgate::model::AttemptRecord {
        attempt: hookgate::model::Attempt {
            id: uuid::Uuid::now_v7().to_string(),
            ..attempt
        },
        lease_token: lost[0].lease_token.clone(),
        fence: None,
        new_state: DeliveryState::Pending,
        next_attempt_at: Some(app.clock.now()),
        first_failure_at: None,
        ordered: false,
    });
    app.store.record_attempts(&stale).await.unwrap();
    assert_eq!(
        app.delivery(&delivery_id).await.state,
        DeliveryState::Delivered
    );
}

async fn concurrent_claims_never_share_a_delivery(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    app.partner_setup(&receiver.url(), json!({})).await;
    for n in 0..60 {
        app.publish(json!({"type": "a.b", "tenant_id": "acme", "data": {"n": n}}))
            .await;
    }
    let now = app.clock.now();
    let until = now + Duration::minutes(5);
    let claims = (0..6).map(|_| {
        let store = app.store.clone();
        tokio::spawn(async move { store.claim_due(now, until, &limits(15, 100)).await.unwrap() })
    });
    let mut seen = HashSet::new();
    let mut total = 0;
    for claim in futures::future::join_all(claims).await {
        for d in claim.unwrap() {
            total += 1;
            assert!(seen.insert(d.delivery_id), "a delivery was claimed twice");
        }
    }
    assert_eq!(total, 60, "six claims of 15 cover all 60 due deliveries");
}

/// A webhook with a backlog does not crowd out another one: each gets at most its cap per
/// claim, and a webhook this instance has at capacity gets nothing.
async fn claims_are_fair_across_webhooks(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    app.create_tenant("busy", "production").await;
    app.create_tenant("quiet", "production").await;
    let busy_key = app.create_app("busy-app").await;
    let quiet_key = app.create_app("quiet-app").await;
    app.install("busy", "busy-app").await;
    app.install("quiet", "quiet-app").await;
    let busy = app
        .create_webhook("busy-app", &busy_key, &receiver.url(), json!({}))
        .await;
    let quiet = app
        .create_webhook("quiet-app", &quiet_key, &receiver.url(), json!({}))
        .await;
    let (busy, quiet) = (busy["id"].as_str().unwrap(), quiet["id"].as_str().unwrap());
    let events: Vec<_> = (0..50)
        .map(|n| json!({"type": "a.b", "tenant_id": "busy", "data": {"n": n}}))
        .collect();
    app.platform_post("/v1/events/batch", json!({"events": events}))
        .await;
    app.clock.advance(Duration::seconds(1));
    for _ in 0..2 {
        app.publish(json!({"type": "a.b", "tenant_id": "quiet"}))
            .await;
    }
    let now = app.clock.now();
    let lease = now + Duration::minutes(5);

    // Oldest first would give 20 of the busy backlog; a cap of 5 lets the quiet one in.
    let claimed = app
        .store
        .claim_due(now, lease, &limits(20, 5))
        .await
        .unwrap();
    let of = |id: &str| claimed.iter().filter(|d| d.webhook_id == id).count();
    assert_eq!((of(busy), of(quiet)), (5, 2));

    // At capacity: skipped entirely.
    let more = app
        .store
        .claim_due(
            now,
            lease,
            &ClaimLimits {
                limit: 20,
                per_webhook: 5,
                skip_webhooks: vec![busy.to_string()],
                ..ClaimLimits::default()
            },
        )
        .await
        .unwrap();
    assert!(more.is_empty(), "{more:?}");

    // Each webhook's adaptive limit leaves it its own room: 3 more for the busy one,
    // whatever the default.
    let roomed = app
        .store
        .claim_due(
            now,
            lease,
            &ClaimLimits {
                limit: 20,
                per_webhook: 1,
                remaining: vec![(busy.to_string(), 3)],
                ..ClaimLimits::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(roomed.len(), 3, "{roomed:?}");
    assert!(roomed.iter().all(|d| d.webhook_id == busy));
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A publish leased a delivery to its instance (the fast path), and the instance died
/// before sending it: the delivery is in flight under that lease, nobody takes it until
/// the lease expires, then a claim does. Nothing is lost.
async fn a_fast_path_lease_of_a_dead_instance_expires_and_is_claimed(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    app.partner_setup(&receiver.url(), json!({})).await;
    let always = |_: &str, _: Option<i64>| true;
    let lease = hookgate::store::publish::FastLease {
        token: "dead-instance".into(),
        until: app.clock.now() + Duration::minutes(5),
        try_hold: &always,
    };
    let event = hookgate::model::NewEvent {
        id: "evt-1".into(),
        idempotency_key: None,
        request_hash: "h".into(),
        tenant_id: "acme".into(),
        event_type: "a.b".into(),
        occurred_at: app.clock.now(),
        received_at: app.clock.now(),
        data: "{}".into(),
        traceparent: Some(TRACEPARENT.into()),
        ordering_key: None,
    };
    let (_, leased) = app
        .store
        .publish_leasing(std::slice::from_ref(&event), &lease)
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].traceparent.as_deref(), Some(TRACEPARENT));
    let delivery_id = leased[0].delivery_id.clone();
    assert_eq!(
        app.delivery(&delivery_id).await.state,
        DeliveryState::InFlight
    );
    // The instance dies here: `leased` is never sent.
    drop(leased);
    assert!(
        app.dispatcher.run_once().await.unwrap().is_empty(),
        "leased"
    );
    app.clock.advance(Duration::minutes(5));
    // Claimed, the delivery brings back the publish's trace context, stored with the event.
    let now = app.clock.now();
    let claimed = app
        .store
        .claim_due(now, now, &limits(10, 100))
        .await
        .unwrap();
    assert_eq!(claimed[0].traceparent.as_deref(), Some(TRACEPARENT));
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);
    assert_eq!(
        app.delivery(&delivery_id).await.state,
        DeliveryState::Delivered
    );
    assert_eq!(receiver.received().len(), 1);

    // Leases handed to a dispatcher that is not running (it was stopping when the
    // publish committed) are given back at once: due now, no wait for the lease.
    let event = hookgate::model::NewEvent {
        id: "evt-2".into(),
        ..event
    };
    let (_, leased) = app
        .store
        .publish_leasing(std::slice::from_ref(&event), &lease)
        .await
        .unwrap();
    let delivery_id = leased[0].delivery_id.clone();
    app.dispatcher.dispatch_leased(leased).await;
    assert_eq!(
        app.delivery(&delivery_id).await.state,
        DeliveryState::Pending
    );
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);
    assert_eq!(receiver.received().len(), 2);
}

on_both_backends!(
    a_fast_path_lease_of_a_dead_instance_expires_and_is_claimed,
    claims_are_fair_across_webhooks,
    an_expired_lease_makes_a_delivery_claimable_again,
    concurrent_claims_never_share_a_delivery,
);
