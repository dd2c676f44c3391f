//! Each webhook's fair queue ([`fair_share`](crate::domain::fair_share)). A publish places
//! its deliveries from the clocks its fan-out read: one at its queue's head may be leased
//! and sent at once, the others are tagged and queued (`store::publish`); deliveries that
//! fall due later without a tag (retries, released held ones, expired leases) are tagged
//! in due order before each claim, which then takes every webhook's lowest tags.
//! `fair_fns!(Type)` defines `assign_tags`, `store_finishes` and `tag_due` for a
//! [`Backend`](super::Backend).

/// Deliveries tagged in one transaction at most; the rest wait for the next claim.
pub(crate) const TAG_BATCH: i64 = 1_000;

/// How long, in the store's clock, a claim goes without looking for untagged deliveries
/// when this instance wrote none due sooner: what other instances write (a retry, a
/// release) or leave behind (an expired lease) is tagged within this.
pub(crate) const UNTAGGED_LOOK_EVERY_MS: i64 = 1_000;

/// When the next untagged delivery can fall due, as far as this instance knows: the
/// earliest one its last look found, lowered by every untagged delivery it writes since
/// (a lease, a retry, a release), so that a claim looks for untagged deliveries only
/// when one can be due (one round trip less per claim on PostgreSQL) and never misses
/// one this instance wrote.
#[derive(Debug)]
pub(crate) struct UntaggedHint(std::sync::Mutex<Hint>);

#[derive(Debug)]
struct Hint {
    /// No untagged delivery is due before this (milliseconds).
    earliest: i64,
    /// The earliest written since the current look began, which the look may not see.
    written_during_look: i64,
}

impl Default for UntaggedHint {
    fn default() -> Self {
        // Nothing known yet: the first claim looks.
        Self(std::sync::Mutex::new(Hint {
            earliest: i64::MIN,
            written_during_look: i64::MAX,
        }))
    }
}

impl UntaggedHint {
    fn lock(&self) -> std::sync::MutexGuard<'_, Hint> {
        self.0.lock().expect("untagged hint poisoned")
    }

    /// An untagged delivery due at `due_ms` was committed.
    pub fn wrote(&self, due_ms: i64) {
        let mut h = self.lock();
        h.earliest = h.earliest.min(due_ms);
        h.written_during_look = h.written_during_look.min(due_ms);
    }

    /// Whether a claim at `now_ms` must look for untagged deliveries; if so, the look
    /// begins.
    pub fn look_now(&self, now_ms: i64) -> bool {
        let mut h = self.lock();
        if now_ms < h.earliest {
            return false;
        }
        h.written_during_look = i64::MAX;
        true
    }

    /// The look at `now_ms` ended: what remains untagged is due at `next_ms` at the
    /// earliest (None: nothing remains).
    pub fn looked(&self, now_ms: i64, next_ms: Option<i64>) {
        let mut h = self.lock();
        h.earliest = next_ms
            .unwrap_or(i64::MAX)
            .min(now_ms.saturating_add(UNTAGGED_LOOK_EVERY_MS))
            .min(h.written_during_look);
    }

    /// A look failed: the next claim looks again.
    pub fn look_failed(&self) {
        self.lock().earliest = i64::MIN;
    }
}

/// The untagged due deliveries, oldest first, with their installation's weight. `$idx`
/// pins the index on SQLite, whose statistics can mislead its planner.
macro_rules! untagged_due_sql {
    ($idx:literal) => {
        concat!(
            "SELECT d.id, d.webhook_id, d.tenant_id, d.due_at, \
             COALESCE(i.delivery_weight, 1) AS weight \
             FROM deliveries d ",
            $idx,
            " LEFT JOIN installations i ON i.id = d.installation_id \
             WHERE d.fair_tag IS NULL AND d.due_at IS NOT NULL AND d.due_at <= $1 \
             ORDER BY d.due_at, d.id LIMIT $2"
        )
    };
}
pub(crate) use untagged_due_sql;

/// A webhook `w`'s clock as two columns: its lowest waiting tag (`lowest_waiting`) and its
/// latest finish (named `$latest`). One index probe each, the first entry in index order.
macro_rules! webhook_clock_sql {
    ($latest:literal) => {
        concat!(
            "(SELECT d.fair_tag FROM deliveries d WHERE d.webhook_id = w.id \
             AND d.fair_tag IS NOT NULL ORDER BY d.fair_tag LIMIT 1) AS lowest_waiting, \
             (SELECT f.finish_tag FROM fair_queues f WHERE f.webhook_id = w.id \
             ORDER BY f.finish_tag DESC LIMIT 1) AS ",
            $latest
        )
    };
}
pub(crate) use webhook_clock_sql;

#[derive(sqlx::FromRow)]
pub(crate) struct UntaggedRow {
    pub id: String,
    pub webhook_id: String,
    pub tenant_id: String,
    pub due_at: i64,
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
                let mut select = sqlx::QueryBuilder::<Db>::new(concat!(
                    "SELECT w.id AS webhook_id, CAST(NULL AS TEXT) AS tenant_id, ",
                    $crate::store::fair::webhook_clock_sql!("finish_tag"),
                    " FROM webhooks w WHERE w.id IN ("
                ));
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
                let rows = select
                    .build_query_as::<ClockRow>()
                    .fetch_all(&mut **tx)
                    .await?;
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

            let (tags, finishes) = fair_share::tag(arrivals, clocks);
            store_finishes(tx, &finishes).await?;
            Ok(tags)
        }

        /// Stores each (webhook, tenant)'s finish a batch moved. Two writers that read the
        /// same finish (PostgreSQL, concurrent transactions) both move it to the same
        /// place: the later keeps it.
        async fn store_finishes(
            tx: &mut $crate::store::WriteTx<<$store as $crate::store::Backend>::Db>,
            finishes: &[($crate::domain::fair_share::Queue, i64)],
        ) -> StoreResult<()> {
            for chunk in finishes.chunks(500) {
                let mut upsert = sqlx::QueryBuilder::<<$store as $crate::store::Backend>::Db>::new(
                    "INSERT INTO fair_queues (webhook_id, tenant_id, finish_tag) ",
                );
                upsert.push_values(chunk, |mut row, ((w, t), f)| {
                    row.push_bind(w.clone()).push_bind(t.clone()).push_bind(*f);
                });
                upsert.push(<$store as $crate::store::Backend>::FINISH_UPSERT);
                upsert.build().execute(&mut **tx).await?;
            }
            Ok(())
        }

        impl $store {
            /// Tags the deliveries that fell due by `now` and have no tag yet (retries,
            /// released held ones, expired leases): they join their webhooks' fair queues.
            /// Looks only when one can be due ([`UntaggedHint`]). Returns how many.
            async fn tag_due(&self, now: DateTime<Utc>) -> StoreResult<u64> {
                let now_ms = to_millis(now);
                if !self.untagged.look_now(now_ms) {
                    return Ok(0);
                }
                let looked = self.tag_due_now(now_ms).await;
                match &looked {
                    Ok((_, next)) => self.untagged.looked(now_ms, *next),
                    Err(_) => self.untagged.look_failed(),
                }
                Ok(looked?.0)
            }

            /// Tags what is due untagged at `now_ms`; returns how many, and when the next
            /// untagged delivery falls due.
            async fn tag_due_now(&self, now_ms: i64) -> StoreResult<(u64, Option<i64>)> {
                use $crate::domain::fair_share;
                use $crate::store::fair::*;
                use $crate::store::Backend;
                type Db = <$store as Backend>::Db;
                // A read first (the earliest untagged, due or not): most looks find nothing
                // due and take no write turn.
                let next: Option<i64> = sqlx::query_as::<Db, UntaggedRow>(Self::UNTAGGED_DUE)
                    .bind(i64::MAX)
                    .bind(1_i64)
                    .fetch_optional(self.delivery_pool())
                    .await?
                    .map(|r| r.due_at);
                if next.is_none_or(|due| due > now_ms) {
                    return Ok((0, next));
                }
                let mut tx = self.delivery_write_tx().await?;
                let due: Vec<UntaggedRow> = sqlx::query_as::<Db, UntaggedRow>(Self::UNTAGGED_DUE)
                    .bind(now_ms)
                    .bind(TAG_BATCH)
                    .fetch_all(&mut *tx)
                    .await?;
                if due.is_empty() {
                    // Tagged or ended meanwhile: look again at the next claim.
                    return Ok((0, Some(now_ms)));
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
                // More may be due than one batch: the next claim looks again.
                Ok((tagged, Some(now_ms)))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_looks_first_then_only_when_something_untagged_can_be_due() {
        let hint = UntaggedHint::default();
        assert!(hint.look_now(0), "nothing known: look");
        hint.looked(0, Some(60_000));
        assert!(!hint.look_now(500));
        assert!(
            hint.look_now(UNTAGGED_LOOK_EVERY_MS),
            "what other instances wrote"
        );
        hint.looked(1_000, None);
        assert!(!hint.look_now(1_999));
        hint.wrote(1_500);
        assert!(hint.look_now(1_500), "this instance wrote one due now");
        hint.looked(1_500, None);
        hint.wrote(300_000);
        assert!(!hint.look_now(2_000), "a lease ending later");
    }

    #[test]
    fn what_is_written_during_a_look_is_not_forgotten_by_it() {
        let hint = UntaggedHint::default();
        assert!(hint.look_now(0));
        // Committed after the look's read: the look did not see it.
        hint.wrote(10);
        hint.looked(0, None);
        assert!(hint.look_now(10));
    }

    #[test]
    fn a_failed_look_is_tried_again() {
        let hint = UntaggedHint::default();
        assert!(hint.look_now(0));
        hint.look_failed();
        assert!(hint.look_now(0));
    }
}
