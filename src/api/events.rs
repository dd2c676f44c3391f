//! `POST /v1/events`: the platform publishes one event for one tenant (or up to 500 with
//! `POST /v1/events/batch`). Events and their fan-out are committed before the 202; a
//! repeat with the same id or `Idempotency-Key` creates nothing and answers with the
//! original.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{parse_json, ApiBytes, Platform};
use super::{new_id, validate_id, ApiError, AppState};
use crate::domain::filter;
use crate::domain::model::{EventSummary, NewEvent, PublishOutcome};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish))
        .routes(routes!(publish_batch))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PublishRequest {
    id: Option<String>,
    #[serde(rename = "type")]
    event_type: String,
    tenant_id: String,
    occurred_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<Object>)]
    data: Option<Box<RawValue>>,
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= 255 => Ok(Some(key.to_string())),
        _ => Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    operation_id = "events_publish",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a repeat a no-op")),
    request_body = PublishRequest,
    responses(
        (status = 202, description = "Stored with its deliveries (or a replay of the original)", body = EventSummary),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn publish(
    _: Platform,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    let outcome = publish_event(&state, &body, idempotency_key(&headers)?).await?;
    Ok(match outcome {
        PublishOutcome::Created(summary) => (StatusCode::ACCEPTED, Json(summary)).into_response(),
        PublishOutcome::Replayed(summary) => {
            let mut response = (StatusCode::ACCEPTED, Json(summary)).into_response();
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
    })
}

/// Validates and publishes one event from its JSON request body, as `POST /v1/events`
/// takes it: the API's and the console's path.
#[tracing::instrument(name = "publish", skip_all, fields(
    event_id = tracing::field::Empty, tenant_id = tracing::field::Empty,
    event_type = tracing::field::Empty, deliveries = tracing::field::Empty,
))]
pub async fn publish_event(
    state: &AppState,
    body: &[u8],
    idempotency_key: Option<String>,
) -> Result<PublishOutcome, ApiError> {
    let req: PublishRequest = parse_json(body, false)?;
    let mut event = new_event(req, idempotency_key, body, state.clock.now())?;
    let span = tracing::Span::current();
    span.record("event_id", event.id.as_str());
    span.record("tenant_id", event.tenant_id.as_str());
    span.record("event_type", event.event_type.as_str());
    // Stored with the event: every attempt of its deliveries links back to this span.
    event.traceparent = crate::telemetry::traceparent(&span);
    require_declared(state, std::slice::from_ref(&event)).await?;
    let outcome = state.publisher.publish(event).await?;
    count_and_wake(state, std::slice::from_ref(&outcome));
    if let PublishOutcome::Created(summary) = &outcome {
        span.record("deliveries", summary.deliveries);
    }
    Ok(outcome)
}

/// A validated event. `request` is the bytes the idempotency hash covers.
fn new_event(
    req: PublishRequest,
    idempotency_key: Option<String>,
    request: &[u8],
    now: DateTime<Utc>,
) -> Result<NewEvent, ApiError> {
    let id = req.id.unwrap_or_else(new_id);
    validate_id("id", &id)?;
    validate_id("tenant_id", &req.tenant_id)?;
    if !filter::valid_event_type(&req.event_type) {
        return Err(ApiError::invalid(
            "type must be dot-separated segments of letters, digits, '_' or '-'",
        ));
    }
    let data = match req.data {
        None => "{}".to_string(),
        Some(raw) if raw.get().starts_with('{') => raw.get().to_string(),
        Some(_) => return Err(ApiError::invalid("data must be a JSON object")),
    };
    Ok(NewEvent {
        id,
        idempotency_key,
        request_hash: hex::encode(Sha256::digest(request)),
        tenant_id: req.tenant_id,
        event_type: req.event_type,
        occurred_at: req.occurred_at.map_or(now, |t| t.trunc_subsecs(3)),
        received_at: now,
        data,
        traceparent: None,
    })
}

/// With `HOOKGATE_STRICT_EVENT_TYPES`, a type missing from the catalogue is refused.
async fn require_declared(state: &AppState, events: &[NewEvent]) -> Result<(), ApiError> {
    if !state.settings.strict_event_types {
        return Ok(());
    }
    let types: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.event_type.as_str()).collect();
    for event_type in types {
        if state.store.get_event_type(event_type).await?.is_none() {
            return Err(ApiError::invalid(format!(
                "type {event_type:?} is not in the event-type catalogue \
                 (HOOKGATE_STRICT_EVENT_TYPES is on): declare it with POST /v1/event-types"
            )));
        }
    }
    Ok(())
}

fn count_and_wake(state: &AppState, outcomes: &[PublishOutcome]) {
    let mut wake = false;
    for outcome in outcomes {
        if let PublishOutcome::Created(summary) = outcome {
            metrics::counter!(crate::metrics::EVENTS_PUBLISHED).increment(1);
            for (app_id, n) in &summary.deliveries_by_app {
                metrics::counter!(crate::metrics::DELIVERIES_CREATED, "app_id" => app_id.clone())
                    .increment(*n as u64);
            }
            // Deliveries a publish leased to this instance are on their way already.
            wake |= summary.deliveries > summary.leased;
        }
    }
    if wake {
        state.dispatcher_wake.notify_one();
    }
}

pub use crate::domain::model::MAX_BATCH;

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    /// Up to 500 events, each as `POST /v1/events` takes it.
    #[schema(value_type = Vec<PublishRequest>)]
    events: Vec<Box<RawValue>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct BatchItem {
    #[serde(flatten)]
    event: EventSummary,
    /// True when the event was already stored (same id and body): nothing new was created.
    replayed: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct BatchResponse {
    data: Vec<BatchItem>,
}

#[utoipa::path(
    post,
    path = "/v1/events/batch",
    tag = "events",
    operation_id = "events_publish_batch",
    request_body = BatchRequest,
    responses(
        (status = 202, description = "All stored with their deliveries, in one transaction", body = BatchResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 409, description = "An event id was already used with a different body", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 422, description = "Invalid event (the message names its index)", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
/// Several events in one transaction: all are stored or none. Each event's id makes its
/// repeat a no-op, as for a single publish.
async fn publish_batch(
    _: Platform,
    State(state): State<AppState>,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<BatchResponse>), ApiError> {
    let batch: BatchRequest = parse_json(&body, false)?;
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        return Err(ApiError::invalid(format!(
            "events must hold 1 to {MAX_BATCH} events"
        )));
    }
    let now = state.clock.now();
    let mut events = Vec::with_capacity(batch.events.len());
    for (i, raw) in batch.events.iter().enumerate() {
        let at =
            |e: ApiError| ApiError::new(e.status, e.code, format!("events[{i}]: {}", e.message));
        let req: PublishRequest = parse_json(raw.get().as_bytes(), false).map_err(at)?;
        events.push(new_event(req, None, raw.get().as_bytes(), now).map_err(at)?);
    }
    // The batch's request span: each event's attempts link to it.
    let traceparent = crate::telemetry::traceparent(&tracing::Span::current());
    for event in &mut events {
        event.traceparent.clone_from(&traceparent);
    }
    require_declared(&state, &events).await?;
    let outcomes = state.store.publish_batch(&events).await?;
    count_and_wake(&state, &outcomes);
    let data = outcomes
        .into_iter()
        .map(|o| match o {
            PublishOutcome::Created(event) => BatchItem {
                event,
                replayed: false,
            },
            PublishOutcome::Replayed(event) => BatchItem {
                event,
                replayed: true,
            },
        })
        .collect();
    Ok((StatusCode::ACCEPTED, Json(BatchResponse { data })))
}
