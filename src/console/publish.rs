//! A form that publishes one test event for a tenant, through `POST /v1/events`'s own
//! function: the same validation, fan-out and delivery as an event from the platform.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::session::{csrf_refused, Operator};
use super::{console_error, form_error, page, refused_form, respond};
use crate::api::events::publish_event;
use crate::api::extract::parse_json;
use crate::api::{ApiError, AppState};
use crate::domain::model::{EventSummary, PublishOutcome};

#[derive(Deserialize, Default)]
pub struct PublishForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    event_type: String,
    /// A JSON object; `{}` when empty.
    #[serde(default)]
    data: String,
}

impl PublishForm {
    /// The body `POST /v1/events` would receive.
    fn body(&self) -> Result<Vec<u8>, ApiError> {
        let data = match self.data.trim() {
            "" => serde_json::json!({}),
            json => parse_json::<serde_json::Value>(json.as_bytes(), false)
                .map_err(|e| ApiError::invalid(format!("data is not JSON: {}", e.message)))?,
        };
        let body = serde_json::json!({
            "type": self.event_type.trim(),
            "tenant_id": self.tenant_id,
            "data": data,
        });
        Ok(body.to_string().into_bytes())
    }
}

pub async fn form(State(state): State<AppState>, operator: Operator) -> Response {
    respond(form_page(&state, &operator, &PublishForm::default(), None, None).await)
}

async fn form_page(
    state: &AppState,
    operator: &Operator,
    form: &PublishForm,
    error: Option<&ApiError>,
    published: Option<(&EventSummary, bool)>,
) -> Result<Markup, ApiError> {
    let tenants = state.store.list_tenants().await?;
    let types = state.store.list_event_types().await?;
    let data = if form.data.is_empty() {
        "{}"
    } else {
        form.data.as_str()
    };
    Ok(page(
        operator,
        "Publish a test event",
        html! {
            @if let Some((event, replayed)) = published {
                div.card role="status" #published {
                    p { "Published " code { (event.id) } " (" code { (event.event_type) } ") for " code { (event.tenant_id) } ": "
                        strong { (event.deliveries) } " deliveries"
                        @if replayed { " (a repeat: nothing new was created)" } "." }
                }
            }
            form.card method="post" action="/console/publish" {
                p.muted { "The event goes through the same path as POST /v1/events: it reaches every webhook of the apps installed for the tenant." }
                (form_error(error))
                input type="hidden" name="csrf" value=(operator.csrf);
                label for="tenant_id" { "Tenant" }
                select #tenant_id name="tenant_id" {
                    @for t in &tenants {
                        option value=(t.id) selected[form.tenant_id == t.id] { (t.name) " (" (t.id) ", " (t.environment.as_str()) ")" }
                    }
                }
                label for="event_type" { "Type" }
                input #event_type type="text" name="event_type" list="catalogue" value=(form.event_type) required placeholder="employee.created";
                datalist #catalogue { @for t in &types { option value=(t.name) {} } }
                label for="data" { "Data (a JSON object)" }
                textarea #data name="data" rows="6" { (data) }
                button type="submit" { "Publish" }
            }
        },
    ))
}

pub async fn publish(
    State(state): State<AppState>,
    operator: Operator,
    Form(form): Form<PublishForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let outcome = match form.body() {
        Ok(body) => publish_event(&state, &body, None).await,
        Err(e) => Err(e),
    };
    let (event, replayed) = match &outcome {
        Ok(PublishOutcome::Created(event)) => (event, false),
        Ok(PublishOutcome::Replayed(event)) => (event, true),
        Err(e) => return refused_form(e, form_page(&state, &operator, &form, Some(e), None)).await,
    };
    // The form again, empty of nothing: publishing twice is one click.
    match form_page(&state, &operator, &form, None, Some((event, replayed))).await {
        Ok(page) => (StatusCode::ACCEPTED, page).into_response(),
        Err(e) => console_error(e),
    }
}
