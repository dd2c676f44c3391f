//! Retention: what is older than the retention period is deleted, a chunk of rows per
//! transaction so neither backend holds a long write lock. Only what has ended goes:
//! deliveries delivered, failed for good or skipped; attempts; events no delivery refers
//! to any more; notifications already sent. A pending, in-flight or held delivery (and
//! its event) is kept however old, so retention never drops an event still owed to a
//! listener. `retention_store!(Type)` implements [`RetentionStore`] for a
//! [`Backend`](super::Backend).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;

pub use crate::domain::stats::Pruned;

#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Deletes, at most `chunk` rows per transaction, what ended before `cutoff`.
    async fn prune(&self, cutoff: DateTime<Utc>, chunk: i64) -> StoreResult<Pruned>;
}

/// Per table, in this order (deliveries before the events they refer to), what may be
/// pruned; `$1` is the cutoff. Candidates are read first, outside any write transaction,
/// so that SQLite's write lock is never held while a large table is scanned; the delete
/// repeats the condition, so a row changed in between (a delivery resent) stays.
pub(crate) const PRUNABLE: [(&str, &str); 4] = [
    ("attempts", "started_at < $1"),
    (
        "deliveries",
        "state IN ('delivered', 'failed', 'skipped') AND updated_at < $1",
    ),
    (
        "events",
        "received_at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)",
    ),
    // Once no destination waits for it (a notification no destination wanted is settled
    // from the start).
    (
        "notifications",
        "created_at < $1 AND NOT EXISTS (SELECT 1 FROM notification_sends s \
         WHERE s.notification_id = notifications.id AND s.state = 'pending')",
    ),
];

/// `DELETE … WHERE <condition> AND id IN ($2, …, $n+1)`.
pub(crate) fn delete_sql(table: &str, condition: &str, ids: usize) -> String {
    let placeholders: Vec<String> = (2..ids + 2).map(|n| format!("${n}")).collect();
    format!(
        "DELETE FROM {table} WHERE {condition} AND id IN ({})",
        placeholders.join(", ")
    )
}

macro_rules! retention_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::retention::RetentionStore for $store {
            async fn prune(
                &self,
                cutoff: DateTime<Utc>,
                chunk: i64,
            ) -> StoreResult<$crate::store::retention::Pruned> {
                use $crate::store::retention::{delete_sql, PRUNABLE};
                let cutoff = to_millis(cutoff);
                let mut deleted = [0u64; 4];
                for ((table, condition), count) in PRUNABLE.iter().zip(&mut deleted) {
                    let select = format!("SELECT id FROM {table} WHERE {condition} LIMIT $2");
                    loop {
                        let ids: Vec<String> = sqlx::query_scalar(&select)
                            .bind(cutoff)
                            .bind(chunk)
                            .fetch_all($crate::store::Backend::pool(self))
                            .await?;
                        if ids.is_empty() {
                            break;
                        }
                        let delete = delete_sql(table, condition, ids.len());
                        let mut query = sqlx::query(&delete).bind(cutoff);
                        for id in &ids {
                            query = query.bind(id);
                        }
                        let mut tx = $crate::store::Backend::write_tx(self).await?;
                        *count += query.execute(&mut *tx).await?.rows_affected();
                        tx.commit().await?;
                        if (ids.len() as i64) < chunk {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delete_binds_the_cutoff_then_each_id() {
        assert_eq!(
            delete_sql("attempts", "started_at < $1", 3),
            "DELETE FROM attempts WHERE started_at < $1 AND id IN ($2, $3, $4)"
        );
    }
}
