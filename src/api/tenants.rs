//! Tenants: the platform's customer accounts. Platform key only.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, Platform};
use super::params::TenantPath;
use super::responses::{Authenticated, Body, JsonOnly, Missing};
use super::{ApiError, AppState, List};
use crate::domain::model::Tenant;
use crate::usecases::tenants::{self, CreateTenant, UpdateTenant};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
}

#[utoipa::path(
    post,
    path = "/v1/tenants",
    tag = "tenants",
    operation_id = "tenants_create",
    request_body = CreateTenant,
    responses(
        (status = 201, body = Tenant),
        (status = 409, description = "Conflict", body = ErrorBody),
        Authenticated, Body, JsonOnly,
    ),
)]
async fn create(
    _: Platform,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let tenant = tenants::create(&state, req).await?;
    Ok((StatusCode::CREATED, Json(tenant)))
}

#[utoipa::path(
    get,
    path = "/v1/tenants",
    tag = "tenants",
    operation_id = "tenants_list",
    responses(
        (status = 200, body = List<Tenant>),
        Authenticated,
    ),
)]
async fn list(_: Platform, State(state): State<AppState>) -> Result<Json<List<Tenant>>, ApiError> {
    Ok(Json(tenants::list(&state).await?.into()))
}

#[utoipa::path(
    get,
    path = "/v1/tenants/{id}",
    tag = "tenants",
    operation_id = "tenants_read",
    params(TenantPath),
    responses(
        (status = 200, body = Tenant),
        Authenticated, Missing,
    ),
)]
async fn read(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Tenant>, ApiError> {
    Ok(Json(tenants::get(&state, &id).await?))
}

#[utoipa::path(
    patch,
    path = "/v1/tenants/{id}",
    tag = "tenants",
    operation_id = "tenants_update",
    params(TenantPath),
    request_body = UpdateTenant,
    responses(
        (status = 200, body = Tenant),
        Authenticated, Missing, Body, JsonOnly,
    ),
)]
async fn update(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateTenant>,
) -> Result<Json<Tenant>, ApiError> {
    Ok(Json(tenants::update(&state, &id, req).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/tenants/{id}",
    tag = "tenants",
    operation_id = "tenants_remove",
    params(TenantPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Conflict", body = ErrorBody),
        Authenticated, Missing,
    ),
)]
async fn remove(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    tenants::delete(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
