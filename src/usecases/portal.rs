//! One-time portal links: the platform mints one for an app and puts it behind a button
//! in its own partner dashboard; the partner lands in hookgate's portal signed in, once.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use super::contract::{DEFAULT_LINK_TTL_SECONDS, MAX_LINK_TTL_SECONDS};
use super::{Caller, Error, Gateway, Result};
use crate::domain::secrets::{generate_token, hash_key};

#[derive(Serialize, utoipa::ToSchema)]
pub struct PortalLink {
    /// Path on the gateway: `/portal/link/<token>`. Valid once.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A one-time link into the portal for `app_id`.
pub async fn mint_link(gw: &Gateway, app_id: &str, ttl_seconds: Option<u64>) -> Result<PortalLink> {
    let ttl = ttl_seconds.unwrap_or(DEFAULT_LINK_TTL_SECONDS);
    if !(1..=MAX_LINK_TTL_SECONDS).contains(&ttl) {
        return Err(Error::invalid(
            "ttl_seconds",
            format!("ttl_seconds must be between 1 and {MAX_LINK_TTL_SECONDS}"),
        ));
    }
    super::apps::get(gw, &Caller::Platform, app_id).await?;
    let token = generate_token();
    let now = gw.clock.now();
    let expires_at = now + chrono::Duration::seconds(ttl as i64);
    gw.store
        .create_portal_link(&hash_key(&token), app_id, now, expires_at)
        .await?;
    Ok(PortalLink {
        url: format!("/portal/link/{token}"),
        expires_at,
    })
}
