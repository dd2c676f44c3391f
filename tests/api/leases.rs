//! Leases: a crashed worker's deliveries come back; two workers never hold the same one.

use std::collections::HashSet;

use chrono::Duration;
use hookgate::clock::Clock;
use hookgate::model::DeliveryState;
use serde_json::json;

use crate::helpers::{spawn_app, Backend, TestReceiver};

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
        .claim_due(now, now + Duration::minutes(5), 10)
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
        new_state: DeliveryState::Pending,
        next_attempt_at: Some(app.clock.now()),
        first_failure_at: None,
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
        tokio::spawn(async move { store.claim_due(now, until, 15).await.unwrap() })
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

on_both_backends!(
    an_expired_lease_makes_a_delivery_claimable_again,
    concurrent_claims_never_share_a_delivery,
);
