//! The notification outbox, readable whether or not SQS is configured: the platform sees
//! all, a partner its own app's.

use axum::routing::get;
use axum::{extract::State, Json, Router};
use serde::Deserialize;

use super::extract::{ApiPath, ApiQuery, Caller, Platform};
use super::{page_limit, ApiError, AppState, ListResponse};
use crate::notify::Notification;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/notifications", get(all))
        .route("/v1/apps/{app}/notifications", get(of_app))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Limit {
    limit: Option<i64>,
}

async fn all(
    _: Platform,
    State(state): State<AppState>,
    ApiQuery(limit): ApiQuery<Limit>,
) -> Result<Json<ListResponse<Notification>>, ApiError> {
    let data = state
        .store
        .list_notifications(None, page_limit(limit.limit)?)
        .await?;
    Ok(Json(ListResponse { data }))
}

async fn of_app(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
    ApiQuery(limit): ApiQuery<Limit>,
) -> Result<Json<ListResponse<Notification>>, ApiError> {
    caller.require_app(&app_id)?;
    let data = state
        .store
        .list_notifications(Some(&app_id), page_limit(limit.limit)?)
        .await?;
    Ok(Json(ListResponse { data }))
}
