//! The JSON body every listener receives: the event plus who it belongs to, so one
//! listener URL can serve every tenant that installed the app.

pub use crate::domain::model::rfc3339;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::domain::model::ClaimedDelivery;

#[derive(Serialize)]
struct Payload<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    occurred_at: String,
    /// None only for test events, which belong to no tenant.
    tenant: Option<TenantRef<'a>>,
    installation_id: Option<&'a str>,
    app_id: &'a str,
    webhook_id: &'a str,
    /// The event's ordering key, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    ordering_key: Option<&'a str>,
    /// Its place in its key (1, 2, 3…) on a `per_key` webhook: a gap follows a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<i64>,
    data: &'a RawValue,
}

#[derive(Serialize)]
struct TenantRef<'a> {
    id: &'a str,
    name: &'a str,
}

/// The event's `data` is stored as validated JSON text and embedded without re-parsing.
pub fn build(d: &ClaimedDelivery) -> Result<Vec<u8>, serde_json::Error> {
    let data: &RawValue = serde_json::from_str(&d.data)?;
    let has_tenant = !d.tenant_id.is_empty();
    serde_json::to_vec(&Payload {
        id: &d.event_id,
        event_type: &d.event_type,
        occurred_at: rfc3339(d.occurred_at),
        tenant: has_tenant.then_some(TenantRef {
            id: &d.tenant_id,
            name: &d.tenant_name,
        }),
        installation_id: has_tenant.then_some(d.installation_id.as_str()),
        app_id: &d.app_id,
        webhook_id: &d.webhook_id,
        ordering_key: d.ordering_key.as_deref(),
        sequence: d.sequence,
        data,
    })
}
