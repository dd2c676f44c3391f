//! Delivery and attempt logs with filters and cursor pagination (newest first, by id:
//! ids are UUIDv7, ordered by creation), and queuing deliveries again.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::model::{Attempt, Delivery, DeliveryState};
use crate::domain::retry::AttemptClass;

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub state: Option<DeliveryState>,
    pub event_type: Option<String>,
    pub tenant_id: Option<String>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
    /// Cursor: only ids before this one.
    pub before: Option<String>,
    pub limit: i64,
}

impl DeliveryFilter {
    pub fn latest(limit: i64) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    pub delivery_id: Option<String>,
    pub outcome: Option<AttemptClass>,
    /// Started at or after.
    pub since: Option<DateTime<Utc>>,
    /// Started before.
    pub until: Option<DateTime<Utc>>,
    pub before: Option<String>,
    /// Attempts of deliveries of this event type (exact name), of this tenant.
    pub event_type: Option<String>,
    pub tenant_id: Option<String>,
    pub limit: i64,
}

#[async_trait]
pub trait LogStore: Send + Sync {
    async fn get_delivery(&self, id: &str) -> StoreResult<Option<Delivery>>;
    async fn list_deliveries(
        &self,
        webhook_id: &str,
        filter: &DeliveryFilter,
    ) -> StoreResult<Vec<Delivery>>;
    async fn list_attempts(
        &self,
        webhook_id: &str,
        filter: &AttemptFilter,
    ) -> StoreResult<Vec<Attempt>>;
    /// Queues a delivered, failed or skipped delivery of the webhook again, due at `now`.
    /// False when it is not in one of those states.
    async fn resend_delivery(
        &self,
        webhook_id: &str,
        delivery_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Queues again every delivery of the webhook that failed for good and was created at
    /// or after `since`. A second identical call finds none left to queue.
    async fn replay_failed(
        &self,
        webhook_id: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// The webhook's attempts in `[since, since + count × window)`, counted per window:
    /// one entry per window, oldest first, empty windows included.
    async fn attempt_windows(
        &self,
        webhook_id: &str,
        since: DateTime<Utc>,
        window: chrono::Duration,
        count: usize,
    ) -> StoreResult<Vec<AttemptWindow>>;
}

/// Attempts of one window, for the health chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptWindow {
    pub start: DateTime<Utc>,
    pub attempts: i64,
    pub failures: i64,
}

macro_rules! log_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::logs::LogStore for $store {
            async fn get_delivery(&self, id: &str) -> StoreResult<Option<Delivery>> {
                let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1");
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, DeliveryRow>(&sql)
                    .bind(id)
                    .fetch_optional($crate::store::Backend::pool(self))
                    .await?
                    .map(Delivery::try_from)
                    .transpose()
            }

            async fn list_deliveries(
                &self,
                webhook_id: &str,
                f: &DeliveryFilter,
            ) -> StoreResult<Vec<Delivery>> {
                let sql = format!(
                    "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE webhook_id = $1 \
                     AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR event_type = $3) \
                     AND ($4 IS NULL OR tenant_id = $4) AND ($5 IS NULL OR created_at >= $5) \
                     AND ($6 IS NULL OR created_at < $6) AND ($7 IS NULL OR id < $7) \
                     ORDER BY id DESC LIMIT $8"
                );
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, DeliveryRow>(&sql)
                    .bind(webhook_id)
                    .bind(f.state.map(|s| s.as_str()))
                    .bind(&f.event_type)
                    .bind(&f.tenant_id)
                    .bind(f.since.map(to_millis))
                    .bind(f.until.map(to_millis))
                    .bind(&f.before)
                    .bind(f.limit)
                    .fetch_all($crate::store::Backend::pool(self))
                    .await?
                    .into_iter()
                    .map(Delivery::try_from)
                    .collect()
            }

            async fn list_attempts(
                &self,
                webhook_id: &str,
                f: &AttemptFilter,
            ) -> StoreResult<Vec<Attempt>> {
                let sql = format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE webhook_id = $1 \
                     AND ($2 IS NULL OR delivery_id = $2) AND ($3 IS NULL OR outcome = $3) \
                     AND ($4 IS NULL OR started_at >= $4) AND ($5 IS NULL OR started_at < $5) \
                     AND ($6 IS NULL OR id < $6) \
                     AND (($8 IS NULL AND $9 IS NULL) OR delivery_id IN ( \
                       SELECT id FROM deliveries WHERE webhook_id = $1 \
                       AND ($8 IS NULL OR event_type = $8) AND ($9 IS NULL OR tenant_id = $9))) \
                     ORDER BY id DESC LIMIT $7"
                );
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, AttemptRow>(&sql)
                    .bind(webhook_id)
                    .bind(&f.delivery_id)
                    .bind(f.outcome.map(|o| o.as_str()))
                    .bind(f.since.map(to_millis))
                    .bind(f.until.map(to_millis))
                    .bind(&f.before)
                    .bind(f.limit)
                    .bind(&f.event_type)
                    .bind(&f.tenant_id)
                    .fetch_all($crate::store::Backend::pool(self))
                    .await?
                    .into_iter()
                    .map(Attempt::try_from)
                    .collect()
            }

            async fn resend_delivery(
                &self,
                webhook_id: &str,
                delivery_id: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let sql = format!(
                    "{REQUEUE}{OUT_OF_BAND} WHERE id = $2 AND webhook_id = $3 \
                     AND state IN ('delivered', 'failed', 'skipped'){STILL_INSTALLED}"
                );
                let done = sqlx::query(&sql)
                    .bind(to_millis(now))
                    .bind(delivery_id)
                    .bind(webhook_id)
                    .execute($crate::store::Backend::pool(self))
                    .await?;
                if done.rows_affected() == 1 {
                    self.untagged.wrote(to_millis(now));
                }
                Ok(done.rows_affected() == 1)
            }

            async fn replay_failed(
                &self,
                webhook_id: &str,
                since: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> StoreResult<u64> {
                let sql = format!(
                    "{REQUEUE}{OUT_OF_BAND} WHERE webhook_id = $2 AND state = 'failed' AND created_at >= $3\
                     {STILL_INSTALLED}"
                );
                let done = sqlx::query(&sql)
                    .bind(to_millis(now))
                    .bind(webhook_id)
                    .bind(to_millis(since))
                    .execute($crate::store::Backend::pool(self))
                    .await?;
                if done.rows_affected() > 0 {
                    self.untagged.wrote(to_millis(now));
                }
                Ok(done.rows_affected())
            }

            async fn attempt_windows(
                &self,
                webhook_id: &str,
                since: DateTime<Utc>,
                window: chrono::Duration,
                count: usize,
            ) -> StoreResult<Vec<$crate::store::logs::AttemptWindow>> {
                let window_ms = window.num_milliseconds().max(1);
                let start = to_millis(since);
                let end = start + window_ms * count as i64;
                // Integer division on both backends: the window each attempt falls in.
                let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
                    "SELECT (started_at - $2) / $4 AS slot, COUNT(*) AS attempts, \
                     SUM(CASE WHEN outcome <> 'success' THEN 1 ELSE 0 END) AS failures \
                     FROM attempts WHERE webhook_id = $1 AND started_at >= $2 AND started_at < $3 \
                     GROUP BY slot",
                )
                .bind(webhook_id)
                .bind(start)
                .bind(end)
                .bind(window_ms)
                .fetch_all($crate::store::Backend::pool(self))
                .await?;
                let mut windows: Vec<_> = (0..count)
                    .map(|i| $crate::store::logs::AttemptWindow {
                        start: since + window * i as i32,
                        attempts: 0,
                        failures: 0,
                    })
                    .collect();
                for (slot, attempts, failures) in rows {
                    if let Some(w) = usize::try_from(slot).ok().and_then(|i| windows.get_mut(i)) {
                        w.attempts = attempts;
                        w.failures = failures;
                    }
                }
                Ok(windows)
            }
        }
    };
}
