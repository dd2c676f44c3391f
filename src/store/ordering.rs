//! Ordered delivery per key in the store ([`ordering`](crate::domain::ordering)). Of one
//! (webhook, tenant, key), only the head is pending, in flight or held; those behind it
//! are `waiting`, with no due time and no fair tag, so neither the claim, the tagging
//! nor the fast path sees them. A key's open deliveries are the ones whose
//! `ordering_key` is set and whose state is one of [`OPEN`]; the head is always the
//! lowest sequence among them, so "what is next" is one probe of `deliveries_key_open`.
//!
//! A key's row in `ordering_keys` holds its last sequence, and its lock orders a publish
//! of the key against the end of its head: a publish locks the row (its upsert) before
//! it looks for an open delivery, and the end of a head locks it before it looks for the
//! next, each in a statement of its own, so on PostgreSQL each sees what the other
//! committed. `ordering_fns!(Store)` defines `place_keys`, `promote_next` and `leave_key_order`.

use std::collections::{BTreeMap, HashMap};

use super::rows::FanoutRow;
use crate::domain::filter;
use crate::domain::model::{NewEvent, Ordering};

/// SQL: the states of a key's open deliveries, as `deliveries_key_open` lists them (the
/// same text, so that SQLite matches its partial index).
pub(crate) const OPEN: &str = "('pending', 'in_flight', 'held', 'waiting')";

/// One key of one webhook: (webhook id, tenant id, ordering key).
pub(crate) type KeyOf = (String, String, String);

/// Where a publish's next delivery of a key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyPlace {
    /// The sequence it gets.
    pub next_sequence: i64,
    /// Something of the key has yet to end: it waits behind it.
    pub open: bool,
}

impl KeyPlace {
    /// Places one more delivery of the key: its sequence, and whether it is the head.
    pub fn take(&mut self) -> (i64, bool) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let head = !self.open;
        self.open = true;
        (sequence, head)
    }
}

/// How many deliveries of each key the created events of a publish make, over the
/// `per_key` webhooks among their tenants' candidates; in key order, the order the
/// publish locks them in.
pub(crate) fn keyed_counts(
    events: &[NewEvent],
    created: &[bool],
    candidates: &HashMap<String, Vec<FanoutRow>>,
) -> Result<BTreeMap<KeyOf, i64>, super::StoreError> {
    let mut counts = BTreeMap::new();
    for (e, _) in events.iter().zip(created).filter(|(_, c)| **c) {
        let Some(key) = &e.ordering_key else { continue };
        for c in candidates.get(&e.tenant_id).into_iter().flatten() {
            if c.ordering == Ordering::PerKey.as_str()
                && filter::matches(&c.event_types()?, &e.event_type)
            {
                *counts
                    .entry((c.webhook_id.clone(), e.tenant_id.clone(), key.clone()))
                    .or_default() += 1;
            }
        }
    }
    Ok(counts)
}

/// The places of a publish's keys from their upsert's new last sequences and `counts`:
/// the first new delivery of a key gets the sequence after the old last one.
pub(crate) fn places(
    counts: &BTreeMap<KeyOf, i64>,
    last_sequences: Vec<(String, String, String, i64)>,
    open: &std::collections::HashSet<KeyOf>,
) -> HashMap<KeyOf, KeyPlace> {
    last_sequences
        .into_iter()
        .map(|(w, t, k, last)| {
            let key = (w, t, k);
            let place = KeyPlace {
                next_sequence: last - counts.get(&key).copied().unwrap_or(0) + 1,
                open: open.contains(&key),
            };
            (key, place)
        })
        .collect()
}

macro_rules! ordering_fns {
    ($store:ty) => {
        /// Gives each key of a publish its sequences and says whether something of it is
        /// still open, in the caller's transaction: the upsert locks the keys' rows (in
        /// key order), and the look for open deliveries comes after, in its own
        /// statement.
        async fn place_keys(
            tx: &mut $crate::store::WriteTx<<$store as $crate::store::Backend>::Db>,
            counts: &std::collections::BTreeMap<$crate::store::ordering::KeyOf, i64>,
        ) -> StoreResult<std::collections::HashMap<$crate::store::ordering::KeyOf, $crate::store::ordering::KeyPlace>> {
            use $crate::store::ordering::*;
            if counts.is_empty() {
                return Ok(Default::default());
            }
            let counted: Vec<(&KeyOf, &i64)> = counts.iter().collect();
            let mut last_sequences = Vec::with_capacity(counted.len());
            let mut open = std::collections::HashSet::new();
            for chunk in counted.chunks($crate::store::publish::ROWS_PER_STATEMENT) {
                let mut upsert = sqlx::QueryBuilder::<<$store as $crate::store::Backend>::Db>::new(
                    "INSERT INTO ordering_keys (webhook_id, tenant_id, ordering_key, last_sequence) ",
                );
                upsert.push_values(chunk, |mut row, ((w, t, k), n)| {
                    row.push_bind(w.clone())
                        .push_bind(t.clone())
                        .push_bind(k.clone())
                        .push_bind(**n);
                });
                upsert.push(
                    " ON CONFLICT (webhook_id, tenant_id, ordering_key) DO UPDATE \
                     SET last_sequence = ordering_keys.last_sequence + excluded.last_sequence \
                     RETURNING webhook_id, tenant_id, ordering_key, last_sequence",
                );
                last_sequences.extend(
                    upsert
                        .build_query_as::<(String, String, String, i64)>()
                        .fetch_all(&mut **tx)
                        .await?,
                );
                let mut look = sqlx::QueryBuilder::<<$store as $crate::store::Backend>::Db>::new(
                    "WITH v(w, t, k) AS (",
                );
                look.push_values(chunk, |mut row, ((w, t, k), _)| {
                    row.push_bind(w.clone()).push_bind(t.clone()).push_bind(k.clone());
                });
                look.push(format!(
                    ") SELECT w, t, k FROM v WHERE EXISTS (SELECT 1 FROM deliveries d \
                     WHERE d.webhook_id = v.w AND d.tenant_id = v.t AND d.ordering_key = v.k \
                     AND d.ordering_key IS NOT NULL AND d.state IN {OPEN})"
                ));
                open.extend(
                    look.build_query_as::<(String, String, String)>()
                        .fetch_all(&mut **tx)
                        .await?,
                );
            }
            Ok(places(counts, last_sequences, &open))
        }

        /// After deliveries in `ended` ended (delivered, failed, skipped), the next of
        /// each of their keys becomes due (or held, on a deactivated webhook), in the
        /// caller's transaction. Returns how many were made due.
        async fn promote_next(
            tx: &mut $crate::store::WriteTx<<$store as $crate::store::Backend>::Db>,
            ended: &[&str],
            now: i64,
        ) -> StoreResult<u64> {
            use $crate::store::ordering::*;
            if ended.is_empty() {
                return Ok(0);
            }
            let mut promoted = 0;
            for chunk in ended.chunks($crate::store::publish::ROWS_PER_STATEMENT) {
                // The keys' rows locked, in key order: a publish of the key beside this
                // has committed, or waits for this.
                let mut keys = sqlx::QueryBuilder::<<$store as $crate::store::Backend>::Db>::new(
                    "SELECT k.webhook_id, k.tenant_id, k.ordering_key FROM ordering_keys k \
                     WHERE (k.webhook_id, k.tenant_id, k.ordering_key) IN \
                     (SELECT d.webhook_id, d.tenant_id, d.ordering_key FROM deliveries d \
                      WHERE d.ordering_key IS NOT NULL AND d.id IN (",
                );
                let mut ids = keys.separated(", ");
                for id in chunk {
                    ids.push_bind(id.to_string());
                }
                keys.push(")) ORDER BY k.webhook_id, k.tenant_id, k.ordering_key");
                keys.push(<$store as $crate::store::Backend>::KEY_LOCK);
                let keys: Vec<KeyOf> = keys.build_query_as().fetch_all(&mut **tx).await?;
                if keys.is_empty() {
                    continue;
                }
                // Each key's lowest open delivery: when it is waiting, nothing of the
                // key is ahead of it any more.
                let mut next = sqlx::QueryBuilder::<<$store as $crate::store::Backend>::Db>::new(
                    "WITH v(w, t, k) AS (",
                );
                next.push_values(&keys, |mut row, (w, t, k)| {
                    row.push_bind(w.clone()).push_bind(t.clone()).push_bind(k.clone());
                });
                next.push(
                    "), heads AS (SELECT (SELECT d.id FROM deliveries d \
                     WHERE d.webhook_id = v.w AND d.tenant_id = v.t AND d.ordering_key = v.k \
                     AND d.ordering_key IS NOT NULL AND d.state IN ",
                );
                next.push(OPEN);
                next.push(
                    " ORDER BY d.sequence LIMIT 1) AS id FROM v) \
                     UPDATE deliveries SET \
                     state = CASE WHEN EXISTS (SELECT 1 FROM webhooks w \
                         WHERE w.id = deliveries.webhook_id AND w.state = 'deactivated') \
                         THEN 'held' ELSE 'pending' END, \
                     due_at = CASE WHEN EXISTS (SELECT 1 FROM webhooks w \
                         WHERE w.id = deliveries.webhook_id AND w.state = 'deactivated') \
                         THEN NULL ELSE ",
                );
                next.push_bind(now);
                next.push(" END, updated_at = ");
                next.push_bind(now);
                next.push(" WHERE id IN (SELECT id FROM heads) AND state = 'waiting'");
                promoted += next.build().execute(&mut **tx).await?.rows_affected();
            }
            Ok(promoted)
        }

        /// A webhook no longer ordered: its open deliveries leave their keys' order, and
        /// those waiting are due now (held, on a deactivated webhook). The keys' rows are
        /// locked first, so a publish that read the old setting has committed its
        /// waiting deliveries, which are released too. Returns how many were released.
        async fn leave_key_order(
            tx: &mut $crate::store::WriteTx<<$store as $crate::store::Backend>::Db>,
            webhook_id: &str,
            now: i64,
        ) -> StoreResult<u64> {
            use $crate::store::ordering::*;
            sqlx::query(&format!(
                "SELECT k.ordering_key FROM ordering_keys k WHERE k.webhook_id = $1 \
                 ORDER BY k.webhook_id, k.tenant_id, k.ordering_key{}",
                <$store as $crate::store::Backend>::KEY_LOCK
            ))
            .bind(webhook_id)
            .execute(&mut **tx)
            .await?;
            let released = sqlx::query(&format!(
                "UPDATE deliveries SET ordering_key = NULL, \
                 state = CASE WHEN state <> 'waiting' THEN state \
                     WHEN EXISTS (SELECT 1 FROM webhooks w WHERE w.id = deliveries.webhook_id \
                         AND w.state = 'deactivated') THEN 'held' ELSE 'pending' END, \
                 due_at = CASE WHEN state <> 'waiting' THEN due_at \
                     WHEN EXISTS (SELECT 1 FROM webhooks w WHERE w.id = deliveries.webhook_id \
                         AND w.state = 'deactivated') THEN NULL ELSE $2 END, \
                 updated_at = $2 \
                 WHERE webhook_id = $1 AND ordering_key IS NOT NULL AND state IN {OPEN}"
            ))
            .bind(webhook_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Ok(released.rows_affected())
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> KeyOf {
        ("w".into(), "t".into(), k.into())
    }

    #[test]
    fn a_publish_numbers_on_from_the_last_sequence_and_only_a_quiet_key_gets_a_head() {
        let counts = BTreeMap::from([(key("a"), 3), (key("b"), 1)]);
        let open = std::collections::HashSet::from([key("b")]);
        let mut places = places(
            &counts,
            vec![
                ("w".into(), "t".into(), "a".into(), 3),
                ("w".into(), "t".into(), "b".into(), 8),
            ],
            &open,
        );
        let a = places.get_mut(&key("a")).unwrap();
        assert_eq!(
            [a.take(), a.take(), a.take()],
            [(1, true), (2, false), (3, false)]
        );
        let b = places.get_mut(&key("b")).unwrap();
        assert_eq!(b.take(), (8, false), "behind what is still open");
    }
}
