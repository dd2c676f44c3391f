//! The hostile corpus of the portal's and the console's forms
//! (`tests/corpus/hostile_forms.jsonl`), posted without a browser by a signed-in partner
//! and operator with valid CSRF tokens unless the case says otherwise: every one is
//! refused with a 4xx (or, signed out, sent to sign in), none is a 5xx, and together they
//! change nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, TestApp, PLATFORM_KEY};
use crate::{cookie_of, csrf_in};

const CORPUS: &str = include_str!("../corpus/hostile_forms.jsonl");

/// A session cookie and its CSRF token, signed in through `area`'s own form.
pub(crate) async fn signed_in(
    app: &TestApp,
    http: &reqwest::Client,
    area: &str,
    key: &str,
) -> (String, String) {
    let base = &app.base;
    let login = http
        .get(format!("{base}/{area}/login"))
        .send()
        .await
        .unwrap();
    let login_cookie = cookie_of(&login, &format!("hg_{area}_login"));
    let csrf = csrf_in(&login.text().await.unwrap());
    let signed_in = http
        .post(format!("{base}/{area}/login"))
        .header("cookie", &login_cookie)
        .form(&[("key", key), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303, "{area} sign-in");
    let session = cookie_of(&signed_in, &format!("hg_{area}"));
    let home = if area == "portal" {
        "/portal/webhooks"
    } else {
        "/console/"
    };
    let page = http
        .get(format!("{base}{home}"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    (session, csrf_in(&page.text().await.unwrap()))
}

async fn everything(app: &TestApp) -> Value {
    json!({
        "rows": app.snapshot().await,
        "event_types": app.store.list_event_types().await.unwrap(),
    })
}

pub async fn hostile_forms_are_refused_without_change(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.allow_insecure_targets = false;
        s.allow_private_targets = false;
    })
    .await;
    app.create_tenant("acme", "production").await;
    let bob = app.create_app("bob").await;
    let eve = app.create_app("eve").await;
    app.install("acme", "bob").await;
    let webhook = app
        .create_webhook("bob", &bob, "https://hooks.example.com/bob", json!({}))
        .await;
    let other = app
        .create_webhook("eve", &eve, "https://hooks.example.com/eve", json!({}))
        .await;
    app.platform_post(
        "/v1/installations",
        json!({"tenant_id": "acme", "app_id": "eve"}),
    )
    .await;
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    let other_id = other["id"].as_str().unwrap().to_string();
    let eve_delivery = app
        .store
        .list_deliveries(&other_id, &hookgate::store::DeliveryFilter::latest(1))
        .await
        .unwrap()[0]
        .id
        .clone();
    let destination = app
        .call(
            Method::POST,
            "/v1/apps/eve/notification-destinations",
            Some(&eve),
            Some(json!({"type": "https", "url": "https://alerts.example.com/eve"})),
        )
        .await;
    assert_eq!(destination.status, 201, "{}", destination.body);
    let other_destination = destination.body["id"].as_str().unwrap().to_string();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let portal = signed_in(&app, &http, "portal", &bob).await;
    let console = signed_in(&app, &http, "console", PLATFORM_KEY).await;
    let fill = |s: &str, csrf: &str| {
        s.replace("{webhook}", webhook["id"].as_str().unwrap())
            .replace("{other_webhook}", &other_id)
            .replace("{delivery}", &eve_delivery)
            .replace("{other_destination}", &other_destination)
            .replace("{csrf}", csrf)
    };
    let cases: Vec<Value> = CORPUS
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        cases.len() >= 60,
        "the corpus holds at least 60 form requests"
    );

    let before = everything(&app).await;
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let (cookie, csrf) = match case["session"].as_str().unwrap() {
            "portal" => (Some(&portal.0), portal.1.as_str()),
            "console" => (Some(&console.0), console.1.as_str()),
            _ => (None, ""),
        };
        let method = Method::from_bytes(case["method"].as_str().unwrap().as_bytes()).unwrap();
        let path = fill(case["path"].as_str().unwrap(), csrf);
        let mut req = http.request(method, format!("{}{path}", app.base));
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        if let Some(form) = case["form"].as_str() {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(fill(form, csrf));
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let to_sign_in = status == 303
            && response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .is_some_and(|l| l.ends_with("/login"));
        let text = response.text().await.unwrap();
        if !((400..500).contains(&status) || to_sign_in) {
            failures.push(format!("{name}: {status} {}", &text[..text.len().min(300)]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases misbehaved:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        everything(&app).await,
        before,
        "a refused form changed something"
    );
}
