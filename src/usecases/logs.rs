//! Delivery and attempt logs of one webhook, filtered and cursor-paginated, plus
//! resending one delivery and replaying failed ones.

use chrono::{DateTime, Utc};

use super::{Caller, ConflictKind, Error, Gateway, Result};
use crate::domain::model::{Attempt, Delivery, InstallationState};
use crate::domain::retry::AttemptClass;
use crate::store::{AttemptFilter, DeliveryFilter};

/// An attempt outcome as a filter names it.
pub fn parse_outcome(outcome: Option<&str>) -> Result<Option<AttemptClass>> {
    outcome
        .map(|o| {
            AttemptClass::parse(o).ok_or_else(|| {
                Error::invalid(
                    "outcome",
                    "outcome must be success, http_error, timeout, connect, network or aborted",
                )
            })
        })
        .transpose()
}

/// The caller's webhook's deliveries, newest first.
pub async fn deliveries(
    gw: &Gateway,
    caller: &Caller,
    app_id: &str,
    id: &str,
    filter: &DeliveryFilter,
) -> Result<Vec<Delivery>> {
    let webhook = super::webhooks::get(gw, caller, app_id, id).await?;
    Ok(gw.store.list_deliveries(&webhook.id, filter).await?)
}

/// The caller's webhook's attempts, newest first.
pub async fn attempts(
    gw: &Gateway,
    caller: &Caller,
    app_id: &str,
    id: &str,
    filter: &AttemptFilter,
) -> Result<Vec<Attempt>> {
    let webhook = super::webhooks::get(gw, caller, app_id, id).await?;
    Ok(gw.store.list_attempts(&webhook.id, filter).await?)
}

/// One delivery of the caller's webhook, or not found (also when it is another
/// webhook's).
pub async fn delivery(
    gw: &Gateway,
    caller: &Caller,
    app_id: &str,
    id: &str,
    delivery_id: &str,
) -> Result<Delivery> {
    let webhook = super::webhooks::get(gw, caller, app_id, id).await?;
    gw.store
        .get_delivery(delivery_id)
        .await?
        .filter(|d| d.webhook_id == webhook.id)
        .ok_or(Error::NotFound("delivery"))
}

/// Queues one delivered, failed or skipped delivery again, due now, with a fresh retry
/// schedule.
pub async fn resend(
    gw: &Gateway,
    caller: &Caller,
    app_id: &str,
    id: &str,
    delivery_id: &str,
) -> Result<Delivery> {
    let current = delivery(gw, caller, app_id, id, delivery_id).await?;
    let installation = gw.store.get_installation(&current.installation_id).await?;
    if installation.is_none_or(|i| i.state == InstallationState::Revoked) {
        return Err(Error::conflict(
            ConflictKind::InstallationRevoked,
            "the tenant uninstalled this app: none of its deliveries can be sent again",
        ));
    }
    if !gw
        .store
        .resend_delivery(&current.webhook_id, delivery_id, gw.clock.now())
        .await?
    {
        return Err(Error::conflict(
            ConflictKind::State,
            format!(
                "the delivery is {}; only delivered, failed or skipped deliveries can be resent",
                current.state.as_str()
            ),
        ));
    }
    gw.deliveries.wake();
    delivery(gw, caller, app_id, id, delivery_id).await
}

/// Queues again the caller's webhook's deliveries that failed for good since `since`,
/// and says how many.
pub async fn replay_failed(
    gw: &Gateway,
    caller: &Caller,
    app_id: &str,
    id: &str,
    since: DateTime<Utc>,
) -> Result<u64> {
    let webhook = super::webhooks::get(gw, caller, app_id, id).await?;
    let queued = gw
        .store
        .replay_failed(&webhook.id, since, gw.clock.now())
        .await?;
    if queued > 0 {
        gw.deliveries.wake();
    }
    Ok(queued)
}
