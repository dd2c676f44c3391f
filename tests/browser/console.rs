//! The platform console in a real headless Chromium: sign-in with the platform key, the
//! catalogue, a tenant, an app with its key shown once, an installation, a test event
//! published through the form and received, a tenant's and an app's pages (edit,
//! delete, both refused when the API refuses), a portal link minted and followed, CSRF,
//! the overview of a deactivated webhook.

use std::time::Duration;

use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{spawn_app, Backend, TestReceiver, PLATFORM_KEY};

async fn sign_in(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/console/")).await;
    assert_eq!(browser.path().await, "/console/login");
    browser.fill("#key", PLATFORM_KEY).await;
    browser.submit("main form.card button[type=submit]").await;
    assert_eq!(browser.path().await, "/console/");
}

/// Empties the token of the page's first `main form`, as a forged form would come.
async fn drop_csrf(browser: &Browser) {
    browser
        .client
        .execute(
            "document.querySelector('main form input[name=csrf]').value = ''",
            vec![],
        )
        .await
        .unwrap();
}

pub async fn the_console_sets_up_a_partner_and_publishes_a_test_event(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    let browser = Browser::start(1100).await;
    let base = &app.base;

    // A wrong key is refused; the platform key signs in.
    browser.goto(&format!("{base}/console/login")).await;
    browser.fill("#key", "not-the-platform-key").await;
    browser.submit("main form.card button[type=submit]").await;
    assert!(browser.text().await.contains("not the platform key"));
    browser.shot("console-sign-in-refused").await;
    sign_in(&browser, base).await;
    let page = browser.text().await;
    assert!(page.contains("Every webhook is healthy"), "{page}");
    browser.shot("console-overview-empty").await;

    // The catalogue: a bad name is refused with the API's message and nothing stored.
    browser
        .submit("header a[href='/console/event-types']")
        .await;
    browser.fill("#name", "employee created").await;
    browser.submit("main form.card button[type=submit]").await;
    assert!(browser
        .text()
        .await
        .contains("name must be dot-separated segments"));
    assert!(app.store.list_event_types().await.unwrap().is_empty());
    browser.fill("#name", "employee.created").await;
    browser.fill("#description", "A person joined").await;
    browser.fill("#example", r#"{"employee_id": "e-1"}"#).await;
    browser.submit("main form.card button[type=submit]").await;
    let declared = app.store.get_event_type("employee.created").await.unwrap();
    assert_eq!(
        declared.expect("declared").example,
        Some(json!({"employee_id": "e-1"}))
    );
    browser.shot("console-event-types").await;

    // A tenant; a form without its CSRF token is refused and stores nothing.
    browser.submit("header a[href='/console/tenants']").await;
    browser.fill("#id", "acme").await;
    browser.fill("#name", "Acme Corp").await;
    drop_csrf(&browser).await;
    browser.submit("main form.card button[type=submit]").await;
    assert!(browser.text().await.contains("missing its security token"));
    assert!(app.store.list_tenants().await.unwrap().is_empty());
    browser.goto(&format!("{base}/console/tenants")).await;
    browser.fill("#id", "acme").await;
    browser.fill("#name", "Acme Corp").await;
    browser.submit("main form.card button[type=submit]").await;
    assert!(browser.text().await.contains("Acme Corp"));
    // The same id again: the API's conflict, on the page.
    browser.fill("#id", "acme").await;
    browser.fill("#name", "Acme again").await;
    browser.submit("main form.card button[type=submit]").await;
    let page = browser.text().await;
    assert!(page.contains("a tenant with this id exists"), "{page}");
    assert_eq!(app.store.list_tenants().await.unwrap().len(), 1);
    browser.shot("console-tenants").await;

    // An app: its partner key is shown once, and it works.
    browser.submit("header a[href='/console/apps']").await;
    browser.fill("#id", "bob-app").await;
    browser.fill("#name", "Bob's payroll").await;
    browser.submit("main form.card button[type=submit]").await;
    let key = browser.text_of("#partner-key").await;
    assert_eq!(app.get("/v1/apps/bob-app", &key).await.status, 200);
    browser.shot("console-app-created").await;

    // The partner adds its listener; the platform installs the app for the tenant.
    app.create_webhook("bob-app", &key, &receiver.url(), json!({}))
        .await;
    browser
        .submit("header a[href='/console/installations']")
        .await;
    browser.submit("main form.card button[type=submit]").await;
    let installed = app.store.list_installations(None, None).await.unwrap();
    assert_eq!(installed.len(), 1);
    assert_eq!(
        (
            installed[0].tenant_id.as_str(),
            installed[0].app_id.as_str()
        ),
        ("acme", "bob-app")
    );
    browser.shot("console-installations").await;

    // A test event from the form reaches the partner's listener, with its tenant.
    browser.submit("header a[href='/console/publish']").await;
    browser.fill("#event_type", "employee.created").await;
    browser.fill("#data", r#"{"employee_id": "e-42"}"#).await;
    browser.submit("main form.card button[type=submit]").await;
    let page = browser.text().await;
    assert!(page.contains("1 deliveries"), "{page}");
    browser.shot("console-published").await;
    while !app.dispatcher.run_once().await.unwrap().is_empty() {}
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    let body = received[0].json();
    assert_eq!(body["tenant"]["id"], "acme");
    assert_eq!(body["data"]["employee_id"], "e-42");
    // Data that is not JSON is refused on the page; nothing is published.
    browser.fill("#data", "{not json").await;
    browser.submit("main form.card button[type=submit]").await;
    assert!(browser.text().await.contains("data is not JSON"));
    while !app.dispatcher.run_once().await.unwrap().is_empty() {}
    assert_eq!(receiver.received().len(), 1);

    // Uninstalled: the next event reaches nobody.
    browser.goto(&format!("{base}/console/installations")).await;
    browser
        .submit("main button[aria-label='Uninstall bob-app for acme']")
        .await;
    assert!(browser.text().await.contains("revoked"));
    browser.goto(&format!("{base}/console/publish")).await;
    browser.fill("#event_type", "employee.created").await;
    browser.submit("main form.card button[type=submit]").await;
    assert!(browser.text().await.contains("0 deliveries"));

    // An app's own page: an edit the API refuses (another app's OAuth client) is shown
    // and stores nothing; a valid one is stored. Its webhook keeps it from deletion; an
    // app with nothing is deleted.
    let eve = app
        .platform_post(
            "/v1/apps",
            json!({"id": "eve-app", "name": "Eve", "oauth_client_id": "eve-client"}),
        )
        .await;
    assert_eq!(eve.status, 201, "{}", eve.body);
    browser.goto(&format!("{base}/console/apps")).await;
    browser.submit("main a[href='/console/apps/bob-app']").await;
    browser.fill("#name", "Bob's payroll v2").await;
    browser.fill("#oauth_client_id", "eve-client").await;
    browser.submit("main form.card button[type=submit]").await;
    let refusal = browser.text_of("#edit").await;
    assert!(
        refusal.contains("another app has this OAuth client id"),
        "{refusal}"
    );
    let bob = app.store.get_app("bob-app").await.unwrap().unwrap();
    assert_eq!(bob.name, "Bob's payroll");
    assert_eq!(bob.oauth_client_id, None);
    browser.shot("console-app-edit-refused").await;
    browser.fill("#oauth_client_id", "bob-client").await;
    browser.submit("main form.card button[type=submit]").await;
    assert_eq!(browser.path().await, "/console/apps");
    let bob = app.store.get_app("bob-app").await.unwrap().unwrap();
    assert_eq!(bob.name, "Bob's payroll v2");
    assert_eq!(bob.oauth_client_id.as_deref(), Some("bob-client"));
    browser.submit("main a[href='/console/apps/bob-app']").await;
    browser.submit("main button.danger").await;
    let refusal = browser.text_of("#delete").await;
    assert!(
        refusal.contains("the app still has installations or webhooks"),
        "{refusal}"
    );
    assert!(app.store.get_app("bob-app").await.unwrap().is_some());
    browser.goto(&format!("{base}/console/apps/eve-app")).await;
    browser.submit("main button.danger").await;
    assert_eq!(browser.path().await, "/console/apps");
    assert!(app.store.get_app("eve-app").await.unwrap().is_none());

    // A tenant's own page: renamed and moved to development; its events keep it from
    // deletion; a tenant with nothing is deleted.
    browser.goto(&format!("{base}/console/tenants")).await;
    browser.submit("main a[href='/console/tenants/acme']").await;
    browser.fill("#name", "Acme Group").await;
    browser
        .click("#environment option[value=development]")
        .await;
    browser.submit("main form.card button[type=submit]").await;
    assert_eq!(browser.path().await, "/console/tenants");
    let acme = app.store.get_tenant("acme").await.unwrap().unwrap();
    assert_eq!(acme.name, "Acme Group");
    assert_eq!(acme.environment.as_str(), "development");
    browser.goto(&format!("{base}/console/tenants/acme")).await;
    browser.submit("main button.danger").await;
    let refusal = browser.text_of("#delete").await;
    assert!(
        refusal.contains("the tenant still has events or installations"),
        "{refusal}"
    );
    browser.shot("console-tenant-delete-refused").await;
    app.create_tenant("empty-co", "production").await;
    browser
        .goto(&format!("{base}/console/tenants/empty-co"))
        .await;
    browser.submit("main button.danger").await;
    assert_eq!(browser.path().await, "/console/tenants");
    assert!(app.store.get_tenant("empty-co").await.unwrap().is_none());
    assert!(app.store.get_tenant("acme").await.unwrap().is_some());

    // A portal link minted here signs this browser in to the portal as the app, once.
    browser.goto(&format!("{base}/console/apps")).await;
    browser
        .submit("main button[aria-label='Mint a portal link for bob-app']")
        .await;
    browser.shot("console-portal-link").await;
    browser.submit("#portal-link").await;
    browser.wait_for_path("/portal/webhooks").await;
    assert!(browser.text().await.contains(&receiver.url()));

    // Signing out of the console ends its session.
    browser.goto(&format!("{base}/console/")).await;
    browser.submit("header button.link").await;
    assert_eq!(browser.path().await, "/console/login");
    browser.goto(&format!("{base}/console/tenants")).await;
    assert_eq!(browser.path().await, "/console/login");
    browser.client.clone().close().await.unwrap();
}

/// The overview after the mission's three hours: the deactivated webhook across apps,
/// with its warning sent, the partner's failing notification endpoint, and the
/// notifications.
/// At a desk's width, then at a phone's: every console page fits 360 px, its tables
/// scrolling in their own box.
pub async fn the_console_overview_shows_a_deactivated_webhook(app: &crate::helpers::TestApp) {
    for (width, suffix) in [(1100, ""), (360, "-phone")] {
        let browser = Browser::start(width).await;
        sign_in(&browser, &app.base).await;
        let attention = browser.text_of("#attention").await;
        assert!(
            attention.contains("bob-app") && attention.contains("deactivated"),
            "{attention}"
        );
        let failing = browser.text_of("#failing-destinations").await;
        assert!(
            failing.contains("bob-app") && failing.contains("HTTP 500"),
            "{failing}"
        );
        let notifications = browser.text_of("#notifications").await;
        assert!(
            notifications.contains("warning") && notifications.contains("deactivation"),
            "{notifications}"
        );
        // One instance sending everything (SQLite), or the instances listed (PostgreSQL).
        let instances = browser.text_of("#instances").await;
        assert!(
            instances.contains("One instance sends") || instances.contains("Listeners owned"),
            "{instances}"
        );
        browser.assert_fits_width().await;
        browser
            .shot(&format!("console-overview-deactivated{suffix}"))
            .await;
        if width == 360 {
            let pages = [
                "tenants",
                "tenants/acme",
                "apps",
                "apps/bob-app",
                "installations",
                "event-types",
                "publish",
            ];
            for page in pages {
                browser.goto(&format!("{}/console/{page}", app.base)).await;
                browser.assert_fits_width().await;
                let name = page.replace('/', "-");
                browser.shot(&format!("console-phone-{name}")).await;
            }
        }
        browser.client.clone().close().await.unwrap();
    }
}

/// The overview's instances on PostgreSQL: two instances beating (through the store, as
/// their ownership loops do), one holding the only webhook's lease. Each is listed with
/// its last heartbeat and the listeners it owns, at a desk's width and a phone's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_the_instances_and_the_listeners_each_owns() {
    use hookgate::clock::Clock;

    let app = spawn_app(Backend::Postgres).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let webhook = webhook["id"].as_str().unwrap().to_string();
    let now = app.clock.now();
    let (owner, other) = ("hookgate-7f3kq2mz", "hookgate-b81xw0re");
    app.store
        .beat(owner, now - chrono::Duration::minutes(5), now)
        .await
        .unwrap();
    app.store
        .beat(
            other,
            now - chrono::Duration::seconds(40),
            now - chrono::Duration::milliseconds(1_500),
        )
        .await
        .unwrap();
    let leases = app
        .store
        .take_ownership(owner, &[webhook], now, now + chrono::Duration::seconds(6))
        .await
        .unwrap();
    assert_eq!(leases.len(), 1);

    for (width, suffix) in [(1100, ""), (360, "-phone")] {
        let browser = Browser::start(width).await;
        sign_in(&browser, &app.base).await;
        let rows = browser.texts_of("#instances tbody tr").await;
        assert_eq!(rows.len(), 2, "{rows:?}");
        let row = |id: &str| rows.iter().find(|r| r.contains(id)).cloned().unwrap();
        assert!(row(owner).contains("0.0 s ago"), "{rows:?}");
        assert!(row(other).contains("1.5 s ago"), "{rows:?}");
        // The owned count is the row's third cell.
        let owned = browser
            .texts_of("#instances tbody tr td:nth-child(3)")
            .await;
        let mut owned: Vec<i64> = owned.iter().map(|c| c.trim().parse().unwrap()).collect();
        owned.sort();
        assert_eq!(owned, [0, 1], "{rows:?}");
        browser.assert_fits_width().await;
        browser
            .shot(&format!("console-overview-instances{suffix}"))
            .await;
        browser.client.clone().close().await.unwrap();
    }
}
