//! The notification outbox, readable whether or not SQS is configured: the platform sees
//! all, a partner its own app's.

use super::{Caller, Gateway, Result};
use crate::domain::model::Webhook;
use crate::domain::notification::Notification;

/// Newest first: every app's.
pub async fn all(gw: &Gateway, limit: i64) -> Result<Vec<Notification>> {
    Ok(gw.store.list_notifications(None, limit).await?)
}

/// Newest first: the caller's app's.
pub async fn of_app(
    gw: &Gateway,
    caller: &Caller,
    app_id: &str,
    limit: i64,
) -> Result<Vec<Notification>> {
    caller.require_app(app_id)?;
    Ok(gw.store.list_notifications(Some(app_id), limit).await?)
}

/// Newest first: those about the caller's `webhook` (from `webhooks::get`), among its
/// app's newest `limit`.
pub async fn of_webhook(gw: &Gateway, webhook: &Webhook, limit: i64) -> Result<Vec<Notification>> {
    let mut notifications = gw
        .store
        .list_notifications(Some(&webhook.app_id), limit)
        .await?;
    notifications.retain(|n| n.webhook_id == webhook.id);
    Ok(notifications)
}
