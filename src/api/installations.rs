//! Installations: a tenant granted a partner app access (the OAuth grant). Created and
//! revoked by the platform; the tenant never manages webhooks itself.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{ApiJson, ApiPath, ApiQuery, Platform};
use super::params::InstallationPath;
use super::responses::{Authenticated, Body, JsonOnly, Missing, Query};
use super::{ApiError, AppState, List};
use crate::domain::model::Installation;
use crate::usecases::installations;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, install))
        .routes(routes!(read, uninstall, update))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Install {
    #[schema(schema_with = crate::usecases::contract::schema::id)]
    tenant_id: String,
    #[schema(schema_with = crate::usecases::contract::schema::id)]
    app_id: String,
    #[serde(default, deserialize_with = "crate::domain::whole::option")]
    #[schema(schema_with = crate::usecases::contract::schema::delivery_weight_or_null)]
    delivery_weight: Option<i64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct InstallationUpdate {
    #[serde(deserialize_with = "crate::domain::whole::required")]
    #[schema(schema_with = crate::usecases::contract::schema::delivery_weight_required)]
    delivery_weight: i64,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filter {
    #[param(schema_with = crate::usecases::contract::schema::filter)]
    tenant_id: Option<String>,
    #[param(schema_with = crate::usecases::contract::schema::filter)]
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
        (status = 201, description = "Installed", body = Installation),
        (status = 200, description = "Already installed: the installation as stored (active again if it was revoked)", body = Installation),
        Authenticated, Missing, Body, JsonOnly,
    ),
)]
async fn install(
    _: Platform,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<Install>,
) -> Result<(StatusCode, Json<Installation>), ApiError> {
    let (stored, created) =
        installations::install(&state, req.tenant_id, req.app_id, req.delivery_weight).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored)))
}

#[utoipa::path(
    get,
    path = "/v1/installations",
    tag = "installations",
    operation_id = "installations_list",
    params(Filter),
    responses(
        (status = 200, body = List<Installation>),
        Authenticated, Query,
    ),
)]
async fn list(
    _: Platform,
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<Filter>,
) -> Result<Json<List<Installation>>, ApiError> {
    let data = installations::list(
        &state,
        filter.tenant_id.as_deref(),
        filter.app_id.as_deref(),
    )
    .await?;
    Ok(Json(data.into()))
}

#[utoipa::path(
    get,
    path = "/v1/installations/{id}",
    tag = "installations",
    operation_id = "installations_read",
    params(InstallationPath),
    responses(
        (status = 200, body = Installation),
        Authenticated, Missing,
    ),
)]
async fn read(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Installation>, ApiError> {
    Ok(Json(installations::get(&state, &id).await?))
}

/// Uninstalling stops new deliveries at once; history stays readable.
#[utoipa::path(
    delete,
    path = "/v1/installations/{id}",
    tag = "installations",
    operation_id = "installations_uninstall",
    params(InstallationPath),
    responses(
        (status = 200, description = "Revoked: the installation stays, `revoked`, and nothing more is delivered for it", body = Installation),
        Authenticated, Missing,
    ),
)]
async fn uninstall(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Installation>, ApiError> {
    Ok(Json(installations::uninstall(&state, &id).await?))
}

/// Sets the tenant's delivery weight (a larger plan): its share of each of the app's
/// listeners while other tenants have deliveries due too.
#[utoipa::path(
    patch,
    path = "/v1/installations/{id}",
    tag = "installations",
    operation_id = "installations_update",
    params(InstallationPath),
    request_body = InstallationUpdate,
    responses(
        (status = 200, description = "Updated", body = Installation),
        Authenticated, Missing, Body, JsonOnly,
    ),
)]
async fn update(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<InstallationUpdate>,
) -> Result<Json<Installation>, ApiError> {
    Ok(Json(
        installations::set_weight(&state, &id, req.delivery_weight).await?,
    ))
}
