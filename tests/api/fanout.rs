//! Fan-in from many tenants, fan-out to the webhooks of the apps each tenant installed.

use serde_json::json;

use crate::helpers::{spawn_app, Backend, TestReceiver, PLATFORM_KEY};

async fn only_installed_apps_in_the_same_environment_with_matching_types(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let url = receiver.url();
    app.create_tenant("acme", "production").await;
    app.create_tenant("globex", "production").await;
    app.create_tenant("sandbox", "development").await;
    let bob = app.create_app("bob").await;
    let other = app.create_app("other").await;
    app.install("acme", "bob").await;
    app.install("globex", "bob").await;
    app.install("sandbox", "bob").await;
    // `other` is installed nowhere.
    app.create_webhook("other", &other, &url, json!({})).await;

    let all = app.create_webhook("bob", &bob, &url, json!({})).await;
    let employees = app
        .create_webhook("bob", &bob, &url, json!({"event_types": ["employee.*"]}))
        .await;
    let dev = app
        .create_webhook("bob", &bob, &url, json!({"environment": "development"}))
        .await;

    let count = |r: crate::helpers::Reply| r.body["deliveries"].as_i64().unwrap();
    assert_eq!(
        count(
            app.publish(json!({"type": "employee.created", "tenant_id": "acme"}))
                .await
        ),
        2
    );
    assert_eq!(
        count(
            app.publish(json!({"type": "payroll.run", "tenant_id": "globex"}))
                .await
        ),
        1
    );
    assert_eq!(
        count(
            app.publish(json!({"type": "employee.left", "tenant_id": "sandbox"}))
                .await
        ),
        1
    );

    let per_webhook = |w: &serde_json::Value| {
        let store = app.store.clone();
        let id = w["id"].as_str().unwrap().to_string();
        async move {
            store
                .list_deliveries(&id, &hookgate::store::DeliveryFilter::latest(100))
                .await
                .unwrap()
        }
    };
    let all_deliveries = per_webhook(&all).await;
    assert_eq!(all_deliveries.len(), 2);
    let mut tenants: Vec<_> = all_deliveries.iter().map(|d| d.tenant_id.clone()).collect();
    tenants.sort();
    assert_eq!(
        tenants,
        ["acme", "globex"],
        "one listener receives every production tenant"
    );
    assert_eq!(per_webhook(&employees).await.len(), 1);
    let dev_deliveries = per_webhook(&dev).await;
    assert_eq!(dev_deliveries.len(), 1);
    assert_eq!(dev_deliveries[0].tenant_id, "sandbox");

    // Everything sent carries its tenant so the partner can map it.
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 4);
    let tenants_seen: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["tenant"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tenants_seen.len(), 4);
    assert!(tenants_seen
        .iter()
        .all(|t| ["acme", "globex", "sandbox"].contains(&t.as_str())));
}

async fn uninstalling_stops_new_deliveries_and_keeps_history(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let webhook_id = webhook["id"].as_str().unwrap();
    let installation = app.installation_id("acme", Some("bob-app")).await;

    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    let r = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/installations/{installation}"),
            Some(PLATFORM_KEY),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["state"], "revoked");

    let r = app
        .publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.body["deliveries"], 0);
    let r = app
        .get(
            &format!("/v1/apps/bob-app/webhooks/{webhook_id}/deliveries"),
            &key,
        )
        .await;
    assert_eq!(
        r.body["data"].as_array().unwrap().len(),
        1,
        "history stays readable"
    );

    // Installing again re-activates the same installation.
    let r = app
        .platform_post(
            "/v1/installations",
            json!({"tenant_id": "acme", "app_id": "bob-app"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], installation.as_str());
    assert_eq!(
        app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
            .await
            .body["deliveries"],
        1
    );
}

async fn webhooks_per_app_are_limited(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.create_app("bob").await;
    for _ in 0..10 {
        app.create_webhook("bob", &key, "https://hooks.example.com/x", json!({}))
            .await;
    }
    let r = app
        .call(
            reqwest::Method::POST,
            "/v1/apps/bob/webhooks",
            Some(&key),
            Some(json!({"url": "https://hooks.example.com/11"})),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["error"]["code"], "conflict");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("limit is 10"));
    assert_eq!(app.store.list_webhooks("bob").await.unwrap().len(), 10);
}

on_both_backends!(
    only_installed_apps_in_the_same_environment_with_matching_types,
    uninstalling_stops_new_deliveries_and_keeps_history,
    webhooks_per_app_are_limited,
);
