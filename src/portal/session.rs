//! Portal sessions: a random token in an HttpOnly, SameSite=Strict cookie (Secure behind
//! https). What a session holds and when it ends is the use case's
//! (`usecases::sessions`); this is the cookie side.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::Cookie;

use super::PageError;
use crate::usecases::{sessions, Caller, Gateway};
use crate::web::error::PortalArea;
use crate::web::forms::Session;
use crate::web::pages::{Area, Nav};
use crate::web::sign_in;

/// The signed-in partner of a portal request.
pub struct Partner {
    pub app_id: String,
    pub csrf: String,
    token_hash: String,
}

impl FromRequestParts<Gateway> for Partner {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, gw: &Gateway) -> Result<Self, Response> {
        let to_sign_in = || sign_in::to_sign_in(Area::Portal);
        let Some(token_hash) = sign_in::session_token_hash(Area::Portal, &parts.headers) else {
            return Err(to_sign_in());
        };
        match sessions::portal_session(gw, &token_hash).await {
            Ok(Some(session)) => Ok(Self {
                app_id: session.app_id,
                csrf: session.csrf,
                token_hash: session.token_hash,
            }),
            Ok(None) => Err(to_sign_in()),
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

impl Session for Partner {
    type Area = PortalArea;

    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl Partner {
    /// The use cases' caller for this session: the partner of its app.
    pub fn caller(&self) -> Caller {
        Caller::Partner {
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

    pub async fn sign_out(&self, gw: &Gateway) {
        sessions::end_portal(gw, &self.token_hash).await;
    }
}

/// Opens a session for `app_id` and returns the cookie that carries it.
pub async fn open_session(
    gw: &Gateway,
    headers: &HeaderMap,
    app_id: &str,
    key_hash: Option<String>,
) -> Result<Cookie<'static>, PageError> {
    let opened = sessions::open_portal(gw, app_id, key_hash).await?;
    Ok(sign_in::session_cookie(
        Area::Portal,
        opened.token,
        headers,
        opened.ttl,
    ))
}
