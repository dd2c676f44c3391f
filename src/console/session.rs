//! Console sessions: signed in with the platform key, a random token in an HttpOnly,
//! SameSite=Strict cookie scoped to `/console`, stored hashed with its CSRF token, its end
//! and the platform key's hash; changing `HOOKGATE_PLATFORM_KEY` ends every session.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::Response;
use axum_extra::extract::cookie::Cookie;

use super::console_error;
use crate::api::AppState;
use crate::domain::secrets::generate_token;
use crate::domain::secrets::hash_key;
use crate::store::ConsoleSession;
use crate::web::forms::csrf_ok;
use crate::web::pages::{Area, Nav};
use crate::web::sign_in;

/// Shorter than a partner's: this key can do everything.
pub const SESSION_TTL: chrono::Duration = chrono::Duration::hours(4);

/// The platform operator signed in to the console.
pub struct Operator {
    pub csrf: String,
    token_hash: String,
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_sign_in = || sign_in::to_sign_in(Area::Console);
        let Some(token_hash) = sign_in::session_token_hash(Area::Console, &parts.headers) else {
            return Err(to_sign_in());
        };
        let found = state
            .store
            .get_console_session(&token_hash)
            .await
            .map_err(|e| console_error(e.into()))?;
        let Some(session) = found else {
            return Err(to_sign_in());
        };
        let key_unchanged = csrf_ok(&state.platform_key_hash, &session.key_hash);
        if session.expires_at <= state.clock.now() || !key_unchanged {
            let _ = state.store.delete_console_session(&token_hash).await;
            return Err(to_sign_in());
        }
        Ok(Self {
            csrf: session.csrf_token,
            token_hash,
        })
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

    pub fn csrf_ok(&self, given: &str) -> bool {
        csrf_ok(&self.csrf, given)
    }

    pub async fn sign_out(&self, state: &AppState) {
        let _ = state.store.delete_console_session(&self.token_hash).await;
    }
}

/// The answer to a console form without its session's CSRF token: nothing was done.
pub fn csrf_refused() -> Response {
    crate::web::forms::csrf_refused_in(Area::Console)
}

/// Opens a console session and returns the cookie that carries it.
pub async fn open_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Cookie<'static>, Response> {
    let token = generate_token();
    let now = state.clock.now();
    let session = ConsoleSession {
        key_hash: state.platform_key_hash.to_string(),
        csrf_token: generate_token(),
        created_at: now,
        expires_at: now + SESSION_TTL,
    };
    state
        .store
        .create_console_session(&hash_key(&token), &session)
        .await
        .map_err(|e| console_error(e.into()))?;
    Ok(sign_in::session_cookie(
        Area::Console,
        token,
        headers,
        SESSION_TTL,
    ))
}
