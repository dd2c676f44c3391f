//! Listener ownership in the store: instances beat, a webhook's lease has one holder at a
//! time, and its fence rises each time it changes hands, so that work begun under an
//! older lease can be told apart.

use std::collections::HashSet;

use chrono::Duration;
use hookgate::clock::Clock;
use hookgate::ownership::Ownership;
use hookgate::store::HeldLease;
use serde_json::json;

use crate::helpers::{spawn_app, Backend, TestReceiver};

fn lease(webhook: &str, fence: i64) -> HeldLease {
    HeldLease {
        webhook_id: webhook.to_string(),
        fence,
    }
}

/// Takes or renews `instance`'s leases at `at`, for 6 s.
async fn take(
    store: &hookgate::store::SharedStore,
    instance: &str,
    webhooks: &[String],
    at: chrono::DateTime<chrono::Utc>,
) -> Vec<HeldLease> {
    store
        .take_ownership(instance, webhooks, at, at + Duration::seconds(6))
        .await
        .unwrap()
}

async fn a_lease_has_one_holder_and_its_fence_rises_when_it_changes_hands(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let webhook = webhook["id"].as_str().unwrap().to_string();
    let webhooks = vec![webhook.clone(), "no-such-webhook".to_string()];
    let store = &app.store;
    let now = app.clock.now();

    store.beat("a", now, now).await.unwrap();
    store.beat("b", now, now).await.unwrap();
    assert_eq!(
        take(store, "a", &webhooks, now).await,
        vec![lease(&webhook, 1)],
        "a takes the free lease; a webhook that does not exist gets none"
    );
    assert_eq!(
        take(store, "b", &webhooks, now).await,
        vec![],
        "b cannot take a lease a holds"
    );
    let later = now + Duration::seconds(2);
    assert_eq!(
        take(store, "a", &webhooks, later).await,
        vec![lease(&webhook, 1)],
        "a renews under the same fence"
    );
    let instances = store.instances(later).await.unwrap();
    let owned: Vec<(&str, i64)> = instances.iter().map(|i| (i.id.as_str(), i.owned)).collect();
    assert_eq!(owned, vec![("a", 1), ("b", 0)]);

    // a stops beating: once its lease lapses, b takes it under a higher fence.
    let lapsed = later + Duration::seconds(6);
    assert_eq!(
        take(store, "b", &webhooks, lapsed).await,
        vec![lease(&webhook, 2)]
    );
    assert_eq!(
        take(store, "a", &webhooks, lapsed).await,
        vec![],
        "a, back, cannot take it again while b holds it"
    );

    // b releases it (a rebalance): a takes it at once, under a fence b never held.
    store
        .release_ownership("b", &webhooks, lapsed)
        .await
        .unwrap();
    assert_eq!(
        take(store, "a", &webhooks, lapsed).await,
        vec![lease(&webhook, 3)]
    );

    // a leaves: its lease lapses, its row goes, and the fence goes on rising.
    store.leave("a", lapsed).await.unwrap();
    let instances = store.instances(lapsed).await.unwrap();
    assert_eq!(instances.len(), 1);
    assert_eq!((instances[0].id.as_str(), instances[0].owned), ("b", 0));
    assert_eq!(
        take(store, "b", &webhooks, lapsed).await,
        vec![lease(&webhook, 4)]
    );
    assert_eq!(store.active_webhook_ids().await.unwrap(), vec![webhook]);
}

/// Two instances beating share the webhooks out, each held by one; one that stops
/// beating loses them to the other within a few beats, and, counting its leases by its
/// own clock, has stopped counting them by then.
async fn instances_share_the_webhooks_and_a_silent_one_loses_its_own(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    // Three apps of ten webhooks (an app's limit): with 30, neither instance's share is
    // empty but once in 2^29 draws of their random ids.
    let mut webhooks = Vec::new();
    for a in 0..3 {
        let app_id = format!("app-{a}");
        let key = app.create_app(&app_id).await;
        for n in 0..10 {
            let url = format!("{}/{a}/{n}", receiver.url());
            let w = app.create_webhook(&app_id, &key, &url, json!({})).await;
            webhooks.push(w["id"].as_str().unwrap().to_string());
        }
    }
    let beat = std::time::Duration::from_millis(300);
    let clock: hookgate::clock::SharedClock = app.clock.clone();
    let a = Ownership::new(app.store.clone(), clock.clone(), "a".into(), beat);
    let b = Ownership::new(app.store.clone(), clock, "b".into(), beat);
    let owned_by = |o: &Ownership| -> HashSet<String> {
        webhooks
            .iter()
            .filter(|w| o.fence(w).is_some())
            .cloned()
            .collect()
    };

    a.beat().await.unwrap();
    assert_eq!(owned_by(&a).len(), 30, "alone, a owns everything");
    b.beat().await.unwrap();
    assert!(owned_by(&b).is_empty(), "b takes nothing a still holds");
    // a sees b and gives up b's share; b takes it at its next beat.
    a.beat().await.unwrap();
    b.beat().await.unwrap();
    let (of_a, of_b) = (owned_by(&a), owned_by(&b));
    assert!(of_a.is_disjoint(&of_b), "a webhook held twice");
    assert_eq!(of_a.len() + of_b.len(), 30, "a webhook held by nobody");
    assert!(
        !of_a.is_empty() && !of_b.is_empty(),
        "{} / {}",
        of_a.len(),
        of_b.len()
    );
    assert_eq!((a.owned(), b.owned()), (of_a.len(), of_b.len()));

    // a falls silent (paused, cut off): past its lease it no longer counts its own...
    tokio::time::sleep(beat * 3).await;
    assert!(
        owned_by(&a).is_empty(),
        "a still counts leases past their end"
    );
    // ...and once the others see it gone, b takes them over.
    app.clock.advance(Duration::milliseconds(3 * 300 + 1));
    b.beat().await.unwrap();
    assert_eq!(owned_by(&b).len(), 30, "b did not take over a's webhooks");
}

/// A delivery sent under a listener lease: the one who takes the lease over makes it due
/// again at once (not after its delivery lease), and the old holder's record of it,
/// arriving late, is left out, attempt and all; the new holder's is kept.
async fn a_takeover_makes_what_was_in_flight_due_and_fences_the_old_record(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let webhook = webhook["id"].as_str().unwrap().to_string();
    let published = app
        .publish(json!({"type": "employee.created", "tenant_id": "acme"}))
        .await;
    assert_eq!(published.status, 202, "{}", published.body);
    let beat = std::time::Duration::from_millis(300);
    let clock: hookgate::clock::SharedClock = app.clock.clone();
    let a = Ownership::new(app.store.clone(), clock.clone(), "a".into(), beat);
    let b = Ownership::new(app.store.clone(), clock, "b".into(), beat);
    a.beat().await.unwrap();
    let claim = |only: std::sync::Arc<[String]>| {
        let store = app.store.clone();
        let now = app.clock.now();
        async move {
            let limits = hookgate::store::ClaimLimits {
                limit: 10,
                per_webhook: 10,
                only_webhooks: Some(only),
                ..Default::default()
            };
            store
                .claim_due(now, now + Duration::minutes(5), &limits)
                .await
                .unwrap()
        }
    };
    let mut sent_by_a = claim(a.owned_webhooks()).await;
    assert_eq!(sent_by_a.len(), 1);
    sent_by_a[0].fence = a.fence(&webhook);
    assert!(sent_by_a[0].fence.is_some());

    // a falls silent mid-send; b sees it gone and takes the listener over.
    app.clock.advance(Duration::milliseconds(3 * 300 + 1));
    b.beat().await.unwrap();
    let mut sent_by_b = claim(b.owned_webhooks()).await;
    assert_eq!(
        sent_by_b.len(),
        1,
        "the delivery a left in flight is not due"
    );
    assert_eq!(sent_by_b[0].delivery_id, sent_by_a[0].delivery_id);
    sent_by_b[0].fence = b.fence(&webhook);
    assert_ne!(sent_by_b[0].fence, sent_by_a[0].fence);

    // a's record comes late, and even under a's delivery lease it changes nothing.
    let record = |d: &hookgate::model::ClaimedDelivery| hookgate::model::AttemptRecord {
        attempt: hookgate::model::Attempt {
            id: uuid::Uuid::now_v7().to_string(),
            delivery_id: d.delivery_id.clone(),
            webhook_id: d.webhook_id.clone(),
            attempt_number: 1,
            started_at: app.clock.now(),
            latency_ms: 3,
            outcome: hookgate::domain::retry::AttemptClass::Success,
            status_code: Some(200),
            error: None,
            response_excerpt: Some(String::new()),
            retry_after_at: None,
        },
        lease_token: d.lease_token.clone(),
        fence: d.fence,
        new_state: hookgate::model::DeliveryState::Delivered,
        next_attempt_at: None,
        first_failure_at: None,
        ordered: d.ordered,
    };
    let stale = hookgate::model::AttemptRecord {
        lease_token: sent_by_b[0].lease_token.clone(),
        ..record(&sent_by_a[0])
    };
    app.store.record_attempts(&[stale]).await.unwrap();
    assert!(
        app.attempts(&webhook).await.is_empty(),
        "a fenced record was kept"
    );
    assert_eq!(
        app.delivery(&sent_by_b[0].delivery_id).await.state,
        hookgate::model::DeliveryState::InFlight
    );
    app.store
        .record_attempts(&[record(&sent_by_b[0])])
        .await
        .unwrap();
    assert_eq!(app.attempts(&webhook).await.len(), 1);
    assert_eq!(
        app.delivery(&sent_by_b[0].delivery_id).await.state,
        hookgate::model::DeliveryState::Delivered
    );
}

/// A webhook handed over drains: its old holder sends nothing new at once, keeps the
/// lease while its attempts are under way (one beat at most), then releases it.
async fn a_webhook_handed_over_drains_its_attempts_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let mut webhooks = Vec::new();
    for a in 0..3 {
        let app_id = format!("app-{a}");
        let key = app.create_app(&app_id).await;
        for n in 0..10 {
            let url = format!("{}/{a}/{n}", receiver.url());
            let w = app.create_webhook(&app_id, &key, &url, json!({})).await;
            webhooks.push(w["id"].as_str().unwrap().to_string());
        }
    }
    let beat = std::time::Duration::from_millis(300);
    let clock: hookgate::clock::SharedClock = app.clock.clone();
    let a = Ownership::new(app.store.clone(), clock.clone(), "a".into(), beat);
    let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let still_busy = busy.clone();
    a.drain_while(Box::new(move |_| {
        still_busy.load(std::sync::atomic::Ordering::SeqCst)
    }));
    let b = Ownership::new(app.store.clone(), clock, "b".into(), beat);
    a.beat().await.unwrap();
    b.beat().await.unwrap();
    // a sees b: b's share stops being sent by a at once, but a still holds its lease.
    a.beat().await.unwrap();
    let held_by = |o: &Ownership| webhooks.iter().filter(|w| o.fence(w).is_some()).count();
    let of_a = held_by(&a);
    assert!(
        of_a < 30,
        "a gave nothing up (b's share is empty once in 2^30)"
    );
    b.beat().await.unwrap();
    assert_eq!(held_by(&b), 0, "b took a lease a is still draining");
    // One beat later a hands it over, busy or not; b takes it at its next beat.
    a.beat().await.unwrap();
    b.beat().await.unwrap();
    assert_eq!(held_by(&a) + held_by(&b), 30);
    assert_eq!(held_by(&b), 30 - of_a);
}

on_both_backends!(
    a_webhook_handed_over_drains_its_attempts_first,
    a_lease_has_one_holder_and_its_fence_rises_when_it_changes_hands,
    instances_share_the_webhooks_and_a_silent_one_loses_its_own,
    a_takeover_makes_what_was_in_flight_due_and_fences_the_old_record,
);
