//! The HTTP API under `/v1`: one module per resource, each exposing `router()`.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::config::Settings;
use crate::usecases::Gateway;

pub mod apps;
mod deadline;
pub mod destinations;
pub mod error;
pub mod event_types;
pub mod events;
pub mod extract;
pub mod health;
pub mod installations;
pub mod keys;
pub mod logs;
mod oauth;
pub use oauth::{AccessToken, OAuthVerifier, TokenError};
pub mod notifications;
mod params;
pub mod portal_links;
mod responses;
pub mod tenants;
pub mod webhooks;

pub use error::{ApiError, ErrorBody};
use utoipa_axum::router::OpenApiRouter;

/// What the API's handlers hold: the use cases' gateway, and what only the API needs
/// (its settings, the OAuth verifier).
#[derive(Clone)]
pub struct AppState {
    pub gateway: Gateway,
    pub settings: Arc<Settings>,
    /// Verifies the platform's OAuth access tokens, when an issuer is configured.
    pub oauth: Option<Arc<OAuthVerifier>>,
}

impl std::ops::Deref for AppState {
    type Target = Gateway;

    fn deref(&self) -> &Gateway {
        &self.gateway
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "hookgate",
        description = "A partner-mode webhook gateway. Platform routes take the platform key; \
                       partner routes take the app's partner key (or the platform key), or an \
                       OAuth 2.0 access token (RFC 9068 JWT) of the app's OAuth client when \
                       HOOKGATE_OAUTH_ISSUER is set.",
    ),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody)),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                utoipa::openapi::security::HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The platform key, a partner key (hg_app_…), or on partner routes an \
                         OAuth 2.0 access token: a JWT (RFC 9068) from the platform's \
                         authorization server whose client_id is the app's oauth_client_id; \
                         scope webhooks:read for GET, webhooks:manage for the rest.",
                    ))
                    .build(),
            ),
        );
    }
}

/// `POST …/webhooks` takes the fields `PATCH` takes, those of
/// [`webhooks::REQUIRED_ON_CREATE`] required and not `null`: the schema `NewWebhook`.
fn document_new_webhook(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{Schema, SchemaType};
    use utoipa::openapi::{Ref, RefOr};
    {
        let Some(schemas) = openapi.components.as_mut().map(|c| &mut c.schemas) else {
            return;
        };
        let Some(RefOr::T(Schema::Object(mut fields))) = schemas.get("WebhookFields").cloned()
        else {
            return;
        };
        for name in crate::usecases::webhooks::REQUIRED_ON_CREATE {
            fields.required.push(name.to_string());
            if let Some(RefOr::T(Schema::Object(field))) = fields.properties.get_mut(*name) {
                if let SchemaType::Array(types) = &field.schema_type {
                    let types: Vec<_> = types
                        .iter()
                        .filter(|t| **t != utoipa::openapi::Type::Null)
                        .cloned()
                        .collect();
                    field.schema_type = match types.as_slice() {
                        [one] => SchemaType::Type(one.clone()),
                        _ => SchemaType::Array(types),
                    };
                }
            }
        }
        schemas.insert("NewWebhook".into(), RefOr::T(Schema::Object(fields)));
    }
    let create = openapi
        .paths
        .paths
        .get_mut("/v1/apps/{app}/webhooks")
        .and_then(|item| item.post.as_mut());
    let body = create
        .and_then(|op| op.request_body.as_mut())
        .and_then(|body| body.content.get_mut("application/json"));
    if let Some(body) = body {
        body.schema = Some(RefOr::Ref(Ref::from_schema_name("NewWebhook")));
    }
}

/// The listener URL's rule as this gateway applies it: with insecure targets allowed,
/// `http://` too.
fn document_targets(openapi: &mut utoipa::openapi::OpenApi, allow_insecure: bool) {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    for name in [
        "WebhookFields",
        "NewWebhook",
        "NewHttpsDestination",
        "DestinationPatch",
    ] {
        if let Some(RefOr::T(Schema::Object(fields))) = components.schemas.get_mut(name) {
            if let Some(RefOr::T(Schema::Object(url))) = fields.properties.get_mut("url") {
                url.pattern = Some(crate::usecases::contract::url_pattern(allow_insecure));
            }
        }
    }
}

/// The API's routes and the OpenAPI document generated from the same registrations, so
/// a route cannot exist without being documented.
pub fn routes_and_doc() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut doc) = OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .merge(tenants::router())
        .merge(apps::router())
        .merge(keys::router())
        .merge(installations::router())
        .merge(webhooks::router())
        .merge(logs::router())
        .merge(health::router())
        .merge(events::router())
        .merge(notifications::router())
        .merge(destinations::router())
        .merge(event_types::router())
        .merge(portal_links::router())
        .split_for_parts();
    document_new_webhook(&mut doc);
    destinations::document_new_destination(&mut doc);
    (routes, doc)
}

/// The API, with `pages` (the portal's and the console's routes with their state, which
/// the composition hands in: the API imports neither) behind the same limits, metrics
/// and traces.
pub fn router(state: AppState, pages: Router) -> Router {
    let max_body = state.settings.max_body_bytes;
    let db_timeout = state.settings.db_timeout;
    let (api, mut doc) = routes_and_doc();
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        db_timeout,
        deadline::bound_database_wait,
    ));
    document_targets(&mut doc, state.policy.targets.allow_insecure);
    let doc = Arc::new(doc);
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/openapi.json",
            get(move || async move { Json(doc.as_ref().clone()) }),
        )
        .route("/readyz", get(readyz))
        .merge(api)
        .layer(axum::middleware::from_fn(no_sniff_no_store))
        .with_state(state)
        .merge(pages)
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method",
            )
        })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            max_body,
            refuse_oversized_bodies,
        ))
        .layer(axum::middleware::from_fn(track_requests))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// Every list the API answers: wrapped, so fields can be added without breaking clients.
/// `next_cursor`, on the logs that page, is the `before` of the next page; `null` when
/// there is none (and on every list that does not page).
#[derive(Serialize, utoipa::ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    /// A page of at most `limit` items: a full page has a next one, after its last item.
    pub fn page(data: Vec<T>, limit: i64, id: impl Fn(&T) -> &str) -> Self {
        let next_cursor = (data.len() as i64 == limit)
            .then(|| data.last().map(|last| id(last).to_string()))
            .flatten();
        Self { data, next_cursor }
    }
}

impl<T> From<Vec<T>> for List<T> {
    fn from(data: Vec<T>) -> Self {
        Self {
            data,
            next_cursor: None,
        }
    }
}

/// API answers carry keys, secrets and tenants' data: none is to be cached, nor read as
/// anything but what it says it is.
async fn no_sniff_no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// Ready when the database answers and every migration is applied.
async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let unavailable =
        |message: &str| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
    // Probes give up after a second or two; answer before they do.
    match tokio::time::timeout(std::time::Duration::from_secs(1), state.store.ready()).await {
        Ok(Ok(true)) => Ok(Json(serde_json::json!({"status": "ready"}))),
        Ok(Ok(false)) => Err(unavailable("database migrations are not applied")),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(unavailable("the database is unavailable"))
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            Err(unavailable("the database does not answer"))
        }
    }
}

/// A body announced longer than the limit is refused before a byte of it is read (the
/// body limit alone would wait for the bytes, which a stalled client never sends).
async fn refuse_oversized_bodies(
    State(max_body): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > max_body as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than the limit of {max_body} bytes"),
        )
        .into_response();
    }
    next.run(request).await
}

/// Counts API requests by method, route template (never the raw path, nor its query)
/// and status, each in a span that continues the caller's `traceparent` when it sent one.
async fn track_requests(request: Request, next: Next) -> Response {
    use tracing::Instrument;
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = crate::metrics::method_label(request.method());
    let span = tracing::info_span!(
        "request",
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok());
    crate::telemetry::continue_trace(&span, traceparent);
    let started = std::time::Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    let status = response.status().as_u16().to_string();
    metrics::counter!(crate::metrics::HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(crate::metrics::HTTP_DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
