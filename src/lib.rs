//! hookgate: a partner-mode webhook gateway. See DESIGN.md for the behaviour.

pub mod api;
pub mod clock;
pub mod config;
pub mod console;
pub mod delivery;
pub mod domain;
pub mod due_wakes;
pub mod health;
pub mod metrics;
pub mod metrics_server;
/// The domain model, at its old path for the binaries and tests.
pub use domain::model;
pub mod notify;
pub mod ownership;
pub mod portal;
pub mod receiver;
pub mod retention;
pub mod server;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod usecases;
pub mod web;
