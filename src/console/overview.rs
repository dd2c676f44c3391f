//! The console's first page: the delivery queue, the instances and the listeners each
//! owns, every webhook that is unavailable or
//! deactivated across apps, every failing notification destination, and the
//! notifications with the outbox backlog.

use axum::extract::State;
use maud::{html, Markup};

use super::session::Operator;
use super::{page, PageError};
use crate::domain::notification::Notification;
use crate::usecases::{destinations, health, notifications, Gateway};
use crate::web::pages::{badge, rate};

/// Webhooks listed by backlog, most due first.
const LARGEST_BACKLOGS: i64 = 10;

/// Notifications listed on the overview, newest first.
const RECENT_NOTIFICATIONS: i64 = 20;

pub async fn overview(State(gw): State<Gateway>, operator: Operator) -> Result<Markup, PageError> {
    let queue = health::queue(&gw).await?;
    let attention = health::needing_attention(&gw).await?;
    let notifications = notifications::all(&gw, RECENT_NOTIFICATIONS).await?;
    let failing = destinations::failing(&gw).await?;
    let backlogs = health::largest_backlogs(&gw, LARGEST_BACKLOGS).await?;
    let instances = health::instances(&gw).await?;
    let now = gw.clock.now();
    Ok(page(
        &operator,
        "Overview",
        html! {
            h2 { "Delivery queue" }
            div.scroll tabindex="0" role="region" aria-label="Delivery queue" { table #queue {
                thead { tr { th { "Due" } th { "Scheduled" } th { "In flight" } th { "Held" } th { "Oldest due" } } }
                tbody { tr {
                    td { (queue.due) } td { (queue.scheduled) } td { (queue.in_flight) } td { (queue.held) }
                    td { @if queue.due > 0 { (format!("{:.1} s ago", queue.oldest_due_age_ms as f64 / 1000.0)) } @else { "—" } }
                } }
            } }
            p.muted { "Held deliveries wait for a deactivated webhook to be reactivated by its partner." }
            @if !backlogs.is_empty() {
                div.scroll tabindex="0" role="region" aria-label="Largest backlogs" { table #largest-backlogs {
                    thead { tr { th { "App" } th { "Webhook" } th { "Due now" } } }
                    tbody { @for (app, webhook, due) in &backlogs { tr { td { code { (app) } } td { code { (webhook) } } td { (due) } } } }
                } }
            }

            h2 { "Instances" }
            @if instances.is_empty() {
                p.muted #instances { "One instance sends to every listener (SQLite; on PostgreSQL, no delivering instance has registered)." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Instances" { table #instances {
                    thead { tr { th { "Instance" } th { "Last heartbeat" } th { "Listeners owned" } th { "Started" } } }
                    tbody { @for i in &instances { tr {
                        td.nowrap { code { (i.id) } }
                        td.nowrap { (format!("{:.1} s ago", (now - i.heartbeat_at).num_milliseconds().max(0) as f64 / 1000.0)) }
                        td { (i.owned) }
                        td.nowrap { (i.started_at.format("%Y-%m-%d %H:%M UTC")) }
                    } } }
                } }
                p.muted { "Each active webhook's listener is owned by one instance at a time, which alone sends to it. An instance that stops beating loses its listeners to the others within a few heartbeats." }
            }

            h2 { "Webhooks needing attention" }
            @if attention.is_empty() {
                p.muted #attention { "Every webhook is healthy." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Webhooks needing attention" { table #attention {
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

            h2 { "Failing notification destinations" }
            @if failing.is_empty() {
                p.muted #failing-destinations { "Every partner's notification destination took its last message." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Failing notification destinations" { table #failing-destinations {
                    thead { tr { th { "App" } th { "Destination" } th { "Last error" } th { "Last sent" } } }
                    tbody {
                        @for d in &failing {
                            tr {
                                td { code { (d.app_id) } }
                                td { (d.kind.as_str()) " " code { (d.queue_url.as_deref().or(d.url.as_deref()).unwrap_or_default()) } }
                                td { @if let Some(e) = &d.last_error { (e.message) br; span.muted { (e.at.format("%Y-%m-%d %H:%M UTC")) } } }
                                td { @if let Some(t) = d.last_success_at { (t.format("%Y-%m-%d %H:%M UTC")) } @else { "never" } }
                            }
                        }
                    }
                } }
            }

            h2 { "Notifications" }
            p #outbox { (queue.outbox_backlog) " waiting in the outbox to be sent (one per notification and destination)." }
            (notification_table(&notifications))
        },
    ))
}

fn notification_table(notifications: &[Notification]) -> Markup {
    html! {
        @if notifications.is_empty() {
            p.muted { "No notification sent yet." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Notifications" { table #notifications {
                thead { tr { th { "Created" } th { "Severity" } th { "App" } th { "Webhook" } th { "Sent" } } }
                tbody {
                    @for n in notifications {
                        tr {
                            td { (n.created_at.format("%Y-%m-%d %H:%M UTC")) }
                            td { (n.severity.as_str()) }
                            td { code { (n.app_id) } }
                            td { code { (n.webhook_id) } }
                            td {
                                @match (&n.sent_at, &n.last_error, n.sends.is_empty()) {
                                    (_, _, true) => { span.muted { "no destination" } }
                                    (Some(t), _, _) => { (t.format("%Y-%m-%d %H:%M:%S UTC")) }
                                    (None, Some(error), _) => { span.error { "not yet: " (error) } }
                                    (None, None, _) => { span.muted { "waiting" } }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}
