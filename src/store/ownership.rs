//! Instances and the leases they hold on webhooks (DESIGN.md, "Listener ownership";
//! the rules are [`domain::ownership`](crate::domain::ownership)). An instance beats by
//! writing its row; a lease names its holder, until when it holds, and a fence that rises
//! each time the lease changes hands (or is taken again after it lapsed), so that work
//! begun under an older fence can be refused. A lease is never deleted while its webhook
//! exists: released, it lapses at once but keeps its fence. `ownership_store!(Type)`
//! implements [`OwnershipStore`] for a [`Backend`](super::Backend).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;

/// An instance as the others see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InstanceRow {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    /// Webhooks whose lease it holds now.
    pub owned: i64,
}

/// Who holds a webhook's lease now, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOwner {
    pub instance: String,
    pub until: DateTime<Utc>,
}

/// A lease this instance holds: on which webhook, under which fence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLease {
    pub webhook_id: String,
    pub fence: i64,
}

#[async_trait]
pub trait OwnershipStore: Send + Sync {
    /// Records the instance's heartbeat (and registers it on its first).
    async fn beat(
        &self,
        instance: &str,
        started_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Every registered instance, with how many leases each holds at `now`, by id.
    async fn instances(&self, now: DateTime<Utc>) -> StoreResult<Vec<InstanceRow>>;
    /// Takes or renews the leases on `webhooks` until `until`: those free (never held,
    /// lapsed, released) or already this instance's. Returns the leases held now; a
    /// webhook another instance holds unexpired is left out.
    async fn take_ownership(
        &self,
        instance: &str,
        webhooks: &[String],
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<HeldLease>>;
    /// Lets this instance's leases on `webhooks` lapse now (their fences stay).
    async fn release_ownership(
        &self,
        instance: &str,
        webhooks: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Leaves: every lease of the instance lapses and its row goes.
    async fn leave(&self, instance: &str, now: DateTime<Utc>) -> StoreResult<()>;
    /// The instance holding the webhook's lease at `now`, if one does.
    async fn webhook_owner(
        &self,
        webhook_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<WebhookOwner>>;
    /// The active webhooks' ids: what the instances share out.
    async fn active_webhook_ids(&self) -> StoreResult<Vec<String>>;
    /// Makes the deliveries of `webhooks` left in flight (by the lease's previous
    /// holder) pending and due at `now`; returns how many. Their old leases' records
    /// then change nothing.
    async fn take_over_deliveries(
        &self,
        webhooks: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

/// `$first`, `$first+1`, … for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The lease upsert for `n` webhooks: `$1` the instance, `$2` now, `$3` until, then the
/// webhook ids. A lease is taken when free (lapsed, or never held) or renewed when this
/// instance's; the fence rises whenever it is taken rather than renewed.
pub(crate) fn take_leases_sql(n: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| format!("(${}, $1, 1, $3)", i + 4)).collect();
    format!(
        "INSERT INTO webhook_owners (webhook_id, instance_id, fence, expires_at) \
         SELECT v.column1, v.column2, v.column3, v.column4 FROM (VALUES {}) AS v \
         WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.id = v.column1) \
         ON CONFLICT (webhook_id) DO UPDATE SET \
           fence = CASE WHEN webhook_owners.instance_id = excluded.instance_id \
                         AND webhook_owners.expires_at > $2 \
                    THEN webhook_owners.fence ELSE webhook_owners.fence + 1 END, \
           instance_id = excluded.instance_id, \
           expires_at = excluded.expires_at \
         WHERE webhook_owners.instance_id = excluded.instance_id \
            OR webhook_owners.expires_at <= $2 \
         RETURNING webhook_id, fence",
        values.join(", ")
    )
}

/// `$1` now, then the webhook ids; through the index of deliveries with a due time.
pub(crate) fn take_over_sql(n: usize) -> String {
    format!(
        "UPDATE deliveries SET state = 'pending', due_at = $1, lease_token = NULL, \
         fair_tag = NULL, updated_at = $1 \
         WHERE webhook_id IN ({}) AND due_at IS NOT NULL AND state = 'in_flight'",
        placeholders(2, n)
    )
}

pub(crate) fn release_leases_sql(n: usize) -> String {
    format!(
        "UPDATE webhook_owners SET expires_at = $2 \
         WHERE instance_id = $1 AND expires_at > $2 AND webhook_id IN ({})",
        placeholders(3, n)
    )
}

macro_rules! ownership_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ownership::OwnershipStore for $store {
            async fn beat(
                &self,
                instance: &str,
                started_at: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO instances (id, started_at, heartbeat_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                )
                .bind(instance)
                .bind(to_millis(started_at))
                .bind(to_millis(now))
                .execute($crate::store::Backend::delivery_pool(self))
                .await?;
                Ok(())
            }

            async fn instances(
                &self,
                now: DateTime<Utc>,
            ) -> StoreResult<Vec<$crate::store::ownership::InstanceRow>> {
                let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
                    "SELECT i.id, i.started_at, i.heartbeat_at, \
                     (SELECT COUNT(*) FROM webhook_owners o \
                      WHERE o.instance_id = i.id AND o.expires_at > $1) \
                     FROM instances i ORDER BY i.id",
                )
                .bind(to_millis(now))
                .fetch_all($crate::store::Backend::pool(self))
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, started_at, heartbeat_at, owned)| {
                        $crate::store::ownership::InstanceRow {
                            id,
                            started_at: $crate::clock::from_millis(started_at),
                            heartbeat_at: $crate::clock::from_millis(heartbeat_at),
                            owned,
                        }
                    })
                    .collect())
            }

            async fn webhook_owner(
                &self,
                webhook_id: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<$crate::store::ownership::WebhookOwner>> {
                let row: Option<(String, i64)> = sqlx::query_as(
                    "SELECT instance_id, expires_at FROM webhook_owners \
                     WHERE webhook_id = $1 AND expires_at > $2",
                )
                .bind(webhook_id)
                .bind(to_millis(now))
                .fetch_optional($crate::store::Backend::pool(self))
                .await?;
                Ok(
                    row.map(|(instance, until)| $crate::store::ownership::WebhookOwner {
                        instance,
                        until: $crate::clock::from_millis(until),
                    }),
                )
            }

            async fn take_ownership(
                &self,
                instance: &str,
                webhooks: &[String],
                now: DateTime<Utc>,
                until: DateTime<Utc>,
            ) -> StoreResult<Vec<$crate::store::ownership::HeldLease>> {
                let mut held = Vec::with_capacity(webhooks.len());
                for chunk in webhooks.chunks(500) {
                    let sql = $crate::store::ownership::take_leases_sql(chunk.len());
                    let mut query = sqlx::query_as::<_, (String, i64)>(&sql)
                        .bind(instance)
                        .bind(to_millis(now))
                        .bind(to_millis(until));
                    for webhook in chunk {
                        query = query.bind(webhook);
                    }
                    let mut tx = $crate::store::Backend::delivery_write_tx(self).await?;
                    let rows = query.fetch_all(&mut *tx).await?;
                    tx.commit().await?;
                    held.extend(rows.into_iter().map(|(webhook_id, fence)| {
                        $crate::store::ownership::HeldLease { webhook_id, fence }
                    }));
                }
                Ok(held)
            }

            async fn release_ownership(
                &self,
                instance: &str,
                webhooks: &[String],
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                for chunk in webhooks.chunks(500) {
                    let sql = $crate::store::ownership::release_leases_sql(chunk.len());
                    let mut query = sqlx::query(&sql).bind(instance).bind(to_millis(now));
                    for webhook in chunk {
                        query = query.bind(webhook);
                    }
                    let mut tx = $crate::store::Backend::delivery_write_tx(self).await?;
                    query.execute(&mut *tx).await?;
                    tx.commit().await?;
                }
                Ok(())
            }

            async fn leave(&self, instance: &str, now: DateTime<Utc>) -> StoreResult<()> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                sqlx::query(
                    "UPDATE webhook_owners SET expires_at = $2 \
                     WHERE instance_id = $1 AND expires_at > $2",
                )
                .bind(instance)
                .bind(to_millis(now))
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM instances WHERE id = $1")
                    .bind(instance)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn take_over_deliveries(
                &self,
                webhooks: &[String],
                now: DateTime<Utc>,
            ) -> StoreResult<u64> {
                let mut made_due = 0;
                for chunk in webhooks.chunks(500) {
                    let sql = $crate::store::ownership::take_over_sql(chunk.len());
                    let mut query = sqlx::query(&sql).bind(to_millis(now));
                    for webhook in chunk {
                        query = query.bind(webhook);
                    }
                    let mut tx = $crate::store::Backend::delivery_write_tx(self).await?;
                    made_due += query.execute(&mut *tx).await?.rows_affected();
                    tx.commit().await?;
                }
                if made_due > 0 {
                    self.untagged.wrote(to_millis(now));
                }
                Ok(made_due)
            }

            async fn active_webhook_ids(&self) -> StoreResult<Vec<String>> {
                Ok(
                    sqlx::query_scalar(
                        "SELECT id FROM webhooks WHERE state = 'active' ORDER BY id",
                    )
                    .fetch_all($crate::store::Backend::pool(self))
                    .await?,
                )
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upsert_binds_the_instance_times_then_each_webhook() {
        let sql = take_leases_sql(2);
        assert!(
            sql.contains("(VALUES ($4, $1, 1, $3), ($5, $1, 1, $3))"),
            "{sql}"
        );
        assert_eq!(
            release_leases_sql(3),
            "UPDATE webhook_owners SET expires_at = $2 \
             WHERE instance_id = $1 AND expires_at > $2 AND webhook_id IN ($3, $4, $5)"
        );
    }
}
