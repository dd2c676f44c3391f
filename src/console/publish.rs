//! A form that publishes one test event for a tenant, through the use case behind
//! `POST /v1/events`: the same validation, fan-out and delivery as an event from the
//! platform.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::session::Operator;
use super::{form_error, page, refused_form, PageError};
use crate::domain::model::{EventSummary, PublishOutcome};
use crate::usecases::{catalogue, events, parse_json, tenants, Error, Gateway};
use crate::web::forms::{csrf_field, Posted};

csrf_field!(PublishForm);

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
    fn body(&self) -> Result<Vec<u8>, Error> {
        let data = match self.data.trim() {
            "" => serde_json::json!({}),
            json => parse_json::<serde_json::Value>(json.as_bytes(), false)
                .map_err(|e| Error::invalid("data", format!("data is not JSON: {e}")))?,
        };
        let body = serde_json::json!({
            "type": self.event_type.trim(),
            "tenant_id": self.tenant_id,
            "data": data,
        });
        Ok(body.to_string().into_bytes())
    }
}

pub async fn form(State(gw): State<Gateway>, operator: Operator) -> Result<Markup, PageError> {
    form_page(&gw, &operator, &PublishForm::default(), None, None).await
}

async fn form_page(
    gw: &Gateway,
    operator: &Operator,
    form: &PublishForm,
    error: Option<&Error>,
    published: Option<(&EventSummary, bool)>,
) -> Result<Markup, PageError> {
    let tenants = tenants::list(gw).await?;
    let types = catalogue::list(gw).await?;
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
    State(gw): State<Gateway>,
    Posted {
        session: operator,
        form,
    }: Posted<Operator, PublishForm>,
) -> Result<Response, PageError> {
    let outcome = match form.body() {
        Ok(body) => events::publish(&gw, &body, None).await,
        Err(e) => Err(e),
    };
    let (event, replayed) = match &outcome {
        Ok(PublishOutcome::Created(event)) => (event, false),
        Ok(PublishOutcome::Replayed(event)) => (event, true),
        Err(e) => {
            return Ok(refused_form(e, form_page(&gw, &operator, &form, Some(e), None)).await)
        }
    };
    // The form again, empty of nothing: publishing twice is one click.
    let page = form_page(&gw, &operator, &form, None, Some((event, replayed))).await?;
    Ok((StatusCode::ACCEPTED, page).into_response())
}
