//! One-time portal links: the platform mints one for an app and puts it behind a button
//! in its own partner dashboard; the partner lands in hookgate's portal signed in, once.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{ApiBytes, ApiPath, Platform};
use super::params::AppPath;
use super::responses::{Authenticated, Body, Missing};
use super::{ApiError, AppState};
use crate::usecases::parse_json;
use crate::usecases::portal::{mint_link, PortalLink};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(mint))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MintRequest {
    #[serde(default, deserialize_with = "crate::domain::whole::option")]
    #[schema(schema_with = crate::usecases::contract::schema::ttl_seconds_or_null)]
    ttl_seconds: Option<u64>,
}

#[utoipa::path(
    post,
    path = "/v1/apps/{app}/portal-links",
    tag = "portal",
    operation_id = "portal_links_mint",
    params(AppPath),
    request_body = Option<MintRequest>,
    responses(
        (status = 201, body = PortalLink),
        Authenticated, Missing, Body,
    ),
)]
async fn mint(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<PortalLink>), ApiError> {
    let req: MintRequest = parse_json(&body, true)?;
    let link = mint_link(&state, &app_id, req.ttl_seconds).await?;
    Ok((StatusCode::CREATED, Json(link)))
}
