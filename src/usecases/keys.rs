//! Partner keys of an app: several may be live at once so a partner can rotate without
//! downtime. Shown once, stored hashed, revocable.

use super::{Caller, Error, Gateway, Result};
use crate::domain::model::AppKey;
use crate::domain::secrets::generate_partner_key;

/// Live partner keys one app may hold: enough to rotate without downtime.
pub const MAX_LIVE_KEYS: i64 = 20;

/// A new partner key for the app: the stored record, and the key itself, shown once.
pub async fn create(gw: &Gateway, caller: &Caller, app_id: &str) -> Result<(AppKey, String)> {
    super::apps::get(gw, caller, app_id).await?;
    let (hash, prefix, partner_key) = generate_partner_key();
    let key = gw
        .store
        .add_app_key(app_id, &hash, &prefix, gw.clock.now(), MAX_LIVE_KEYS)
        .await?;
    Ok((key, partner_key))
}

/// The app's live keys and its most recently revoked.
pub async fn list(gw: &Gateway, caller: &Caller, app_id: &str) -> Result<Vec<AppKey>> {
    super::apps::get(gw, caller, app_id).await?;
    Ok(gw.store.list_app_keys(app_id).await?)
}

/// Revokes one of the app's keys; not found when it is not the app's.
pub async fn revoke(gw: &Gateway, caller: &Caller, app_id: &str, key_id: &str) -> Result<()> {
    caller.require_app(app_id)?;
    if gw
        .store
        .revoke_app_key(app_id, key_id, gw.clock.now())
        .await?
    {
        Ok(())
    } else {
        Err(Error::NotFound("key"))
    }
}
