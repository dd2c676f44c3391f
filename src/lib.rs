//! hookgate: a partner-mode webhook gateway. See DESIGN.md for the behaviour.

pub mod api;
pub mod clock;
pub mod config;
pub mod console;
pub mod delivery;
pub mod health;
pub mod metrics;
pub mod metrics_server;
pub mod model;
pub mod notify;
pub mod portal;
pub mod receiver;
pub mod retention;
pub mod server;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
