//! hookgate: a partner-mode webhook gateway. See DESIGN.md for the behaviour.

pub mod api;
pub mod clock;
pub mod config;
pub mod console;
pub mod delivery;
pub mod health;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod portal;
pub mod receiver;
pub mod retention;
pub mod server;
pub mod startup;
pub mod store;
pub mod web;

/// Logs to stderr; JSON lines when `HOOKGATE_LOG_FORMAT=json`.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("HOOKGATE_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
