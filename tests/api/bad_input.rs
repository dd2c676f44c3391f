//! Bad input gets a clear JSON error with the right status, and changes nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp, PLATFORM_KEY};

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    key: Option<String>,
    body: Option<RawBody>,
    status: u16,
}

enum RawBody {
    Json(Value),
    Text(String),
}

async fn send(app: &TestApp, case: &Case) -> (u16, Value) {
    let mut req = app
        .http
        .request(case.method.clone(), format!("{}{}", app.base, case.path));
    if let Some(key) = &case.key {
        req = req.bearer_auth(key);
    }
    req = match &case.body {
        Some(RawBody::Json(v)) => req.json(v),
        Some(RawBody::Text(t)) => req
            .header("content-type", "application/json")
            .body(t.clone()),
        None => req,
    };
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{}: body is not JSON: {text:?}", case.name));
    (status, body)
}

async fn client_errors_are_json_and_change_nothing(backend: Backend) {
    // Production defaults for targets: https only, no private addresses.
    let app = spawn_app_with(backend, |s| {
        s.allow_insecure_targets = false;
        s.allow_private_targets = false;
    })
    .await;
    app.create_tenant("acme", "production").await;
    let bob = app.create_app("bob").await;
    let eve = app.create_app("eve").await;
    app.install("acme", "bob").await;
    let bob_hook = app
        .create_webhook("bob", &bob, "https://hooks.example.com/bob", json!({}))
        .await;
    let bob_hook = bob_hook["id"].as_str().unwrap().to_string();

    let platform = || Some(PLATFORM_KEY.to_string());
    let json_body = |v: Value| Some(RawBody::Json(v));
    let text = |t: &str| Some(RawBody::Text(t.to_string()));
    let case = |name, method, path: &str, key: Option<String>, body, status| Case {
        name,
        method,
        path: path.to_string(),
        key,
        body,
        status,
    };
    let huge = format!(
        r#"{{"type":"a.b","tenant_id":"acme","data":{{"blob":"{}"}}}}"#,
        "x".repeat(300 * 1024)
    );
    let bob_path = format!("/v1/apps/bob/webhooks/{bob_hook}");
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    let filter = hookgate::store::DeliveryFilter::latest(1);
    let delivery_id = app.store.list_deliveries(&bob_hook, &filter).await.unwrap()[0]
        .id
        .clone();
    let cases = vec![
        case(
            "no key",
            Method::POST,
            "/v1/tenants",
            None,
            json_body(json!({"name": "x", "environment": "production"})),
            401,
        ),
        case(
            "wrong key",
            Method::POST,
            "/v1/tenants",
            Some("nope-nope-nope".into()),
            json_body(json!({"name": "x", "environment": "production"})),
            401,
        ),
        case(
            "partner key on a platform route",
            Method::POST,
            "/v1/tenants",
            Some(bob.clone()),
            json_body(json!({"name": "x", "environment": "production"})),
            403,
        ),
        case(
            "malformed tenant JSON",
            Method::POST,
            "/v1/tenants",
            platform(),
            text(r#"{"name": "#),
            400,
        ),
        case(
            "wrong type",
            Method::POST,
            "/v1/tenants",
            platform(),
            json_body(json!({"name": 5, "environment": "production"})),
            422,
        ),
        case(
            "unknown environment",
            Method::POST,
            "/v1/tenants",
            platform(),
            json_body(json!({"name": "x", "environment": "staging"})),
            422,
        ),
        case(
            "path-like tenant id",
            Method::POST,
            "/v1/tenants",
            platform(),
            json_body(json!({"id": "../etc", "name": "x", "environment": "production"})),
            422,
        ),
        case(
            "duplicate tenant",
            Method::POST,
            "/v1/tenants",
            platform(),
            json_body(json!({"id": "acme", "name": "x", "environment": "production"})),
            409,
        ),
        case(
            "empty tenant name",
            Method::POST,
            "/v1/tenants",
            platform(),
            json_body(json!({"name": "  ", "environment": "production"})),
            422,
        ),
        case(
            "unknown tenant on read",
            Method::GET,
            "/v1/tenants/ghost",
            platform(),
            None,
            404,
        ),
        case(
            "tenant with history cannot be deleted",
            Method::DELETE,
            "/v1/tenants/acme",
            platform(),
            None,
            409,
        ),
        case(
            "install for unknown tenant",
            Method::POST,
            "/v1/installations",
            platform(),
            json_body(json!({"tenant_id": "ghost", "app_id": "bob"})),
            404,
        ),
        case(
            "malformed event",
            Method::POST,
            "/v1/events",
            platform(),
            text(r#"{"type": "a.b", "tenant_id": "#),
            400,
        ),
        case(
            "event for unknown tenant",
            Method::POST,
            "/v1/events",
            platform(),
            json_body(json!({"type": "a.b", "tenant_id": "ghost"})),
            404,
        ),
        case(
            "event without type",
            Method::POST,
            "/v1/events",
            platform(),
            json_body(json!({"tenant_id": "acme"})),
            422,
        ),
        case(
            "event with a bad type",
            Method::POST,
            "/v1/events",
            platform(),
            json_body(json!({"type": "a..b", "tenant_id": "acme"})),
            422,
        ),
        case(
            "event data not an object",
            Method::POST,
            "/v1/events",
            platform(),
            json_body(json!({"type": "a.b", "tenant_id": "acme", "data": [1]})),
            422,
        ),
        case(
            "event with unknown field",
            Method::POST,
            "/v1/events",
            platform(),
            json_body(json!({"type": "a.b", "tenant_id": "acme", "tenant": "x"})),
            422,
        ),
        case(
            "oversized event",
            Method::POST,
            "/v1/events",
            platform(),
            Some(RawBody::Text(huge)),
            413,
        ),
        case(
            "partner key publishing",
            Method::POST,
            "/v1/events",
            Some(bob.clone()),
            json_body(json!({"type": "a.b", "tenant_id": "acme"})),
            403,
        ),
        case(
            "webhook url not a url",
            Method::POST,
            "/v1/apps/bob/webhooks",
            Some(bob.clone()),
            json_body(json!({"url": "not a url"})),
            422,
        ),
        case(
            "webhook url over http",
            Method::POST,
            "/v1/apps/bob/webhooks",
            Some(bob.clone()),
            json_body(json!({"url": "http://hooks.example.com/"})),
            422,
        ),
        case(
            "webhook to cloud metadata",
            Method::POST,
            "/v1/apps/bob/webhooks",
            Some(bob.clone()),
            json_body(json!({"url": "https://169.254.169.254/latest"})),
            422,
        ),
        case(
            "webhook to loopback",
            Method::POST,
            "/v1/apps/bob/webhooks",
            Some(bob.clone()),
            json_body(json!({"url": "https://127.0.0.1:9000/"})),
            422,
        ),
        case(
            "webhook without url",
            Method::POST,
            "/v1/apps/bob/webhooks",
            Some(bob.clone()),
            json_body(json!({"description": "x"})),
            422,
        ),
        case(
            "webhook timeout too long",
            Method::POST,
            "/v1/apps/bob/webhooks",
            Some(bob.clone()),
            json_body(json!({"url": "https://hooks.example.com/", "timeout_seconds": 31})),
            422,
        ),
        case(
            "webhook reserved header",
            Method::POST,
            "/v1/apps/bob/webhooks",
            Some(bob.clone()),
            json_body(
                json!({"url": "https://hooks.example.com/", "headers": {"Webhook-Signature": "x"}}),
            ),
            422,
        ),
        case(
            "webhook unknown retry preset",
            Method::POST,
            "/v1/apps/bob/webhooks",
            Some(bob.clone()),
            json_body(json!({"url": "https://hooks.example.com/", "retry_policy": "forever"})),
            422,
        ),
        case(
            "webhook bad filter",
            Method::POST,
            "/v1/apps/bob/webhooks",
            Some(bob.clone()),
            json_body(json!({"url": "https://hooks.example.com/", "event_types": ["emp*"]})),
            422,
        ),
        case(
            "webhook bad secret",
            Method::POST,
            "/v1/apps/bob/webhooks",
            Some(bob.clone()),
            json_body(json!({"url": "https://hooks.example.com/", "secret": "hunter2"})),
            422,
        ),
        case(
            "another partner lists webhooks",
            Method::GET,
            "/v1/apps/bob/webhooks",
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner reads a webhook",
            Method::GET,
            &bob_path,
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner changes a webhook",
            Method::PATCH,
            &bob_path,
            Some(eve.clone()),
            json_body(json!({"url": "https://evil.example.com/"})),
            404,
        ),
        case(
            "another partner deletes a webhook",
            Method::DELETE,
            &bob_path,
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner reads the secret",
            Method::GET,
            &format!("{bob_path}/secret"),
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner reads attempts",
            Method::GET,
            &format!("{bob_path}/attempts"),
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner creates under bob",
            Method::POST,
            "/v1/apps/bob/webhooks",
            Some(eve.clone()),
            json_body(json!({"url": "https://hooks.example.com/"})),
            404,
        ),
        case(
            "another partner lists deliveries",
            Method::GET,
            &format!("{bob_path}/deliveries"),
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner reads a delivery",
            Method::GET,
            &format!("{bob_path}/deliveries/{delivery_id}"),
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner resends",
            Method::POST,
            &format!("{bob_path}/deliveries/{delivery_id}/resend"),
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner replays",
            Method::POST,
            &format!("{bob_path}/replay"),
            Some(eve.clone()),
            json_body(json!({"since": "2020-01-01T00:00:00Z"})),
            404,
        ),
        case(
            "another partner sends a test",
            Method::POST,
            &format!("{bob_path}/test"),
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner rotates the secret",
            Method::POST,
            &format!("{bob_path}/rotate-secret"),
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner reads health",
            Method::GET,
            &format!("{bob_path}/health"),
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner reactivates",
            Method::POST,
            &format!("{bob_path}/reactivate"),
            Some(eve.clone()),
            json_body(json!({"replay": true})),
            404,
        ),
        case(
            "another partner lists keys",
            Method::GET,
            "/v1/apps/bob/keys",
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner adds a key",
            Method::POST,
            "/v1/apps/bob/keys",
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner reads notifications",
            Method::GET,
            "/v1/apps/bob/notifications",
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "another partner reads the app",
            Method::GET,
            "/v1/apps/bob",
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "webhook under the wrong app",
            Method::GET,
            &format!("/v1/apps/eve/webhooks/{bob_hook}"),
            Some(eve.clone()),
            None,
            404,
        ),
        case(
            "bad log limit",
            Method::GET,
            &format!("{bob_path}/deliveries?limit=0"),
            Some(bob.clone()),
            None,
            422,
        ),
        case(
            "unknown route",
            Method::GET,
            "/v1/nothing-here",
            platform(),
            None,
            404,
        ),
        case(
            "wrong method",
            Method::PUT,
            "/v1/events",
            platform(),
            None,
            405,
        ),
    ];

    let before = app.snapshot().await;
    for case in &cases {
        let (status, body) = send(&app, case).await;
        assert_eq!(status, case.status, "{}: {body}", case.name);
        let code = body["error"]["code"].as_str();
        let message = body["error"]["message"].as_str();
        assert!(
            code.is_some_and(|c| !c.is_empty()),
            "{}: no error code in {body}",
            case.name
        );
        assert!(
            message.is_some_and(|m| !m.is_empty()),
            "{}: no message in {body}",
            case.name
        );
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "a rejected request changed something"
    );
}

/// A taken unique key is named by the key that fired, on both backends (SQLite and
/// PostgreSQL report it differently): the app's id and its OAuth client are told apart.
async fn a_taken_key_is_named_for_what_it_is(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app
        .platform_post(
            "/v1/apps",
            json!({"id": "payroll", "name": "Payroll", "oauth_client_id": "payroll-client"}),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    for (body, says) in [
        (
            json!({"id": "payroll", "name": "Again"}),
            "an app with this id exists",
        ),
        (
            json!({"id": "other", "name": "Other", "oauth_client_id": "payroll-client"}),
            "another app has this OAuth client id",
        ),
    ] {
        let taken = app.platform_post("/v1/apps", body).await;
        assert_eq!(taken.status, 409, "{}", taken.body);
        assert_eq!(taken.body["error"]["code"], "conflict");
        assert_eq!(taken.body["error"]["message"], says, "{}", taken.body);
    }
    let apps = app.get("/v1/apps", PLATFORM_KEY).await;
    assert_eq!(apps.body["data"].as_array().map(Vec::len), Some(1));
}

on_both_backends!(
    client_errors_are_json_and_change_nothing,
    a_taken_key_is_named_for_what_it_is
);
