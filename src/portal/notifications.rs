//! Every health notification about the app's webhooks, newest first: what its
//! destinations received (or are about to), with each one's window and failure start,
//! through the use case the API calls (`usecases::notifications`). A webhook's own page
//! lists only its own.

use axum::extract::State;
use maud::{html, Markup};

use super::session::Partner;
use super::PageError;
use crate::domain::notification::{Notification, SendState};
use crate::usecases::{notifications, Gateway};
use crate::web::pages::layout;

/// The newest this many; the API pages further.
const SHOWN: i64 = 200;

pub async fn list(State(gw): State<Gateway>, partner: Partner) -> Result<Markup, PageError> {
    let notifications =
        notifications::of_app(&gw, &partner.caller(), &partner.app_id, SHOWN).await?;
    let rules = &gw.policy.health_rules;
    Ok(layout(
        "Notifications",
        partner.nav(),
        html! {
            p.muted {
                "What your destinations ("
                a href="/portal/notifications/destinations" { "set them up" }
                ") receive when a listener keeps failing: a warning after "
                (humantime::format_duration(rules.warn_after.to_std().unwrap_or_default())) " unavailable, a deactivation after "
                (humantime::format_duration(rules.deactivate_after.to_std().unwrap_or_default()))
                ", and a recovery once a warned listener succeeds again."
            }
            @if notifications.is_empty() {
                p.muted { "None sent: every listener has stayed healthy." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Notifications" { table #notifications {
                    thead { tr { th { "When" } th { "Severity" } th { "Webhook" } th { "Failing since" } th { "Window" } th { "Sent" } } }
                    tbody { @for n in &notifications { (row(n)) } }
                } }
            }
        },
    ))
}

fn row(n: &Notification) -> Markup {
    let body = &n.body;
    let url = body["webhook"]["url"].as_str().unwrap_or("");
    let window = &body["window"];
    html! {
        tr {
            td { (n.created_at.format("%Y-%m-%d %H:%M UTC")) }
            td { strong { (n.severity.as_str()) } }
            td { a href={ "/portal/webhooks/" (n.webhook_id) } { code { (url) } } }
            td { (failing_since(body).unwrap_or_else(|| "—".into())) }
            td {
                @if let (Some(failures), Some(attempts)) = (window["failures"].as_i64(), window["attempts"].as_i64()) {
                    (failures) " of " (attempts) " attempts failed"
                }
            }
            td {
                @if n.sends.is_empty() { span.muted { "no destination" } }
                @for send in &n.sends {
                    div {
                        @if send.destination_id == crate::domain::destination::PLATFORM { "platform queue: " }
                        @else { "destination " code { (send.destination_id.get(..8).unwrap_or(&send.destination_id)) } ": " }
                        @match (send.state, send.sent_at) {
                            (SendState::Sent, Some(at)) => { "sent " (at.format("%H:%M:%S UTC")) }
                            (SendState::Expired, _) => span.error { "given up" },
                            _ => span.muted { "waiting (" (send.attempts) " tries)" },
                        }
                    }
                }
            }
        }
    }
}

/// The body's `failure_started_at` (RFC 3339), shown as every other time in the portal.
fn failing_since(body: &serde_json::Value) -> Option<String> {
    let at = chrono::DateTime::parse_from_rfc3339(body["failure_started_at"].as_str()?).ok()?;
    let at = at.with_timezone(&chrono::Utc);
    Some(at.format("%Y-%m-%d %H:%M UTC").to_string())
}
