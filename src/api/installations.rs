//! Installations: a tenant granted a partner app access (the OAuth grant). Created and
//! revoked by the platform; the tenant never manages webhooks itself.

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{extract::State, Json, Router};
use serde::Deserialize;

use super::extract::{ApiJson, ApiPath, ApiQuery, Platform};
use super::{new_id, ApiError, AppState, ListResponse};
use crate::model::Installation;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/installations", get(list).post(install))
        .route("/v1/installations/{id}", get(read).delete(uninstall))
        .route("/v1/installations/{id}/revoke", post(uninstall))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Install {
    tenant_id: String,
    app_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Filter {
    tenant_id: Option<String>,
    app_id: Option<String>,
}

/// Installing again re-activates a revoked installation (same id).
async fn install(
    _: Platform,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<Install>,
) -> Result<(StatusCode, Json<Installation>), ApiError> {
    let installation = Installation {
        id: new_id(),
        tenant_id: req.tenant_id,
        app_id: req.app_id,
        state: crate::model::InstallationState::Active,
        created_at: state.clock.now(),
        revoked_at: None,
    };
    let stored = state.store.install(&installation).await?;
    let status = if stored.id == installation.id {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored)))
}

async fn list(
    _: Platform,
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<Filter>,
) -> Result<Json<ListResponse<Installation>>, ApiError> {
    let data = state
        .store
        .list_installations(filter.tenant_id.as_deref(), filter.app_id.as_deref())
        .await?;
    Ok(Json(ListResponse { data }))
}

async fn read(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Installation>, ApiError> {
    let installation = state.store.get_installation(&id).await?;
    installation
        .map(Json)
        .ok_or_else(|| ApiError::not_found("installation"))
}

/// Uninstalling stops new deliveries at once; history stays readable.
async fn uninstall(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Installation>, ApiError> {
    let revoked = state
        .store
        .revoke_installation(&id, state.clock.now())
        .await?;
    revoked
        .map(Json)
        .ok_or_else(|| ApiError::not_found("installation"))
}
