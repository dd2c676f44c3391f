//! A webhook's health as the evaluator last saw it, and reactivation by its partner.

use axum::routing::{get, post};
use axum::{extract::State, Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiPath, Caller};
use super::webhooks::owned_webhook;
use super::{ApiError, AppState};
use crate::health::rules::Status;
use crate::health::{Reactivated, WebhookHealth};
use crate::model::{Webhook, WebhookState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/apps/{app}/webhooks/{id}/health", get(health))
        .route("/v1/apps/{app}/webhooks/{id}/reactivate", post(reactivate))
}

async fn health(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<WebhookHealth>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    let health = state
        .store
        .get_health(&webhook.id)
        .await?
        .unwrap_or(WebhookHealth {
            // Not evaluated yet.
            webhook_id: webhook.id.clone(),
            state: Status::Healthy,
            failure_since: None,
            warned: false,
            last_evaluated_at: None,
            window_attempts: 0,
            window_failures: 0,
            window_failure_rate: None,
        });
    Ok(Json(health))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReactivateRequest {
    /// Deliver the events kept while the webhook was off (true), or drop them (false).
    replay: bool,
    /// With `replay`: also retry deliveries that failed for good during the outage.
    #[serde(default)]
    include_failed: bool,
}

#[derive(Serialize)]
struct ReactivateResponse {
    webhook: Webhook,
    #[serde(flatten)]
    deliveries: Reactivated,
}

async fn reactivate(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<ReactivateRequest>,
) -> Result<Json<ReactivateResponse>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    if webhook.state != WebhookState::Deactivated {
        return Err(ApiError::conflict(
            "the webhook is active; only a deactivated webhook can be reactivated",
        ));
    }
    let deliveries = state
        .store
        .reactivate(
            &webhook.id,
            req.replay,
            req.include_failed,
            state.clock.now(),
        )
        .await?
        .ok_or_else(|| ApiError::conflict("the webhook was reactivated meanwhile"))?;
    if deliveries.released > 0 {
        state.dispatcher_wake.notify_one();
    }
    tracing::info!(webhook_id = %webhook.id, released = deliveries.released,
        skipped = deliveries.skipped, "webhook reactivated");
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    Ok(Json(ReactivateResponse {
        webhook,
        deliveries,
    }))
}
