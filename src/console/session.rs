//! Console sessions: signed in with the platform key, a random token in an HttpOnly,
//! SameSite=Strict cookie scoped to `/console`. What a session holds and when it ends
//! (changing `HOOKGATE_PLATFORM_KEY` ends every one) is the use case's
//! (`usecases::sessions`); this is the cookie side.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::Cookie;

use super::PageError;
use crate::usecases::{sessions, Gateway};
use crate::web::error::ConsoleArea;
use crate::web::forms::Session;
use crate::web::pages::{Area, Nav};
use crate::web::sign_in;

/// The platform operator signed in to the console.
pub struct Operator {
    pub csrf: String,
    token_hash: String,
}

impl FromRequestParts<Gateway> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, gw: &Gateway) -> Result<Self, Response> {
        let to_sign_in = || sign_in::to_sign_in(Area::Console);
        let Some(token_hash) = sign_in::session_token_hash(Area::Console, &parts.headers) else {
            return Err(to_sign_in());
        };
        match sessions::console_session(gw, &token_hash).await {
            Ok(Some(session)) => Ok(Self {
                csrf: session.csrf,
                token_hash: session.token_hash,
            }),
            Ok(None) => Err(to_sign_in()),
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

impl Session for Operator {
    type Area = ConsoleArea;

    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl Operator {
    pub fn nav(&self) -> Option<Nav<'_>> {
        Some(Nav {
            area: Area::Console,
            who: "",
            csrf: &self.csrf,
        })
    }

    pub async fn sign_out(&self, gw: &Gateway) {
        sessions::end_console(gw, &self.token_hash).await;
    }
}

/// Opens a console session and returns the cookie that carries it.
pub async fn open_session(gw: &Gateway, headers: &HeaderMap) -> Result<Cookie<'static>, PageError> {
    let opened = sessions::open_console(gw).await?;
    Ok(sign_in::session_cookie(
        Area::Console,
        opened.token,
        headers,
        opened.ttl,
    ))
}
