//! The portal's partner keys: create (shown once), list by prefix, revoke — through the
//! use cases the API calls (`usecases::keys`).

use axum::extract::{Path, State};
use maud::{html, Markup};

use super::session::Partner;
use super::PageError;
use crate::usecases::{keys, Gateway};
use crate::web::forms::{CsrfForm, Posted};
use crate::web::pages::layout;

pub async fn list(State(gw): State<Gateway>, partner: Partner) -> Result<Markup, PageError> {
    page(&gw, &partner, None).await
}

pub async fn create(
    State(gw): State<Gateway>,
    Posted { session, .. }: Posted<Partner, CsrfForm>,
) -> Result<Markup, PageError> {
    let (_, key) = keys::create(&gw, &session.caller(), &session.app_id).await?;
    page(&gw, &session, Some(key)).await
}

pub async fn revoke(
    State(gw): State<Gateway>,
    Path(key_id): Path<String>,
    Posted { session, .. }: Posted<Partner, CsrfForm>,
) -> Result<Markup, PageError> {
    keys::revoke(&gw, &session.caller(), &session.app_id, &key_id).await?;
    page(&gw, &session, None).await
}

/// The keys, and a key just created (its only showing).
async fn page(
    gw: &Gateway,
    partner: &Partner,
    created: Option<String>,
) -> Result<Markup, PageError> {
    let keys = keys::list(gw, &partner.caller(), &partner.app_id).await?;
    let body = html! {
        @if let Some(key) = &created {
            div.card role="status" {
                h2 { "New partner key" }
                p { "Copy it now: it is shown only once." }
                p { code #new-key { (key) } }
            }
        }
        form method="post" action="/portal/keys" {
            input type="hidden" name="csrf" value=(partner.csrf);
            button type="submit" { "Create a key" }
        }
        div.scroll tabindex="0" role="region" aria-label="Partner keys" { table {
            thead { tr { th { "Key" } th { "Created" } th { "State" } th { span.visually-hidden { "Actions" } } } }
            tbody {
                @for key in &keys {
                    tr {
                        td { code { (key.prefix) "…" } }
                        td { (key.created_at.format("%Y-%m-%d %H:%M UTC")) }
                        td {
                            @if let Some(at) = key.revoked_at { "revoked " (at.format("%Y-%m-%d %H:%M UTC")) }
                            @else { "active" }
                        }
                        td {
                            @if key.revoked_at.is_none() {
                                form method="post" action={ "/portal/keys/" (key.id) "/revoke" } {
                                    input type="hidden" name="csrf" value=(partner.csrf);
                                    button type="submit" aria-label={ "Revoke " (key.prefix) } { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        } }
        p.muted { "Revoking the key you signed in with ends this session." }
    };
    Ok(layout("Partner keys", partner.nav(), body))
}
