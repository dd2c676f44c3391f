//! Partner apps (OAuth clients). The platform creates them; the partner key is shown once.

use axum::http::StatusCode;
use axum::routing::get;
use axum::{extract::State, Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiPath, Caller, Platform};
use super::keys::generate_partner_key;
use super::{new_id, validate_id, validate_text, ApiError, AppState, ListResponse};
use crate::model::App;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/apps", get(list).post(create))
        .route("/v1/apps/{app}", get(read).delete(remove))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateApp {
    id: Option<String>,
    name: String,
}

#[derive(Serialize)]
struct CreatedApp {
    #[serde(flatten)]
    app: App,
    /// Shown only here; hookgate keeps its hash.
    partner_key: String,
}

async fn create(
    _: Platform,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateApp>,
) -> Result<(StatusCode, Json<CreatedApp>), ApiError> {
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
    Ok((StatusCode::CREATED, Json(CreatedApp { app, partner_key })))
}

async fn list(
    _: Platform,
    State(state): State<AppState>,
) -> Result<Json<ListResponse<App>>, ApiError> {
    Ok(Json(ListResponse {
        data: state.store.list_apps().await?,
    }))
}

/// The platform reads any app; a partner reads its own.
async fn read(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<Json<App>, ApiError> {
    caller.require_app(&app_id)?;
    let app = state.store.get_app(&app_id).await?;
    app.map(Json).ok_or_else(|| ApiError::not_found("app"))
}

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
