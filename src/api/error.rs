//! Every error leaves the API as `{"error": {"code", "message"}}` with the right status.
//! Server-side failures are logged in full and answered without their details.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::store::StoreError;
use crate::usecases::{ConflictKind, Error, LimitKind};

/// The code of every 503 the database causes, an outage or no answer in time.
pub const DATABASE_UNAVAILABLE: &str = "database_unavailable";

/// What a 503 asks the client to wait before it tries again.
pub const RETRY_AFTER_SECONDS: u64 = 2;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    /// 429: a per-app cap on something costly (test sends).
    pub fn too_many(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; it has been logged",
        )
    }

    /// The database did not answer within `limit` ([`deadline`](super::deadline)).
    /// Unlike the other outages, a write may have committed before the answer was lost.
    pub fn database_timeout(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            DATABASE_UNAVAILABLE,
            format!(
                "the database did not answer within {}; the request may or may not have \
                 taken effect: retry it (a publish with the same event id or \
                 Idempotency-Key is stored once)",
                humantime::format_duration(limit)
            ),
        )
    }

    fn body_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body stopped arriving, or arrived too slowly, before it was complete",
        )
    }

    /// Axum's own rejections carry the right status; give them our body and a code.
    fn from_rejection(status: StatusCode, text: String) -> Self {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid",
            s if s.is_server_error() => return Self::internal(),
            _ => "bad_request",
        };
        Self::new(status, code, text)
    }
}

/// `{"error": {"code", "message"}}`, the body of every error.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable: `bad_request`, `malformed_json`, `unauthorized`,
    /// `forbidden`, `not_found`, `request_timeout`, `conflict`, `payload_too_large`, `invalid`,
    /// `unknown_reference`, `database_unavailable`, `internal`…
    pub code: String,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        // The gateway is not down for good: say when to come back.
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(RETRY_AFTER_SECONDS),
            );
        }
        // The body of such a request was not read to its end: the connection cannot
        // carry another request.
        if matches!(
            self.status,
            StatusCode::REQUEST_TIMEOUT | StatusCode::PAYLOAD_TOO_LARGE
        ) {
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            Error::Invalid { .. } => Self::invalid(message),
            Error::MalformedJson(_) => {
                Self::new(StatusCode::BAD_REQUEST, "malformed_json", message)
            }
            // A resource the body names does not exist: as for one the path names.
            Error::UnknownReference(_) => {
                Self::new(StatusCode::NOT_FOUND, "unknown_reference", message)
            }
            Error::Conflict {
                kind: ConflictKind::InstallationRevoked,
                ..
            } => Self::new(StatusCode::CONFLICT, "installation_revoked", message),
            Error::Conflict { .. }
            | Error::LimitReached {
                kind: LimitKind::Count,
                ..
            } => Self::conflict(message),
            Error::LimitReached {
                kind: LimitKind::Rate,
                ..
            } => Self::too_many(message),
            Error::InsufficientScope(_) => {
                Self::new(StatusCode::FORBIDDEN, "insufficient_scope", message)
            }
            Error::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                DATABASE_UNAVAILABLE,
                message,
            ),
            Error::Store(e) => Self::from_store_failure(e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Error::from(e).into()
    }
}

impl ApiError {
    /// The store failed: a client's NUL byte is its own mistake; anything else is logged
    /// and answered without details.
    fn from_store_failure(e: StoreError) -> Self {
        match e {
            // PostgreSQL refuses NUL bytes in text; only a client can have sent one.
            StoreError::Database(sqlx::Error::Database(ref db))
                if matches!(db.code().as_deref(), Some("22021" | "22P05")) =>
            {
                Self::bad_request("text must not contain NUL bytes or invalid characters")
            }
            other => {
                tracing::error!(error = %other, "store error");
                Self::internal()
            }
        }
    }
}

macro_rules! from_axum_rejection {
    ($($rejection:ty),+) => {$(
        impl From<$rejection> for ApiError {
            fn from(r: $rejection) -> Self {
                if is_body_timeout(&r) {
                    return Self::body_timeout();
                }
                Self::from_rejection(r.status(), r.body_text())
            }
        }
    )+};
}
from_axum_rejection!(JsonRejection, PathRejection, QueryRejection, BytesRejection);

/// Whether reading the body failed because the client stopped sending it, or sent it
/// too slowly (the server's pace, `server::paced_body`).
fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.is::<crate::server::BodyTooSlow>() {
            return true;
        }
        cause = e.source();
    }
    false
}
