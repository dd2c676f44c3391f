//! Health monitoring's storage: streak state, evaluation ticks, and the notification
//! outbox. `health_store!(Type)` implements [`HealthStore`] for a [`Backend`](super::Backend).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::clock::from_millis;
use crate::domain::health::{Backlog, HealthState, Severity, Status, WindowFigures};
use crate::domain::health::{HealthChange, HealthInput, Reactivated, WebhookHealth};
use crate::domain::notification::Notification;

#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Records that `instance` evaluates the tick; false when another instance already does.
    async fn claim_tick(
        &self,
        tick_at: DateTime<Utc>,
        instance: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Every active webhook, its streak state, and its attempts in `[since, until]`.
    async fn health_inputs(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<HealthInput>>;
    /// Writes the new state, deactivates the webhook when the state says so (its pending
    /// deliveries become held), and queues the notification, all in one transaction.
    async fn save_health(&self, change: &HealthChange) -> StoreResult<()>;
    async fn get_health(&self, webhook_id: &str) -> StoreResult<Option<WebhookHealth>>;
    /// Re-activates a deactivated webhook. `replay` releases held deliveries (and, with
    /// `include_failed`, those that failed for good since the streak began); otherwise
    /// they are skipped. None when the webhook was not deactivated.
    async fn reactivate(
        &self,
        webhook_id: &str,
        replay: bool,
        include_failed: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Reactivated>>;
    async fn list_notifications(
        &self,
        app_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Notification>>;
    /// Outbox rows not sent yet.
    async fn outbox_backlog(&self) -> StoreResult<i64>;
    /// What the webhook has waiting at `now`, with its top tenants by deliveries due.
    async fn webhook_backlog(&self, webhook_id: &str, now: DateTime<Utc>) -> StoreResult<Backlog>;
    /// The webhooks with the most deliveries due at `now`: (app id, webhook id, due), most
    /// first, at most `limit`.
    async fn largest_backlogs(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(String, String, i64)>>;
    /// Every webhook's health as last evaluated: (app id, webhook id, status, window rate).
    async fn health_overview(&self) -> StoreResult<Vec<(String, String, Status, Option<f64>)>>;
}

pub const HEALTH_INPUTS: &str = "SELECT w.id AS webhook_id, w.app_id, a.name AS app_name, w.url, \
     h.status, h.failure_since, h.warned, f.attempts, f.failures, f.first_failure_at \
     FROM webhooks w JOIN apps a ON a.id = w.app_id \
     LEFT JOIN webhook_health h ON h.webhook_id = w.id \
     LEFT JOIN (SELECT webhook_id, COUNT(*) AS attempts, \
                SUM(CASE WHEN outcome <> 'success' THEN 1 ELSE 0 END) AS failures, \
                MIN(CASE WHEN outcome <> 'success' THEN started_at END) AS first_failure_at \
                FROM attempts WHERE started_at >= $1 AND started_at <= $2 GROUP BY webhook_id) f \
       ON f.webhook_id = w.id \
     WHERE w.state = 'active' ORDER BY w.id";

#[derive(sqlx::FromRow)]
pub struct HealthInputRow {
    webhook_id: String,
    app_id: String,
    app_name: String,
    url: String,
    status: Option<String>,
    failure_since: Option<i64>,
    warned: Option<i64>,
    attempts: Option<i64>,
    failures: Option<i64>,
    first_failure_at: Option<i64>,
}

impl From<HealthInputRow> for HealthInput {
    fn from(r: HealthInputRow) -> Self {
        HealthInput {
            state: HealthState {
                // Never evaluated yet: healthy.
                status: r
                    .status
                    .as_deref()
                    .and_then(Status::parse)
                    .unwrap_or(Status::Healthy),
                failure_since: r.failure_since.map(from_millis),
                warned: r.warned.unwrap_or(0) != 0,
            },
            window: WindowFigures {
                attempts: r.attempts.unwrap_or(0),
                failures: r.failures.unwrap_or(0),
                first_failure_at: r.first_failure_at.map(from_millis),
            },
            webhook_id: r.webhook_id,
            app_id: r.app_id,
            app_name: r.app_name,
            url: r.url,
        }
    }
}

pub const HEALTH_COLUMNS: &str =
    "webhook_id, status, failure_since, warned, last_evaluated_at, window_attempts, window_failures";

#[derive(sqlx::FromRow)]
pub struct HealthRow {
    webhook_id: String,
    status: String,
    failure_since: Option<i64>,
    warned: i64,
    last_evaluated_at: Option<i64>,
    window_attempts: i64,
    window_failures: i64,
}

impl From<HealthRow> for WebhookHealth {
    fn from(r: HealthRow) -> Self {
        WebhookHealth {
            webhook_id: r.webhook_id,
            state: Status::parse(&r.status).unwrap_or(Status::Healthy),
            failure_since: r.failure_since.map(from_millis),
            warned: r.warned != 0,
            last_evaluated_at: r.last_evaluated_at.map(from_millis),
            window_attempts: r.window_attempts,
            window_failures: r.window_failures,
            window_failure_rate: (r.window_attempts > 0)
                .then(|| r.window_failures as f64 / r.window_attempts as f64),
        }
    }
}

pub const NOTIFICATION_COLUMNS: &str =
    "id, app_id, webhook_id, severity, body, created_at, sent_at, publish_attempts, last_error";

#[derive(sqlx::FromRow)]
pub struct NotificationRow {
    id: String,
    app_id: String,
    webhook_id: String,
    severity: String,
    body: String,
    created_at: i64,
    sent_at: Option<i64>,
    publish_attempts: i64,
    last_error: Option<String>,
}

impl TryFrom<NotificationRow> for Notification {
    type Error = super::StoreError;
    fn try_from(r: NotificationRow) -> Result<Self, Self::Error> {
        let severity =
            serde_json::from_value::<Severity>(serde_json::Value::String(r.severity.clone()))
                .map_err(|_| super::StoreError::Corrupt(format!("severity {:?}", r.severity)))?;
        Ok(Notification {
            body: serde_json::from_str(&r.body)
                .map_err(|e| super::StoreError::Corrupt(format!("notification body: {e}")))?,
            severity,
            id: r.id,
            app_id: r.app_id,
            webhook_id: r.webhook_id,
            created_at: from_millis(r.created_at),
            sent_at: r.sent_at.map(from_millis),
            publish_attempts: r.publish_attempts,
            last_error: r.last_error,
            sends: Vec::new(),
        })
    }
}

macro_rules! health_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::health::HealthStore for $store {
            async fn claim_tick(&self, tick_at: DateTime<Utc>, instance: &str, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO evaluation_ticks (tick_at, instance, started_at) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(to_millis(tick_at))
                .bind(instance)
                .bind(to_millis(now))
                .execute($crate::store::Backend::pool(self))
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn health_inputs(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<Vec<HealthInput>> {
                Ok(sqlx::query_as::<<$store as $crate::store::Backend>::Db, HealthInputRow>(HEALTH_INPUTS)
                    .bind(to_millis(since))
                    .bind(to_millis(until))
                    .fetch_all($crate::store::Backend::pool(self))
                    .await?
                    .into_iter()
                    .map(HealthInput::from)
                    .collect())
            }

            async fn save_health(&self, c: &HealthChange) -> StoreResult<()> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                let now = to_millis(c.evaluated_at);
                sqlx::query(&format!(
                    "INSERT INTO webhook_health ({HEALTH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (webhook_id) DO UPDATE SET status = $2, failure_since = $3, \
                     warned = $4, last_evaluated_at = $5, window_attempts = $6, window_failures = $7"
                ))
                .bind(&c.webhook_id)
                .bind(c.state.status.as_str())
                .bind(c.state.failure_since.map(to_millis))
                .bind(i64::from(c.state.warned))
                .bind(now)
                .bind(c.window.attempts)
                .bind(c.window.failures)
                .execute(&mut *tx)
                .await?;
                if c.state.status == Status::Deactivated {
                    sqlx::query("UPDATE webhooks SET state = 'deactivated', updated_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(&c.webhook_id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE deliveries SET state = 'held', due_at = NULL, fair_tag = NULL, updated_at = $1 \
                         WHERE webhook_id = $2 AND state = 'pending'",
                    )
                    .bind(now)
                    .bind(&c.webhook_id)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some(n) = &c.notification {
                    sqlx::query(
                        "INSERT INTO notifications (id, app_id, webhook_id, severity, body, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&n.id)
                    .bind(&n.app_id)
                    .bind(&n.webhook_id)
                    .bind(n.severity.as_str())
                    .bind(n.body.to_string())
                    .bind(to_millis(n.created_at))
                    .execute(&mut *tx)
                    .await?;
                    // One outbox row per destination that wants it, and the platform's.
                    sqlx::query(
                        "INSERT INTO notification_sends (notification_id, destination_id, created_at, due_at) \
                         SELECT $1, d.id, $2, $2 FROM notification_destinations d \
                         WHERE d.app_id = $3 AND (',' || d.severities || ',') LIKE ('%,' || $4 || ',%')",
                    )
                    .bind(&n.id)
                    .bind(to_millis(n.created_at))
                    .bind(&n.app_id)
                    .bind(n.severity.as_str())
                    .execute(&mut *tx)
                    .await?;
                    if c.platform_copy {
                        sqlx::query(
                            "INSERT INTO notification_sends (notification_id, destination_id, created_at, due_at) \
                             VALUES ($1, $2, $3, $3)",
                        )
                        .bind(&n.id)
                        .bind($crate::domain::destination::PLATFORM)
                        .bind(to_millis(n.created_at))
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_health(&self, webhook_id: &str) -> StoreResult<Option<WebhookHealth>> {
                let sql = format!("SELECT {HEALTH_COLUMNS} FROM webhook_health WHERE webhook_id = $1");
                Ok(sqlx::query_as::<<$store as $crate::store::Backend>::Db, HealthRow>(&sql)
                    .bind(webhook_id)
                    .fetch_optional($crate::store::Backend::pool(self))
                    .await?
                    .map(WebhookHealth::from))
            }

            async fn reactivate(
                &self,
                webhook_id: &str,
                replay: bool,
                include_failed: bool,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<Reactivated>> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                let now = to_millis(now);
                let flipped = sqlx::query(
                    "UPDATE webhooks SET state = 'active', updated_at = $1 WHERE id = $2 AND state = 'deactivated'",
                )
                .bind(now)
                .bind(webhook_id)
                .execute(&mut *tx)
                .await?;
                if flipped.rows_affected() == 0 {
                    return Ok(None);
                }
                let streak_start: Option<i64> = sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, Option<i64>>(
                    "SELECT failure_since FROM webhook_health WHERE webhook_id = $1",
                )
                .bind(webhook_id)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
                sqlx::query(
                    "UPDATE webhook_health SET status = 'healthy', failure_since = NULL, warned = 0 \
                     WHERE webhook_id = $1",
                )
                .bind(webhook_id)
                .execute(&mut *tx)
                .await?;
                // Released deliveries start a fresh retry schedule.
                let release = format!("{REQUEUE} WHERE webhook_id = $2");
                let (released, skipped) = if replay {
                    let mut released = sqlx::query(&format!("{release} AND state = 'held'{STILL_INSTALLED}"))
                        .bind(now)
                        .bind(webhook_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if let (true, Some(since)) = (include_failed, streak_start) {
                        released += sqlx::query(&format!(
                            "{REQUEUE}{OUT_OF_BAND} WHERE webhook_id = $2 AND state = 'failed' \
                             AND updated_at >= $3{STILL_INSTALLED}"
                        ))
                        .bind(now)
                        .bind(webhook_id)
                        .bind(since)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    }
                    (released, 0)
                } else {
                    let skipped = sqlx::query(
                        "UPDATE deliveries SET state = 'skipped', skip_reason = $3, updated_at = $1 \
                         WHERE webhook_id = $2 AND state IN ('held', 'waiting')",
                    )
                    .bind(now)
                    .bind(webhook_id)
                    .bind(SKIPPED_AT_REACTIVATION)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    (0, skipped)
                };
                tx.commit().await?;
                if released > 0 {
                    self.untagged.wrote(now);
                }
                Ok(Some(Reactivated { released, skipped }))
            }

            async fn list_notifications(&self, app_id: Option<&str>, limit: i64) -> StoreResult<Vec<Notification>> {
                let sql = format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE ($1 IS NULL OR app_id = $1) \
                     ORDER BY created_at DESC, id DESC LIMIT $2"
                );
                let mut notifications = sqlx::query_as::<<$store as $crate::store::Backend>::Db, NotificationRow>(&sql)
                    .bind(app_id)
                    .bind(limit)
                    .fetch_all($crate::store::Backend::pool(self))
                    .await?
                    .into_iter()
                    .map(Notification::try_from)
                    .collect::<StoreResult<Vec<_>>>()?;
                let Some(oldest) = notifications.last().map(|n| to_millis(n.created_at)) else {
                    return Ok(notifications);
                };
                // The rows of the notifications listed: those of their app since the oldest.
                let sql = format!(
                    "SELECT {} FROM notification_sends s JOIN notifications n ON n.id = s.notification_id \
                     WHERE ($1 IS NULL OR n.app_id = $1) AND s.created_at >= $2 \
                     ORDER BY s.destination_id",
                    $crate::store::outbox::SEND_COLUMNS
                        .split(", ")
                        .map(|c| format!("s.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let rows = sqlx::query_as::<<$store as $crate::store::Backend>::Db, $crate::store::outbox::SendRow>(&sql)
                    .bind(app_id)
                    .bind(oldest)
                    .fetch_all($crate::store::Backend::pool(self))
                    .await?;
                let mut by_notification: std::collections::HashMap<String, Vec<_>> = Default::default();
                for row in rows {
                    let id = row.notification_id.clone();
                    by_notification
                        .entry(id)
                        .or_default()
                        .push($crate::domain::notification::NotificationSend::try_from(row)?);
                }
                for n in &mut notifications {
                    n.sends = by_notification.remove(&n.id).unwrap_or_default();
                }
                Ok(notifications)
            }

            async fn health_overview(&self) -> StoreResult<Vec<(String, String, Status, Option<f64>)>> {
                let rows = sqlx::query_as::<<$store as $crate::store::Backend>::Db, (String, String, String, Option<String>, Option<i64>, Option<i64>)>(
                    "SELECT w.app_id, w.id, w.state, h.status, h.window_attempts, h.window_failures \
                     FROM webhooks w LEFT JOIN webhook_health h ON h.webhook_id = w.id",
                )
                .fetch_all($crate::store::Backend::pool(self))
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(app_id, webhook_id, webhook_state, status, attempts, failures)| {
                        let status = if webhook_state == "deactivated" {
                            Status::Deactivated
                        } else {
                            status.as_deref().and_then(Status::parse).unwrap_or(Status::Healthy)
                        };
                        let rate = match (attempts, failures) {
                            (Some(a), Some(f)) if a > 0 => Some(f as f64 / a as f64),
                            _ => None,
                        };
                        (app_id, webhook_id, status, rate)
                    })
                    .collect())
            }

            async fn webhook_backlog(&self, webhook_id: &str, now: DateTime<Utc>) -> StoreResult<$crate::domain::health::Backlog> {
                let pool = $crate::store::Backend::pool(self);
                // Each on a partial index (the webhook's due range, its held rows), never
                // on the webhook's whole history.
                let (due, scheduled): (i64, i64) =
                    sqlx::query_as::<<$store as $crate::store::Backend>::Db, (i64, i64)>(
                        "SELECT \
                         COALESCE(SUM(CASE WHEN due_at <= $2 THEN 1 ELSE 0 END), 0), \
                         COALESCE(SUM(CASE WHEN due_at > $2 THEN 1 ELSE 0 END), 0) \
                         FROM deliveries WHERE webhook_id = $1 AND due_at IS NOT NULL AND state = 'pending'",
                    )
                    .bind(webhook_id)
                    .bind(to_millis(now))
                    .fetch_one(pool)
                    .await?;
                let held: i64 = sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, i64>(
                    "SELECT COUNT(*) FROM deliveries WHERE webhook_id = $1 AND state = 'held'",
                )
                .bind(webhook_id)
                .fetch_one(pool)
                .await?;
                let top: Vec<(String, i64)> = sqlx::query_as::<<$store as $crate::store::Backend>::Db, (String, i64)>(
                    "SELECT tenant_id, COUNT(*) FROM deliveries \
                     WHERE webhook_id = $1 AND due_at IS NOT NULL AND due_at <= $2 AND state = 'pending' \
                     GROUP BY tenant_id ORDER BY COUNT(*) DESC, tenant_id LIMIT $3",
                )
                .bind(webhook_id)
                .bind(to_millis(now))
                .bind($crate::domain::health::TOP_TENANTS)
                .fetch_all(pool)
                .await?;
                Ok($crate::domain::health::Backlog {
                    due,
                    scheduled,
                    held,
                    top_tenants: top
                        .into_iter()
                        .map(|(tenant_id, due)| $crate::domain::health::TenantBacklog { tenant_id, due })
                        .collect(),
                })
            }

            async fn largest_backlogs(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<(String, String, i64)>> {
                Ok(sqlx::query_as::<<$store as $crate::store::Backend>::Db, (String, String, i64)>(
                    "SELECT w.app_id, d.webhook_id, COUNT(*) FROM deliveries d \
                     JOIN webhooks w ON w.id = d.webhook_id \
                     WHERE d.due_at IS NOT NULL AND d.due_at <= $1 AND d.state = 'pending' \
                     GROUP BY w.app_id, d.webhook_id ORDER BY COUNT(*) DESC, d.webhook_id LIMIT $2",
                )
                .bind(to_millis(now))
                .bind(limit)
                .fetch_all($crate::store::Backend::pool(self))
                .await?)
            }

            async fn outbox_backlog(&self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, i64>("SELECT COUNT(*) FROM notification_sends WHERE state = 'pending'")
                    .fetch_one($crate::store::Backend::pool(self))
                    .await?)
            }
        }
    };
}
