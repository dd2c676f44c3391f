//! The event-type catalogue: the platform declares types, partners read them, and a
//! strict catalogue refuses events of undeclared types.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Backend, PLATFORM_KEY};

async fn the_platform_declares_and_partners_read_the_catalogue(backend: Backend) {
    let app = spawn_app(backend).await;
    let call = |method: Method, path: &str, key: &str, body: Option<serde_json::Value>| {
        let (app, path, key) = (&app, path.to_string(), key.to_string());
        async move { app.call(method, &path, Some(&key), body).await }
    };
    let created = app
        .platform_post(
            "/v1/event-types",
            json!({"name": "employee.created", "description": "A hire", "example": {"id": 7}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["example"], json!({"id": 7}));
    assert_eq!(created.body["deprecated"], false);
    app.platform_post("/v1/event-types", json!({"name": "employee.left"}))
        .await;

    // Refused, and nothing stored: a taken name, a bad name, an unknown field.
    for (body, status) in [
        (json!({"name": "employee.created"}), 409),
        (json!({"name": "employee..created"}), 422),
        (json!({"name": "a b"}), 422),
        (json!({"name": "x.y", "colour": "red"}), 422),
        (json!({"name": "x.y", "description": "\u{0}"}), 422),
    ] {
        let r = app.platform_post("/v1/event-types", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
    let list = call(Method::GET, "/v1/event-types", PLATFORM_KEY, None).await;
    let names: Vec<_> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["employee.created", "employee.left"]);

    // An example is an object or null on every route, as the document says.
    let path = "/v1/event-types/employee.created";
    for example in [json!([1, 2]), json!("text"), json!(3)] {
        let r = call(
            Method::PATCH,
            path,
            PLATFORM_KEY,
            Some(json!({ "example": example })),
        )
        .await;
        assert_eq!(r.status, 422, "{example}: {}", r.body);
    }
    let read = call(Method::GET, path, PLATFORM_KEY, None).await.body;
    assert_eq!(
        read["example"],
        json!({"id": 7}),
        "a refused patch changes nothing"
    );

    // Deprecate it and drop its example; the rest stays.
    let patched = call(
        Method::PATCH,
        path,
        PLATFORM_KEY,
        Some(json!({"deprecated": true, "example": null})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let read = call(Method::GET, path, PLATFORM_KEY, None).await.body;
    assert_eq!(
        (&read["deprecated"], &read["example"], &read["description"]),
        (&json!(true), &json!(null), &json!("A hire"))
    );

    // Partners read their app's view of it, and only that.
    let bob = app.create_app("bob-app").await;
    let eve = app.create_app("eve-app").await;
    let seen = call(Method::GET, "/v1/apps/bob-app/event-types", &bob, None).await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body["data"].as_array().unwrap().len(), 2);
    let other = call(Method::GET, "/v1/apps/bob-app/event-types", &eve, None).await;
    assert_eq!(other.status, 404);
    let missing = call(
        Method::GET,
        "/v1/apps/nobody/event-types",
        PLATFORM_KEY,
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
    for (method, path) in [
        (Method::GET, "/v1/event-types"),
        (Method::POST, "/v1/event-types"),
        (Method::DELETE, path),
    ] {
        let r = call(method, path, &bob, Some(json!({"name": "p.q"}))).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
    }

    let deleted = call(Method::DELETE, path, PLATFORM_KEY, None).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        call(Method::GET, path, PLATFORM_KEY, None).await.status,
        404
    );
    assert_eq!(
        call(Method::DELETE, path, PLATFORM_KEY, None).await.status,
        404
    );
}

async fn a_strict_catalogue_refuses_undeclared_types(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.strict_event_types = true).await;
    app.create_tenant("acme", "production").await;
    app.platform_post("/v1/event-types", json!({"name": "employee.created"}))
        .await;
    let undeclared = app
        .publish(json!({"type": "employee.fired", "tenant_id": "acme"}))
        .await;
    assert_eq!(undeclared.status, 422, "{}", undeclared.body);
    assert!(undeclared.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("catalogue"));
    let batch = app
        .platform_post(
            "/v1/events/batch",
            json!({"events": [
                {"type": "employee.created", "tenant_id": "acme"},
                {"type": "employee.fired", "tenant_id": "acme"},
            ]}),
        )
        .await;
    assert_eq!(batch.status, 422, "{}", batch.body);
    let declared = app
        .publish(json!({"type": "employee.created", "tenant_id": "acme"}))
        .await;
    assert_eq!(declared.status, 202, "{}", declared.body);

    // Not strict (the default): any well-formed type is published.
    let lenient = spawn_app(backend).await;
    lenient.create_tenant("acme", "production").await;
    let r = lenient
        .publish(json!({"type": "employee.fired", "tenant_id": "acme"}))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
}

on_both_backends!(
    the_platform_declares_and_partners_read_the_catalogue,
    a_strict_catalogue_refuses_undeclared_types,
);
