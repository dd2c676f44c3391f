//! Delivery and attempt logs of one webhook, filtered and cursor-paginated, plus
//! resending one delivery and replaying failed ones.

use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::params::{DeliveryPath, WebhookPath};
use super::responses::{Authenticated, Body, JsonOnly, Missing, Query};
use super::{ApiError, AppState, List};
use crate::domain::model::{Attempt, Delivery, DeliveryState};
use crate::store::{AttemptFilter, DeliveryFilter};
use crate::usecases::contract::schema;
use crate::usecases::{logs, page_limit, webhooks};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(deliveries))
        .routes(routes!(delivery))
        .routes(routes!(resend))
        .routes(routes!(attempts))
        .routes(routes!(replay))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeliveryQuery {
    state: Option<DeliveryState>,
    #[param(schema_with = schema::filter)]
    event_type: Option<String>,
    #[param(schema_with = schema::filter)]
    tenant_id: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    #[param(schema_with = schema::filter)]
    before: Option<String>,
    #[param(schema_with = schema::page_limit)]
    limit: Option<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AttemptQuery {
    #[param(schema_with = schema::filter)]
    delivery_id: Option<String>,
    #[param(schema_with = schema::attempt_outcome)]
    outcome: Option<String>,
    /// Attempts of deliveries of this event type (exact name).
    #[param(schema_with = schema::filter)]
    event_type: Option<String>,
    /// Attempts of deliveries for this tenant.
    #[param(schema_with = schema::filter)]
    tenant_id: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    #[param(schema_with = schema::filter)]
    before: Option<String>,
    #[param(schema_with = schema::page_limit)]
    limit: Option<i64>,
}

/// Newest first.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}/deliveries",
    tag = "logs",
    operation_id = "logs_deliveries",
    params(WebhookPath, DeliveryQuery),
    responses(
        (status = 200, body = List<Delivery>),
        Authenticated, Missing, Query,
    ),
)]
async fn deliveries(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> Result<Json<List<Delivery>>, ApiError> {
    let webhook = webhooks::get(&state, &caller, &app_id, &id).await?;
    let limit = page_limit(q.limit)?;
    let filter = DeliveryFilter {
        state: q.state,
        event_type: q.event_type,
        tenant_id: q.tenant_id,
        since: q.since,
        until: q.until,
        before: q.before,
        limit,
    };
    let data = logs::deliveries(&state, &webhook, &filter).await?;
    Ok(Json(List::page(data, limit, |d| &d.id)))
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}/deliveries/{delivery}",
    tag = "logs",
    operation_id = "logs_delivery",
    params(DeliveryPath),
    responses(
        (status = 200, body = Delivery),
        Authenticated, Missing,
    ),
)]
async fn delivery(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id, delivery_id)): ApiPath<(String, String, String)>,
) -> Result<Json<Delivery>, ApiError> {
    let webhook = webhooks::get(&state, &caller, &app_id, &id).await?;
    Ok(Json(logs::delivery(&state, &webhook, &delivery_id).await?))
}

/// Newest first.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}/attempts",
    tag = "logs",
    operation_id = "logs_attempts",
    params(WebhookPath, AttemptQuery),
    responses(
        (status = 200, body = List<Attempt>),
        Authenticated, Missing, Query,
    ),
)]
async fn attempts(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<AttemptQuery>,
) -> Result<Json<List<Attempt>>, ApiError> {
    let webhook = webhooks::get(&state, &caller, &app_id, &id).await?;
    let limit = page_limit(q.limit)?;
    let outcome = logs::parse_outcome(q.outcome.as_deref())?;
    let filter = AttemptFilter {
        delivery_id: q.delivery_id,
        outcome,
        since: q.since,
        until: q.until,
        before: q.before,
        event_type: q.event_type,
        tenant_id: q.tenant_id,
        limit,
    };
    let data = logs::attempts(&state, &webhook, &filter).await?;
    Ok(Json(List::page(data, limit, |a| &a.id)))
}

/// Attempts one delivery again now, with a fresh retry schedule.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/webhooks/{id}/deliveries/{delivery}/resend",
    tag = "logs",
    operation_id = "logs_resend",
    params(DeliveryPath),
    responses(
        (status = 200, body = Delivery),
        (status = 409, description = "Conflict", body = ErrorBody),
        Authenticated, Missing,
    ),
)]
async fn resend(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id, delivery_id)): ApiPath<(String, String, String)>,
) -> Result<Json<Delivery>, ApiError> {
    let webhook = webhooks::get(&state, &caller, &app_id, &id).await?;
    Ok(Json(logs::resend(&state, &webhook, &delivery_id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    since: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReplayResponse {
    queued: u64,
}

/// Queues again every delivery that failed for good since `since`.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/webhooks/{id}/replay",
    tag = "logs",
    operation_id = "logs_replay",
    params(WebhookPath),
    request_body = ReplayRequest,
    responses(
        (status = 200, body = ReplayResponse),
        Authenticated, Missing, Body, JsonOnly,
    ),
)]
async fn replay(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<ReplayRequest>,
) -> Result<Json<ReplayResponse>, ApiError> {
    let webhook = webhooks::get(&state, &caller, &app_id, &id).await?;
    let queued = logs::replay_failed(&state, &webhook, req.since).await?;
    Ok(Json(ReplayResponse { queued }))
}
