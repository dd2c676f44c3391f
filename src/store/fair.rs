//! Each webhook's fair queue ([`fair_share`](crate::domain::fair_share)). A publish tags
//! the deliveries it queues (not those it leases: they are sent at once); deliveries that
//! fall due later without a tag (retries, released held ones, expired leases) are tagged
//! in due order before each claim, which then takes every webhook's lowest tags.
//! `fair_fns!(Type)` defines `assign_tags` and `tag_due` for a
//! [`Backend`](super::Backend).

/// Deliveries tagged in one transaction at most; the rest wait for the next claim.
pub(crate) const TAG_BATCH: i64 = 1_000;

/// The untagged due deliveries, oldest first, with their installation's weight. `$idx`
/// pins the index on SQLite, whose statistics can mislead its planner.
macro_rules! untagged_due_sql {
    ($idx:literal, $lock:literal) => {
        concat!(
            "SELECT d.id, d.webhook_id, d.tenant_id, COALESCE(i.delivery_weight, 1) AS weight \
             FROM deliveries d ",
            $idx,
            " LEFT JOIN installations i ON i.id = d.installation_id \
             WHERE d.fair_tag IS NULL AND d.due_at IS NOT NULL AND d.due_at <= $1 \
             ORDER BY d.due_at, d.id LIMIT $2 ",
            $lock
        )
    };
}
pub(crate) use untagged_due_sql;

#[derive(sqlx::FromRow)]
pub(crate) struct UntaggedRow {
    pub id: String,
    pub webhook_id: String,
    pub tenant_id: String,
    pub weight: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ClockRow {
    pub id: String,
    pub lowest_waiting: Option<i64>,
    pub latest_finish: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct FinishRow {
    pub webhook_id: String,
    pub tenant_id: String,
    pub finish_tag: i64,
}

macro_rules! fair_fns {
    ($store:ty) => {
        /// Tags `arrivals` (in due order) in their webhooks' fair queues and stores each
        /// (webhook, tenant)'s finish: the caller writes the tags on the rows in the same
        /// transaction. `webhook_turn` (PostgreSQL) is taken per webhook first, in id order,
        /// so that a publish and a claim tagging the same webhook never read the same
        /// finish tags.
        async fn assign_tags(
            tx: &mut $crate::store::WriteTx<<$store as $crate::store::Backend>::Db>,
            arrivals: &[$crate::domain::fair_share::Arrival<'_>],
            webhook_turn: Option<&str>,
        ) -> StoreResult<Vec<i64>> {
            use $crate::domain::fair_share;
            use $crate::store::fair::*;
            type Db = <$store as $crate::store::Backend>::Db;
            if arrivals.is_empty() {
                return Ok(Vec::new());
            }
            let mut webhooks: Vec<&str> = arrivals.iter().map(|a| a.webhook).collect();
            webhooks.sort_unstable();
            webhooks.dedup();
            let mut pairs: Vec<(&str, &str)> = arrivals.iter().map(|a| (a.webhook, a.tenant)).collect();
            pairs.sort_unstable();
            pairs.dedup();
            if let Some(turn) = webhook_turn {
                for w in &webhooks {
                    sqlx::query(turn).bind(w.to_string()).execute(&mut **tx).await?;
                }
            }

            let mut clocks = fair_share::Clocks::default();
            for chunk in webhooks.chunks(500) {
                let mut select = sqlx::QueryBuilder::<Db>::new(
                    "SELECT w.id, \
                     (SELECT MIN(d.fair_tag) FROM deliveries d \
                      WHERE d.webhook_id = w.id AND d.fair_tag IS NOT NULL) AS lowest_waiting, \
                     (SELECT MAX(f.finish_tag) FROM fair_queues f WHERE f.webhook_id = w.id) \
                      AS latest_finish \
                     FROM webhooks w WHERE w.id IN (",
                );
                let mut list = select.separated(", ");
                for w in chunk {
                    list.push_bind(w.to_string());
                }
                select.push(")");
                for c in select.build_query_as::<ClockRow>().fetch_all(&mut **tx).await? {
                    let v = fair_share::virtual_time(c.lowest_waiting, c.latest_finish);
                    clocks.virtual_time.insert(c.id, v);
                }
            }
            for chunk in pairs.chunks(500) {
                let mut select = sqlx::QueryBuilder::<Db>::new(
                    "SELECT webhook_id, tenant_id, finish_tag FROM fair_queues \
                     WHERE (webhook_id, tenant_id) IN (",
                );
                select.push_values(chunk, |mut row, (w, t)| {
                    row.push_bind(w.to_string()).push_bind(t.to_string());
                });
                select.push(")");
                for f in select.build_query_as::<FinishRow>().fetch_all(&mut **tx).await? {
                    clocks.finish.insert((f.webhook_id, f.tenant_id), f.finish_tag);
                }
            }

            let (tags, finishes) = fair_share::tag(arrivals, &clocks);
            for chunk in finishes.chunks(500) {
                let mut upsert = sqlx::QueryBuilder::<Db>::new(
                    "INSERT INTO fair_queues (webhook_id, tenant_id, finish_tag) ",
                );
                upsert.push_values(chunk, |mut row, ((w, t), f)| {
                    row.push_bind(w.clone()).push_bind(t.clone()).push_bind(*f);
                });
                upsert.push(
                    " ON CONFLICT (webhook_id, tenant_id) \
                     DO UPDATE SET finish_tag = excluded.finish_tag",
                );
                upsert.build().execute(&mut **tx).await?;
            }
            Ok(tags)
        }

        impl $store {
            /// Tags the deliveries that fell due by `now` and have no tag yet (retries,
            /// released held ones, expired leases): they join their webhooks' fair queues.
            /// Returns how many.
            async fn tag_due(&self, now: DateTime<Utc>) -> StoreResult<u64> {
                use $crate::domain::fair_share;
                use $crate::store::fair::*;
                use $crate::store::Backend;
                type Db = <$store as Backend>::Db;
                // A read first: most claims find nothing to tag and take no write turn.
                let any: Option<UntaggedRow> = sqlx::query_as::<Db, UntaggedRow>(Self::UNTAGGED_DUE)
                    .bind(to_millis(now))
                    .bind(1_i64)
                    .fetch_optional(self.pool())
                    .await?;
                if any.is_none() {
                    return Ok(0);
                }
                let mut tx = self.write_tx().await?;
                if let Some(turn) = Self::TAG_TURN {
                    sqlx::query(turn).execute(&mut *tx).await?;
                }
                let due: Vec<UntaggedRow> = sqlx::query_as::<Db, UntaggedRow>(Self::UNTAGGED_DUE)
                    .bind(to_millis(now))
                    .bind(TAG_BATCH)
                    .fetch_all(&mut *tx)
                    .await?;
                if due.is_empty() {
                    return Ok(0);
                }
                let arrivals: Vec<fair_share::Arrival<'_>> = due
                    .iter()
                    .map(|d| fair_share::Arrival {
                        webhook: &d.webhook_id,
                        tenant: &d.tenant_id,
                        weight: d.weight,
                    })
                    .collect();
                let tags = assign_tags(&mut tx, &arrivals, Self::WEBHOOK_TURN).await?;
                let rows: Vec<(&str, i64)> =
                    due.iter().map(|d| d.id.as_str()).zip(tags).collect();
                let mut tagged = 0;
                for chunk in rows.chunks(500) {
                    let mut update =
                        sqlx::QueryBuilder::<Db>::new("WITH v(id, tag) AS (");
                    update.push_values(chunk, |mut row, (id, tag)| {
                        row.push_bind(id.to_string()).push_bind(*tag);
                    });
                    // Ended meanwhile (a late attempt's record, an uninstall): left alone.
                    update.push(
                        ") UPDATE deliveries SET fair_tag = v.tag FROM v \
                         WHERE deliveries.id = v.id AND deliveries.fair_tag IS NULL \
                         AND deliveries.due_at IS NOT NULL",
                    );
                    tagged += update.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                Ok(tagged)
            }
        }
    };
}
