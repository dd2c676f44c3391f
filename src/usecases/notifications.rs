//! The notification outbox, readable whether or not SQS is configured: the platform sees
//! all, a partner its own app's.

use super::{Caller, Gateway, Result};
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

/// Newest first: those about one webhook of the caller's app, among the app's newest
/// `limit`.
pub async fn of_webhook(
    gw: &Gateway,
    caller: &Caller,
    app_id: &str,
    webhook_id: &str,
    limit: i64,
) -> Result<Vec<Notification>> {
    let mut notifications = of_app(gw, caller, app_id, limit).await?;
    notifications.retain(|n| n.webhook_id == webhook_id);
    Ok(notifications)
}
