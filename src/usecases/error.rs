//! What can go wrong in a use case, said as what went wrong (never as an HTTP status):
//! the API turns it into a status and `{"error":…}`, the pages into a message beside
//! the field it names.

use crate::store::StoreError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The resource does not exist, or is not the caller's to see.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A value is refused. `field` is its name as the API spells it (`url`,
    /// `retry_policy`, `events[3].type`…); `None` when the request as a whole is wrong.
    #[error("{message}")]
    Invalid {
        field: Option<&'static str>,
        message: String,
    },
    /// The body is not JSON at all.
    #[error("{0}")]
    MalformedJson(String),
    /// The request names a row that does not exist (a tenant, an app).
    #[error("{0}")]
    UnknownReference(String),
    /// The change contradicts what is stored.
    #[error("{message}")]
    Conflict { kind: ConflictKind, message: String },
    /// A limit the operator set is reached.
    #[error("{message}")]
    LimitReached { kind: LimitKind, message: String },
    /// An OAuth token whose scopes do not allow this.
    #[error("{0}")]
    InsufficientScope(String),
    /// The database cannot be reached now; trying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// The store failed; its details are the operator's.
    #[error(transparent)]
    Store(StoreError),
}

/// Why a change conflicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictKind {
    /// A unique key is taken: which one, as the store's constraint names it
    /// (`apps.oauth_client_id`), when the database said.
    Taken(Option<String>),
    /// Other rows still refer to the one to delete.
    InUse,
    /// The resource's state does not allow it (an active webhook reactivated…).
    State,
    /// The tenant uninstalled the app: its deliveries are never sent again.
    InstallationRevoked,
}

/// Which limit was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// A count of stored things (webhooks of an app, live keys).
    Count,
    /// A rate (test sends a minute); trying later helps.
    Rate,
}

impl Error {
    /// `field`'s value is refused.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field),
            message: message.into(),
        }
    }

    /// The request is refused as a whole.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::Invalid {
            field: None,
            message: message.into(),
        }
    }

    pub fn conflict(kind: ConflictKind, message: impl Into<String>) -> Self {
        Self::Conflict {
            kind,
            message: message.into(),
        }
    }

    /// The field an error is about, if it names one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Invalid { field, .. } => *field,
            _ => None,
        }
    }

    /// The same error, said of the `index`th item of a list (`events[3]: …`).
    pub fn in_item(self, list: &'static str, index: usize) -> Self {
        match self {
            Error::Invalid { message, .. } => Error::Invalid {
                field: Some(list),
                message: format!("{list}[{index}]: {message}"),
            },
            Error::MalformedJson(message) => {
                Error::MalformedJson(format!("{list}[{index}]: {message}"))
            }
            other => other,
        }
    }

    /// A taken key said precisely when it is `constraint` (`table.column`), where the
    /// store's message covers several keys.
    pub fn taken_as(self, constraint: &str, message: &str) -> Self {
        match self {
            Error::Conflict {
                kind: ConflictKind::Taken(Some(taken)),
                ..
            } if taken == constraint => Error::conflict(ConflictKind::Taken(Some(taken)), message),
            other => other,
        }
    }

    /// Whether the caller can fix it (anything but the store failing).
    pub fn is_caller_error(&self) -> bool {
        !matches!(self, Error::Store(_) | Error::Unavailable(_))
    }
}

/// The app's test sends of the last minute reached the cap: trying later helps.
impl From<super::TestSendsExhausted> for Error {
    fn from(e: super::TestSendsExhausted) -> Self {
        Error::LimitReached {
            kind: LimitKind::Rate,
            message: e.to_string(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict {
                constraint,
                message,
            } => Error::Conflict {
                kind: ConflictKind::Taken(constraint),
                message,
            },
            StoreError::InUse(message) => Error::conflict(ConflictKind::InUse, message),
            StoreError::LimitReached(message) => Error::LimitReached {
                kind: LimitKind::Count,
                message,
            },
            StoreError::NotFound(message) => Error::UnknownReference(message),
            other => match other.outage() {
                Some(outage) => {
                    tracing::error!(error = %other, ?outage, "database unavailable");
                    Error::Unavailable(outage.message().to_string())
                }
                None => Error::Store(other),
            },
        }
    }
}
