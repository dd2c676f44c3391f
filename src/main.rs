use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use hookgate::clock::SystemClock;
use hookgate::config::Settings;
use hookgate::startup::{shutdown_on_signal, Application};

/// hookgate: a partner-mode webhook gateway.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and the delivery workers.
    Serve(Box<Settings>),
    /// Apply database migrations and exit.
    Migrate {
        #[arg(
            long,
            env = "HOOKGATE_DATABASE_URL",
            default_value = "sqlite://hookgate.db"
        )]
        database_url: String,
    },
    /// Delete now what retention lets go (as `serve` does hourly), and exit.
    Prune {
        #[arg(
            long,
            env = "HOOKGATE_DATABASE_URL",
            default_value = "sqlite://hookgate.db"
        )]
        database_url: String,
        /// What ended longer ago than this is deleted; deliveries still owed never are.
        #[arg(long, env = "HOOKGATE_RETENTION", default_value = "30d", value_parser = humantime::parse_duration)]
        retention: std::time::Duration,
    },
    /// A listener that prints deliveries and checks their signatures, for trying hookgate.
    Receiver {
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: SocketAddr,
        /// The webhook's `whsec_…` secret, to check signatures.
        #[arg(long)]
        secret: Option<String>,
        /// The status code to answer with.
        #[arg(long, default_value_t = 200)]
        status: u16,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let otel_endpoint = match &cli.command {
        Command::Serve(settings) => settings.otel_endpoint.clone(),
        _ => None,
    };
    let telemetry = hookgate::telemetry::init(otel_endpoint.as_deref());
    let outcome = run(cli).await;
    telemetry.shutdown();
    outcome
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(settings) => {
            let app = Application::build(*settings, Arc::new(SystemClock)).await?;
            app.run_until(shutdown_on_signal()).await
        }
        Command::Migrate { database_url } => {
            let store = hookgate::store::connect(
                &database_url,
                &hookgate::store::PoolSettings {
                    max_connections: 1,
                    ..Default::default()
                },
            )
            .await?;
            tracing::info!(backend = store.backend(), "migrations applied");
            Ok(())
        }
        Command::Prune {
            database_url,
            retention,
        } => {
            hookgate::config::check_retention(retention)?;
            anyhow::ensure!(
                !retention.is_zero(),
                "retention is 0s (keep everything): nothing to prune"
            );
            let store = hookgate::store::connect(&database_url, &Default::default()).await?;
            let keep = chrono::TimeDelta::from_std(retention)?;
            hookgate::retention::Pruner::new(store, Arc::new(SystemClock), keep)
                .run_once()
                .await?;
            Ok(())
        }
        Command::Receiver {
            listen,
            secret,
            status,
        } => hookgate::receiver::run(listen, secret, status).await,
    }
}
