//! CSRF tokens and session cookies for the portal's and the console's forms.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;

use super::pages::{error_page_in, Area};

/// A form that carries nothing but its CSRF token.
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// Compared in constant time; an empty expectation (no cookie) never matches.
pub fn csrf_ok(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The answer to a form without its session's CSRF token: nothing was done.
pub fn csrf_refused_in(area: Area) -> Response {
    error_page_in(
        area,
        StatusCode::FORBIDDEN,
        "This form is missing its security token or it has expired. Reload the page and try again.",
    )
}

/// HttpOnly, SameSite=Strict, scoped to `area`'s pages; Secure when the request came
/// over https (directly or through a proxy that says so).
pub fn cookie(
    area: Area,
    name: &'static str,
    value: String,
    headers: &HeaderMap,
    ttl: chrono::Duration,
) -> Cookie<'static> {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    Cookie::build((name, value))
        .path(area.path())
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https)
        .max_age(time::Duration::seconds(ttl.num_seconds()))
        .build()
}
