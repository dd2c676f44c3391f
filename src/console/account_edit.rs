//! A tenant's and an app's own page: rename, change the tenant's environment or the app's
//! OAuth client, delete. Through the API's `update_tenant`, `delete_tenant`, `update_app`
//! and `delete_app`; a delete the store refuses (a tenant with events or installations,
//! an app with installations or webhooks) shows the API's 409 on the page.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::accounts::optional;
use super::session::Operator;
use super::{form_error, page, refused_form, PageError};
use crate::domain::model::{Environment, InstallationState};
use crate::usecases::apps::{self, UpdateApp};
use crate::usecases::tenants::{self, UpdateTenant};
use crate::usecases::{installations, webhooks, Caller, Error, Gateway};
use crate::web::forms::{csrf_field, CsrfForm, Posted};

csrf_field!(TenantEdit, AppEdit);

/// Which form on the page the use case refused: its message is shown in that form.
#[derive(Clone, Copy)]
enum Refused<'a> {
    Edit(&'a Error),
    Delete(&'a Error),
}

impl<'a> Refused<'a> {
    fn edit(refused: Option<Self>) -> Option<&'a Error> {
        match refused {
            Some(Refused::Edit(e)) => Some(e),
            _ => None,
        }
    }

    fn delete(refused: Option<Self>) -> Option<&'a Error> {
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
    State(gw): State<Gateway>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    tenant_page(&gw, &operator, &id, None, None).await
}

/// `form` is what was posted, shown again on an error; without it, the stored values.
async fn tenant_page(
    gw: &Gateway,
    operator: &Operator,
    id: &str,
    form: Option<&TenantEdit>,
    refused: Option<Refused<'_>>,
) -> Result<Markup, PageError> {
    let tenant = tenants::get(gw, id).await?;
    let installed = installations::list(gw, Some(id), None).await?;
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
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    Posted {
        session: operator,
        form,
    }: Posted<Operator, TenantEdit>,
) -> Response {
    let saved = match Environment::parse(&form.environment) {
        Some(environment) => {
            let req = UpdateTenant {
                name: Some(form.name.clone()),
                environment: Some(environment),
            };
            tenants::update(&gw, &id, req).await
        }
        None => Err(Error::invalid(
            "environment",
            "environment must be production or development",
        )),
    };
    match saved {
        Ok(_) => Redirect::to("/console/tenants").into_response(),
        Err(e) => {
            refused_form(
                &e,
                tenant_page(&gw, &operator, &id, Some(&form), Some(Refused::Edit(&e))),
            )
            .await
        }
    }
}

pub async fn remove_tenant(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    Posted {
        session: operator, ..
    }: Posted<Operator, CsrfForm>,
) -> Response {
    match tenants::delete(&gw, &id).await {
        Ok(()) => Redirect::to("/console/tenants").into_response(),
        Err(e) => {
            refused_form(
                &e,
                tenant_page(&gw, &operator, &id, None, Some(Refused::Delete(&e))),
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
    State(gw): State<Gateway>,
    operator: Operator,
    Path(app_id): Path<String>,
) -> Result<Markup, PageError> {
    app_page(&gw, &operator, &app_id, None, None).await
}

async fn app_page(
    gw: &Gateway,
    operator: &Operator,
    app_id: &str,
    form: Option<&AppEdit>,
    refused: Option<Refused<'_>>,
) -> Result<Markup, PageError> {
    let app = apps::get(gw, &Caller::Platform, app_id).await?;
    let webhooks = webhooks::list(gw, &Caller::Platform, app_id).await?;
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
    State(gw): State<Gateway>,
    Path(app_id): Path<String>,
    Posted {
        session: operator,
        form,
    }: Posted<Operator, AppEdit>,
) -> Response {
    let req = UpdateApp {
        name: Some(form.name.clone()),
        oauth_client_id: Some(optional(&form.oauth_client_id)),
    };
    match apps::update(&gw, &app_id, req).await {
        Ok(_) => Redirect::to("/console/apps").into_response(),
        Err(e) => {
            refused_form(
                &e,
                app_page(
                    &gw,
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
    State(gw): State<Gateway>,
    Path(app_id): Path<String>,
    Posted {
        session: operator, ..
    }: Posted<Operator, CsrfForm>,
) -> Response {
    match apps::delete(&gw, &app_id).await {
        Ok(()) => Redirect::to("/console/apps").into_response(),
        Err(e) => {
            refused_form(
                &e,
                app_page(&gw, &operator, &app_id, None, Some(Refused::Delete(&e))),
            )
            .await
        }
    }
}
