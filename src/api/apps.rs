//! Partner apps (OAuth clients). The platform creates them; the partner key is shown once.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, Caller, Platform};
use super::keys::generate_partner_key;
use super::{new_id, validate_id, validate_text, ApiError, AppState, ListResponse};
use crate::domain::model::App;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    pub id: Option<String>,
    pub name: String,
    /// The OAuth client (RFC 9068 `client_id`) whose access tokens act for this app.
    #[serde(default)]
    pub oauth_client_id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApp {
    pub name: Option<String>,
    /// `null` removes it: the client's tokens stop working at once.
    #[serde(default, deserialize_with = "super::event_types::present")]
    #[schema(value_type = Option<String>)]
    pub oauth_client_id: Option<Option<String>>,
}

fn validate_client_id(client_id: Option<&String>) -> Result<(), ApiError> {
    match client_id {
        Some(id) => validate_text("oauth_client_id", id, 255, false),
        None => Ok(()),
    }
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
    validate_client_id(req.oauth_client_id.as_ref())?;
    let app = App {
        id,
        name: req.name,
        oauth_client_id: req.oauth_client_id,
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

/// Renames an app, or sets the OAuth client whose tokens act for it.
#[utoipa::path(
    patch,
    path = "/v1/apps/{app}",
    tag = "apps",
    operation_id = "apps_update",
    params(("app" = String, Path, description = "App id")),
    request_body = UpdateApp,
    responses(
        (status = 200, body = App),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Another app has this OAuth client", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateApp>,
) -> Result<Json<App>, ApiError> {
    update_app(&state, &app_id, req).await.map(Json)
}

/// `PATCH /v1/apps/{app}` as a function, for the console.
pub async fn update_app(state: &AppState, app_id: &str, req: UpdateApp) -> Result<App, ApiError> {
    let mut app = state
        .store
        .get_app(app_id)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    if let Some(name) = req.name {
        validate_text("name", &name, 200, false)?;
        app.name = name;
    }
    if let Some(client_id) = req.oauth_client_id {
        validate_client_id(client_id.as_ref())?;
        app.oauth_client_id = client_id;
    }
    if !state.store.update_app(&app).await? {
        return Err(ApiError::not_found("app"));
    }
    Ok(app)
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
    delete_app(&state, &app_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/apps/{app}` as a function, for the console: 409 while the app still has
/// installations or webhooks.
pub async fn delete_app(state: &AppState, app_id: &str) -> Result<(), ApiError> {
    if state.store.delete_app(app_id).await? {
        Ok(())
    } else {
        Err(ApiError::not_found("app"))
    }
}
