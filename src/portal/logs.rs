//! The portal's logs: a webhook's attempts with filters and paging, and a delivery's
//! page with its attempts and "Resend" — through the use cases the API calls
//! (`usecases::logs`).

use axum::extract::{Path, Query, State};
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::session::Partner;
use super::PageError;
use crate::delivery::sender::shown_headers;
use crate::domain::model::{Attempt, Delivery, DeliveryState, Webhook};
use crate::store::AttemptFilter;
use crate::usecases::{logs, webhooks, Error, Gateway};
use crate::web::forms::{CsrfForm, Posted};
use crate::web::pages::layout;

const PAGE: i64 = 50;
const OUTCOMES: [&str; 6] = [
    "success",
    "http_error",
    "timeout",
    "connect",
    "network",
    "aborted",
];

/// The query of the attempts page: a GET form, so a filtered page can be bookmarked.
#[derive(Deserialize, Default)]
pub struct AttemptsQuery {
    #[serde(default)]
    outcome: String,
    /// `datetime-local` inputs, read as UTC.
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    /// An exact event type, and a tenant id.
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    tenant_id: String,
    before: Option<String>,
}

impl AttemptsQuery {
    /// This query with the cursor `before`: the next page's link.
    fn older(&self, webhook_id: &str, before: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("outcome", &self.outcome)
            .append_pair("since", &self.since)
            .append_pair("until", &self.until)
            .append_pair("event_type", &self.event_type)
            .append_pair("tenant_id", &self.tenant_id)
            .append_pair("before", before)
            .finish();
        format!("/portal/webhooks/{webhook_id}/attempts?{query}")
    }
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// A `datetime-local` value, read as UTC; empty is none.
pub(super) fn parse_time(field: &'static str, value: &str) -> Result<Option<DateTime<Utc>>, Error> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .map(|t| Some(t.and_utc()))
        .map_err(|_| Error::invalid(field, format!("{field} must be a date and time")))
}

pub async fn attempts(
    State(gw): State<Gateway>,
    partner: Partner,
    Path(id): Path<String>,
    Query(q): Query<AttemptsQuery>,
) -> Result<Markup, PageError> {
    let caller = partner.caller();
    let webhook = webhooks::get(&gw, &caller, &partner.app_id, &id).await?;
    let outcome = logs::parse_outcome(Some(q.outcome.as_str()).filter(|o| !o.is_empty()))?;
    let filter = AttemptFilter {
        delivery_id: None,
        outcome,
        since: parse_time("since", &q.since)?,
        until: parse_time("until", &q.until)?,
        before: q.before.clone(),
        event_type: non_empty(&q.event_type),
        tenant_id: non_empty(&q.tenant_id),
        limit: PAGE,
    };
    let attempts = logs::attempts(&gw, &webhook, &filter).await?;
    let older = (attempts.len() as i64 == PAGE)
        .then(|| attempts.last().map(|a| a.id.clone()))
        .flatten();
    Ok(layout(
        "Attempts",
        partner.nav(),
        html! {
            p { a href={ "/portal/webhooks/" (webhook.id) } { "← " code { (webhook.url) } } }
            form.card method="get" action={ "/portal/webhooks/" (webhook.id) "/attempts" } {
                label for="outcome" { "Outcome" }
                select #outcome name="outcome" {
                    option value="" { "any" }
                    @for o in OUTCOMES { option value=(o) selected[q.outcome == o] { (o) } }
                }
                label for="since" { "From (UTC)" }
                input #since type="datetime-local" name="since" value=(q.since);
                label for="until" { "Until (UTC)" }
                input #until type="datetime-local" name="until" value=(q.until);
                label for="event_type" { "Event type" }
                input #event_type type="text" name="event_type" value=(q.event_type) placeholder="employee.created";
                label for="tenant_id" { "Tenant id" }
                input #tenant_id type="text" name="tenant_id" value=(q.tenant_id);
                button type="submit" { "Filter" }
            }
            (attempt_table(&webhook, &attempts))
            @if let Some(before) = older {
                p { a rel="next" href=(q.older(&webhook.id, &before)) { "Older attempts" } }
            }
        },
    ))
}

/// Attempts, newest first; each links to its delivery.
pub fn attempt_table(webhook: &Webhook, attempts: &[Attempt]) -> Markup {
    html! {
        @if attempts.is_empty() {
            p.muted { "No attempt." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Attempts" { table {
                thead { tr { th { "When" } th { "Outcome" } th { "Status" } th { "Latency" } th { "Error or answer" } th { "Delivery" } } }
                tbody {
                    @for a in attempts {
                        tr {
                            td { (a.started_at.format("%Y-%m-%d %H:%M:%S")) }
                            td { (a.outcome.as_str()) }
                            td { @if let Some(s) = a.status_code { (s) } }
                            td { (a.latency_ms) " ms" }
                            td { (a.error.as_deref().or(a.response_excerpt.as_deref()).unwrap_or("")) }
                            td { a href={ "/portal/webhooks/" (webhook.id) "/deliveries/" (a.delivery_id) } { "#" (a.attempt_number) } }
                        }
                    }
                }
            } }
        }
    }
}

pub async fn delivery(
    State(gw): State<Gateway>,
    partner: Partner,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Markup, PageError> {
    let webhook = webhooks::get(&gw, &partner.caller(), &partner.app_id, &id).await?;
    let delivery = logs::delivery(&gw, &webhook, &delivery_id).await?;
    delivery_page(&gw, &partner, &webhook, delivery, false).await
}

pub async fn resend(
    State(gw): State<Gateway>,
    Path((id, delivery_id)): Path<(String, String)>,
    Posted { session, .. }: Posted<Partner, CsrfForm>,
) -> Result<Markup, PageError> {
    let webhook = webhooks::get(&gw, &session.caller(), &session.app_id, &id).await?;
    let resent = logs::resend(&gw, &webhook, &delivery_id).await?;
    delivery_page(&gw, &session, &webhook, resent, true).await
}

/// The page of one delivery `d` of the partner's `webhook`; `resent` when it was just
/// queued again.
async fn delivery_page(
    gw: &Gateway,
    partner: &Partner,
    webhook: &Webhook,
    d: Delivery,
    resent: bool,
) -> Result<Markup, PageError> {
    let filter = AttemptFilter {
        delivery_id: Some(d.id.clone()),
        limit: 100,
        ..Default::default()
    };
    let attempts = logs::attempts(gw, webhook, &filter).await?;
    let resendable = matches!(
        d.state,
        DeliveryState::Delivered | DeliveryState::Failed | DeliveryState::Skipped
    );
    Ok(layout(
        "Delivery",
        partner.nav(),
        html! {
            p { a href={ "/portal/webhooks/" (webhook.id) "/attempts" } { "← attempts of " code { (webhook.url) } } }
            @if resent {
                div.card role="status" { p { "Queued again: it is sent now, with a fresh retry schedule." } }
            }
            div.card {
                p { "Event " code { (d.event_id) } " · " code { (d.event_type) } " · tenant " code { (d.tenant_id) } }
                p { "State: " strong { (d.state.as_str()) } " · attempts: " (d.attempt_count)
                    @if let Some(next) = d.next_attempt_at { " · next at " (next.format("%Y-%m-%d %H:%M:%S UTC")) } }
                p.muted { "Every attempt carries webhook-id " code { (d.id) } " and a signature; the secret is never shown here." }
                @if resendable {
                    form method="post" action={ "/portal/webhooks/" (webhook.id) "/deliveries/" (d.id) "/resend" } {
                        input type="hidden" name="csrf" value=(partner.csrf);
                        button type="submit" { "Resend" }
                    }
                }
            }
            h2 { "Attempts" }
            (attempt_table(webhook, &attempts))
            @if let Some(last) = attempts.first() {
                h2 { "Request headers" }
                p.muted { "Of the last attempt, with the webhook's custom headers as configured now; the signature and custom values are masked." }
                div.scroll tabindex="0" role="region" aria-label="Request headers" { table #request-headers {
                    tbody {
                        @for (name, value) in shown_headers(&d.id, last.started_at.timestamp(), &webhook.headers) {
                            tr { th { code { (name) } } td { code { (value) } } }
                        }
                    }
                } }
            }
        },
    ))
}
