//! Partner apps (OAuth clients). The platform creates them; the partner key is shown once.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, Caller, Platform};
use super::keys::generate_partner_key;
use super::{new_id, validate_id, validate_text, ApiError, AppState, ListResponse};
use crate::model::App;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, remove))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    pub id: Option<String>,
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedApp {
    #[serde(flatten)]
    pub app: App,
    /// Shown only here; hookgate keeps its hash.
    pub partner_key: String,
}

#[utoipa::path(
    post,
    path = "/v1/apps",
    tag = "apps",
    operation_id = "apps_create",
    request_body = CreateApp,
    responses(
        (status = 201, body = CreatedApp),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create(
    _: Platform,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateApp>,
) -> Result<(StatusCode, Json<CreatedApp>), ApiError> {
    let created = create_app(&state, req).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Validates and stores an app with its first partner key: the API's and the console's
/// path.
pub async fn create_app(state: &AppState, req: CreateApp) -> Result<CreatedApp, ApiError> {
    let id = req.id.unwrap_or_else(new_id);
    validate_id("id", &id)?;
    validate_text("name", &req.name, 200, false)?;
    let app = App {
        id,
        name: req.name,
        created_at: state.clock.now(),
    };
    let (hash, prefix, partner_key) = generate_partner_key();
    state.store.create_app(&app, &hash, &prefix).await?;
    Ok(CreatedApp { app, partner_key })
}

#[utoipa::path(
    get,
    path = "/v1/apps",
    tag = "apps",
    operation_id = "apps_list",
    responses(
        (status = 200, body = ListResponse<App>),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list(
    _: Platform,
    State(state): State<AppState>,
) -> Result<Json<ListResponse<App>>, ApiError> {
    Ok(Json(ListResponse {
        data: state.store.list_apps().await?,
    }))
}

/// The platform reads any app; a partner reads its own.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}",
    tag = "apps",
    operation_id = "apps_read",
    params(("app" = String, Path, description = "App id")),
    responses(
        (status = 200, body = App),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn read(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<Json<App>, ApiError> {
    caller.require_app(&app_id)?;
    let app = state.store.get_app(&app_id).await?;
    app.map(Json).ok_or_else(|| ApiError::not_found("app"))
}

#[utoipa::path(
    delete,
    path = "/v1/apps/{app}",
    tag = "apps",
    operation_id = "apps_remove",
    params(("app" = String, Path, description = "App id")),
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
    ApiPath(app_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_app(&app_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("app"))
    }
}
