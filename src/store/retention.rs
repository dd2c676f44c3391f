//! Retention: what is older than the retention period is deleted, a chunk of rows per
//! transaction so neither backend holds a long write lock. Only what has ended goes:
//! deliveries delivered, failed for good or skipped; attempts; events no delivery refers
//! to any more; notifications already sent. A pending, in-flight or held delivery (and
//! its event) is kept however old, so retention never drops an event still owed to a
//! listener. `retention_store!(Type)` implements [`RetentionStore`] for a backend with a
//! `pool` and a `write_tx()`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;

/// Rows deleted by one pruning run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub attempts: u64,
    pub deliveries: u64,
    pub events: u64,
    pub notifications: u64,
}

#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Deletes, at most `chunk` rows per transaction, what ended before `cutoff`.
    async fn prune(&self, cutoff: DateTime<Utc>, chunk: i64) -> StoreResult<Pruned>;
}

/// One statement per table, in this order (deliveries before the events they refer to);
/// each deletes at most `$2` rows older than `$1`. The outer conditions repeat the inner
/// ones so that PostgreSQL rechecks them on a row changed meanwhile (a delivery resent
/// while it was being pruned stays).
pub(crate) const PRUNE: [&str; 4] = [
    "DELETE FROM attempts WHERE started_at < $1 AND id IN \
     (SELECT id FROM attempts WHERE started_at < $1 LIMIT $2)",
    "DELETE FROM deliveries WHERE state IN ('delivered', 'failed', 'skipped') \
     AND updated_at < $1 AND id IN (SELECT id FROM deliveries \
     WHERE state IN ('delivered', 'failed', 'skipped') AND updated_at < $1 LIMIT $2)",
    "DELETE FROM events WHERE received_at < $1 AND id IN (SELECT id FROM events e \
     WHERE received_at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) \
     LIMIT $2)",
    "DELETE FROM notifications WHERE sent_at < $1 AND id IN \
     (SELECT id FROM notifications WHERE sent_at < $1 LIMIT $2)",
];

macro_rules! retention_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::retention::RetentionStore for $store {
            async fn prune(
                &self,
                cutoff: DateTime<Utc>,
                chunk: i64,
            ) -> StoreResult<$crate::store::retention::Pruned> {
                let cutoff = to_millis(cutoff);
                let mut deleted = [0u64; 4];
                for (sql, count) in $crate::store::retention::PRUNE.iter().zip(&mut deleted) {
                    loop {
                        let mut tx = self.write_tx().await?;
                        let n = sqlx::query(sql)
                            .bind(cutoff)
                            .bind(chunk)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        tx.commit().await?;
                        *count += n;
                        if n < chunk as u64 {
                            break;
                        }
                    }
                }
                let [attempts, deliveries, events, notifications] = deleted;
                Ok($crate::store::retention::Pruned {
                    attempts,
                    deliveries,
                    events,
                    notifications,
                })
            }
        }
    };
}
