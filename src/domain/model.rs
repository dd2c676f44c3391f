//! The domain vocabulary of DESIGN.md: tenants, partner apps, installations, partner
//! webhooks, events, deliveries and attempts. Plain data, shared by every layer above.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use super::ordering::Ordering;
use super::retry::{AttemptClass, RetryPolicy};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

string_enum!(
    /// A tenant's events only reach webhooks of the same environment.
    Environment { Production => "production", Development => "development" }
);
string_enum!(InstallationState { Active => "active", Revoked => "revoked" });
string_enum!(
    /// A deactivated webhook gets no attempts; its new deliveries are `held`.
    WebhookState { Active => "active", Deactivated => "deactivated" }
);
// `skipped`: held while the webhook was deactivated, then dropped at reactivation; or
// open when the tenant uninstalled the app. `waiting`: behind the head of its ordering
// key (a `per_key` webhook), not yet due.
string_enum!(DeliveryState {
    Pending => "pending",
    InFlight => "in_flight",
    Delivered => "delivered",
    Failed => "failed",
    Held => "held",
    Skipped => "skipped",
    Waiting => "waiting",
});

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub environment: Environment,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct App {
    pub id: String,
    pub name: String,
    /// The client of the platform's OAuth authorization server whose access tokens act
    /// for this app (RFC 9068 `client_id`); none when the app uses partner keys only.
    pub oauth_client_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An app key's id: this many hex digits of its hash.
pub const KEY_ID_DIGITS: usize = 16;

/// A partner key as listed: never the key itself, which is shown once and stored hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AppKey {
    /// The first [`KEY_ID_DIGITS`] hex digits of the key's SHA-256.
    pub id: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Installation {
    pub id: String,
    pub tenant_id: String,
    pub app_id: String,
    pub state: InstallationState,
    /// The tenant's share of each of the app's listeners when several tenants have
    /// deliveries due: a tenant of weight 3 gets three places for another's one.
    #[schema(minimum = 1, maximum = 100)]
    pub delivery_weight: i64,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: String,
    pub app_id: String,
    pub url: String,
    pub description: String,
    pub environment: Environment,
    pub event_types: Vec<String>,
    #[serde(skip)]
    pub secret: String,
    /// After a rotation the old secret keeps signing, beside the new one, until this time.
    #[serde(skip)]
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Custom headers; answers show their names with each value masked (partners put
    /// credentials there): `GET …/webhooks/{id}/headers` shows the values.
    #[serde(serialize_with = "masked_values")]
    pub headers: BTreeMap<String, String>,
    pub timeout_ms: i64,
    pub retry_policy: RetryPolicy,
    /// At most this many attempts per second to this webhook; excess waits.
    pub rate_limit_per_second: Option<i64>,
    /// At most this many attempts in flight at once, whatever the adaptive limit says.
    pub max_concurrency: Option<i64>,
    /// `per_key`: the deliveries of one (tenant, `ordering_key`) go one at a time in
    /// publish order.
    pub ordering: Ordering,
    pub state: WebhookState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Events in one `POST /v1/events/batch` (and one group commit) at most.
pub const MAX_BATCH: usize = 500;
/// A listener's answer within this unless its webhook says otherwise (1 s to `MAX_TIMEOUT`).
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
pub const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What stands for a custom header's value (or a signature) wherever one is shown.
pub const MASK: &str = "********";

fn masked_values<S: serde::Serializer>(
    headers: &BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(headers.len()))?;
    for name in headers.keys() {
        map.serialize_entry(name, MASK)?;
    }
    map.end()
}

/// An event as the platform published it, before it is stored.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub idempotency_key: Option<String>,
    /// SHA-256 of the request body: a repeat with the same key but another body is a 409.
    pub request_hash: String,
    pub tenant_id: String,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// The `data` object, already validated JSON.
    pub data: String,
    /// The publish's W3C trace context, when traced: attempts link to it.
    pub traceparent: Option<String>,
    /// What the event is about, for ordered delivery (scoped to its tenant).
    pub ordering_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EventSummary {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub tenant_id: String,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub deliveries: i64,
    /// Deliveries created per app, for metrics; empty on a replay.
    #[serde(skip)]
    pub deliveries_by_app: Vec<(String, i64)>,
    /// Deliveries the publish leased to this instance's dispatcher (the fast path): they
    /// need no claim.
    #[serde(skip)]
    pub leased: i64,
    /// The webhooks the publish left deliveries due now for (not leased): their owners
    /// are to be woken.
    #[serde(skip)]
    pub queued_webhooks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    Created(EventSummary),
    /// The same event id or idempotency key with the same body: nothing new was created.
    Replayed(EventSummary),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub webhook_id: String,
    pub installation_id: String,
    pub app_id: String,
    pub tenant_id: String,
    pub state: DeliveryState,
    pub attempt_count: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub first_failure_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Why a `skipped` delivery was skipped: `installation_revoked` (the tenant
    /// uninstalled the app) or `reactivated_without_replay`.
    pub skip_reason: Option<String>,
    /// The event's ordering key, when it has one.
    pub ordering_key: Option<String>,
    /// Its place in its key (1, 2, 3… per webhook, tenant and key) on a `per_key` webhook.
    pub sequence: Option<i64>,
    /// A `waiting` delivery's: the delivery of its key being attempted (or held) now.
    pub waiting_for: Option<String>,
}

/// Why deliveries are skipped.
pub const SKIPPED_UNINSTALLED: &str = "installation_revoked";
pub const SKIPPED_AT_REACTIVATION: &str = "reactivated_without_replay";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub id: String,
    pub delivery_id: String,
    pub webhook_id: String,
    pub attempt_number: i64,
    pub started_at: DateTime<Utc>,
    pub latency_ms: i64,
    #[serde(serialize_with = "serialize_class")]
    /// success, http_error, timeout, connect, network or aborted.
    #[schema(value_type = String, example = "http_error")]
    pub outcome: AttemptClass,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
    /// When the receiver's `Retry-After` (on a 429 or 503) asked the next attempt to wait until.
    pub retry_after_at: Option<DateTime<Utc>>,
}

fn serialize_class<S: serde::Serializer>(c: &AttemptClass, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.as_str())
}

/// A delivery a worker holds under a lease, with everything needed to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery_id: String,
    pub lease_token: String,
    pub attempt_count: i64,
    /// Attempts made before a reactivation released the delivery; the retry schedule
    /// counts from here.
    pub retry_base: i64,
    pub first_failure_at: Option<DateTime<Utc>>,
    pub event_id: String,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub data: String,
    pub tenant_id: String,
    pub tenant_name: String,
    pub installation_id: String,
    pub app_id: String,
    pub webhook_id: String,
    pub url: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub headers: BTreeMap<String, String>,
    pub timeout_ms: i64,
    pub retry_policy: RetryPolicy,
    pub rate_limit_per_second: Option<i64>,
    pub max_concurrency: Option<i64>,
    /// The publish's W3C trace context, when it was traced.
    pub traceparent: Option<String>,
    /// The fence of this instance's lease on the webhook's listener when the delivery
    /// was leased (DESIGN.md, "Listener ownership"); `None` where one instance owns
    /// everything (SQLite).
    pub fence: Option<i64>,
    /// The event's ordering key, for the body.
    pub ordering_key: Option<String>,
    /// Its place in its key on a `per_key` webhook, for the body.
    pub sequence: Option<i64>,
    /// It holds its key (a `per_key` webhook's head): when it ends, the next of its key
    /// is due.
    pub ordered: bool,
}

/// The result of one attempt and the delivery state it leads to, written in batches.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt: Attempt,
    pub lease_token: String,
    /// The listener lease it was sent under: recorded only while that lease's fence is
    /// still the webhook's.
    pub fence: Option<i64>,
    pub new_state: DeliveryState,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub first_failure_at: Option<DateTime<Utc>>,
    /// The delivery holds its ordering key ([`ClaimedDelivery::ordered`]).
    pub ordered: bool,
}

/// One type of the platform's event-type catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventType {
    /// As events carry it in `type`: `employee.created`.
    pub name: String,
    pub description: String,
    /// An example of the event's `data`.
    #[schema(value_type = Option<Object>)]
    pub example: Option<serde_json::Value>,
    /// Still published, but partners should move off it.
    pub deprecated: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Times as every answer and payload shows them: RFC 3339, milliseconds, `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Text from outside (a listener's answer, an error message) as both backends store it:
/// PostgreSQL refuses U+0000 in `text`, so each NUL becomes U+FFFD, as invalid UTF-8
/// already does.
pub fn storable_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        std::borrow::Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storable_text_replaces_nul_and_keeps_the_rest() {
        assert_eq!(storable_text("fine\0then\0"), "fine\u{FFFD}then\u{FFFD}");
        assert!(matches!(
            storable_text("plain ünïcode"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
