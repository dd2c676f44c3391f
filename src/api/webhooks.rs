//! Partner webhooks (listeners) of one app, and their delivery logs. A partner key
//! reaches only its own app; the platform key reaches every app.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::{parse_json, ApiBytes, ApiJson, ApiPath, Caller};
use super::{new_id, validate_text, ApiError, AppState, ListResponse};
use crate::delivery::target::{validate_url, TargetPolicy};
use crate::delivery::{filter, signing};
use crate::domain::model::{Environment, Webhook, WebhookState};
use crate::domain::retry::{RetryPolicy, RetryPolicySpec};

pub use crate::domain::model::{DEFAULT_TIMEOUT, MAX_TIMEOUT};
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

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(secret))
        .routes(routes!(header_values))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
}

/// The fields a partner sets; on update every field is optional.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookFields {
    pub url: Option<String>,
    pub description: Option<String>,
    pub environment: Option<Environment>,
    pub event_types: Option<Vec<String>>,
    pub headers: Option<BTreeMap<String, String>>,
    pub timeout_seconds: Option<u64>,
    pub retry_policy: Option<RetryPolicySpec>,
    /// At most this many attempts per second (1–10000); `0` removes the cap.
    pub rate_limit_per_second: Option<i64>,
    /// At most this many attempts in flight at once (1–1000), below the gateway's
    /// adaptive limit; `0` removes it.
    pub max_concurrency: Option<i64>,
    /// A `whsec_…` secret of the partner's choosing; generated when absent.
    pub secret: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SecretResponse {
    secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
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
        if let Some(rate) = self.rate_limit_per_second {
            w.rate_limit_per_second = match rate {
                0 => None,
                1..=10_000 => Some(rate),
                _ => {
                    return Err(ApiError::invalid(
                        "rate_limit_per_second must be between 0 and 10000",
                    ))
                }
            };
        }
        if let Some(max) = self.max_concurrency {
            w.max_concurrency = match max {
                0 => None,
                1..=1_000 => Some(max),
                _ => {
                    return Err(ApiError::invalid(
                        "max_concurrency must be between 0 and 1000",
                    ))
                }
            };
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
        if value == crate::domain::model::MASK {
            return Err(ApiError::invalid(format!(
                "the value of header {lower:?} is the mask answers show; send its real value \
                 (GET …/webhooks/{{id}}/headers shows them)"
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
pub async fn owned_webhook(
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

#[utoipa::path(
    post,
    path = "/v1/apps/{app}/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_create",
    params(("app" = String, Path, description = "App id")),
    request_body = WebhookFields,
    responses(
        (status = 201, body = WebhookWithSecret),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(app_id): ApiPath<String>,
    ApiJson(fields): ApiJson<WebhookFields>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), ApiError> {
    let webhook = create_webhook(&state, &caller, app_id, fields).await?;
    let secret = webhook.secret.clone();
    Ok((
        StatusCode::CREATED,
        Json(WebhookWithSecret { webhook, secret }),
    ))
}

/// Validates `fields` and stores a new webhook of `app_id`: the API's and the portal's
/// one path. Nothing is stored on an error.
pub async fn create_webhook(
    state: &AppState,
    caller: &Caller,
    app_id: String,
    fields: WebhookFields,
) -> Result<Webhook, ApiError> {
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
        previous_secret: None,
        previous_secret_expires_at: None,
        rate_limit_per_second: (state.settings.default_rate_limit_per_second > 0)
            .then_some(state.settings.default_rate_limit_per_second),
        max_concurrency: None,
        headers: BTreeMap::new(),
        timeout_ms: DEFAULT_TIMEOUT.as_millis() as i64,
        retry_policy: RetryPolicy::hibob(),
        state: WebhookState::Active,
        created_at: now,
        updated_at: now,
    };
    fields.apply(&mut webhook, target_policy(state))?;
    state
        .store
        .create_webhook(&webhook, state.settings.max_webhooks_per_app)
        .await?;
    Ok(webhook)
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_list",
    params(("app" = String, Path, description = "App id")),
    responses(
        (status = 200, body = ListResponse<Webhook>),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
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

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_read",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, body = Webhook),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn read(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<Webhook>, ApiError> {
    Ok(Json(owned_webhook(&state, &caller, &app_id, &id).await?))
}

#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}/secret",
    tag = "webhooks",
    operation_id = "webhooks_secret",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, body = SecretResponse),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "An OAuth token without the manage scope", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn secret(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<SecretResponse>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    caller.require_manage()?;
    Ok(Json(SecretResponse {
        secret: webhook.secret,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct HeaderValues {
    headers: BTreeMap<String, String>,
}

/// The custom headers with their values, which every other answer masks.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}/webhooks/{id}/headers",
    tag = "webhooks",
    operation_id = "webhooks_header_values",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, body = HeaderValues),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 403, description = "An OAuth token without the manage scope", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn header_values(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<Json<HeaderValues>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    caller.require_manage()?;
    Ok(Json(HeaderValues {
        headers: webhook.headers,
    }))
}

#[utoipa::path(
    patch,
    path = "/v1/apps/{app}/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_update",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id")),
    request_body = WebhookFields,
    responses(
        (status = 200, body = Webhook),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiJson(fields): ApiJson<WebhookFields>,
) -> Result<Json<Webhook>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    update_webhook(&state, webhook, fields).await.map(Json)
}

/// Validates `fields` and applies them to `webhook` (the caller's, from
/// [`owned_webhook`]): the API's and the portal's one path. Nothing changes on an error.
pub async fn update_webhook(
    state: &AppState,
    mut webhook: Webhook,
    fields: WebhookFields,
) -> Result<Webhook, ApiError> {
    let new_secret = fields.secret.is_some();
    fields.apply(&mut webhook, target_policy(state))?;
    webhook.updated_at = state.clock.now();
    let secret = new_secret.then_some(webhook.secret.as_str());
    if !state.store.update_webhook(&webhook, secret).await? {
        return Err(ApiError::not_found("webhook"));
    }
    reread(state, &webhook).await
}

/// The webhook as stored now (its state may have changed since the caller read it).
async fn reread(state: &AppState, webhook: &Webhook) -> Result<Webhook, ApiError> {
    state
        .store
        .get_webhook(&webhook.app_id, &webhook.id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))
}

#[utoipa::path(
    delete,
    path = "/v1/apps/{app}/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_remove",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 204, description = "Deleted with its deliveries"),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn remove(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete_webhook(&state, &caller, &app_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the caller's webhook with its deliveries: the API's and the portal's path.
pub async fn delete_webhook(
    state: &AppState,
    caller: &Caller,
    app_id: &str,
    id: &str,
) -> Result<(), ApiError> {
    caller.require_app(app_id)?;
    if state.store.delete_webhook(app_id, id).await? {
        // Its limit and token bucket here; other instances drop theirs when idle.
        state.dispatcher.forget_webhook(id);
        Ok(())
    } else {
        Err(ApiError::not_found("webhook"))
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    /// A `whsec_…` secret of the partner's choosing; generated when absent.
    secret: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Rotated {
    secret: String,
    previous_secret_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A new secret; the old one keeps signing beside it for the overlap (24 h by default).
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/webhooks/{id}/rotate-secret",
    tag = "webhooks",
    operation_id = "webhooks_rotate_secret",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id")),
    request_body = Option<RotateRequest>,
    responses(
        (status = 200, body = Rotated),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn rotate_secret(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiBytes(body): ApiBytes,
) -> Result<Json<Rotated>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    let request: RotateRequest = parse_json(&body, true)?;
    let webhook = rotate_webhook_secret(&state, webhook, request.secret).await?;
    Ok(Json(Rotated {
        secret: webhook.secret,
        previous_secret_expires_at: webhook.previous_secret_expires_at,
    }))
}

/// A new secret (the caller's, or generated); the old one keeps signing beside it for
/// the rotation overlap. The API's and the portal's one path.
pub async fn rotate_webhook_secret(
    state: &AppState,
    webhook: Webhook,
    secret: Option<String>,
) -> Result<Webhook, ApiError> {
    let new_secret = match secret {
        Some(secret) => {
            signing::secret_key(&secret).map_err(|e| ApiError::invalid(e.to_string()))?;
            secret
        }
        None => signing::generate_secret(),
    };
    let now = state.clock.now();
    let overlap = chrono::TimeDelta::from_std(state.settings.secret_rotation_overlap)
        .unwrap_or(chrono::TimeDelta::hours(24));
    if !state
        .store
        .rotate_webhook_secret(
            &webhook.app_id,
            &webhook.id,
            &new_secret,
            now + overlap,
            now,
        )
        .await?
    {
        return Err(ApiError::not_found("webhook"));
    }
    reread(state, &webhook).await
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    /// The `data` of the test event; `{}` when absent.
    #[schema(value_type = Option<Object>)]
    data: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TestOutcome {
    webhook_id_header: String,
    outcome: &'static str,
    status_code: Option<u16>,
    latency_ms: u64,
    error: Option<String>,
    response_excerpt: Option<String>,
}

/// Sends a signed `webhook.test` event now and answers with the attempt's outcome.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/webhooks/{id}/test",
    tag = "webhooks",
    operation_id = "webhooks_send_test",
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Webhook id")),
    request_body = Option<TestRequest>,
    responses(
        (status = 200, body = TestOutcome),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong key", body = ErrorBody),
        (status = 404, description = "Not found, or another partner's", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
        (status = 429, description = "The app's test sends of the last minute reached HOOKGATE_TEST_SENDS_PER_MINUTE", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn send_test(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((app_id, id)): ApiPath<(String, String)>,
    ApiBytes(body): ApiBytes,
) -> Result<Json<TestOutcome>, ApiError> {
    let webhook = owned_webhook(&state, &caller, &app_id, &id).await?;
    let request: TestRequest = parse_json(&body, true)?;
    let data = match request.data {
        None => "{}".to_string(),
        Some(raw) if raw.get().starts_with('{') => raw.get().to_string(),
        Some(_) => return Err(ApiError::invalid("data must be a JSON object")),
    };
    let (msg_id, outcome) = state.dispatcher.send_test(&webhook, &data).await?;
    Ok(Json(TestOutcome {
        webhook_id_header: msg_id,
        outcome: outcome.class.as_str(),
        status_code: outcome.status,
        latency_ms: outcome.latency.as_millis() as u64,
        error: outcome.error,
        response_excerpt: outcome.excerpt,
    }))
}
