//! Rows as both backends return them (TEXT, BIGINT), and their conversion into the
//! domain types. Column lists live next to the structs so SELECTs cannot drift from them.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::clock::from_millis;
use crate::domain::model::{
    App, Attempt, ClaimedDelivery, Delivery, DeliveryState, Environment, Installation,
    InstallationState, Tenant, Webhook, WebhookState,
};
use crate::domain::ordering::Ordering;
use crate::domain::retry::{AttemptClass, RetryPolicy};

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}

fn parse_enum<T>(what: &str, value: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(value).ok_or_else(|| corrupt(what, value))
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, value: &str) -> Result<T, StoreError> {
    serde_json::from_str(value).map_err(|e| corrupt(what, &e.to_string()))
}

fn opt_time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.map(from_millis)
}

pub const TENANT_COLUMNS: &str = "id, name, environment, created_at";

#[derive(sqlx::FromRow)]
pub struct TenantRow {
    id: String,
    name: String,
    environment: String,
    created_at: i64,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> Result<Self, StoreError> {
        Ok(Tenant {
            environment: parse_enum("environment", &r.environment, Environment::parse)?,
            id: r.id,
            name: r.name,
            created_at: from_millis(r.created_at),
        })
    }
}

pub const APP_COLUMNS: &str = "id, name, oauth_client_id, created_at";

#[derive(sqlx::FromRow)]
pub struct AppRow {
    id: String,
    name: String,
    oauth_client_id: Option<String>,
    created_at: i64,
}

impl From<AppRow> for App {
    fn from(r: AppRow) -> Self {
        App {
            id: r.id,
            name: r.name,
            oauth_client_id: r.oauth_client_id,
            created_at: from_millis(r.created_at),
        }
    }
}

pub const INSTALLATION_COLUMNS: &str =
    "id, tenant_id, app_id, state, delivery_weight, created_at, revoked_at";

#[derive(sqlx::FromRow)]
pub struct InstallationRow {
    id: String,
    tenant_id: String,
    app_id: String,
    state: String,
    delivery_weight: i64,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<InstallationRow> for Installation {
    type Error = StoreError;
    fn try_from(r: InstallationRow) -> Result<Self, StoreError> {
        Ok(Installation {
            state: parse_enum("installation state", &r.state, InstallationState::parse)?,
            id: r.id,
            tenant_id: r.tenant_id,
            app_id: r.app_id,
            delivery_weight: r.delivery_weight,
            created_at: from_millis(r.created_at),
            revoked_at: opt_time(r.revoked_at),
        })
    }
}

pub const WEBHOOK_COLUMNS: &str = "id, app_id, url, description, environment, event_types, \
     secret, headers, timeout_ms, retry_policy, state, created_at, updated_at, previous_secret, \
     previous_secret_expires_at, rate_limit_per_second, max_concurrency, ordering";

#[derive(sqlx::FromRow)]
pub struct WebhookRow {
    id: String,
    app_id: String,
    url: String,
    description: String,
    environment: String,
    event_types: String,
    secret: String,
    headers: String,
    timeout_ms: i64,
    retry_policy: String,
    state: String,
    created_at: i64,
    updated_at: i64,
    previous_secret: Option<String>,
    previous_secret_expires_at: Option<i64>,
    rate_limit_per_second: Option<i64>,
    max_concurrency: Option<i64>,
    ordering: String,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;
    fn try_from(r: WebhookRow) -> Result<Self, StoreError> {
        Ok(Webhook {
            environment: parse_enum("environment", &r.environment, Environment::parse)?,
            event_types: parse_json("event_types", &r.event_types)?,
            headers: parse_json("headers", &r.headers)?,
            retry_policy: parse_json::<RetryPolicy>("retry_policy", &r.retry_policy)?,
            state: parse_enum("webhook state", &r.state, WebhookState::parse)?,
            ordering: parse_enum("ordering", &r.ordering, Ordering::parse)?,
            id: r.id,
            app_id: r.app_id,
            url: r.url,
            description: r.description,
            secret: r.secret,
            previous_secret: r.previous_secret,
            previous_secret_expires_at: opt_time(r.previous_secret_expires_at),
            rate_limit_per_second: r.rate_limit_per_second,
            max_concurrency: r.max_concurrency,
            timeout_ms: r.timeout_ms,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        })
    }
}

pub const DELIVERY_COLUMNS: &str = "id, event_id, event_type, webhook_id, installation_id, \
     app_id, tenant_id, state, attempt_count, due_at, first_failure_at, last_attempt_at, created_at, \
     skip_reason, sequence, \
     (SELECT e.ordering_key FROM events e WHERE e.id = deliveries.event_id) AS event_ordering_key, \
     CASE WHEN state = 'waiting' THEN (SELECT h.id FROM deliveries h \
         WHERE h.webhook_id = deliveries.webhook_id AND h.tenant_id = deliveries.tenant_id \
         AND h.ordering_key = deliveries.ordering_key AND h.ordering_key IS NOT NULL \
         AND h.state IN ('pending', 'in_flight', 'held') ORDER BY h.sequence LIMIT 1) END \
         AS waiting_for";

#[derive(sqlx::FromRow)]
pub struct DeliveryRow {
    id: String,
    event_id: String,
    event_type: String,
    webhook_id: String,
    installation_id: String,
    app_id: String,
    tenant_id: String,
    state: String,
    attempt_count: i64,
    due_at: Option<i64>,
    first_failure_at: Option<i64>,
    last_attempt_at: Option<i64>,
    created_at: i64,
    skip_reason: Option<String>,
    sequence: Option<i64>,
    event_ordering_key: Option<String>,
    waiting_for: Option<String>,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;
    fn try_from(r: DeliveryRow) -> Result<Self, StoreError> {
        let state = parse_enum("delivery state", &r.state, DeliveryState::parse)?;
        Ok(Delivery {
            // For an in-flight delivery due_at is the lease expiry, not an attempt time.
            next_attempt_at: match state {
                DeliveryState::Pending => opt_time(r.due_at),
                _ => None,
            },
            state,
            id: r.id,
            event_id: r.event_id,
            event_type: r.event_type,
            webhook_id: r.webhook_id,
            installation_id: r.installation_id,
            app_id: r.app_id,
            tenant_id: r.tenant_id,
            attempt_count: r.attempt_count,
            first_failure_at: opt_time(r.first_failure_at),
            last_attempt_at: opt_time(r.last_attempt_at),
            created_at: from_millis(r.created_at),
            skip_reason: r.skip_reason,
            ordering_key: r.event_ordering_key,
            sequence: r.sequence,
            waiting_for: r.waiting_for,
        })
    }
}

pub const ATTEMPT_COLUMNS: &str = "id, delivery_id, webhook_id, attempt_number, started_at, \
     latency_ms, outcome, status_code, error, response_excerpt, retry_after_at";

#[derive(sqlx::FromRow)]
pub struct AttemptRow {
    id: String,
    delivery_id: String,
    webhook_id: String,
    attempt_number: i64,
    started_at: i64,
    latency_ms: i64,
    outcome: String,
    status_code: Option<i64>,
    error: Option<String>,
    response_excerpt: Option<String>,
    retry_after_at: Option<i64>,
}

impl TryFrom<AttemptRow> for Attempt {
    type Error = StoreError;
    fn try_from(r: AttemptRow) -> Result<Self, StoreError> {
        Ok(Attempt {
            outcome: parse_enum("attempt outcome", &r.outcome, AttemptClass::parse)?,
            id: r.id,
            delivery_id: r.delivery_id,
            webhook_id: r.webhook_id,
            attempt_number: r.attempt_number,
            started_at: from_millis(r.started_at),
            latency_ms: r.latency_ms,
            status_code: r.status_code,
            error: r.error,
            response_excerpt: r.response_excerpt,
            retry_after_at: opt_time(r.retry_after_at),
        })
    }
}

/// Queues a delivery again, due at `$1`, with a fresh retry schedule. Callers add their
/// `WHERE` and then [`STILL_INSTALLED`].
pub const REQUEUE: &str = "UPDATE deliveries SET state = 'pending', due_at = $1, updated_at = $1, \
     fair_tag = NULL, retry_base = attempt_count, first_failure_at = NULL, skip_reason = NULL";

/// Appended to [`REQUEUE`] for a delivery queued again out of its key's order (a resend,
/// a replay of failed ones): it no longer holds its key, nor waits for it. A held one
/// released at reactivation keeps its place.
pub const OUT_OF_BAND: &str = ", ordering_key = NULL";

/// A delivery whose tenant uninstalled the app is never queued again: the partner gets
/// nothing more of that tenant's data.
pub const STILL_INSTALLED: &str = " AND NOT EXISTS (SELECT 1 FROM installations i \
     WHERE i.id = deliveries.installation_id AND i.state = 'revoked')";

/// Everything a worker needs to send one leased delivery, in one join. `$deliveries` is
/// the leased rows as `d` (the table, or the claim's `RETURNING` on PostgreSQL), `$token`
/// the lease token's parameter. `$events` is the events table as `e`: SQLite pins its
/// primary-key index there, because statistics gathered while the table was small
/// (ANALYZE, `PRAGMA optimize`) make its planner scan the whole table once per delivery
/// as the table grows (BENCHMARKS.md, scenario 4).
macro_rules! claimed_select {
    ($deliveries:literal, $events:literal, $token:literal) => {
        concat!(
            "SELECT d.id AS delivery_id, d.lease_token, d.attempt_count, d.retry_base, \
             d.first_failure_at, d.event_id, e.event_type, e.occurred_at, e.data, d.tenant_id, \
             t.name AS tenant_name, d.installation_id, d.app_id, d.webhook_id, w.url, w.secret, \
             w.previous_secret, w.previous_secret_expires_at, w.headers, w.timeout_ms, \
             w.retry_policy, w.rate_limit_per_second, w.max_concurrency, e.traceparent, \
             e.ordering_key, d.sequence, d.ordering_key IS NOT NULL AS ordered \
             FROM ",
            $deliveries,
            " d JOIN ",
            $events,
            " ON e.id = d.event_id \
             JOIN tenants t ON t.id = d.tenant_id \
             JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.lease_token = ",
            $token
        )
    };
}
pub(crate) use claimed_select;

#[derive(sqlx::FromRow)]
pub struct ClaimedRow {
    delivery_id: String,
    lease_token: String,
    attempt_count: i64,
    retry_base: i64,
    first_failure_at: Option<i64>,
    event_id: String,
    event_type: String,
    occurred_at: i64,
    data: String,
    tenant_id: String,
    tenant_name: String,
    installation_id: String,
    app_id: String,
    webhook_id: String,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_expires_at: Option<i64>,
    headers: String,
    timeout_ms: i64,
    retry_policy: String,
    rate_limit_per_second: Option<i64>,
    max_concurrency: Option<i64>,
    traceparent: Option<String>,
    ordering_key: Option<String>,
    sequence: Option<i64>,
    ordered: bool,
}

impl TryFrom<ClaimedRow> for ClaimedDelivery {
    type Error = StoreError;
    fn try_from(r: ClaimedRow) -> Result<Self, StoreError> {
        Ok(ClaimedDelivery {
            headers: parse_json("headers", &r.headers)?,
            retry_policy: parse_json("retry_policy", &r.retry_policy)?,
            delivery_id: r.delivery_id,
            lease_token: r.lease_token,
            attempt_count: r.attempt_count,
            retry_base: r.retry_base,
            first_failure_at: opt_time(r.first_failure_at),
            event_id: r.event_id,
            event_type: r.event_type,
            occurred_at: from_millis(r.occurred_at),
            data: r.data,
            tenant_id: r.tenant_id,
            tenant_name: r.tenant_name,
            installation_id: r.installation_id,
            app_id: r.app_id,
            webhook_id: r.webhook_id,
            url: r.url,
            secret: r.secret,
            previous_secret: r.previous_secret,
            previous_secret_expires_at: opt_time(r.previous_secret_expires_at),
            rate_limit_per_second: r.rate_limit_per_second,
            max_concurrency: r.max_concurrency,
            timeout_ms: r.timeout_ms,
            traceparent: r.traceparent,
            fence: None,
            ordering_key: r.ordering_key,
            sequence: r.sequence,
            ordered: r.ordered,
        })
    }
}

/// Candidate webhooks for an event's fan-out: active installations of the tenant's apps
/// with webhooks in the tenant's environment. The event-type filter is applied in Rust.
#[derive(sqlx::FromRow)]
pub struct FanoutRow {
    pub tenant_id: String,
    pub webhook_id: String,
    pub app_id: String,
    pub event_types: String,
    pub state: String,
    pub installation_id: String,
    // What sending needs, for deliveries the publish leases to this instance.
    pub tenant_name: String,
    pub url: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub headers: String,
    pub timeout_ms: i64,
    pub retry_policy: String,
    pub rate_limit_per_second: Option<i64>,
    pub max_concurrency: Option<i64>,
    pub ordering: String,
    pub delivery_weight: i64,
    // The webhook's fair queue as the publish finds it (`domain::fair_share`).
    pub lowest_waiting: Option<i64>,
    pub latest_finish: Option<i64>,
    pub tenant_finish: Option<i64>,
}

impl FanoutRow {
    pub fn event_types(&self) -> Result<Vec<String>, StoreError> {
        parse_json("event_types", &self.event_types)
    }

    /// The delivery `d` of `event`, leased under `lease_token`, ready to send.
    pub fn leased(
        &self,
        event: &crate::domain::model::NewEvent,
        delivery_id: &str,
        lease_token: &str,
        sequence: Option<i64>,
    ) -> Result<ClaimedDelivery, StoreError> {
        Ok(ClaimedDelivery {
            delivery_id: delivery_id.to_string(),
            lease_token: lease_token.to_string(),
            attempt_count: 0,
            retry_base: 0,
            first_failure_at: None,
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            occurred_at: event.occurred_at,
            data: event.data.clone(),
            tenant_id: event.tenant_id.clone(),
            tenant_name: self.tenant_name.clone(),
            installation_id: self.installation_id.clone(),
            app_id: self.app_id.clone(),
            webhook_id: self.webhook_id.clone(),
            url: self.url.clone(),
            secret: self.secret.clone(),
            previous_secret: self.previous_secret.clone(),
            previous_secret_expires_at: opt_time(self.previous_secret_expires_at),
            headers: parse_json("headers", &self.headers)?,
            timeout_ms: self.timeout_ms,
            retry_policy: parse_json("retry_policy", &self.retry_policy)?,
            rate_limit_per_second: self.rate_limit_per_second,
            max_concurrency: self.max_concurrency,
            traceparent: event.traceparent.clone(),
            fence: None,
            ordering_key: event.ordering_key.clone(),
            sequence,
            ordered: sequence.is_some(),
        })
    }
}

pub const EVENT_SUMMARY_COLUMNS: &str = "id, event_type, tenant_id, occurred_at, received_at, \
     request_hash, (SELECT COUNT(*) FROM deliveries WHERE event_id = events.id) AS deliveries";

#[derive(sqlx::FromRow)]
pub struct EventSummaryRow {
    pub id: String,
    pub event_type: String,
    pub tenant_id: String,
    pub occurred_at: i64,
    pub received_at: i64,
    pub request_hash: String,
    pub deliveries: i64,
}

impl From<EventSummaryRow> for crate::domain::model::EventSummary {
    fn from(r: EventSummaryRow) -> Self {
        crate::domain::model::EventSummary {
            id: r.id,
            event_type: r.event_type,
            tenant_id: r.tenant_id,
            occurred_at: from_millis(r.occurred_at),
            received_at: from_millis(r.received_at),
            deliveries: r.deliveries,
            deliveries_by_app: Vec::new(),
            leased: 0,
            queued_webhooks: Vec::new(),
        }
    }
}
