//! The sign-in and sign-out flow the portal and the console share. Before there is a
//! session, the sign-in form's CSRF token is double-submitted: set as a cookie beside the
//! form and compared with the posted copy. What a key is checked against, and what a
//! session holds, stays with each area.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use maud::Markup;
use serde::Deserialize;

use super::forms::{self, csrf_ok};
use super::pages::Area;
use crate::domain::secrets::generate_token;
use crate::domain::secrets::hash_key;

/// Long enough to type a key, short enough not to linger.
const SIGN_IN_TTL: chrono::Duration = chrono::Duration::hours(1);

/// A sign-in form as posted: one key and the form's CSRF token.
#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub csrf: String,
}

/// The sign-in page, rendered by `page(csrf, error)`, with a fresh CSRF token set as a
/// cookie beside it.
pub fn form(
    area: Area,
    headers: &HeaderMap,
    jar: CookieJar,
    page: fn(&str, Option<&str>) -> Markup,
) -> Response {
    let csrf = generate_token();
    let token_cookie = forms::cookie(
        area,
        area.sign_in_cookie(),
        csrf.clone(),
        headers,
        SIGN_IN_TTL,
    );
    (jar.add(token_cookie), page(&csrf, None)).into_response()
}

/// The posted form's token checked against its cookie: the token to render the form
/// again with, or `None` (answer `PageError::csrf_refused`).
pub fn checked_csrf(area: Area, jar: &CookieJar, form: &SignInForm) -> Option<String> {
    let expected = jar
        .get(area.sign_in_cookie())
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    csrf_ok(&expected, &form.csrf).then_some(expected)
}

/// A wrong key: the sign-in page again, with the reason, as 401.
pub fn refused(page: Markup) -> Response {
    (StatusCode::UNAUTHORIZED, page).into_response()
}

/// Signed in: the sign-in token is spent, the session cookie set, on to `next`.
pub fn signed_in(
    area: Area,
    jar: CookieJar,
    session: Cookie<'static>,
    next: &'static str,
) -> Response {
    let jar = jar
        .remove(Cookie::build(area.sign_in_cookie()).path(area.path()))
        .add(session);
    (jar, Redirect::to(next)).into_response()
}

/// Signed out (the session already ended in the store): the cookie removed, back to the
/// sign-in form.
pub fn signed_out(area: Area, jar: CookieJar) -> Response {
    let jar = jar.remove(Cookie::build(area.session_cookie()).path(area.path()));
    (jar, to_sign_in(area)).into_response()
}

/// The cookie that carries a new session's token.
pub fn session_cookie(
    area: Area,
    token: String,
    headers: &HeaderMap,
    ttl: chrono::Duration,
) -> Cookie<'static> {
    forms::cookie(area, area.session_cookie(), token, headers, ttl)
}

/// The hash (as the store keeps it) of the session token a request's cookie carries.
pub fn session_token_hash(area: Area, headers: &HeaderMap) -> Option<String> {
    let jar = CookieJar::from_headers(headers);
    jar.get(area.session_cookie()).map(|t| hash_key(t.value()))
}

/// Where a request without a valid session goes.
pub fn to_sign_in(area: Area) -> Response {
    Redirect::to(area.sign_in_path()).into_response()
}
