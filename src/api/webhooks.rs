//! Partner webhooks (listeners) of one app, and their delivery logs. A partner key
//! reaches only its own app; the platform key reaches every app.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::{extract::State, Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::{new_id, page_limit, validate_text, ApiError, AppState, ListResponse};
use crate::delivery::retry::{RetryPolicy, RetryPolicySpec};
use crate::delivery::target::{validate_url, TargetPolicy};
use crate::delivery::{filter, signing};
use crate::model::{Attempt, Delivery, Environment, Webhook, WebhookState};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_HEADERS: usize = 20;
const MAX_EVENT_TYPES: usize = 100;

/// Headers a partner may not set: hop-by-hop, framing, and the signature headers.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/apps/{app}/webhooks", get(list).post(create))
        .route(
            "/v1/apps/{app}/webhooks/{id}",
            get(read).patch(update).delete(remove),
        )
        .route("/v1/apps/{app}/webhooks/{id}/secret", get(secret))
        .route("/v1/apps/{app}/webhooks/{id}/deliveries", get(deliveries))
        .route("/v1/apps/{app}/webhooks/{id}/attempts", get(attempts))
}

/// The fields a partner sets; on update every field is optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WebhookFields {
    url: Option<String>,
    description: Option<String>,
    environment: Option<Environment>,
    event_types: Option<Vec<String>>,
    headers: Option<BTreeMap<String, String>>,
    timeout_seconds: Option<u64>,
    retry_policy: Option<RetryPolicySpec>,
    /// A `whsec_…` secret of the partner's choosing; generated when absent.
    secret: Option<String>,
}

#[derive(Serialize)]
struct WebhookWithSecret {
    #[serde(flatten)]
    webhook: Webhook,
    secret: String,
}

impl WebhookFields {
    /// Validates every field present and applies it to `w`.
    fn apply(self, w: &mut Webhook, targets: TargetPolicy) -> Result<(), ApiError> {
        if let Some(url) = self.url {
            w.url = validate_url(url.trim(), targets)
                .map_err(ApiError::invalid)?
                .to_string();
        }
        if let Some(description) = self.description {
            validate_text("description", &description, 500, true)?;
            w.description = description;
        }
        if let Some(environment) = self.environment {
            w.environment = environment;
        }
        if let Some(types) = self.event_types {
            if types.is_empty() || types.len() > MAX_EVENT_TYPES {
                return Err(ApiError::invalid(format!(
                    "event_types must list 1 to {MAX_EVENT_TYPES} types; use [\"*\"] for all"
                )));
            }
            if let Some(bad) = types.iter().find(|t| !filter::valid_pattern(t)) {
                return Err(ApiError::invalid(format!(
                    "event type filter {bad:?} is not valid: use \"*\", \"a.b\" or \"a.*\""
                )));
            }
            w.event_types = types;
        }
        if let Some(headers) = self.headers {
            w.headers = validate_headers(headers)?;
        }
        if let Some(seconds) = self.timeout_seconds {
            if !(1..=MAX_TIMEOUT.as_secs()).contains(&seconds) {
                return Err(ApiError::invalid(format!(
                    "timeout_seconds must be between 1 and {}",
                    MAX_TIMEOUT.as_secs()
                )));
            }
            w.timeout_ms = seconds as i64 * 1000;
        }
        if let Some(spec) = self.retry_policy {
            w.retry_policy = RetryPolicy::from_spec(&spec).map_err(ApiError::invalid)?;
        }
        if let Some(secret) = self.secret {
            signing::secret_key(&secret).map_err(|e| ApiError::invalid(e.to_string()))?;
            w.secret = secret;
        }
        Ok(())
    }
}

fn validate_headers(
    headers: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ApiError> {
    if headers.len() > MAX_HEADERS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_HEADERS} custom headers"
        )));
    }
    let mut normalised = BTreeMap::new();
    for (name, value) in headers {
        let parsed = axum::http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ApiError::invalid(format!("{name:?} is not a valid header name")))?;
        let lower = parsed.as_str();
        if RESERVED_HEADERS.contains(&lower) || lower.starts_with("proxy-") {
            return Err(ApiError::invalid(format!(
                "header {lower:?} is set by hookgate and cannot be customised"
            )));
        }
        if value.len() > 1024 || axum::http::HeaderValue::from_str(&value).is_err() {
            return Err(ApiError::invalid(format!(
                "the value of header {lower:?} must be at most 1024 visible ASCII characters"
            )));
        }
        normalised.insert(lower.to_string(), value);
    }
    Ok(normalised)
}

fn target_policy(state: &AppState) -> TargetPolicy {
    TargetPolicy {
        allow_insecure: state.settings.allow_insecure_targets,
        allow_private: state.settings.allow_private_targets,
    }
}

/// The app must exist and belong to the caller; its webhook must exist within it.
pub(super) async fn owned_webhook(
    state: &AppState,
    caller: &Caller,
    app_id: &str,
    id: &str,
) -> Result<Webhook, ApiError> {
    caller.require_app(app_id)?;
    state
        .store
        .get_webhook(app_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))
}

async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
    ApiJson(fields): ApiJson<WebhookFields>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), ApiError> {
    caller.require_app(&app_id)?;
    if state.store.get_app(&app_id).await?.is_none() {
        return Err(ApiError::not_found("app"));
    }
    if fields.url.is_none() {
        return Err(ApiError::invalid("url is required"));
    }
    let now = state.clock.now();
    let mut webhook = Webhook {
        id: new_id(),
        app_id,
        url: String::new(),
        description: String::new(),
        environment: Environment::Production,
        event_types: vec!["*".into()],
        secret: signing::generate_secret(),
        headers: BTreeMap::new(),
        timeout_ms: DEFAULT_TIMEOUT.as_millis() as i64,
        retry_policy: RetryPolicy::hibob(),
        state: WebhookState::Active,
        created_at: now,
        updated_at: now,
    };
    fields.apply(&mut webhook, target_policy(&state))?;
    state
        .store
        .create_webhook(&webhook, state.settings.max_webhooks_per_app)
        .await?;
    let secret = webhook.secret.clone();
    Ok((
        StatusCode::CREATED,
        Json(WebhookWithSecret { webhook, secret }),
    ))
}

async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
) -> Result<Json<ListResponse<Webhook>>, ApiError> {
    caller.require_app(&app_id)?;
    if state.store.get_app(&app_id).await?.is_none() {
        return Err(ApiError::not_found("app"));
    }
    Ok(Json(ListResponse {
        data: state.store.list_webhooks(&app_id).await?,
    }))
}

async fn read(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<Webhook>, ApiError> {
    Ok(Json(owned_webhook(&state, &caller, &app_id, &id).await?))
}

async fn secret(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    Ok(Json(serde_json::json!({ "secret": webhook.secret })))
}

async fn update(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiJson(fields): ApiJson<WebhookFields>,
) -> Result<Json<Webhook>, ApiError> {
    let mut webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    fields.apply(&mut webhook, target_policy(&state))?;
    webhook.updated_at = state.clock.now();
    if !state.store.update_webhook(&webhook).await? {
        return Err(ApiError::not_found("webhook"));
    }
    Ok(Json(webhook))
}

async fn remove(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require_app(&app_id)?;
    if state.store.delete_webhook(&app_id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    limit: Option<i64>,
    delivery_id: Option<String>,
}

/// The newest deliveries of a webhook first.
async fn deliveries(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<ListResponse<Delivery>>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    let data = state
        .store
        .list_deliveries(&webhook.id, page_limit(query.limit)?)
        .await?;
    Ok(Json(ListResponse { data }))
}

/// Attempts of a webhook (or of one of its deliveries), oldest first.
async fn attempts(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<ListResponse<Attempt>>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    let data = state
        .store
        .list_attempts(
            &webhook.id,
            query.delivery_id.as_deref(),
            page_limit(query.limit)?,
        )
        .await?;
    Ok(Json(ListResponse { data }))
}
