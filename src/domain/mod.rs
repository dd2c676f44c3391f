//! The domain: plain types and pure rules, no I/O (no `sqlx`, no HTTP). Every other
//! layer builds on it; it imports nothing of theirs.

pub mod concurrency;
pub mod destination;
pub mod fair_share;
pub mod filter;
pub mod health;
pub mod model;
pub mod notification;
pub mod ordering;
pub mod ownership;
pub mod retry;
pub mod secrets;
pub mod stats;
pub mod target;
pub mod whole;
