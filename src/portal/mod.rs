//! The partner portal under `/portal/`, served by the gateway itself: server-rendered
//! pages (maud), no JavaScript needed, no asset from outside the binary. Each page calls
//! the same store and validation code as the API (`crate::api`), with the signed-in
//! app as the caller, so a partner sees in the portal exactly what its key sees.

mod chart;
mod keys;
mod logs;
mod notifications;
mod session;
mod webhook;
mod webhook_form;
mod webhooks;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use axum_extra::extract::Form;
use maud::html;

use crate::api::AppState;
use crate::domain::secrets::hash_key;
use crate::web::pages::{self, api_error_page, error_page, Area};
use crate::web::sign_in::{self, SignInForm};
use session::{csrf_refused, open_session, CsrfForm, Partner};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/portal",
            get(|| async { Redirect::to("/portal/webhooks") }),
        )
        .route(
            "/portal/",
            get(|| async { Redirect::to("/portal/webhooks") }),
        )
        .route("/portal/login", get(sign_in_form).post(sign_in))
        .route("/portal/logout", post(sign_out))
        .route("/portal/link/{token}", get(redeem_link))
        .route(
            "/portal/webhooks",
            get(webhooks::list).post(webhook_form::create),
        )
        .route("/portal/webhooks/new", get(webhook_form::new_form))
        .route(
            "/portal/webhooks/{id}/edit",
            get(webhook_form::edit_form).post(webhook_form::update),
        )
        .route("/portal/webhooks/{id}/delete", post(webhook_form::delete))
        .route("/portal/webhooks/{id}/replay", post(webhook::replay))
        .route("/portal/keys", get(keys::list).post(keys::create))
        .route("/portal/notifications", get(notifications::list))
        .route("/portal/webhooks/{id}/attempts", get(logs::attempts))
        .route(
            "/portal/webhooks/{id}/deliveries/{delivery}",
            get(logs::delivery),
        )
        .route(
            "/portal/webhooks/{id}/deliveries/{delivery}/resend",
            post(logs::resend),
        )
        .route("/portal/keys/{id}/revoke", post(keys::revoke))
        .route("/portal/webhooks/{id}", get(webhook::detail))
        .route("/portal/webhooks/{id}/test", post(webhook::send_test))
        .route("/portal/webhooks/{id}/secret", post(webhook::reveal_secret))
        .route("/portal/webhooks/{id}/rotate", post(webhook::rotate_secret))
        .route(
            "/portal/webhooks/{id}/reactivate",
            post(webhook::reactivate),
        )
        .route(
            "/portal/{*rest}",
            get(|| async { error_page(StatusCode::NOT_FOUND, "No such page in the portal.") }),
        )
}

/// A portal page, or the API's error that kept it from being built.
fn respond(page: Result<maud::Markup, crate::api::ApiError>) -> Response {
    pages::page_or_error(Area::Portal, page)
}

fn sign_in_page(csrf: &str, error: Option<&str>) -> maud::Markup {
    pages::sign_in_page(
        Area::Portal,
        "Sign in",
        html! { "Sign in with one of your app's partner keys (hg_app_…), or open the portal link your platform gave you." },
        "Partner key",
        csrf,
        error,
    )
}

async fn sign_in_form(headers: HeaderMap, jar: CookieJar) -> Response {
    sign_in::form(Area::Portal, &headers, jar, sign_in_page)
}

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> Response {
    let Some(csrf) = sign_in::checked_csrf(Area::Portal, &jar, &form) else {
        return csrf_refused();
    };
    let key_hash = hash_key(form.key.trim());
    let app = match state.store.app_for_key(&key_hash).await {
        Ok(app) => app,
        Err(e) => return api_error_page(e.into()),
    };
    let Some(app_id) = app else {
        let page = sign_in_page(&csrf, Some("That key is not a valid partner key."));
        return sign_in::refused(page);
    };
    match open_session(&state, &headers, &app_id, Some(key_hash)).await {
        Ok(session) => sign_in::signed_in(Area::Portal, jar, session, "/portal/webhooks"),
        Err(page) => page,
    }
}

async fn sign_out(
    State(state): State<AppState>,
    partner: Partner,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !partner.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    partner.sign_out(&state).await;
    sign_in::signed_out(Area::Portal, jar)
}

/// A one-time link minted by the platform (`POST /v1/apps/{app}/portal-links`).
async fn redeem_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Response {
    let redeemed = state
        .store
        .redeem_portal_link(&hash_key(&token), state.clock.now())
        .await;
    let app_id = match redeemed {
        Ok(Some(app_id)) => app_id,
        Ok(None) => return error_page(
            StatusCode::GONE,
            "This portal link has expired or was already used. Ask your platform for a new one.",
        ),
        Err(e) => return api_error_page(e.into()),
    };
    match open_session(&state, &headers, &app_id, None).await {
        Ok(session) => (jar.add(session), pages::continue_to("/portal/webhooks")).into_response(),
        Err(page) => page,
    }
}
