//! Tenants: the platform's customer accounts. Platform key only.

use axum::http::StatusCode;
use axum::routing::get;
use axum::{extract::State, Json, Router};
use serde::Deserialize;

use super::extract::{ApiJson, ApiPath, Platform};
use super::{new_id, validate_id, validate_text, ApiError, AppState, ListResponse};
use crate::model::{Environment, Tenant};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tenants", get(list).post(create))
        .route("/v1/tenants/{id}", get(read).patch(update).delete(remove))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTenant {
    id: Option<String>,
    name: String,
    environment: Environment,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateTenant {
    name: Option<String>,
    environment: Option<Environment>,
}

async fn create(
    _: Platform,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
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
    Ok((StatusCode::CREATED, Json(tenant)))
}

async fn list(
    _: Platform,
    State(state): State<AppState>,
) -> Result<Json<ListResponse<Tenant>>, ApiError> {
    Ok(Json(ListResponse {
        data: state.store.list_tenants().await?,
    }))
}

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

async fn update(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateTenant>,
) -> Result<Json<Tenant>, ApiError> {
    let mut tenant = state
        .store
        .get_tenant(&id)
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
    Ok(Json(tenant))
}

async fn remove(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_tenant(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("tenant"))
    }
}
