//! The console's first page: the delivery queue, every webhook that is unavailable or
//! deactivated across apps, and the notifications with the outbox backlog.

use axum::extract::State;
use axum::response::Response;
use maud::{html, Markup};

use super::session::Operator;
use super::{page, respond};
use crate::api::health::webhook_health;
use crate::api::{ApiError, AppState};
use crate::domain::health::Status;
use crate::domain::health::WebhookHealth;
use crate::domain::model::Webhook;
use crate::domain::notification::Notification;
use crate::web::pages::{badge, rate};

/// Notifications listed on the overview, newest first.
const RECENT_NOTIFICATIONS: i64 = 20;

pub async fn overview(State(state): State<AppState>, operator: Operator) -> Response {
    respond(overview_page(&state, &operator).await)
}

/// Webhooks the evaluator found unavailable, and deactivated ones, with their health.
async fn needing_attention(state: &AppState) -> Result<Vec<(Webhook, WebhookHealth)>, ApiError> {
    let mut found = Vec::new();
    for (app_id, webhook_id, status, _) in state.store.health_overview().await? {
        if status == Status::Healthy {
            continue;
        }
        // Gone since the overview was read: nothing to show.
        let Some(webhook) = state.store.get_webhook(&app_id, &webhook_id).await? else {
            continue;
        };
        let health = webhook_health(state, &webhook_id).await?;
        found.push((webhook, health));
    }
    found.sort_by_key(|(w, h)| (h.failure_since, w.app_id.clone()));
    Ok(found)
}

async fn overview_page(state: &AppState, operator: &Operator) -> Result<Markup, ApiError> {
    let now = state.clock.now();
    let queue = state.store.queue_stats(now).await?;
    let attention = needing_attention(state).await?;
    let notifications = state
        .store
        .list_notifications(None, RECENT_NOTIFICATIONS)
        .await?;
    Ok(page(
        operator,
        "Overview",
        html! {
            h2 { "Delivery queue" }
            div.scroll { table #queue {
                thead { tr { th { "Due" } th { "Scheduled" } th { "In flight" } th { "Held" } th { "Oldest due" } } }
                tbody { tr {
                    td { (queue.due) } td { (queue.scheduled) } td { (queue.in_flight) } td { (queue.held) }
                    td { @if queue.due > 0 { (format!("{:.1} s ago", queue.oldest_due_age_ms as f64 / 1000.0)) } @else { "—" } }
                } }
            } }
            p.muted { "Held deliveries wait for a deactivated webhook to be reactivated by its partner." }

            h2 { "Webhooks needing attention" }
            @if attention.is_empty() {
                p.muted #attention { "Every webhook is healthy." }
            } @else {
                div.scroll { table #attention {
                    thead { tr { th { "App" } th { "URL" } th { "State" } th { "Failing since" } th { "Last window" } th { "Warning sent" } } }
                    tbody {
                        @for (webhook, health) in &attention {
                            tr {
                                td { code { (webhook.app_id) } }
                                td { code { (webhook.url) } }
                                td { (badge(health)) }
                                td { @if let Some(t) = health.failure_since { (t.format("%Y-%m-%d %H:%M UTC")) } @else { "—" } }
                                td { (rate(health)) }
                                td { @if health.warned { "yes" } @else { "no" } }
                            }
                        }
                    }
                } }
            }

            h2 { "Notifications" }
            p #outbox { (queue.outbox_backlog) " waiting in the outbox to be published to SQS." }
            (notification_table(&notifications))
        },
    ))
}

fn notification_table(notifications: &[Notification]) -> Markup {
    html! {
        @if notifications.is_empty() {
            p.muted { "No notification sent yet." }
        } @else {
            div.scroll { table #notifications {
                thead { tr { th { "Created" } th { "Severity" } th { "App" } th { "Webhook" } th { "Published" } } }
                tbody {
                    @for n in notifications {
                        tr {
                            td { (n.created_at.format("%Y-%m-%d %H:%M UTC")) }
                            td { (n.severity.as_str()) }
                            td { code { (n.app_id) } }
                            td { code { (n.webhook_id) } }
                            td {
                                @match (&n.sent_at, &n.last_error) {
                                    (Some(t), _) => { (t.format("%Y-%m-%d %H:%M:%S UTC")) }
                                    (None, Some(error)) => { span.error { "not yet: " (error) } }
                                    (None, None) => { span.muted { "waiting" } }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}
