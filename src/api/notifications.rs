//! The notification outbox, readable whether or not SQS is configured: the platform sees
//! all, a partner its own app's.

use axum::{extract::State, Json};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{ApiPath, ApiQuery, Caller, Platform};
use super::params::AppPath;
use super::responses::{Authenticated, Missing, Query};
use super::{ApiError, AppState, List};
use crate::domain::notification::Notification;
use crate::usecases::{notifications, page_limit};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(all))
        .routes(routes!(of_app))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Limit {
    #[param(schema_with = crate::usecases::contract::schema::page_limit)]
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/v1/notifications",
    tag = "notifications",
    operation_id = "notifications_all",
    params(Limit),
    responses(
        (status = 200, body = List<Notification>),
        Authenticated, Query,
    ),
)]
async fn all(
    _: Platform,
    State(state): State<AppState>,
    ApiQuery(limit): ApiQuery<Limit>,
) -> Result<Json<List<Notification>>, ApiError> {
    let data = notifications::all(&state, page_limit(limit.limit)?).await?;
    Ok(Json(data.into()))
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/notifications",
    tag = "notifications",
    operation_id = "notifications_of_app",
    params(AppPath, Limit),
    responses(
        (status = 200, body = List<Notification>),
        Authenticated, Missing, Query,
    ),
)]
async fn of_app(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
    ApiQuery(limit): ApiQuery<Limit>,
) -> Result<Json<List<Notification>>, ApiError> {
    let limit = page_limit(limit.limit)?;
    let data = notifications::of_app(&state, &caller, &app_id, limit).await?;
    Ok(Json(data.into()))
}
