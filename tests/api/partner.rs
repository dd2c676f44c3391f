//! The partner-facing API: keys, test events, secret rotation, logs, resend, replay and
//! the rate limit, each through real HTTP on both backends.

use std::time::Duration as StdDuration;

use chrono::Duration;
use hookgate::clock::Clock;
use hookgate::delivery::signing;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp, TestReceiver, PLATFORM_KEY};

async fn post(app: &TestApp, path: &str, key: &str, body: Value) -> crate::helpers::Reply {
    app.call(Method::POST, path, Some(key), Some(body)).await
}

async fn several_keys_per_app_and_revocation(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.create_app("bob").await;
    let eve = app.create_app("eve").await;
    let r = post(&app, "/v1/apps/bob/keys", &first, json!({})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let second = r.body["partner_key"].as_str().unwrap().to_string();
    assert_ne!(first, second);

    for key in [&first, &second] {
        assert_eq!(app.get("/v1/apps/bob/webhooks", key).await.status, 200);
    }
    let keys = app.get("/v1/apps/bob/keys", &second).await;
    let listed = keys.body["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        !keys.body.to_string().contains(&first[10..]),
        "keys are never listed"
    );
    assert_eq!(app.get("/v1/apps/bob/keys", &eve).await.status, 404);

    // Revoke the first key (its id is its listing's id; the prefix tells which it is).
    let first_id = listed
        .iter()
        .find(|k| first.starts_with(k["prefix"].as_str().unwrap()))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/apps/bob/keys/{first_id}"),
            Some(&second),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(app.get("/v1/apps/bob/webhooks", &first).await.status, 401);
    assert_eq!(app.get("/v1/apps/bob/webhooks", &second).await.status, 200);
    // The platform can add a key too; a partner cannot add one to another app.
    assert_eq!(
        post(&app, "/v1/apps/bob/keys", PLATFORM_KEY, json!({}))
            .await
            .status,
        201
    );
    assert_eq!(
        post(&app, "/v1/apps/bob/keys", &eve, json!({}))
            .await
            .status,
        404
    );
}

async fn a_test_event_reports_the_outcome_and_is_not_logged(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let id = webhook["id"].as_str().unwrap();
    let secret = webhook["secret"].as_str().unwrap();
    let path = format!("/v1/apps/bob-app/webhooks/{id}/test");

    let r = post(&app, &path, &key, json!({"data": {"hello": "world"}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["outcome"], "success");
    assert_eq!(r.body["status_code"], 200);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&got[0].body, &got[0].headers)
        .expect("a test event is signed like any delivery");
    let body = got[0].json();
    assert_eq!(body["type"], "webhook.test");
    assert_eq!(body["tenant"], Value::Null);
    assert_eq!(body["data"], json!({"hello": "world"}));
    assert_eq!(
        got[0].header("webhook-id"),
        r.body["webhook_id_header"].as_str().unwrap()
    );

    receiver.then(&[500]);
    let r = post(&app, &path, &key, json!({})).await;
    assert_eq!(r.body["outcome"], "http_error");
    assert_eq!(r.body["status_code"], 500);
    assert!(
        app.attempts(id).await.is_empty(),
        "test events do not count towards health"
    );
}

async fn rotation_signs_with_both_secrets_for_a_day(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let id = webhook["id"].as_str().unwrap();
    let old = webhook["secret"].as_str().unwrap().to_string();
    let r = post(
        &app,
        &format!("/v1/apps/bob-app/webhooks/{id}/rotate-secret"),
        &key,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new = r.body["secret"].as_str().unwrap().to_string();
    assert_ne!(old, new);
    let r = app
        .get(&format!("/v1/apps/bob-app/webhooks/{id}/secret"), &key)
        .await;
    assert_eq!(r.body["secret"], new.as_str());

    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    app.dispatcher.run_once().await.unwrap();
    let during = receiver.received().remove(0);
    assert_eq!(during.header("webhook-signature").split(' ').count(), 2);
    for secret in [&old, &new] {
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .verify(&during.body, &during.headers)
            .expect("both secrets verify during the overlap");
    }

    app.clock.advance(Duration::hours(24));
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    app.dispatcher.run_once().await.unwrap();
    let after = receiver.received().remove(1);
    let ts: i64 = after.header("webhook-timestamp").parse().unwrap();
    let expected = signing::sign(
        &signing::secret_key(&new).unwrap(),
        after.header("webhook-id"),
        ts,
        &after.body,
    );
    assert_eq!(
        after.header("webhook-signature"),
        expected,
        "only the new secret after 24 h"
    );
}

async fn logs_filter_and_paginate(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    receiver.then(&[500, 500]);
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let id = webhook["id"].as_str().unwrap();
    for n in 0..5 {
        let kind = if n < 2 {
            "employee.created"
        } else {
            "employee.left"
        };
        app.publish(json!({"type": kind, "tenant_id": "acme", "data": {"n": n}}))
            .await;
        app.clock.advance(Duration::seconds(1));
    }
    app.dispatcher.run_once().await.unwrap();

    let base = format!("/v1/apps/bob-app/webhooks/{id}/deliveries");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{base}?limit=2&before={c}"),
            None => format!("{base}?limit=2"),
        };
        let r = app.get(&path, &key).await;
        assert_eq!(r.status, 200, "{}", r.body);
        for d in r.body["data"].as_array().unwrap() {
            seen.push(d["id"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "every delivery exactly once across pages");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first");

    let count = |body: &Value| body["data"].as_array().unwrap().len();
    assert_eq!(
        count(
            &app.get(&format!("{base}?event_type=employee.created"), &key)
                .await
                .body
        ),
        2
    );
    assert_eq!(
        count(&app.get(&format!("{base}?state=pending"), &key).await.body),
        2
    );
    assert_eq!(
        count(&app.get(&format!("{base}?state=delivered"), &key).await.body),
        3
    );
    assert_eq!(
        count(&app.get(&format!("{base}?tenant_id=other"), &key).await.body),
        0
    );
    let start = app.clock.now() - Duration::seconds(5);
    let since = format!(
        "{base}?since={}",
        (start + Duration::seconds(3))
            .to_rfc3339()
            .replace('+', "%2B")
    );
    assert_eq!(count(&app.get(&since, &key).await.body), 2);

    let attempts = format!("/v1/apps/bob-app/webhooks/{id}/attempts");
    let failed = app
        .get(&format!("{attempts}?outcome=http_error"), &key)
        .await;
    assert_eq!(count(&failed.body), 2);
    assert!(failed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["status_code"] == 500));
    // Attempts by their delivery's event type and tenant.
    for (query, n) in [
        ("event_type=employee.created", 2),
        ("event_type=employee.left", 3),
        ("tenant_id=acme", 5),
        ("tenant_id=other", 0),
        ("tenant_id=acme&event_type=employee.left", 3),
    ] {
        let r = app.get(&format!("{attempts}?{query}"), &key).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(count(&r.body), n, "{query}");
    }
    let one = seen[0].clone();
    let r = app
        .get(&format!("{attempts}?delivery_id={one}"), &key)
        .await;
    assert_eq!(count(&r.body), 1);
    assert_eq!(
        app.get(&format!("{base}/{one}"), &key).await.body["id"],
        one.as_str()
    );
}

async fn resend_one_and_replay_failed_since(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    receiver.always(404);
    let (key, webhook) = app
        .partner_setup(&receiver.url(), json!({"retry_policy": "bindbee"}))
        .await;
    let id = webhook["id"].as_str().unwrap();
    let t0 = app.clock.now();
    for _ in 0..3 {
        app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
            .await;
    }
    app.dispatcher.run_once().await.unwrap();
    let failed = app
        .get(
            &format!("/v1/apps/bob-app/webhooks/{id}/deliveries?state=failed"),
            &key,
        )
        .await;
    assert_eq!(failed.body["data"].as_array().unwrap().len(), 3);
    receiver.always(200);

    // Resend one: it is attempted again and delivered.
    let one = failed.body["data"][0]["id"].as_str().unwrap().to_string();
    let resend = format!("/v1/apps/bob-app/webhooks/{id}/deliveries/{one}/resend");
    let r = post(&app, &resend, &key, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "pending");
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 1);
    assert_eq!(
        app.delivery(&one).await.state,
        hookgate::model::DeliveryState::Delivered
    );

    // Replay the rest; a second identical call queues nothing new.
    let replay = format!("/v1/apps/bob-app/webhooks/{id}/replay");
    let since = json!({"since": hookgate::delivery::payload::rfc3339(t0)});
    let r = post(&app, &replay, &key, since.clone()).await;
    assert_eq!(r.body["queued"], 2);
    assert_eq!(post(&app, &replay, &key, since).await.body["queued"], 0);
    assert_eq!(app.dispatcher.run_once().await.unwrap().len(), 2);
    assert_eq!(receiver.received().len(), 3 + 1 + 2);

    // A pending delivery is not resent twice; another partner cannot resend.
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    let pending = app
        .get(
            &format!("/v1/apps/bob-app/webhooks/{id}/deliveries?state=pending"),
            &key,
        )
        .await;
    let pending_id = pending.body["data"][0]["id"].as_str().unwrap();
    let r = post(
        &app,
        &format!("/v1/apps/bob-app/webhooks/{id}/deliveries/{pending_id}/resend"),
        &key,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 409);
    let eve = app.create_app("eve").await;
    assert_eq!(post(&app, &resend, &eve, json!({})).await.status, 404);
}

/// With a cap of 2 per second, 6 deliveries cannot all arrive within 2 seconds: the
/// first two go at once, each further one waits half a second. (A lower bound only: the
/// limiter can make sending slower, never faster.)
async fn the_rate_limit_spreads_attempts(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let id = webhook["id"].as_str().unwrap();
    let r = app
        .call(
            Method::PATCH,
            &format!("/v1/apps/bob-app/webhooks/{id}"),
            Some(&key),
            Some(json!({"rate_limit_per_second": 2})),
        )
        .await;
    assert_eq!(r.body["rate_limit_per_second"], 2);
    for _ in 0..6 {
        app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
            .await;
    }
    let started = std::time::Instant::now();
    assert_eq!(
        app.dispatcher.run_once().await.unwrap().len(),
        6,
        "nothing is dropped"
    );
    assert!(
        started.elapsed() >= StdDuration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(receiver.received().len(), 6);
}

on_both_backends!(
    several_keys_per_app_and_revocation,
    a_test_event_reports_the_outcome_and_is_not_logged,
    rotation_signs_with_both_secrets_for_a_day,
    logs_filter_and_paginate,
    resend_one_and_replay_failed_since,
    the_rate_limit_spreads_attempts,
);
