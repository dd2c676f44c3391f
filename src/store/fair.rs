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
    ($idx:literal) => {
        concat!(
            "SELECT d.id, d.webhook_id, d.tenant_id, COALESCE(i.delivery_weight, 1) AS weight \
             FROM deliveries d ",
            $idx,
            " LEFT JOIN installations i ON i.id = d.installation_id \
             WHERE d.fair_tag IS NULL AND d.due_at IS NOT NULL AND d.due_at <= $1 \
             ORDER BY d.due_at, d.id LIMIT $2"
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

/// A webhook's clock (no tenant: its lowest waiting tag and latest finish) or one
/// tenant's finish on it.
#[derive(sqlx::FromRow)]
pub(crate) struct ClockRow {
    pub webhook_id: String,
    pub tenant_id: Option<String>,
    pub lowest_waiting: Option<i64>,
    pub finish_tag: Option<i64>,
}

macro_rules! fair_fns {
    ($store:ty) => {
        /// Tags `arrivals` (in due order) in their webhooks' fair queues and stores each
        /// (webhook, tenant)'s finish: the caller writes the tags on the rows in the same
        /// transaction. Nothing serialises taggers: two transactions tagging one webhook at
        /// once (PostgreSQL) may give two deliveries the same tag, which then go out in
        /// either order; neither loses nor repeats anything.
        async fn assign_tags(
            tx: &mut $crate::store::WriteTx<<$store as $crate::store::Backend>::Db>,
            arrivals: &[$crate::domain::fair_share::Arrival<'_>],
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
            let mut pairs: Vec<(&str, &str)> =
                arrivals.iter().map(|a| (a.webhook, a.tenant)).collect();
            pairs.sort_unstable();
            pairs.dedup();

            // One read for both, each webhook's virtual time and each pair's finish, in
            // chunks that keep the binds far below either backend's limit.
            let mut clocks = fair_share::Clocks::default();
            let (webhook_chunks, pair_chunks): (Vec<_>, Vec<_>) =
                (webhooks.chunks(500).collect(), pairs.chunks(500).collect());
            for k in 0..webhook_chunks.len().max(pair_chunks.len()) {
                let mut select = sqlx::QueryBuilder::<Db>::new(
                    "SELECT w.id AS webhook_id, CAST(NULL AS TEXT) AS tenant_id, \
                     (SELECT MIN(d.fair_tag) FROM deliveries d \
                      WHERE d.webhook_id = w.id AND d.fair_tag IS NOT NULL) AS lowest_waiting, \
                     (SELECT MAX(f.finish_tag) FROM fair_queues f WHERE f.webhook_id = w.id) \
                      AS finish_tag \
                     FROM webhooks w WHERE w.id IN (",
                );
                let mut list = select.separated(", ");
                // An empty list is no SQL: a webhook no one names stands in.
                list.push_bind(String::new());
                for w in webhook_chunks.get(k).copied().unwrap_or_default() {
                    list.push_bind(w.to_string());
                }
                select.push(")");
                if let Some(chunk) = pair_chunks.get(k) {
                    select.push(
                        " UNION ALL SELECT webhook_id, tenant_id, CAST(NULL AS BIGINT), \
                         finish_tag FROM fair_queues WHERE (webhook_id, tenant_id) IN (",
                    );
                    select.push_values(chunk.iter(), |mut row, (w, t)| {
                        row.push_bind(w.to_string()).push_bind(t.to_string());
                    });
                    select.push(")");
                }
                let rows = select.build_query_as::<ClockRow>().fetch_all(&mut **tx).await?;
                for c in rows {
                match c.tenant_id {
                    None => {
                        let v = fair_share::virtual_time(c.lowest_waiting, c.finish_tag);
                        clocks.virtual_time.insert(c.webhook_id, v);
                    }
                    Some(tenant) => {
                        if let Some(f) = c.finish_tag {
                            clocks.finish.insert((c.webhook_id, tenant), f);
                        }
                    }
                }
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
                // Two writers that read the same finish (PostgreSQL, concurrent
                // transactions) both move it to the same place: the later keeps it.
                upsert.push(<$store as $crate::store::Backend>::FINISH_UPSERT);
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
                let any: Option<UntaggedRow> =
                    sqlx::query_as::<Db, UntaggedRow>(Self::UNTAGGED_DUE)
                        .bind(to_millis(now))
                        .bind(1_i64)
                        .fetch_optional(self.delivery_pool())
                        .await?;
                if any.is_none() {
                    return Ok(0);
                }
                let mut tx = self.delivery_write_tx().await?;
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
                let tags = assign_tags(&mut tx, &arrivals).await?;
                let rows: Vec<(&str, i64)> = due.iter().map(|d| d.id.as_str()).zip(tags).collect();
                let mut tagged = 0;
                for chunk in rows.chunks(500) {
                    let mut update = sqlx::QueryBuilder::<Db>::new("WITH v(id, tag) AS (");
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
