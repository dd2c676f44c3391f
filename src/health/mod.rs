//! Listener health at run time: the evaluator that applies the rules
//! ([`crate::domain::health`], a pure state machine) every tick to each active webhook's
//! recent attempts, and the tick schedule.

pub mod evaluator;
pub mod schedule;

pub use crate::domain::health as rules;
pub use crate::domain::health::{HealthChange, HealthInput, Reactivated, WebhookHealth};
pub use evaluator::Evaluator;
