//! Bad input at scale: proptest generates publish, batch-publish and webhook requests,
//! most of them broken in some way (wrong types, odd unicode, hostile URLs and headers,
//! bodies that are not JSON at all). Whatever comes in, the gateway never answers 5xx, a
//! refusal is a 4xx with a JSON error, and a refused request changes no row.
//!
//! Bounded: `CASES` requests per backend, so the whole run stays a few seconds.

use std::cell::Cell;
use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::helpers::{Backend, TestApp, PLATFORM_KEY};

const CASES: u32 = 500;

#[derive(Debug, Clone)]
enum Body {
    Json(Value),
    /// Bytes that claim to be JSON and may not be.
    Raw(String),
}

#[derive(Debug, Clone)]
struct Request {
    method: Method,
    /// `{webhook}` stands for the id of an existing webhook of app `bob`.
    path: &'static str,
    idempotency_key: Option<String>,
    body: Body,
}

/// Strings that tend to break validators: empty, long, control characters, NUL,
/// right-to-left marks, emoji, path traversal, SQL and format metacharacters.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{0,24}",
        2 => "[a-z0-9._:-]{0,12}",
        1 => Just(String::new()),
        1 => Just("../../etc/passwd".to_string()),
        2 => Just("a\u{0}b".to_string()),
        1 => Just("\u{202e}evil\u{200b}".to_string()),
        1 => Just("'; DROP TABLE events; --".to_string()),
        1 => Just("%s%n{}{{}}\\".to_string()),
        1 => (1usize..600).prop_map(|n| "x".repeat(n)),
        1 => any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        nasty_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(nasty_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Starts from a valid object and, field by field, keeps it, drops it, or swaps in a
/// generated value; sometimes adds a stray field. Valid requests stay in the mix so the
/// properties are checked on both sides of every validation.
fn mutated(
    base: Value,
    replacements: Vec<(&'static str, BoxedStrategy<Value>)>,
) -> BoxedStrategy<Value> {
    let fields: Vec<BoxedStrategy<(&'static str, Option<Value>)>> = replacements
        .into_iter()
        .map(|(name, strategy)| {
            let kept = base[name].clone();
            prop_oneof![
                6 => Just((name, Some(kept))),
                1 => Just((name, None)),
                2 => strategy.prop_map(move |v| (name, Some(v))),
            ]
            .boxed()
        })
        .collect();
    let stray = prop::option::weighted(0.1, (nasty_string(), json_value()));
    (fields, stray)
        .prop_map(move |(fields, stray)| {
            let mut object = Map::new();
            for (name, value) in fields {
                if let Some(value) = value.filter(|v| !v.is_null() || name == "data") {
                    object.insert(name.to_string(), value);
                }
            }
            if let Some((k, v)) = stray {
                object.insert(k, v);
            }
            Value::Object(object)
        })
        .boxed()
}

fn event() -> BoxedStrategy<Value> {
    mutated(
        json!({"type": "order.created", "tenant_id": "acme", "data": {"n": 1}, "id": "evt-1"}),
        vec![
            (
                "type",
                prop_oneof![nasty_string().prop_map(Value::from), json_value()].boxed(),
            ),
            (
                "tenant_id",
                prop_oneof![
                    Just(json!("nobody")),
                    nasty_string().prop_map(Value::from),
                    json_value()
                ]
                .boxed(),
            ),
            ("data", json_value().boxed()),
            (
                "id",
                prop_oneof![nasty_string().prop_map(Value::from), json_value()].boxed(),
            ),
            (
                "occurred_at",
                prop_oneof![
                    Just(json!("2026-11-26T07:00:00Z")),
                    Just(json!("2026-13-40T99:00:00Z")),
                    json_value()
                ]
                .boxed(),
            ),
        ],
    )
}

/// One of a few fixed strings, each as likely.
fn one_of(items: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop::sample::select(items).prop_map(String::from)
}

fn listener_url() -> impl Strategy<Value = Value> {
    let host = prop_oneof![
        5 => one_of(&[
            "127.0.0.1:9",
            "169.254.169.254",
            "[::1]",
            "user:pass@example.com",
            "xn--nxasmq6b.example",
        ]),
        1 => "[a-z0-9.-]{0,20}",
        1 => nasty_string(),
    ];
    let scheme = one_of(&[
        "http://",
        "https://",
        "file://",
        "gopher://",
        "javascript:",
        "",
    ]);
    prop_oneof![
        3 => (scheme, host, nasty_string()).prop_map(|(s, h, p)| Value::from(format!("{s}{h}/{p}"))),
        1 => json_value(),
    ]
}

fn custom_headers() -> impl Strategy<Value = Value> {
    let name = prop_oneof![
        4 => one_of(&["X-Partner", "webhook-signature", "Connection", "Host"]),
        1 => "[A-Za-z-]{0,12}",
        1 => nasty_string(),
    ];
    prop_oneof![
        3 => prop::collection::btree_map(name, nasty_string(), 0..3)
            .prop_map(|m: BTreeMap<String, String>| json!(m)),
        1 => json_value(),
    ]
}

/// Each field: a valid alternative (so an update changes something) or a bad value.
fn webhook_fields() -> BoxedStrategy<Value> {
    let base = json!({
        "url": "http://127.0.0.1:9/hook",
        "environment": "production",
        "event_types": ["order.*"],
        "timeout_seconds": 5,
        "retry_policy": "hibob",
        "description": "orders",
    });
    let text = || nasty_string().prop_map(Value::from);
    let replacements = vec![
        (
            "url",
            prop_oneof![Just(json!("http://127.0.0.1:9/changed")), listener_url()].boxed(),
        ),
        (
            "description",
            prop_oneof![Just(json!("renamed")), text()].boxed(),
        ),
        (
            "environment",
            prop_oneof![Just(json!("development")), json_value()].boxed(),
        ),
        (
            "event_types",
            prop_oneof![
                Just(json!(["*"])),
                prop::collection::vec(nasty_string(), 0..3).prop_map(Value::from),
                json_value()
            ]
            .boxed(),
        ),
        (
            "headers",
            prop_oneof![Just(json!({"X-Partner": "p1"})), custom_headers()].boxed(),
        ),
        (
            "timeout_seconds",
            prop_oneof![
                (1i64..=30).prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                json_value()
            ]
            .boxed(),
        ),
        (
            "retry_policy",
            prop_oneof![
                Just(json!("bindbee")),
                Just(json!({"offsets_seconds": [1, 2], "retry_http_errors": false})),
                prop::collection::vec(any::<u64>(), 0..30)
                    .prop_map(|o| json!({"offsets_seconds": o})),
                json_value()
            ]
            .boxed(),
        ),
        (
            "rate_limit_per_second",
            prop_oneof![
                (0i64..=10_000).prop_map(Value::from),
                any::<i64>().prop_map(Value::from)
            ]
            .boxed(),
        ),
        (
            "secret",
            prop_oneof![
                Just(json!("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")),
                Just(json!("whsec_AAAA")),
                text()
            ]
            .boxed(),
        ),
    ];
    mutated(base, replacements)
}

fn request() -> impl Strategy<Value = Request> {
    let key = prop::option::weighted(0.2, "[ -~]{0,300}");
    let raw = prop_oneof![
        nasty_string(),
        Just("{\"type\": \"a\", ".to_string()),
        Just("[]".to_string()),
        Just("{\"events\": [1, 2, 3]}".to_string()),
    ]
    .prop_map(Body::Raw);
    let batch = prop::collection::vec(event(), 0..4).prop_map(|events| json!({"events": events}));
    prop_oneof![
        4 => (event().prop_map(Body::Json), key).prop_map(|(body, idempotency_key)| Request {
            method: Method::POST,
            path: "/v1/events",
            idempotency_key,
            body,
        }),
        1 => batch.prop_map(|b| Request {
            method: Method::POST,
            path: "/v1/events/batch",
            idempotency_key: None,
            body: Body::Json(b),
        }),
        3 => webhook_fields().prop_map(|b| Request {
            method: Method::POST,
            path: "/v1/apps/bob-app/webhooks",
            idempotency_key: None,
            body: Body::Json(b),
        }),
        2 => webhook_fields().prop_map(|b| Request {
            method: Method::PATCH,
            path: "/v1/apps/bob-app/webhooks/{webhook}",
            idempotency_key: None,
            body: Body::Json(b),
        }),
        1 => (prop_oneof![
            Just("/v1/events"),
            Just("/v1/apps/bob-app/webhooks"),
            Just("/v1/apps/bob-app/webhooks/{webhook}")
        ], raw).prop_map(|(path, body)| Request {
            method: if path.ends_with("{webhook}") { Method::PATCH } else { Method::POST },
            path,
            idempotency_key: None,
            body,
        }),
    ]
}

/// Rows the snapshot does not list one by one, counted over one connection for the run.
enum Counter {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Counter {
    const SQL: &'static str = "SELECT (SELECT COUNT(*) FROM events), \
         (SELECT COUNT(*) FROM deliveries), (SELECT COUNT(*) FROM attempts), \
         (SELECT COUNT(*) FROM notifications)";

    async fn connect(database_url: &str) -> Self {
        if database_url.starts_with("sqlite:") {
            Self::Sqlite(sqlx::SqlitePool::connect(database_url).await.unwrap())
        } else {
            Self::Postgres(sqlx::PgPool::connect(database_url).await.unwrap())
        }
    }

    async fn rows(&self) -> (i64, i64, i64, i64) {
        match self {
            Self::Sqlite(pool) => sqlx::query_as(Self::SQL).fetch_one(pool).await.unwrap(),
            Self::Postgres(pool) => sqlx::query_as(Self::SQL).fetch_one(pool).await.unwrap(),
        }
    }
}

async fn state(app: &TestApp, counter: &Counter) -> Value {
    json!({"rows": app.snapshot().await, "counts": counter.rows().await})
}

enum Answer {
    Accepted,
    Refused,
}

/// Sends one generated request and checks the three properties. Accepted webhooks are
/// deleted again so the 10-per-app cap does not end up refusing everything.
async fn check(
    app: &TestApp,
    counter: &Counter,
    partner_key: &str,
    webhook_id: &str,
    request: Request,
) -> Result<Answer, TestCaseError> {
    let before = state(app, counter).await;
    let key = if request.path.starts_with("/v1/events") {
        PLATFORM_KEY
    } else {
        partner_key
    };
    let path = request.path.replace("{webhook}", webhook_id);
    let mut req = app
        .http
        .request(request.method.clone(), format!("{}{path}", app.base))
        .bearer_auth(key)
        .header("content-type", "application/json");
    if let Some(idempotency_key) = &request.idempotency_key {
        req = req.header("idempotency-key", idempotency_key);
    }
    req = match &request.body {
        Body::Json(v) => req.body(v.to_string()),
        Body::Raw(s) => req.body(s.clone()),
    };
    let response = req.send().await.expect("the gateway answers");
    let status = response.status();
    let text = response.text().await.unwrap();
    prop_assert!(
        !status.is_server_error(),
        "{status} for {request:?}: {text}"
    );
    if status.is_success() {
        if request.method == Method::POST && request.path == "/v1/apps/bob-app/webhooks" {
            let created: Value = serde_json::from_str(&text).unwrap();
            let id = created["id"].as_str().unwrap();
            let r = app
                .call(
                    Method::DELETE,
                    &format!("/v1/apps/bob-app/webhooks/{id}"),
                    Some(partner_key),
                    None,
                )
                .await;
            prop_assert!(r.status.is_success());
        }
        return Ok(Answer::Accepted);
    }
    prop_assert!(status.is_client_error(), "{status} for {request:?}");
    let body: Value = serde_json::from_str(&text)
        .map_err(|_| TestCaseError::fail(format!("{status} without a JSON body: {text}")))?;
    prop_assert!(
        body["error"]["code"].is_string() && body["error"]["message"].is_string(),
        "{status} for {request:?}: {body}"
    );
    prop_assert_eq!(
        state(app, counter).await,
        before,
        "refused with {} but something changed: {:?}",
        status,
        request
    );
    Ok(Answer::Refused)
}

async fn generated_requests_never_fail_the_server_nor_change_rows_on_refusal(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let (partner_key, webhook) = app
        .partner_setup("http://127.0.0.1:9/hook", json!({}))
        .await;
    let webhook_id = webhook["id"].as_str().unwrap().to_string();

    let counter = Counter::connect(&app.database_url).await;
    let handle = tokio::runtime::Handle::current();
    let (accepted, refused) = (Cell::new(0), Cell::new(0));
    let outcome = tokio::task::block_in_place(|| {
        let mut runner = TestRunner::new(Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        });
        runner.run(&request(), |request| {
            let answer =
                handle.block_on(check(&app, &counter, &partner_key, &webhook_id, request))?;
            let tally = match answer {
                Answer::Accepted => &accepted,
                Answer::Refused => &refused,
            };
            tally.set(tally.get() + 1);
            Ok(())
        })
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    // The generator is worth something only if it lands on both sides of validation.
    let (accepted, refused) = (accepted.get(), refused.get());
    assert!(
        accepted >= CASES / 20,
        "only {accepted} of {CASES} accepted"
    );
    assert!(refused >= CASES / 5, "only {refused} of {CASES} refused");
}

on_both_backends!(generated_requests_never_fail_the_server_nor_change_rows_on_refusal);
