//! Notification destinations and the outbox's rows, one per (notification, destination).
//! A destination's rows go out one at a time in creation order (only its oldest pending
//! row is claimable), so a partner whose queue was missing gets the backlog in order, and
//! a failing destination holds only its own rows. `outbox_store!(Type)` implements
//! [`OutboxStore`] for a [`Backend`](super::Backend).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::clock::from_millis;
use crate::domain::destination::{self, Destination, DestinationKind, DestinationState, SendError};
use crate::domain::notification::{Notification, NotificationSend, SendState};

/// A row leased for sending.
#[derive(Debug, Clone)]
pub struct ClaimedSend {
    pub notification: Notification,
    /// A destination's id, or [`destination::PLATFORM`].
    pub destination_id: String,
    /// Sends tried before this one.
    pub attempts: i64,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// A limit reached when the app already has `max_per_app`; not found for no such app.
    async fn create_destination(&self, d: &Destination, max_per_app: i64) -> StoreResult<()>;
    async fn get_destination(&self, app_id: &str, id: &str) -> StoreResult<Option<Destination>>;
    /// Every app's when `app_id` is `None`, oldest first.
    async fn list_destinations(&self, app_id: Option<&str>) -> StoreResult<Vec<Destination>>;
    /// Writes what a partner changes (target, severities, description); false when gone.
    async fn update_destination(&self, d: &Destination) -> StoreResult<bool>;
    /// Deletes it; its pending rows expire. False when there was none.
    async fn delete_destination(
        &self,
        app_id: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// A test send's outcome. A success also makes the destination's pending rows due
    /// now: a partner who fixed its queue need not wait out the backoff.
    async fn record_test_outcome(
        &self,
        id: &str,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> StoreResult<()>;
    /// Leases due rows, each its destination's oldest pending one; the platform queue's
    /// only with `include_platform`.
    async fn claim_sends(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        include_platform: bool,
    ) -> StoreResult<Vec<ClaimedSend>>;
    async fn mark_send_sent(
        &self,
        notification_id: &str,
        destination_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// A failed send: due again at `retry_at`, or expired (given up) when `None`.
    async fn release_send(
        &self,
        notification_id: &str,
        destination_id: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// When the oldest pending row's notification was created.
    async fn oldest_pending_send(&self) -> StoreResult<Option<DateTime<Utc>>>;
}

pub const DESTINATION_COLUMNS: &str =
    "id, app_id, kind, queue_url, region, role_arn, external_id, \
     url, secret, severities, description, state, last_success_at, last_error_at, last_error, \
     created_at, updated_at";

#[derive(sqlx::FromRow)]
pub struct DestinationRow {
    id: String,
    app_id: String,
    kind: String,
    queue_url: Option<String>,
    region: Option<String>,
    role_arn: Option<String>,
    external_id: Option<String>,
    url: Option<String>,
    secret: Option<String>,
    severities: String,
    description: String,
    state: String,
    last_success_at: Option<i64>,
    last_error_at: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<DestinationRow> for Destination {
    type Error = super::StoreError;
    fn try_from(r: DestinationRow) -> Result<Self, Self::Error> {
        let kind = DestinationKind::parse(&r.kind)
            .ok_or_else(|| super::StoreError::Corrupt(format!("destination kind {:?}", r.kind)))?;
        let last_success_at = r.last_success_at.map(from_millis);
        let last_error = match (r.last_error_at, r.last_error) {
            (Some(at), Some(message)) => Some(SendError {
                at: from_millis(at),
                message,
            }),
            _ => None,
        };
        Ok(Destination {
            state: DestinationState::parse(&r.state).ok_or_else(|| {
                super::StoreError::Corrupt(format!("destination state {:?}", r.state))
            })?,
            id: r.id,
            app_id: r.app_id,
            kind,
            queue_url: r.queue_url,
            region: r.region,
            role_arn: r.role_arn,
            external_id: r.external_id,
            url: r.url,
            secret: r.secret,
            severities: destination::parse_severities(&r.severities),
            description: r.description,
            last_success_at,
            last_error,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        })
    }
}

pub const SEND_COLUMNS: &str =
    "notification_id, destination_id, state, attempts, sent_at, last_error";

#[derive(sqlx::FromRow)]
pub struct SendRow {
    pub notification_id: String,
    destination_id: String,
    state: String,
    attempts: i64,
    sent_at: Option<i64>,
    last_error: Option<String>,
}

impl TryFrom<SendRow> for NotificationSend {
    type Error = super::StoreError;
    fn try_from(r: SendRow) -> Result<Self, Self::Error> {
        Ok(NotificationSend {
            state: SendState::parse(&r.state)
                .ok_or_else(|| super::StoreError::Corrupt(format!("send state {:?}", r.state)))?,
            destination_id: r.destination_id,
            attempts: r.attempts,
            sent_at: r.sent_at.map(from_millis),
            last_error: r.last_error,
        })
    }
}

/// SQL: the notification is settled once none of its rows is pending.
pub const SETTLE_NOTIFICATION: &str = "UPDATE notifications SET sent_at = $1, lease_until = NULL \
     WHERE id = $2 AND sent_at IS NULL AND NOT EXISTS \
     (SELECT 1 FROM notification_sends s WHERE s.notification_id = $2 AND s.state = 'pending')";

macro_rules! outbox_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::outbox::OutboxStore for $store {
            async fn create_destination(&self, d: &Destination, max_per_app: i64) -> StoreResult<()> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                // Touching the app row serialises concurrent creations for one app.
                let app = sqlx::query("UPDATE apps SET name = name WHERE id = $1")
                    .bind(&d.app_id)
                    .execute(&mut *tx)
                    .await?;
                if app.rows_affected() == 0 {
                    return Err(StoreError::NotFound("unknown app".into()));
                }
                let count: i64 = sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, i64>(
                    "SELECT COUNT(*) FROM notification_destinations WHERE app_id = $1",
                )
                .bind(&d.app_id)
                .fetch_one(&mut *tx)
                .await?;
                if count >= max_per_app {
                    return Err(StoreError::LimitReached(format!(
                        "this app already has {count} notification destinations; the limit is {max_per_app}"
                    )));
                }
                sqlx::query(&format!(
                    "INSERT INTO notification_destinations ({}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active', NULL, NULL, NULL, $12, $13)",
                    $crate::store::outbox::DESTINATION_COLUMNS
                ))
                .bind(&d.id)
                .bind(&d.app_id)
                .bind(d.kind.as_str())
                .bind(&d.queue_url)
                .bind(&d.region)
                .bind(&d.role_arn)
                .bind(&d.external_id)
                .bind(&d.url)
                .bind(&d.secret)
                .bind($crate::domain::destination::severities_text(&d.severities))
                .bind(&d.description)
                .bind(to_millis(d.created_at))
                .bind(to_millis(d.updated_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| constraint_error(e, "a destination with this id exists"))?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_destination(&self, app_id: &str, id: &str) -> StoreResult<Option<Destination>> {
                let sql = format!(
                    "SELECT {} FROM notification_destinations WHERE id = $1 AND app_id = $2",
                    $crate::store::outbox::DESTINATION_COLUMNS
                );
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, $crate::store::outbox::DestinationRow>(&sql)
                    .bind(id)
                    .bind(app_id)
                    .fetch_optional($crate::store::Backend::pool(self))
                    .await?
                    .map(Destination::try_from)
                    .transpose()
            }

            async fn list_destinations(&self, app_id: Option<&str>) -> StoreResult<Vec<Destination>> {
                let sql = format!(
                    "SELECT {} FROM notification_destinations WHERE ($1 IS NULL OR app_id = $1) \
                     ORDER BY created_at, id",
                    $crate::store::outbox::DESTINATION_COLUMNS
                );
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, $crate::store::outbox::DestinationRow>(&sql)
                    .bind(app_id)
                    .fetch_all($crate::store::Backend::pool(self))
                    .await?
                    .into_iter()
                    .map(Destination::try_from)
                    .collect()
            }

            async fn update_destination(&self, d: &Destination) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE notification_destinations SET queue_url = $1, region = $2, role_arn = $3, \
                     url = $4, severities = $5, description = $6, updated_at = $7 \
                     WHERE id = $8 AND app_id = $9",
                )
                .bind(&d.queue_url)
                .bind(&d.region)
                .bind(&d.role_arn)
                .bind(&d.url)
                .bind($crate::domain::destination::severities_text(&d.severities))
                .bind(&d.description)
                .bind(to_millis(d.updated_at))
                .bind(&d.id)
                .bind(&d.app_id)
                .execute($crate::store::Backend::pool(self))
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_destination(&self, app_id: &str, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                let done = sqlx::query("DELETE FROM notification_destinations WHERE id = $1 AND app_id = $2")
                    .bind(id)
                    .bind(app_id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                let pending: Vec<String> = sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, String>(
                    "UPDATE notification_sends SET state = 'expired', lease_until = NULL, \
                     last_error = 'the destination was deleted' \
                     WHERE destination_id = $1 AND state = 'pending' RETURNING notification_id",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                for notification in pending {
                    sqlx::query($crate::store::outbox::SETTLE_NOTIFICATION)
                        .bind(to_millis(at))
                        .bind(&notification)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn record_test_outcome(&self, id: &str, at: DateTime<Utc>, error: Option<&str>) -> StoreResult<()> {
                let error = error.map($crate::domain::destination::stored_error);
                let error = error.as_deref();
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                $crate::store::outbox::record_outcome!(&mut *tx, id, at, error);
                if error.is_none() {
                    sqlx::query(
                        "UPDATE notification_sends SET due_at = $1 \
                         WHERE destination_id = $2 AND state = 'pending' AND due_at > $1",
                    )
                    .bind(to_millis(at))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn claim_sends(
                &self,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
                limit: i64,
                include_platform: bool,
            ) -> StoreResult<Vec<$crate::store::outbox::ClaimedSend>> {
                let claimed = sqlx::query_as::<<$store as $crate::store::Backend>::Db, (String, String, i64)>(
                    <$store as $crate::store::Backend>::CLAIM_SENDS,
                )
                .bind(to_millis(lease_until))
                .bind(to_millis(now))
                .bind(limit)
                .bind(include_platform)
                .fetch_all($crate::store::Backend::pool(self))
                .await?;
                let mut sends = Vec::with_capacity(claimed.len());
                for (notification_id, destination_id, attempts) in claimed {
                    let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1");
                    let row = sqlx::query_as::<<$store as $crate::store::Backend>::Db, NotificationRow>(&sql)
                        .bind(&notification_id)
                        .fetch_one($crate::store::Backend::pool(self))
                        .await?;
                    sends.push($crate::store::outbox::ClaimedSend {
                        notification: Notification::try_from(row)?,
                        destination_id,
                        attempts,
                    });
                }
                sends.sort_by(|a, b| {
                    (a.notification.created_at, &a.notification.id)
                        .cmp(&(b.notification.created_at, &b.notification.id))
                });
                Ok(sends)
            }

            async fn mark_send_sent(&self, notification_id: &str, destination_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                sqlx::query(
                    "UPDATE notification_sends SET state = 'sent', sent_at = $1, lease_until = NULL, \
                     attempts = attempts + 1, last_error = NULL \
                     WHERE notification_id = $2 AND destination_id = $3 AND state = 'pending'",
                )
                .bind(to_millis(at))
                .bind(notification_id)
                .bind(destination_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE notifications SET publish_attempts = publish_attempts + 1 WHERE id = $1",
                )
                .bind(notification_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query($crate::store::outbox::SETTLE_NOTIFICATION)
                    .bind(to_millis(at))
                    .bind(notification_id)
                    .execute(&mut *tx)
                    .await?;
                $crate::store::outbox::record_outcome!(&mut *tx, destination_id, at, None::<&str>);
                tx.commit().await?;
                Ok(())
            }

            async fn release_send(
                &self,
                notification_id: &str,
                destination_id: &str,
                error: &str,
                retry_at: Option<DateTime<Utc>>,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let error = $crate::domain::destination::stored_error(error);
                let error = error.as_str();
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                sqlx::query(
                    "UPDATE notification_sends SET state = CASE WHEN $1 IS NULL THEN 'expired' ELSE state END, \
                     due_at = COALESCE($1, due_at), lease_until = NULL, attempts = attempts + 1, \
                     last_error = $2 WHERE notification_id = $3 AND destination_id = $4 AND state = 'pending'",
                )
                .bind(retry_at.map(to_millis))
                .bind(error)
                .bind(notification_id)
                .bind(destination_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE notifications SET publish_attempts = publish_attempts + 1, last_error = $1 \
                     WHERE id = $2",
                )
                .bind(error)
                .bind(notification_id)
                .execute(&mut *tx)
                .await?;
                if retry_at.is_none() {
                    sqlx::query($crate::store::outbox::SETTLE_NOTIFICATION)
                        .bind(to_millis(at))
                        .bind(notification_id)
                        .execute(&mut *tx)
                        .await?;
                }
                $crate::store::outbox::record_outcome!(&mut *tx, destination_id, at, Some(error));
                tx.commit().await?;
                Ok(())
            }

            async fn oldest_pending_send(&self) -> StoreResult<Option<DateTime<Utc>>> {
                let oldest: Option<i64> = sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, Option<i64>>(
                    "SELECT MIN(created_at) FROM notification_sends WHERE state = 'pending'",
                )
                .fetch_one($crate::store::Backend::pool(self))
                .await?;
                Ok(oldest.map($crate::clock::from_millis))
            }
        }
    };
}

/// SQL, in a transaction: a destination's last success, or its last error.
macro_rules! record_outcome {
    ($tx:expr, $id:expr, $at:expr, $error:expr) => {
        match $error {
            None => sqlx::query(
                "UPDATE notification_destinations SET last_success_at = $1, state = 'active' WHERE id = $2",
            )
            .bind(to_millis($at))
            .bind($id)
            .execute($tx)
            .await?,
            Some(message) => sqlx::query(
                "UPDATE notification_destinations SET last_error_at = $1, last_error = $2, state = 'failing' \
                 WHERE id = $3",
            )
            .bind(to_millis($at))
            .bind(message)
            .bind($id)
            .execute($tx)
            .await?,
        }
    };
}
pub(crate) use record_outcome;

/// The claim both backends run (PostgreSQL adds `FOR UPDATE SKIP LOCKED` to the inner
/// select): `$1` lease end, `$2` now, `$3` limit, `$4` whether the platform's rows count.
#[macro_export]
#[doc(hidden)]
macro_rules! claim_sends_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE notification_sends SET lease_until = $1 \
             WHERE (notification_id, destination_id) IN ( \
               SELECT s.notification_id, s.destination_id FROM notification_sends s \
               WHERE s.state = 'pending' AND s.due_at <= $2 \
                 AND (s.lease_until IS NULL OR s.lease_until <= $2) \
                 AND ($4 OR s.destination_id <> 'platform') \
                 AND NOT EXISTS (SELECT 1 FROM notification_sends e \
                   WHERE e.destination_id = s.destination_id AND e.state = 'pending' \
                     AND (e.created_at < s.created_at \
                          OR (e.created_at = s.created_at AND e.notification_id < s.notification_id))) \
               ORDER BY s.created_at LIMIT $3 ",
            $lock,
            ") RETURNING notification_id, destination_id, attempts"
        )
    };
}
