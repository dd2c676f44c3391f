//! Retention deletes what ended before the cutoff and keeps whatever is still owed to a
//! listener, however old.

use chrono::Duration;
use serde_json::json;

use hookgate::clock::Clock;
use hookgate::model::DeliveryState;
use hookgate::retention::Pruner;
use hookgate::store::{DeliveryFilter, Pruned};

use crate::helpers::{spawn_app, Backend, TestApp, TestReceiver};

async fn delivery_of(app: &TestApp, webhook_id: &str, event_id: &str) -> Option<String> {
    app.store
        .list_deliveries(webhook_id, &DeliveryFilter::latest(100))
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.event_id == event_id)
        .map(|d| d.id)
}

async fn retention_prunes_what_ended_and_keeps_what_is_owed(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let webhook_id = webhook["id"].as_str().unwrap();
    let event = |id: &str| json!({"id": id, "type": "a.b", "tenant_id": "acme", "data": {}});
    let pruner = Pruner::new(app.store.clone(), app.clock.clone(), Duration::days(30));

    // 31 days ago: one event delivered, one whose delivery is still in retry.
    assert_eq!(app.publish(event("evt_old_done")).await.status, 202);
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);
    receiver.always(500);
    assert_eq!(app.publish(event("evt_old_owed")).await.status, 202);
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);
    let old_done = delivery_of(&app, webhook_id, "evt_old_done").await.unwrap();
    let old_owed = delivery_of(&app, webhook_id, "evt_old_owed").await.unwrap();
    assert_eq!(app.delivery(&old_owed).await.state, DeliveryState::Pending);

    // Today: one event, not attempted yet.
    app.clock.advance(Duration::days(31));
    assert_eq!(app.publish(event("evt_new")).await.status, 202);

    // One row per transaction, so each table takes several rounds.
    let pruned = app
        .store
        .prune(app.clock.now() - Duration::days(30), 1)
        .await
        .unwrap();
    assert_eq!(
        pruned,
        Pruned {
            attempts: 2,
            deliveries: 1,
            events: 1,
            notifications: 0
        },
        "the two old attempts, the delivered delivery and its event"
    );
    assert!(app.store.get_delivery(&old_done).await.unwrap().is_none());
    assert!(app.attempts(webhook_id).await.is_empty());

    // The owed delivery and its event are kept: republishing it is still a replay, and
    // it is delivered on its next attempt, beside today's.
    let again = app.publish(event("evt_old_owed")).await;
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    receiver.always(200);
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 2);
    assert_eq!(
        app.delivery(&old_owed).await.state,
        DeliveryState::Delivered
    );
    let new = delivery_of(&app, webhook_id, "evt_new").await.unwrap();
    assert_eq!(app.delivery(&new).await.state, DeliveryState::Delivered);

    // The pruned event is forgotten: the same id is a new event (idempotency lasts as
    // long as retention).
    let forgotten = app.publish(event("evt_old_done")).await;
    assert_eq!(forgotten.status, 202);
    assert!(forgotten.headers.get("idempotent-replayed").is_none());

    assert_eq!(
        pruner.run_once().await.unwrap(),
        Pruned::default(),
        "a second run finds nothing more"
    );
    let forever = Pruner::new(app.store.clone(), app.clock.clone(), Duration::MAX);
    assert_eq!(
        forever.run_once().await.unwrap(),
        Pruned::default(),
        "a retention longer than the calendar reaches back keeps everything"
    );
}

/// A notification a destination still waits for is kept however old; once its last row
/// is sent or given up, it goes.
async fn retention_keeps_unsent_notifications_and_prunes_sent_ones(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    receiver.always(500);
    app.partner_setup(&receiver.url(), json!({})).await;
    let endpoint = TestReceiver::start(Some(app.clock.clone())).await;
    endpoint.always(503);
    let r = app
        .platform_post(
            "/v1/apps/bob-app/notification-destinations",
            json!({"type": "https", "url": endpoint.url()}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // An hour of failures: one warning, with a row for the destination.
    let t0 = app.publish_failing_for_an_hour().await;
    let outbox = app.store.list_notifications(None, 10).await.unwrap();
    assert_eq!(outbox.len(), 1);

    app.clock.set(t0 + Duration::days(31));
    let pruner = Pruner::new(app.store.clone(), app.clock.clone(), Duration::days(30));
    assert_eq!(pruner.run_once().await.unwrap().notifications, 0);
    assert_eq!(app.store.outbox_backlog().await.unwrap(), 1, "unsent: kept");

    // Its destination has failed for 31 days: the row is given up, the notification settled.
    let relay = app.relay.run_once().await.unwrap();
    assert_eq!((relay.sent, relay.failed), (0, 1));
    assert_eq!(endpoint.received().len(), 1);
    assert_eq!(app.store.outbox_backlog().await.unwrap(), 0);
    let settled = app.store.list_notifications(None, 10).await.unwrap();
    assert_eq!(settled[0].id, outbox[0].id);
    assert_eq!(
        settled[0].sends[0].state,
        hookgate::notify::message::SendState::Expired
    );
    assert_eq!(pruner.run_once().await.unwrap().notifications, 1);
    assert!(app
        .store
        .list_notifications(None, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Expired portal and console sessions and spent portal links go at once; live ones stay.
async fn retention_drops_expired_sessions_and_spent_links(backend: Backend) {
    use hookgate::store::{ConsoleSession, PortalSession};
    let app = spawn_app(backend).await;
    app.create_app("bob").await;
    let now = app.clock.now();
    let portal = |expires_at| PortalSession {
        app_id: "bob".into(),
        key_hash: None,
        csrf_token: "t".into(),
        created_at: now - Duration::hours(9),
        expires_at,
    };
    let console = |expires_at| ConsoleSession {
        key_hash: "k".into(),
        csrf_token: "t".into(),
        created_at: now - Duration::hours(9),
        expires_at,
    };
    let store = &app.store;
    store
        .create_portal_session("old", &portal(now - Duration::hours(1)))
        .await
        .unwrap();
    store
        .create_portal_session("live", &portal(now + Duration::hours(1)))
        .await
        .unwrap();
    store
        .create_console_session("old", &console(now - Duration::hours(1)))
        .await
        .unwrap();
    store
        .create_console_session("live", &console(now + Duration::hours(1)))
        .await
        .unwrap();
    store
        .create_portal_link("used", "bob", now, now + Duration::hours(1))
        .await
        .unwrap();
    store
        .create_portal_link("live", "bob", now, now + Duration::hours(1))
        .await
        .unwrap();
    store.redeem_portal_link("used", now).await.unwrap();

    let pruner = Pruner::new(store.clone(), app.clock.clone(), Duration::days(30));
    pruner.run_once().await.unwrap();
    assert!(store.get_portal_session("old").await.unwrap().is_none());
    assert!(store.get_portal_session("live").await.unwrap().is_some());
    assert!(store.get_console_session("old").await.unwrap().is_none());
    assert!(store.get_console_session("live").await.unwrap().is_some());
    assert_eq!(
        store.prune_expired_sessions(now).await.unwrap(),
        0,
        "the used link went too"
    );
    assert_eq!(
        store
            .redeem_portal_link("live", now)
            .await
            .unwrap()
            .as_deref(),
        Some("bob")
    );
}

on_both_backends!(
    retention_drops_expired_sessions_and_spent_links,
    retention_prunes_what_ended_and_keeps_what_is_owed,
    retention_keeps_unsent_notifications_and_prunes_sent_ones
);
