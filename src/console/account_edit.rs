//! A tenant's and an app's own page: rename, change the tenant's environment or the app's
//! OAuth client, delete. Through the API's `update_tenant`, `delete_tenant`, `update_app`
//! and `delete_app`; a delete the store refuses (a tenant with events or installations,
//! an app with installations or webhooks) shows the API's 409 on the page.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::accounts::optional;
use super::session::{csrf_refused, Operator};
use super::{form_error, page, refused_form, respond};
use crate::api::apps::{delete_app, update_app, UpdateApp};
use crate::api::tenants::{delete_tenant, update_tenant, UpdateTenant};
use crate::api::{ApiError, AppState};
use crate::domain::model::{Environment, InstallationState};
use crate::web::forms::CsrfForm;

/// Which form on the page the API refused: its message is shown in that form.
#[derive(Clone, Copy)]
enum Refused<'a> {
    Edit(&'a ApiError),
    Delete(&'a ApiError),
}

impl<'a> Refused<'a> {
    fn edit(refused: Option<Self>) -> Option<&'a ApiError> {
        match refused {
            Some(Refused::Edit(e)) => Some(e),
            _ => None,
        }
    }

    fn delete(refused: Option<Self>) -> Option<&'a ApiError> {
        match refused {
            Some(Refused::Delete(e)) => Some(e),
            _ => None,
        }
    }
}

const TENANT_DELETE_HINT: &str =
    "Only a tenant with no events and no installations can be deleted.";
const APP_DELETE_HINT: &str = "Only an app with no installations and no webhooks can be \
    deleted: uninstall it, and have the partner delete its webhooks, first.";

/// The delete form of a tenant's or an app's page (`action` is the page's own path),
/// with the API's refusal in it.
fn delete_card(
    operator: &Operator,
    action: &str,
    what: &str,
    hint: &str,
    refused: Option<Refused>,
) -> Markup {
    html! {
        form.card #delete method="post" action={ (action) "/delete" } {
            h2 { "Delete" }
            (form_error(Refused::delete(refused)))
            p.muted { (hint) }
            input type="hidden" name="csrf" value=(operator.csrf);
            button.danger type="submit" { "Delete " (what) }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct TenantEdit {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    environment: String,
}

pub async fn tenant(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Response {
    respond(tenant_page(&state, &operator, &id, None, None).await)
}

/// `form` is what was posted, shown again on an error; without it, the stored values.
async fn tenant_page(
    state: &AppState,
    operator: &Operator,
    id: &str,
    form: Option<&TenantEdit>,
    refused: Option<Refused<'_>>,
) -> Result<Markup, ApiError> {
    let tenant = state
        .store
        .get_tenant(id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let installed = state.store.list_installations(Some(id), None).await?;
    let (name, environment) = match form {
        Some(f) => (f.name.as_str(), f.environment.as_str()),
        None => (tenant.name.as_str(), tenant.environment.as_str()),
    };
    let action = format!("/console/tenants/{}", tenant.id);
    Ok(page(
        operator,
        &format!("Tenant {}", tenant.id),
        html! {
            p { "Created " (tenant.created_at.format("%Y-%m-%d %H:%M UTC")) ". Installed apps: "
                @let active: Vec<_> = installed.iter().filter(|i| i.state == InstallationState::Active).collect();
                @if active.is_empty() { "none" }
                @for (n, i) in active.iter().enumerate() { @if n > 0 { ", " } code { (i.app_id) } }
                " (" a href="/console/installations" { "installations" } ")."
            }
            form.card #edit method="post" action=(action) {
                h2 { "Edit" }
                (form_error(Refused::edit(refused)))
                input type="hidden" name="csrf" value=(operator.csrf);
                label for="name" { "Name" }
                input #name type="text" name="name" value=(name) required;
                label for="environment" { "Environment" }
                select #environment name="environment" {
                    @for env in ["production", "development"] {
                        option value=(env) selected[environment == env] { (env) }
                    }
                }
                p.muted { "Events reach only webhooks of the tenant's environment." }
                button type="submit" { "Save" }
            }
            (delete_card(operator, &action, &format!("tenant {}", tenant.id), TENANT_DELETE_HINT, refused))
        },
    ))
}

pub async fn save_tenant(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<TenantEdit>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let saved = match Environment::parse(&form.environment) {
        Some(environment) => {
            let req = UpdateTenant {
                name: Some(form.name.clone()),
                environment: Some(environment),
            };
            update_tenant(&state, &id, req).await
        }
        None => Err(ApiError::invalid(
            "environment must be production or development",
        )),
    };
    match saved {
        Ok(_) => Redirect::to("/console/tenants").into_response(),
        Err(e) => {
            refused_form(
                &e,
                tenant_page(&state, &operator, &id, Some(&form), Some(Refused::Edit(&e))),
            )
            .await
        }
    }
}

pub async fn remove_tenant(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    match delete_tenant(&state, &id).await {
        Ok(()) => Redirect::to("/console/tenants").into_response(),
        Err(e) => {
            refused_form(
                &e,
                tenant_page(&state, &operator, &id, None, Some(Refused::Delete(&e))),
            )
            .await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct AppEdit {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    oauth_client_id: String,
}

pub async fn app(
    State(state): State<AppState>,
    operator: Operator,
    Path(app_id): Path<String>,
) -> Response {
    respond(app_page(&state, &operator, &app_id, None, None).await)
}

async fn app_page(
    state: &AppState,
    operator: &Operator,
    app_id: &str,
    form: Option<&AppEdit>,
    refused: Option<Refused<'_>>,
) -> Result<Markup, ApiError> {
    let app = state
        .store
        .get_app(app_id)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    let webhooks = state.store.list_webhooks(app_id).await?;
    let (name, client_id) = match form {
        Some(f) => (f.name.as_str(), f.oauth_client_id.as_str()),
        None => (
            app.name.as_str(),
            app.oauth_client_id.as_deref().unwrap_or(""),
        ),
    };
    let action = format!("/console/apps/{}", app.id);
    Ok(page(
        operator,
        &format!("App {}", app.id),
        html! {
            p { "Created " (app.created_at.format("%Y-%m-%d %H:%M UTC")) ". Webhooks: " (webhooks.len()) "." }
            form.card #edit method="post" action=(action) {
                h2 { "Edit" }
                (form_error(Refused::edit(refused)))
                input type="hidden" name="csrf" value=(operator.csrf);
                label for="name" { "Name" }
                input #name type="text" name="name" value=(name) required;
                label for="oauth_client_id" { "OAuth client id (empty: none; its tokens stop working at once)" }
                input #oauth_client_id type="text" name="oauth_client_id" value=(client_id);
                button type="submit" { "Save" }
            }
            (delete_card(operator, &action, &format!("app {}", app.id), APP_DELETE_HINT, refused))
        },
    ))
}

pub async fn save_app(
    State(state): State<AppState>,
    operator: Operator,
    Path(app_id): Path<String>,
    Form(form): Form<AppEdit>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let req = UpdateApp {
        name: Some(form.name.clone()),
        oauth_client_id: Some(optional(&form.oauth_client_id)),
    };
    match update_app(&state, &app_id, req).await {
        Ok(_) => Redirect::to("/console/apps").into_response(),
        Err(e) => {
            refused_form(
                &e,
                app_page(
                    &state,
                    &operator,
                    &app_id,
                    Some(&form),
                    Some(Refused::Edit(&e)),
                ),
            )
            .await
        }
    }
}

pub async fn remove_app(
    State(state): State<AppState>,
    operator: Operator,
    Path(app_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    match delete_app(&state, &app_id).await {
        Ok(()) => Redirect::to("/console/apps").into_response(),
        Err(e) => {
            refused_form(
                &e,
                app_page(&state, &operator, &app_id, None, Some(Refused::Delete(&e))),
            )
            .await
        }
    }
}
