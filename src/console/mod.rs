//! The platform console under `/console/`, signed in with the platform key: tenants, apps,
//! installations, the event-type catalogue, the queue and the webhooks that need
//! attention, notifications, and a form to publish a test event. Like the portal, every
//! page calls the API's own functions (`crate::api`); nothing here validates or stores
//! on its own.

mod account_edit;
mod accounts;
mod catalogue;
mod overview;
mod publish;
mod session;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use axum_extra::extract::Form;
use maud::{html, Markup};

use crate::api::{ApiError, AppState};
use crate::domain::secrets::hash_key;
use crate::web::forms::{csrf_ok, CsrfForm};
use crate::web::pages::{self, error_page_in, layout, Area};
use crate::web::sign_in::{self, SignInForm};
use session::{csrf_refused, open_session, Operator};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(overview::overview))
        .route("/console/login", get(sign_in_form).post(sign_in))
        .route("/console/logout", post(sign_out))
        .route(
            "/console/tenants",
            get(accounts::tenants).post(accounts::create_tenant),
        )
        .route(
            "/console/apps",
            get(accounts::apps).post(accounts::create_app),
        )
        .route(
            "/console/tenants/{id}",
            get(account_edit::tenant).post(account_edit::save_tenant),
        )
        .route(
            "/console/tenants/{id}/delete",
            post(account_edit::remove_tenant),
        )
        .route(
            "/console/apps/{app}",
            get(account_edit::app).post(account_edit::save_app),
        )
        .route("/console/apps/{app}/delete", post(account_edit::remove_app))
        .route(
            "/console/apps/{app}/portal-link",
            post(accounts::portal_link),
        )
        .route(
            "/console/installations",
            get(accounts::installations).post(accounts::install),
        )
        .route(
            "/console/installations/{id}/uninstall",
            post(accounts::uninstall),
        )
        .route(
            "/console/event-types",
            get(catalogue::list).post(catalogue::create),
        )
        .route(
            "/console/event-types/{name}/deprecate",
            post(catalogue::deprecate),
        )
        .route(
            "/console/event-types/{name}/delete",
            post(catalogue::delete),
        )
        .route(
            "/console/publish",
            get(publish::form).post(publish::publish),
        )
        .route(
            "/console/{*rest}",
            get(|| async { error_page_in(Area::Console, StatusCode::NOT_FOUND, "No such page.") }),
        )
}

/// A console page for the signed-in operator.
fn page(operator: &Operator, title: &str, body: Markup) -> Markup {
    layout(title, operator.nav(), body)
}

/// An API error as a console page, with its status.
fn console_error(e: ApiError) -> Response {
    error_page_in(Area::Console, e.status, &e.message)
}

/// A console page, or the API's error that kept it from being built.
fn respond(page: Result<Markup, ApiError>) -> Response {
    pages::page_or_error(Area::Console, page)
}

/// A refused form: a client error is shown on the form's own page (`form_page`, not
/// built otherwise) with the API's status; anything else as an error page.
async fn refused_form(
    e: &ApiError,
    form_page: impl std::future::Future<Output = Result<Markup, ApiError>>,
) -> Response {
    if !e.status.is_client_error() {
        return error_page_in(Area::Console, e.status, &e.message);
    }
    match form_page.await {
        Ok(page) => (e.status, page).into_response(),
        Err(e) => console_error(e),
    }
}

/// The API's message for a failed form, above the form.
fn form_error(error: Option<&ApiError>) -> Markup {
    html! { @if let Some(e) = error { p.error role="alert" { (e.message) } } }
}

fn sign_in_page(csrf: &str, error: Option<&str>) -> Markup {
    pages::sign_in_page(
        Area::Console,
        "Platform console",
        html! { "Sign in with the platform key (HOOKGATE_PLATFORM_KEY). Partners sign in at " a href="/portal/login" { "/portal/" } "." },
        "Platform key",
        csrf,
        error,
    )
}

async fn sign_in_form(headers: HeaderMap, jar: CookieJar) -> Response {
    sign_in::form(Area::Console, &headers, jar, sign_in_page)
}

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> Response {
    let Some(csrf) = sign_in::checked_csrf(Area::Console, &jar, &form) else {
        return csrf_refused();
    };
    // Compared as hashes in constant time, as the API compares keys.
    if !csrf_ok(&state.platform_key_hash, &hash_key(form.key.trim())) {
        return sign_in::refused(sign_in_page(&csrf, Some("That is not the platform key.")));
    }
    match open_session(&state, &headers).await {
        Ok(session) => sign_in::signed_in(Area::Console, jar, session, "/console/"),
        Err(page) => page,
    }
}

async fn sign_out(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    operator.sign_out(&state).await;
    sign_in::signed_out(Area::Console, jar)
}
