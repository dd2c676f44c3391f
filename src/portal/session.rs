//! Portal sessions: a random token in an HttpOnly, SameSite=Strict cookie (Secure behind
//! https), stored hashed with its app, its CSRF token and its end. A session opened with
//! a partner key ends when that key is revoked; any session ends with its app.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::Response;
use axum_extra::extract::cookie::Cookie;

use crate::api::AppState;
use crate::domain::secrets::generate_token;
use crate::domain::secrets::hash_key;
use crate::store::PortalSession;
pub use crate::web::forms::{csrf_ok, CsrfForm};
use crate::web::pages::{api_error_page, Area, Nav};
use crate::web::sign_in;

pub const SESSION_TTL: chrono::Duration = chrono::Duration::hours(8);

/// The signed-in partner of a portal request.
pub struct Partner {
    pub app_id: String,
    pub csrf: String,
    token_hash: String,
}

impl FromRequestParts<AppState> for Partner {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_sign_in = || sign_in::to_sign_in(Area::Portal);
        let Some(token_hash) = sign_in::session_token_hash(Area::Portal, &parts.headers) else {
            return Err(to_sign_in());
        };
        let store = &state.store;
        let found = store
            .get_portal_session(&token_hash)
            .await
            .map_err(|e| api_error_page(e.into()))?;
        let Some(session) = found else {
            return Err(to_sign_in());
        };
        let key_still_valid = match &session.key_hash {
            Some(key_hash) => {
                let app = store
                    .app_for_key(key_hash)
                    .await
                    .map_err(|e| api_error_page(e.into()))?;
                app.as_deref() == Some(session.app_id.as_str())
            }
            None => true,
        };
        if session.expires_at <= state.clock.now() || !key_still_valid {
            let _ = store.delete_portal_session(&token_hash).await;
            return Err(to_sign_in());
        }
        Ok(Self {
            app_id: session.app_id,
            csrf: session.csrf_token,
            token_hash,
        })
    }
}

impl Partner {
    /// The API's caller for this session: the partner of its app.
    pub fn caller(&self) -> crate::api::extract::Caller {
        crate::api::extract::Caller::Partner {
            app_id: self.app_id.clone(),
            read_only: false,
        }
    }

    /// The signed-in app and the sign-out form's token, for the page header.
    pub fn nav(&self) -> Option<Nav<'_>> {
        Some(Nav {
            area: Area::Portal,
            who: &self.app_id,
            csrf: &self.csrf,
        })
    }

    /// Whether a form's CSRF token is this session's; if not, answer [`csrf_refused`].
    pub fn csrf_ok(&self, given: &str) -> bool {
        csrf_ok(&self.csrf, given)
    }

    pub async fn sign_out(&self, state: &AppState) {
        let _ = state.store.delete_portal_session(&self.token_hash).await;
    }
}

/// The answer to a portal form without its session's CSRF token: nothing was done.
pub fn csrf_refused() -> Response {
    crate::web::forms::csrf_refused_in(Area::Portal)
}

/// Opens a session for `app_id` and returns the cookie that carries it.
pub async fn open_session(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    key_hash: Option<String>,
) -> Result<Cookie<'static>, Response> {
    let token = generate_token();
    let now = state.clock.now();
    let session = PortalSession {
        app_id: app_id.to_string(),
        key_hash,
        csrf_token: generate_token(),
        created_at: now,
        expires_at: now + SESSION_TTL,
    };
    state
        .store
        .create_portal_session(&hash_key(&token), &session)
        .await
        .map_err(|e| api_error_page(e.into()))?;
    Ok(sign_in::session_cookie(
        Area::Portal,
        token,
        headers,
        SESSION_TTL,
    ))
}
