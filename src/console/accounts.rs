//! Tenants, partner apps (with their first key, shown once, and one-time portal links)
//! and installations, through the API's own functions.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::session::{csrf_refused, Operator};
use super::{console_error, form_error, page, refused_form, respond};
use crate::api::apps::{create_app as api_create_app, CreateApp};
use crate::api::installations::{install_app, uninstall_app};
use crate::api::portal_links::mint_portal_link;
use crate::api::tenants::{create_tenant as api_create_tenant, CreateTenant};
use crate::api::{ApiError, AppState};
use crate::domain::model::{Environment, InstallationState};
use crate::web::forms::CsrfForm;

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

pub async fn tenants(State(state): State<AppState>, operator: Operator) -> Response {
    respond(tenants_page(&state, &operator, &TenantForm::default(), None).await)
}

async fn tenants_page(
    state: &AppState,
    operator: &Operator,
    form: &TenantForm,
    error: Option<&ApiError>,
) -> Result<Markup, ApiError> {
    let tenants = state.store.list_tenants().await?;
    Ok(page(
        operator,
        "Tenants",
        html! {
            div.scroll { table #tenants {
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
    State(state): State<AppState>,
    operator: Operator,
    Form(form): Form<TenantForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let created = match Environment::parse(&form.environment) {
        Some(environment) => {
            let req = CreateTenant {
                id: optional(&form.id),
                name: form.name.clone(),
                environment,
            };
            api_create_tenant(&state, req).await
        }
        None => Err(ApiError::invalid(
            "environment must be production or development",
        )),
    };
    match created {
        Ok(_) => Redirect::to("/console/tenants").into_response(),
        Err(e) => refused_form(&e, tenants_page(&state, &operator, &form, Some(&e))).await,
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

pub async fn apps(State(state): State<AppState>, operator: Operator) -> Response {
    respond(apps_page(&state, &operator, &AppForm::default(), None, Shown::Nothing).await)
}

async fn apps_page(
    state: &AppState,
    operator: &Operator,
    form: &AppForm,
    error: Option<&ApiError>,
    shown: Shown,
) -> Result<Markup, ApiError> {
    let apps = state.store.list_apps().await?;
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
            div.scroll { table #apps {
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
    State(state): State<AppState>,
    operator: Operator,
    Form(form): Form<AppForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let req = CreateApp {
        id: optional(&form.id),
        name: form.name.clone(),
        oauth_client_id: optional(&form.oauth_client_id),
    };
    let (error, shown) = match api_create_app(&state, req).await {
        Ok(created) => (
            None,
            Shown::PartnerKey {
                app_id: created.app.id,
                key: created.partner_key,
            },
        ),
        Err(e) if e.status.is_client_error() => (Some(e), Shown::Nothing),
        Err(e) => return console_error(e),
    };
    let status = error
        .as_ref()
        .map_or(axum::http::StatusCode::CREATED, |e| e.status);
    // Created: an empty form for the next one.
    let form = if error.is_some() {
        form
    } else {
        AppForm::default()
    };
    match apps_page(&state, &operator, &form, error.as_ref(), shown).await {
        Ok(page) => (status, page).into_response(),
        Err(e) => console_error(e),
    }
}

pub async fn portal_link(
    State(state): State<AppState>,
    operator: Operator,
    Path(app_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let link = match mint_portal_link(&state, &app_id, None).await {
        Ok(link) => link,
        Err(e) => return console_error(e),
    };
    let shown = Shown::PortalLink {
        app_id,
        url: link.url,
        expires_at: link.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    };
    match apps_page(&state, &operator, &AppForm::default(), None, shown).await {
        Ok(page) => (axum::http::StatusCode::CREATED, page).into_response(),
        Err(e) => console_error(e),
    }
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

pub async fn installations(State(state): State<AppState>, operator: Operator) -> Response {
    respond(installations_page(&state, &operator, &InstallForm::default(), None).await)
}

async fn installations_page(
    state: &AppState,
    operator: &Operator,
    form: &InstallForm,
    error: Option<&ApiError>,
) -> Result<Markup, ApiError> {
    let installations = state.store.list_installations(None, None).await?;
    let tenants = state.store.list_tenants().await?;
    let apps = state.store.list_apps().await?;
    Ok(page(
        operator,
        "Installations",
        html! {
            div.scroll { table #installations {
                thead { tr { th { "Tenant" } th { "App" } th { "State" } th { "Since" } th {} } }
                tbody {
                    @for i in &installations {
                        tr {
                            td { code { (i.tenant_id) } } td { code { (i.app_id) } } td { (i.state.as_str()) }
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
    State(state): State<AppState>,
    operator: Operator,
    Form(form): Form<InstallForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let installed = install_app(&state, form.tenant_id.clone(), form.app_id.clone()).await;
    match installed {
        Ok(_) => Redirect::to("/console/installations").into_response(),
        Err(e) => refused_form(&e, installations_page(&state, &operator, &form, Some(&e))).await,
    }
}

pub async fn uninstall(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    match uninstall_app(&state, &id).await {
        Ok(_) => Redirect::to("/console/installations").into_response(),
        Err(e) => console_error(e),
    }
}
