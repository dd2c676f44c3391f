//! What a page answers when it cannot be shown: an error page of its area, with the
//! status the use case's error calls for and its message (never a store's details).

use std::marker::PhantomData;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::pages::{error_page_in, Area};
use crate::store::StoreError;
use crate::usecases::{Error, LimitKind};

/// Which area's pages an error belongs to.
pub trait InArea: Send + Sync + 'static {
    const AREA: Area;
}

pub struct PortalArea;
pub struct ConsoleArea;

impl InArea for PortalArea {
    const AREA: Area = Area::Portal;
}

impl InArea for ConsoleArea {
    const AREA: Area = Area::Console;
}

/// An error page of area `A`. Handlers return `Result<_, PageError<A>>` and use `?` on
/// the use cases.
#[derive(Debug)]
pub struct PageError<A> {
    pub status: StatusCode,
    pub message: String,
    area: PhantomData<A>,
}

impl<A> PageError<A> {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            area: PhantomData,
        }
    }

    /// A form without its session's CSRF token: nothing was done.
    pub fn csrf_refused() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "This form is missing its security token or it has expired. Reload the page and try again.",
        )
    }
}

/// The status a page answers a use case's error with: the API's.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Invalid { .. } | Error::UnknownReference(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::MalformedJson(_) => StatusCode::BAD_REQUEST,
        Error::Conflict { .. }
        | Error::LimitReached {
            kind: LimitKind::Count,
            ..
        } => StatusCode::CONFLICT,
        Error::LimitReached {
            kind: LimitKind::Rate,
            ..
        } => StatusCode::TOO_MANY_REQUESTS,
        Error::InsufficientScope(_) => StatusCode::FORBIDDEN,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The message a page shows for a use case's error.
pub fn message_of(e: &Error) -> String {
    match e {
        Error::Store(store) => {
            tracing::error!(error = %store, "store error");
            "internal error; it has been logged".into()
        }
        other => other.to_string(),
    }
}

impl<A> From<Error> for PageError<A> {
    fn from(e: Error) -> Self {
        Self::new(status_of(&e), message_of(&e))
    }
}

impl<A> From<StoreError> for PageError<A> {
    fn from(e: StoreError) -> Self {
        Error::from(e).into()
    }
}

impl<A: InArea> IntoResponse for PageError<A> {
    fn into_response(self) -> Response {
        error_page_in(A::AREA, self.status, &self.message)
    }
}

/// A refused form: a caller's mistake is shown on the form's own page (`form_page`, not
/// built otherwise) with the status the API would answer; a failure of the gateway
/// itself as an error page.
pub async fn refused_form<A: InArea>(
    e: &Error,
    form_page: impl std::future::Future<Output = Result<maud::Markup, PageError<A>>>,
) -> Response {
    if !e.is_caller_error() {
        return PageError::<A>::new(status_of(e), message_of(e)).into_response();
    }
    match form_page.await {
        Ok(page) => (status_of(e), page).into_response(),
        Err(page_error) => page_error.into_response(),
    }
}
