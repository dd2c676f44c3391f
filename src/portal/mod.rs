//! The partner portal under `/portal/`, served by the gateway itself: server-rendered
//! pages (maud), no JavaScript needed, no asset from outside the binary. Each page calls
//! the same use cases as the API (`crate::usecases`), with the signed-in app as the
//! caller, so a partner sees in the portal exactly what its key sees.

mod chart;
mod destinations;
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

use crate::usecases::{sessions, Gateway};
use crate::web::error::PortalArea;
use crate::web::forms::{CsrfForm, Posted};
use crate::web::pages::{self, Area};
use crate::web::sign_in::{self, SignInForm};
use session::{open_session, Partner};

/// An error page of the portal.
type PageError = crate::web::error::PageError<PortalArea>;

pub fn router() -> Router<Gateway> {
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
        .route(
            "/portal/notifications/destinations",
            get(destinations::list).post(destinations::create),
        )
        .route(
            "/portal/notifications/destinations/{id}/test",
            post(destinations::send_test),
        )
        .route(
            "/portal/notifications/destinations/{id}/delete",
            post(destinations::delete),
        )
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
            get(|| async { PageError::new(StatusCode::NOT_FOUND, "No such page in the portal.") }),
        )
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
    State(gw): State<Gateway>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let Some(csrf) = sign_in::checked_csrf(Area::Portal, &jar, &form) else {
        return Err(PageError::csrf_refused());
    };
    let Some((app_id, key_hash)) = sessions::partner_for_key(&gw, &form.key).await? else {
        let page = sign_in_page(&csrf, Some("That key is not a valid partner key."));
        return Ok(sign_in::refused(page));
    };
    let session = open_session(&gw, &headers, &app_id, Some(key_hash)).await?;
    Ok(sign_in::signed_in(
        Area::Portal,
        jar,
        session,
        "/portal/webhooks",
    ))
}

async fn sign_out(
    State(gw): State<Gateway>,
    jar: CookieJar,
    Posted { session, .. }: Posted<Partner, CsrfForm>,
) -> Response {
    session.sign_out(&gw).await;
    sign_in::signed_out(Area::Portal, jar)
}

/// A one-time link minted by the platform (`POST /v1/apps/{app}/portal-links`).
async fn redeem_link(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let Some(app_id) = sessions::redeem_link(&gw, &token).await? else {
        return Err(PageError::new(
            StatusCode::GONE,
            "This portal link has expired or was already used. Ask your platform for a new one.",
        ));
    };
    let session = open_session(&gw, &headers, &app_id, None).await?;
    Ok((jar.add(session), pages::continue_to("/portal/webhooks")).into_response())
}
