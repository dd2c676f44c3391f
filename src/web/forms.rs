//! CSRF tokens and session cookies for the portal's and the console's forms, and the
//! extractor every form post goes through: [`Posted`] checks the session's CSRF token
//! before a handler runs, so no handler can forget it.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::Form;
use subtle::ConstantTimeEq;

use super::error::{InArea, PageError};
use super::pages::Area;
use crate::usecases::Gateway;

/// Compared in constant time; an empty expectation (no cookie) never matches.
pub fn csrf_ok(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// A signed-in session of one area, as its extractor finds it (or redirects to sign-in).
pub trait Session: FromRequestParts<Gateway, Rejection = Response> + Send {
    type Area: InArea;
    fn csrf(&self) -> &str;
}

/// A form that carries the CSRF token of the session that rendered it.
pub trait WithCsrf {
    fn csrf(&self) -> &str;
}

/// Implements [`WithCsrf`] for forms whose token is their `csrf` field.
macro_rules! csrf_field {
    ($($form:ty),+ $(,)?) => {$(
        impl $crate::web::forms::WithCsrf for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    )+};
}
pub(crate) use csrf_field;

/// A form that carries nothing but its CSRF token.
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

csrf_field!(CsrfForm);

/// A form posted by a signed-in session with that session's CSRF token. Without a
/// session the request goes to sign-in; without the token it is refused (403) before
/// anything is done.
pub struct Posted<S, F> {
    pub session: S,
    pub form: F,
}

impl<S, F> FromRequest<Gateway> for Posted<S, F>
where
    S: Session,
    F: serde::de::DeserializeOwned + WithCsrf + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &Gateway) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = S::from_request_parts(&mut parts, state).await?;
        let Form(form) = Form::<F>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !csrf_ok(session.csrf(), form.csrf()) {
            return Err(PageError::<S::Area>::csrf_refused().into_response());
        }
        Ok(Self { session, form })
    }
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
