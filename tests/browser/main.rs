//! The partner portal and the platform console (`console.rs`) in a real headless Chromium, on SQLite and PostgreSQL: sign-in,
//! a webhook added through the form (errors shown, nothing stored), its attempts on its
//! page, CSRF, isolation between apps, revoked keys, one-time portal links. Each page is
//! saved under `target/screenshots/`.

#[allow(dead_code, unused_macros)]
#[macro_use]
#[path = "../api/helpers.rs"]
mod helpers;

#[allow(dead_code)]
#[path = "../api/moto.rs"]
mod moto;

mod browser;
mod console;
mod destinations;
mod headers;
mod hostile_forms;
mod portal_manage;

use browser::Browser;
use console::the_console_sets_up_a_partner_and_publishes_a_test_event;
use destinations::a_partner_adds_destinations_and_tests_them;
use headers::{
    a_framed_page_is_not_rendered, named_sites_may_frame_the_pages,
    pages_cannot_be_framed_sniffed_or_cached,
};
use helpers::{spawn_app, Backend, TestApp, TestReceiver, PLATFORM_KEY};
use hostile_forms::hostile_forms_are_refused_without_change;
use portal_manage::a_partner_edits_filters_replays_and_deletes;
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

    // The attempt log filters by outcome; a bad filter is a clear error, not a 500.
    let log = format!("{base}/portal/webhooks/{webhook_id}/attempts");
    browser.goto(&format!("{log}?outcome=success")).await;
    assert!(browser.text().await.contains("No attempt."));
    browser.goto(&format!("{log}?outcome=http_error")).await;
    assert!(browser.text().await.contains("500"));
    browser.shot("portal-attempts").await;
    browser.goto(&format!("{log}?outcome=nonsense")).await;
    assert!(browser.text().await.contains("outcome must be"));
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

    // Keys: a new one is shown once and works; revoked from its row, it stops working.
    browser.goto(&format!("{base}/portal/keys")).await;
    browser
        .submit("main form[action='/portal/keys'] button")
        .await;
    let new_key = browser
        .client
        .find(fantoccini::Locator::Css("#new-key"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(app.get("/v1/apps/bob-app", &new_key).await.status, 200);
    browser.shot("portal-keys").await;
    let prefix: String = new_key.chars().take(11).collect();
    browser
        .submit(&format!("main button[aria-label='Revoke {prefix}']"))
        .await;
    assert!(browser.text().await.contains("revoked"));
    assert_eq!(app.get("/v1/apps/bob-app", &new_key).await.status, 401);

    // Revoking the key the session was opened with ends the session.
    let keys = app.get("/v1/apps/bob-app/keys", PLATFORM_KEY).await;
    let signed_in_with = keys.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| key.starts_with(k["prefix"].as_str().unwrap()))
        .unwrap();
    let key_id = signed_in_with["id"].as_str().unwrap().to_string();
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

/// The mission's end to end: a listener failing for three hours is deactivated; its
/// partner sees the state and the chart in the portal, reactivates with replay, and the
/// deliveries held meanwhile reach the listener.
async fn a_deactivated_webhook_is_shown_with_its_chart_and_reactivated(backend: Backend) {
    use hookgate::clock::Clock;
    let app = spawn_app(backend).await;
    let key = platform(&app).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    receiver.always(500);
    let webhook = app
        .create_webhook("bob-app", &key, &receiver.url(), json!({}))
        .await;
    let webhook_id = webhook["id"].as_str().unwrap().to_string();
    // Its notifications go to an endpoint that fails too: the console lists it.
    let r = app
        .call(
            Method::POST,
            "/v1/apps/bob-app/notification-destinations",
            Some(&key),
            Some(json!({"type": "https", "url": receiver.url()})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let t0 = app.clock.now();
    for minute in (0..=210).step_by(30) {
        app.clock.set(t0 + chrono::Duration::minutes(minute));
        app.publish(json!({"type": "employee.created", "tenant_id": "acme"}))
            .await;
        while !app.dispatcher.run_once().await.unwrap().is_empty() {}
        if minute > 0 {
            app.evaluator.tick().await.unwrap();
        }
    }
    let stored = app.store.list_webhooks("bob-app").await.unwrap().remove(0);
    assert_eq!(stored.state, hookgate::model::WebhookState::Deactivated);
    assert_eq!(app.relay.run_once().await.unwrap().failed, 1);
    let before = receiver.received().len();
    console::the_console_overview_shows_a_deactivated_webhook(&app).await;

    let browser = Browser::start(1100).await;
    browser.goto(&format!("{}/portal/login", app.base)).await;
    browser.fill("#key", &key).await;
    browser.submit("main button[type=submit]").await;
    browser
        .goto(&format!("{}/portal/webhooks/{webhook_id}", app.base))
        .await;
    let page = browser.text().await;
    assert!(
        page.contains("deactivated") && page.contains("a warning was sent"),
        "{page}"
    );
    let bars = browser
        .client
        .find_all(fantoccini::Locator::Css("svg.chart rect.attempts"))
        .await
        .unwrap();
    assert!(
        bars.len() >= 6,
        "one bar per window with attempts: {}",
        bars.len()
    );
    assert!(browser
        .client
        .find(fantoccini::Locator::Css("svg.chart line.threshold"))
        .await
        .is_ok());
    browser
        .client
        .execute(
            "document.querySelector('svg.chart').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    browser.shot("portal-health-deactivated").await;
    let sent = browser.text_of("#notifications").await;
    assert!(
        sent.contains("warning") && sent.contains("deactivation"),
        "{sent}"
    );
    // The app's notifications page: both, each with its window, linked to the webhook.
    browser
        .submit("header a[href='/portal/notifications']")
        .await;
    let table = browser.text_of("#notifications").await;
    assert!(
        table.contains("warning") && table.contains("deactivation"),
        "{table}"
    );
    assert!(table.contains("attempts failed"), "{table}");
    assert!(browser
        .client
        .find(fantoccini::Locator::Css(&format!(
            "#notifications a[href='/portal/webhooks/{webhook_id}']"
        )))
        .await
        .is_ok());
    browser.shot("portal-notifications").await;
    // At a phone's width it fits; another app's partner sees none of them.
    let eve_key = app.create_app("eve-app").await;
    let phone = Browser::start(360).await;
    for (key, sees_them) in [(key.as_str(), true), (eve_key.as_str(), false)] {
        phone.goto(&format!("{}/portal/login", app.base)).await;
        phone.fill("#key", key).await;
        phone.submit("main button[type=submit]").await;
        phone
            .goto(&format!("{}/portal/notifications", app.base))
            .await;
        phone.assert_fits_width().await;
        let page = phone.text().await;
        let table = phone
            .client
            .find(fantoccini::Locator::Css("#notifications"))
            .await;
        assert_eq!(table.is_ok(), sees_them, "{page}");
        if sees_them {
            phone.shot("portal-phone-notifications").await;
        } else {
            assert!(page.contains("None sent"), "{page}");
        }
        phone.submit("header button.link").await;
    }
    phone.client.clone().close().await.unwrap();
    browser
        .goto(&format!("{}/portal/webhooks/{webhook_id}", app.base))
        .await;

    receiver.always(200);
    browser
        .submit("main form[action$='/reactivate'] button")
        .await;
    let page = browser.text().await;
    assert!(page.contains("Reactivated"), "{page}");
    browser.shot("portal-reactivated").await;
    while !app.dispatcher.run_once().await.unwrap().is_empty() {}
    let after = receiver.received();
    assert!(after.len() > before, "the held deliveries arrived");
    let released: usize = page
        .split(" held deliveries released")
        .next()
        .and_then(|s| s.rsplit(char::is_whitespace).next())
        .and_then(|n| n.parse().ok())
        .expect("the page says how many were released");
    assert_eq!(after.len() - before, released, "{page}");

    // A delivered delivery's page, from the log: "Resend" sends it once more.
    browser
        .goto(&format!(
            "{}/portal/webhooks/{webhook_id}/attempts?outcome=success",
            app.base
        ))
        .await;
    browser.submit("main table td a").await;
    assert!(browser.text().await.contains("delivered"));
    browser.submit("main form[action$='/resend'] button").await;
    assert!(browser.text().await.contains("Queued again"));
    browser.shot("portal-delivery-resent").await;
    while !app.dispatcher.run_once().await.unwrap().is_empty() {}
    assert_eq!(receiver.received().len(), after.len() + 1);
    browser.client.clone().close().await.unwrap();
}

/// The value of `name="csrf"` in a page.
fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker).expect("a form with its token") + marker.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// The `name=value` of a `Set-Cookie` answer.
fn cookie_of(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

/// Without a browser: a partner's session reaches none of another app's webhooks through
/// any portal action, with a valid CSRF token and all.
async fn a_portal_session_cannot_act_on_another_apps_webhook(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = platform(&app).await;
    let eve_key = app.create_app("eve-app").await;
    let eve_hook = app
        .create_webhook("eve-app", &eve_key, "http://127.0.0.1:9/x", json!({}))
        .await;
    let eve_id = eve_hook["id"].as_str().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = &app.base;
    let login = http
        .get(format!("{base}/portal/login"))
        .send()
        .await
        .unwrap();
    let login_cookie = cookie_of(&login, "hg_portal_login");
    let csrf = csrf_in(&login.text().await.unwrap());
    let signed_in = http
        .post(format!("{base}/portal/login"))
        .header("cookie", &login_cookie)
        .form(&[("key", key.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let session = cookie_of(&signed_in, "hg_portal");
    let page = http
        .get(format!("{base}/portal/webhooks"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let csrf = csrf_in(&page.text().await.unwrap());
    let before = app.store.list_webhooks("eve-app").await.unwrap();
    for action in ["test", "secret", "rotate", "reactivate"] {
        let r = http
            .post(format!("{base}/portal/webhooks/{eve_id}/{action}"))
            .header("cookie", &session)
            .form(&[("csrf", csrf.as_str()), ("held", "replay")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{action}");
        let body = r.text().await.unwrap();
        assert!(
            !body.contains(&before[0].secret),
            "{action} leaked the secret"
        );
    }
    assert_eq!(app.store.list_webhooks("eve-app").await.unwrap(), before);
}

on_both_backends!(
    a_portal_session_cannot_act_on_another_apps_webhook,
    a_deactivated_webhook_is_shown_with_its_chart_and_reactivated,
    a_partner_signs_in_adds_a_webhook_and_sees_its_attempts,
    a_portal_link_signs_in_once_and_sign_out_ends_the_session,
    the_console_sets_up_a_partner_and_publishes_a_test_event,
    a_partner_edits_filters_replays_and_deletes,
    hostile_forms_are_refused_without_change,
    pages_cannot_be_framed_sniffed_or_cached,
    named_sites_may_frame_the_pages,
    a_framed_page_is_not_rendered,
    a_partner_adds_destinations_and_tests_them,
);
