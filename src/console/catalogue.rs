//! The event-type catalogue partners pick from: declare a type with its description and
//! an example, deprecate it, delete it, through the use cases the API calls.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::session::Operator;
use super::{form_error, page, refused_form, PageError};
use crate::usecases::catalogue::{self, CreateEventType, UpdateEventType};
use crate::usecases::{parse_json, Error, Gateway};
use crate::web::forms::{csrf_field, CsrfForm, Posted};

csrf_field!(EventTypeForm, DeprecateForm);

#[derive(Deserialize, Default)]
pub struct EventTypeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    /// JSON, optional.
    #[serde(default)]
    example: String,
    #[serde(default)]
    deprecated: Option<String>,
}

impl EventTypeForm {
    fn request(&self) -> Result<CreateEventType, Error> {
        let example = match self.example.trim() {
            "" => None,
            json => Some(
                parse_json::<serde_json::Value>(json.as_bytes(), false)
                    .map_err(|e| Error::invalid("example", format!("example is not JSON: {e}")))?,
            ),
        };
        Ok(CreateEventType {
            name: self.name.trim().to_string(),
            description: self.description.clone(),
            example,
            deprecated: self.deprecated.is_some(),
        })
    }
}

pub async fn list(State(gw): State<Gateway>, operator: Operator) -> Result<Markup, PageError> {
    list_page(&gw, &operator, &EventTypeForm::default(), None).await
}

async fn list_page(
    gw: &Gateway,
    operator: &Operator,
    form: &EventTypeForm,
    error: Option<&Error>,
) -> Result<Markup, PageError> {
    let types = catalogue::list(gw).await?;
    let strict = gw.policy.strict_event_types;
    Ok(page(
        operator,
        "Event types",
        html! {
            p.muted {
                "Partners pick from these when they add a webhook. "
                @if strict { "HOOKGATE_STRICT_EVENT_TYPES is on: a type missing here cannot be published." }
                @else { "Types missing here can still be published (HOOKGATE_STRICT_EVENT_TYPES is off)." }
            }
            div.scroll tabindex="0" role="region" aria-label="Event types" { table #event-types {
                thead { tr { th { "Name" } th { "Description" } th { "Example" } th { "State" } th { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for t in &types {
                        tr {
                            td { code { (t.name) } }
                            td { (t.description) }
                            td { @if let Some(example) = &t.example { code { (example) } } }
                            td { @if t.deprecated { "deprecated" } @else { "current" } }
                            td {
                                form method="post" action={ "/console/event-types/" (t.name) "/deprecate" } {
                                    input type="hidden" name="csrf" value=(operator.csrf);
                                    input type="hidden" name="deprecated" value=(!t.deprecated);
                                    button type="submit" aria-label={ "Deprecate or restore " (t.name) } {
                                        @if t.deprecated { "Restore" } @else { "Deprecate" }
                                    }
                                }
                                form method="post" action={ "/console/event-types/" (t.name) "/delete" } {
                                    input type="hidden" name="csrf" value=(operator.csrf);
                                    button type="submit" aria-label={ "Delete " (t.name) } { "Delete" }
                                }
                            }
                        }
                    }
                }
            } }
            form.card method="post" action="/console/event-types" {
                h2 { "Declare an event type" }
                (form_error(error))
                input type="hidden" name="csrf" value=(operator.csrf);
                label for="name" { "Name" }
                input #name type="text" name="name" value=(form.name) required placeholder="employee.created";
                label for="description" { "Description" }
                input #description type="text" name="description" value=(form.description);
                label for="example" { "Example data (JSON, optional)" }
                textarea #example name="example" rows="4" { (form.example) }
                label { input type="checkbox" name="deprecated" value="on" checked[form.deprecated.is_some()]; " Deprecated" }
                button type="submit" { "Declare" }
            }
        },
    ))
}

pub async fn create(
    State(gw): State<Gateway>,
    Posted {
        session: operator,
        form,
    }: Posted<Operator, EventTypeForm>,
) -> Response {
    let created = match form.request() {
        Ok(req) => catalogue::create(&gw, req).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(_) => Redirect::to("/console/event-types").into_response(),
        Err(e) => refused_form(&e, list_page(&gw, &operator, &form, Some(&e))).await,
    }
}

#[derive(Deserialize)]
pub struct DeprecateForm {
    #[serde(default)]
    csrf: String,
    /// "true" or "false", as the list's button sends it.
    #[serde(default)]
    deprecated: String,
}

pub async fn deprecate(
    State(gw): State<Gateway>,
    Path(name): Path<String>,
    Posted { form, .. }: Posted<Operator, DeprecateForm>,
) -> Result<Redirect, PageError> {
    let change = UpdateEventType {
        description: None,
        example: None,
        deprecated: Some(form.deprecated == "true"),
    };
    catalogue::update(&gw, &name, change).await?;
    Ok(Redirect::to("/console/event-types"))
}

pub async fn delete(
    State(gw): State<Gateway>,
    Path(name): Path<String>,
    _: Posted<Operator, CsrfForm>,
) -> Result<Redirect, PageError> {
    catalogue::delete(&gw, &name).await?;
    Ok(Redirect::to("/console/event-types"))
}
