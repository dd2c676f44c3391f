//! PostgreSQL, for many gateway instances side by side: workers claim due deliveries
//! with `FOR UPDATE SKIP LOCKED`, so two instances never lease the same delivery.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Postgres;

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

pub struct PgStore {
    pool: PgPool,
    /// Tagging and attempt records only.
    delivery_pool: PgPool,
    /// Claims only, committed without waiting for the WAL flush (see `connect`).
    claim_pool: PgPool,
    /// The one connection that listens for other instances' due signals, made when
    /// first listened on.
    listen_pool: PgPool,
    untagged: super::fair::UntaggedHint,
    growth: std::sync::Arc<super::statistics::TableGrowth>,
}

/// Connections kept for delivery, besides the pool's.
const DELIVERY_CONNECTIONS: u32 = 4;
/// Connections for claims: an instance's claims take turns, one more covers a reconnect.
const CLAIM_CONNECTIONS: u32 = 2;

impl PgStore {
    /// Per webhook not at capacity, the lowest tags of its fair queue (at most its room
    /// in `$7`/`$8`, else `$5`, and never more than the partner's `max_concurrency`:
    /// LEAST ignores a NULL; one walk of `deliveries_webhook_fair` each) are the
    /// candidates, each webhook's first before anyone's second. They are gathered into
    /// an array first, so that the rows are then fetched and locked one primary-key probe
    /// each: joined directly, the planner (which cannot know the LIMITs) hash-joined the
    /// whole deliveries table, 11 ms a claim against 0.9 with a 12,700-delivery backlog
    /// (BENCHMARKS.md, "Tenant-fair fan-in"). The first `$4` not locked by another claim
    /// are leased: locking only what is leased lets concurrent claims (workers,
    /// instances) take the next rows, and a row another claim leased meanwhile fails the
    /// recheck under the lock. The leased rows come back in the same statement, joined
    /// with what sending needs.
    pub const CLAIM_DUE: &'static str = concat!(
        "WITH leased AS (UPDATE deliveries ",
        claim_set!(),
        "\
         WHERE id IN (SELECT d.id FROM unnest(ARRAY( \
                          SELECT c.id FROM webhooks w CROSS JOIN LATERAL ( \
                              SELECT q.id, q.due_at, \
                                     ROW_NUMBER() OVER (ORDER BY q.fair_tag) AS n \
                              FROM (SELECT id, due_at, fair_tag FROM deliveries \
                                    WHERE webhook_id = w.id AND fair_tag IS NOT NULL \
                                    AND due_at <= $3 ORDER BY fair_tag \
                                    LIMIT LEAST(COALESCE((SELECT r.n FROM unnest($7::text[], \
                                                          $8::bigint[]) AS r(id, n) \
                                                          WHERE r.id = w.id), $5), \
                                                w.max_concurrency)) q) c \
                          WHERE NOT (w.id = ANY($6)) \
                          AND ($9::text[] IS NULL OR w.id = ANY($9)) \
                          ORDER BY c.n, c.due_at)) \
                      WITH ORDINALITY AS c(id, place) \
                      JOIN deliveries d ON d.id = c.id \
                      WHERE d.due_at <= $3 AND d.fair_tag IS NOT NULL \
                      ORDER BY c.place LIMIT $4 \
                      FOR UPDATE OF d SKIP LOCKED) \
         RETURNING id, lease_token, attempt_count, retry_base, first_failure_at, event_id, \
         tenant_id, installation_id, app_id, webhook_id, sequence, ordering_key) ",
        claimed_select!("leased", "events e", "$2")
    );

    pub async fn connect(url: &str, settings: &super::PoolSettings) -> StoreResult<Self> {
        // JIT off: the claim's LATERAL per-webhook LIMIT is estimated far above its real
        // cost, so with a large backlog PostgreSQL JIT-compiled it on every execution
        // (about 440 ms of a 470 ms claim, for 4 ms of work; see BENCHMARKS.md).
        let idle_in_transaction = format!(
            "{}ms",
            settings.idle_in_transaction_timeout.as_millis().max(1)
        );
        let options = PgConnectOptions::from_str(url)?.options([
            ("jit", "off"),
            (
                "idle_in_transaction_session_timeout",
                idle_in_transaction.as_str(),
            ),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(2))
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options.clone())
            .await?;
        let delivery_pool = PgPoolOptions::new()
            .max_connections(DELIVERY_CONNECTIONS)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options.clone())
            .await?;
        // A claim's commit does not wait for its WAL to reach the disk (one fsync per
        // claim was most of its time). A crash can lose only a lease, whose deliveries are
        // then due again as before it: at-least-once holds, as after any lost lease. An
        // attempt's record waits for the flush, which carries its claim with it.
        let claim_pool = PgPoolOptions::new()
            .max_connections(CLAIM_CONNECTIONS)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options.clone().options([("synchronous_commit", "off")]))
            .await?;
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            delivery_pool,
            claim_pool,
            listen_pool,
            untagged: Default::default(),
            growth: Default::default(),
        })
    }
}

#[async_trait::async_trait]
impl super::Backend for PgStore {
    type Db = Postgres;
    const NAME: &'static str = "postgres";
    const SHARE_LOCK: &'static str = " FOR SHARE";
    const KEY_LOCK: &'static str = " FOR UPDATE OF k";
    const INSTALLATION_LOCK: &'static str = " FOR SHARE OF i";

    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

    /// The earliest due time (a retry or a lease expiry), one index probe per webhook.
    const NEXT_DUE: &'static str = "SELECT MIN(d.due_at) FROM webhooks w CROSS JOIN LATERAL ( \
         SELECT due_at FROM deliveries WHERE webhook_id = w.id AND due_at IS NOT NULL \
         ORDER BY due_at LIMIT 1) d";

    /// The fetch of what a claim leased.
    const CLAIMED_SELECT: &'static str = claimed_select!("deliveries", "events e", "$1");

    const CLAIM_SENDS: &'static str = crate::claim_sends_sql!("FOR UPDATE SKIP LOCKED");

    const UNTAGGED_DUE: &'static str = super::fair::untagged_due_sql!("");

    const FINISH_UPSERT: &'static str = " ON CONFLICT (webhook_id, tenant_id) \
         DO UPDATE SET finish_tag = GREATEST(fair_queues.finish_tag, excluded.finish_tag)";

    fn pool(&self) -> &sqlx::Pool<Postgres> {
        &self.pool
    }

    async fn lease_due(
        &self,
        token: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        claim: &super::ClaimLimits,
    ) -> Result<Vec<ClaimedRow>, sqlx::Error> {
        let (room_ids, room): (Vec<&str>, Vec<i64>) = claim
            .remaining
            .iter()
            .map(|(id, n)| (id.as_str(), *n))
            .unzip();
        // A prepared statement: its generic plan is the custom one (every join a
        // primary-key probe; see CLAIM_DUE), and planning was half of a claim's time.
        sqlx::query_as::<Postgres, ClaimedRow>(Self::CLAIM_DUE)
            .bind(to_millis(lease_until))
            .bind(token)
            .bind(to_millis(now))
            .bind(claim.limit)
            .bind(claim.per_webhook)
            .bind(&claim.skip_webhooks)
            .bind(room_ids)
            .bind(room)
            .bind(claim.only_webhooks.as_deref())
            .fetch_all(&self.claim_pool)
            .await
    }

    async fn write_tx(&self) -> Result<super::WriteTx<Postgres>, sqlx::Error> {
        Ok(super::WriteTx::new(self.pool.begin().await?, None))
    }

    fn delivery_pool(&self) -> &sqlx::Pool<Postgres> {
        &self.delivery_pool
    }

    fn deliveries_inserted(&self, n: u64) {
        self.growth.inserted(n, &self.pool);
    }

    async fn delivery_write_tx(&self) -> Result<super::WriteTx<Postgres>, sqlx::Error> {
        Ok(super::WriteTx::new(self.delivery_pool.begin().await?, None))
    }
}

sql_store!(PgStore);
fair_fns!(PgStore);
outbox_store!(PgStore);
health_store!(PgStore);
retention_store!(PgStore);
catalogue_store!(PgStore);
portal_store!(PgStore);
ownership_store!(PgStore);
log_store!(PgStore);

#[async_trait::async_trait]
impl super::DueSignal for PgStore {
    /// One notification a webhook; PostgreSQL folds identical ones of a transaction.
    async fn announce_due(&self, webhooks: &[String]) -> StoreResult<()> {
        if webhooks.is_empty() {
            return Ok(());
        }
        sqlx::query("SELECT pg_notify($1, w) FROM unnest($2::text[]) AS w")
            .bind(super::due_signal::DUE_CHANNEL)
            .bind(webhooks)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A lost connection is made again on the next item, and listens again (sqlx's
    /// `PgListener`); what was announced meanwhile is not heard.
    async fn listen_due(&self) -> StoreResult<Option<super::DueSignals>> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.listen_pool).await?;
        listener.listen(super::due_signal::DUE_CHANNEL).await?;
        let signals = futures::stream::unfold(listener, |mut listener| async move {
            let next = listener
                .recv()
                .await
                .map(|n| n.payload().to_string())
                .map_err(StoreError::from);
            Some((next, listener))
        });
        Ok(Some(Box::pin(signals)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pooled connection runs without JIT (the test command starts PostgreSQL and
    /// sets `HOOKGATE_TEST_PG_URL`).
    #[tokio::test]
    async fn connections_run_without_jit_and_only_claims_commit_early() {
        let url = std::env::var("HOOKGATE_TEST_PG_URL")
            .expect("HOOKGATE_TEST_PG_URL is not set: run the suite with scripts/test.sh");
        let settings = super::super::PoolSettings {
            max_connections: 2,
            acquire_timeout: std::time::Duration::from_secs(10),
            idle_in_transaction_timeout: std::time::Duration::from_millis(2_500),
        };
        let store = PgStore::connect(&url, &settings).await.unwrap();
        let jit: String = sqlx::query_scalar("SHOW jit")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(jit, "off");
        let claim_settings: (String, String) =
            sqlx::query_as("SELECT current_setting('jit'), current_setting('synchronous_commit')")
                .fetch_one(&store.claim_pool)
                .await
                .unwrap();
        assert_eq!(claim_settings, ("off".into(), "off".into()));
        let durable: String = sqlx::query_scalar("SHOW synchronous_commit")
            .fetch_one(&store.delivery_pool)
            .await
            .unwrap();
        assert_eq!(durable, "on", "attempt records wait for the flush");
        for pool in [&store.pool, &store.delivery_pool, &store.claim_pool] {
            let idle: String = sqlx::query_scalar("SHOW idle_in_transaction_session_timeout")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(idle, "2500ms", "a quiet transaction's locks are bounded");
        }
    }
}
