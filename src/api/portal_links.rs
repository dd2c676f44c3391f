//! One-time portal links: the platform mints one for an app and puts it behind a button
//! in its own partner dashboard; the partner lands in hookgate's portal signed in, once.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{hash_key, parse_json, ApiBytes, ApiPath, Platform};
use super::{ApiError, AppState};

/// How long a link stays valid unless the platform says otherwise, and at most.
const DEFAULT_TTL_SECONDS: u64 = 15 * 60;
const MAX_TTL_SECONDS: u64 = 24 * 3600;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(mint))
}

pub use crate::domain::secrets::generate_token;

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MintRequest {
    /// Seconds the link stays valid (1–86400; 900 by default).
    ttl_seconds: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PortalLink {
    /// Path on the gateway: `/portal/link/<token>`. Valid once.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[utoipa::path(
    post,
    path = "/v1/apps/{app}/portal-links",
    tag = "portal",
    operation_id = "portal_links_mint",
    params(("app" = String, Path, description = "App id")),
    request_body(content = MintRequest, description = "Optional"),
    responses(
        (status = 201, body = PortalLink),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn mint(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<PortalLink>), ApiError> {
    let req: MintRequest = parse_json(&body, true)?;
    let link = mint_portal_link(&state, &app_id, req.ttl_seconds).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// A one-time link into the portal for `app_id`: the API's and the console's path.
pub async fn mint_portal_link(
    state: &AppState,
    app_id: &str,
    ttl_seconds: Option<u64>,
) -> Result<PortalLink, ApiError> {
    let ttl = ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
        return Err(ApiError::invalid(format!(
            "ttl_seconds must be between 1 and {MAX_TTL_SECONDS}"
        )));
    }
    if state.store.get_app(app_id).await?.is_none() {
        return Err(ApiError::not_found("app"));
    }
    let token = generate_token();
    let now = state.clock.now();
    let expires_at = now + chrono::Duration::seconds(ttl as i64);
    state
        .store
        .create_portal_link(&hash_key(&token), app_id, now, expires_at)
        .await?;
    Ok(PortalLink {
        url: format!("/portal/link/{token}"),
        expires_at,
    })
}
