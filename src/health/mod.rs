//! Listener health: the rules (a pure state machine), and the evaluator that applies
//! them every tick to each active webhook's recent attempts.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::notify::Notification;

pub mod evaluator;
pub mod rules;
pub mod schedule;

pub use evaluator::Evaluator;
use rules::{HealthState, Status, WindowFigures};

/// One active webhook as the evaluator sees it.
#[derive(Debug, Clone)]
pub struct HealthInput {
    pub webhook_id: String,
    pub app_id: String,
    pub app_name: String,
    pub url: String,
    pub state: HealthState,
    pub window: WindowFigures,
}

/// What one evaluation writes for one webhook, in one transaction.
#[derive(Debug, Clone)]
pub struct HealthChange {
    pub webhook_id: String,
    pub state: HealthState,
    pub evaluated_at: DateTime<Utc>,
    pub window: WindowFigures,
    pub notification: Option<Notification>,
}

/// `GET …/webhooks/{id}/health`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct WebhookHealth {
    pub webhook_id: String,
    pub state: Status,
    pub failure_since: Option<DateTime<Utc>>,
    pub warned: bool,
    pub last_evaluated_at: Option<DateTime<Utc>>,
    pub window_attempts: i64,
    pub window_failures: i64,
    pub window_failure_rate: Option<f64>,
}

/// What a reactivation did with the deliveries kept while the webhook was off.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Reactivated {
    pub released: u64,
    pub skipped: u64,
}
