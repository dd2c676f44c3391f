//! Partner keys of an app: several may be live at once so a partner can rotate without
//! downtime. Shown once, stored hashed, revocable.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiPath, Caller};
use super::{ApiError, AppState, ListResponse};
use crate::domain::model::AppKey;

pub use crate::domain::secrets::{generate_partner_key, PARTNER_KEY_PREFIX};

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
    params(("app" = String, Path, description = "App id")),
    responses(
        (status = 201, body = CreatedKey),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
        (status = 409, description = "The app holds 20 live keys already", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let (key, partner_key) = create_app_key(&state, &caller, &app_id).await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { key, partner_key })))
}

/// A new partner key for the app: the stored record, and the key itself, shown once.
/// The API's and the portal's one path.
/// Live partner keys one app may hold: enough to rotate without downtime.
pub const MAX_LIVE_KEYS: i64 = 20;

pub async fn create_app_key(
    state: &AppState,
    caller: &Caller,
    app_id: &str,
) -> Result<(AppKey, String), ApiError> {
    caller.require_app(app_id)?;
    if state.store.get_app(app_id).await?.is_none() {
        return Err(ApiError::not_found("app"));
    }
    let (hash, prefix, partner_key) = generate_partner_key();
    let key = state
        .store
        .add_app_key(app_id, &hash, &prefix, state.clock.now(), MAX_LIVE_KEYS)
        .await?;
    Ok((key, partner_key))
}

/// Revokes one of the app's keys; not found when it is not the app's.
pub async fn revoke_app_key(
    state: &AppState,
    caller: &Caller,
    app_id: &str,
    key_id: &str,
) -> Result<(), ApiError> {
    caller.require_app(app_id)?;
    if state
        .store
        .revoke_app_key(app_id, key_id, state.clock.now())
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::not_found("key"))
    }
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/keys",
    tag = "keys",
    operation_id = "keys_list",
    params(("app" = String, Path, description = "App id")),
    responses(
        (status = 200, body = ListResponse<AppKey>),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<Json<ListResponse<AppKey>>, ApiError> {
    caller.require_app(&app_id)?;
    if state.store.get_app(&app_id).await?.is_none() {
        return Err(ApiError::not_found("app"));
    }
    Ok(Json(ListResponse {
        data: state.store.list_app_keys(&app_id).await?,
    }))
}

#[utoipa::path(
    delete,
    path = "/v1/apps/{app}/keys/{key}",
    tag = "keys",
    operation_id = "keys_revoke",
    params(("app" = String, Path, description = "App id"), ("key" = String, Path, description = "Key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn revoke(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, key_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    revoke_app_key(&state, &caller, &app_id, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
