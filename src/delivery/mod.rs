//! Getting events to partner listeners: payload, signature, the HTTP attempt, the retry
//! policy, and the dispatcher that claims due deliveries and records their attempts.

pub mod concurrency;
pub mod dispatcher;
pub mod filter;
pub mod payload;
pub mod rate_limit;
pub mod resolver;
pub mod retry;
pub mod sender;
pub mod signing;
pub mod slots;
pub mod target;

pub use dispatcher::Dispatcher;
