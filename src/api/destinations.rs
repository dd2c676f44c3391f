//! An app's notification destinations: its own SQS queues and HTTPS endpoints, where its
//! webhooks' health notifications go. A partner reaches only its own app's.

use axum::http::StatusCode;
use axum::{extract::State, Json};
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, Caller};
use super::params::{AppPath, DestinationPath};
use super::responses::{Authenticated, Body, JsonOnly, Missing};
use super::{ApiError, AppState, List};
use crate::domain::destination::Destination;
use crate::usecases::destinations::{self, DestinationPatch, NewDestination, TestOutcome};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(secret))
        .routes(routes!(send_test))
}

/// `NewDestination` as serde reads it: one object with its `type` among its own
/// properties. The derive puts `type` beside a reference to a schema that forbids other
/// properties, which no object could satisfy.
pub(super) fn document_new_destination(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{Discriminator, ObjectBuilder, OneOfBuilder, Schema, Type};
    use utoipa::openapi::{Ref, RefOr};
    let Some(schemas) = openapi.components.as_mut().map(|c| &mut c.schemas) else {
        return;
    };
    let variants = [
        ("NewSqsDestination", "sqs"),
        ("NewHttpsDestination", "https"),
    ];
    let mut one_of = OneOfBuilder::new();
    for (name, kind) in variants {
        if let Some(RefOr::T(Schema::Object(variant))) = schemas.get_mut(name) {
            let tag = ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([kind]))
                .build();
            variant.properties.insert("type".into(), tag.into());
            variant.required.insert(0, "type".into());
        }
        one_of = one_of.item(Ref::from_schema_name(name));
    }
    let mut discriminator = Discriminator::new("type");
    for (name, kind) in variants {
        discriminator
            .mapping
            .insert(kind.into(), format!("#/components/schemas/{name}"));
    }
    let schema = one_of
        .description(Some(
            "A new destination: an SQS queue or an HTTPS endpoint.",
        ))
        .discriminator(Some(discriminator))
        .build();
    schemas.insert("NewDestination".into(), RefOr::T(Schema::OneOf(schema)));
}

/// A new destination's answer: an HTTPS destination's signing secret is shown here and at
/// `…/secret` only.
#[derive(Serialize, utoipa::ToSchema)]
struct CreatedDestination {
    #[serde(flatten)]
    destination: Destination,
    secret: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/apps/{app}/notification-destinations",
    tag = "notifications",
    operation_id = "destinations_create",
    params(AppPath),
    request_body = NewDestination,
    responses(
        (status = 201, body = CreatedDestination),
        (status = 409, description = "The app has 5 destinations already", body = ErrorBody),
        Authenticated, Missing, Body, JsonOnly,
    ),
)]
async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
    ApiJson(new): ApiJson<NewDestination>,
) -> Result<(StatusCode, Json<CreatedDestination>), ApiError> {
    let destination = destinations::create(&state, &caller, &app_id, new).await?;
    let secret = destination.secret.clone();
    Ok((
        StatusCode::CREATED,
        Json(CreatedDestination {
            destination,
            secret,
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/notification-destinations",
    tag = "notifications",
    operation_id = "destinations_list",
    params(AppPath),
    responses(
        (status = 200, body = List<Destination>),
        Authenticated, Missing,
    ),
)]
async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<Json<List<Destination>>, ApiError> {
    Ok(Json(
        destinations::list(&state, &caller, &app_id).await?.into(),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/notification-destinations/{id}",
    tag = "notifications",
    operation_id = "destinations_read",
    params(DestinationPath),
    responses(
        (status = 200, body = Destination),
        Authenticated, Missing,
    ),
)]
async fn read(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<Destination>, ApiError> {
    Ok(Json(
        destinations::get(&state, &caller, &app_id, &id).await?,
    ))
}

#[utoipa::path(
    patch,
    path = "/v1/apps/{app}/notification-destinations/{id}",
    tag = "notifications",
    operation_id = "destinations_update",
    params(DestinationPath),
    request_body = DestinationPatch,
    responses(
        (status = 200, body = Destination),
        (status = 409, description = "A field of the other destination type", body = ErrorBody),
        Authenticated, Missing, Body, JsonOnly,
    ),
)]
async fn update(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiJson(patch): ApiJson<DestinationPatch>,
) -> Result<Json<Destination>, ApiError> {
    let destination = destinations::get(&state, &caller, &app_id, &id).await?;
    Ok(Json(
        destinations::update(&state, destination, patch).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/apps/{app}/notification-destinations/{id}",
    tag = "notifications",
    operation_id = "destinations_remove",
    params(DestinationPath),
    responses(
        (status = 204, description = "Deleted; what it had not been sent yet is dropped"),
        Authenticated, Missing,
    ),
)]
async fn remove(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    destinations::delete(&state, &caller, &app_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
struct DestinationSecret {
    /// An HTTPS destination's `whsec_…` signing secret; `null` for SQS.
    secret: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/notification-destinations/{id}/secret",
    tag = "notifications",
    operation_id = "destinations_secret",
    params(DestinationPath),
    responses(
        (status = 200, body = DestinationSecret),
        Authenticated, Missing,
    ),
)]
async fn secret(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<DestinationSecret>, ApiError> {
    let destination = destinations::with_secret(&state, &caller, &app_id, &id).await?;
    Ok(Json(DestinationSecret {
        secret: destination.secret,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum TestOutcomeKind {
    Sent,
    Failed,
}

#[derive(Serialize, utoipa::ToSchema)]
struct DestinationTest {
    outcome: TestOutcomeKind,
    /// The test message's `id`.
    notification_id: String,
    /// The id SQS gave the message (for HTTPS, the `webhook-id` sent); `null` on failure.
    message_id: Option<String>,
    /// The AWS error code and message, or the HTTP status; `null` when sent.
    error: Option<String>,
}

/// Sends a message with `"severity": "test"` to the destination now, and answers with the
/// outcome (a failure is still `200`: the test ran). Never counted as a notification.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/notification-destinations/{id}/test",
    tag = "notifications",
    operation_id = "destinations_send_test",
    params(DestinationPath),
    responses(
        (status = 200, body = DestinationTest),
        (status = 429, description = "The app's test sends of the last minute reached HOOKGATE_TEST_SENDS_PER_MINUTE", body = ErrorBody),
        Authenticated, Missing,
    ),
)]
async fn send_test(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<DestinationTest>, ApiError> {
    let destination = destinations::get(&state, &caller, &app_id, &id).await?;
    Ok(Json(
        match destinations::send_test(&state, &destination).await? {
            TestOutcome::Sent { id, message_id } => DestinationTest {
                outcome: TestOutcomeKind::Sent,
                notification_id: id,
                message_id: Some(message_id),
                error: None,
            },
            TestOutcome::Failed { id, error } => DestinationTest {
                outcome: TestOutcomeKind::Failed,
                notification_id: id,
                message_id: None,
                error: Some(error),
            },
        },
    ))
}
