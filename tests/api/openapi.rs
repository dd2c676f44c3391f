//! The OpenAPI document at `/openapi.json` covers every route with its errors.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{spawn_app, Backend};

/// Every route the API serves besides `/healthz` and `/openapi.json`. A route added to
/// the router without `#[utoipa::path]` cannot be registered through `routes!`; this list
/// makes a route silently dropped from either side fail too.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/tenants"),
    ("get", "/v1/event-types"),
    ("post", "/v1/event-types"),
    ("get", "/v1/event-types/{name}"),
    ("patch", "/v1/event-types/{name}"),
    ("delete", "/v1/event-types/{name}"),
    ("get", "/v1/apps/{app}/event-types"),
    ("post", "/v1/apps/{app}/portal-links"),
    ("post", "/v1/tenants"),
    ("get", "/v1/tenants/{id}"),
    ("patch", "/v1/tenants/{id}"),
    ("delete", "/v1/tenants/{id}"),
    ("get", "/v1/apps"),
    ("post", "/v1/apps"),
    ("get", "/v1/apps/{app}"),
    ("delete", "/v1/apps/{app}"),
    ("patch", "/v1/apps/{app}"),
    ("get", "/v1/apps/{app}/keys"),
    ("post", "/v1/apps/{app}/keys"),
    ("delete", "/v1/apps/{app}/keys/{key}"),
    ("get", "/v1/installations"),
    ("post", "/v1/installations"),
    ("get", "/v1/installations/{id}"),
    ("patch", "/v1/installations/{id}"),
    ("delete", "/v1/installations/{id}"),
    ("post", "/v1/events"),
    ("post", "/v1/events/batch"),
    ("get", "/v1/apps/{app}/webhooks"),
    ("post", "/v1/apps/{app}/webhooks"),
    ("get", "/v1/apps/{app}/webhooks/{id}"),
    ("patch", "/v1/apps/{app}/webhooks/{id}"),
    ("delete", "/v1/apps/{app}/webhooks/{id}"),
    ("get", "/v1/apps/{app}/webhooks/{id}/secret"),
    ("get", "/v1/apps/{app}/webhooks/{id}/headers"),
    ("post", "/v1/apps/{app}/webhooks/{id}/rotate-secret"),
    ("post", "/v1/apps/{app}/webhooks/{id}/test"),
    ("get", "/v1/apps/{app}/webhooks/{id}/deliveries"),
    ("get", "/v1/apps/{app}/webhooks/{id}/deliveries/{delivery}"),
    (
        "post",
        "/v1/apps/{app}/webhooks/{id}/deliveries/{delivery}/resend",
    ),
    ("get", "/v1/apps/{app}/webhooks/{id}/attempts"),
    ("post", "/v1/apps/{app}/webhooks/{id}/replay"),
    ("get", "/v1/apps/{app}/webhooks/{id}/health"),
    ("post", "/v1/apps/{app}/webhooks/{id}/reactivate"),
    ("get", "/v1/notifications"),
    ("get", "/v1/apps/{app}/notifications"),
    ("get", "/v1/apps/{app}/notification-destinations"),
    ("post", "/v1/apps/{app}/notification-destinations"),
    ("get", "/v1/apps/{app}/notification-destinations/{id}"),
    ("patch", "/v1/apps/{app}/notification-destinations/{id}"),
    ("delete", "/v1/apps/{app}/notification-destinations/{id}"),
    (
        "get",
        "/v1/apps/{app}/notification-destinations/{id}/secret",
    ),
    ("post", "/v1/apps/{app}/notification-destinations/{id}/test"),
];

async fn every_route_is_documented_with_its_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .http
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    // scripts/test.sh runs the document through openapi-spec-validator afterwards.
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(
        target.join("openapi.json"),
        serde_json::to_vec_pretty(&doc).unwrap(),
    )
    .unwrap();

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "patch", "delete", "put"].contains(&method.as_str()) {
                continue;
            }
            documented.insert((method.clone(), path.clone()));
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.contains_key("401"),
                "{method} {path} documents 401"
            );
            let errors_have_bodies = responses
                .iter()
                .filter(|(code, _)| code.starts_with('4'))
                .all(|(_, r)| r.to_string().contains("ErrorBody"));
            assert!(
                errors_have_bodies,
                "{method} {path}: error responses use ErrorBody"
            );
        }
    }
    let expected: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected);

    // Every reference resolves.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "unresolved $ref {name}");
    }

    // Security is declared once, for the whole document, not on each operation.
    assert_eq!(doc["security"], serde_json::json!([{"bearer": []}]));
    assert!(!text.contains("\"security\":[{\"bearer\":[]}],\"tags\""));
    // The rules are the validation's constants, and the create's schema requires what
    // the create requires.
    use hookgate::usecases::contract;
    let tenant_name = &schemas["CreateTenant"]["properties"]["name"];
    assert_eq!(tenant_name["maxLength"], contract::NAME_MAX);
    assert_eq!(tenant_name["pattern"], contract::text_pattern(false));
    let webhook = &schemas["WebhookFields"]["properties"];
    assert_eq!(
        webhook["timeout_seconds"]["maximum"],
        contract::MAX_TIMEOUT.as_secs()
    );
    assert_eq!(
        webhook["rate_limit_per_second"]["maximum"],
        contract::RATE_LIMIT_MAX
    );
    // The tests' gateways take `http://` listeners on loopback.
    assert_eq!(webhook["url"]["pattern"], contract::url_pattern(true));
    assert_eq!(
        schemas["NewWebhook"]["required"],
        serde_json::json!(hookgate::usecases::webhooks::REQUIRED_ON_CREATE)
    );
    assert_eq!(schemas["NewWebhook"]["properties"]["url"]["type"], "string");
    assert_eq!(
        schemas["UpdateEventType"]["properties"]["example"]["type"],
        serde_json::json!(["object", "null"])
    );
    assert_eq!(schemas["CreateTenant"]["additionalProperties"], false);

    // And every documented route is served: without a key it answers 401, not 404/405.
    for (method, path) in ROUTES {
        let concrete = path
            .replace("{id}", "x")
            .replace("{app}", "x")
            .replace("{key}", "x")
            .replace("{delivery}", "x");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let status = app
            .http
            .request(method.clone(), format!("{}{concrete}", app.base))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401, "{method} {path}");
    }
}

on_both_backends!(every_route_is_documented_with_its_errors);

/// The document follows the gateway's settings: a gateway that refuses `http://`
/// listener URLs (the default) says `https` only.
#[tokio::test]
async fn the_url_rule_follows_the_insecure_targets_setting() {
    let app =
        crate::helpers::spawn_app_with(Backend::Sqlite, |s| s.allow_insecure_targets = false).await;
    let doc: Value = app
        .http
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for schema in ["WebhookFields", "NewWebhook"] {
        let url = &doc["components"]["schemas"][schema]["properties"]["url"];
        assert_eq!(
            url["pattern"],
            hookgate::usecases::contract::url_pattern(false)
        );
    }
}
