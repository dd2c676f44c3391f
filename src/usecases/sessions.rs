//! Sign-in and sessions of the two page areas. A portal session belongs to one app; one
//! opened with a partner key ends when that key is revoked, any ends with its app. A
//! console session is the platform operator's and ends when the platform key changes.
//! The token is what the cookie carries; the store keeps its hash.

use chrono::TimeDelta;

use super::{Gateway, Result};
use crate::domain::secrets::{generate_token, hash_key, same_hash};
use crate::store::{ConsoleSession, PortalSession};

pub const PORTAL_SESSION_TTL: TimeDelta = TimeDelta::hours(8);
/// Shorter than a partner's: the platform key can do everything.
pub const CONSOLE_SESSION_TTL: TimeDelta = TimeDelta::hours(4);

/// A session just opened: the token for its cookie, and how long it lasts.
pub struct Opened {
    pub token: String,
    pub ttl: TimeDelta,
}

/// A signed-in session as a request presents it.
pub struct SignedIn {
    /// The app of a portal session; empty for the console.
    pub app_id: String,
    pub csrf: String,
    pub token_hash: String,
}

/// The app a partner key belongs to, and the key's hash, when the key is live.
pub async fn partner_for_key(gw: &Gateway, key: &str) -> Result<Option<(String, String)>> {
    let key_hash = hash_key(key.trim());
    let app = gw.store.app_for_key(&key_hash).await?;
    Ok(app.map(|app_id| (app_id, key_hash)))
}

/// Opens a portal session for `app_id`; `key_hash` is the partner key it was opened
/// with (none for a portal link).
pub async fn open_portal(gw: &Gateway, app_id: &str, key_hash: Option<String>) -> Result<Opened> {
    let token = generate_token();
    let now = gw.clock.now();
    let session = PortalSession {
        app_id: app_id.to_string(),
        key_hash,
        csrf_token: generate_token(),
        created_at: now,
        expires_at: now + PORTAL_SESSION_TTL,
    };
    gw.store
        .create_portal_session(&hash_key(&token), &session)
        .await?;
    Ok(Opened {
        token,
        ttl: PORTAL_SESSION_TTL,
    })
}

/// A one-time portal link spent: the app it signs in, or `None` when it expired or was
/// used already.
pub async fn redeem_link(gw: &Gateway, token: &str) -> Result<Option<String>> {
    Ok(gw
        .store
        .redeem_portal_link(&hash_key(token), gw.clock.now())
        .await?)
}

/// The live portal session whose token hashes to `token_hash`; an ended one is removed.
pub async fn portal_session(gw: &Gateway, token_hash: &str) -> Result<Option<SignedIn>> {
    let Some(session) = gw.store.get_portal_session(token_hash).await? else {
        return Ok(None);
    };
    let key_still_valid = match &session.key_hash {
        Some(key_hash) => {
            gw.store.app_for_key(key_hash).await?.as_deref() == Some(session.app_id.as_str())
        }
        None => true,
    };
    if session.expires_at <= gw.clock.now() || !key_still_valid {
        end_portal(gw, token_hash).await;
        return Ok(None);
    }
    Ok(Some(SignedIn {
        app_id: session.app_id,
        csrf: session.csrf_token,
        token_hash: token_hash.to_string(),
    }))
}

/// Ends a portal session; one already gone is fine.
pub async fn end_portal(gw: &Gateway, token_hash: &str) {
    if let Err(e) = gw.store.delete_portal_session(token_hash).await {
        tracing::warn!(error = %e, "a portal session could not be removed; it ends with its expiry");
    }
}

/// Whether `key` is the platform key, compared as hashes in constant time.
pub fn is_platform_key(gw: &Gateway, key: &str) -> bool {
    same_hash(&gw.platform_key_hash, &hash_key(key.trim()))
}

/// Opens a console session, bound to the current platform key.
pub async fn open_console(gw: &Gateway) -> Result<Opened> {
    let token = generate_token();
    let now = gw.clock.now();
    let session = ConsoleSession {
        key_hash: gw.platform_key_hash.to_string(),
        csrf_token: generate_token(),
        created_at: now,
        expires_at: now + CONSOLE_SESSION_TTL,
    };
    gw.store
        .create_console_session(&hash_key(&token), &session)
        .await?;
    Ok(Opened {
        token,
        ttl: CONSOLE_SESSION_TTL,
    })
}

/// The live console session whose token hashes to `token_hash`; an ended one (expired,
/// or opened with another platform key) is removed.
pub async fn console_session(gw: &Gateway, token_hash: &str) -> Result<Option<SignedIn>> {
    let Some(session) = gw.store.get_console_session(token_hash).await? else {
        return Ok(None);
    };
    let key_unchanged = same_hash(&gw.platform_key_hash, &session.key_hash);
    if session.expires_at <= gw.clock.now() || !key_unchanged {
        end_console(gw, token_hash).await;
        return Ok(None);
    }
    Ok(Some(SignedIn {
        app_id: String::new(),
        csrf: session.csrf_token,
        token_hash: token_hash.to_string(),
    }))
}

pub async fn end_console(gw: &Gateway, token_hash: &str) {
    if let Err(e) = gw.store.delete_console_session(token_hash).await {
        tracing::warn!(error = %e, "a console session could not be removed; it ends with its expiry");
    }
}
