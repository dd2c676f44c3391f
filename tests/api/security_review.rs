//! What the outside security review of December 2026 found, one test per finding (issue
//! 19): each fails without its fix.

use std::time::Duration;

use chrono::Utc;
use hookgate::clock::Clock;
use hookgate::delivery::retry::AttemptClass;
use hookgate::model::{Attempt, AttemptRecord, ClaimedDelivery, DeliveryState};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp, TestReceiver, PLATFORM_KEY};

/// Two apps installed for one tenant, one webhook each: (key, webhook id) per app.
async fn two_partners(app: &TestApp, x_url: &str, y_url: &str) -> [(String, String); 2] {
    app.create_tenant("acme", "production").await;
    let mut out = Vec::new();
    for (id, url) in [("x-app", x_url), ("y-app", y_url)] {
        let key = app.create_app(id).await;
        app.install("acme", id).await;
        let webhook = app.create_webhook(id, &key, url, json!({})).await;
        out.push((key, webhook["id"].as_str().unwrap().to_string()));
    }
    out.try_into().unwrap()
}

/// Everything due, claimed and attempted until nothing is left.
async fn drain(app: &TestApp) -> usize {
    let mut attempted = 0;
    loop {
        let records = app.dispatcher.run_once().await.unwrap();
        if records.is_empty() {
            return attempted;
        }
        attempted += records.len();
    }
}

/// Item 1: A listener answering `200` with a NUL byte in its body: PostgreSQL refuses U+0000
/// in `text`, and one multi-row INSERT failed every partner's records. Now the excerpt
/// is stored with U+FFFD, every attempt of the healthy partner is recorded, and nothing
/// is sent twice after the lease.
async fn a_nul_in_one_listeners_answer_blocks_no_other_record(backend: Backend) {
    let app = spawn_app(backend).await;
    let (bad, good) = (
        TestReceiver::start(None).await,
        TestReceiver::start(None).await,
    );
    bad.answer_body(b"fine\0then");
    let [(_, x), (_, y)] = two_partners(&app, &bad.url(), &good.url()).await;
    for n in 0..50 {
        let r = app
            .publish(json!({"type": "a.b", "tenant_id": "acme", "data": {"n": n}}))
            .await;
        assert_eq!(r.status, 202);
    }
    assert_eq!(drain(&app).await, 100);

    let (x_attempts, y_attempts) = (app.attempts(&x).await, app.attempts(&y).await);
    assert_eq!(y_attempts.len(), 50, "every attempt of the healthy partner");
    assert!(y_attempts
        .iter()
        .all(|a| a.outcome == AttemptClass::Success));
    assert_eq!(x_attempts.len(), 50);
    assert_eq!(
        x_attempts[0].response_excerpt.as_deref(),
        Some("fine\u{FFFD}then")
    );
    for webhook in [&x, &y] {
        let deliveries = app
            .store
            .list_deliveries(webhook, &hookgate::store::DeliveryFilter::latest(100))
            .await
            .unwrap();
        assert!(
            deliveries
                .iter()
                .all(|d| d.state == DeliveryState::Delivered),
            "none left in flight"
        );
    }
    // Past the lease, nothing is claimed again: nothing is sent twice.
    app.clock.advance(chrono::Duration::minutes(10));
    assert_eq!(drain(&app).await, 0);
    assert_eq!(good.received().len(), 50);
    assert_eq!(bad.received().len(), 50);
}

fn record_for(
    claimed: &ClaimedDelivery,
    attempt_id: &str,
    at: chrono::DateTime<Utc>,
) -> AttemptRecord {
    AttemptRecord {
        attempt: Attempt {
            id: attempt_id.to_string(),
            delivery_id: claimed.delivery_id.clone(),
            webhook_id: claimed.webhook_id.clone(),
            attempt_number: claimed.attempt_count + 1,
            started_at: at,
            latency_ms: 5,
            outcome: AttemptClass::Success,
            status_code: Some(200),
            error: None,
            response_excerpt: Some(String::new()),
            retry_after_at: None,
        },
        lease_token: claimed.lease_token.clone(),
        fence: claimed.fence,
        new_state: DeliveryState::Delivered,
        next_attempt_at: None,
        first_failure_at: None,
        ordered: claimed.ordered,
    }
}

async fn claim_all(app: &TestApp) -> Vec<ClaimedDelivery> {
    let now = app.clock.now();
    let limits = hookgate::store::ClaimLimits {
        limit: 100,
        per_webhook: 100,
        ..Default::default()
    };
    app.store
        .claim_due(now, now + chrono::Duration::minutes(5), &limits)
        .await
        .unwrap()
}

/// Item 1: Recording is isolated: a batch the database refuses (here a row whose id is
/// taken) is recorded row by row, so the other webhook's record is written and only the
/// refused one is handed back.
async fn a_refused_record_is_written_alone_and_the_others_are_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    let [(_, x), (_, y)] = two_partners(&app, "http://127.0.0.1:9/x", "http://127.0.0.1:9/y").await;
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    let claimed = claim_all(&app).await;
    assert_eq!(claimed.len(), 2);
    let now = app.clock.now();
    let of = |webhook: &str| claimed.iter().find(|c| c.webhook_id == webhook).unwrap();
    // An attempt id already taken makes x's row one the database refuses.
    let taken = uuid::Uuid::now_v7().to_string();
    app.store
        .record_attempts(&[AttemptRecord {
            lease_token: "not-the-lease".into(),
            ..record_for(of(&x), &taken, now)
        }])
        .await
        .unwrap();
    let batch = [
        record_for(of(&x), &taken, now),
        record_for(of(&y), &uuid::Uuid::now_v7().to_string(), now),
    ];
    let (error, unrecorded) = app.dispatcher.record_attempts(&batch).await.unwrap_err();
    assert!(error.is_refusal(), "{error}");
    assert_eq!(unrecorded.len(), 1);
    assert_eq!(unrecorded[0].attempt.webhook_id, x);
    let y_delivery = app.delivery(&of(&y).delivery_id).await;
    assert_eq!(
        y_delivery.state,
        DeliveryState::Delivered,
        "y's record is written"
    );
    assert_eq!(app.attempts(&y).await.len(), 1);
    assert_eq!(
        app.delivery(&of(&x).delivery_id).await.state,
        DeliveryState::InFlight,
        "x's stays leased, to be recorded or retried"
    );
}

/// Item 2: Uninstalling skips the tenant's open deliveries (retrying, in flight, held) in
/// its transaction; none is sent afterwards, resend and replay refuse them, and an
/// in-flight attempt's record changes nothing.
async fn uninstalling_stops_every_delivery_of_the_tenant(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    app.create_tenant("acme", "production").await;
    let key = app.create_app("bob-app").await;
    let installation = app.install("acme", "bob-app").await;
    let webhook = app
        .create_webhook(
            "bob-app",
            &key,
            &receiver.url(),
            json!({"retry_policy": {"offsets_seconds": [60], "retry_http_errors": true}}),
        )
        .await;
    let id = webhook["id"].as_str().unwrap().to_string();
    let publish =
        |n: i64| app.publish(json!({"type": "a.b", "tenant_id": "acme", "data": {"n": n}}));

    // One delivered, one failed for good, two retrying, one in flight.
    publish(0).await;
    assert_eq!(drain(&app).await, 1);
    receiver.always(500);
    publish(1).await;
    drain(&app).await;
    app.clock.advance(chrono::Duration::minutes(2));
    drain(&app).await;
    publish(2).await;
    publish(3).await;
    drain(&app).await;
    publish(4).await;
    let in_flight = claim_all(&app).await;
    assert_eq!(in_flight.len(), 1);
    let sent_before = receiver.received().len();
    let deliveries = |state: Option<DeliveryState>| {
        let store = app.store.clone();
        let id = id.clone();
        async move {
            let filter = hookgate::store::DeliveryFilter {
                state,
                ..hookgate::store::DeliveryFilter::latest(100)
            };
            store.list_deliveries(&id, &filter).await.unwrap()
        }
    };
    assert_eq!(deliveries(Some(DeliveryState::Failed)).await.len(), 1);
    assert_eq!(deliveries(Some(DeliveryState::Pending)).await.len(), 2);

    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/installations/{installation}"),
            Some(PLATFORM_KEY),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let skipped = deliveries(Some(DeliveryState::Skipped)).await;
    assert_eq!(skipped.len(), 3, "two retrying and the one in flight");
    assert!(skipped
        .iter()
        .all(|d| d.skip_reason.as_deref() == Some("installation_revoked")));

    // The attempt that was in flight finishes: its record keeps the delivery skipped.
    let mut record = record_for(
        &in_flight[0],
        &uuid::Uuid::now_v7().to_string(),
        app.clock.now(),
    );
    record.new_state = DeliveryState::Pending;
    record.next_attempt_at = Some(app.clock.now());
    app.store.record_attempts(&[record]).await.unwrap();
    assert_eq!(
        app.delivery(&in_flight[0].delivery_id).await.state,
        DeliveryState::Skipped
    );

    // Nothing more goes out, whatever the clock.
    app.clock.advance(chrono::Duration::hours(6));
    assert_eq!(drain(&app).await, 0);
    assert_eq!(receiver.received().len(), sent_before);

    // Resend of any of the tenant's deliveries, and replay, refuse them.
    let base = format!("/v1/apps/bob-app/webhooks/{id}");
    for d in deliveries(None).await {
        let r = app
            .call(
                Method::POST,
                &format!("{base}/deliveries/{}/resend", d.id),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(r.status, 409, "{}: {}", d.state.as_str(), r.body);
        assert_eq!(r.body["error"]["code"], "installation_revoked");
    }
    let since = (app.clock.now() - chrono::Duration::days(1)).to_rfc3339();
    let r = app
        .call(
            Method::POST,
            &format!("{base}/replay"),
            Some(&key),
            Some(json!({"since": since})),
        )
        .await;
    assert_eq!(r.body["queued"], 0, "{}", r.body);
    // The metadata stays readable.
    let r = app
        .get(&format!("{base}/deliveries/{}", skipped[0].id), &key)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["skip_reason"], "installation_revoked");
    assert_eq!(drain(&app).await, 0);
    assert_eq!(receiver.received().len(), sent_before);
}

/// Item 2: A publish that commits beside the uninstall (its fan-out saw the installation
/// active) leaves a pending delivery of a revoked installation: the claim skips it.
async fn a_claim_skips_deliveries_of_a_revoked_installation(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    // The installation revoked behind the store's back, as a concurrent uninstall whose
    // delivery update ran before the publish committed.
    let installation = app.installation_id("acme", None).await;
    sqlx_exec(
        &app,
        &format!("UPDATE installations SET state = 'revoked' WHERE id = '{installation}'"),
    )
    .await;
    assert_eq!(drain(&app).await, 0);
    assert!(receiver.received().is_empty());
    let filter = hookgate::store::DeliveryFilter::latest(10);
    let d = &app
        .store
        .list_deliveries(webhook["id"].as_str().unwrap(), &filter)
        .await
        .unwrap()[0];
    assert_eq!(d.state, DeliveryState::Skipped);
    assert_eq!(d.skip_reason.as_deref(), Some("installation_revoked"));
}

/// An uninstall beside a publish: the publish either committed first (and the uninstall
/// skips its deliveries) or sees the installation revoked, never in between, where its
/// deliveries stayed open, and a key's waiting one behind a skipped head would wait for
/// ever. The uninstall is held open in a transaction of its own while the publish runs.
async fn a_publish_beside_an_uninstall_leaves_nothing_open(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (_, webhook) = app
        .partner_setup(&receiver.url(), json!({"ordering": "per_key"}))
        .await;
    let keyed = json!({"type": "a.b", "tenant_id": "acme", "ordering_key": "employee:E-1"});
    assert_eq!(app.publish(keyed.clone()).await.status, 202);
    let installation = app.installation_id("acme", None).await;
    // What `revoke_installation` does, in a transaction left open for now.
    let revoke = [
        format!("UPDATE installations SET state = 'revoked' WHERE id = '{installation}'"),
        format!(
            "UPDATE deliveries SET state = 'skipped', skip_reason = 'installation_revoked', \
             due_at = NULL, lease_token = NULL, fair_tag = NULL \
             WHERE installation_id = '{installation}' \
             AND state IN ('pending', 'in_flight', 'held', 'waiting')"
        ),
    ];
    let publish = |app: &TestApp| {
        let (base, body) = (app.base.clone(), keyed.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/v1/events"))
                .bearer_auth(PLATFORM_KEY)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    // The revoke's statements in a transaction, the publish started while it is open.
    macro_rules! beside_an_open_revoke {
        ($pool:ty) => {{
            let pool = <$pool>::connect(&app.database_url).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            for sql in &revoke {
                sqlx::query(sql).execute(&mut *tx).await.unwrap();
            }
            let published = publish(&app);
            tokio::time::sleep(Duration::from_millis(300)).await;
            tx.commit().await.unwrap();
            published
        }};
    }
    let published = if app.database_url.starts_with("sqlite") {
        beside_an_open_revoke!(sqlx::SqlitePool)
    } else {
        beside_an_open_revoke!(sqlx::PgPool)
    };
    assert_eq!(published.await.unwrap(), 202);
    let filter = hookgate::store::DeliveryFilter::latest(10);
    let deliveries = app
        .store
        .list_deliveries(webhook["id"].as_str().unwrap(), &filter)
        .await
        .unwrap();
    assert!(
        deliveries.iter().all(|d| d.state == DeliveryState::Skipped),
        "{deliveries:?}"
    );
    assert_eq!(drain(&app).await, 0);
    assert!(receiver.received().is_empty());
}

/// Deletes one of bob-app's webhooks through the API.
async fn delete_webhook(app: &TestApp, key: &str, id: &str) {
    let path = format!("/v1/apps/bob-app/webhooks/{id}");
    let r = app.call(Method::DELETE, &path, Some(key), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
}

async fn sqlx_exec(app: &TestApp, sql: &str) {
    use sqlx::Connection;
    if app.database_url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(&app.database_url)
            .await
            .unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(&app.database_url)
            .await
            .unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}

async fn scraped(app: &TestApp) -> String {
    scrape(app, Some("scrape-token"))
        .await
        .text()
        .await
        .unwrap()
}

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(format!("{}/metrics", app.metrics_base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

/// Item 4: `/metrics` is not on the API's port; on its own listener it may ask for a token;
/// the health series come from the database at most once per refresh of the clock, and
/// a deleted webhook's end with it.
async fn metrics_have_their_own_listener_token_and_refresh(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.metrics_token = Some("scrape-token".into());
        s.metrics_refresh = Duration::from_secs(5);
    })
    .await;
    let on_api = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(on_api.status(), 404);
    assert_eq!(scrape(&app, None).await.status(), 401);
    assert_eq!(scrape(&app, Some("wrong")).await.status(), 401);
    assert!(!scraped(&app)
        .await
        .contains("hookgate_webhook_health_state{"));

    let (key, webhook) = app
        .partner_setup("http://127.0.0.1:9/hooks", json!({}))
        .await;
    let id = webhook["id"].as_str().unwrap();
    let series = format!(r#"webhook_id="{id}",state="healthy"}} 1"#);
    assert!(
        !scraped(&app).await.contains(&series),
        "within the refresh interval the database is not read again"
    );
    app.clock.advance(chrono::Duration::seconds(5));
    assert!(scraped(&app).await.contains(&series));

    delete_webhook(&app, &key, id).await;
    app.clock.advance(chrono::Duration::seconds(5));
    assert!(
        !scraped(&app).await.contains(id),
        "a deleted webhook's series end with it"
    );
}

/// Item 5: Custom header values are masked in every answer; reading them (and the secret)
/// takes the manage scope (tests/api/oauth.rs checks the scope); the mask itself is
/// refused as a value.
async fn header_values_are_masked_in_every_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let headers = json!({"headers": {"x-partner-token": "s3cr3t-value"}});
    let (key, webhook) = app.partner_setup("http://127.0.0.1:9/hooks", headers).await;
    let id = webhook["id"].as_str().unwrap();
    assert_eq!(webhook["headers"]["x-partner-token"], "********");
    let base = format!("/v1/apps/bob-app/webhooks/{id}");
    let answers = [
        app.get(&base, &key).await,
        app.get("/v1/apps/bob-app/webhooks", &key).await,
        app.call(
            Method::PATCH,
            &base,
            Some(&key),
            Some(json!({"description": "d"})),
        )
        .await,
        app.call(
            Method::POST,
            &format!("{base}/rotate-secret"),
            Some(&key),
            Some(json!({})),
        )
        .await,
    ];
    for answer in &answers {
        assert!(answer.status.is_success(), "{}", answer.body);
        assert!(
            !answer.body.to_string().contains("s3cr3t-value"),
            "{}",
            answer.body
        );
    }
    let shown = app.get(&format!("{base}/headers"), &key).await;
    assert_eq!(shown.body["headers"]["x-partner-token"], "s3cr3t-value");
    let masked = app
        .call(
            Method::PATCH,
            &base,
            Some(&key),
            Some(json!({"headers": {"x-partner-token": "********"}})),
        )
        .await;
    assert_eq!(masked.status, 422, "{}", masked.body);
    let kept = app.get(&format!("{base}/headers"), &key).await;
    assert_eq!(kept.body["headers"]["x-partner-token"], "s3cr3t-value");
}

/// Item 6: A deleted webhook's adaptive limit and token bucket are forgotten at once, an
/// idle one's later, and neither is named in the claim any more.
async fn per_webhook_state_ends_with_the_webhook(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    let (key, webhook) = app
        .partner_setup(&receiver.url(), json!({"rate_limit_per_second": 100}))
        .await;
    let id = webhook["id"].as_str().unwrap();
    let other = app
        .create_webhook(
            "bob-app",
            &key,
            &receiver.url(),
            json!({"rate_limit_per_second": 100}),
        )
        .await;
    app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    assert_eq!(drain(&app).await, 2);
    assert_eq!(app.dispatcher.tracked(), (2, 2));
    let limit_series =
        format!(r#"hookgate_webhook_concurrency_limit{{app_id="bob-app",webhook_id="{id}"}}"#);
    let metrics = || async { scrape(&app, None).await.text().await.unwrap() };
    assert!(metrics().await.contains(&limit_series));
    delete_webhook(&app, &key, id).await;
    assert_eq!(
        app.dispatcher.tracked().0,
        1,
        "the deleted webhook is forgotten"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    let forgotten = app.dispatcher.forget_idle(Duration::ZERO);
    assert_eq!(forgotten, [other["id"].as_str().unwrap()]);
    assert_eq!(
        app.dispatcher.tracked(),
        (0, 0),
        "idle state and full buckets are dropped"
    );
}

/// Item 7: Test sends: a per-app cap a minute (429), and the global in-flight bound like any
/// attempt.
async fn test_sends_are_capped_and_bounded(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.test_sends_per_minute = 3;
        s.max_in_flight = 1;
        s.max_in_flight_per_webhook = 1;
        s.min_in_flight_per_webhook = 1;
    })
    .await;
    let receiver = TestReceiver::start(None).await;
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let path = format!(
        "/v1/apps/bob-app/webhooks/{}/test",
        webhook["id"].as_str().unwrap()
    );

    // Two at once through an in-flight bound of one: the second reaches the listener
    // only after the first was answered.
    receiver.delay(Duration::from_millis(600));
    let first = app.call(Method::POST, &path, Some(&key), None);
    let second = app.call(Method::POST, &path, Some(&key), None);
    let (first, second) = tokio::join!(first, second);
    assert_eq!((first.status.as_u16(), second.status.as_u16()), (200, 200));
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let gap = (received[1].at - received[0].at).num_milliseconds();
    assert!(
        gap >= 500,
        "the second waited for the first's place: {gap} ms apart"
    );
    receiver.delay(Duration::ZERO);

    assert_eq!(
        app.call(Method::POST, &path, Some(&key), None).await.status,
        200
    );
    let capped = app.call(Method::POST, &path, Some(&key), None).await;
    assert_eq!(capped.status, 429, "{}", capped.body);
    assert_eq!(capped.body["error"]["code"], "rate_limited");
    assert_eq!(
        receiver.received().len(),
        3,
        "the refused test sent nothing"
    );
}

/// Item 10: A PATCH (or rotation) that read the webhook before the evaluator deactivated it
/// writes back neither its state nor its previous secret.
async fn updates_never_write_back_the_state_they_read(backend: Backend) {
    let app = spawn_app(backend).await;
    let (key, webhook) = app
        .partner_setup("http://127.0.0.1:9/hooks", json!({}))
        .await;
    let id = webhook["id"].as_str().unwrap();
    let stale = app.store.get_webhook("bob-app", id).await.unwrap().unwrap();
    sqlx_exec(
        &app,
        &format!("UPDATE webhooks SET state = 'deactivated' WHERE id = '{id}'"),
    )
    .await;
    let mut patched = stale.clone();
    patched.description = "changed".into();
    assert!(app.store.update_webhook(&patched, None).await.unwrap());
    let now = app.store.get_webhook("bob-app", id).await.unwrap().unwrap();
    assert_eq!(now.state.as_str(), "deactivated");
    assert_eq!(now.description, "changed");
    // Through the API too: the answer shows the state as stored.
    let r = app
        .call(
            Method::PATCH,
            &format!("/v1/apps/bob-app/webhooks/{id}"),
            Some(&key),
            Some(json!({"description": "again"})),
        )
        .await;
    assert_eq!(r.body["state"], "deactivated", "{}", r.body);
    // Rotation makes the stored secret the previous one, whatever the caller read.
    let before = app
        .store
        .get_webhook("bob-app", id)
        .await
        .unwrap()
        .unwrap()
        .secret;
    let r = app
        .call(
            Method::POST,
            &format!("/v1/apps/bob-app/webhooks/{id}/rotate-secret"),
            Some(&key),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rotated = app.store.get_webhook("bob-app", id).await.unwrap().unwrap();
    assert_eq!(rotated.previous_secret.as_deref(), Some(before.as_str()));
    assert_ne!(rotated.secret, before);
    assert_eq!(rotated.state.as_str(), "deactivated");
}

/// Item 11: A partner holds at most 20 live keys; revoking one makes room.
async fn live_keys_per_app_are_capped(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.create_app("bob-app").await;
    let path = "/v1/apps/bob-app/keys";
    for _ in 1..20 {
        assert_eq!(
            app.call(Method::POST, path, Some(&first), None)
                .await
                .status,
            201
        );
    }
    let over = app.call(Method::POST, path, Some(&first), None).await;
    assert_eq!(over.status, 409, "{}", over.body);
    let keys = app.get(path, &first).await;
    // Any key but the one this test calls with (keys made in one millisecond list in
    // hash order).
    let one = keys.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| !first.starts_with(k["prefix"].as_str().unwrap()))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = app
        .call(Method::DELETE, &format!("{path}/{one}"), Some(&first), None)
        .await;
    assert!(revoked.status.is_success(), "{}", revoked.body);
    assert_eq!(
        app.call(Method::POST, path, Some(&first), None)
            .await
            .status,
        201
    );
}

on_both_backends!(
    a_nul_in_one_listeners_answer_blocks_no_other_record,
    a_refused_record_is_written_alone_and_the_others_are_recorded,
    uninstalling_stops_every_delivery_of_the_tenant,
    a_claim_skips_deliveries_of_a_revoked_installation,
    a_publish_beside_an_uninstall_leaves_nothing_open,
    metrics_have_their_own_listener_token_and_refresh,
    header_values_are_masked_in_every_answer,
    per_webhook_state_ends_with_the_webhook,
    test_sends_are_capped_and_bounded,
    updates_never_write_back_the_state_they_read,
    live_keys_per_app_are_capped,
);
