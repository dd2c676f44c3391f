//! Getting events to partner listeners: payload, signature, the HTTP attempt, the retry
//! policy, and the dispatcher that claims due deliveries and records their attempts.

pub mod dispatcher;
pub mod payload;
mod port;
pub mod rate_limit;
pub mod resolver;
pub mod sender;
pub mod signing;
pub mod slots;

pub use dispatcher::Dispatcher;
// The pure rules live in the domain; these paths stay for the binaries and tests.
pub use crate::domain::{concurrency, filter, retry, target};
