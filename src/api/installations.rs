//! Installations: a tenant granted a partner app access (the OAuth grant). Created and
//! revoked by the platform; the tenant never manages webhooks itself.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, ApiQuery, Platform};
use super::{new_id, ApiError, AppState, ListResponse};
use crate::domain::model::Installation;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, install))
        .routes(routes!(read, uninstall))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Install {
    tenant_id: String,
    app_id: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filter {
    tenant_id: Option<String>,
    app_id: Option<String>,
}

/// Installing again re-activates a revoked installation (same id).
#[utoipa::path(
    post,
    path = "/v1/installations",
    tag = "installations",
    operation_id = "installations_install",
    request_body = Install,
    responses(
        (status = 201, body = Installation),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn install(
    _: Platform,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<Install>,
) -> Result<(StatusCode, Json<Installation>), ApiError> {
    let (stored, created) = install_app(&state, req.tenant_id, req.app_id).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored)))
}

/// Installs `app_id` for `tenant_id`, or re-activates the revoked installation (then
/// `false`): the API's and the console's path.
pub async fn install_app(
    state: &AppState,
    tenant_id: String,
    app_id: String,
) -> Result<(Installation, bool), ApiError> {
    let installation = Installation {
        id: new_id(),
        tenant_id,
        app_id,
        state: crate::domain::model::InstallationState::Active,
        created_at: state.clock.now(),
        revoked_at: None,
    };
    let stored = state.store.install(&installation).await?;
    let created = stored.id == installation.id;
    Ok((stored, created))
}

#[utoipa::path(
    get,
    path = "/v1/installations",
    tag = "installations",
    operation_id = "installations_list",
    params(Filter),
    responses(
        (status = 200, body = ListResponse<Installation>),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
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

#[utoipa::path(
    get,
    path = "/v1/installations/{id}",
    tag = "installations",
    operation_id = "installations_read",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Installation),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    delete,
    path = "/v1/installations/{id}",
    tag = "installations",
    operation_id = "installations_uninstall",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Installation),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn uninstall(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Installation>, ApiError> {
    uninstall_app(&state, &id).await.map(Json)
}

/// Uninstalls: new events stop at once, and every delivery still open for the tenant is
/// skipped in the same transaction, so the partner gets nothing more of its data.
pub async fn uninstall_app(state: &AppState, id: &str) -> Result<Installation, ApiError> {
    let (installation, skipped) = state
        .store
        .revoke_installation(id, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("installation"))?;
    tracing::info!(installation_id = %id, tenant_id = %installation.tenant_id,
        app_id = %installation.app_id, skipped, "app uninstalled; open deliveries skipped");
    Ok(installation)
}
