//! The use cases: one module per resource, the only place that validates input and
//! decides. The API and the pages both call these functions, with the caller they
//! authenticated, and turn [`Error`] into a status or a message beside its field.
//!
//! Below them are the domain and the store; the delivery runtime is reached only
//! through the [`Deliveries`] port it implements, so nothing here imports it.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::domain::health::HealthRules;
use crate::domain::target::TargetPolicy;
use crate::store::SharedStore;

pub mod apps;
pub mod catalogue;
pub mod contract;
pub mod destinations;
mod error;
pub mod events;
pub mod health;
pub mod installations;
pub mod keys;
pub mod logs;
pub mod notifications;
pub mod portal;
mod ports;
pub mod publishing;
pub mod sessions;
pub mod tenants;
mod validate;
pub mod webhooks;

pub use error::{ConflictKind, Error, LimitKind, Result};
pub use ports::{Deliveries, Notifier, TestSendsExhausted, TestSent};
pub use validate::{
    new_id, page_limit, parse_json, parse_object, validate_filters, validate_id, validate_text,
};

/// What every use case works with: the store, the clock, the rules set by the operator,
/// and the delivery runtime.
#[derive(Clone)]
pub struct Gateway {
    pub store: SharedStore,
    pub clock: SharedClock,
    pub policy: Arc<Policy>,
    /// The platform key's hash: what the API and the console's sign-in compare with.
    pub platform_key_hash: Arc<str>,
    pub deliveries: Arc<dyn Deliveries>,
    /// Test sends to notification destinations.
    pub notifier: Arc<dyn Notifier>,
    /// Single publishes, committed in groups.
    pub publisher: Arc<publishing::GroupCommit>,
}

/// The operator's rules the use cases apply; `Settings::policy()` builds it.
#[derive(Debug, Clone)]
pub struct Policy {
    /// A published type must be in the catalogue.
    pub strict_event_types: bool,
    pub max_webhooks_per_app: i64,
    /// The rate limit a new webhook gets; 0 for none.
    pub default_rate_limit_per_second: i64,
    /// Which listener URLs are accepted.
    pub targets: TargetPolicy,
    /// How long a rotated-out secret keeps signing beside the new one.
    pub secret_rotation_overlap: chrono::TimeDelta,
    /// What the health evaluator applies, shown to partners.
    pub health_rules: HealthRules,
    pub health_window: chrono::TimeDelta,
}

/// Who is calling: the platform, or the partner that owns one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Platform,
    /// `read_only`: an OAuth token with the read scope only.
    Partner {
        app_id: String,
        read_only: bool,
    },
}

impl Caller {
    /// A partner may only see its own app; any other app id is "not found", so the
    /// answer does not reveal that the app exists.
    pub fn require_app(&self, app_id: &str) -> Result<()> {
        match self {
            Caller::Platform => Ok(()),
            Caller::Partner { app_id: own, .. } if own == app_id => Ok(()),
            Caller::Partner { .. } => Err(Error::NotFound("app")),
        }
    }

    /// Credentials (the signing secret, custom header values) are the manage scope's,
    /// even to read: a read-only token could forge deliveries with them.
    pub fn require_manage(&self) -> Result<()> {
        match self {
            Caller::Partner {
                read_only: true, ..
            } => Err(Error::InsufficientScope(
                "credentials can only be read with the manage scope".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// A field that is present, even as `null`, is `Some`; an absent one stays `None`.
pub(crate) fn present<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}
