//! Ordered delivery per key: on a webhook with `ordering: "per_key"`, the deliveries of
//! one (tenant, `ordering_key`) are attempted one at a time in publish order, whatever
//! fails, retries, is held or released; keys are independent, and events without a key
//! are unordered. The dispatcher is stepped on the manual clock: each `run_once` is one
//! claim whose attempts run at once.

use std::collections::{BTreeMap, HashMap};

use chrono::Duration;
use hookgate::clock::Clock;
use hookgate::health::evaluator::TickOutcome;
use hookgate::model::DeliveryState;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, Received, TestApp, TestReceiver};

/// Retries after 1 to 6 s: 7 attempts in 21 s.
fn seconds_policy() -> Value {
    json!({"retry_policy": {"offsets_seconds": [1, 2, 3, 4, 5, 6]}})
}

/// A `per_key` webhook of app `bob-app` for tenants `acme` and `globex`, with `fields`.
/// Returns the partner key and the webhook's id.
async fn ordered_with(app: &TestApp, receiver: &TestReceiver, fields: Value) -> (String, String) {
    let key = app.create_app("bob-app").await;
    for tenant in ["acme", "globex"] {
        app.create_tenant(tenant, "production").await;
        app.install(tenant, "bob-app").await;
    }
    let mut fields = fields;
    fields["ordering"] = json!("per_key");
    let webhook = app
        .create_webhook("bob-app", &key, &receiver.url(), fields)
        .await;
    assert_eq!(webhook["ordering"], "per_key", "{webhook}");
    (key, webhook["id"].as_str().unwrap().to_string())
}

async fn ordered(app: &TestApp, receiver: &TestReceiver) -> (String, String) {
    ordered_with(app, receiver, seconds_policy()).await
}

async fn publish(app: &TestApp, tenant: &str, key: Option<&str>, n: i64) -> String {
    let r = app
        .publish(json!({"type": "employee.updated", "tenant_id": tenant,
                        "ordering_key": key, "data": {"n": n}}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// Each request's (tenant, ordering key, sequence, data.n), in arrival order.
fn keyed(received: &[Received]) -> Vec<(String, Option<String>, Option<i64>, i64)> {
    received
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["tenant"]["id"].as_str().unwrap().to_string(),
                body["ordering_key"].as_str().map(String::from),
                body["sequence"].as_i64(),
                body["data"]["n"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The webhook's deliveries in a state.
async fn in_state(
    app: &TestApp,
    webhook: &str,
    state: DeliveryState,
) -> Vec<hookgate::model::Delivery> {
    let filter = hookgate::store::DeliveryFilter {
        state: Some(state),
        ..hookgate::store::DeliveryFilter::latest(1000)
    };
    app.store.list_deliveries(webhook, &filter).await.unwrap()
}

async fn one_keys_deliveries_go_one_at_a_time_in_publish_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = ordered(&app, &receiver).await;
    for n in 1..=3 {
        publish(&app, "acme", Some("employee:E-1"), n).await;
    }
    let waiting = in_state(&app, &webhook, DeliveryState::Waiting).await;
    assert_eq!(waiting.len(), 2, "two wait behind acme's head");
    let head = app
        .store
        .list_deliveries(&webhook, &hookgate::store::DeliveryFilter::latest(1000))
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.sequence == Some(1))
        .unwrap();
    assert!(waiting
        .iter()
        .all(|d| d.waiting_for.as_deref() == Some(head.id.as_str())));
    assert_eq!(head.ordering_key.as_deref(), Some("employee:E-1"));
    assert_eq!(head.waiting_for, None);
    receiver.then(&[500]);
    assert_eq!(
        app.dispatcher.run_once().await.unwrap().len(),
        1,
        "the head alone"
    );

    // The same key of another tenant is another key; no key is no order.
    publish(&app, "globex", Some("employee:E-1"), 1).await;
    publish(&app, "acme", None, 0).await;
    publish(&app, "acme", None, 0).await;
    assert_eq!(
        app.dispatcher.run_once().await.unwrap().len(),
        3,
        "globex's head and both unordered: acme's head is retrying, its key waits"
    );
    assert!(app.dispatcher.run_once().await.unwrap().is_empty());
    app.clock.advance(Duration::seconds(1));
    for _ in 0..3 {
        assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);
    }
    assert!(app.dispatcher.run_once().await.unwrap().is_empty());
    let acme: Vec<_> = keyed(&receiver.received())
        .into_iter()
        .filter(|(tenant, key, ..)| tenant == "acme" && key.is_some())
        .map(|(_, _, sequence, n)| (sequence.unwrap(), n))
        .collect();
    assert_eq!(
        acme,
        [(1, 1), (1, 1), (2, 2), (3, 3)],
        "the head twice, then in order"
    );
    let globex: Vec<_> = keyed(&receiver.received())
        .into_iter()
        .filter(|(tenant, ..)| tenant == "globex")
        .map(|(_, key, sequence, _)| (key.unwrap(), sequence.unwrap()))
        .collect();
    assert_eq!(globex, [("employee:E-1".to_string(), 1)]);
    let unordered = keyed(&receiver.received())
        .into_iter()
        .filter(|(_, key, ..)| key.is_none())
        .all(|(_, _, sequence, _)| sequence.is_none());
    assert!(unordered, "no key, no sequence");
}

async fn a_head_that_fails_for_good_lets_the_next_go_with_a_gap(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = ordered(&app, &receiver).await;
    // A batch keeps its order.
    let events: Vec<Value> = (1..=3)
        .map(|n| json!({"type": "a.b", "tenant_id": "acme", "ordering_key": "k", "data": {"n": n}}))
        .collect();
    let r = app
        .platform_post("/v1/events/batch", json!({"events": events}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    receiver.then(&[500; 7]);
    for _ in 0..7 {
        assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);
        app.clock.advance(Duration::seconds(6));
    }
    while !app.dispatcher.run_once().await.unwrap().is_empty() {}
    let sequences: Vec<_> = keyed(&receiver.received())
        .into_iter()
        .map(|(_, _, sequence, n)| (sequence.unwrap(), n))
        .collect();
    let mut want = vec![(1, 1); 7];
    want.extend([(2, 2), (3, 3)]);
    assert_eq!(sequences, want, "the head's 7 attempts, then the rest");
    assert_eq!(
        in_state(&app, &webhook, DeliveryState::Failed).await.len(),
        1
    );
}

async fn held_keys_keep_their_order_and_a_replay_releases_them_in_it(backend: Backend) {
    for replay in [true, false] {
        let app = spawn_app(backend).await;
        let receiver = TestReceiver::start(None).await;
        // The default schedule (1 … 160 minutes): the head still retries at deactivation.
        let (key, webhook) = ordered_with(&app, &receiver, json!({})).await;
        receiver.always(500);
        let t0 = app.clock.now();
        for n in 1..=3 {
            publish(&app, "acme", Some("k"), n).await;
        }
        // Failures every 10 minutes until the evaluator deactivates the webhook.
        for minute in (0..=180).step_by(10) {
            app.clock.set(t0 + Duration::minutes(minute));
            publish(&app, "acme", None, 0).await;
            while !app.dispatcher.run_once().await.unwrap().is_empty() {}
            if minute > 0 && minute % 30 == 0 {
                let outcome = app.evaluator.tick().await.unwrap();
                assert!(matches!(outcome, TickOutcome::Evaluated { .. }));
            }
        }
        let state = app
            .get(&format!("/v1/apps/bob-app/webhooks/{webhook}"), &key)
            .await;
        assert_eq!(state.body["state"], "deactivated");
        publish(&app, "acme", Some("k"), 4).await;
        let keyed_held: Vec<_> = in_state(&app, &webhook, DeliveryState::Held)
            .await
            .into_iter()
            .filter(|d| d.ordering_key.is_some())
            .collect();
        assert_eq!(keyed_held.len(), 1, "the key's head is held");
        let head = keyed_held[0].sequence.unwrap();
        let waiting = in_state(&app, &webhook, DeliveryState::Waiting).await;
        assert_eq!(waiting.len() as i64, 4 - head, "the rest wait behind it");
        receiver.always(200);
        let before = receiver.received().len();
        let r = app
            .call(
                reqwest::Method::POST,
                &format!("/v1/apps/bob-app/webhooks/{webhook}/reactivate"),
                Some(&key),
                Some(json!({"replay": replay})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        while !app.dispatcher.run_once().await.unwrap().is_empty() {}
        let after: Vec<_> = keyed(&receiver.received()[before..])
            .into_iter()
            .filter(|(_, key, ..)| key.is_some())
            .map(|(_, _, sequence, n)| (sequence.unwrap(), n))
            .collect();
        if replay {
            let want: Vec<_> = (head..=4).map(|s| (s, s)).collect();
            assert_eq!(after, want, "released in their order");
        } else {
            assert_eq!(after, [], "held and waiting alike are skipped");
            let skipped = in_state(&app, &webhook, DeliveryState::Skipped).await;
            let keyed_skipped = skipped.iter().filter(|d| d.ordering_key.is_some()).count();
            assert_eq!(keyed_skipped as i64, 4 - head + 1);
            publish(&app, "acme", Some("k"), 5).await;
            while !app.dispatcher.run_once().await.unwrap().is_empty() {}
            let last = keyed(&receiver.received()).pop().unwrap();
            assert_eq!(
                (last.2, last.3),
                (Some(5), 5),
                "the key goes on from its sequence"
            );
        }
    }
}

async fn switching_ordering_off_releases_what_waits(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (key, webhook) = ordered(&app, &receiver).await;
    for n in 1..=4 {
        publish(&app, "acme", Some("k"), n).await;
    }
    let r = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/apps/bob-app/webhooks/{webhook}"),
            Some(&key),
            Some(json!({"ordering": "none"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["ordering"], "none");
    assert!(in_state(&app, &webhook, DeliveryState::Waiting)
        .await
        .is_empty());
    assert_eq!(
        app.dispatcher.run_once().await.unwrap().len(),
        4,
        "all at once"
    );
}

async fn a_bad_ordering_key_or_setting_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (key, webhook) = ordered(&app, &receiver).await;
    for bad in [
        json!(""),
        json!("has space"),
        json!("x".repeat(201)),
        json!("é"),
        json!("nul\u{0}byte"),
        json!("tab\there"),
        json!(7),
        json!(-1),
    ] {
        let r = app
            .publish(json!({"type": "a.b", "tenant_id": "acme", "ordering_key": bad}))
            .await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.status);
        assert!(
            r.body["error"].is_object() || r.body["error"].is_string(),
            "{}",
            r.body
        );
    }
    let filter = hookgate::store::DeliveryFilter::latest(10);
    let stored = app.store.list_deliveries(&webhook, &filter).await.unwrap();
    assert!(stored.is_empty(), "a refused publish stored {stored:?}");
    let longest = "k".repeat(200);
    publish(&app, "acme", Some(&longest), 1).await;
    let r = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/apps/bob-app/webhooks/{webhook}"),
            Some(&key),
            Some(json!({"ordering": "fifo"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
}

/// 200 keys × 10 events, published in batches while earlier ones are being sent, to a
/// listener failing 30 % of requests: each key's requests come in sequence (a retry of
/// its head, then the next), never two of a key in one claim, and every event arrives.
/// (tests/faults/ordering.rs runs 1,000 × 20 on real binaries, through the fast path.)
async fn many_keys_keep_their_order_through_random_failures(backend: Backend) {
    const KEYS: i64 = 200;
    const ROUNDS: i64 = 10;
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = ordered(&app, &receiver).await;
    // 3 of every 10 answers fail, spread so that no key sees the same pattern.
    receiver.cycle(&[200, 500, 200, 200, 500, 200, 200, 200, 500, 200, 200]);
    let events: Vec<Value> = (0..ROUNDS)
        .flat_map(|round| {
            (0..KEYS).map(move |k| {
                json!({"type": "a.b", "tenant_id": if k % 2 == 0 { "acme" } else { "globex" },
                       "ordering_key": format!("employee:{k}"), "data": {"n": round + 1}})
            })
        })
        .collect();
    let mut batches = events.chunks(500);
    let mut last_of_key = HashMap::<(String, String), i64>::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 2_000, "still not done after {rounds} claims");
        // Half the events before the first claim, the rest one batch per claim.
        let publishes = if rounds == 1 { 2 } else { 1 };
        for batch in batches.by_ref().take(publishes) {
            let r = app
                .platform_post("/v1/events/batch", json!({"events": batch}))
                .await;
            assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        }
        let before = receiver.received().len();
        let claimed = app.dispatcher.run_once().await.unwrap();
        let sent = keyed(&receiver.received()[before..]);
        let mut in_this_claim = std::collections::HashSet::new();
        for (tenant, key, sequence, n) in sent {
            let of = (tenant, key.unwrap());
            assert!(in_this_claim.insert(of.clone()), "two of {of:?} at once");
            let sequence = sequence.unwrap();
            assert_eq!(sequence, n, "{of:?}: sequence and publish order agree");
            let last = last_of_key.entry(of.clone()).or_default();
            assert!(sequence >= *last, "{of:?}: {sequence} after {last}");
            *last = sequence;
        }
        if claimed.is_empty() {
            if batches.len() == 0
                && in_state(&app, &webhook, DeliveryState::Pending)
                    .await
                    .is_empty()
            {
                break;
            }
            app.clock.advance(Duration::seconds(1));
        }
    }
    let mut delivered = BTreeMap::<String, usize>::new();
    for state in [
        DeliveryState::Waiting,
        DeliveryState::Held,
        DeliveryState::InFlight,
    ] {
        assert!(
            in_state(&app, &webhook, state).await.is_empty(),
            "{state:?} left"
        );
    }
    for (_, key, ..) in keyed(&receiver.received()) {
        *delivered.entry(key.unwrap()).or_default() += 1;
    }
    assert_eq!(last_of_key.len() as i64, KEYS);
    assert!(
        last_of_key.values().all(|&last| last == ROUNDS),
        "every key reached its last event"
    );
    assert!(delivered
        .values()
        .all(|&requests| requests >= ROUNDS as usize));
    // 3 in 10 failing makes a few fail all 7 attempts (0.3^7 of 2,000: about 0.4); a
    // failed delivery must be one whose schedule ran out, never one cut short.
    let failed = in_state(&app, &webhook, DeliveryState::Failed).await;
    assert!(failed.iter().all(|d| d.attempt_count == 7), "{failed:?}");
}

on_both_backends!(
    one_keys_deliveries_go_one_at_a_time_in_publish_order,
    a_head_that_fails_for_good_lets_the_next_go_with_a_gap,
    held_keys_keep_their_order_and_a_replay_releases_them_in_it,
    switching_ordering_off_releases_what_waits,
    a_bad_ordering_key_or_setting_is_refused,
    many_keys_keep_their_order_through_random_failures,
);
