//! PostgreSQL: `ANALYZE deliveries` while the table is young.
//!
//! PostgreSQL plans a connection's prepared statement once (after five executions, the
//! generic plan) from the table's statistics of that moment, and keeps the plan until the
//! statistics change. Autovacuum analyzes a table after a tenth of it changed and looks
//! at most once a minute (its default naptime). A `deliveries` table that grew from empty
//! in seconds, as a new deployment's or a benchmark's does, kept plans made for a handful
//! of rows: the claim then read a webhook's whole backlog and sorted it on every call
//! (1.1 ms a claim, against 0.05 with a plan made for the table as it is; BENCHMARKS.md,
//! "Claims planned for the table as it is"). An `ANALYZE` invalidates every connection's
//! plans of the table, so they are made again from its real size.
//!
//! The gateway analyzes the table each time the deliveries it inserted since the last
//! analysis reach the table's size then (so at most every doubling), from
//! [`ANALYZE_FIRST_AT`] inserted until the table holds [`ANALYZE_UNTIL`] rows; past that,
//! autovacuum's tenth is soon enough.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::PgPool;

/// Deliveries inserted before the first analysis of a table that had none.
pub(crate) const ANALYZE_FIRST_AT: u64 = 1_000;
/// The table size from which autovacuum's own analyses are left to it.
pub(crate) const ANALYZE_UNTIL: u64 = 1_000_000;

/// Whether a table of `rows` at its last analysis (as far as this instance knows), with
/// `inserted` rows added since, is analyzed now.
pub(crate) fn analyze_due(rows: u64, inserted: u64) -> bool {
    rows < ANALYZE_UNTIL && inserted >= rows.max(ANALYZE_FIRST_AT)
}

/// What this instance counts of the table's growth; one analysis runs at a time.
#[derive(Default)]
pub(crate) struct TableGrowth {
    rows_at_analysis: AtomicU64,
    inserted_since: AtomicU64,
    analyzing: AtomicBool,
}

impl TableGrowth {
    /// `n` deliveries were committed: analyzes the table in the background when it is
    /// due. A failed analysis is logged and tried again at the next insert.
    pub(crate) fn inserted(self: &Arc<Self>, n: u64, pool: &PgPool) {
        let inserted = self.inserted_since.fetch_add(n, Ordering::Relaxed) + n;
        if !analyze_due(self.rows_at_analysis.load(Ordering::Relaxed), inserted)
            || self.analyzing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.inserted_since.store(0, Ordering::Relaxed);
        let (growth, pool) = (self.clone(), pool.clone());
        tokio::spawn(async move {
            match analyze(&pool).await {
                Ok(rows) => {
                    tracing::info!(rows, "deliveries analyzed: plans follow the table's size");
                    growth.rows_at_analysis.store(rows, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "analyzing deliveries failed");
                    growth.inserted_since.fetch_add(inserted, Ordering::Relaxed);
                }
            }
            growth.analyzing.store(false, Ordering::Release);
        });
    }
}

/// Analyzes `deliveries`; returns its estimated rows.
async fn analyze(pool: &PgPool) -> Result<u64, sqlx::Error> {
    sqlx::query("ANALYZE deliveries").execute(pool).await?;
    let rows: f32 =
        sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'deliveries'::regclass")
            .fetch_one(pool)
            .await?;
    Ok(rows.max(0.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_young_table_is_analyzed_at_each_doubling() {
        assert!(!analyze_due(0, ANALYZE_FIRST_AT - 1));
        assert!(analyze_due(0, ANALYZE_FIRST_AT));
        assert!(!analyze_due(5_000, 4_999), "not yet doubled");
        assert!(analyze_due(5_000, 5_000));
    }

    #[test]
    fn a_large_table_is_left_to_autovacuum() {
        assert!(!analyze_due(ANALYZE_UNTIL, u64::MAX));
        assert!(analyze_due(ANALYZE_UNTIL - 1, ANALYZE_UNTIL));
    }
}
