//! The event-type catalogue: the platform declares the types it publishes (name,
//! description, an example of `data`, deprecated or not); partners read it to pick what
//! their webhooks subscribe to.

use serde::Deserialize;

use super::contract::{schema, EVENT_TYPE_DESCRIPTION_MAX, MAX_EXAMPLE_BYTES};
use super::{validate_text, Caller, Error, Gateway, Result};
use crate::domain::filter::valid_event_type;
use crate::domain::model::EventType;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEventType {
    #[schema(schema_with = schema::event_type)]
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = schema::event_type_description)]
    pub description: String,
    #[schema(schema_with = schema::example_or_null)]
    pub example: Option<serde_json::Value>,
    #[serde(default)]
    pub deprecated: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEventType {
    #[schema(schema_with = schema::event_type_description_or_null)]
    pub description: Option<String>,
    /// `null` removes the example.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(schema_with = schema::example_or_null)]
    pub example: Option<Option<serde_json::Value>>,
    pub deprecated: Option<bool>,
}

/// An example of `data`, which is always an object.
fn validate_example(example: Option<&serde_json::Value>) -> Result<()> {
    if example.is_some_and(|e| !e.is_object()) {
        return Err(Error::invalid(
            "example",
            "example must be a JSON object or null",
        ));
    }
    if example.is_some_and(|e| e.to_string().len() > MAX_EXAMPLE_BYTES) {
        return Err(Error::invalid(
            "example",
            format!("example must be at most {MAX_EXAMPLE_BYTES} bytes of JSON"),
        ));
    }
    Ok(())
}

pub async fn create(gw: &Gateway, req: CreateEventType) -> Result<EventType> {
    if !valid_event_type(&req.name) {
        return Err(Error::invalid(
            "name",
            "name must be dot-separated segments of letters, digits, '_' or '-': employee.created",
        ));
    }
    validate_text(
        "description",
        &req.description,
        EVENT_TYPE_DESCRIPTION_MAX,
        true,
    )?;
    validate_example(req.example.as_ref())?;
    let now = gw.clock.now();
    let event_type = EventType {
        name: req.name,
        description: req.description,
        example: req.example,
        deprecated: req.deprecated,
        created_at: now,
        updated_at: now,
    };
    gw.store.create_event_type(&event_type).await?;
    Ok(event_type)
}

pub async fn list(gw: &Gateway) -> Result<Vec<EventType>> {
    Ok(gw.store.list_event_types().await?)
}

/// The catalogue as the caller's app sees it.
pub async fn of_app(gw: &Gateway, caller: &Caller, app_id: &str) -> Result<Vec<EventType>> {
    super::apps::get(gw, caller, app_id).await?;
    list(gw).await
}

pub async fn get(gw: &Gateway, name: &str) -> Result<EventType> {
    gw.store
        .get_event_type(name)
        .await?
        .ok_or(Error::NotFound("event type"))
}

pub async fn update(gw: &Gateway, name: &str, req: UpdateEventType) -> Result<EventType> {
    let mut event_type = get(gw, name).await?;
    if let Some(description) = req.description {
        validate_text(
            "description",
            &description,
            EVENT_TYPE_DESCRIPTION_MAX,
            true,
        )?;
        event_type.description = description;
    }
    if let Some(example) = req.example {
        validate_example(example.as_ref())?;
        event_type.example = example;
    }
    if let Some(deprecated) = req.deprecated {
        event_type.deprecated = deprecated;
    }
    event_type.updated_at = gw.clock.now();
    if !gw.store.update_event_type(&event_type).await? {
        return Err(Error::NotFound("event type"));
    }
    Ok(event_type)
}

pub async fn delete(gw: &Gateway, name: &str) -> Result<()> {
    if gw.store.delete_event_type(name).await? {
        Ok(())
    } else {
        Err(Error::NotFound("event type"))
    }
}
