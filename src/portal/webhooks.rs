//! The portal's webhook list, with each webhook's health and last attempt, and the form
//! that adds one (validated by the API's own code). A webhook's own page is `webhook.rs`.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::session::Partner;
use super::webhook::latest_attempts;
use crate::api::health::webhook_health;
use crate::api::webhooks::{create_webhook, WebhookFields};
use crate::api::{ApiError, AppState};
use crate::model::{Environment, EventType};
use crate::web::pages::{api_error_page, badge, layout, rate};

pub async fn list(State(state): State<AppState>, partner: Partner) -> Response {
    match list_page(&state, &partner).await {
        Ok(page) => page.into_response(),
        Err(e) => api_error_page(e),
    }
}

async fn list_page(state: &AppState, partner: &Partner) -> Result<Markup, ApiError> {
    let webhooks = state.store.list_webhooks(&partner.app_id).await?;
    let mut rows = Vec::new();
    for webhook in webhooks {
        let health = webhook_health(state, &webhook.id).await?;
        let last = latest_attempts(state, &webhook.id, 1).await?.pop();
        rows.push((webhook, health, last));
    }
    Ok(layout(
        "Webhooks",
        partner.nav(),
        html! {
            p { a href="/portal/webhooks/new" { "Add a webhook" } }
            @if rows.is_empty() {
                p.muted { "No webhook yet." }
            } @else {
                div.scroll { table {
                    thead { tr { th { "URL" } th { "Environment" } th { "Event types" } th { "State" } th { "Last window" } th { "Last attempt" } } }
                    tbody {
                        @for (w, health, last) in &rows {
                            tr {
                                td { a href={ "/portal/webhooks/" (w.id) } { code { (w.url) } } }
                                td { (w.environment.as_str()) }
                                td { (w.event_types.join(", ")) }
                                td { (badge(health)) }
                                td { (rate(health)) }
                                td {
                                    @if let Some(a) = last {
                                        (a.outcome.as_str())
                                        @if let Some(code) = a.status_code { " " (code) }
                                        br; span.muted { (a.started_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                                    } @else { span.muted { "none yet" } }
                                }
                            }
                        }
                    }
                } }
            }
        },
    ))
}

/// What the form sends back, kept to show it again beside its errors.
#[derive(Deserialize, Default)]
pub struct WebhookForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    environment: String,
    /// Ticked catalogue types.
    #[serde(default)]
    event_types: Vec<String>,
    /// Further types or wildcards, comma-separated: `employee.*`.
    #[serde(default)]
    other_event_types: String,
    #[serde(default)]
    timeout_seconds: String,
}

impl WebhookForm {
    fn event_types(&self) -> Vec<String> {
        let mut types = self.event_types.clone();
        types.extend(
            self.other_event_types
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from),
        );
        types
    }

    /// The API's fields; a value the API's types cannot hold is an error for its field.
    fn fields(&self) -> Result<WebhookFields, ApiError> {
        let environment = match self.environment.as_str() {
            "" => None,
            e => Some(Environment::parse(e).ok_or_else(|| {
                ApiError::invalid("environment must be production or development")
            })?),
        };
        let timeout_seconds = match self.timeout_seconds.trim() {
            "" => None,
            t => Some(t.parse().map_err(|_| {
                ApiError::invalid("timeout_seconds must be a whole number of seconds")
            })?),
        };
        let types = self.event_types();
        Ok(WebhookFields {
            url: Some(self.url.clone()),
            description: Some(self.description.clone()),
            environment,
            event_types: (!types.is_empty()).then_some(types),
            timeout_seconds,
            ..Default::default()
        })
    }
}

/// Which field an API message is about, by the name it starts with.
fn field_of(message: &str) -> &'static str {
    const FIELDS: [(&str, &str); 6] = [
        ("url", "url"),
        ("description", "description"),
        ("environment", "environment"),
        ("event_types", "event_types"),
        ("event type", "event_types"),
        ("timeout_seconds", "timeout_seconds"),
    ];
    FIELDS
        .iter()
        .find(|(prefix, _)| message.starts_with(prefix))
        .map_or("", |(_, field)| field)
}

fn form_page(
    partner: &Partner,
    catalogue: &[EventType],
    form: &WebhookForm,
    error: Option<&ApiError>,
) -> Markup {
    let error_for = |field: &str| -> Option<String> {
        error
            .filter(|e| field_of(&e.message) == field)
            .map(|e| e.message.clone())
    };
    let general = error.filter(|e| field_of(&e.message).is_empty());
    let field_error = |field: &str| {
        html! { @if let Some(m) = error_for(field) { span.field-error role="alert" id={ (field) "-error" } { (m) } } }
    };
    let environment = if form.environment.is_empty() {
        "production"
    } else {
        form.environment.as_str()
    };
    let listed: Vec<&str> = catalogue.iter().map(|t| t.name.as_str()).collect();
    let others: Vec<&str> = form
        .event_types
        .iter()
        .map(String::as_str)
        .filter(|t| !listed.contains(t))
        .collect();
    let other_value = if form.other_event_types.is_empty() {
        others.join(", ")
    } else {
        form.other_event_types.clone()
    };
    layout(
        "Add a webhook",
        partner.nav(),
        html! {
            form.card method="post" action="/portal/webhooks" {
                @if let Some(e) = general { p.error role="alert" { (e.message) } }
                input type="hidden" name="csrf" value=(partner.csrf);
                label for="url" { "Listener URL" }
                input #url type="url" name="url" value=(form.url) required placeholder="https://partner.example/hooks";
                (field_error("url"))
                label for="description" { "Description" }
                input #description type="text" name="description" value=(form.description);
                (field_error("description"))
                label for="environment" { "Environment" }
                select #environment name="environment" {
                    @for env in ["production", "development"] {
                        option value=(env) selected[env == environment] { (env) }
                    }
                }
                (field_error("environment"))
                fieldset {
                    legend { "Event types" }
                    @if catalogue.is_empty() {
                        p.muted { "Your platform has not published its event-type catalogue yet; type the event types below." }
                    }
                    @for t in catalogue {
                        label {
                            input type="checkbox" name="event_types" value=(t.name) checked[form.event_types.contains(&t.name)];
                            span { code { (t.name) } @if t.deprecated { " (deprecated)" } " " span.muted { (t.description) } }
                        }
                    }
                    label for="other_event_types" { "Other types or wildcards, comma-separated (all types when empty)" }
                    input #other_event_types type="text" name="other_event_types" value=(other_value) placeholder="employee.*";
                    (field_error("event_types"))
                }
                label for="timeout_seconds" { "Timeout in seconds (1–30, 10 when empty)" }
                input #timeout_seconds type="number" min="1" max="30" name="timeout_seconds" value=(form.timeout_seconds);
                (field_error("timeout_seconds"))
                button type="submit" { "Add webhook" }
            }
        },
    )
}

pub async fn new_form(State(state): State<AppState>, partner: Partner) -> Response {
    match state.store.list_event_types().await {
        Ok(catalogue) => {
            form_page(&partner, &catalogue, &WebhookForm::default(), None).into_response()
        }
        Err(e) => api_error_page(e.into()),
    }
}

pub async fn create(
    State(state): State<AppState>,
    partner: Partner,
    Form(form): Form<WebhookForm>,
) -> Response {
    if !partner.csrf_ok(&form.csrf) {
        return super::session::csrf_refused();
    }
    let created = match form.fields() {
        Ok(fields) => {
            create_webhook(&state, &partner.caller(), partner.app_id.clone(), fields).await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(webhook) => Redirect::to(&format!("/portal/webhooks/{}", webhook.id)).into_response(),
        Err(e) if e.status.is_client_error() => {
            let catalogue = state.store.list_event_types().await.unwrap_or_default();
            let page = form_page(&partner, &catalogue, &form, Some(&e));
            (e.status, page).into_response()
        }
        Err(e) => api_error_page(e),
    }
}
