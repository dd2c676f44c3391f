//! A webhook's own page in the portal: its settings, "Send a test", the signing secret and
//! its rotation, its health with the 24-hour chart and reactivation, and its recent
//! attempts. Every action goes through the use cases the API calls.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use maud::{html, Markup};
use serde::Deserialize;

use super::session::Partner;
use super::PageError;
use crate::domain::health::Reactivated;
use crate::domain::model::{Attempt, Webhook, WebhookState};
use crate::store::AttemptFilter;
use crate::usecases::{health, logs, notifications, webhooks, Gateway, TestSent};
use crate::web::forms::{csrf_field, CsrfForm, Posted};
use crate::web::pages::{badge, layout, rate};

csrf_field!(ReactivateForm, ReplayForm);

/// The newest `limit` attempts of the partner's webhook.
pub async fn latest_attempts(
    gw: &Gateway,
    webhook: &Webhook,
    limit: i64,
) -> Result<Vec<Attempt>, PageError> {
    let filter = AttemptFilter {
        limit,
        ..Default::default()
    };
    Ok(logs::attempts(gw, webhook, &filter).await?)
}

/// The signed-in partner's webhook `id`; another app's is a 404.
async fn own(gw: &Gateway, partner: &Partner, id: &str) -> Result<Webhook, PageError> {
    Ok(webhooks::get(gw, &partner.caller(), &partner.app_id, id).await?)
}

pub async fn detail(
    State(gw): State<Gateway>,
    partner: Partner,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    let webhook = own(&gw, &partner, &id).await?;
    detail_page(&gw, &partner, webhook, None).await
}

/// What an action on a webhook's page shows above its attempts.
enum Notice {
    Tested(TestSent),
    Reactivated(Reactivated),
    Secret {
        secret: String,
        previous_until: Option<chrono::DateTime<chrono::Utc>>,
    },
    Replayed(u64),
}

/// "Send a test": a signed `webhook.test` event now, through the API's own use case;
/// its outcome is shown on the page, not logged.
pub async fn send_test(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    Posted { session, .. }: Posted<Partner, CsrfForm>,
) -> Result<Markup, PageError> {
    let webhook = own(&gw, &session, &id).await?;
    let sent = webhooks::send_test(&gw, &webhook, None).await?;
    detail_page(&gw, &session, webhook, Some(Notice::Tested(sent))).await
}

/// The signing secret, shown on request (a POST, so it never sits in a URL or a cache).
pub async fn reveal_secret(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    Posted { session, .. }: Posted<Partner, CsrfForm>,
) -> Result<Markup, PageError> {
    let webhook = webhooks::with_credentials(&gw, &session.caller(), &session.app_id, &id).await?;
    let notice = Notice::Secret {
        previous_until: webhook
            .previous_secret_expires_at
            .filter(|until| *until > gw.clock.now()),
        secret: webhook.secret.clone(),
    };
    detail_page(&gw, &session, webhook, Some(notice)).await
}

/// A new secret; the old one keeps signing until the overlap's end, shown.
pub async fn rotate_secret(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    Posted { session, .. }: Posted<Partner, CsrfForm>,
) -> Result<Markup, PageError> {
    let webhook = own(&gw, &session, &id).await?;
    let rotated = webhooks::rotate_secret(&gw, &webhook, None).await?;
    let notice = Notice::Secret {
        secret: rotated.secret.clone(),
        previous_until: rotated.previous_secret_expires_at,
    };
    detail_page(&gw, &session, rotated, Some(notice)).await
}

#[derive(Deserialize)]
pub struct ReactivateForm {
    #[serde(default)]
    csrf: String,
    /// `replay`, `replay_failed` or `skip`.
    #[serde(default)]
    held: String,
}

/// Reactivation with the API's three choices.
pub async fn reactivate(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<Partner, ReactivateForm>,
) -> Result<Markup, PageError> {
    // Another app's webhook is a 404, whatever the form says.
    let webhook = own(&gw, &session, &id).await?;
    let (replay, include_failed) = match form.held.as_str() {
        "replay" => (true, false),
        "replay_failed" => (true, true),
        "skip" => (false, false),
        _ => {
            return Err(PageError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "choose what happens to the held deliveries",
            ))
        }
    };
    let (webhook, done) = health::reactivate(&gw, &webhook, replay, include_failed).await?;
    detail_page(&gw, &session, webhook, Some(Notice::Reactivated(done))).await
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
/// again.
pub async fn replay(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<Partner, ReplayForm>,
) -> Result<Markup, PageError> {
    let webhook = own(&gw, &session, &id).await?;
    let Some(since) = super::logs::parse_time("since", &form.since)? else {
        return Err(PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "since is required",
        ));
    };
    let queued = logs::replay_failed(&gw, &webhook, since).await?;
    detail_page(&gw, &session, webhook, Some(Notice::Replayed(queued))).await
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

/// The page of the partner's `webhook` (from [`own`]), with what an action showed.
async fn detail_page(
    gw: &Gateway,
    partner: &Partner,
    webhook: Webhook,
    shown: Option<Notice>,
) -> Result<Markup, PageError> {
    let health = health::of_webhook(gw, &webhook.id).await?;
    let backlog = health::backlog(gw, &webhook.id).await?;
    let attempts = latest_attempts(gw, &webhook, 20).await?;
    let windows = health::day_of_windows(gw, &webhook.id).await?;
    let threshold = gw.policy.health_rules.threshold;
    let notifications = notifications::of_webhook(gw, &webhook, 100).await?;
    let day_ago = (gw.clock.now() - chrono::Duration::hours(24)).format("%Y-%m-%dT%H:%M");
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
                p #backlog {
                    "Waiting: " (backlog.due) " due now, " (backlog.scheduled) " to be retried later"
                    @if backlog.held > 0 { ", " (backlog.held) " held" }
                    "."
                }
                @if !backlog.top_tenants.is_empty() {
                    div.scroll tabindex="0" role="region" aria-label="Tenants with the most deliveries due" { table #top-tenants {
                        thead { tr { th { "Tenant" } th { "Due now" } } }
                        tbody { @for t in &backlog.top_tenants { tr { td { code { (t.tenant_id) } } td { (t.due) } } } }
                    } }
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
                            @if n.sends.is_empty() {
                                span.muted { " (no destination: " a href="/portal/notifications/destinations" { "add one" } ")" }
                            } @else if n.sent_at.is_none() {
                                span.muted { " (waiting to be sent to a destination)" }
                            }
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
