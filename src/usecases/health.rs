//! A webhook's health as the evaluator last saw it, and reactivation by its partner.

use super::{ConflictKind, Error, Gateway, Result};
use crate::domain::health::{Backlog, Reactivated, Status, WebhookHealth};
use crate::domain::model::{Webhook, WebhookState};

/// The webhook's health as last evaluated; healthy when it was never evaluated.
pub async fn of_webhook(gw: &Gateway, webhook_id: &str) -> Result<WebhookHealth> {
    Ok(gw
        .store
        .get_health(webhook_id)
        .await?
        .unwrap_or(WebhookHealth {
            webhook_id: webhook_id.to_string(),
            state: Status::Healthy,
            failure_since: None,
            warned: false,
            last_evaluated_at: None,
            window_attempts: 0,
            window_failures: 0,
            window_failure_rate: None,
        }))
}

/// What the webhook has waiting now, with the tenants that have the most due.
pub async fn backlog(gw: &Gateway, webhook_id: &str) -> Result<Backlog> {
    Ok(gw.store.webhook_backlog(webhook_id, gw.clock.now()).await?)
}

/// The webhooks with the most deliveries due now, across apps: (app id, webhook id, due).
pub async fn largest_backlogs(gw: &Gateway, limit: i64) -> Result<Vec<(String, String, i64)>> {
    Ok(gw.store.largest_backlogs(gw.clock.now(), limit).await?)
}

/// Attempts this instance sends to the webhook at once, at most (its adaptive limit).
pub fn concurrency_limit(gw: &Gateway, webhook: &Webhook) -> usize {
    gw.deliveries.concurrency_limit(&webhook.id)
}

/// Who sends to a webhook's listener now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub instance: String,
    pub lease_until: chrono::DateTime<chrono::Utc>,
    /// Whether this instance is the owner (its adaptive limit is the listener's).
    pub is_this_instance: bool,
}

/// The instance whose lease on the webhook counts now; `None` with one instance
/// (SQLite: it sends everything) and while no instance holds the lease.
pub async fn owner(gw: &Gateway, webhook: &Webhook) -> Result<Option<Owner>> {
    if gw.store.backend() != "postgres" {
        return Ok(None);
    }
    let owner = gw.store.webhook_owner(&webhook.id, gw.clock.now()).await?;
    Ok(owner.map(|o| Owner {
        is_this_instance: gw.deliveries.instance_id() == Some(o.instance.as_str()),
        instance: o.instance,
        lease_until: o.until,
    }))
}

/// An instance sharing the listeners, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub heartbeat_at: chrono::DateTime<chrono::Utc>,
    /// Webhooks whose lease it holds now.
    pub owned: i64,
}

/// The instances registered in the database (PostgreSQL), by id; empty on SQLite, whose
/// one instance sends everything. One gone without leaving keeps its row, with an old
/// heartbeat and nothing owned.
pub async fn instances(gw: &Gateway) -> Result<Vec<Instance>> {
    let rows = gw.store.instances(gw.clock.now()).await?;
    Ok(rows
        .into_iter()
        .map(|i| Instance {
            id: i.id,
            started_at: i.started_at,
            heartbeat_at: i.heartbeat_at,
            owned: i.owned,
        })
        .collect())
}

/// Re-activates the caller's deactivated `webhook` (from `webhooks::get`): `replay`
/// releases its held deliveries (and with `include_failed` those that failed for good
/// since the streak began), otherwise they are skipped. Returns the webhook as it is now.
pub async fn reactivate(
    gw: &Gateway,
    webhook: &Webhook,
    replay: bool,
    include_failed: bool,
) -> Result<(Webhook, Reactivated)> {
    if webhook.state != WebhookState::Deactivated {
        return Err(Error::conflict(
            ConflictKind::State,
            "the webhook is active; only a deactivated webhook can be reactivated",
        ));
    }
    let deliveries = gw
        .store
        .reactivate(&webhook.id, replay, include_failed, gw.clock.now())
        .await?
        .ok_or_else(|| {
            Error::conflict(ConflictKind::State, "the webhook was reactivated meanwhile")
        })?;
    if deliveries.released > 0 {
        gw.deliveries.wake(&[webhook.id.as_str()]);
    }
    tracing::info!(webhook_id = %webhook.id, released = deliveries.released,
        skipped = deliveries.skipped, "webhook reactivated");
    let webhook = super::webhooks::reread(gw, webhook).await?;
    Ok((webhook, deliveries))
}

/// The webhook's evaluation windows over the last day (at most 96), for a chart.
pub async fn day_of_windows(
    gw: &Gateway,
    webhook_id: &str,
) -> Result<Vec<crate::store::AttemptWindow>> {
    let window = gw.policy.health_window.max(chrono::TimeDelta::minutes(1));
    let count = (chrono::TimeDelta::hours(24).num_seconds() / window.num_seconds()).clamp(1, 96);
    let since = gw.clock.now() - window * count as i32;
    Ok(gw
        .store
        .attempt_windows(webhook_id, since, window, count as usize)
        .await?)
}

/// Webhooks the evaluator found unavailable, and deactivated ones, with their health,
/// longest failing first.
pub async fn needing_attention(gw: &Gateway) -> Result<Vec<(Webhook, WebhookHealth)>> {
    let mut found = Vec::new();
    for (app_id, webhook_id, status, _) in gw.store.health_overview().await? {
        if status == Status::Healthy {
            continue;
        }
        // Gone since the overview was read: nothing to show.
        let Some(webhook) = gw.store.get_webhook(&app_id, &webhook_id).await? else {
            continue;
        };
        let health = of_webhook(gw, &webhook_id).await?;
        found.push((webhook, health));
    }
    found.sort_by_key(|(w, h)| (h.failure_since, w.app_id.clone()));
    Ok(found)
}

/// The delivery queue as it stands now.
pub async fn queue(gw: &Gateway) -> Result<crate::domain::stats::QueueStats> {
    Ok(gw.store.queue_stats(gw.clock.now()).await?)
}
