//! Extractors whose rejections are [`ApiError`]s, and who the caller is.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::ApiError;
use super::AppState;

/// A JSON object body (declared `application/json`) as `T`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        // The media type, the size limit and the syntax as axum checks them; the shape here.
        let axum::Json(raw) =
            axum::Json::<Box<serde_json::value::RawValue>>::from_request(req, state).await?;
        Ok(Self(crate::usecases::parse_object(raw.get())?))
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

use crate::domain::secrets::hash_key;
pub use crate::usecases::Caller;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("send your API key as 'Authorization: Bearer <key>'")
            })?;
        let hash = hash_key(key);
        if crate::domain::secrets::same_hash(&hash, &state.platform_key_hash) {
            return Ok(Caller::Platform);
        }
        if let Some(oauth) = state.oauth.as_deref().filter(|_| looks_like_jwt(key)) {
            return oauth_caller(oauth, state, key, &parts.method).await;
        }
        match state.store.app_for_key(&hash).await? {
            Some(app_id) => Ok(Caller::Partner {
                app_id,
                read_only: false,
            }),
            None => Err(ApiError::unauthorized("the API key is not valid")),
        }
    }
}

/// Partner keys hold no dot; a JWT is three base64url parts joined by dots.
fn looks_like_jwt(key: &str) -> bool {
    key.split('.').count() == 3
}

/// Longer than any access token an authorization server issues; refused unread.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The partner of the app whose OAuth client the access token was issued to, if its
/// scopes allow `method`: reading takes the read or the manage scope, anything else the
/// manage scope.
async fn oauth_caller(
    oauth: &super::OAuthVerifier,
    state: &AppState,
    token: &str,
    method: &axum::http::Method,
) -> Result<Caller, ApiError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ApiError::unauthorized("the access token is too long"));
    }
    let verified = oauth.verify(token).await.map_err(|e| match e {
        super::TokenError::Invalid(_) => ApiError::unauthorized(e.to_string()),
        // The JWKS URL and the fetch's error are the operators', in the log.
        super::TokenError::KeysUnavailable(_) => {
            tracing::warn!(error = %e, "OAuth signing keys unavailable");
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "oauth_unavailable",
                "the authorization server's signing keys cannot be fetched now; try again later",
            )
        }
    })?;
    let Some(app_id) = state
        .store
        .app_for_oauth_client(&verified.client_id)
        .await?
    else {
        return Err(ApiError::unauthorized(
            "no app is set up for this token's OAuth client",
        ));
    };
    let settings = &state.settings;
    let has = |scope: &str| verified.scopes.iter().any(|s| s == scope);
    let reading = matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD);
    let allowed = has(&settings.oauth_manage_scope) || (reading && has(&settings.oauth_read_scope));
    if !allowed {
        let needed = if reading {
            format!(
                "{} or {}",
                settings.oauth_read_scope, settings.oauth_manage_scope
            )
        } else {
            settings.oauth_manage_scope.clone()
        };
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("this access token's scopes do not allow this request: it needs {needed}"),
        ));
    }
    Ok(Caller::Partner {
        app_id,
        read_only: !has(&settings.oauth_manage_scope),
    })
}

/// Routes only the platform may call.
pub struct Platform;

impl FromRequestParts<AppState> for Platform {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Platform => Ok(Platform),
            Caller::Partner { .. } => Err(ApiError::forbidden(
                "this route needs the platform key; partner keys manage their own webhooks",
            )),
        }
    }
}

/// The raw body (for hashing and precise JSON errors), bounded by the body limit.
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Ok(Self(axum::body::Bytes::from_request(req, state).await?))
    }
}
