//! Partner portal sessions, one-time portal links and platform console sessions. Tokens
//! are stored only as hashes, like partner keys. `portal_store!(Type)` implements
//! [`PortalStore`] for a [`Backend`](super::Backend).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSession {
    pub app_id: String,
    /// The partner key the session was opened with; `None` for a portal link.
    pub key_hash: Option<String>,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A platform console session: `key_hash` is the platform key's hash when it was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub key_hash: String,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait PortalStore: Send + Sync {
    async fn create_portal_session(&self, token_hash: &str, s: &PortalSession) -> StoreResult<()>;
    async fn get_portal_session(&self, token_hash: &str) -> StoreResult<Option<PortalSession>>;
    async fn delete_portal_session(&self, token_hash: &str) -> StoreResult<()>;
    async fn create_portal_link(
        &self,
        token_hash: &str,
        app_id: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Marks the link used and returns its app, when it was neither used nor expired:
    /// of two concurrent redemptions, one wins.
    async fn redeem_portal_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>>;
    async fn create_console_session(&self, token_hash: &str, s: &ConsoleSession)
        -> StoreResult<()>;
    async fn get_console_session(&self, token_hash: &str) -> StoreResult<Option<ConsoleSession>>;
    async fn delete_console_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Deletes sessions and links that can no longer be used; how many.
    async fn prune_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

#[derive(sqlx::FromRow)]
pub(crate) struct PortalSessionRow {
    app_id: String,
    key_hash: Option<String>,
    csrf_token: String,
    created_at: i64,
    expires_at: i64,
}

impl From<PortalSessionRow> for PortalSession {
    fn from(r: PortalSessionRow) -> Self {
        Self {
            app_id: r.app_id,
            key_hash: r.key_hash,
            csrf_token: r.csrf_token,
            created_at: crate::clock::from_millis(r.created_at),
            expires_at: crate::clock::from_millis(r.expires_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConsoleSessionRow {
    key_hash: String,
    csrf_token: String,
    created_at: i64,
    expires_at: i64,
}

impl From<ConsoleSessionRow> for ConsoleSession {
    fn from(r: ConsoleSessionRow) -> Self {
        Self {
            key_hash: r.key_hash,
            csrf_token: r.csrf_token,
            created_at: crate::clock::from_millis(r.created_at),
            expires_at: crate::clock::from_millis(r.expires_at),
        }
    }
}

macro_rules! portal_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::portal::PortalStore for $store {
            async fn create_portal_session(
                &self,
                token_hash: &str,
                s: &$crate::store::portal::PortalSession,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO portal_sessions \
                     (token_hash, app_id, key_hash, csrf_token, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(token_hash)
                .bind(&s.app_id)
                .bind(&s.key_hash)
                .bind(&s.csrf_token)
                .bind(to_millis(s.created_at))
                .bind(to_millis(s.expires_at))
                .execute($crate::store::Backend::pool(self))
                .await
                .map_err(|e| $crate::store::not_found_on_reference(e, "unknown app"))?;
                Ok(())
            }

            async fn get_portal_session(
                &self,
                token_hash: &str,
            ) -> StoreResult<Option<$crate::store::portal::PortalSession>> {
                let row = sqlx::query_as::<
                    <$store as $crate::store::Backend>::Db,
                    $crate::store::portal::PortalSessionRow,
                >(
                    "SELECT app_id, key_hash, csrf_token, created_at, expires_at \
                     FROM portal_sessions WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional($crate::store::Backend::pool(self))
                .await?;
                Ok(row.map(Into::into))
            }

            async fn delete_portal_session(&self, token_hash: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM portal_sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute($crate::store::Backend::pool(self))
                    .await?;
                Ok(())
            }

            async fn create_portal_link(
                &self,
                token_hash: &str,
                app_id: &str,
                now: DateTime<Utc>,
                expires_at: DateTime<Utc>,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO portal_links (token_hash, app_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(token_hash)
                .bind(app_id)
                .bind(to_millis(now))
                .bind(to_millis(expires_at))
                .execute($crate::store::Backend::pool(self))
                .await
                .map_err(|e| $crate::store::not_found_on_reference(e, "unknown app"))?;
                Ok(())
            }

            async fn redeem_portal_link(
                &self,
                token_hash: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<String>> {
                let app: Option<String> = sqlx::query_scalar(
                    "UPDATE portal_links SET used_at = $1 \
                     WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
                     RETURNING app_id",
                )
                .bind(to_millis(now))
                .bind(token_hash)
                .fetch_optional($crate::store::Backend::pool(self))
                .await?;
                Ok(app)
            }

            async fn create_console_session(
                &self,
                token_hash: &str,
                s: &$crate::store::portal::ConsoleSession,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO console_sessions \
                     (token_hash, key_hash, csrf_token, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(token_hash)
                .bind(&s.key_hash)
                .bind(&s.csrf_token)
                .bind(to_millis(s.created_at))
                .bind(to_millis(s.expires_at))
                .execute($crate::store::Backend::pool(self))
                .await?;
                Ok(())
            }

            async fn get_console_session(
                &self,
                token_hash: &str,
            ) -> StoreResult<Option<$crate::store::portal::ConsoleSession>> {
                let row = sqlx::query_as::<
                    <$store as $crate::store::Backend>::Db,
                    $crate::store::portal::ConsoleSessionRow,
                >(
                    "SELECT key_hash, csrf_token, created_at, expires_at \
                     FROM console_sessions WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional($crate::store::Backend::pool(self))
                .await?;
                Ok(row.map(Into::into))
            }

            async fn delete_console_session(&self, token_hash: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute($crate::store::Backend::pool(self))
                    .await?;
                Ok(())
            }
            async fn prune_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
                let mut pruned = 0;
                for sql in [
                    "DELETE FROM portal_sessions WHERE expires_at <= $1",
                    "DELETE FROM console_sessions WHERE expires_at <= $1",
                    "DELETE FROM portal_links WHERE expires_at <= $1 OR used_at IS NOT NULL",
                ] {
                    let done = sqlx::query(sql)
                        .bind(to_millis(now))
                        .execute($crate::store::Backend::pool(self))
                        .await?;
                    pruned += done.rows_affected();
                }
                Ok(pruned)
            }
        }
    };
}
