//! Publishing events: the platform publishes one event for one tenant, or up to
//! [`MAX_BATCH`] in one transaction. Events and their fan-out are committed before the
//! answer; a repeat with the same id or idempotency key creates nothing and answers with
//! the original.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::{new_id, parse_json, validate_id, Error, Gateway, Result};
use crate::domain::model::{NewEvent, PublishOutcome};
use crate::domain::{filter, ordering};

pub use crate::domain::model::MAX_BATCH;

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The event's id: a repeat with the same id creates nothing.
    #[schema(schema_with = super::contract::schema::id_or_null)]
    pub id: Option<String>,
    #[serde(rename = "type")]
    #[schema(schema_with = super::contract::schema::event_type)]
    pub event_type: String,
    #[schema(schema_with = super::contract::schema::id)]
    pub tenant_id: String,
    pub occurred_at: Option<DateTime<Utc>>,
    #[schema(schema_with = super::contract::schema::object_or_null)]
    pub data: Option<Box<RawValue>>,
    #[schema(schema_with = super::contract::schema::ordering_key_or_null)]
    pub ordering_key: Option<String>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    #[schema(schema_with = super::contract::schema::batch_events)]
    pub events: Vec<Box<RawValue>>,
}

/// Validates and publishes one event from its JSON request `body` (which the
/// idempotency check hashes).
#[tracing::instrument(name = "publish", skip_all, fields(
    event_id = tracing::field::Empty, tenant_id = tracing::field::Empty,
    event_type = tracing::field::Empty, deliveries = tracing::field::Empty,
))]
pub async fn publish(
    gw: &Gateway,
    body: &[u8],
    idempotency_key: Option<String>,
) -> Result<PublishOutcome> {
    let req: PublishRequest = parse_json(body, false)?;
    let mut event = new_event(req, idempotency_key, body, gw.clock.now())?;
    let span = tracing::Span::current();
    span.record("event_id", event.id.as_str());
    span.record("tenant_id", event.tenant_id.as_str());
    span.record("event_type", event.event_type.as_str());
    // Stored with the event: every attempt of its deliveries links back to this span.
    event.traceparent = crate::telemetry::traceparent(&span);
    require_declared(gw, std::slice::from_ref(&event)).await?;
    let outcome = gw.publisher.publish(event).await?;
    count_and_wake(gw, std::slice::from_ref(&outcome));
    if let PublishOutcome::Created(summary) = &outcome {
        span.record("deliveries", summary.deliveries);
    }
    Ok(outcome)
}

/// Several events in one transaction: all are stored or none. Each event's id makes its
/// repeat a no-op, as for a single publish.
pub async fn publish_batch(gw: &Gateway, body: &[u8]) -> Result<Vec<PublishOutcome>> {
    let batch: BatchRequest = parse_json(body, false)?;
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        return Err(Error::invalid(
            "events",
            format!("events must hold 1 to {MAX_BATCH} events"),
        ));
    }
    let now = gw.clock.now();
    let mut events = Vec::with_capacity(batch.events.len());
    for (i, raw) in batch.events.iter().enumerate() {
        let bytes = raw.get().as_bytes();
        let event = parse_json(bytes, false).and_then(|req| new_event(req, None, bytes, now));
        events.push(event.map_err(|e| e.in_item("events", i))?);
    }
    // The batch's span: each event's attempts link to it.
    let traceparent = crate::telemetry::traceparent(&tracing::Span::current());
    for event in &mut events {
        event.traceparent.clone_from(&traceparent);
    }
    require_declared(gw, &events).await?;
    let outcomes = gw.publisher.publish_batch(&events).await?;
    count_and_wake(gw, &outcomes);
    Ok(outcomes)
}

/// A validated event. `request` is the bytes the idempotency hash covers.
fn new_event(
    req: PublishRequest,
    idempotency_key: Option<String>,
    request: &[u8],
    now: DateTime<Utc>,
) -> Result<NewEvent> {
    let id = req.id.unwrap_or_else(new_id);
    validate_id("id", &id)?;
    validate_id("tenant_id", &req.tenant_id)?;
    if !filter::valid_event_type(&req.event_type) {
        return Err(Error::invalid(
            "type",
            "type must be dot-separated segments of letters, digits, '_' or '-'",
        ));
    }
    if let Some(key) = &req.ordering_key {
        if !ordering::valid_key(key) {
            return Err(Error::invalid(
                "ordering_key",
                format!(
                    "ordering_key must be 1 to {} visible ASCII characters, without spaces",
                    ordering::KEY_MAX
                ),
            ));
        }
    }
    let data = match req.data {
        None => "{}".to_string(),
        Some(raw) if raw.get().starts_with('{') => raw.get().to_string(),
        Some(_) => return Err(Error::invalid("data", "data must be a JSON object")),
    };
    Ok(NewEvent {
        id,
        idempotency_key,
        request_hash: hex::encode(Sha256::digest(request)),
        tenant_id: req.tenant_id,
        event_type: req.event_type,
        occurred_at: req.occurred_at.map_or(now, |t| t.trunc_subsecs(3)),
        received_at: now,
        data,
        traceparent: None,
        ordering_key: req.ordering_key,
    })
}

/// With strict event types, a type missing from the catalogue is refused.
async fn require_declared(gw: &Gateway, events: &[NewEvent]) -> Result<()> {
    if !gw.policy.strict_event_types {
        return Ok(());
    }
    let types: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.event_type.as_str()).collect();
    for event_type in types {
        if gw.store.get_event_type(event_type).await?.is_none() {
            return Err(Error::invalid(
                "type",
                format!(
                    "type {event_type:?} is not in the event-type catalogue \
                     (HOOKGATE_STRICT_EVENT_TYPES is on): declare it with POST /v1/event-types"
                ),
            ));
        }
    }
    Ok(())
}

fn count_and_wake(gw: &Gateway, outcomes: &[PublishOutcome]) {
    let mut queued = Vec::new();
    for outcome in outcomes {
        if let PublishOutcome::Created(summary) = outcome {
            metrics::counter!(crate::metrics::EVENTS_PUBLISHED).increment(1);
            for (app_id, n) in &summary.deliveries_by_app {
                metrics::counter!(crate::metrics::DELIVERIES_CREATED, "app_id" => app_id.clone())
                    .increment(*n as u64);
            }
            // Deliveries a publish leased to this instance are on their way already.
            queued.extend(summary.queued_webhooks.iter().map(String::as_str));
        }
    }
    if !queued.is_empty() {
        queued.sort_unstable();
        queued.dedup();
        gw.deliveries.wake(&queued);
    }
}
