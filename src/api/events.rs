//! `POST /v1/events`: the platform publishes one event for one tenant. The event and its
//! fan-out are committed before the 202; a repeat with the same id or `Idempotency-Key`
//! creates nothing and answers with the original.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, SubsecRound, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{parse_json, ApiBytes, Platform};
use super::{new_id, validate_id, ApiError, AppState};
use crate::delivery::filter;
use crate::model::{EventSummary, NewEvent, PublishOutcome};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(publish))
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
    let req: PublishRequest = parse_json(&body, false)?;
    let idempotency_key = idempotency_key(&headers)?;
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
    let now = state.clock.now();
    let event = NewEvent {
        id,
        idempotency_key,
        request_hash: hex::encode(Sha256::digest(&body)),
        tenant_id: req.tenant_id,
        event_type: req.event_type,
        occurred_at: req.occurred_at.map_or(now, |t| t.trunc_subsecs(3)),
        received_at: now,
        data,
    };
    let outcome = state.store.publish(&event).await?;
    Ok(match outcome {
        PublishOutcome::Created(summary) => {
            metrics::counter!(crate::metrics::EVENTS_PUBLISHED).increment(1);
            for (app_id, n) in &summary.deliveries_by_app {
                metrics::counter!(crate::metrics::DELIVERIES_CREATED, "app_id" => app_id.clone())
                    .increment(*n as u64);
            }
            if summary.deliveries > 0 {
                state.dispatcher_wake.notify_one();
            }
            (StatusCode::ACCEPTED, Json(summary)).into_response()
        }
        PublishOutcome::Replayed(summary) => {
            let mut response = (StatusCode::ACCEPTED, Json(summary)).into_response();
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
    })
}
