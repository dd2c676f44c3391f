//! The portal's partner keys: create (shown once), list by prefix, revoke — through the
//! API's own `create_app_key` and `revoke_app_key`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use maud::html;

use super::session::{csrf_refused, CsrfForm, Partner};
use crate::api::keys::{create_app_key, revoke_app_key};
use crate::api::{ApiError, AppState};
use crate::web::pages::{api_error_page, layout};

pub async fn list(State(state): State<AppState>, partner: Partner) -> Response {
    page(&state, &partner, None).await
}

pub async fn create(
    State(state): State<AppState>,
    partner: Partner,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !partner.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    match create_app_key(&state, &partner.caller(), &partner.app_id).await {
        Ok((_, key)) => page(&state, &partner, Some(key)).await,
        Err(e) => api_error_page(e),
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    partner: Partner,
    Path(key_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !partner.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    match revoke_app_key(&state, &partner.caller(), &partner.app_id, &key_id).await {
        Ok(()) => page(&state, &partner, None).await,
        Err(e) => api_error_page(e),
    }
}

/// The keys, and a key just created (its only showing).
async fn page(state: &AppState, partner: &Partner, created: Option<String>) -> Response {
    let keys = match state.store.list_app_keys(&partner.app_id).await {
        Ok(keys) => keys,
        Err(e) => return api_error_page(ApiError::from(e)),
    };
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
        div.scroll { table {
            thead { tr { th { "Key" } th { "Created" } th { "State" } th {} } }
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
    layout("Partner keys", partner.nav(), body).into_response()
}
