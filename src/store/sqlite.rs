//! The embedded default: one SQLite file in WAL mode. Writers are serialised by SQLite
//! itself, so the claim needs no row locks; write transactions start `IMMEDIATE` so two
//! of them never deadlock upgrading a read lock.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use super::health::*;
use super::logs::{AttemptFilter, DeliveryFilter};
use super::rows::*;
use super::{constraint_error, not_found_on_reference, StoreError, StoreResult};
use crate::clock::{from_millis, to_millis};
use crate::domain::destination::Destination;
use crate::domain::health::Status;
use crate::domain::health::{HealthChange, HealthInput, Reactivated, WebhookHealth};
use crate::domain::model::*;
use crate::domain::notification::Notification;

/// A failed COMMIT (disk full, I/O error) makes SQLite roll the transaction back by
/// itself; sqlx's queued ROLLBACK then fails and the connection keeps believing it is in
/// a transaction, so every later `BEGIN` on it fails. Such a connection is closed instead
/// of going back to the pool.
async fn discard_if_in_transaction(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if conn.is_in_transaction() {
        // A dropped transaction's ROLLBACK may still be queued: let it run first.
        conn.ping().await?;
    }
    Ok(!conn.is_in_transaction())
}

pub struct SqliteStore {
    pool: SqlitePool,
    write_turn: super::WriteTurn,
    untagged: super::fair::UntaggedHint,
}

impl SqliteStore {
    /// Per webhook not at capacity, the lowest tags of its fair queue (the correlated
    /// subquery is SQLite's LATERAL; one walk of `deliveries_webhook_fair` per webhook,
    /// at most `$8` rows, the largest room), ranked so that each keeps at most its room
    /// in the JSON object `$7` (else `$5`) and the partner's `max_concurrency`: SQLite's
    /// LIMIT cannot name an outer column. Across webhooks, each one's first place before
    /// anyone's second. SQLite serialises writers, so no row locks are needed.
    pub const CLAIM_DUE: &'static str = concat!(
        "UPDATE deliveries ",
        claim_set!(),
        "\
         WHERE id IN (SELECT c.id FROM ( \
                          SELECT d.id, d.due_at, w.id AS webhook_id, w.max_concurrency AS cap, \
                                 ROW_NUMBER() OVER (PARTITION BY w.id ORDER BY d.fair_tag) AS n \
                          FROM webhooks w JOIN deliveries d ON d.id IN ( \
                              SELECT id FROM deliveries INDEXED BY deliveries_webhook_fair \
                              WHERE webhook_id = w.id AND fair_tag IS NOT NULL AND due_at <= $3 \
                              ORDER BY fair_tag LIMIT $8) \
                          WHERE w.id NOT IN (SELECT value FROM json_each($6)) \
                          AND ($9 IS NULL OR w.id IN (SELECT value FROM json_each($9)))) c \
                      WHERE c.n <= MIN(COALESCE((SELECT value FROM json_each($7) \
                                                 WHERE key = c.webhook_id), $5), \
                                       COALESCE(c.cap, $8)) \
                      ORDER BY c.n, c.due_at LIMIT $4)"
    );

    pub async fn connect(url: &str, settings: &super::PoolSettings) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Writers hold SQLite's one write lock while they walk the indexes; with a
            // million-row table the default 2 MiB page cache sends most of that walk to
            // the OS (BENCHMARKS.md, scenario 4). Map the file, and cache more per
            // connection.
            .pragma("mmap_size", "268435456")
            .pragma("cache_size", "-16384");
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .after_release(|conn, _| Box::pin(discard_if_in_transaction(conn)))
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            write_turn: super::WriteTurn::default(),
            untagged: Default::default(),
        })
    }
}

#[async_trait::async_trait]
impl super::Backend for SqliteStore {
    type Db = Sqlite;
    const NAME: &'static str = "sqlite";
    const SHARE_LOCK: &'static str = "";
    const KEY_LOCK: &'static str = "";
    const INSTALLATION_LOCK: &'static str = "";

    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

    /// The earliest due time (a retry or a lease expiry).
    const NEXT_DUE: &'static str = "SELECT MIN(due_at) FROM deliveries WHERE due_at IS NOT NULL";

    /// The fetch of what a claim leased, with the events table's key index pinned.
    const CLAIMED_SELECT: &'static str = claimed_select!(
        "deliveries",
        "events e INDEXED BY sqlite_autoindex_events_1",
        "$1"
    );

    const CLAIM_SENDS: &'static str = crate::claim_sends_sql!("");

    const UNTAGGED_DUE: &'static str =
        super::fair::untagged_due_sql!("INDEXED BY deliveries_untagged_due");

    const FINISH_UPSERT: &'static str = " ON CONFLICT (webhook_id, tenant_id) \
         DO UPDATE SET finish_tag = MAX(fair_queues.finish_tag, excluded.finish_tag)";

    fn pool(&self) -> &sqlx::Pool<Sqlite> {
        &self.pool
    }

    async fn lease_due(
        &self,
        token: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        claim: &super::ClaimLimits,
    ) -> Result<Vec<ClaimedRow>, sqlx::Error> {
        let skip = serde_json::to_string(&claim.skip_webhooks).expect("strings serialise");
        let room: serde_json::Map<String, serde_json::Value> = claim
            .remaining
            .iter()
            .map(|(id, n)| (id.clone(), (*n).into()))
            .collect();
        let room = serde_json::Value::Object(room).to_string();
        let turn = self.write_turn.take_first().await;
        let leased = sqlx::query(Self::CLAIM_DUE)
            .bind(to_millis(lease_until))
            .bind(token)
            .bind(to_millis(now))
            .bind(claim.limit)
            .bind(claim.per_webhook)
            .bind(skip)
            .bind(room)
            .bind(claim.largest_room())
            .bind(
                claim
                    .only_webhooks
                    .as_ref()
                    .map(|only| serde_json::to_string(only).expect("strings serialise")),
            )
            .execute(&self.pool)
            .await?
            .rows_affected();
        drop(turn);
        if leased == 0 {
            return Ok(Vec::new());
        }
        sqlx::query_as::<Sqlite, ClaimedRow>(Self::CLAIMED_SELECT)
            .bind(token)
            .fetch_all(&self.pool)
            .await
    }

    async fn write_tx(&self) -> Result<super::WriteTx<Sqlite>, sqlx::Error> {
        let turn = self.write_turn.take().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(super::WriteTx::new(tx, Some(turn)))
    }

    async fn delivery_write_tx(&self) -> Result<super::WriteTx<Sqlite>, sqlx::Error> {
        let turn = self.write_turn.take_first().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(super::WriteTx::new(tx, Some(turn)))
    }
}

sql_store!(SqliteStore);
fair_fns!(SqliteStore);
outbox_store!(SqliteStore);
health_store!(SqliteStore);
retention_store!(SqliteStore);
catalogue_store!(SqliteStore);
portal_store!(SqliteStore);
ownership_store!(SqliteStore);
log_store!(SqliteStore);

/// One instance: nobody to tell.
impl super::DueSignal for SqliteStore {}
