//! The event-type catalogue: the platform declares the types it publishes (name,
//! description, an example of `data`, deprecated or not); partners read it to pick what
//! their webhooks subscribe to. Publishing a type outside the catalogue stays allowed
//! unless `HOOKGATE_STRICT_EVENT_TYPES` is set.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, Caller, Platform};
use super::params::{AppPath, EventTypePath};
use super::responses::{Authenticated, Body, JsonOnly, Missing};
use super::{ApiError, AppState, List};
use crate::domain::model::EventType;
use crate::usecases::catalogue::{self, CreateEventType, UpdateEventType};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(of_app))
}

#[utoipa::path(
    post,
    path = "/v1/event-types",
    tag = "event-types",
    operation_id = "event_types_create",
    request_body = CreateEventType,
    responses(
        (status = 201, body = EventType),
        (status = 409, description = "Conflict", body = ErrorBody),
        Authenticated, Body, JsonOnly,
    ),
)]
async fn create(
    _: Platform,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateEventType>,
) -> Result<(StatusCode, Json<EventType>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(catalogue::create(&state, req).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/event-types",
    tag = "event-types",
    operation_id = "event_types_list",
    responses(
        (status = 200, body = List<EventType>),
        Authenticated,
    ),
)]
async fn list(
    _: Platform,
    State(state): State<AppState>,
) -> Result<Json<List<EventType>>, ApiError> {
    Ok(Json(catalogue::list(&state).await?.into()))
}

#[utoipa::path(
    get,
    path = "/v1/event-types/{name}",
    tag = "event-types",
    operation_id = "event_types_read",
    params(EventTypePath),
    responses(
        (status = 200, body = EventType),
        Authenticated, Missing,
    ),
)]
async fn read(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<EventType>, ApiError> {
    Ok(Json(catalogue::get(&state, &name).await?))
}

#[utoipa::path(
    patch,
    path = "/v1/event-types/{name}",
    tag = "event-types",
    operation_id = "event_types_update",
    params(EventTypePath),
    request_body = UpdateEventType,
    responses(
        (status = 200, body = EventType),
        Authenticated, Missing, Body, JsonOnly,
    ),
)]
async fn update(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateEventType>,
) -> Result<Json<EventType>, ApiError> {
    Ok(Json(catalogue::update(&state, &name, req).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/event-types/{name}",
    tag = "event-types",
    operation_id = "event_types_remove",
    params(EventTypePath),
    responses(
        (status = 204, description = "Deleted; events of that type can still be published unless the catalogue is strict"),
        Authenticated, Missing,
    ),
)]
async fn remove(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    catalogue::delete(&state, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/event-types",
    tag = "event-types",
    operation_id = "event_types_of_app",
    params(AppPath),
    responses(
        (status = 200, body = List<EventType>),
        Authenticated, Missing,
    ),
)]
async fn of_app(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<Json<List<EventType>>, ApiError> {
    Ok(Json(
        catalogue::of_app(&state, &caller, &app_id).await?.into(),
    ))
}
