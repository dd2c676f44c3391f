//! Each partner's notifications on its own destinations: two apps with their own SQS
//! queues on a real SQS and STS server (moto), the platform's queue beside them, a queue
//! that goes missing and comes back, a role assumed with the ExternalId the API showed,
//! and a signed HTTPS destination verified with the `standardwebhooks` library.

use chrono::{DateTime, Duration, Utc};
use hookgate::clock::Clock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_on, spawn_app_with, Backend, TestApp, TestReceiver, PLATFORM_KEY};
use crate::moto::MotoServer;

/// moto's account; its queues answer to AWS-style URLs in the client's region.
fn aws_queue(name: &str) -> String {
    format!("https://sqs.us-east-1.amazonaws.com/123456789012/{name}")
}

const DESTINATIONS: &str = "/v1/apps/bob-app/notification-destinations";

struct TwoPartners {
    app: TestApp,
    moto: MotoServer,
    platform_queue: String,
    bob_key: String,
    eve_key: String,
    bob_destination: Value,
    eve_destination: Value,
    _listener: TestReceiver,
    t0: DateTime<Utc>,
}

async fn gateway_on(database_url: String, moto: &MotoServer, platform_queue: &str) -> TestApp {
    let (queue, endpoint) = (platform_queue.to_string(), moto.endpoint());
    spawn_app_on(database_url, move |s| {
        s.sqs_queue_url = Some(queue);
        s.sqs_endpoint = Some(endpoint.clone());
        s.sts_endpoint = Some(endpoint);
    })
    .await
}

/// bob-app and eve-app, both installed by acme, both with a failing listener and an SQS
/// destination of their own; the platform's queue configured too.
async fn two_partners(backend: Backend) -> TwoPartners {
    let moto = MotoServer::start().await;
    let platform_queue = moto.create_queue("platform-notifications").await;
    moto.create_queue("bob-alerts").await;
    moto.create_queue("eve-alerts").await;
    let database = crate::helpers::fresh_database(backend).await;
    let app = gateway_on(database, &moto, &platform_queue).await;
    let listener = TestReceiver::start(Some(app.clock.clone())).await;
    listener.always(503);
    let (bob_key, _) = app.partner_setup(&listener.url(), json!({})).await;
    let eve_key = app.create_app("eve-app").await;
    app.install("acme", "eve-app").await;
    app.create_webhook("eve-app", &eve_key, &listener.url(), json!({}))
        .await;
    let bob_destination = create(
        &app,
        "bob-app",
        &bob_key,
        json!({"type": "sqs", "queue_url": aws_queue("bob-alerts")}),
    )
    .await;
    let eve_destination = create(
        &app,
        "eve-app",
        &eve_key,
        json!({"type": "sqs", "queue_url": aws_queue("eve-alerts")}),
    )
    .await;
    let t0 = app.clock.now();
    TwoPartners {
        app,
        moto,
        platform_queue,
        bob_key,
        eve_key,
        bob_destination,
        eve_destination,
        _listener: listener,
        t0,
    }
}

async fn create(app: &TestApp, app_id: &str, key: &str, body: Value) -> Value {
    let path = format!("/v1/apps/{app_id}/notification-destinations");
    let r = app.call(Method::POST, &path, Some(key), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

/// Runs the relay until it has nothing left to send now.
async fn relay_all(app: &TestApp) {
    for _ in 0..50 {
        let outcome = app.relay.run_once().await.unwrap();
        if outcome.sent == 0 {
            return;
        }
    }
    panic!("the relay kept finding rows to send");
}

impl TwoPartners {
    /// 10-minute steps over `[from, to]`: an event for acme (so both apps' listeners
    /// fail), the dispatcher, the evaluator at each 30-minute mark, the relay.
    async fn run(&self, from: i64, to: i64) {
        for minute in (from..=to).step_by(10) {
            self.app.clock.set(self.t0 + Duration::minutes(minute));
            let r = self
                .app
                .publish(json!({"type": "employee.updated", "tenant_id": "acme"}))
                .await;
            assert_eq!(r.status, 202);
            while !self.app.dispatcher.run_once().await.unwrap().is_empty() {}
            if minute > 0 && minute % 30 == 0 {
                self.app.evaluator.tick().await.unwrap();
            }
            relay_all(&self.app).await;
        }
    }

    async fn drain(&self, queue: &str) -> Vec<(String, String, String)> {
        drain(&self.moto, queue).await
    }

    async fn destination(&self, app_id: &str, key: &str, destination: &Value) -> Value {
        let path = format!(
            "/v1/apps/{app_id}/notification-destinations/{}",
            destination["id"].as_str().unwrap()
        );
        let r = self.app.get(&path, key).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }
}

/// (app id, severity, id) of each message on the queue, received and deleted.
async fn drain(moto: &MotoServer, queue: &str) -> Vec<(String, String, String)> {
    moto.drain(queue)
        .await
        .into_iter()
        .map(|(body, id)| {
            assert_eq!(body["id"], id.as_str(), "the id is also an attribute");
            (
                body["app"]["id"].as_str().unwrap().to_string(),
                body["severity"].as_str().unwrap().to_string(),
                id,
            )
        })
        .collect()
}

fn severities(messages: &[(String, String, String)]) -> Vec<(&str, &str)> {
    messages
        .iter()
        .map(|(app, severity, _)| (app.as_str(), severity.as_str()))
        .collect()
}

async fn each_partner_gets_its_own_notifications_on_its_own_queue(backend: Backend) {
    let s = two_partners(backend).await;
    let d = &s.bob_destination;
    assert_eq!(d["type"], "sqs");
    assert_eq!(d["region"], "us-east-1");
    assert_eq!(d["state"], "active");
    assert!(d["external_id"].as_str().unwrap().starts_with("hookgate-"));
    assert!(d["role_arn"].is_null() && d["last_error"].is_null());
    assert_eq!(
        d["severities"],
        json!(["warning", "deactivation", "recovered"])
    );

    s.run(0, 180).await;
    let bob = s.drain(&aws_queue("bob-alerts")).await;
    let eve = s.drain(&aws_queue("eve-alerts")).await;
    let platform = s.drain(&s.platform_queue).await;
    assert_eq!(
        severities(&bob),
        [("bob-app", "warning"), ("bob-app", "deactivation")]
    );
    assert_eq!(
        severities(&eve),
        [("eve-app", "warning"), ("eve-app", "deactivation")]
    );
    assert_eq!(platform.len(), 4, "{platform:?}");
    for message in bob.iter().chain(&eve) {
        assert!(
            platform.contains(message),
            "{message:?} also on the platform's queue"
        );
    }

    let r = s
        .app
        .get("/v1/apps/bob-app/notifications", &s.bob_key)
        .await;
    let bob_id = d["id"].as_str().unwrap();
    for n in r.body["data"].as_array().unwrap() {
        let mut sends: Vec<(&str, &str)> = n["sends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["destination_id"].as_str().unwrap(),
                    s["state"].as_str().unwrap(),
                )
            })
            .collect();
        sends.sort();
        let mut want = vec![(bob_id, "sent"), ("platform", "sent")];
        want.sort();
        assert_eq!(sends, want, "{n}");
        assert!(n["sent_at"].is_string());
    }
    let now = s.destination("bob-app", &s.bob_key, d).await;
    assert_eq!(now["state"], "active");
    assert!(now["last_success_at"].is_string());
    assert_eq!(s.app.store.outbox_backlog().await.unwrap(), 0);
}

async fn a_missing_queue_holds_only_its_own_messages_until_it_is_back(backend: Backend) {
    let s = two_partners(backend).await;
    s.moto.delete_queue(&aws_queue("bob-alerts")).await;
    s.run(0, 60).await;
    // eve's warning is on time; bob's waits, and bob's destination says why.
    assert_eq!(
        severities(&s.drain(&aws_queue("eve-alerts")).await),
        [("eve-app", "warning")]
    );
    let bob = s
        .destination("bob-app", &s.bob_key, &s.bob_destination)
        .await;
    assert_eq!(bob["state"], "failing", "{bob}");
    let error = bob["last_error"]["message"].as_str().unwrap();
    assert!(error.contains("NonExistentQueue"), "{error}");
    let eve = s
        .destination("eve-app", &s.eve_key, &s.eve_destination)
        .await;
    assert_eq!(eve["state"], "active");
    let r = s
        .app
        .get("/v1/apps/bob-app/notifications", &s.bob_key)
        .await;
    let held = &r.body["data"][0];
    assert!(held["sent_at"].is_null());
    let bob_row = held["sends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["destination_id"] == s.bob_destination["id"])
        .unwrap();
    assert_eq!(bob_row["state"], "pending");
    assert!(bob_row["attempts"].as_i64().unwrap() >= 1);

    s.run(70, 180).await;
    assert_eq!(
        severities(&s.drain(&aws_queue("eve-alerts")).await),
        [("eve-app", "deactivation")]
    );
    let platform = s.drain(&s.platform_queue).await;
    let bob_on_platform: Vec<_> = platform
        .iter()
        .filter(|m| m.0 == "bob-app")
        .cloned()
        .collect();
    assert_eq!(
        severities(&bob_on_platform),
        [("bob-app", "warning"), ("bob-app", "deactivation")]
    );

    // The queue is back; a successful test send makes the held messages due at once.
    s.moto.create_queue("bob-alerts").await;
    let test = format!(
        "{DESTINATIONS}/{}/test",
        s.bob_destination["id"].as_str().unwrap()
    );
    let r = s
        .app
        .call(Method::POST, &test, Some(&s.bob_key), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["outcome"], "sent", "{}", r.body);
    relay_all(&s.app).await;
    let arrived = s.drain(&aws_queue("bob-alerts")).await;
    let held: Vec<_> = arrived.iter().filter(|m| m.1 != "test").cloned().collect();
    assert_eq!(held, bob_on_platform, "in order, with the platform's ids");
    assert_eq!(arrived[0].1, "test");
    let bob = s
        .destination("bob-app", &s.bob_key, &s.bob_destination)
        .await;
    assert_eq!(bob["state"], "active");
    assert_eq!(s.app.store.outbox_backlog().await.unwrap(), 0);
}

async fn a_role_is_assumed_with_its_external_id_and_its_credentials_reused(backend: Backend) {
    let s = two_partners(backend).await;
    let role = "arn:aws:iam::123456789012:role/bob-notifications";
    let d = create(
        &s.app,
        "bob-app",
        &s.bob_key,
        json!({"type": "sqs", "queue_url": aws_queue("bob-alerts"), "role_arn": role,
               "severities": ["deactivation"], "description": "bob's on-call"}),
    )
    .await;
    let external_id = d["external_id"].as_str().unwrap().to_string();
    assert_eq!(d["role_arn"], role);
    let test = format!("{DESTINATIONS}/{}/test", d["id"].as_str().unwrap());
    let send = || s.app.call(Method::POST, &test, Some(&s.bob_key), None);
    let r = send().await;
    assert_eq!(r.body["outcome"], "sent", "{}", r.body);
    assert!(r.body["message_id"].is_string());
    assert_eq!(
        s.moto.assumed_roles().await,
        [(role.to_string(), external_id.clone())]
    );
    assert_eq!(send().await.body["outcome"], "sent");
    assert_eq!(s.moto.assumed_roles().await.len(), 1, "credentials reused");
    // Five minutes before the hour's credentials expire, they are renewed.
    s.app.clock.advance(Duration::minutes(56));
    assert_eq!(send().await.body["outcome"], "sent");
    let assumed = s.moto.assumed_roles().await;
    assert_eq!(assumed.len(), 2);
    assert_eq!(assumed[1], (role.to_string(), external_id.clone()));
    let messages = s.drain(&aws_queue("bob-alerts")).await;
    assert_eq!(severities(&messages), [("bob-app", "test"); 3]);
    // A test is never a notification.
    let r = s
        .app
        .get("/v1/apps/bob-app/notifications", &s.bob_key)
        .await;
    assert_eq!(r.body["data"], json!([]));

    // Only deactivations: of bob's two destinations, this one gets one message.
    s.app.clock.set(s.t0);
    s.run(0, 180).await;
    let on_bobs_queue = s.drain(&aws_queue("bob-alerts")).await;
    assert_eq!(
        severities(&on_bobs_queue),
        [
            ("bob-app", "warning"),
            ("bob-app", "deactivation"),
            ("bob-app", "deactivation")
        ]
    );

    // Editing keeps the ExternalId; removing the role sends with the gateway's own.
    let assumed = s.moto.assumed_roles().await.len();
    let path = format!("{DESTINATIONS}/{}", d["id"].as_str().unwrap());
    let r = s
        .app
        .call(
            Method::PATCH,
            &path,
            Some(&s.bob_key),
            Some(json!({"role_arn": null})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["role_arn"].is_null());
    assert_eq!(r.body["external_id"], external_id.as_str());
    assert_eq!(send().await.body["outcome"], "sent");
    assert_eq!(s.moto.assumed_roles().await.len(), assumed);
}

async fn an_https_destination_gets_signed_posts(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let listener = TestReceiver::start(Some(app.clock.clone())).await;
    listener.always(500);
    let (key, _) = app.partner_setup(&listener.url(), json!({})).await;
    let endpoint = TestReceiver::start(Some(app.clock.clone())).await;
    let d = create(
        &app,
        "bob-app",
        &key,
        json!({"type": "https", "url": endpoint.url()}),
    )
    .await;
    let secret = d["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert!(d["queue_url"].is_null() && d["external_id"].is_null());
    let path = format!("{DESTINATIONS}/{}", d["id"].as_str().unwrap());
    let read = app.get(&path, &key).await;
    assert!(read.body.get("secret").is_none(), "{}", read.body);
    assert_eq!(
        app.get(&format!("{path}/secret"), &key).await.body["secret"],
        secret.as_str()
    );

    let r = app
        .call(Method::POST, &format!("{path}/test"), Some(&key), None)
        .await;
    assert_eq!(r.body["outcome"], "sent", "{}", r.body);
    app.publish_failing_for_an_hour().await;
    relay_all(&app).await;
    let got = endpoint.received();
    assert_eq!(got.len(), 2);
    let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
    verifier
        .verify(&got[0].body, &got[0].headers)
        .expect("the test's signature verifies");
    for request in &got {
        // The warning is signed at the manual clock's time, an hour ahead of the
        // library's own clock: its signature is checked against the library's.
        let id = request.header("webhook-id");
        let timestamp: i64 = request.header("webhook-timestamp").parse().unwrap();
        let expected = verifier.sign(id, timestamp, &request.body).unwrap();
        assert_eq!(request.header("webhook-signature"), expected);
        assert_eq!(id, request.json()["id"].as_str().unwrap());
    }
    assert_eq!(got[0].json()["severity"], "test");
    assert_eq!(r.body["notification_id"], got[0].json()["id"]);
    assert_eq!(got[1].json()["severity"], "warning");

    // A failing endpoint: the HTTP status is the error, the row waits.
    endpoint.always(503);
    let r = app
        .call(Method::POST, &format!("{path}/test"), Some(&key), None)
        .await;
    assert_eq!(
        r.body,
        json!({"outcome": "failed", "notification_id": r.body["notification_id"],
                              "message_id": null, "error": "HTTP 503"})
    );
    let read = app.get(&path, &key).await;
    assert_eq!(read.body["state"], "failing");
    assert_eq!(read.body["last_error"]["message"], "HTTP 503");
}

async fn destinations_refuse_bad_input_and_other_partners(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let (key, _) = app
        .partner_setup("http://127.0.0.1:9/hook", json!({}))
        .await;
    let eve = app.create_app("eve-app").await;
    let post = |body: Value| app.call(Method::POST, DESTINATIONS, Some(&key), Some(body));
    for (body, field) in [
        (
            json!({"type": "sqs", "queue_url": "https://example.com/123456789012/q"}),
            "queue_url",
        ),
        (
            json!({"type": "sqs", "queue_url": "http://sqs.us-east-1.amazonaws.com/123456789012/q"}),
            "queue_url",
        ),
        (
            json!({"type": "sqs", "queue_url": aws_queue("q"), "region": "eu-west-1"}),
            "region",
        ),
        (
            json!({"type": "sqs", "queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/a.b"}),
            "queue_url",
        ),
        (
            json!({"type": "sqs", "queue_url": aws_queue("q"), "role_arn": "arn:aws:iam::123:role/x"}),
            "role_arn",
        ),
        (
            json!({"type": "sqs", "queue_url": aws_queue("q"), "role_arn": "bob"}),
            "role_arn",
        ),
        (
            json!({"type": "sqs", "queue_url": aws_queue("q"), "severities": []}),
            "severities",
        ),
        (
            json!({"type": "sqs", "queue_url": aws_queue("q"), "severities": ["warning", "warning"]}),
            "severities",
        ),
        (json!({"type": "https", "url": "ftp://example.com/x"}), ""),
    ] {
        let r = post(body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(field),
            "{body}: {}",
            r.body
        );
    }
    for body in [
        json!({"type": "sns", "queue_url": aws_queue("q")}),
        json!({"type": "sqs"}),
        json!({"type": "sqs", "queue_url": aws_queue("q"), "url": "https://example.com"}),
        json!({"type": "sqs", "queue_url": aws_queue("q"), "severities": ["test"]}),
        json!({"queue_url": aws_queue("q")}),
    ] {
        let r = post(body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
    }
    let first = post(json!({"type": "sqs", "queue_url": aws_queue("q")}))
        .await
        .body;
    for n in 1..5 {
        let r = post(json!({"type": "https", "url": format!("https://example.com/{n}")})).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = post(json!({"type": "sqs", "queue_url": aws_queue("q6")})).await;
    assert_eq!(r.status, 409, "{}", r.body);

    // Another partner's destination does not exist for eve, whichever way she asks.
    let path = format!("{DESTINATIONS}/{}", first["id"].as_str().unwrap());
    assert_eq!(app.get(&path, &eve).await.status, 404);
    assert_eq!(app.get(DESTINATIONS, &eve).await.status, 404);
    let eves = format!(
        "/v1/apps/eve-app/notification-destinations/{}",
        first["id"].as_str().unwrap()
    );
    assert_eq!(app.get(&eves, &eve).await.status, 404);
    for method in [Method::DELETE, Method::PATCH] {
        let r = app.call(method, &path, Some(&eve), Some(json!({}))).await;
        assert_eq!(r.status, 404);
    }
    let r = app
        .call(Method::POST, &format!("{path}/test"), Some(&eve), None)
        .await;
    assert_eq!(r.status, 404);

    // A field of the other type conflicts with what the destination is.
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&key),
            Some(json!({"url": "https://example.com/x"})),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&key),
            Some(json!({"queue_url": "https://example.com/q"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&key),
            Some(json!({"queue_url": aws_queue("renamed.fifo"), "description": "FIFO now"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["queue_url"], aws_queue("renamed.fifo"));
    assert_eq!(r.body["external_id"], first["external_id"]);

    let r = app.call(Method::DELETE, &path, Some(&key), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(app.get(&path, &key).await.status, 404);
    assert_eq!(
        app.get(DESTINATIONS, PLATFORM_KEY).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

/// A destination's test sends and the webhooks' share the app's cap a minute.
async fn test_sends_share_the_apps_cap(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.test_sends_per_minute = 2).await;
    let listener = TestReceiver::start(Some(app.clock.clone())).await;
    let (key, webhook) = app.partner_setup(&listener.url(), json!({})).await;
    let d = create(
        &app,
        "bob-app",
        &key,
        json!({"type": "https", "url": listener.url()}),
    )
    .await;
    let test = format!("{DESTINATIONS}/{}/test", d["id"].as_str().unwrap());
    for _ in 0..2 {
        let r = app.call(Method::POST, &test, Some(&key), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = app.call(Method::POST, &test, Some(&key), None).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "rate_limited");
    let webhook_test = format!(
        "/v1/apps/bob-app/webhooks/{}/test",
        webhook["id"].as_str().unwrap()
    );
    let r = app
        .call(Method::POST, &webhook_test, Some(&key), None)
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(listener.received().len(), 2);
}

/// With private targets refused, an HTTPS destination on loopback is refused as a
/// webhook would be.
async fn https_destinations_follow_the_ssrf_rules(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.allow_private_targets = false;
        s.allow_insecure_targets = false;
    })
    .await;
    app.create_app("bob-app").await;
    for url in [
        "https://127.0.0.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.1/x",
        "http://example.com/x",
    ] {
        let r = app
            .platform_post(DESTINATIONS, json!({"type": "https", "url": url}))
            .await;
        assert_eq!(r.status, 422, "{url}: {}", r.body);
    }
}

/// The gateway stops after the warning was written and before any send: another
/// instance on the same database sends it, once, with the same id.
async fn a_restart_before_the_sends_loses_and_repeats_nothing(backend: Backend) {
    let s = two_partners(backend).await;
    for minute in [0, 30, 60] {
        s.app.clock.set(s.t0 + Duration::minutes(minute));
        s.app
            .publish(json!({"type": "employee.updated", "tenant_id": "acme"}))
            .await;
        while !s.app.dispatcher.run_once().await.unwrap().is_empty() {}
        if minute > 0 {
            s.app.evaluator.tick().await.unwrap();
        }
    }
    let written = s.app.store.list_notifications(None, 10).await.unwrap();
    assert_eq!(written.len(), 2, "a warning for each app");
    assert_eq!(s.app.store.outbox_backlog().await.unwrap(), 4);
    let TwoPartners {
        app,
        moto,
        platform_queue,
        ..
    } = s;
    let database = app.database_url.clone();
    let now = app.clock.now();
    drop(app);
    let again = gateway_on(database, &moto, &platform_queue).await;
    again.clock.set(now);
    relay_all(&again).await;
    relay_all(&again).await;
    let bob = drain(&moto, &aws_queue("bob-alerts")).await;
    let platform = drain(&moto, &platform_queue).await;
    assert_eq!(severities(&bob), [("bob-app", "warning")]);
    assert_eq!(platform.len(), 2);
    let bob_written = written.iter().find(|n| n.app_id == "bob-app").unwrap();
    assert_eq!(bob[0].2, bob_written.id);
    assert!(platform.iter().any(|m| m.2 == bob_written.id));
    assert_eq!(again.store.outbox_backlog().await.unwrap(), 0);
}

on_both_backends!(
    each_partner_gets_its_own_notifications_on_its_own_queue,
    a_missing_queue_holds_only_its_own_messages_until_it_is_back,
    a_role_is_assumed_with_its_external_id_and_its_credentials_reused,
    an_https_destination_gets_signed_posts,
    destinations_refuse_bad_input_and_other_partners,
    https_destinations_follow_the_ssrf_rules,
    test_sends_share_the_apps_cap,
    a_restart_before_the_sends_loses_and_repeats_nothing,
);
