//! Delivery and attempt logs of one webhook, filtered and cursor-paginated, plus
//! resending one delivery and replaying failed ones.

use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::webhooks::owned_webhook;
use super::{page_limit, ApiError, AppState};
use crate::domain::model::{Attempt, Delivery, DeliveryState, Webhook};
use crate::domain::retry::AttemptClass;
use crate::store::{AttemptFilter, DeliveryFilter};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(deliveries))
        .routes(routes!(delivery))
        .routes(routes!(resend))
        .routes(routes!(attempts))
        .routes(routes!(replay))
}

/// A page of a log: `next_cursor`, when present, is the `before` of the next page.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

fn page<T>(data: Vec<T>, limit: i64, id: impl Fn(&T) -> &str) -> Page<T> {
    let next_cursor = (data.len() as i64 == limit)
        .then(|| data.last().map(|last| id(last).to_string()))
        .flatten();
    Page { data, next_cursor }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeliveryQuery {
    state: Option<DeliveryState>,
    event_type: Option<String>,
    tenant_id: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    before: Option<String>,
    limit: Option<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AttemptQuery {
    delivery_id: Option<String>,
    outcome: Option<String>,
    /// Attempts of deliveries of this event type (exact name).
    event_type: Option<String>,
    /// Attempts of deliveries for this tenant.
    tenant_id: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    before: Option<String>,
    limit: Option<i64>,
}

/// Newest first.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}/deliveries",
    tag = "logs",
    operation_id = "logs_deliveries",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id"), DeliveryQuery),
    responses(
        (status = 200, body = Page<Delivery>),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn deliveries(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> Result<Json<Page<Delivery>>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
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
    let data = state.store.list_deliveries(&webhook.id, &filter).await?;
    Ok(Json(page(data, limit, |d| &d.id)))
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}/deliveries/{delivery}",
    tag = "logs",
    operation_id = "logs_delivery",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id"), ("delivery" = String, Path, description = "Delivery id")),
    responses(
        (status = 200, body = Delivery),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn delivery(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id, delivery_id)): ApiPath<(String, String, String)>,
) -> Result<Json<Delivery>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    Ok(Json(
        webhook_delivery(&state, &webhook.id, &delivery_id).await?,
    ))
}

/// Newest first.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}/attempts",
    tag = "logs",
    operation_id = "logs_attempts",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id"), AttemptQuery),
    responses(
        (status = 200, body = Page<Attempt>),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn attempts(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<AttemptQuery>,
) -> Result<Json<Page<Attempt>>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    let limit = page_limit(q.limit)?;
    let outcome = parse_outcome(q.outcome.as_deref())?;
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
    let data = state.store.list_attempts(&webhook.id, &filter).await?;
    Ok(Json(page(data, limit, |a| &a.id)))
}

/// Attempts one delivery again now, with a fresh retry schedule.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/webhooks/{id}/deliveries/{delivery}/resend",
    tag = "logs",
    operation_id = "logs_resend",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id"), ("delivery" = String, Path, description = "Delivery id")),
    responses(
        (status = 200, body = Delivery),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn resend(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id, delivery_id)): ApiPath<(String, String, String)>,
) -> Result<Json<Delivery>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    Ok(Json(
        resend_delivery(&state, &webhook.id, &delivery_id).await?,
    ))
}

/// An attempt outcome from a query, as the API and the portal filter by it.
pub fn parse_outcome(outcome: Option<&str>) -> Result<Option<AttemptClass>, ApiError> {
    outcome
        .map(|o| {
            AttemptClass::parse(o).ok_or_else(|| {
                ApiError::invalid(
                    "outcome must be success, http_error, timeout, connect, network or aborted",
                )
            })
        })
        .transpose()
}

/// The webhook's delivery, or not found (also when it is another webhook's).
pub async fn webhook_delivery(
    state: &AppState,
    webhook_id: &str,
    delivery_id: &str,
) -> Result<Delivery, ApiError> {
    state
        .store
        .get_delivery(delivery_id)
        .await?
        .filter(|d| d.webhook_id == webhook_id)
        .ok_or_else(|| ApiError::not_found("delivery"))
}

/// Queues one delivered, failed or skipped delivery again, due now, with a fresh retry
/// schedule. The API's and the portal's one path.
pub async fn resend_delivery(
    state: &AppState,
    webhook_id: &str,
    delivery_id: &str,
) -> Result<Delivery, ApiError> {
    let current = webhook_delivery(state, webhook_id, delivery_id).await?;
    let installation = state
        .store
        .get_installation(&current.installation_id)
        .await?;
    if installation.is_none_or(|i| i.state == crate::domain::model::InstallationState::Revoked) {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "installation_revoked",
            "the tenant uninstalled this app: none of its deliveries can be sent again",
        ));
    }
    if !state
        .store
        .resend_delivery(webhook_id, delivery_id, state.clock.now())
        .await?
    {
        return Err(ApiError::conflict(format!(
            "the delivery is {}; only delivered, failed or skipped deliveries can be resent",
            current.state.as_str()
        )));
    }
    state.dispatcher_wake.notify_one();
    webhook_delivery(state, webhook_id, delivery_id).await
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
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id")),
    request_body = ReplayRequest,
    responses(
        (status = 200, body = ReplayResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn replay(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<ReplayRequest>,
) -> Result<Json<ReplayResponse>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    let queued = replay_failed(&state, &webhook, req.since).await?;
    Ok(Json(ReplayResponse { queued }))
}

/// Queues again the webhook's deliveries that failed for good since `since`, and says how
/// many: the API's and the portal's path.
pub async fn replay_failed(
    state: &AppState,
    webhook: &Webhook,
    since: DateTime<Utc>,
) -> Result<u64, ApiError> {
    let queued = state
        .store
        .replay_failed(&webhook.id, since, state.clock.now())
        .await?;
    if queued > 0 {
        state.dispatcher_wake.notify_one();
    }
    Ok(queued)
}
