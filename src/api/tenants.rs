//! Tenants: the platform's customer accounts. Platform key only.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, Platform};
use super::{new_id, validate_id, validate_text, ApiError, AppState, ListResponse};
use crate::domain::model::{Environment, Tenant};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub id: Option<String>,
    pub name: String,
    pub environment: Environment,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    pub name: Option<String>,
    pub environment: Option<Environment>,
}

#[utoipa::path(
    post,
    path = "/v1/tenants",
    tag = "tenants",
    operation_id = "tenants_create",
    request_body = CreateTenant,
    responses(
        (status = 201, body = Tenant),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create(
    _: Platform,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let tenant = create_tenant(&state, req).await?;
    Ok((StatusCode::CREATED, Json(tenant)))
}

/// Validates and stores a tenant: the API's and the console's path.
pub async fn create_tenant(state: &AppState, req: CreateTenant) -> Result<Tenant, ApiError> {
    let id = req.id.unwrap_or_else(new_id);
    validate_id("id", &id)?;
    validate_text("name", &req.name, 200, false)?;
    let tenant = Tenant {
        id,
        name: req.name,
        environment: req.environment,
        created_at: state.clock.now(),
    };
    state.store.create_tenant(&tenant).await?;
    Ok(tenant)
}

#[utoipa::path(
    get,
    path = "/v1/tenants",
    tag = "tenants",
    operation_id = "tenants_list",
    responses(
        (status = 200, body = ListResponse<Tenant>),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list(
    _: Platform,
    State(state): State<AppState>,
) -> Result<Json<ListResponse<Tenant>>, ApiError> {
    Ok(Json(ListResponse {
        data: state.store.list_tenants().await?,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/tenants/{id}",
    tag = "tenants",
    operation_id = "tenants_read",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Tenant),
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
) -> Result<Json<Tenant>, ApiError> {
    let tenant = state.store.get_tenant(&id).await?;
    tenant
        .map(Json)
        .ok_or_else(|| ApiError::not_found("tenant"))
}

#[utoipa::path(
    patch,
    path = "/v1/tenants/{id}",
    tag = "tenants",
    operation_id = "tenants_update",
    params(("id" = String, Path)),
    request_body = UpdateTenant,
    responses(
        (status = 200, body = Tenant),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateTenant>,
) -> Result<Json<Tenant>, ApiError> {
    update_tenant(&state, &id, req).await.map(Json)
}

/// `PATCH /v1/tenants/{id}` as a function, for the console.
pub async fn update_tenant(
    state: &AppState,
    id: &str,
    req: UpdateTenant,
) -> Result<Tenant, ApiError> {
    let mut tenant = state
        .store
        .get_tenant(id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    if let Some(name) = req.name {
        validate_text("name", &name, 200, false)?;
        tenant.name = name;
    }
    if let Some(environment) = req.environment {
        tenant.environment = environment;
    }
    if !state.store.update_tenant(&tenant).await? {
        return Err(ApiError::not_found("tenant"));
    }
    Ok(tenant)
}

#[utoipa::path(
    delete,
    path = "/v1/tenants/{id}",
    tag = "tenants",
    operation_id = "tenants_remove",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn remove(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    delete_tenant(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/tenants/{id}` as a function, for the console: 409 while the tenant still
/// has events or installations.
pub async fn delete_tenant(state: &AppState, id: &str) -> Result<(), ApiError> {
    if state.store.delete_tenant(id).await? {
        Ok(())
    } else {
        Err(ApiError::not_found("tenant"))
    }
}
