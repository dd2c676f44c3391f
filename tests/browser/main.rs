//! The partner portal in a real headless Chromium, on SQLite and PostgreSQL: sign-in,
//! a webhook added through the form (errors shown, nothing stored), its attempts on its
//! page, CSRF, isolation between apps, revoked keys, one-time portal links. Each page is
//! saved under `target/screenshots/`.

#[allow(dead_code, unused_macros)]
#[macro_use]
#[path = "../api/helpers.rs"]
mod helpers;

mod browser;

use browser::Browser;
use helpers::{spawn_app, Backend, TestApp, TestReceiver, PLATFORM_KEY};
use reqwest::Method;
use serde_json::json;

/// A tenant, bob's app installed for it, and a catalogue of three event types.
async fn platform(app: &TestApp) -> String {
    app.create_tenant("acme", "production").await;
    let key = app.create_app("bob-app").await;
    app.install("acme", "bob-app").await;
    for name in ["employee.created", "employee.updated", "payroll.run"] {
        let r = app
            .platform_post(
                "/v1/event-types",
                json!({"name": name, "description": format!("When {name} happens")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    key
}

async fn webhooks_of_bob(app: &TestApp) -> usize {
    app.store.list_webhooks("bob-app").await.unwrap().len()
}

async fn a_partner_signs_in_adds_a_webhook_and_sees_its_attempts(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = platform(&app).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    receiver.always(500);
    let browser = Browser::start(1100).await;
    let base = &app.base;

    // Not signed in: the portal sends you to sign in; a wrong key is refused.
    browser.goto(&format!("{base}/portal/")).await;
    assert_eq!(browser.path().await, "/portal/login");
    browser.fill("#key", "hg_app_not-a-key").await;
    browser.submit("main button[type=submit]").await;
    assert!(browser.text().await.contains("not a valid partner key"));
    browser.shot("portal-sign-in-refused").await;
    browser.fill("#key", &key).await;
    browser.submit("main button[type=submit]").await;
    assert_eq!(browser.path().await, "/portal/webhooks");
    assert!(browser.text().await.contains("No webhook yet"));

    // The form shows the API's validation message beside its field and stores nothing.
    browser.submit("a[href='/portal/webhooks/new']").await;
    browser.fill("#url", "http://user:pw@127.0.0.1:9/x").await;
    browser
        .click("input[name=event_types][value='employee.created']")
        .await;
    browser.submit("main button[type=submit]").await;
    let page = browser.text().await;
    assert!(page.contains("url must not carry credentials"), "{page}");
    assert_eq!(webhooks_of_bob(&app).await, 0);
    browser.shot("portal-webhook-form-error").await;

    // Corrected: two types from the catalogue, ticked (the first one still is).
    browser.fill("#url", &receiver.url()).await;
    browser
        .click("input[name=event_types][value='employee.updated']")
        .await;
    browser.fill("#description", "Payroll sync").await;
    browser.submit("main button[type=submit]").await;
    let stored = app.store.list_webhooks("bob-app").await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].event_types,
        ["employee.created", "employee.updated"]
    );
    let webhook_id = stored[0].id.clone();
    assert_eq!(
        browser.path().await,
        format!("/portal/webhooks/{webhook_id}")
    );

    // "Send a test" reaches the loopback listener and shows its answer.
    receiver.always(200);
    browser.submit("main form[action$='/test'] button").await;
    let page = browser.text().await;
    assert!(
        page.contains("Test sent") && page.contains("status 200"),
        "{page}"
    );
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(receiver.received()[0].json()["type"], "webhook.test");
    browser.shot("portal-webhook-test-sent").await;
    receiver.always(500);

    // The secret on request, then rotated: the page shows the new one and when the old
    // one stops signing.
    browser.submit("main form[action$='/secret'] button").await;
    let shown = |browser: &Browser| {
        let client = browser.client.clone();
        async move {
            let secret = client.find(fantoccini::Locator::Css("#secret")).await;
            secret.unwrap().text().await.unwrap()
        }
    };
    let stored = app.store.list_webhooks("bob-app").await.unwrap().remove(0);
    assert_eq!(shown(&browser).await, stored.secret);
    browser.submit("main form[action$='/rotate'] button").await;
    let rotated = app.store.list_webhooks("bob-app").await.unwrap().remove(0);
    assert_ne!(rotated.secret, stored.secret);
    assert_eq!(shown(&browser).await, rotated.secret);
    assert!(browser.text().await.contains("previous secret also signs"));
    browser.shot("portal-webhook-secret-rotated").await;

    // A failing listener's attempt appears on the webhook's page with its status.
    app.publish(json!({"type": "employee.created", "tenant_id": "acme"}))
        .await;
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);
    browser.client.refresh().await.unwrap();
    let page = browser.text().await;
    assert!(
        page.contains("http_error") && page.contains("500"),
        "{page}"
    );
    browser.shot("portal-webhook").await;
    browser.goto(&format!("{base}/portal/webhooks")).await;
    let page = browser.text().await;
    assert!(page.contains("employee.created, employee.updated") && page.contains("healthy"));
    browser.shot("portal-webhooks").await;

    // A form posted without its CSRF token is refused and changes nothing.
    browser.goto(&format!("{base}/portal/webhooks/new")).await;
    browser.fill("#url", &receiver.url()).await;
    browser
        .client
        .execute(
            "document.querySelector('main input[name=csrf]').remove()",
            vec![],
        )
        .await
        .unwrap();
    browser.submit("main button[type=submit]").await;
    let page = browser.text().await;
    assert!(
        page.contains("Forbidden") && page.contains("security token"),
        "{page}"
    );
    assert_eq!(webhooks_of_bob(&app).await, 1);

    // Another app's webhook is not found, as in the API.
    let eve_key = app.create_app("eve-app").await;
    let eve_hook = app
        .create_webhook("eve-app", &eve_key, &receiver.url(), json!({}))
        .await;
    browser
        .goto(&format!(
            "{base}/portal/webhooks/{}",
            eve_hook["id"].as_str().unwrap()
        ))
        .await;
    let page = browser.text().await;
    assert!(page.contains("Not Found"), "{page}");

    // Revoking the key the session was opened with ends the session.
    let keys = app.get("/v1/apps/bob-app/keys", PLATFORM_KEY).await;
    let key_id = keys.body["data"][0]["id"].as_str().unwrap().to_string();
    let revoked = app
        .call(
            Method::DELETE,
            &format!("/v1/apps/bob-app/keys/{key_id}"),
            Some(PLATFORM_KEY),
            None,
        )
        .await;
    assert!(revoked.status.is_success(), "{}", revoked.body);
    browser.goto(&format!("{base}/portal/webhooks")).await;
    assert_eq!(browser.path().await, "/portal/login");
    browser.client.clone().close().await.unwrap();
}

async fn a_portal_link_signs_in_once_and_sign_out_ends_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    platform(&app).await;
    let minted = app
        .platform_post("/v1/apps/bob-app/portal-links", json!({"ttl_seconds": 600}))
        .await;
    assert_eq!(minted.status, 201, "{}", minted.body);
    let link = format!("{}{}", app.base, minted.body["url"].as_str().unwrap());
    // A partner cannot mint one for itself.
    let bob_key = app.create_app("bob-2").await;
    let r = app
        .call(
            Method::POST,
            "/v1/apps/bob-2/portal-links",
            Some(&bob_key),
            None,
        )
        .await;
    assert_eq!(r.status, 403);

    let browser = Browser::start(360).await;
    // Followed from another site, as from the platform's own dashboard: the SameSite=Strict
    // cookie must still reach the portal.
    let elsewhere = format!("data:text/html,<a id=go href='{link}'>Open the webhook portal</a>");
    browser.goto(&elsewhere).await;
    browser.click("#go").await;
    browser.wait_for_path("/portal/webhooks").await;
    assert!(browser.text().await.contains("No webhook yet"));
    browser.shot("portal-webhooks-phone").await;
    browser.submit("button.link").await;
    assert_eq!(browser.path().await, "/portal/login");
    browser.goto(&format!("{}/portal/webhooks", app.base)).await;
    assert_eq!(browser.path().await, "/portal/login", "signed out for good");

    browser.goto(&link).await;
    assert!(browser.text().await.contains("expired or was already used"));
    browser.shot("portal-link-used").await;
    browser.client.clone().close().await.unwrap();
}

on_both_backends!(
    a_partner_signs_in_adds_a_webhook_and_sees_its_attempts,
    a_portal_link_signs_in_once_and_sign_out_ends_the_session,
);
