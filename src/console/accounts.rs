//! Tenants, partner apps (with their first key, shown once, and one-time portal links)
//! and installations, through the use cases the API calls.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::session::Operator;
use super::{form_error, page, refused_form, PageError};
use crate::domain::model::{Environment, InstallationState};
use crate::usecases::apps::{self, CreateApp};
use crate::usecases::tenants::{self, CreateTenant};
use crate::usecases::{installations, portal, Error, Gateway};
use crate::web::forms::{csrf_field, CsrfForm, Posted};

csrf_field!(TenantForm, AppForm, InstallForm);

/// A text field left empty is no value.
pub(super) fn optional(id: &str) -> Option<String> {
    let id = id.trim();
    (!id.is_empty()).then(|| id.to_string())
}

#[derive(Deserialize, Default)]
pub struct TenantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    environment: String,
}

pub async fn tenants(State(gw): State<Gateway>, operator: Operator) -> Result<Markup, PageError> {
    tenants_page(&gw, &operator, &TenantForm::default(), None).await
}

async fn tenants_page(
    gw: &Gateway,
    operator: &Operator,
    form: &TenantForm,
    error: Option<&Error>,
) -> Result<Markup, PageError> {
    let tenants = tenants::list(gw).await?;
    Ok(page(
        operator,
        "Tenants",
        html! {
            div.scroll tabindex="0" role="region" aria-label="Tenants" { table #tenants {
                thead { tr { th { "Id" } th { "Name" } th { "Environment" } th { "Created" } } }
                tbody {
                    @for t in &tenants {
                        tr {
                            td { a href={ "/console/tenants/" (t.id) } { code { (t.id) } } }
                            td { (t.name) } td { (t.environment.as_str()) }
                            td { (t.created_at.format("%Y-%m-%d %H:%M UTC")) }
                        }
                    }
                }
            } }
            form.card method="post" action="/console/tenants" {
                h2 { "Add a tenant" }
                (form_error(error))
                input type="hidden" name="csrf" value=(operator.csrf);
                label for="id" { "Id (generated when empty)" }
                input #id type="text" name="id" value=(form.id);
                label for="name" { "Name" }
                input #name type="text" name="name" value=(form.name) required;
                label for="environment" { "Environment" }
                select #environment name="environment" {
                    @for env in ["production", "development"] {
                        option value=(env) selected[form.environment == env] { (env) }
                    }
                }
                button type="submit" { "Add tenant" }
            }
        },
    ))
}

pub async fn create_tenant(
    State(gw): State<Gateway>,
    Posted {
        session: operator,
        form,
    }: Posted<Operator, TenantForm>,
) -> Response {
    let created = match Environment::parse(&form.environment) {
        Some(environment) => {
            let req = CreateTenant {
                id: optional(&form.id),
                name: form.name.clone(),
                environment,
            };
            tenants::create(&gw, req).await
        }
        None => Err(Error::invalid(
            "environment",
            "environment must be production or development",
        )),
    };
    match created {
        Ok(_) => Redirect::to("/console/tenants").into_response(),
        Err(e) => refused_form(&e, tenants_page(&gw, &operator, &form, Some(&e))).await,
    }
}

#[derive(Deserialize, Default)]
pub struct AppForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    oauth_client_id: String,
}

/// What the apps page shows once, after an action: a new partner key or a portal link.
enum Shown {
    Nothing,
    PartnerKey {
        app_id: String,
        key: String,
    },
    PortalLink {
        app_id: String,
        url: String,
        expires_at: String,
    },
}

pub async fn apps(State(gw): State<Gateway>, operator: Operator) -> Result<Markup, PageError> {
    apps_page(&gw, &operator, &AppForm::default(), None, Shown::Nothing).await
}

async fn apps_page(
    gw: &Gateway,
    operator: &Operator,
    form: &AppForm,
    error: Option<&Error>,
    shown: Shown,
) -> Result<Markup, PageError> {
    let apps = apps::list(gw).await?;
    Ok(page(
        operator,
        "Partner apps",
        html! {
            @match &shown {
                Shown::PartnerKey { app_id, key } => {
                    div.card role="status" #shown {
                        p { "App " code { (app_id) } " created. Its partner key, shown only now:" }
                        p { code #partner-key { (key) } }
                        p.muted { "Give it to the partner; hookgate keeps only its hash. The partner makes more keys in the portal." }
                    }
                }
                Shown::PortalLink { app_id, url, expires_at } => {
                    div.card role="status" #shown {
                        p { "A one-time portal link for " code { (app_id) } ", valid once until " (expires_at) ":" }
                        p { a #portal-link href=(url) { (url) } }
                        p.muted { "Following it here signs this browser in to the portal as that app." }
                    }
                }
                Shown::Nothing => {}
            }
            div.scroll tabindex="0" role="region" aria-label="Apps" { table #apps {
                thead { tr { th { "Id" } th { "Name" } th { "Created" } th { "Portal" } } }
                tbody {
                    @for a in &apps {
                        tr {
                            td { a href={ "/console/apps/" (a.id) } { code { (a.id) } } } td { (a.name) }
                            td { (a.created_at.format("%Y-%m-%d %H:%M UTC")) }
                            td {
                                form method="post" action={ "/console/apps/" (a.id) "/portal-link" } {
                                    input type="hidden" name="csrf" value=(operator.csrf);
                                    button type="submit" aria-label={ "Mint a portal link for " (a.id) } { "Mint a portal link" }
                                }
                            }
                        }
                    }
                }
            } }
            form.card method="post" action="/console/apps" {
                h2 { "Add an app" }
                (form_error(error))
                input type="hidden" name="csrf" value=(operator.csrf);
                label for="id" { "Id (generated when empty), e.g. the OAuth client id" }
                input #id type="text" name="id" value=(form.id);
                label for="name" { "Name" }
                input #name type="text" name="name" value=(form.name) required;
                label for="oauth_client_id" { "OAuth client id (optional): its access tokens act for the app" }
                input #oauth_client_id type="text" name="oauth_client_id" value=(form.oauth_client_id);
                button type="submit" { "Add app" }
            }
        },
    ))
}

pub async fn create_app(
    State(gw): State<Gateway>,
    Posted {
        session: operator,
        form,
    }: Posted<Operator, AppForm>,
) -> Result<Response, PageError> {
    let req = CreateApp {
        id: optional(&form.id),
        name: form.name.clone(),
        oauth_client_id: optional(&form.oauth_client_id),
    };
    let (error, shown) = match apps::create(&gw, req).await {
        Ok(created) => (
            None,
            Shown::PartnerKey {
                app_id: created.app.id,
                key: created.partner_key,
            },
        ),
        Err(e) if e.is_caller_error() => (Some(e), Shown::Nothing),
        Err(e) => return Err(e.into()),
    };
    let status = error
        .as_ref()
        .map_or(StatusCode::CREATED, crate::web::error::status_of);
    // Created: an empty form for the next one.
    let form = if error.is_some() {
        form
    } else {
        AppForm::default()
    };
    let page = apps_page(&gw, &operator, &form, error.as_ref(), shown).await?;
    Ok((status, page).into_response())
}

pub async fn portal_link(
    State(gw): State<Gateway>,
    Path(app_id): Path<String>,
    Posted {
        session: operator, ..
    }: Posted<Operator, CsrfForm>,
) -> Result<Response, PageError> {
    let link = portal::mint_link(&gw, &app_id, None).await?;
    let shown = Shown::PortalLink {
        app_id,
        url: link.url,
        expires_at: link.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    };
    let page = apps_page(&gw, &operator, &AppForm::default(), None, shown).await?;
    Ok((StatusCode::CREATED, page).into_response())
}

#[derive(Deserialize, Default)]
pub struct InstallForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    app_id: String,
}

pub async fn installations(
    State(gw): State<Gateway>,
    operator: Operator,
) -> Result<Markup, PageError> {
    installations_page(&gw, &operator, &InstallForm::default(), None).await
}

async fn installations_page(
    gw: &Gateway,
    operator: &Operator,
    form: &InstallForm,
    error: Option<&Error>,
) -> Result<Markup, PageError> {
    let installations = installations::list(gw, None, None).await?;
    let tenants = tenants::list(gw).await?;
    let apps = apps::list(gw).await?;
    Ok(page(
        operator,
        "Installations",
        html! {
            div.scroll tabindex="0" role="region" aria-label="Installations" { table #installations {
                thead { tr { th { "Tenant" } th { "App" } th { "State" } th { "Weight" } th { "Since" } th { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for i in &installations {
                        tr {
                            td { code { (i.tenant_id) } } td { code { (i.app_id) } } td { (i.state.as_str()) }
                            td title="Its share of the app's listeners (PATCH /v1/installations/{id})" { (i.delivery_weight) }
                            td { (i.revoked_at.unwrap_or(i.created_at).format("%Y-%m-%d %H:%M UTC")) }
                            td {
                                @if i.state == InstallationState::Active {
                                    form method="post" action={ "/console/installations/" (i.id) "/uninstall" } {
                                        input type="hidden" name="csrf" value=(operator.csrf);
                                        button type="submit" aria-label={ "Uninstall " (i.app_id) " for " (i.tenant_id) } { "Uninstall" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
            form.card method="post" action="/console/installations" {
                h2 { "Install an app for a tenant" }
                p.muted { "What your OAuth flow does when a tenant installs a partner app: the tenant's events start to reach the app's webhooks." }
                (form_error(error))
                input type="hidden" name="csrf" value=(operator.csrf);
                label for="tenant_id" { "Tenant" }
                select #tenant_id name="tenant_id" {
                    @for t in &tenants {
                        option value=(t.id) selected[form.tenant_id == t.id] { (t.name) " (" (t.id) ")" }
                    }
                }
                label for="app_id" { "App" }
                select #app_id name="app_id" {
                    @for a in &apps {
                        option value=(a.id) selected[form.app_id == a.id] { (a.name) " (" (a.id) ")" }
                    }
                }
                button type="submit" { "Install" }
            }
        },
    ))
}

pub async fn install(
    State(gw): State<Gateway>,
    Posted {
        session: operator,
        form,
    }: Posted<Operator, InstallForm>,
) -> Response {
    let installed =
        installations::install(&gw, form.tenant_id.clone(), form.app_id.clone(), None).await;
    match installed {
        Ok(_) => Redirect::to("/console/installations").into_response(),
        Err(e) => refused_form(&e, installations_page(&gw, &operator, &form, Some(&e))).await,
    }
}

pub async fn uninstall(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    _: Posted<Operator, CsrfForm>,
) -> Result<Redirect, PageError> {
    installations::uninstall(&gw, &id).await?;
    Ok(Redirect::to("/console/installations"))
}
