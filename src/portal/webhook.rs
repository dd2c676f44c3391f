//! A webhook's own page in the portal: its settings, "Send a test", the signing secret and
//! its rotation, its health with the 24-hour chart and reactivation, and its recent
//! attempts. Every action goes through the API's own functions.

use axum::extract::{Path, State};
use axum::response::Response;
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::respond;
use super::session::{CsrfForm, Partner};
use crate::api::health::{reactivate_webhook, webhook_health};
use crate::api::logs::replay_failed;
use crate::api::webhooks::{owned_webhook, rotate_webhook_secret};
use crate::api::{ApiError, AppState};
use crate::delivery::sender::SendOutcome;
use crate::domain::health::Reactivated;
use crate::domain::model::{Attempt, Webhook, WebhookState};
use crate::domain::notification::Notification;
use crate::store::AttemptFilter;
use crate::web::pages::{api_error_page, badge, layout, rate};

pub async fn latest_attempts(
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

pub async fn detail(
    State(state): State<AppState>,
    partner: Partner,
    Path(id): Path<String>,
) -> Response {
    respond(detail_page(&state, &partner, &id, None).await)
}

/// What an action on a webhook's page shows above its attempts.
enum Notice {
    Tested(SendOutcome),
    Reactivated(Reactivated),
    Secret {
        secret: String,
        previous_until: Option<chrono::DateTime<chrono::Utc>>,
    },
    Replayed(u64),
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
    owned_webhook(state, &partner.caller(), &partner.app_id, id)
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
    match state.dispatcher.send_test(&webhook, "{}").await {
        Ok((_, outcome)) => {
            respond(detail_page(&state, &partner, &id, Some(Notice::Tested(outcome))).await)
        }
        Err(exhausted) => api_error_page(exhausted.into()),
    }
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

#[derive(Deserialize)]
pub struct ReplayForm {
    #[serde(default)]
    csrf: String,
    /// A `datetime-local` value, read as UTC.
    #[serde(default)]
    since: String,
}

/// "Replay failed since…": every delivery that failed for good since then is queued
/// again, through the API's `replay_failed`.
pub async fn replay(
    State(state): State<AppState>,
    partner: Partner,
    Path(id): Path<String>,
    Form(form): Form<ReplayForm>,
) -> Response {
    let csrf = CsrfForm { csrf: form.csrf };
    let webhook = match for_action(&state, &partner, &id, &csrf).await {
        Ok(webhook) => webhook,
        Err(refused) => return refused,
    };
    let since = match super::logs::parse_time("since", &form.since) {
        Ok(Some(since)) => since,
        Ok(None) => return api_error_page(ApiError::invalid("since is required")),
        Err(e) => return api_error_page(e),
    };
    match replay_failed(&state, &webhook, since).await {
        Ok(queued) => {
            respond(detail_page(&state, &partner, &id, Some(Notice::Replayed(queued))).await)
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
        Notice::Replayed(queued) => html! {
            div.card role="status" {
                h2 { "Replayed" }
                p { (queued) " failed deliveries queued again." }
            }
        },
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
    let webhook: Webhook = owned_webhook(state, &partner.caller(), &partner.app_id, id).await?;
    let health = webhook_health(state, &webhook.id).await?;
    let attempts = latest_attempts(state, &webhook.id, 20).await?;
    let windows = day_of_windows(state, &webhook.id).await?;
    let threshold = state.settings.health_threshold;
    let notifications: Vec<Notification> = state
        .store
        .list_notifications(Some(&webhook.app_id), 100)
        .await?
        .into_iter()
        .filter(|n| n.webhook_id == webhook.id)
        .collect();
    let day_ago = (state.clock.now() - chrono::Duration::hours(24)).format("%Y-%m-%dT%H:%M");
    Ok(layout(
        "Webhook",
        partner.nav(),
        html! {
            div.card {
                p { code { (webhook.url) } " " (badge(&health)) }
                @if !webhook.description.is_empty() { p { (webhook.description) } }
                p { "Environment: " (webhook.environment.as_str()) " · event types: " (webhook.event_types.join(", ")) " · timeout: " (webhook.timeout_ms / 1000) " s" }
                p {
                    "Retries: " code { (webhook.retry_policy.name) }
                    " · rate limit: " @if let Some(r) = webhook.rate_limit_per_second { (r) "/s" } @else { "none" }
                    " · custom headers: " @if webhook.headers.is_empty() { "none" } @else { (webhook.headers.keys().cloned().collect::<Vec<_>>().join(", ")) }
                }
                p { "Last window: " (rate(&health)) }
                p { a href={ "/portal/webhooks/" (webhook.id) "/edit" } { "Edit or delete" } }
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
            h2 { "Notifications" }
            @if notifications.is_empty() {
                p.muted { "None sent for this webhook." }
            } @else {
                ul #notifications {
                    @for n in &notifications {
                        li {
                            strong { (n.severity.as_str()) } " · " (n.created_at.format("%Y-%m-%d %H:%M UTC"))
                            @if n.sent_at.is_none() { span.muted { " (waiting to be published to your queue)" } }
                        }
                    }
                }
            }
            h2 { "Recent attempts" }
            form.card method="post" action={ "/portal/webhooks/" (webhook.id) "/replay" } {
                input type="hidden" name="csrf" value=(partner.csrf);
                label for="since" { "Replay the deliveries that failed for good since (UTC)" }
                input #since type="datetime-local" name="since" value=(day_ago) required;
                button type="submit" { "Replay failed" }
            }
            p { a href={ "/portal/webhooks/" (webhook.id) "/attempts" } { "All attempts, with filters" } }
            (super::logs::attempt_table(&webhook, &attempts))
        },
    ))
}
