//! Health monitoring end to end: a manual clock, a real receiver that fails, the
//! evaluator every 30 minutes, and notifications read back from a real SQS server (moto).

use chrono::{DateTime, Duration, DurationRound, Utc};
use hookgate::clock::Clock;
use hookgate::health::evaluator::TickOutcome;
use hookgate::model::DeliveryState;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_on, spawn_app_with, Backend, TestApp, TestReceiver, PLATFORM_KEY};
use crate::moto::MotoServer;

struct Scenario {
    app: TestApp,
    receiver: TestReceiver,
    moto: MotoServer,
    queue: String,
    key: String,
    webhook_id: String,
    t0: DateTime<Utc>,
}

async fn scenario(backend: Backend) -> Scenario {
    let moto = MotoServer::start().await;
    let queue = moto.create_queue("partner-notifications").await;
    let (queue_url, endpoint) = (queue.clone(), moto.endpoint());
    let app = spawn_app_with(backend, move |s| {
        s.sqs_queue_url = Some(queue_url);
        s.sqs_endpoint = Some(endpoint);
    })
    .await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    let t0 = app.clock.now();
    Scenario {
        webhook_id: webhook["id"].as_str().unwrap().to_string(),
        app,
        receiver,
        moto,
        queue,
        key,
        t0,
    }
}

impl Scenario {
    /// Minute by minute in 10-minute steps over `[from, to]`: publishes `per_step` events,
    /// runs the dispatcher until nothing is due, evaluates at every 30-minute mark and
    /// relays the outbox. Returns the messages that reached the queue, with their minute.
    async fn run(&self, from: i64, to: i64, per_step: usize) -> Vec<(i64, Value)> {
        let mut arrived = Vec::new();
        for minute in (from..=to).step_by(10) {
            self.app.clock.set(self.t0 + Duration::minutes(minute));
            for n in 0..per_step {
                let r = self
                    .app
                    .publish(
                        json!({"type": "employee.updated", "tenant_id": "acme", "data": {"n": n}}),
                    )
                    .await;
                assert_eq!(r.status, 202);
            }
            for _ in 0..100 {
                if self.app.dispatcher.run_once().await.unwrap().is_empty() {
                    break;
                }
            }
            if minute > 0 && minute % 30 == 0 {
                let outcome = self.app.evaluator.tick().await.unwrap();
                assert!(matches!(outcome, TickOutcome::Evaluated { .. }));
                self.app.relay.run_once().await.unwrap();
                for (body, id) in self.moto.drain(&self.queue).await {
                    assert_eq!(
                        body["id"],
                        id.as_str(),
                        "the stable id is also a message attribute"
                    );
                    arrived.push((minute, body));
                }
            }
        }
        arrived
    }

    fn severities(arrived: &[(i64, Value)]) -> Vec<(i64, String)> {
        arrived
            .iter()
            .map(|(m, b)| (*m, b["severity"].as_str().unwrap().to_string()))
            .collect()
    }

    async fn health(&self) -> Value {
        let path = format!("/v1/apps/bob-app/webhooks/{}/health", self.webhook_id);
        let r = self.app.get(&path, &self.key).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }
}

async fn warning_after_one_hour_and_deactivation_after_three(backend: Backend) {
    let s = scenario(backend).await;
    s.receiver.always(503);
    let arrived = s.run(0, 210, 2).await;
    assert_eq!(
        Scenario::severities(&arrived),
        [
            (60, "warning".to_string()),
            (180, "deactivation".to_string())
        ]
    );

    let (_, warning) = &arrived[0];
    assert_eq!(warning["type"], "webhook.health");
    assert_eq!(
        warning["app"],
        json!({"id": "bob-app", "name": "App bob-app"})
    );
    assert_eq!(warning["webhook"]["id"], s.webhook_id.as_str());
    assert_eq!(warning["webhook"]["url"], s.receiver.url().as_str());
    let t0 = hookgate::delivery::payload::rfc3339(s.t0);
    assert_eq!(warning["failure_started_at"], t0.as_str());
    assert_eq!(warning["window"]["failure_rate"], 1.0);
    assert!(warning["window"]["attempts"].as_i64().unwrap() >= 2);
    assert_eq!(warning["window"]["attempts"], warning["window"]["failures"]);
    assert!(!warning["recommended_next_steps"]
        .as_array()
        .unwrap()
        .is_empty());
    let (_, deactivation) = &arrived[1];
    assert_eq!(deactivation["failure_started_at"], t0.as_str());
    assert_ne!(deactivation["id"], warning["id"]);

    // Deactivated: no attempts; new events are held.
    let health = s.health().await;
    assert_eq!(health["state"], "deactivated");
    assert_eq!(health["failure_since"], t0.as_str());
    let seen = s.receiver.received().len();
    let r = s
        .app
        .publish(json!({"type": "employee.updated", "tenant_id": "acme"}))
        .await;
    assert_eq!(r.body["deliveries"], 1);
    s.app.clock.advance(Duration::hours(4));
    assert!(s.app.dispatcher.run_once().await.unwrap().is_empty());
    assert_eq!(s.receiver.received().len(), seen);
    let deliveries = s
        .app
        .store
        .list_deliveries(
            &s.webhook_id,
            &hookgate::store::DeliveryFilter::latest(1000),
        )
        .await
        .unwrap();
    assert!(deliveries.iter().all(|d| d.state != DeliveryState::Pending));
    assert!(deliveries.iter().any(|d| d.state == DeliveryState::Held));
    // Listed by the API too, with the platform key or the partner's own.
    let r = s.app.get("/v1/apps/bob-app/notifications", &s.key).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert!(r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["sent_at"].is_string()));
}

async fn a_recovering_listener_gets_recovered(backend: Backend) {
    let s = scenario(backend).await;
    s.receiver.always(500);
    let mut arrived = s.run(0, 70, 2).await;
    s.receiver.always(200);
    arrived.extend(s.run(80, 150, 2).await);
    assert_eq!(
        Scenario::severities(&arrived),
        [(60, "warning".to_string()), (90, "recovered".to_string())]
    );
    assert_eq!(s.health().await["state"], "healthy");
}

async fn seventy_percent_failures_is_never_warned(backend: Backend) {
    let s = scenario(backend).await;
    s.receiver
        .cycle(&[500, 500, 500, 500, 500, 500, 500, 200, 200, 200]);
    let arrived = s.run(0, 240, 10).await;
    assert!(arrived.is_empty(), "{arrived:?}");
    let health = s.health().await;
    assert_eq!(health["state"], "healthy");
    let rate = health["window_failure_rate"].as_f64().unwrap();
    assert!((0.6..0.8).contains(&rate), "rate {rate}");
}

async fn an_sqs_outage_delays_notifications_and_loses_none(backend: Backend) {
    let mut s = scenario(backend).await;
    s.receiver.always(500);
    assert!(s.run(0, 30, 1).await.is_empty());
    s.moto.stop().await;
    // The warning is due at 60; SQS is down, so it waits in the outbox.
    s.app.clock.set(s.t0 + Duration::minutes(60));
    s.app
        .publish(json!({"type": "employee.updated", "tenant_id": "acme"}))
        .await;
    s.app.dispatcher.run_once().await.unwrap();
    s.app.evaluator.tick().await.unwrap();
    let relay = s.app.relay.clone();
    let outcome = relay.run_once().await.unwrap();
    assert_eq!((outcome.sent, outcome.failed), (0, 1));
    assert_eq!(s.app.store.outbox_backlog().await.unwrap(), 1);
    let r = s.app.get("/v1/notifications", PLATFORM_KEY).await;
    assert_eq!(r.body["data"][0]["severity"], "warning");
    assert!(r.body["data"][0]["sent_at"].is_null());
    assert!(r.body["data"][0]["last_error"].is_string());

    // Back up (moto starts empty: the queue is created again, same URL).
    s.moto.resume().await;
    assert_eq!(s.moto.create_queue("partner-notifications").await, s.queue);
    s.app.clock.advance(Duration::minutes(5));
    assert_eq!(relay.run_once().await.unwrap().sent, 1);
    assert_eq!(s.app.store.outbox_backlog().await.unwrap(), 0);
    let got = s.moto.drain(&s.queue).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0["severity"], "warning");
    // Nothing is sent twice.
    s.app.clock.advance(Duration::minutes(5));
    assert_eq!(relay.run_once().await.unwrap().sent, 0);
    let later = s.run(70, 190, 1).await;
    assert_eq!(
        Scenario::severities(&later),
        [(180, "deactivation".to_string())]
    );
}

async fn reactivation_replays_or_skips_held_deliveries(backend: Backend) {
    let s = scenario(backend).await;
    s.receiver.always(500);
    s.run(0, 180, 1).await;
    assert_eq!(s.health().await["state"], "deactivated");
    for _ in 0..3 {
        s.app
            .publish(json!({"type": "employee.updated", "tenant_id": "acme"}))
            .await;
    }
    let path = format!("/v1/apps/bob-app/webhooks/{}/reactivate", s.webhook_id);
    let post = |key: String, body: Value| {
        let (app, path) = (&s.app, path.clone());
        async move {
            app.call(reqwest::Method::POST, &path, Some(&key), Some(body))
                .await
        }
    };
    let eve = s.app.create_app("eve").await;
    assert_eq!(
        post(eve.clone(), json!({"replay": true})).await.status,
        404,
        "not another partner's"
    );
    assert_eq!(
        post(s.key.clone(), json!({"replay": "yes"})).await.status,
        422
    );

    let held = s
        .app
        .store
        .list_deliveries(
            &s.webhook_id,
            &hookgate::store::DeliveryFilter::latest(1000),
        )
        .await
        .unwrap()
        .iter()
        .filter(|d| d.state == DeliveryState::Held)
        .count() as u64;
    assert!(held >= 3);
    s.receiver.always(200);
    let r = post(s.key.clone(), json!({"replay": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["released"], held);
    assert_eq!(r.body["webhook"]["state"], "active");
    assert_eq!(
        post(s.key.clone(), json!({"replay": true})).await.status,
        409,
        "already active"
    );
    let before = s.receiver.received().len();
    while !s.app.dispatcher.run_once().await.unwrap().is_empty() {}
    assert_eq!(s.receiver.received().len() as u64, before as u64 + held);
    assert_eq!(s.health().await["state"], "healthy");
}

async fn reactivation_without_replay_skips(backend: Backend) {
    let s = scenario(backend).await;
    s.receiver.always(500);
    s.run(0, 180, 1).await;
    s.app
        .publish(json!({"type": "employee.updated", "tenant_id": "acme"}))
        .await;
    let path = format!("/v1/apps/bob-app/webhooks/{}/reactivate", s.webhook_id);
    let r = s
        .app
        .call(
            reqwest::Method::POST,
            &path,
            Some(&s.key),
            Some(json!({"replay": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["released"], 0);
    assert!(r.body["skipped"].as_u64().unwrap() >= 1);
    let deliveries = s
        .app
        .store
        .list_deliveries(
            &s.webhook_id,
            &hookgate::store::DeliveryFilter::latest(1000),
        )
        .await
        .unwrap();
    assert!(deliveries.iter().all(|d| d.state != DeliveryState::Held));
    let before = s.receiver.received().len();
    assert!(s.app.dispatcher.run_once().await.unwrap().is_empty());
    assert_eq!(
        s.receiver.received().len(),
        before,
        "skipped deliveries are not sent"
    );
}

/// Two gateway instances on one database: each tick is evaluated by exactly one.
async fn two_instances_evaluate_each_tick_once(backend: Backend) {
    let first = spawn_app_with(backend, |_| {}).await;
    let second = spawn_app_on(first.database_url.clone(), |_| {}).await;
    let receiver = TestReceiver::start(None).await;
    receiver.always(500);
    first.partner_setup(&receiver.url(), json!({})).await;
    first
        .publish(json!({"type": "a.b", "tenant_id": "acme"}))
        .await;
    first.dispatcher.run_once().await.unwrap();
    // The default schedule fires at :00 and :30; each instance's scheduler a little late.
    let t0 = first
        .clock
        .now()
        .duration_trunc(Duration::minutes(30))
        .unwrap();
    for tick in 1..=4 {
        let at = t0 + Duration::minutes(30 * tick) + Duration::milliseconds(10);
        first.clock.set(at);
        second.clock.set(at + Duration::milliseconds(250));
        let (a, b) = tokio::join!(first.evaluator.tick(), second.evaluator.tick());
        let evaluated = [a.unwrap(), b.unwrap()]
            .iter()
            .filter(|o| matches!(o, TickOutcome::Evaluated { .. }))
            .count();
        assert_eq!(
            evaluated, 1,
            "tick {tick} evaluated by exactly one instance"
        );
    }
}

/// With no platform queue and no destination, a notification is kept, readable by API,
/// with nothing to send it to: no outbox row waits for a queue that does not exist.
async fn without_destinations_notifications_are_kept_and_readable(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    receiver.always(500);
    let (key, _) = app.partner_setup(&receiver.url(), json!({})).await;
    app.publish_failing_for_an_hour().await;
    let r = app.get("/v1/apps/bob-app/notifications", &key).await;
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["severity"], "warning");
    assert!(data[0]["sent_at"].is_null());
    assert_eq!(data[0]["body"]["webhook"]["url"], receiver.url().as_str());
    assert_eq!(data[0]["sends"], json!([]));
    assert_eq!(app.store.outbox_backlog().await.unwrap(), 0);
    assert_eq!(app.relay.run_once().await.unwrap().sent, 0);
    let eve = app.create_app("eve").await;
    assert_eq!(
        app.get("/v1/apps/bob-app/notifications", &eve).await.status,
        404
    );
    assert_eq!(app.get("/v1/notifications", &key).await.status, 403);
}

/// A paused VM resuming hours later, or a clock stepped backwards, sends no burst of
/// notifications and does not skip the deactivation rule.
async fn clock_jumps_send_no_burst_and_skip_no_rule(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    receiver.always(500);
    app.partner_setup(&receiver.url(), json!({})).await;
    let t0 = app.clock.now();
    let step = |minutes: i64| {
        let app = &app;
        async move {
            app.clock.set(t0 + Duration::minutes(minutes));
            app.publish(json!({"type": "a.b", "tenant_id": "acme"}))
                .await;
            while !app.dispatcher.run_once().await.unwrap().is_empty() {}
            app.evaluator.tick().await.unwrap()
        }
    };
    let severities = || {
        let store = app.store.clone();
        async move {
            let mut all = store.list_notifications(None, 100).await.unwrap();
            all.reverse();
            all.iter()
                .map(|n| n.severity.as_str().to_string())
                .collect::<Vec<_>>()
        }
    };
    step(0).await;
    step(30).await;
    // Stepped backwards by two hours: the streak is not "older", nothing is sent.
    step(-90).await;
    assert!(severities().await.is_empty());
    // Forward to one hour after the failure began: one warning; the same tick again is
    // skipped, a tick a minute later sends nothing new.
    step(60).await;
    assert_eq!(step(60).await, TickOutcome::Skipped);
    step(61).await;
    assert_eq!(severities().await, ["warning"]);
    // A pause of five hours: the first tick after it deactivates, once; no catch-up burst.
    step(6 * 60).await;
    step(6 * 60 + 30).await;
    step(12 * 60).await;
    assert_eq!(severities().await, ["warning", "deactivation"]);
}

on_both_backends!(
    clock_jumps_send_no_burst_and_skip_no_rule,
    without_destinations_notifications_are_kept_and_readable,
    warning_after_one_hour_and_deactivation_after_three,
    a_recovering_listener_gets_recovered,
    seventy_percent_failures_is_never_warned,
    an_sqs_outage_delays_notifications_and_loses_none,
    reactivation_replays_or_skips_held_deliveries,
    reactivation_without_replay_skips,
    two_instances_evaluate_each_tick_once,
    the_health_answer_shows_the_backlog_by_tenant,
);

/// The health answer says what the webhook has waiting and which tenants have the most
/// due; retries scheduled for later and held deliveries are counted apart.
async fn the_health_answer_shows_the_backlog_by_tenant(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    receiver.always(500);
    let (key, webhook) = app.partner_setup(&receiver.url(), json!({})).await;
    app.create_tenant("globex", "production").await;
    app.install("globex", "bob-app").await;
    for tenant in ["acme", "acme", "globex", "acme"] {
        let r = app
            .publish(json!({"type": "a.b", "tenant_id": tenant}))
            .await;
        assert_eq!(r.status, 202);
    }
    let path = format!(
        "/v1/apps/bob-app/webhooks/{}/health",
        webhook["id"].as_str().unwrap()
    );
    let r = app.get(&path, &key).await;
    assert_eq!(
        r.body["backlog"],
        json!({"due": 4, "scheduled": 0, "held": 0, "top_tenants": [
            {"tenant_id": "acme", "due": 3}, {"tenant_id": "globex", "due": 1}]})
    );
    while !app.dispatcher.run_once().await.unwrap().is_empty() {}
    let r = app.get(&path, &key).await;
    assert_eq!(
        r.body["backlog"],
        json!({"due": 0, "scheduled": 4, "held": 0, "top_tenants": []})
    );
    app.clock.advance(Duration::minutes(2));
    let r = app.get(&path, &key).await;
    assert_eq!(r.body["backlog"]["due"], 4, "the retries are due again");
    let overview = app
        .store
        .largest_backlogs(app.clock.now(), 10)
        .await
        .unwrap();
    assert_eq!(
        overview,
        [(
            "bob-app".to_string(),
            webhook["id"].as_str().unwrap().to_string(),
            4
        )]
    );
}
