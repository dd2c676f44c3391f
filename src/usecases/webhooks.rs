//! Partner webhooks (listeners) of one app. A partner reaches only its own app; the
//! platform reaches every app.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{new_id, validate_text, Caller, Error, Gateway, Result, TestSent};
use crate::domain::model::{
    Environment, Ordering, Webhook, WebhookState, DEFAULT_TIMEOUT, MASK, MAX_TIMEOUT,
};
use crate::domain::retry::{RetryPolicy, RetryPolicySpec};
use crate::domain::secrets::{generate_secret, secret_key};
use crate::domain::{filter, target};

use super::contract::{
    is_header_value, schema, HEADER_NAME_MAX, HEADER_VALUE_MAX, MAX_CONCURRENCY_MAX,
    RATE_LIMIT_MAX, RESERVED_HEADERS, RESERVED_HEADER_PREFIX, WEBHOOK_DESCRIPTION_MAX,
};
pub use super::contract::{MAX_EVENT_TYPES, MAX_HEADERS};

/// What a new webhook must have; an update may leave anything out.
pub const REQUIRED_ON_CREATE: &[&str] = &["url"];

/// The fields a partner sets; on update every field is optional.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookFields {
    #[schema(schema_with = schema::url_or_null)]
    pub url: Option<String>,
    #[schema(schema_with = schema::webhook_description_or_null)]
    pub description: Option<String>,
    pub environment: Option<Environment>,
    #[schema(schema_with = schema::event_types_or_null)]
    pub event_types: Option<Vec<String>>,
    #[schema(schema_with = schema::headers_or_null)]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "crate::domain::whole::option")]
    #[schema(schema_with = schema::timeout_seconds_or_null)]
    pub timeout_seconds: Option<u64>,
    #[schema(schema_with = schema::retry_policy_or_null)]
    pub retry_policy: Option<RetryPolicySpec>,
    #[serde(default, deserialize_with = "crate::domain::whole::option")]
    #[schema(schema_with = schema::rate_limit_or_null)]
    pub rate_limit_per_second: Option<i64>,
    #[serde(default, deserialize_with = "crate::domain::whole::option")]
    #[schema(schema_with = schema::max_concurrency_or_null)]
    pub max_concurrency: Option<i64>,
    #[schema(schema_with = schema::secret_or_null)]
    pub secret: Option<String>,
    /// `per_key`: one (tenant, `ordering_key`)'s deliveries one at a time, in publish
    /// order; `none` (the default): concurrently. Switching to `none` releases what
    /// waits.
    pub ordering: Option<Ordering>,
}

impl WebhookFields {
    /// Validates every field present and applies it to `w`.
    fn apply(self, w: &mut Webhook, targets: target::TargetPolicy) -> Result<()> {
        if let Some(url) = self.url {
            w.url = target::validate_url(url.trim(), targets)
                .map_err(|m| Error::invalid("url", m))?
                .to_string();
        }
        if let Some(description) = self.description {
            validate_text("description", &description, WEBHOOK_DESCRIPTION_MAX, true)?;
            w.description = description;
        }
        if let Some(environment) = self.environment {
            w.environment = environment;
        }
        if let Some(types) = self.event_types {
            w.event_types = validate_event_types(types)?;
        }
        if let Some(headers) = self.headers {
            w.headers = validate_headers(headers)?;
        }
        if let Some(seconds) = self.timeout_seconds {
            if !(1..=MAX_TIMEOUT.as_secs()).contains(&seconds) {
                return Err(Error::invalid(
                    "timeout_seconds",
                    format!(
                        "timeout_seconds must be between 1 and {}",
                        MAX_TIMEOUT.as_secs()
                    ),
                ));
            }
            w.timeout_ms = seconds as i64 * 1000;
        }
        if let Some(spec) = self.retry_policy {
            w.retry_policy =
                RetryPolicy::from_spec(&spec).map_err(|m| Error::invalid("retry_policy", m))?;
        }
        if let Some(rate) = self.rate_limit_per_second {
            w.rate_limit_per_second = match rate {
                0 => None,
                1..=RATE_LIMIT_MAX => Some(rate),
                _ => {
                    return Err(Error::invalid(
                        "rate_limit_per_second",
                        format!("rate_limit_per_second must be between 0 and {RATE_LIMIT_MAX}"),
                    ))
                }
            };
        }
        if let Some(max) = self.max_concurrency {
            w.max_concurrency = match max {
                0 => None,
                1..=MAX_CONCURRENCY_MAX => Some(max),
                _ => {
                    return Err(Error::invalid(
                        "max_concurrency",
                        format!("max_concurrency must be between 0 and {MAX_CONCURRENCY_MAX}"),
                    ))
                }
            };
        }
        if let Some(secret) = self.secret {
            w.secret = validate_secret(secret)?;
        }
        if let Some(ordering) = self.ordering {
            w.ordering = ordering;
        }
        Ok(())
    }
}

fn validate_secret(secret: String) -> Result<String> {
    secret_key(&secret).map_err(|e| Error::invalid("secret", e.to_string()))?;
    Ok(secret)
}

fn validate_event_types(types: Vec<String>) -> Result<Vec<String>> {
    if types.is_empty() || types.len() > MAX_EVENT_TYPES {
        return Err(Error::invalid(
            "event_types",
            format!("event_types must list 1 to {MAX_EVENT_TYPES} types; use [\"*\"] for all"),
        ));
    }
    if let Some(bad) = types.iter().find(|t| !filter::valid_pattern(t)) {
        return Err(Error::invalid(
            "event_types",
            format!("event type filter {bad:?} is not valid: use \"*\", \"a.b\" or \"a.*\""),
        ));
    }
    Ok(types)
}

fn validate_headers(headers: BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
    let invalid = |m: String| Error::invalid("headers", m);
    if headers.len() > MAX_HEADERS {
        return Err(invalid(format!("at most {MAX_HEADERS} custom headers")));
    }
    let mut normalised = BTreeMap::new();
    for (name, value) in headers {
        if name.len() > HEADER_NAME_MAX {
            return Err(invalid(format!(
                "a header name is at most {HEADER_NAME_MAX} characters"
            )));
        }
        let parsed = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("{name:?} is not a valid header name")))?;
        let lower = parsed.as_str();
        if RESERVED_HEADERS.contains(&lower) || lower.starts_with(RESERVED_HEADER_PREFIX) {
            return Err(invalid(format!(
                "header {lower:?} is set by hookgate and cannot be customised"
            )));
        }
        if value == MASK {
            return Err(invalid(format!(
                "the value of header {lower:?} is the mask answers show; send its real value \
                 (GET …/webhooks/{{id}}/headers shows them)"
            )));
        }
        if !is_header_value(&value) {
            return Err(invalid(format!(
                "the value of header {lower:?} must be at most {HEADER_VALUE_MAX} visible ASCII \
                 characters, spaces or tabs"
            )));
        }
        normalised.insert(lower.to_string(), value);
    }
    Ok(normalised)
}

/// The app must exist and be the caller's; its webhook must exist within it.
pub async fn get(gw: &Gateway, caller: &Caller, app_id: &str, id: &str) -> Result<Webhook> {
    caller.require_app(app_id)?;
    gw.store
        .get_webhook(app_id, id)
        .await?
        .ok_or(Error::NotFound("webhook"))
}

/// The webhooks of the caller's app.
pub async fn list(gw: &Gateway, caller: &Caller, app_id: &str) -> Result<Vec<Webhook>> {
    super::apps::get(gw, caller, app_id).await?;
    Ok(gw.store.list_webhooks(app_id).await?)
}

/// Validates `fields` and stores a new webhook of `app_id`. Nothing is stored on an
/// error.
pub async fn create(
    gw: &Gateway,
    caller: &Caller,
    app_id: String,
    fields: WebhookFields,
) -> Result<Webhook> {
    super::apps::get(gw, caller, &app_id).await?;
    if fields.url.is_none() {
        return Err(Error::invalid("url", "url is required"));
    }
    let policy = &gw.policy;
    let now = gw.clock.now();
    let mut webhook = Webhook {
        id: new_id(),
        app_id,
        url: String::new(),
        description: String::new(),
        environment: Environment::Production,
        event_types: vec!["*".into()],
        secret: generate_secret(),
        previous_secret: None,
        previous_secret_expires_at: None,
        rate_limit_per_second: (policy.default_rate_limit_per_second > 0)
            .then_some(policy.default_rate_limit_per_second),
        max_concurrency: None,
        ordering: Ordering::None,
        headers: BTreeMap::new(),
        timeout_ms: DEFAULT_TIMEOUT.as_millis() as i64,
        retry_policy: RetryPolicy::hibob(),
        state: WebhookState::Active,
        created_at: now,
        updated_at: now,
    };
    fields.apply(&mut webhook, policy.targets)?;
    gw.store
        .create_webhook(&webhook, policy.max_webhooks_per_app)
        .await?;
    Ok(webhook)
}

/// Validates `fields` and applies them to the caller's `webhook` (from [`get`]). Nothing
/// changes on an error.
pub async fn update(gw: &Gateway, mut webhook: Webhook, fields: WebhookFields) -> Result<Webhook> {
    let new_secret = fields.secret.is_some();
    fields.apply(&mut webhook, gw.policy.targets)?;
    webhook.updated_at = gw.clock.now();
    let secret = new_secret.then_some(webhook.secret.as_str());
    if !gw.store.update_webhook(&webhook, secret).await? {
        return Err(Error::NotFound("webhook"));
    }
    reread(gw, &webhook).await
}

/// The webhook as stored now (its state may have changed since it was read).
pub async fn reread(gw: &Gateway, webhook: &Webhook) -> Result<Webhook> {
    gw.store
        .get_webhook(&webhook.app_id, &webhook.id)
        .await?
        .ok_or(Error::NotFound("webhook"))
}

/// Deletes the caller's webhook with its deliveries.
pub async fn delete(gw: &Gateway, caller: &Caller, app_id: &str, id: &str) -> Result<()> {
    caller.require_app(app_id)?;
    if gw.store.delete_webhook(app_id, id).await? {
        // Its limit and token bucket here; other instances drop theirs when idle.
        gw.deliveries.forget_webhook(id);
        Ok(())
    } else {
        Err(Error::NotFound("webhook"))
    }
}

/// The webhook with its credentials (signing secret, header values): the manage
/// scope's, even to read.
pub async fn with_credentials(
    gw: &Gateway,
    caller: &Caller,
    app_id: &str,
    id: &str,
) -> Result<Webhook> {
    let webhook = get(gw, caller, app_id, id).await?;
    caller.require_manage()?;
    Ok(webhook)
}

/// A new secret for the caller's `webhook` (the caller's, or generated); the old one
/// keeps signing beside it for the rotation overlap.
pub async fn rotate_secret(
    gw: &Gateway,
    webhook: &Webhook,
    secret: Option<String>,
) -> Result<Webhook> {
    let new_secret = match secret {
        Some(secret) => validate_secret(secret)?,
        None => generate_secret(),
    };
    let now = gw.clock.now();
    let previous_until = now + gw.policy.secret_rotation_overlap;
    if !gw
        .store
        .rotate_webhook_secret(
            &webhook.app_id,
            &webhook.id,
            &new_secret,
            previous_until,
            now,
        )
        .await?
    {
        return Err(Error::NotFound("webhook"));
    }
    reread(gw, webhook).await
}

/// Sends a signed `webhook.test` event carrying `data` (a JSON object; `{}` when
/// absent) to the caller's `webhook` now, and says what the listener answered.
pub async fn send_test(gw: &Gateway, webhook: &Webhook, data: Option<&str>) -> Result<TestSent> {
    let data = match data {
        None => "{}",
        Some(raw) if raw.starts_with('{') => raw,
        Some(_) => return Err(Error::invalid("data", "data must be a JSON object")),
    };
    Ok(gw.deliveries.send_test(webhook, data).await?)
}
