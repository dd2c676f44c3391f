//! The portal's webhook pages: the app's webhooks with their health, a form to add one
//! (validated by the API's own code), and a webhook's page with its recent attempts.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::pages::{api_error_page, layout};
use super::session::{CsrfForm, Partner};
use crate::api::extract::Caller;
use crate::api::health::{reactivate_webhook, webhook_health};
use crate::api::webhooks::{create_webhook, owned_webhook, rotate_webhook_secret, WebhookFields};
use crate::api::{ApiError, AppState};
use crate::delivery::sender::SendOutcome;
use crate::health::{Reactivated, WebhookHealth};
use crate::model::{Attempt, Environment, EventType, Webhook, WebhookState};
use crate::store::AttemptFilter;

fn caller(partner: &Partner) -> Caller {
    Caller::Partner {
        app_id: partner.app_id.clone(),
    }
}

fn nav(partner: &Partner) -> Option<(&str, &str)> {
    Some((partner.app_id.as_str(), partner.csrf.as_str()))
}

fn badge(health: &WebhookHealth) -> Markup {
    let state = health.state.as_str();
    html! { span.badge.(state) { (state) } }
}

fn rate(health: &WebhookHealth) -> String {
    match health.window_failure_rate {
        Some(r) => format!(
            "{:.0} % of {} attempts failed",
            r * 100.0,
            health.window_attempts
        ),
        None => "no attempts in the last window".into(),
    }
}

async fn latest_attempts(
    state: &AppState,
    webhook_id: &str,
    limit: i64,
) -> Result<Vec<Attempt>, ApiError> {
    let filter = AttemptFilter {
        limit,
        ..Default::default()
    };
    Ok(state.store.list_attempts(webhook_id, &filter).await?)
}

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
        nav(partner),
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
        nav(partner),
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
            create_webhook(&state, &caller(&partner), partner.app_id.clone(), fields).await
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

pub async fn detail(
    State(state): State<AppState>,
    partner: Partner,
    Path(id): Path<String>,
) -> Response {
    respond(detail_page(&state, &partner, &id, None).await)
}

fn respond(page: Result<Markup, ApiError>) -> Response {
    match page {
        Ok(page) => page.into_response(),
        Err(e) => api_error_page(e),
    }
}

/// What an action on a webhook's page shows above its attempts.
enum Notice {
    Tested(SendOutcome),
    Reactivated(Reactivated),
    Secret {
        secret: String,
        previous_until: Option<chrono::DateTime<chrono::Utc>>,
    },
}

/// The signed-in app's webhook for an action's form, once its CSRF token is checked.
async fn for_action(
    state: &AppState,
    partner: &Partner,
    id: &str,
    form: &CsrfForm,
) -> Result<Webhook, Response> {
    if !partner.csrf_ok(&form.csrf) {
        return Err(super::session::csrf_refused());
    }
    owned_webhook(state, &caller(partner), &partner.app_id, id)
        .await
        .map_err(api_error_page)
}

/// "Send a test": a signed `webhook.test` event now, through the API's own path
/// (`Dispatcher::send_test`); its outcome is shown on the page, not logged.
pub async fn send_test(
    State(state): State<AppState>,
    partner: Partner,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let webhook = match for_action(&state, &partner, &id, &form).await {
        Ok(webhook) => webhook,
        Err(refused) => return refused,
    };
    let (_, outcome) = state.dispatcher.send_test(&webhook, "{}").await;
    respond(detail_page(&state, &partner, &id, Some(Notice::Tested(outcome))).await)
}

/// The signing secret, shown on request (a POST, so it never sits in a URL or a cache).
pub async fn reveal_secret(
    State(state): State<AppState>,
    partner: Partner,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let webhook = match for_action(&state, &partner, &id, &form).await {
        Ok(webhook) => webhook,
        Err(refused) => return refused,
    };
    let notice = Notice::Secret {
        previous_until: webhook
            .previous_secret_expires_at
            .filter(|until| *until > state.clock.now()),
        secret: webhook.secret,
    };
    respond(detail_page(&state, &partner, &id, Some(notice)).await)
}

/// A new secret; the old one keeps signing until the overlap's end, shown.
pub async fn rotate_secret(
    State(state): State<AppState>,
    partner: Partner,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let webhook = match for_action(&state, &partner, &id, &form).await {
        Ok(webhook) => webhook,
        Err(refused) => return refused,
    };
    let rotated = match rotate_webhook_secret(&state, webhook, None).await {
        Ok(rotated) => rotated,
        Err(e) => return api_error_page(e),
    };
    let notice = Notice::Secret {
        secret: rotated.secret,
        previous_until: rotated.previous_secret_expires_at,
    };
    respond(detail_page(&state, &partner, &id, Some(notice)).await)
}

#[derive(Deserialize)]
pub struct ReactivateForm {
    #[serde(default)]
    csrf: String,
    /// `replay`, `replay_failed` or `skip`.
    #[serde(default)]
    held: String,
}

/// Reactivation with the API's three choices, through its `reactivate_webhook`.
pub async fn reactivate(
    State(state): State<AppState>,
    partner: Partner,
    Path(id): Path<String>,
    Form(form): Form<ReactivateForm>,
) -> Response {
    let csrf = CsrfForm { csrf: form.csrf };
    let webhook = match for_action(&state, &partner, &id, &csrf).await {
        Ok(webhook) => webhook,
        Err(refused) => return refused,
    };
    let (replay, include_failed) = match form.held.as_str() {
        "replay" => (true, false),
        "replay_failed" => (true, true),
        "skip" => (false, false),
        _ => {
            return api_error_page(ApiError::invalid(
                "choose what happens to the held deliveries",
            ))
        }
    };
    match reactivate_webhook(&state, &webhook, replay, include_failed).await {
        Ok(done) => {
            respond(detail_page(&state, &partner, &id, Some(Notice::Reactivated(done))).await)
        }
        Err(e) => api_error_page(e),
    }
}

/// Evaluation windows over the last day, for the chart.
async fn day_of_windows(
    state: &AppState,
    webhook_id: &str,
) -> Result<Vec<crate::store::AttemptWindow>, ApiError> {
    let window = chrono::Duration::from_std(state.settings.health_window)
        .unwrap_or(chrono::Duration::minutes(30))
        .max(chrono::Duration::minutes(1));
    let count = (chrono::Duration::hours(24).num_seconds() / window.num_seconds()).clamp(1, 96);
    let since = state.clock.now() - window * count as i32;
    Ok(state
        .store
        .attempt_windows(webhook_id, since, window, count as usize)
        .await?)
}

fn notice(notice: &Notice) -> Markup {
    match notice {
        Notice::Reactivated(done) => html! {
            div.card role="status" {
                h2 { "Reactivated" }
                p { (done.released) " held deliveries released, " (done.skipped) " skipped." }
            }
        },
        Notice::Tested(outcome) => html! {
            div.card role="status" {
                h2 { "Test sent" }
                p {
                    "Outcome: " strong { (outcome.class.as_str()) }
                    @if let Some(status) = outcome.status { " · status " strong { (status) } }
                    " · " (outcome.latency.as_millis()) " ms"
                }
                @if let Some(error) = &outcome.error { p.error { (error) } }
                @if let Some(excerpt) = outcome.excerpt.as_deref().filter(|e| !e.is_empty()) {
                    p { "Answer: " code { (excerpt) } }
                }
            }
        },
        Notice::Secret {
            secret,
            previous_until,
        } => html! {
            div.card role="status" {
                h2 { "Signing secret" }
                p { code #secret { (secret) } }
                @if let Some(until) = previous_until {
                    p { "The previous secret also signs every delivery until "
                        strong { (until.format("%Y-%m-%d %H:%M UTC")) } "." }
                }
            }
        },
    }
}

async fn detail_page(
    state: &AppState,
    partner: &Partner,
    id: &str,
    shown: Option<Notice>,
) -> Result<Markup, ApiError> {
    let webhook: Webhook = owned_webhook(state, &caller(partner), &partner.app_id, id).await?;
    let health = webhook_health(state, &webhook.id).await?;
    let attempts = latest_attempts(state, &webhook.id, 20).await?;
    let windows = day_of_windows(state, &webhook.id).await?;
    let threshold = state.settings.health_threshold;
    Ok(layout(
        "Webhook",
        nav(partner),
        html! {
            div.card {
                p { code { (webhook.url) } " " (badge(&health)) }
                @if !webhook.description.is_empty() { p { (webhook.description) } }
                p { "Environment: " (webhook.environment.as_str()) " · event types: " (webhook.event_types.join(", ")) " · timeout: " (webhook.timeout_ms / 1000) " s" }
                p { "Last window: " (rate(&health)) }
                @for (action, label) in [("test", "Send a test"), ("secret", "Show the signing secret"), ("rotate", "Rotate the secret")] {
                    form method="post" action={ "/portal/webhooks/" (webhook.id) "/" (action) } style="display:inline-block;margin-right:.5rem" {
                        input type="hidden" name="csrf" value=(partner.csrf);
                        button type="submit" { (label) }
                    }
                }
            }
            @if let Some(shown) = &shown { (notice(shown)) }
            h2 { "Health" }
            div.card {
                p {
                    (badge(&health))
                    @if let Some(since) = health.failure_since {
                        " failing since " (since.format("%Y-%m-%d %H:%M UTC"))
                    }
                    @if health.warned { " · a warning was sent" }
                    @if let Some(at) = health.last_evaluated_at {
                        " · evaluated " (at.format("%Y-%m-%d %H:%M UTC"))
                    }
                }
                p.muted { "Attempts (bars) and failure rate (line) per evaluation window, last 24 hours." }
                (super::chart::health_chart(&windows, threshold))
                @if webhook.state == WebhookState::Deactivated {
                    form method="post" action={ "/portal/webhooks/" (webhook.id) "/reactivate" } {
                        input type="hidden" name="csrf" value=(partner.csrf);
                        fieldset {
                            legend { "Reactivate: what happens to the deliveries held meanwhile?" }
                            label { input type="radio" name="held" value="replay" checked; "Send them" }
                            label { input type="radio" name="held" value="replay_failed"; "Send them, and retry those that failed for good since the failures began" }
                            label { input type="radio" name="held" value="skip"; "Skip them" }
                        }
                        button type="submit" { "Reactivate" }
                    }
                }
            }
            h2 { "Recent attempts" }
            p { a href={ "/portal/webhooks/" (webhook.id) "/attempts" } { "All attempts, with filters" } }
            (super::logs::attempt_table(&webhook, &attempts))
        },
    ))
}
