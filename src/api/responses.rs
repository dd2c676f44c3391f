//! The error answers routes share, declared once and listed beside each route's success
//! (kanidm's `apidocs/response_schema.rs`): a route's document names exactly the sets its
//! extractors and use cases can answer. Every one has the `ErrorBody` shape.

#![allow(dead_code)] // The variants are the document's, never built.

use super::error::ErrorBody;

/// Every route: who calls it.
#[derive(utoipa::IntoResponses)]
pub enum Authenticated {
    /// No key or token, or one hookgate does not know.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// A partner key on a platform route, or an access token without the scope the
    /// method needs (`insufficient_scope`).
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// The database (`database_unavailable`: down, full, read-only, busy, or no answer
    /// within `HOOKGATE_DB_TIMEOUT`), or the OAuth issuer's signing keys
    /// (`oauth_unavailable`), cannot be reached now.
    #[response(
        status = 503,
        headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))
    )]
    Unavailable(ErrorBody),
}

/// Routes that name a resource (in the path, or in the body they take).
#[derive(utoipa::IntoResponses)]
pub enum Missing {
    /// It does not exist, or it is another partner's.
    #[response(status = 404)]
    NotFound(ErrorBody),
}

/// Routes that read a JSON body.
#[derive(utoipa::IntoResponses)]
pub enum Body {
    /// The body is not JSON (`malformed_json`), or a header is malformed.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// The body stopped arriving, or came too slowly, before it was complete.
    #[response(status = 408)]
    Timeout(ErrorBody),
    /// The body is larger than the gateway's limit.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// A field is missing, unknown or invalid: the message names it.
    #[response(status = 422)]
    Invalid(ErrorBody),
}

/// Routes whose body must be declared JSON (all but the publishes and the actions whose
/// body is optional, which read it whatever its declared type).
#[derive(utoipa::IntoResponses)]
pub enum JsonOnly {
    /// The body is not declared `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
}

/// Routes with query parameters.
#[derive(utoipa::IntoResponses)]
pub enum Query {
    /// The query string cannot be read (an unknown parameter, a value of the wrong type).
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// A parameter's value is out of its range.
    #[response(status = 422)]
    Invalid(ErrorBody),
}
