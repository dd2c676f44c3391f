//! A webhook's health as the evaluator last saw it, and reactivation by its partner.

use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, Caller};
use super::params::WebhookPath;
use super::responses::{Authenticated, Body, JsonOnly, Missing};
use super::{ApiError, AppState};
use crate::domain::health::{Backlog, Reactivated, WebhookHealth};
use crate::domain::model::Webhook;
use crate::usecases::{health, webhooks};

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
    /// What it has waiting, with the tenants that have the most due.
    backlog: Backlog,
    /// The instance that sends to the listener now, alone in the cluster, under its
    /// lease. `null` on SQLite (one instance sends everything) and while no instance
    /// holds the lease (one just left, or the webhook is deactivated).
    owner: Option<OwnerView>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct OwnerView {
    /// The instance's id: its host name and a random suffix.
    instance: String,
    /// Until when its lease counts unless renewed (every `HOOKGATE_INSTANCE_HEARTBEAT`).
    lease_until: chrono::DateTime<chrono::Utc>,
    /// Whether the owner answered this request: its `concurrency_limit` is then the
    /// one the listener runs under (another instance answers with its own, unused).
    answered: bool,
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}/health",
    tag = "health",
    operation_id = "health_health",
    params(WebhookPath),
    responses(
        (status = 200, body = HealthResponse),
        Authenticated, Missing,
    ),
)]
async fn health(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<HealthResponse>, ApiError> {
    let webhook = webhooks::get(&state, &caller, &app_id, &id).await?;
    Ok(Json(HealthResponse {
        health: health::of_webhook(&state, &webhook.id).await?,
        concurrency_limit: health::concurrency_limit(&state, &webhook),
        backlog: health::backlog(&state, &webhook.id).await?,
        owner: health::owner(&state, &webhook).await?.map(|o| OwnerView {
            answered: o.is_this_instance,
            instance: o.instance,
            lease_until: o.lease_until,
        }),
    }))
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
    params(WebhookPath),
    request_body = ReactivateRequest,
    responses(
        (status = 200, body = ReactivateResponse),
        (status = 409, description = "Conflict", body = ErrorBody),
        Authenticated, Missing, Body, JsonOnly,
    ),
)]
async fn reactivate(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<ReactivateRequest>,
) -> Result<Json<ReactivateResponse>, ApiError> {
    let webhook = webhooks::get(&state, &caller, &app_id, &id).await?;
    let (webhook, deliveries) =
        health::reactivate(&state, &webhook, req.replay, req.include_failed).await?;
    Ok(Json(ReactivateResponse {
        webhook,
        deliveries,
    }))
}
