//! What a backend supplies to the SQL both share. The store's macros (`sql_store!` and
//! the others) write the same SQL for SQLite and PostgreSQL; what differs — the claim
//! and its locking, the statements whose index use differs, how a write transaction
//! starts, the migrations — each backend gives through this trait, so the compiler
//! checks the contract a comment used to state.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::rows::ClaimedRow;
use super::{ClaimLimits, WriteTx};

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    type Db: sqlx::Database;
    /// `sqlite` or `postgres`, as `Store::backend` says.
    const NAME: &'static str;
    const MIGRATOR: sqlx::migrate::Migrator;
    /// The fetch of what a claim leased.
    const CLAIMED_SELECT: &'static str;
    /// The earliest due time (a retry or a lease expiry).
    const NEXT_DUE: &'static str;
    /// Leases due notifications of the outbox for the relay.
    /// The outbox claim: [`claim_sends_sql!`](crate::claim_sends_sql).
    const CLAIM_SENDS: &'static str;
    /// Deliveries due and not yet in their webhook's fair queue, oldest first:
    /// [`untagged_due_sql!`](crate::store::fair::untagged_due_sql).
    const UNTAGGED_DUE: &'static str;
    /// How a tagging stores a (webhook, tenant)'s finish: `ON CONFLICT` keeping the later.
    const FINISH_UPSERT: &'static str;

    /// Appended to a `SELECT` whose rows a concurrent update must wait for until this
    /// transaction ends (PostgreSQL `FOR SHARE`; SQLite's write transaction is alone).
    const SHARE_LOCK: &'static str;

    /// Appended to a publish's fan-out candidates (installations as `i`): an uninstall's
    /// update of the installation waits for the publish to commit, so the uninstall's
    /// skip sees the publish's deliveries; a publish behind an uninstall sees it revoked
    /// (PostgreSQL `FOR SHARE OF i`; SQLite's write transaction is alone).
    const INSTALLATION_LOCK: &'static str;

    /// Appended to the `SELECT` of `ordering_keys` rows as `k` that the end of a key's
    /// head locks (PostgreSQL `FOR UPDATE OF k`; SQLite's write transaction is alone).
    const KEY_LOCK: &'static str;

    fn pool(&self) -> &sqlx::Pool<Self::Db>;

    /// Starts a write transaction (SQLite: in this instance's writer turn).
    async fn write_tx(&self) -> Result<WriteTx<Self::Db>, sqlx::Error>;

    /// Where delivery reads and writes (claims, tagging, attempt records): PostgreSQL
    /// keeps a few connections for it, so that publishes holding every other connection
    /// never queue it.
    fn delivery_pool(&self) -> &sqlx::Pool<Self::Db> {
        self.pool()
    }

    /// `n` deliveries were committed (PostgreSQL: analyzes a young table as it grows,
    /// [`statistics`](super::statistics)).
    fn deliveries_inserted(&self, _n: u64) {}

    /// A write transaction for delivery (SQLite: ahead of other writers; PostgreSQL: on
    /// the delivery pool).
    async fn delivery_write_tx(&self) -> Result<WriteTx<Self::Db>, sqlx::Error>;

    /// Leases due deliveries under `token` until `lease_until`, within `claim`'s
    /// limits; returns them, ready to send.
    async fn lease_due(
        &self,
        token: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        claim: &ClaimLimits,
    ) -> Result<Vec<ClaimedRow>, sqlx::Error>;
}
