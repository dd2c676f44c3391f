//! Persistence behind one trait, with an SQLite (embedded default) and a PostgreSQL
//! implementation. Both run the same SQL text (`$N` placeholders work in both) generated
//! by [`sql_store!`](common) and its siblings; what differs (the claim, how a write
//! transaction starts, statements whose index use differs, the migrations) each backend
//! gives through the [`Backend`] trait.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::model::{
    App, AppKey, AttemptRecord, ClaimedDelivery, Installation, NewEvent, PublishOutcome, Tenant,
    Webhook,
};

/// SQL: the tenant of the `deliveries` row at hand uninstalled its app.
macro_rules! installation_revoked {
    () => {
        "EXISTS (SELECT 1 FROM installations i \
         WHERE i.id = deliveries.installation_id AND i.state = 'revoked')"
    };
}

/// SQL: what a claim sets on each row it takes. A delivery whose tenant uninstalled the
/// app (a publish that committed beside the uninstall) is skipped instead of leased.
macro_rules! claim_set {
    () => {
        concat!(
            "SET state = CASE WHEN ",
            installation_revoked!(),
            " THEN 'skipped' ELSE 'in_flight' END, \
             due_at = CASE WHEN ",
            installation_revoked!(),
            " THEN NULL ELSE $1 END, \
             lease_token = CASE WHEN ",
            installation_revoked!(),
            " THEN NULL ELSE $2 END, \
             fair_tag = NULL, \
             skip_reason = CASE WHEN ",
            installation_revoked!(),
            " THEN 'installation_revoked' \
                 ELSE skip_reason END, \
             updated_at = $3 "
        )
    };
}

#[macro_use]
pub mod catalogue;
#[macro_use]
mod common;
pub mod due_signal;
#[macro_use]
pub mod health;
#[macro_use]
pub mod logs;
#[macro_use]
pub(crate) mod fair;
#[macro_use]
pub mod outbox;
#[macro_use]
pub(crate) mod ordering;
#[macro_use]
pub mod ownership;
#[macro_use]
pub mod retention;
mod backend;
mod outage;
#[macro_use]
pub mod publish;
#[macro_use]
pub mod portal;
pub mod postgres;
mod rows;
pub mod sqlite;
mod statistics;
mod write_tx;

pub use backend::Backend;
pub use outage::Outage;
pub(crate) use write_tx::{WriteTurn, WriteTx};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken: `constraint` names it as `table.column` when the
    /// database said which. The message is safe to show.
    #[error("{message}")]
    Conflict {
        constraint: Option<String>,
        message: String,
    },
    /// The row to delete is still referred to; the message is safe to show.
    #[error("{0}")]
    InUse(String),
    /// A count limit the caller passed is reached; the message is safe to show.
    #[error("{0}")]
    LimitReached(String),
    /// A row the write refers to does not exist; the message is safe to show.
    #[error("{0}")]
    NotFound(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row cannot be read: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// The database answered and refused the statement (a value it cannot store, a
    /// constraint, a conflict), as opposed to not being reached at all: the same
    /// statement with other rows may well succeed.
    pub fn is_refusal(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(_)))
    }
}

pub use catalogue::CatalogueStore;
pub use due_signal::{DueSignal, DueSignals};
pub use health::HealthStore;
pub use logs::{AttemptFilter, AttemptWindow, DeliveryFilter, LogStore};
pub use outbox::{ClaimedSend, OutboxStore};
pub use ownership::{HeldLease, InstanceRow, OwnershipStore, WebhookOwner};
pub use portal::{ConsoleSession, PortalSession, PortalStore};
pub use retention::{Pruned, RetentionStore};

#[async_trait]
pub trait Store:
    HealthStore
    + OutboxStore
    + LogStore
    + RetentionStore
    + CatalogueStore
    + PortalStore
    + OwnershipStore
    + DueSignal
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> &'static str;
    async fn migrate(&self) -> StoreResult<()>;
    async fn ping(&self) -> StoreResult<()>;
    /// The database answers and every migration this build knows is applied.
    async fn ready(&self) -> StoreResult<bool>;
    async fn queue_stats(
        &self,
        now: DateTime<Utc>,
    ) -> StoreResult<crate::domain::stats::QueueStats>;

    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    async fn get_tenant(&self, id: &str) -> StoreResult<Option<Tenant>>;
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    async fn update_tenant(&self, tenant: &Tenant) -> StoreResult<bool>;
    /// Refused with a conflict while events or installations refer to the tenant.
    async fn delete_tenant(&self, id: &str) -> StoreResult<bool>;

    async fn create_app(&self, app: &App, key_hash: &str, key_prefix: &str) -> StoreResult<()>;
    async fn get_app(&self, id: &str) -> StoreResult<Option<App>>;
    async fn list_apps(&self) -> StoreResult<Vec<App>>;
    /// Refused with a conflict while installations or webhooks refer to the app.
    async fn delete_app(&self, id: &str) -> StoreResult<bool>;
    /// Changes an app's name and OAuth client; false when the app does not exist.
    async fn update_app(&self, app: &App) -> StoreResult<bool>;
    /// The app whose OAuth client this is.
    async fn app_for_oauth_client(&self, client_id: &str) -> StoreResult<Option<String>>;
    /// The app a (hashed) partner key belongs to, unless the key is revoked.
    async fn app_for_key(&self, key_hash: &str) -> StoreResult<Option<String>>;
    /// Another partner key for the app (several may be live, for rotation); a conflict
    /// when `max_live` are live already.
    async fn add_app_key(
        &self,
        app_id: &str,
        key_hash: &str,
        prefix: &str,
        at: DateTime<Utc>,
        max_live: i64,
    ) -> StoreResult<AppKey>;
    /// The app's live keys and its 20 most recently revoked, oldest first.
    async fn list_app_keys(&self, app_id: &str) -> StoreResult<Vec<AppKey>>;
    /// Revokes one key by its id; false when the app has no such live key.
    async fn revoke_app_key(
        &self,
        app_id: &str,
        key_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Installs the app for the tenant, or re-activates a revoked installation (which
    /// keeps its weight unless `set_weight`).
    async fn install(
        &self,
        installation: &Installation,
        set_weight: bool,
    ) -> StoreResult<Installation>;
    /// Sets an installation's delivery weight; `None` when there is no such installation.
    async fn set_installation_weight(
        &self,
        id: &str,
        weight: i64,
    ) -> StoreResult<Option<Installation>>;
    async fn get_installation(&self, id: &str) -> StoreResult<Option<Installation>>;
    async fn list_installations(
        &self,
        tenant_id: Option<&str>,
        app_id: Option<&str>,
    ) -> StoreResult<Vec<Installation>>;
    /// Uninstalls, and in the same transaction skips every pending, in-flight and held
    /// delivery of the installation (`installation_revoked`); returns how many.
    async fn revoke_installation(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<(Installation, u64)>>;

    /// Conflict when the app already has `max_per_app` webhooks.
    async fn create_webhook(&self, webhook: &Webhook, max_per_app: i64) -> StoreResult<()>;
    async fn get_webhook(&self, app_id: &str, id: &str) -> StoreResult<Option<Webhook>>;
    async fn list_webhooks(&self, app_id: &str) -> StoreResult<Vec<Webhook>>;
    /// Writes the partner's settings of the webhook, and its secret when `new_secret`
    /// is given; never its state or its previous secret.
    async fn update_webhook(
        &self,
        webhook: &Webhook,
        new_secret: Option<&str>,
    ) -> StoreResult<bool>;
    /// The current secret becomes the previous one (signing beside the new one until
    /// `previous_until`), in one statement: a concurrent change loses neither.
    async fn rotate_webhook_secret(
        &self,
        app_id: &str,
        id: &str,
        secret: &str,
        previous_until: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Deletes the webhook with its deliveries and attempts.
    async fn delete_webhook(&self, app_id: &str, id: &str) -> StoreResult<bool>;

    /// Stores the event and its fan-out in one transaction. A repeat with the same event
    /// id or idempotency key and the same body is `Replayed`; another body is a conflict.
    async fn publish(&self, event: &NewEvent) -> StoreResult<PublishOutcome>;
    /// Several events in one transaction: all are stored, or none (a conflict on one
    /// fails the batch). Repeats of stored events are `Replayed`.
    async fn publish_batch(&self, events: &[NewEvent]) -> StoreResult<Vec<PublishOutcome>>;
    /// `publish_batch`, with fresh deliveries leased to this instance where `lease`
    /// finds room (the fast path); returns them, ready to send, beside the outcomes.
    async fn publish_leasing(
        &self,
        events: &[NewEvent],
        lease: &publish::FastLease<'_>,
    ) -> StoreResult<(Vec<PublishOutcome>, Vec<ClaimedDelivery>)>;

    /// Leases up to `limit` deliveries due at `now` (pending, or in flight with an
    /// expired lease) until `lease_until`: at most what `remaining` gives a webhook (else
    /// `per_webhook`), none of the webhooks in `skip` (those this instance has at their
    /// limit), oldest first. So a listener with a huge backlog, or one that hangs,
    /// cannot crowd out the others.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        claim: &ClaimLimits,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Writes attempts and their deliveries' new state in one transaction. A delivery
    /// whose lease was taken over meanwhile keeps the newer state; the attempt is kept.
    /// A record sent under a listener lease whose fence is no longer the webhook's
    /// (another instance took the listener over) is left out, attempt and all.
    async fn record_attempts(&self, records: &[AttemptRecord]) -> StoreResult<()>;
    /// When the earliest pending delivery (or lease) falls due.
    async fn next_due_at(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Gives back deliveries still leased under `token` (never attempted): pending and
    /// due at `now`, so any instance claims them at once.
    async fn release_leases(&self, token: &str, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Gives back one delivery still leased under `token`, not attempted (its listener
    /// lease lapsed before it was sent): pending and due at `now`.
    async fn release_delivery(
        &self,
        delivery_id: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

pub type SharedStore = Arc<dyn Store>;

#[derive(Debug, Clone, Default)]
pub struct ClaimLimits {
    pub limit: i64,
    /// For a webhook not in `remaining`.
    pub per_webhook: i64,
    /// Per webhook, how many more this instance may hold (its adaptive limit's room).
    pub remaining: Vec<(String, i64)>,
    pub skip_webhooks: Vec<String>,
    /// When set, only these webhooks' deliveries: those whose listener this instance
    /// owns (listener ownership; `None` on SQLite, one instance that owns all).
    pub only_webhooks: Option<std::sync::Arc<[String]>>,
}

impl ClaimLimits {
    /// The most any one webhook may get.
    pub fn largest_room(&self) -> i64 {
        self.remaining
            .iter()
            .map(|(_, n)| *n)
            .fold(self.per_webhook, i64::max)
    }
}

/// How the connection pool behaves.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a connection (PostgreSQL: while the server refuses
    /// connections, sqlx keeps retrying until then) before it is answered 503.
    pub acquire_timeout: std::time::Duration,
    /// PostgreSQL: how long the server keeps a transaction whose client has gone quiet
    /// (`idle_in_transaction_session_timeout`). An instance cut off mid-transaction
    /// holds its row locks, a listener's lease among them, until the server ends the
    /// session: without a bound the instance taking the listener over would wait for
    /// them as long as the cut lasts.
    pub idle_in_transaction_timeout: std::time::Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: std::time::Duration::from_secs(5),
            idle_in_transaction_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// Opens the store the URL names (`sqlite:` or `postgres:`) and applies its migrations.
pub async fn connect(database_url: &str, pool: &PoolSettings) -> StoreResult<SharedStore> {
    let store: SharedStore =
        if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
            Arc::new(postgres::PgStore::connect(database_url, pool).await?)
        } else if database_url.starts_with("sqlite:") {
            Arc::new(sqlite::SqliteStore::connect(database_url, pool).await?)
        } else {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                "database URL must start with sqlite: or postgres:".into(),
            )));
        };
    store.migrate().await?;
    Ok(store)
}

/// A unique key taken (or, for a write that names its parent, a missing parent) as a
/// conflict a client can act on.
fn constraint_error(err: sqlx::Error, conflict: &str) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() || db.is_foreign_key_violation() => {
            StoreError::Conflict {
                constraint: taken_key(db.as_ref()),
                message: conflict.to_string(),
            }
        }
        _ => StoreError::Database(err),
    }
}

/// A delete refused because rows still refer to the row.
fn in_use_error(err: sqlx::Error, in_use: &str) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::InUse(in_use.to_string())
        }
        _ => StoreError::Database(err),
    }
}

/// The unique key a violation is about, as `table.column`, on both backends: SQLite says
/// `UNIQUE constraint failed: apps.oauth_client_id`, PostgreSQL names the table and
/// says `Key (oauth_client_id)=(…) already exists.` in its detail.
fn taken_key(db: &dyn sqlx::error::DatabaseError) -> Option<String> {
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let column = pg.detail()?.strip_prefix("Key (")?.split(')').next()?;
        return Some(format!("{}.{}", pg.table()?, column));
    }
    let columns = db.message().strip_prefix("UNIQUE constraint failed: ")?;
    Some(columns.split(", ").next()?.to_string())
}

/// A write that names a missing parent row (foreign key) is the client's mistake.
fn not_found_on_reference(err: sqlx::Error, what: &str) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound(what.to_string())
        }
        _ => StoreError::Database(err),
    }
}
