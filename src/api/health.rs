//! A webhook's health as the evaluator last saw it, and reactivation by its partner.

use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, Caller};
use super::webhooks::owned_webhook;
use super::{ApiError, AppState};
use crate::domain::health::Status;
use crate::domain::model::{Webhook, WebhookState};
use crate::health::{Reactivated, WebhookHealth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(reactivate))
}

/// The evaluator's view, and the in-flight limit this instance currently allows.
#[derive(Serialize, utoipa::ToSchema)]
struct HealthResponse {
    #[serde(flatten)]
    health: WebhookHealth,
    /// Attempts this instance sends to the listener at once, at most: the adaptive limit
    /// (grows while the listener answers fast, shrinks on errors and slow answers).
    concurrency_limit: usize,
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}/health",
    tag = "health",
    operation_id = "health_health",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, body = HealthResponse),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn health(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<HealthResponse>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    let health = webhook_health(&state, &webhook.id).await?;
    Ok(Json(HealthResponse {
        concurrency_limit: state.dispatcher.concurrency_limit(&webhook.id),
        health,
    }))
}

/// The webhook's health as last evaluated; healthy when it was never evaluated.
pub async fn webhook_health(state: &AppState, webhook_id: &str) -> Result<WebhookHealth, ApiError> {
    Ok(state
        .store
        .get_health(webhook_id)
        .await?
        .unwrap_or(WebhookHealth {
            webhook_id: webhook_id.to_string(),
            state: Status::Healthy,
            failure_since: None,
            warned: false,
            last_evaluated_at: None,
            window_attempts: 0,
            window_failures: 0,
            window_failure_rate: None,
        }))
}

/// Re-activates a deactivated webhook: `replay` releases its held deliveries (and with
/// `include_failed` those that failed for good since the streak began), otherwise they
/// are skipped. The API's and the portal's one path.
pub async fn reactivate_webhook(
    state: &AppState,
    webhook: &Webhook,
    replay: bool,
    include_failed: bool,
) -> Result<Reactivated, ApiError> {
    if webhook.state != WebhookState::Deactivated {
        return Err(ApiError::conflict(
            "the webhook is active; only a deactivated webhook can be reactivated",
        ));
    }
    let deliveries = state
        .store
        .reactivate(&webhook.id, replay, include_failed, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::conflict("the webhook was reactivated meanwhile"))?;
    if deliveries.released > 0 {
        state.dispatcher_wake.notify_one();
    }
    tracing::info!(webhook_id = %webhook.id, released = deliveries.released,
        skipped = deliveries.skipped, "webhook reactivated");
    Ok(deliveries)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReactivateRequest {
    /// Deliver the events kept while the webhook was off (true), or drop them (false).
    replay: bool,
    /// With `replay`: also retry deliveries that failed for good during the outage.
    #[serde(default)]
    include_failed: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReactivateResponse {
    webhook: Webhook,
    #[serde(flatten)]
    deliveries: Reactivated,
}

#[utoipa::path(
    post,
    path = "/v1/apps/{app}/webhooks/{id}/reactivate",
    tag = "health",
    operation_id = "health_reactivate",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id")),
    request_body = ReactivateRequest,
    responses(
        (status = 200, body = ReactivateResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn reactivate(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<ReactivateRequest>,
) -> Result<Json<ReactivateResponse>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    let deliveries = reactivate_webhook(&state, &webhook, req.replay, req.include_failed).await?;
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    Ok(Json(ReactivateResponse {
        webhook,
        deliveries,
    }))
}
