//! A partner manages a webhook in the portal: edits it (custom headers, retry policy, rate
//! limit; a bad header refused beside its field), filters its attempts by tenant and event
//! type, reads a delivery's request headers with secrets masked, replays the failed ones
//! and deletes it. Every portal page is also opened at 360 px and must not overflow.

use std::time::Duration;

use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{spawn_app, Backend, TestApp, TestReceiver};

async fn sign_in(browser: &Browser, base: &str, key: &str) {
    browser.goto(&format!("{base}/portal/login")).await;
    browser.fill("#key", key).await;
    browser.submit("main button[type=submit]").await;
    assert_eq!(browser.path().await, "/portal/webhooks");
}

async fn drain(app: &TestApp) {
    while !app.dispatcher.run_once().await.unwrap().is_empty() {}
}

pub async fn a_partner_edits_filters_replays_and_deletes(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = crate::platform(&app).await;
    app.create_tenant("globex", "production").await;
    app.install("globex", "bob-app").await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    receiver.always(500);
    // bindbee: an HTTP error fails the delivery for good, ready to replay.
    let webhook = app
        .create_webhook(
            "bob-app",
            &key,
            &receiver.url(),
            json!({"retry_policy": "bindbee"}),
        )
        .await;
    let id = webhook["id"].as_str().unwrap().to_string();
    for (kind, tenant) in [
        ("employee.created", "acme"),
        ("payroll.run", "acme"),
        ("employee.created", "globex"),
    ] {
        let r = app
            .publish(json!({"type": kind, "tenant_id": tenant}))
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
    }
    drain(&app).await;
    assert_eq!(receiver.received().len(), 3);

    let browser = Browser::start(1100).await;
    let base = &app.base;
    sign_in(&browser, base, &key).await;
    browser.goto(&format!("{base}/portal/webhooks/{id}")).await;
    browser.submit("main a[href$='/edit']").await;
    assert!(browser.text().await.contains("Delete this webhook"));

    // A header line without its colon: the message beside the field, nothing changed.
    let before = app.store.get_webhook("bob-app", &id).await.unwrap();
    browser.fill("#headers", "X-Partner-Token s3cr3t").await;
    browser.submit("main form.card button[type=submit]").await;
    let page = browser.text().await;
    assert!(page.contains("is not 'Name: value'"), "{page}");
    assert!(browser
        .client
        .find(fantoccini::Locator::Css("#headers-error"))
        .await
        .is_ok());
    assert_eq!(app.store.get_webhook("bob-app", &id).await.unwrap(), before);
    browser.shot("portal-webhook-edit-error").await;

    // Corrected, with custom retries and a rate limit.
    browser.fill("#headers", "X-Partner-Token: s3cr3t").await;
    browser
        .click("input[name=retry_policy][value=custom]")
        .await;
    browser.fill("#retry_offsets", "30, 300").await;
    browser.fill("#rate_limit_per_second", "5").await;
    browser.click("input[name=ordering][value=per_key]").await;
    browser.shot("portal-webhook-edit-order").await;
    browser.submit("main form.card button[type=submit]").await;
    assert_eq!(browser.path().await, format!("/portal/webhooks/{id}"));
    let saved = app
        .store
        .get_webhook("bob-app", &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.headers["x-partner-token"], "s3cr3t");
    assert_eq!(saved.retry_policy.offsets_seconds, vec![30, 300]);
    assert_eq!(saved.rate_limit_per_second, Some(5));
    assert_eq!(saved.ordering, hookgate::model::Ordering::PerKey);
    assert_eq!(saved.url, before.unwrap().url, "the rest is unchanged");

    // Attempts filtered by tenant, then by event type.
    let attempts = format!("{base}/portal/webhooks/{id}/attempts");
    browser.goto(&format!("{attempts}?tenant_id=globex")).await;
    let rows = browser
        .client
        .find_all(fantoccini::Locator::Css("main table tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "globex has one attempt");
    browser.fill("#tenant_id", "").await;
    browser.fill("#event_type", "employee.created").await;
    browser.submit("main form.card button[type=submit]").await;
    let rows = browser
        .client
        .find_all(fantoccini::Locator::Css("main table tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "two employee.created attempts");
    browser.shot("portal-attempts-filtered").await;

    // A delivery's request headers: the real names, the secrets masked.
    browser.submit("main table td a").await;
    let headers = browser.text_of("#request-headers").await;
    assert!(
        headers.contains("webhook-signature") && headers.contains("x-partner-token"),
        "{headers}"
    );
    assert!(!headers.contains("s3cr3t"), "{headers}");
    assert!(!browser.text().await.contains(&saved.secret));
    browser.shot("portal-delivery-headers").await;

    // "Replay failed since…" (a day ago by default) queues the three again.
    receiver.always(200);
    browser.goto(&format!("{base}/portal/webhooks/{id}")).await;
    browser.submit("main form[action$='/replay'] button").await;
    let page = browser.text().await;
    assert!(page.contains("3 failed deliveries queued again"), "{page}");
    drain(&app).await;
    receiver.wait_for(6, Duration::from_secs(10)).await;
    assert_eq!(receiver.received().len(), 6);
    browser.shot("portal-replayed").await;

    every_page_fits_a_phone(&app, &key, &id).await;

    // Deleted: gone from the list and the store.
    browser
        .goto(&format!("{base}/portal/webhooks/{id}/edit"))
        .await;
    browser.submit("main form[action$='/delete'] button").await;
    assert_eq!(browser.path().await, "/portal/webhooks");
    assert!(browser.text().await.contains("No webhook yet"));
    assert!(app.store.list_webhooks("bob-app").await.unwrap().is_empty());
    browser.goto(&format!("{base}/portal/no-such-page")).await;
    assert!(browser.text().await.contains("No such page"));
    browser.client.clone().close().await.unwrap();
}

/// Opens every portal page at 360 px: none may be wider than the screen (tables scroll
/// inside their own box).
async fn every_page_fits_a_phone(app: &TestApp, key: &str, id: &str) {
    let phone = Browser::start(360).await;
    sign_in(&phone, &app.base, key).await;
    let delivery = app.attempts(id).await.remove(0).delivery_id;
    for (path, name) in [
        ("/portal/webhooks".to_string(), "list"),
        ("/portal/webhooks/new".to_string(), "new"),
        (format!("/portal/webhooks/{id}"), "webhook"),
        (format!("/portal/webhooks/{id}/edit"), "edit"),
        (format!("/portal/webhooks/{id}/attempts"), "attempts"),
        (
            format!("/portal/webhooks/{id}/deliveries/{delivery}"),
            "delivery",
        ),
        ("/portal/keys".to_string(), "keys"),
    ] {
        phone.goto(&format!("{}{path}", app.base)).await;
        phone.assert_fits_width().await;
        phone.shot(&format!("portal-phone-{name}")).await;
    }
    phone.client.clone().close().await.unwrap();
}
