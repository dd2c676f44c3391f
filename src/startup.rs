//! Builds the application from settings and a clock, bound to a listener, so that tests
//! start it on port 0 with a fresh database and a manual clock.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use rand::distributions::{Alphanumeric, DistString};
use tokio::net::TcpListener;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::delivery::dispatcher::Dispatcher;
use crate::domain::secrets::hash_key;
use crate::due_wakes::DueWakes;
use crate::health::evaluator::Evaluator;
use crate::notify::sqs::{PlatformQueue, SqsClients};
use crate::notify::{Relay, Senders};
use crate::ownership::Ownership;
use crate::retention::Pruner;
use crate::store::{self, SharedStore};
use crate::usecases::publishing::GroupCommit;
use crate::usecases::Gateway;

pub struct Application {
    listener: TcpListener,
    pub addr: SocketAddr,
    metrics_listener: TcpListener,
    /// Where `/metrics` is served (`HOOKGATE_METRICS_LISTEN`).
    pub metrics_addr: SocketAddr,
    metrics: Arc<crate::metrics_server::MetricsEndpoint>,
    pub store: SharedStore,
    pub dispatcher: Arc<Dispatcher>,
    pub publisher: Arc<GroupCommit>,
    pub evaluator: Arc<Evaluator>,
    /// Present when a retention period is set.
    pub pruner: Option<Arc<Pruner>>,
    /// Present when an SQS queue is configured.
    pub relay: Arc<Relay>,
    /// PostgreSQL, when the dispatcher runs: this instance's listener leases (SQLite is
    /// one instance and owns all).
    pub ownership: Option<Arc<Ownership>>,
    /// PostgreSQL: wakes the owners of webhooks whose deliveries fall due here.
    due_wakes: Option<Arc<DueWakes>>,
    pub platform_key: String,
    state: AppState,
    run_dispatcher: bool,
    run_relay: bool,
    health_schedule: Option<String>,
    retention_schedule: String,
    shutdown_grace: std::time::Duration,
    connection_limits: crate::server::ConnectionLimits,
}

impl Application {
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        settings.validate()?;
        let store = store::connect(&settings.database_url, &settings.pool())
            .await
            .context("opening the database")?;
        let platform_key = match &settings.platform_key {
            Some(key) => key.clone(),
            None => {
                let key = format!(
                    "hg_plat_{}",
                    Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
                );
                // Printed once on stdout, never logged: logs carry no keys.
                println!("No HOOKGATE_PLATFORM_KEY set; this run's platform key is {key}");
                key
            }
        };
        let dispatcher = Arc::new(Dispatcher::new(
            store.clone(),
            clock.clone(),
            settings.dispatch()?,
        )?);
        let evaluator = Arc::new(Evaluator::new(
            store.clone(),
            clock.clone(),
            settings.evaluator()?,
        ));
        let pruner = settings
            .retention_period()
            .map(|period| Arc::new(Pruner::new(store.clone(), clock.clone(), period)));
        let aws = settings.aws();
        let sqs = SqsClients::load(&aws, clock.clone()).await;
        let platform = if settings.platform_queue() {
            let queue = PlatformQueue::connect(&aws, &sqs)
                .await
                .context("connecting to SQS")?;
            tracing::info!(
                queue = queue.queue_url(),
                "notifications also go to the platform's queue"
            );
            Some(queue)
        } else {
            tracing::info!("no platform SQS queue: notifications go to the apps' own destinations");
            None
        };
        let senders = Arc::new(Senders {
            sqs,
            http: dispatcher.sender().clone(),
            platform,
            clock: clock.clone(),
        });
        let relay = Arc::new(Relay::new(
            store.clone(),
            clock.clone(),
            senders.clone(),
            settings.relay_poll,
        ));
        // Only an instance that delivers owns listeners.
        let ownership = (settings.dispatcher && store.backend() == "postgres").then(|| {
            Arc::new(Ownership::new(
                store.clone(),
                clock.clone(),
                crate::ownership::instance_id(),
                settings.instance_heartbeat,
            ))
        });
        if let Some(ownership) = &ownership {
            dispatcher.own_through(ownership.clone());
            ownership.wake_on_new_leases(dispatcher.waker());
            let attempts = Arc::downgrade(&dispatcher);
            ownership.drain_while(Box::new(move |webhook| {
                attempts.upgrade().is_some_and(|d| d.holds(webhook))
            }));
        }
        let due_wakes = (store.backend() == "postgres").then(|| {
            let wakes = Arc::new(DueWakes::new(store.clone()));
            dispatcher.wake_owners_through(wakes.clone());
            wakes
        });
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let addr = listener.local_addr()?;
        let metrics_listener = TcpListener::bind(settings.metrics_listen)
            .await
            .with_context(|| format!("binding {} for /metrics", settings.metrics_listen))?;
        let metrics_addr = metrics_listener.local_addr()?;
        let metrics = Arc::new(crate::metrics_server::MetricsEndpoint::new(
            store.clone(),
            dispatcher.clone(),
            clock.clone(),
            settings.metrics_refresh,
            settings.metrics_token.as_deref(),
        ));
        let publisher = Arc::new(GroupCommit::start(
            store.clone(),
            settings.group_commit(),
            Some(dispatcher.clone() as Arc<dyn crate::usecases::Deliveries>),
        ));
        let gateway = Gateway {
            store: store.clone(),
            clock,
            policy: Arc::new(settings.policy()),
            platform_key_hash: hash_key(&platform_key).into(),
            deliveries: dispatcher.clone(),
            notifier: senders,
            publisher: publisher.clone(),
        };
        let state = AppState {
            gateway,
            settings: Arc::new(settings.clone()),
            oauth: crate::api::OAuthVerifier::from_settings(&settings).map(Arc::new),
        };
        Ok(Self {
            listener,
            addr,
            metrics_listener,
            metrics_addr,
            metrics,
            store,
            dispatcher,
            publisher,
            evaluator,
            pruner,
            relay,
            ownership,
            due_wakes,
            platform_key,
            state,
            run_dispatcher: settings.dispatcher,
            run_relay: settings.relay,
            health_schedule: settings
                .health_evaluator
                .then(|| settings.health_schedule.clone()),
            retention_schedule: settings.retention_schedule.clone(),
            shutdown_grace: settings.shutdown_grace,
            connection_limits: settings.connection_limits(),
        })
    }

    /// The periodic jobs: the health evaluator and retention, each when enabled.
    async fn schedule_jobs(&self) -> anyhow::Result<JobScheduler> {
        let scheduler = JobScheduler::new().await?;
        if let Some(cron) = &self.health_schedule {
            let evaluator = self.evaluator.clone();
            let job = cron_job(cron, "health evaluation", move || {
                let evaluator = evaluator.clone();
                async move { evaluator.tick().await }
            });
            scheduler
                .add(job.with_context(|| format!("the health schedule {cron:?}"))?)
                .await?;
        }
        if let Some(pruner) = &self.pruner {
            let (cron, pruner) = (&self.retention_schedule, pruner.clone());
            let job = cron_job(cron, "retention", move || {
                let pruner = pruner.clone();
                async move { pruner.run_once().await }
            });
            scheduler
                .add(job.with_context(|| format!("the retention schedule {cron:?}"))?)
                .await?;
        }
        scheduler.start().await?;
        Ok(scheduler)
    }

    /// Serves the API (and the dispatcher, unless disabled) until `shutdown` fires, then
    /// stops accepting, lets workers finish their batch within the grace period.
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(addr = %self.addr, backend = self.store.backend(), "hookgate listening");
        let workers = self
            .run_dispatcher
            .then(|| tokio::spawn(self.dispatcher.clone().run(shutdown.clone())));
        let mut scheduler = self.schedule_jobs().await?;
        // The leases are kept until the workers stop, so that the attempts finishing
        // during shutdown are still recorded under them.
        let stop_owning = CancellationToken::new();
        let ownership = self.ownership.clone().map(|ownership| {
            tracing::info!(instance = ownership.instance(), "joining the cluster");
            let stop = stop_owning.clone();
            tokio::spawn(async move { ownership.run(stop).await })
        });
        let announcing = self.due_wakes.clone().map(|wakes| {
            let stop = stop_owning.clone();
            tokio::spawn(async move { wakes.run_announcing(stop).await })
        });
        let listening =
            self.due_wakes
                .clone()
                .zip(self.ownership.clone())
                .map(|(wakes, ownership)| {
                    let (stop, claims) = (stop_owning.clone(), self.dispatcher.waker());
                    tokio::spawn(async move { wakes.run_listening(ownership, claims, stop).await })
                });
        let relay = self
            .run_relay
            .then(|| tokio::spawn(self.relay.clone().run(shutdown.clone())));
        let upkeep = tokio::spawn({
            let (shutdown, dispatcher) = (shutdown.clone(), self.dispatcher.clone());
            async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
                while tokio::select! { _ = every.tick() => true, _ = shutdown.cancelled() => false }
                {
                    // Keeps the recorder's histograms compact between scrapes, its fixed
                    // series alive, and per-webhook state to the webhooks in use.
                    crate::metrics::handle().run_upkeep();
                    crate::metrics::keep_fixed_series();
                    dispatcher.forget_idle(WEBHOOK_STATE_IDLE);
                }
            }
        });
        tracing::info!(addr = %self.metrics_addr, "metrics listening");
        let metrics_server = tokio::spawn(crate::server::serve(
            self.metrics_listener,
            self.metrics.router(),
            crate::server::ConnectionLimits {
                max_connections: 64,
                ..self.connection_limits
            },
            shutdown.clone(),
            self.shutdown_grace,
        ));
        let pages = crate::web::headers::secured(
            crate::portal::router().merge(crate::console::router()),
            crate::web::headers::PageHeaders::new(&self.state.settings.frame_ancestors),
        )
        .with_state(self.state.gateway.clone());
        let app = api::router(self.state, pages);
        crate::server::serve(
            self.listener,
            app,
            self.connection_limits,
            shutdown.clone(),
            self.shutdown_grace,
        )
        .await;
        upkeep.abort();
        let _ = metrics_server.await;
        let _ = scheduler.shutdown().await;
        if let Some(relay) = relay {
            let _ = relay.await;
        }
        if let Some(workers) = workers {
            if tokio::time::timeout(self.shutdown_grace, workers)
                .await
                .is_err()
            {
                tracing::warn!(
                    "shutdown grace elapsed with attempts in flight; their leases will expire"
                );
            }
        }
        stop_owning.cancel();
        for task in [ownership, announcing, listening].into_iter().flatten() {
            let _ = task.await;
        }
        Ok(())
    }
}

/// Per-webhook state (adaptive limit, token bucket) unused this long is dropped.
const WEBHOOK_STATE_IDLE: std::time::Duration = std::time::Duration::from_secs(600);

/// Cancels on Ctrl-C or SIGTERM.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing the SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        cancel.cancel();
    });
    token
}

/// A job that runs `run` on `cron` (six fields, seconds first) and logs its failure; the
/// next tick tries again.
fn cron_job<F, Fut, T, E>(cron: &str, what: &'static str, run: F) -> Result<Job, JobSchedulerError>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, E>> + Send + 'static,
    E: std::fmt::Display,
{
    Job::new_async(cron, move |_, _| {
        let done = run();
        Box::pin(async move {
            if let Err(e) = done.await {
                tracing::error!(error = %e, job = what, "scheduled job failed; the next tick retries");
            }
        })
    })
}
