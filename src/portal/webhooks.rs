//! The portal's webhook list, with each webhook's health and last attempt. The form that
//! adds or edits one is `webhook_form.rs`; a webhook's own page is `webhook.rs`.

use axum::extract::State;
use maud::{html, Markup};

use super::session::Partner;
use super::webhook::latest_attempts;
use super::PageError;
use crate::usecases::{health, webhooks, Gateway};
use crate::web::pages::{badge, layout, rate};

pub async fn list(State(gw): State<Gateway>, partner: Partner) -> Result<Markup, PageError> {
    let caller = partner.caller();
    let webhooks = webhooks::list(&gw, &caller, &partner.app_id).await?;
    let mut rows = Vec::new();
    for webhook in webhooks {
        let health = health::of_webhook(&gw, &webhook.id).await?;
        let last = latest_attempts(&gw, &webhook, 1).await?.pop();
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
                div.scroll tabindex="0" role="region" aria-label="Webhooks" { table {
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
