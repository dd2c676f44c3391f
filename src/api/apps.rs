//! Partner apps (OAuth clients). The platform creates them; the partner key is shown once.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, Caller, Platform};
use super::params::AppPath;
use super::responses::{Authenticated, Body, JsonOnly, Missing};
use super::{ApiError, AppState, List};
use crate::domain::model::App;
use crate::usecases::apps::{self, CreateApp, CreatedApp, UpdateApp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
}

#[utoipa::path(
    post,
    path = "/v1/apps",
    tag = "apps",
    operation_id = "apps_create",
    request_body = CreateApp,
    responses(
        (status = 201, body = CreatedApp),
        (status = 409, description = "Conflict", body = ErrorBody),
        Authenticated, Body, JsonOnly,
    ),
)]
async fn create(
    _: Platform,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateApp>,
) -> Result<(StatusCode, Json<CreatedApp>), ApiError> {
    let created = apps::create(&state, req).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    get,
    path = "/v1/apps",
    tag = "apps",
    operation_id = "apps_list",
    responses(
        (status = 200, body = List<App>),
        Authenticated,
    ),
)]
async fn list(_: Platform, State(state): State<AppState>) -> Result<Json<List<App>>, ApiError> {
    Ok(Json(apps::list(&state).await?.into()))
}

/// The platform reads any app; a partner reads its own.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}",
    tag = "apps",
    operation_id = "apps_read",
    params(AppPath),
    responses(
        (status = 200, body = App),
        Authenticated, Missing,
    ),
)]
async fn read(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<Json<App>, ApiError> {
    Ok(Json(apps::get(&state, &caller, &app_id).await?))
}

/// Renames an app, or sets the OAuth client whose tokens act for it.
#[utoipa::path(
    patch,
    path = "/v1/apps/{app}",
    tag = "apps",
    operation_id = "apps_update",
    params(AppPath),
    request_body = UpdateApp,
    responses(
        (status = 200, body = App),
        (status = 409, description = "Another app has this OAuth client", body = ErrorBody),
        Authenticated, Missing, Body, JsonOnly,
    ),
)]
async fn update(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateApp>,
) -> Result<Json<App>, ApiError> {
    Ok(Json(apps::update(&state, &app_id, req).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/apps/{app}",
    tag = "apps",
    operation_id = "apps_remove",
    params(AppPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Conflict", body = ErrorBody),
        Authenticated, Missing,
    ),
)]
async fn remove(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    apps::delete(&state, &app_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
