//! The event-type catalogue: the platform declares the types it publishes (name,
//! description, an example of `data`, deprecated or not); partners read it to pick what
//! their webhooks subscribe to. Publishing a type outside the catalogue stays allowed
//! unless `HOOKGATE_STRICT_EVENT_TYPES` is set.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, Caller, Platform};
use super::{validate_text, ApiError, AppState, ListResponse};
use crate::domain::filter::valid_event_type;
use crate::domain::model::EventType;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(of_app))
}

/// Longest serialized example kept with a type.
const MAX_EXAMPLE_BYTES: usize = 16 * 1024;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEventType {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[schema(value_type = Option<Object>)]
    pub example: Option<serde_json::Value>,
    #[serde(default)]
    pub deprecated: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEventType {
    pub description: Option<String>,
    /// `null` removes the example.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub example: Option<Option<serde_json::Value>>,
    pub deprecated: Option<bool>,
}

/// A field that is present, even as `null`, is `Some`; an absent one stays `None`.
pub(super) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

fn validate_example(example: Option<&serde_json::Value>) -> Result<(), ApiError> {
    if example.is_some_and(|e| e.to_string().len() > MAX_EXAMPLE_BYTES) {
        return Err(ApiError::invalid(format!(
            "example must be at most {MAX_EXAMPLE_BYTES} bytes of JSON"
        )));
    }
    Ok(())
}

/// Validates and stores a new type: the API's and the console's one path.
pub async fn create_event_type(
    state: &AppState,
    req: CreateEventType,
) -> Result<EventType, ApiError> {
    if !valid_event_type(&req.name) {
        return Err(ApiError::invalid(
            "name must be dot-separated segments of letters, digits, '_' or '-': employee.created",
        ));
    }
    validate_text("description", &req.description, 1000, true)?;
    validate_example(req.example.as_ref())?;
    let now = state.clock.now();
    let event_type = EventType {
        name: req.name,
        description: req.description,
        example: req.example,
        deprecated: req.deprecated,
        created_at: now,
        updated_at: now,
    };
    state.store.create_event_type(&event_type).await?;
    Ok(event_type)
}

#[utoipa::path(
    post,
    path = "/v1/event-types",
    tag = "event-types",
    operation_id = "event_types_create",
    request_body = CreateEventType,
    responses(
        (status = 201, body = EventType),
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
    ApiJson(req): ApiJson<CreateEventType>,
) -> Result<(StatusCode, Json<EventType>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(create_event_type(&state, req).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/event-types",
    tag = "event-types",
    operation_id = "event_types_list",
    responses(
        (status = 200, body = ListResponse<EventType>),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list(
    _: Platform,
    State(state): State<AppState>,
) -> Result<Json<ListResponse<EventType>>, ApiError> {
    Ok(Json(ListResponse {
        data: state.store.list_event_types().await?,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/event-types/{name}",
    tag = "event-types",
    operation_id = "event_types_read",
    params(("name" = String, Path)),
    responses(
        (status = 200, body = EventType),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn read(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<EventType>, ApiError> {
    let found = state.store.get_event_type(&name).await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("event type"))
}

#[utoipa::path(
    patch,
    path = "/v1/event-types/{name}",
    tag = "event-types",
    operation_id = "event_types_update",
    params(("name" = String, Path)),
    request_body = UpdateEventType,
    responses(
        (status = 200, body = EventType),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateEventType>,
) -> Result<Json<EventType>, ApiError> {
    update_event_type(&state, &name, req).await.map(Json)
}

/// Validates and applies a change to a declared type: the API's and the console's path.
pub async fn update_event_type(
    state: &AppState,
    name: &str,
    req: UpdateEventType,
) -> Result<EventType, ApiError> {
    let mut event_type = state
        .store
        .get_event_type(name)
        .await?
        .ok_or_else(|| ApiError::not_found("event type"))?;
    if let Some(description) = req.description {
        validate_text("description", &description, 1000, true)?;
        event_type.description = description;
    }
    if let Some(example) = req.example {
        validate_example(example.as_ref())?;
        event_type.example = example;
    }
    if let Some(deprecated) = req.deprecated {
        event_type.deprecated = deprecated;
    }
    event_type.updated_at = state.clock.now();
    if !state.store.update_event_type(&event_type).await? {
        return Err(ApiError::not_found("event type"));
    }
    Ok(event_type)
}

#[utoipa::path(
    delete,
    path = "/v1/event-types/{name}",
    tag = "event-types",
    operation_id = "event_types_remove",
    params(("name" = String, Path)),
    responses(
        (status = 204, description = "Deleted; events of that type can still be published unless the catalogue is strict"),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "Only the platform key may call this", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn remove(
    _: Platform,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    delete_event_type(&state, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_event_type(state: &AppState, name: &str) -> Result<(), ApiError> {
    if state.store.delete_event_type(name).await? {
        Ok(())
    } else {
        Err(ApiError::not_found("event type"))
    }
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/event-types",
    tag = "event-types",
    operation_id = "event_types_of_app",
    params(("app" = String, Path, description = "App id")),
    responses(
        (status = 200, body = ListResponse<EventType>),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn of_app(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<Json<ListResponse<EventType>>, ApiError> {
    caller.require_app(&app_id)?;
    if state.store.get_app(&app_id).await?.is_none() {
        return Err(ApiError::not_found("app"));
    }
    Ok(Json(ListResponse {
        data: state.store.list_event_types().await?,
    }))
}
