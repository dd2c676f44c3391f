//! `/metrics` on a listener of its own, apart from the API: it names every app and
//! webhook with its health, so it is loopback by default (`HOOKGATE_METRICS_LISTEN`) and
//! may ask for a bearer token (`HOOKGATE_METRICS_TOKEN`). The figures read from the
//! database are computed at most once per `HOOKGATE_METRICS_REFRESH` of the gateway's
//! clock, however often it is scraped, so a scrape loop cannot load the database.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, TimeDelta, Utc};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::clock::SharedClock;
use crate::domain::secrets::{hash_key, same_hash};
use crate::store::SharedStore;

pub struct MetricsEndpoint {
    store: SharedStore,
    /// Its per-webhook adaptive limits, rendered at each scrape.
    dispatcher: Arc<crate::delivery::Dispatcher>,
    clock: SharedClock,
    recorder: PrometheusHandle,
    refresh: TimeDelta,
    /// The hash of the token a scrape must carry, when one is set.
    token_hash: Option<String>,
    /// When the database figures were last read, and the health series then rendered.
    cached: tokio::sync::Mutex<Option<(DateTime<Utc>, String)>>,
}

impl MetricsEndpoint {
    pub fn new(
        store: SharedStore,
        dispatcher: Arc<crate::delivery::Dispatcher>,
        clock: SharedClock,
        refresh: std::time::Duration,
        token: Option<&str>,
    ) -> Self {
        Self {
            store,
            dispatcher,
            clock,
            recorder: crate::metrics::handle(),
            refresh: TimeDelta::from_std(refresh).unwrap_or(TimeDelta::seconds(5)),
            token_hash: token.map(hash_key),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/metrics", get(scrape))
            .fallback(|| async { (StatusCode::NOT_FOUND, "only /metrics is served here\n") })
            .with_state(self)
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token_hash else {
            return true;
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        same_hash(&hash_key(given.trim()), expected)
    }

    /// The health series, read from the database (so every replica reports the same),
    /// and the queue gauges, at most once per refresh interval; concurrent scrapes wait
    /// for one read.
    async fn database_figures(&self) -> String {
        let now = self.clock.now();
        let mut cached = self.cached.lock().await;
        if let Some((at, health)) = cached.as_ref() {
            if now >= *at && now - *at < self.refresh {
                return health.clone();
            }
        }
        match self.store.queue_stats(now).await {
            Ok(stats) => crate::metrics::record_queue(&stats),
            Err(e) => tracing::warn!(error = %e, "queue figures unavailable for /metrics"),
        }
        let health = match self.store.health_overview().await {
            Ok(webhooks) => crate::metrics::render_health(&webhooks),
            Err(e) => {
                tracing::warn!(error = %e, "health figures unavailable for /metrics");
                cached.as_ref().map(|(_, h)| h.clone()).unwrap_or_default()
            }
        };
        *cached = Some((now, health.clone()));
        health
    }
}

async fn scrape(State(endpoint): State<Arc<MetricsEndpoint>>, headers: HeaderMap) -> Response {
    if !endpoint.authorised(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "send the metrics token as 'Authorization: Bearer <token>'\n",
        )
            .into_response();
    }
    let health = endpoint.database_figures().await;
    let mut text = endpoint.recorder.render();
    text.push_str(&health);
    text.push_str(&crate::metrics::render_concurrency_limits(
        &endpoint.dispatcher.concurrency_limits(),
    ));
    (
        [
            (header::CONTENT_TYPE, "text/plain; version=0.0.4"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}
