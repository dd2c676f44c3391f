//! The event-type catalogue partners pick from: declare a type with its description and
//! an example, deprecate it, delete it, through the API's own functions.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::session::{csrf_refused, Operator};
use super::{console_error, form_error, page, refused_form, respond};
use crate::api::event_types::{
    create_event_type, delete_event_type, update_event_type, CreateEventType, UpdateEventType,
};
use crate::api::extract::parse_json;
use crate::api::{ApiError, AppState};
use crate::web::forms::CsrfForm;

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
    fn request(&self) -> Result<CreateEventType, ApiError> {
        let example = match self.example.trim() {
            "" => None,
            json => Some(
                parse_json::<serde_json::Value>(json.as_bytes(), false).map_err(|e| {
                    ApiError::invalid(format!("example is not JSON: {}", e.message))
                })?,
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

pub async fn list(State(state): State<AppState>, operator: Operator) -> Response {
    respond(list_page(&state, &operator, &EventTypeForm::default(), None).await)
}

async fn list_page(
    state: &AppState,
    operator: &Operator,
    form: &EventTypeForm,
    error: Option<&ApiError>,
) -> Result<Markup, ApiError> {
    let types = state.store.list_event_types().await?;
    let strict = state.settings.strict_event_types;
    Ok(page(
        operator,
        "Event types",
        html! {
            p.muted {
                "Partners pick from these when they add a webhook. "
                @if strict { "HOOKGATE_STRICT_EVENT_TYPES is on: a type missing here cannot be published." }
                @else { "Types missing here can still be published (HOOKGATE_STRICT_EVENT_TYPES is off)." }
            }
            div.scroll { table #event-types {
                thead { tr { th { "Name" } th { "Description" } th { "Example" } th { "State" } th {} } }
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
    State(state): State<AppState>,
    operator: Operator,
    Form(form): Form<EventTypeForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let created = match form.request() {
        Ok(req) => create_event_type(&state, req).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(_) => Redirect::to("/console/event-types").into_response(),
        Err(e) => refused_form(&e, list_page(&state, &operator, &form, Some(&e))).await,
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
    State(state): State<AppState>,
    operator: Operator,
    Path(name): Path<String>,
    Form(form): Form<DeprecateForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let change = UpdateEventType {
        description: None,
        example: None,
        deprecated: Some(form.deprecated == "true"),
    };
    match update_event_type(&state, &name, change).await {
        Ok(_) => Redirect::to("/console/event-types").into_response(),
        Err(e) => console_error(e),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    operator: Operator,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    match delete_event_type(&state, &name).await {
        Ok(()) => Redirect::to("/console/event-types").into_response(),
        Err(e) => console_error(e),
    }
}
