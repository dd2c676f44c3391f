//! Delivery and attempt logs of one webhook, filtered and cursor-paginated, plus
//! resending one delivery and replaying failed ones.

use chrono::{DateTime, Utc};

use super::{ConflictKind, Error, Gateway, Result};
use crate::domain::model::{Attempt, Delivery, InstallationState, Webhook};
use crate::domain::retry::AttemptClass;
use crate::store::{AttemptFilter, DeliveryFilter};

/// An attempt outcome as a filter names it.
pub fn parse_outcome(outcome: Option<&str>) -> Result<Option<AttemptClass>> {
    outcome
        .map(|o| {
            AttemptClass::parse(o).ok_or_else(|| {
                let names: Vec<&str> = AttemptClass::ALL.iter().map(|c| c.as_str()).collect();
                Error::invalid(
                    "outcome",
                    format!("outcome must be one of {}", names.join(", ")),
                )
            })
        })
        .transpose()
}

// Each takes the webhook [`webhooks::get`](super::webhooks::get) found for the caller: the
// check that it is the caller's is made once, there.

/// The webhook's deliveries, newest first.
pub async fn deliveries(
    gw: &Gateway,
    webhook: &Webhook,
    filter: &DeliveryFilter,
) -> Result<Vec<Delivery>> {
    super::validate_filters(&[
        ("event_type", filter.event_type.as_deref()),
        ("tenant_id", filter.tenant_id.as_deref()),
        ("before", filter.before.as_deref()),
    ])?;
    Ok(gw.store.list_deliveries(&webhook.id, filter).await?)
}

/// The webhook's attempts, newest first.
pub async fn attempts(
    gw: &Gateway,
    webhook: &Webhook,
    filter: &AttemptFilter,
) -> Result<Vec<Attempt>> {
    super::validate_filters(&[
        ("delivery_id", filter.delivery_id.as_deref()),
        ("event_type", filter.event_type.as_deref()),
        ("tenant_id", filter.tenant_id.as_deref()),
        ("before", filter.before.as_deref()),
    ])?;
    Ok(gw.store.list_attempts(&webhook.id, filter).await?)
}

/// One delivery of the webhook, or not found (also when it is another webhook's).
pub async fn delivery(gw: &Gateway, webhook: &Webhook, delivery_id: &str) -> Result<Delivery> {
    gw.store
        .get_delivery(delivery_id)
        .await?
        .filter(|d| d.webhook_id == webhook.id)
        .ok_or(Error::NotFound("delivery"))
}

/// Queues one delivered, failed or skipped delivery again, due now, with a fresh retry
/// schedule.
pub async fn resend(gw: &Gateway, webhook: &Webhook, delivery_id: &str) -> Result<Delivery> {
    let current = delivery(gw, webhook, delivery_id).await?;
    let installation = gw.store.get_installation(&current.installation_id).await?;
    if installation.is_none_or(|i| i.state == InstallationState::Revoked) {
        return Err(Error::conflict(
            ConflictKind::InstallationRevoked,
            "the tenant uninstalled this app: none of its deliveries can be sent again",
        ));
    }
    if !gw
        .store
        .resend_delivery(&webhook.id, delivery_id, gw.clock.now())
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
    gw.deliveries.wake(&[webhook.id.as_str()]);
    delivery(gw, webhook, delivery_id).await
}

/// Queues again the webhook's deliveries that failed for good since `since`, and says
/// how many.
pub async fn replay_failed(gw: &Gateway, webhook: &Webhook, since: DateTime<Utc>) -> Result<u64> {
    let queued = gw
        .store
        .replay_failed(&webhook.id, since, gw.clock.now())
        .await?;
    if queued > 0 {
        gw.deliveries.wake(&[webhook.id.as_str()]);
    }
    Ok(queued)
}
