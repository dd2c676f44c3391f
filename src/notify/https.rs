//! A notification as a signed HTTPS POST: Standard Webhooks headers (the notification id
//! as `webhook-id`), signed with the destination's own secret, through the same guarded
//! sender as deliveries (SSRF rules, no redirects, no environment proxy).

use std::collections::BTreeMap;
use std::time::Duration;

use super::Outgoing;
use crate::delivery::sender::{OutboundRequest, Sender};
use crate::delivery::signing::{secret_key, signature_header};
use crate::domain::destination::Destination;
use crate::domain::retry::AttemptClass;

/// A notification endpoint answers within this, or the send failed.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Posts `m` to `d`'s URL; a 2xx is sent, anything else an error saying what came back.
pub async fn send(
    sender: &Sender,
    d: &Destination,
    m: &Outgoing<'_>,
    timestamp: i64,
) -> Result<String, String> {
    let url = d.url.as_deref().ok_or("the destination has no URL")?;
    let secret = d.secret.as_deref().ok_or("the destination has no secret")?;
    let key = secret_key(secret).map_err(|e| e.to_string())?;
    let body = m.body.to_string().into_bytes();
    let signature = signature_header([key.as_slice()], m.id, timestamp, &body);
    let no_headers = BTreeMap::new();
    let request = OutboundRequest {
        traceparent: None,
        url,
        msg_id: m.id,
        timestamp,
        signature: &signature,
        custom_headers: &no_headers,
        timeout: TIMEOUT,
    };
    let outcome = sender.send(request, body).await;
    match (outcome.class, outcome.status) {
        (AttemptClass::Success, _) => Ok(m.id.to_string()),
        (_, Some(status)) => Err(format!("HTTP {status}")),
        (class, None) => Err(format!(
            "{}: {}",
            class.as_str(),
            outcome.error.unwrap_or_default()
        )),
    }
}
