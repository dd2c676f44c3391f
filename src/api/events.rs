//! `POST /v1/events`: the platform publishes one event for one tenant (or up to 500 with
//! `POST /v1/events/batch`). Events and their fan-out are committed before the 202; a
//! repeat with the same id or `Idempotency-Key` creates nothing and answers with the
//! original.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiBytes, Platform};
use super::responses::{Authenticated, Body, Missing};
use super::{ApiError, AppState};
use crate::domain::model::{EventSummary, PublishOutcome};
use crate::usecases::contract;
use crate::usecases::events::{self, BatchRequest, PublishRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish))
        .routes(routes!(publish_batch))
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // The document's; the handler reads the header itself.
struct PublishHeaders {
    #[param(rename = "Idempotency-Key", schema_with = contract::schema::idempotency_key)]
    idempotency_key: Option<String>,
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if contract::is_idempotency_key(key) => Ok(Some(key.to_string())),
        _ => Err(ApiError::bad_request(format!(
            "Idempotency-Key must be 1 to {} visible ASCII characters (inner spaces allowed)",
            contract::IDEMPOTENCY_KEY_MAX
        ))),
    }
}

#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    operation_id = "events_publish",
    params(PublishHeaders),
    request_body = PublishRequest,
    responses(
        (status = 202, description = "Stored with its deliveries (or a replay of the original)", body = EventSummary),
        (status = 409, description = "Conflict", body = ErrorBody),
        Authenticated, Missing, Body,
    ),
)]
async fn publish(
    _: Platform,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    let outcome = events::publish(&state, &body, idempotency_key(&headers)?).await?;
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
        (status = 409, description = "An event id was already used with a different body", body = ErrorBody),
        Authenticated, Missing, Body,
    ),
)]
/// Several events in one transaction: all are stored or none. Each event's id makes its
/// repeat a no-op, as for a single publish.
async fn publish_batch(
    _: Platform,
    State(state): State<AppState>,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<BatchResponse>), ApiError> {
    let outcomes = events::publish_batch(&state, &body).await?;
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
