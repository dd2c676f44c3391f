//! Ordered delivery as a property of the real store and dispatcher (the pure rule's own
//! proptest is in `src/domain/ordering.rs`): over random interleavings of single and
//! batch publishes for a few keys of two tenants, claims whose answers succeed, fail,
//! time out or abort, and time passing on the manual clock, the listener receives each
//! key's deliveries in publish order and never two of one key at once, a key's open
//! deliveries are always one head and the rest `waiting` for it, and once the listener
//! answers every delivery ends, delivered or failed.

use std::cell::Cell;
use std::collections::HashMap;
use std::time::Duration as StdDuration;

use chrono::Duration;
use hookgate::model::{Delivery, DeliveryState};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Answer, Backend, TestApp, TestReceiver};

/// Cases per backend: each costs a webhook and a second of real time per timed-out claim.
const CASES: u32 = 16;
const TENANTS: [&str; 2] = ["acme", "globex"];
const KEYS: usize = 3;

#[derive(Debug, Clone, Copy)]
enum Reply {
    Ok,
    Fail,
    /// Received, then no answer within the webhook's 1 s timeout.
    Hang,
    /// `webhook-delivery: abort-message`: no more attempts.
    Abort,
}

impl Reply {
    fn answer(self) -> Answer {
        match self {
            Reply::Ok => Answer::from(200),
            Reply::Fail => Answer::from(500),
            Reply::Hang => Answer {
                hang: Some(StdDuration::from_millis(1_500)),
                ..Answer::from(200)
            },
            Reply::Abort => Answer {
                abort: true,
                ..Answer::from(410)
            },
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// Events for (tenant, key), in this order: one is a single publish, more a batch.
    Publish(Vec<(usize, usize)>),
    /// One claim, its requests answered in turn with these (then 200).
    Claim(Vec<Reply>),
    /// Seconds pass: retries (1, 2 and 3 s after the first failure) fall due.
    Advance(i64),
}

fn step() -> impl Strategy<Value = Step> {
    let event = (0..TENANTS.len(), 0..KEYS);
    let reply = prop_oneof![
        10 => Just(Reply::Ok),
        7 => Just(Reply::Fail),
        1 => Just(Reply::Hang),
        2 => Just(Reply::Abort),
    ];
    prop_oneof![
        3 => proptest::collection::vec(event, 1..=4).prop_map(Step::Publish),
        4 => proptest::collection::vec(reply, 0..6).prop_map(Step::Claim),
        2 => (1..=3i64).prop_map(Step::Advance),
    ]
}

/// How many requests got each reply over all cases, so that a run that never reached
/// a timeout or an abort fails rather than passes.
#[derive(Default)]
struct Tally {
    failed: Cell<u32>,
    hung: Cell<u32>,
    aborted: Cell<u32>,
}

/// One case's webhook, of a partner app of its own, and what the listener got for it.
struct Case<'a> {
    app: &'a TestApp,
    receiver: &'a TestReceiver,
    tally: &'a Tally,
    partner: String,
    partner_key: String,
    webhook: String,
    /// Events published per (tenant, key), so `data.n` is the publish order.
    published: HashMap<(String, String), i64>,
    /// The highest sequence the listener received per (tenant, key).
    last: HashMap<(String, String), i64>,
}

impl<'a> Case<'a> {
    async fn start(
        app: &'a TestApp,
        receiver: &'a TestReceiver,
        tally: &'a Tally,
        n: u32,
    ) -> Case<'a> {
        let partner = format!("ordered-{n}");
        let key = app.create_app(&partner).await;
        for tenant in TENANTS {
            app.install(tenant, &partner).await;
        }
        let fields = json!({"ordering": "per_key", "timeout_seconds": 1,
                            "retry_policy": {"offsets_seconds": [1, 2, 3]}});
        let webhook = app
            .create_webhook(&partner, &key, &receiver.url(), fields)
            .await;
        Case {
            app,
            receiver,
            tally,
            partner,
            partner_key: key,
            webhook: webhook["id"].as_str().unwrap().to_string(),
            published: HashMap::new(),
            last: HashMap::new(),
        }
    }

    async fn publish(&mut self, events: &[(usize, usize)]) -> Result<(), TestCaseError> {
        let events: Vec<Value> = events
            .iter()
            .map(|&(t, k)| {
                let of = (TENANTS[t].to_string(), format!("employee:{k}"));
                let n = self.published.entry(of.clone()).or_default();
                *n += 1;
                json!({"type": "employee.updated", "tenant_id": of.0,
                       "ordering_key": of.1, "data": {"n": *n}})
            })
            .collect();
        let r = match events.as_slice() {
            [one] => self.app.publish(one.clone()).await,
            _ => {
                self.app
                    .platform_post("/v1/events/batch", json!({"events": events}))
                    .await
            }
        };
        prop_assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        Ok(())
    }

    /// One claim; what it sent must follow each key's order.
    async fn claim(&mut self, replies: &[Reply]) -> Result<usize, TestCaseError> {
        let answers: Vec<Answer> = replies.iter().map(|r| r.answer()).collect();
        self.receiver.script(&answers);
        let before = self.receiver.received().len();
        let recorded = self.app.dispatcher.run_once().await.unwrap();
        let deliveries = self.deliveries().await;
        let sent = self.receiver.received()[before..].to_vec();
        for reply in replies.iter().take(sent.len()) {
            let tally = match reply {
                Reply::Ok => continue,
                Reply::Fail => &self.tally.failed,
                Reply::Hang => &self.tally.hung,
                Reply::Abort => &self.tally.aborted,
            };
            tally.set(tally.get() + 1);
        }
        let mut in_this_claim = std::collections::HashSet::new();
        for r in &sent {
            let body = r.json();
            let of = (
                body["tenant"]["id"].as_str().unwrap().to_string(),
                body["ordering_key"].as_str().unwrap().to_string(),
            );
            let sequence = body["sequence"].as_i64().unwrap();
            prop_assert_eq!(sequence, body["data"]["n"].as_i64().unwrap(), "{:?}", of);
            prop_assert!(in_this_claim.insert(of.clone()), "two of {:?} at once", of);
            let last = self.last.entry(of.clone()).or_default();
            prop_assert!(sequence >= *last, "{:?}: {} after {}", of, sequence, last);
            *last = sequence;
            // It went only because everything ahead of it in its key had ended (and not
            // in this claim: that would have been two at once).
            for d in deliveries.iter().filter(|d| key_of(d) == of) {
                if d.sequence.unwrap() < sequence {
                    prop_assert!(ended(d.state), "{:?} {} sent before {:?}", of, sequence, d);
                }
            }
        }
        self.open_keys_have_one_head(&deliveries)?;
        Ok(recorded.len())
    }

    async fn deliveries(&self) -> Vec<Delivery> {
        let filter = hookgate::store::DeliveryFilter::latest(1000);
        self.app
            .store
            .list_deliveries(&self.webhook, &filter)
            .await
            .unwrap()
    }

    /// Each key's open deliveries, in sequence order: a head that is not `waiting`, then
    /// only `waiting` ones, each waiting for that head.
    fn open_keys_have_one_head(&self, deliveries: &[Delivery]) -> Result<(), TestCaseError> {
        let mut open: HashMap<(String, String), Vec<&Delivery>> = HashMap::new();
        for d in deliveries.iter().filter(|d| !ended(d.state)) {
            open.entry(key_of(d)).or_default().push(d);
        }
        for (of, mut ds) in open {
            ds.sort_by_key(|d| d.sequence);
            let (head, behind) = ds.split_first().unwrap();
            prop_assert!(head.state != DeliveryState::Waiting, "{:?}: no head", of);
            for d in behind {
                prop_assert_eq!(d.state, DeliveryState::Waiting, "{:?}: two heads", of);
                prop_assert_eq!(d.waiting_for.as_deref(), Some(head.id.as_str()));
            }
        }
        Ok(())
    }

    /// The listener answers from now on: everything ends, each key reaching its last
    /// event, each delivery delivered, failed after its 4 attempts, or aborted.
    async fn drain(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..500 {
            if self.claim(&[]).await? == 0 {
                if self.deliveries().await.iter().all(|d| ended(d.state)) {
                    break;
                }
                self.app.clock.advance(Duration::seconds(3));
            }
        }
        let deliveries = self.deliveries().await;
        for d in &deliveries {
            prop_assert!(
                matches!(d.state, DeliveryState::Delivered | DeliveryState::Failed),
                "{:?} did not end",
                d
            );
        }
        let published: i64 = self.published.values().sum();
        prop_assert_eq!(deliveries.len() as i64, published, "one delivery per event");
        prop_assert_eq!(
            &self.last,
            &self.published,
            "every key reached its last event"
        );
        Ok(())
    }

    /// Deletes the webhook, so that the next case's events reach only the next one's.
    async fn end(self) {
        let path = format!("/v1/apps/{}/webhooks/{}", self.partner, self.webhook);
        let r = self
            .app
            .call(
                reqwest::Method::DELETE,
                &path,
                Some(&self.partner_key),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    }
}

fn key_of(d: &Delivery) -> (String, String) {
    (d.tenant_id.clone(), d.ordering_key.clone().unwrap())
}

/// Delivered, failed (for good or aborted) or skipped: nothing more will be attempted.
fn ended(state: DeliveryState) -> bool {
    matches!(
        state,
        DeliveryState::Delivered | DeliveryState::Failed | DeliveryState::Skipped
    )
}

async fn run_case(
    app: &TestApp,
    receiver: &TestReceiver,
    tally: &Tally,
    n: u32,
    steps: Vec<Step>,
) -> Result<(), TestCaseError> {
    let mut case = Case::start(app, receiver, tally, n).await;
    let outcome = run_steps(&mut case, steps).await;
    // Whatever the outcome: a webhook left behind would take the next cases' events.
    case.end().await;
    outcome
}

async fn run_steps(case: &mut Case<'_>, steps: Vec<Step>) -> Result<(), TestCaseError> {
    for step in steps {
        match step {
            Step::Publish(events) => case.publish(&events).await?,
            Step::Claim(replies) => {
                case.claim(&replies).await?;
            }
            Step::Advance(seconds) => case.app.clock.advance(Duration::seconds(seconds)),
        }
    }
    case.receiver.script(&[]);
    case.drain().await
}

async fn random_interleavings_keep_each_keys_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start(None).await;
    for tenant in TENANTS {
        app.create_tenant(tenant, "production").await;
    }
    let handle = tokio::runtime::Handle::current();
    let cases = Cell::new(0);
    let tally = Tally::default();
    let outcome = tokio::task::block_in_place(|| {
        let mut runner = TestRunner::new(Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        });
        runner.run(&proptest::collection::vec(step(), 1..30), |steps| {
            cases.set(cases.get() + 1);
            handle.block_on(run_case(&app, &receiver, &tally, cases.get(), steps))
        })
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    let (failed, hung, aborted) = (tally.failed.get(), tally.hung.get(), tally.aborted.get());
    assert!(
        failed >= 10 && hung >= 1 && aborted >= 1,
        "the cases reached {failed} failures, {hung} timeouts and {aborted} aborts"
    );
}

on_both_backends!(random_interleavings_keep_each_keys_order);
