//! The platform console under `/console/`, signed in with the platform key: tenants, apps,
//! installations, the event-type catalogue, the queue and the webhooks that need
//! attention, notifications, and a form to publish a test event. Like the portal, every
//! page calls the use cases the API calls (`crate::usecases`); nothing here validates or
//! stores on its own.

mod account_edit;
mod accounts;
mod catalogue;
mod overview;
mod publish;
mod session;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use axum_extra::extract::Form;
use maud::{html, Markup};

use crate::usecases::{sessions, Error, Gateway};
pub(crate) use crate::web::error::refused_form;
use crate::web::error::{message_of, ConsoleArea};
use crate::web::forms::{CsrfForm, Posted};
use crate::web::pages::{self, layout, Area};
use crate::web::sign_in::{self, SignInForm};
use session::{open_session, Operator};

/// An error page of the console.
type PageError = crate::web::error::PageError<ConsoleArea>;

pub fn router() -> Router<Gateway> {
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
            get(|| async { PageError::new(StatusCode::NOT_FOUND, "No such page.") }),
        )
}

/// A console page for the signed-in operator.
fn page(operator: &Operator, title: &str, body: Markup) -> Markup {
    layout(title, operator.nav(), body)
}

/// A use case's message for a failed form, above the form.
fn form_error(error: Option<&Error>) -> Markup {
    html! { @if let Some(e) = error { p.error role="alert" { (message_of(e)) } } }
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
    State(gw): State<Gateway>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let Some(csrf) = sign_in::checked_csrf(Area::Console, &jar, &form) else {
        return Err(PageError::csrf_refused());
    };
    if !sessions::is_platform_key(&gw, &form.key) {
        let page = sign_in_page(&csrf, Some("That is not the platform key."));
        return Ok(sign_in::refused(page));
    }
    let session = open_session(&gw, &headers).await?;
    Ok(sign_in::signed_in(Area::Console, jar, session, "/console/"))
}

async fn sign_out(
    State(gw): State<Gateway>,
    jar: CookieJar,
    Posted { session, .. }: Posted<Operator, CsrfForm>,
) -> Response {
    session.sign_out(&gw).await;
    sign_in::signed_out(Area::Console, jar)
}
