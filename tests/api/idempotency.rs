//! A repeated publish creates nothing new and answers with the original.

use serde_json::json;

use crate::helpers::{spawn_app, Backend, TestReceiver, PLATFORM_KEY};

async fn same_event_id_is_published_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let event = json!({"id": "evt_42", "type": "a.b", "tenant_id": "acme", "data": {"x": 1}});

    let first = app.publish(event.clone()).await;
    assert_eq!(first.status, 202);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = app.publish(event).await;
    assert_eq!(again.status, 202);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(
        again.body, first.body,
        "the original answer, delivery count included"
    );
    let deliveries = app
        .store
        .list_deliveries(
            webhook["id"].as_str().unwrap(),
            &hookgate::store::DeliveryFilter::latest(10),
        )
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);

    let different = app
        .publish(json!({"id": "evt_42", "type": "a.b", "tenant_id": "acme", "data": {"x": 2}}))
        .await;
    assert_eq!(different.status, 409);
    assert_eq!(
        app.store
            .list_deliveries(
                webhook["id"].as_str().unwrap(),
                &hookgate::store::DeliveryFilter::latest(10)
            )
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn idempotency_key_makes_a_repeat_a_no_op(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let send = |body: serde_json::Value| {
        app.http
            .post(format!("{}/v1/events", app.base))
            .bearer_auth(PLATFORM_KEY)
            .header("Idempotency-Key", "order-7-created")
            .json(&body)
            .send()
    };
    let body = json!({"type": "order.created", "tenant_id": "acme", "data": {"order": 7}});
    let first = crate::helpers::reply(send(body.clone()).await.unwrap()).await;
    let second = crate::helpers::reply(send(body).await.unwrap()).await;
    assert_eq!(first.status, 202);
    assert_eq!(second.status, 202);
    assert_eq!(
        first.body["id"], second.body["id"],
        "the original event id comes back"
    );
    assert_eq!(second.headers.get("idempotent-replayed").unwrap(), "true");

    let other = crate::helpers::reply(
        send(json!({"type": "order.created", "tenant_id": "acme", "data": {"order": 8}}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(other.status, 409);
    assert_eq!(other.body["error"]["code"], "conflict");
    assert_eq!(
        app.store
            .list_deliveries(
                webhook["id"].as_str().unwrap(),
                &hookgate::store::DeliveryFilter::latest(10)
            )
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn a_batch_is_stored_whole_and_repeats_are_no_ops(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let webhook_id = webhook["id"].as_str().unwrap();
    let count = || {
        let store = app.store.clone();
        let id = webhook_id.to_string();
        async move {
            let filter = hookgate::store::DeliveryFilter::latest(100);
            store.list_deliveries(&id, &filter).await.unwrap().len()
        }
    };
    let batch = json!({"events": [
        {"id": "b1", "type": "a.b", "tenant_id": "acme"},
        {"id": "b2", "type": "a.b", "tenant_id": "acme", "data": {"x": 1}},
        {"id": "b3", "type": "a.c", "tenant_id": "acme"},
    ]});
    let r = app.platform_post("/v1/events/batch", batch.clone()).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 3);
    assert!(r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["replayed"] == false));
    assert_eq!(count().await, 3);
    let again = app.platform_post("/v1/events/batch", batch).await;
    assert!(again.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["replayed"] == true));
    assert_eq!(count().await, 3, "a repeat creates nothing");

    // One bad event refuses the whole batch, naming it.
    let bad = json!({"events": [
        {"id": "b4", "type": "a.b", "tenant_id": "acme"},
        {"id": "b5", "type": "not valid", "tenant_id": "acme"},
    ]});
    let r = app.platform_post("/v1/events/batch", bad).await;
    assert_eq!(r.status, 422);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("events[1]"));
    // An unknown tenant in the middle rolls back the events before it.
    let r = app
        .platform_post(
            "/v1/events/batch",
            json!({"events": [
                {"id": "b6", "type": "a.b", "tenant_id": "acme"},
                {"id": "b7", "type": "a.b", "tenant_id": "ghost"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(count().await, 3, "nothing of a refused batch is stored");

    // An event repeated inside one batch is stored once; the repeat is its replay.
    let twice = json!({"id": "b8", "type": "a.b", "tenant_id": "acme"});
    let r = app
        .platform_post("/v1/events/batch", json!({"events": [twice, twice]}))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(
        (data[0]["replayed"].clone(), data[1]["replayed"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(
        data[1]["deliveries"], 1,
        "the replay counts the first's delivery"
    );
    assert_eq!(count().await, 4);
    // The same id with another body inside one batch is a conflict, and stores nothing.
    let r = app
        .platform_post(
            "/v1/events/batch",
            json!({"events": [
                {"id": "b9", "type": "a.b", "tenant_id": "acme"},
                {"id": "b9", "type": "a.b", "tenant_id": "acme", "data": {"other": true}},
            ]}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(count().await, 4);
}

on_both_backends!(
    a_batch_is_stored_whole_and_repeats_are_no_ops,
    same_event_id_is_published_once,
    idempotency_key_makes_a_repeat_a_no_op
);
