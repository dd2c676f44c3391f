//! Installations: a tenant granted a partner app access (the OAuth grant). Created and
//! revoked by the platform; the tenant never manages webhooks itself.

use super::{new_id, Error, Gateway, Result};
use crate::domain::fair_share::{DEFAULT_WEIGHT, MAX_WEIGHT, MIN_WEIGHT};
use crate::domain::model::{Installation, InstallationState};

fn validate_weight(weight: i64) -> Result<()> {
    if (MIN_WEIGHT..=MAX_WEIGHT).contains(&weight) {
        Ok(())
    } else {
        Err(Error::invalid(
            "delivery_weight",
            format!("delivery_weight must be between {MIN_WEIGHT} and {MAX_WEIGHT}"),
        ))
    }
}

/// Sets the tenant's weight in sharing the app's listeners (a larger plan, say). It
/// applies to deliveries as they next fall due.
pub async fn set_weight(gw: &Gateway, id: &str, delivery_weight: i64) -> Result<Installation> {
    validate_weight(delivery_weight)?;
    gw.store
        .set_installation_weight(id, delivery_weight)
        .await?
        .ok_or(Error::NotFound("installation"))
}

/// Installs `app_id` for `tenant_id`, or re-activates the revoked installation (then
/// `false`: nothing new was created). A `delivery_weight` given is set either way; one
/// not given keeps what the installation had (1 for a new one).
pub async fn install(
    gw: &Gateway,
    tenant_id: String,
    app_id: String,
    delivery_weight: Option<i64>,
) -> Result<(Installation, bool)> {
    super::validate_id("tenant_id", &tenant_id)?;
    super::validate_id("app_id", &app_id)?;
    if let Some(weight) = delivery_weight {
        validate_weight(weight)?;
    }
    let installation = Installation {
        id: new_id(),
        tenant_id,
        app_id,
        state: InstallationState::Active,
        delivery_weight: delivery_weight.unwrap_or(DEFAULT_WEIGHT),
        created_at: gw.clock.now(),
        revoked_at: None,
    };
    let stored = gw
        .store
        .install(&installation, delivery_weight.is_some())
        .await?;
    let created = stored.id == installation.id;
    Ok((stored, created))
}

pub async fn list(
    gw: &Gateway,
    tenant_id: Option<&str>,
    app_id: Option<&str>,
) -> Result<Vec<Installation>> {
    super::validate_filters(&[("tenant_id", tenant_id), ("app_id", app_id)])?;
    Ok(gw.store.list_installations(tenant_id, app_id).await?)
}

pub async fn get(gw: &Gateway, id: &str) -> Result<Installation> {
    gw.store
        .get_installation(id)
        .await?
        .ok_or(Error::NotFound("installation"))
}

/// Uninstalls: new events stop at once, and every delivery still open for the tenant is
/// skipped in the same transaction, so the partner gets nothing more of its data.
pub async fn uninstall(gw: &Gateway, id: &str) -> Result<Installation> {
    let (installation, skipped) = gw
        .store
        .revoke_installation(id, gw.clock.now())
        .await?
        .ok_or(Error::NotFound("installation"))?;
    tracing::info!(installation_id = %id, tenant_id = %installation.tenant_id,
        app_id = %installation.app_id, skipped, "app uninstalled; open deliveries skipped");
    Ok(installation)
}
