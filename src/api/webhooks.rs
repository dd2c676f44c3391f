//! Partner webhooks (listeners) of one app, and their delivery logs. A partner key
//! reaches only its own app; the platform key reaches every app.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiBytes, ApiJson, ApiPath, Caller};
use super::params::{AppPath, WebhookPath};
use super::responses::{Authenticated, Body, JsonOnly, Missing};
use super::{ApiError, AppState, List};
use crate::domain::model::Webhook;
use crate::usecases::parse_json;
use crate::usecases::webhooks::{self, WebhookFields};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(secret))
        .routes(routes!(header_values))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
}

#[derive(Serialize, utoipa::ToSchema)]
struct SecretResponse {
    secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct WebhookWithSecret {
    #[serde(flatten)]
    webhook: Webhook,
    secret: String,
}

#[utoipa::path(
    post,
    path = "/v1/apps/{app}/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_create",
    params(AppPath),
    request_body = WebhookFields,
    responses(
        (status = 201, body = WebhookWithSecret),
        (status = 409, description = "Conflict", body = ErrorBody),
        Authenticated, Missing, Body, JsonOnly,
    ),
)]
async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
    ApiJson(fields): ApiJson<WebhookFields>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), ApiError> {
    let webhook = webhooks::create(&state, &caller, app_id, fields).await?;
    let secret = webhook.secret.clone();
    Ok((
        StatusCode::CREATED,
        Json(WebhookWithSecret { webhook, secret }),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_list",
    params(AppPath),
    responses(
        (status = 200, body = List<Webhook>),
        Authenticated, Missing,
    ),
)]
async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<Json<List<Webhook>>, ApiError> {
    Ok(Json(webhooks::list(&state, &caller, &app_id).await?.into()))
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_read",
    params(WebhookPath),
    responses(
        (status = 200, body = Webhook),
        Authenticated, Missing,
    ),
)]
async fn read(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<Webhook>, ApiError> {
    Ok(Json(webhooks::get(&state, &caller, &app_id, &id).await?))
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}/secret",
    tag = "webhooks",
    operation_id = "webhooks_secret",
    params(WebhookPath),
    responses(
        (status = 200, body = SecretResponse),
        Authenticated, Missing,
    ),
)]
async fn secret(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<SecretResponse>, ApiError> {
    let webhook = webhooks::with_credentials(&state, &caller, &app_id, &id).await?;
    Ok(Json(SecretResponse {
        secret: webhook.secret,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct HeaderValues {
    headers: BTreeMap<String, String>,
}

/// The custom headers with their values, which every other answer masks.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}/headers",
    tag = "webhooks",
    operation_id = "webhooks_header_values",
    params(WebhookPath),
    responses(
        (status = 200, body = HeaderValues),
        Authenticated, Missing,
    ),
)]
async fn header_values(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<HeaderValues>, ApiError> {
    let webhook = webhooks::with_credentials(&state, &caller, &app_id, &id).await?;
    Ok(Json(HeaderValues {
        headers: webhook.headers,
    }))
}

#[utoipa::path(
    patch,
    path = "/v1/apps/{app}/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_update",
    params(WebhookPath),
    request_body = WebhookFields,
    responses(
        (status = 200, body = Webhook),
        Authenticated, Missing, Body, JsonOnly,
    ),
)]
async fn update(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiJson(fields): ApiJson<WebhookFields>,
) -> Result<Json<Webhook>, ApiError> {
    let webhook = webhooks::get(&state, &caller, &app_id, &id).await?;
    Ok(Json(webhooks::update(&state, webhook, fields).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/apps/{app}/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_remove",
    params(WebhookPath),
    responses(
        (status = 204, description = "Deleted with its deliveries"),
        Authenticated, Missing,
    ),
)]
async fn remove(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    webhooks::delete(&state, &caller, &app_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    #[schema(schema_with = crate::usecases::contract::schema::secret_or_null)]
    secret: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Rotated {
    secret: String,
    previous_secret_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A new secret; the old one keeps signing beside it for the overlap (24 h by default).
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/webhooks/{id}/rotate-secret",
    tag = "webhooks",
    operation_id = "webhooks_rotate_secret",
    params(WebhookPath),
    request_body = Option<RotateRequest>,
    responses(
        (status = 200, body = Rotated),
        Authenticated, Missing, Body,
    ),
)]
async fn rotate_secret(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiBytes(body): ApiBytes,
) -> Result<Json<Rotated>, ApiError> {
    let webhook = webhooks::get(&state, &caller, &app_id, &id).await?;
    let request: RotateRequest = parse_json(&body, true)?;
    let webhook = webhooks::rotate_secret(&state, &webhook, request.secret).await?;
    Ok(Json(Rotated {
        secret: webhook.secret,
        previous_secret_expires_at: webhook.previous_secret_expires_at,
    }))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    /// The `data` of the test event; `{}` when absent.
    #[schema(schema_with = crate::usecases::contract::schema::object_or_null)]
    data: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TestOutcome {
    webhook_id_header: String,
    outcome: &'static str,
    status_code: Option<u16>,
    latency_ms: u64,
    error: Option<String>,
    response_excerpt: Option<String>,
}

/// Sends a signed `webhook.test` event now and answers with the attempt's outcome.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/webhooks/{id}/test",
    tag = "webhooks",
    operation_id = "webhooks_send_test",
    params(WebhookPath),
    request_body = Option<TestRequest>,
    responses(
        (status = 200, body = TestOutcome),
        (status = 429, description = "The app's test sends of the last minute reached HOOKGATE_TEST_SENDS_PER_MINUTE", body = ErrorBody),
        Authenticated, Missing, Body,
    ),
)]
async fn send_test(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiBytes(body): ApiBytes,
) -> Result<Json<TestOutcome>, ApiError> {
    let webhook = webhooks::get(&state, &caller, &app_id, &id).await?;
    let request: TestRequest = parse_json(&body, true)?;
    let data = request
        .data
        .as_deref()
        .map(serde_json::value::RawValue::get);
    let sent = webhooks::send_test(&state, &webhook, data).await?;
    Ok(Json(TestOutcome {
        webhook_id_header: sent.msg_id,
        outcome: sent.class.as_str(),
        status_code: sent.status,
        latency_ms: sent.latency.as_millis() as u64,
        error: sent.error,
        response_excerpt: sent.excerpt,
    }))
}
