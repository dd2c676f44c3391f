//! Partner keys of an app: several may be live at once so a partner can rotate without
//! downtime. Shown once, stored hashed, revocable.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiPath, Caller};
use super::params::{AppPath, KeyPath};
use super::responses::{Authenticated, Missing};
use super::{ApiError, AppState, List};
use crate::domain::model::AppKey;
use crate::usecases::keys;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

#[derive(Serialize, utoipa::ToSchema)]
struct CreatedKey {
    #[serde(flatten)]
    key: AppKey,
    /// Shown only here.
    partner_key: String,
}

/// The platform, or the partner itself (to rotate), adds a key.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/keys",
    tag = "keys",
    operation_id = "keys_create",
    params(AppPath),
    responses(
        (status = 201, body = CreatedKey),
        (status = 409, description = "The app holds 20 live keys already", body = ErrorBody),
        Authenticated, Missing,
    ),
)]
async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let (key, partner_key) = keys::create(&state, &caller, &app_id).await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { key, partner_key })))
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/keys",
    tag = "keys",
    operation_id = "keys_list",
    params(AppPath),
    responses(
        (status = 200, body = List<AppKey>),
        Authenticated, Missing,
    ),
)]
async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<Json<List<AppKey>>, ApiError> {
    Ok(Json(keys::list(&state, &caller, &app_id).await?.into()))
}

#[utoipa::path(
    delete,
    path = "/v1/apps/{app}/keys/{key}",
    tag = "keys",
    operation_id = "keys_revoke",
    params(KeyPath),
    responses(
        (status = 204, description = "Revoked"),
        Authenticated, Missing,
    ),
)]
async fn revoke(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, key_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    keys::revoke(&state, &caller, &app_id, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
