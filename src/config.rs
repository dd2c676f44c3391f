//! Settings, from command-line flags or `HOOKGATE_*` environment variables, with the
//! defaults DESIGN.md fixes. Validated once at start-up.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{ArgAction, Args};

#[derive(Clone, Args)]
pub struct Settings {
    /// Address the HTTP API listens on.
    #[arg(long, env = "HOOKGATE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// `sqlite://FILE` (embedded default) or `postgres://…`.
    #[arg(
        long,
        env = "HOOKGATE_DATABASE_URL",
        default_value = "sqlite://hookgate.db"
    )]
    pub database_url: String,

    #[arg(long, env = "HOOKGATE_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,

    /// How long a request waits for a database connection before it is answered 503
    /// (while PostgreSQL is restarting, connection attempts are retried until then).
    #[arg(long, env = "HOOKGATE_DB_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub db_acquire_timeout: Duration,

    /// The longest an API request waits on the database once its body is read: past it,
    /// the request is answered 503 `database_unavailable` with `Retry-After` (a database
    /// that stops answering, e.g. behind a link that drops packets, never fails a
    /// statement). A write may have committed meanwhile: retry with the same event id.
    /// PostgreSQL: also how long the server keeps a transaction whose client went quiet
    /// (an instance cut off holds no lock past it).
    #[arg(long, env = "HOOKGATE_DB_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub db_timeout: Duration,

    /// PostgreSQL: how often this instance beats and renews its listener leases. An
    /// instance that misses three beats counts as gone, and its leases lapse three beats
    /// after their last renewal (listener ownership, README "Many instances").
    #[arg(long, env = "HOOKGATE_INSTANCE_HEARTBEAT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub instance_heartbeat: Duration,

    /// The platform's API key (ingest, tenants, apps, installations). When unset a random
    /// one is generated and printed once on stdout at start-up (never logged).
    #[arg(long, env = "HOOKGATE_PLATFORM_KEY")]
    pub platform_key: Option<String>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "HOOKGATE_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,

    /// Refuse (422) events whose type is not in the event-type catalogue.
    #[arg(long, env = "HOOKGATE_STRICT_EVENT_TYPES", action = ArgAction::Set, default_value_t = false)]
    pub strict_event_types: bool,

    /// The platform's OAuth 2.0 authorization server (`iss` of its access tokens). When
    /// set, partner routes also accept its RFC 9068 JWT access tokens.
    #[arg(long, env = "HOOKGATE_OAUTH_ISSUER")]
    pub oauth_issuer: Option<String>,

    /// The audience (`aud`) access tokens must name to be accepted by hookgate.
    #[arg(long, env = "HOOKGATE_OAUTH_AUDIENCE", default_value = "hookgate")]
    pub oauth_audience: String,

    /// The issuer's JWKS; found in its discovery document when unset.
    #[arg(long, env = "HOOKGATE_OAUTH_JWKS_URL")]
    pub oauth_jwks_url: Option<String>,

    /// The scope that lets a token read its app's webhooks, deliveries and health.
    #[arg(
        long,
        env = "HOOKGATE_OAUTH_READ_SCOPE",
        default_value = "webhooks:read"
    )]
    pub oauth_read_scope: String,

    /// The scope that lets a token also change them (and read).
    #[arg(
        long,
        env = "HOOKGATE_OAUTH_MANAGE_SCOPE",
        default_value = "webhooks:manage"
    )]
    pub oauth_manage_scope: String,

    /// Clock skew allowed on `exp` and `nbf`.
    #[arg(long, env = "HOOKGATE_OAUTH_LEEWAY", default_value = "30s", value_parser = humantime::parse_duration)]
    pub oauth_leeway: Duration,

    /// A token signed by an unknown key refetches the JWKS at most this often.
    #[arg(long, env = "HOOKGATE_OAUTH_JWKS_REFRESH", default_value = "60s", value_parser = humantime::parse_duration)]
    pub oauth_jwks_refresh: Duration,

    /// An OpenTelemetry collector's OTLP/HTTP base URL (`/v1/traces` is added): traces of
    /// requests, publishes, attempts, evaluations and notifications go there. Off when
    /// unset, unless the standard `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    #[arg(long, env = "HOOKGATE_OTEL_ENDPOINT")]
    pub otel_endpoint: Option<String>,

    /// Open client connections at most. At the cap, the oldest connection with no request
    /// in flight is closed to make room; if all are busy, newcomers wait in the backlog.
    #[arg(long, env = "HOOKGATE_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Time a client has to send a request's head (line and headers); also how long an
    /// idle keep-alive connection is kept waiting for its next request.
    #[arg(long, env = "HOOKGATE_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// Time the request body may go without sending anything before the request is
    /// answered 408 and the connection closed.
    #[arg(long, env = "HOOKGATE_BODY_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub body_timeout: Duration,

    /// Time a request's whole body must arrive within, from the request's start, else
    /// 408 and the connection closed (a slow-POST bound, however steady the drip).
    #[arg(long, env = "HOOKGATE_BODY_DEADLINE", default_value = "60s", value_parser = humantime::parse_duration)]
    pub body_deadline: Duration,

    /// Bytes a second a request body must average after its first 5 s, else 408 and the
    /// connection closed (Apache's `MinRate`); a body behind it is the first shed at the
    /// connection cap. 0 checks no rate.
    #[arg(long, env = "HOOKGATE_BODY_MIN_RATE", default_value_t = 500)]
    pub body_min_rate: u64,

    /// Origins (`https://host[:port]`, comma-separated) whose pages may frame the portal
    /// and the console; none by default, so no site can frame them (clickjacking).
    #[arg(long, env = "HOOKGATE_FRAME_ANCESTORS", value_delimiter = ',')]
    pub frame_ancestors: Vec<String>,

    /// Accept `http://` listener URLs (development only).
    #[arg(long, env = "HOOKGATE_ALLOW_INSECURE_TARGETS", action = ArgAction::Set, default_value_t = false)]
    pub allow_insecure_targets: bool,

    /// Accept loopback, private and link-local listener addresses (development only).
    #[arg(long, env = "HOOKGATE_ALLOW_PRIVATE_TARGETS", action = ArgAction::Set, default_value_t = false)]
    pub allow_private_targets: bool,

    /// Fixed DNS answers, `host=ip` comma-separated (split-horizon setups, tests). The
    /// private-address guard applies to them like to any resolved address.
    #[arg(long, env = "HOOKGATE_DNS_OVERRIDES", value_delimiter = ',')]
    pub dns_overrides: Vec<String>,

    #[arg(long, env = "HOOKGATE_MAX_WEBHOOKS_PER_APP", default_value_t = 10)]
    pub max_webhooks_per_app: i64,

    /// Attempts per second new webhooks are capped at (0: no cap); each webhook can
    /// change its own with `rate_limit_per_second`.
    #[arg(long, env = "HOOKGATE_DEFAULT_RATE_LIMIT", default_value_t = 0)]
    pub default_rate_limit_per_second: i64,

    /// After a secret rotation the old secret keeps signing, beside the new one, this long.
    #[arg(long, env = "HOOKGATE_SECRET_ROTATION_OVERLAP", default_value = "24h", value_parser = humantime::parse_duration)]
    pub secret_rotation_overlap: Duration,

    /// Single publishes (`POST /v1/events`) arriving together share one transaction of
    /// at most this many events; 1 commits each alone.
    #[arg(long, env = "HOOKGATE_GROUP_COMMIT_MAX", default_value_t = 64)]
    pub group_commit_max: usize,

    /// How long the first publish of a group waits for others to join it.
    #[arg(long, env = "HOOKGATE_GROUP_COMMIT_WINDOW", default_value = "1ms", value_parser = humantime::parse_duration)]
    pub group_commit_window: Duration,

    /// Run the delivery workers in this process.
    #[arg(long, env = "HOOKGATE_DISPATCHER", action = ArgAction::Set, default_value_t = true)]
    pub dispatcher: bool,

    /// Delivery workers, each claiming and sending one batch at a time.
    #[arg(long, env = "HOOKGATE_WORKERS", default_value_t = 4)]
    pub workers: usize,

    /// Deliveries one worker claims at once.
    #[arg(long, env = "HOOKGATE_BATCH_SIZE", default_value_t = 64)]
    pub batch_size: i64,

    /// Concurrent outbound requests (and deliveries leased), across all webhooks.
    #[arg(long, env = "HOOKGATE_MAX_IN_FLIGHT", default_value_t = 1024)]
    pub max_in_flight: usize,

    /// Ceiling of each webhook's adaptive in-flight limit: it grows while the listener
    /// answers fast and shrinks on errors, timeouts, 429, 5xx and slow answers. A partner
    /// may set a lower `max_concurrency` for its webhook.
    #[arg(
        long,
        env = "HOOKGATE_MAX_IN_FLIGHT_PER_WEBHOOK",
        default_value_t = 256
    )]
    pub max_in_flight_per_webhook: usize,

    /// Floor of each webhook's adaptive in-flight limit.
    #[arg(long, env = "HOOKGATE_MIN_IN_FLIGHT_PER_WEBHOOK", default_value_t = 4)]
    pub min_in_flight_per_webhook: usize,

    /// How long a claimed delivery stays leased; a crashed worker's deliveries become
    /// claimable again after it. Must exceed the longest webhook timeout.
    #[arg(long, env = "HOOKGATE_LEASE", default_value = "5m", value_parser = humantime::parse_duration)]
    pub lease: Duration,

    /// Longest idle wait between checks for due deliveries (new events wake workers at once).
    #[arg(long, env = "HOOKGATE_IDLE_POLL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub idle_poll: Duration,

    /// Bytes of a listener's response kept with each attempt.
    #[arg(long, env = "HOOKGATE_RESPONSE_EXCERPT_BYTES", default_value_t = 1024)]
    pub response_excerpt_bytes: usize,

    /// Run the health evaluator in this process (in a cluster each tick is evaluated once).
    #[arg(long, env = "HOOKGATE_HEALTH_EVALUATOR", action = ArgAction::Set, default_value_t = true)]
    pub health_evaluator: bool,

    /// When the health evaluator runs: a cron expression with seconds (every 30 minutes).
    #[arg(
        long,
        env = "HOOKGATE_HEALTH_SCHEDULE",
        default_value = crate::health::schedule::DEFAULT_SCHEDULE
    )]
    pub health_schedule: String,

    /// How long what has ended is kept: attempts, deliveries delivered, failed for good
    /// or skipped, their events, sent notifications. `0s` keeps everything. Deliveries
    /// still owed to a listener are never pruned.
    #[arg(long, env = "HOOKGATE_RETENTION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub retention: Duration,

    /// When pruning runs: a cron expression with seconds (hourly, at a quarter past).
    #[arg(
        long,
        env = "HOOKGATE_RETENTION_SCHEDULE",
        default_value = "0 15 * * * *"
    )]
    pub retention_schedule: String,

    /// How far back attempts count towards a webhook's failure rate.
    #[arg(long, env = "HOOKGATE_HEALTH_WINDOW", default_value = "30m", value_parser = humantime::parse_duration)]
    pub health_window: Duration,

    /// Failure rate at or above which a webhook is unavailable.
    #[arg(long, env = "HOOKGATE_HEALTH_THRESHOLD", default_value_t = 0.8)]
    pub health_threshold: f64,

    /// Unavailable this long: the partner gets a warning.
    #[arg(long, env = "HOOKGATE_HEALTH_WARN_AFTER", default_value = "1h", value_parser = humantime::parse_duration)]
    pub health_warn_after: Duration,

    /// Unavailable this long: the webhook is deactivated.
    #[arg(long, env = "HOOKGATE_HEALTH_DEACTIVATE_AFTER", default_value = "3h", value_parser = humantime::parse_duration)]
    pub health_deactivate_after: Duration,

    /// The platform's own SQS queue, which gets every app's notifications beside the
    /// apps' own destinations. Unset (and no name): only the apps' destinations get them;
    /// `GET /v1/notifications` lists them all.
    #[arg(long, env = "HOOKGATE_SQS_QUEUE_URL")]
    pub sqs_queue_url: Option<String>,

    /// SQS queue name, resolved to its URL at start-up (instead of the URL).
    #[arg(long, env = "HOOKGATE_SQS_QUEUE_NAME")]
    pub sqs_queue_name: Option<String>,

    /// SQS endpoint override (an emulator, a VPC endpoint); credentials and region come
    /// from the standard AWS chain (AWS_REGION, AWS_ACCESS_KEY_ID, profiles, roles…).
    #[arg(long, env = "HOOKGATE_SQS_ENDPOINT")]
    pub sqs_endpoint: Option<String>,

    /// STS endpoint override, for assuming partners' roles (an emulator, a VPC endpoint);
    /// `AWS_ENDPOINT_URL_STS` works too.
    #[arg(long, env = "HOOKGATE_STS_ENDPOINT")]
    pub sts_endpoint: Option<String>,

    /// Run the notification relay (the outbox's sender) in this process.
    #[arg(long, env = "HOOKGATE_RELAY", action = ArgAction::Set, default_value_t = true)]
    pub relay: bool,

    /// How often the outbox relay looks for notifications to publish.
    #[arg(long, env = "HOOKGATE_RELAY_POLL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub relay_poll: Duration,

    /// Time in-flight attempts get to finish on shutdown.
    #[arg(long, env = "HOOKGATE_SHUTDOWN_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// Address `/metrics` is served on, apart from the API: loopback by default, since
    /// it names every app and webhook with its health. `0.0.0.0:9464` in a cluster
    /// whose Prometheus scrapes each pod (with `HOOKGATE_METRICS_TOKEN`, or a network
    /// policy).
    #[arg(
        long,
        env = "HOOKGATE_METRICS_LISTEN",
        default_value = "127.0.0.1:9464"
    )]
    pub metrics_listen: SocketAddr,

    /// When set, `/metrics` needs `Authorization: Bearer <token>` (Prometheus'
    /// `authorization` or `bearer_token_file`).
    #[arg(long, env = "HOOKGATE_METRICS_TOKEN")]
    pub metrics_token: Option<String>,

    /// The figures `/metrics` reads from the database (queue, outbox, health) are
    /// computed at most this often, whatever the scrape rate.
    #[arg(long, env = "HOOKGATE_METRICS_REFRESH", default_value = "5s", value_parser = humantime::parse_duration)]
    pub metrics_refresh: Duration,

    /// Test sends (`POST …/webhooks/{id}/test`, the portal's "Send a test") one app may
    /// make a minute on one instance.
    #[arg(long, env = "HOOKGATE_TEST_SENDS_PER_MINUTE", default_value_t = 30)]
    pub test_sends_per_minute: u32,

    /// The proxy every delivery goes through (`http://host:port`). Without it, no proxy
    /// is used: `HTTPS_PROXY`, `ALL_PROXY` and the like are ignored, because a proxy
    /// resolves listener names itself, out of the SSRF guard's sight. A proxy set here
    /// must refuse private, loopback and link-local targets itself.
    #[arg(long, env = "HOOKGATE_OUTBOUND_PROXY")]
    pub outbound_proxy: Option<String>,

    /// Bound of one DNS lookup of a listener's name (a slow DNS server of one partner
    /// must not hold the others' deliveries).
    #[arg(long, env = "HOOKGATE_DNS_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub dns_timeout: Duration,

    /// Name servers for listener names (`ip` or `ip:port`, comma-separated), instead of
    /// the system's `/etc/resolv.conf`.
    #[arg(long, env = "HOOKGATE_DNS_SERVERS", value_delimiter = ',')]
    pub dns_servers: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid setting: {0}")]
pub struct InvalidSettings(String);

/// Retention is off (zero) or at least a day: shorter would prune logs and idempotency
/// keys partners still rely on.
pub fn check_retention(retention: Duration) -> Result<(), InvalidSettings> {
    if !retention.is_zero() && retention < Duration::from_secs(24 * 3600) {
        return Err(InvalidSettings(
            "retention must be at least a day (or 0s to keep everything)".into(),
        ));
    }
    Ok(())
}

impl Settings {
    /// The defaults, as `hookgate serve` with no flags and no environment would use.
    pub fn defaults() -> Self {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            settings: Settings,
        }
        <Wrapper as clap::Parser>::parse_from(["hookgate"]).settings
    }

    pub fn validate(&self) -> Result<(), InvalidSettings> {
        let fail = |m: &str| Err(InvalidSettings(m.to_string()));
        if let Some(bad) = self
            .frame_ancestors
            .iter()
            .find(|o| !crate::web::headers::valid_frame_ancestor(o))
        {
            return Err(InvalidSettings(format!(
                "HOOKGATE_FRAME_ANCESTORS: {bad:?} is not an origin (https://host[:port])"
            )));
        }
        if self.group_commit_max == 0 || self.group_commit_max > crate::domain::model::MAX_BATCH {
            return fail("the group commit size must be between 1 and 500");
        }
        if self.group_commit_window > Duration::from_millis(100) {
            return fail("the group commit window must be at most 100 ms");
        }
        if self.workers == 0 || self.batch_size < 1 || self.max_in_flight == 0 {
            return fail("workers, batch size and max in flight must be at least 1");
        }
        if self.min_in_flight_per_webhook == 0
            || self.min_in_flight_per_webhook > self.max_in_flight_per_webhook
        {
            return fail(
                "the in-flight floor per webhook must be at least 1 and at most its ceiling",
            );
        }
        if self.max_in_flight_per_webhook > self.max_in_flight {
            return fail("the in-flight ceiling per webhook must not exceed max in flight");
        }
        if self.lease <= crate::domain::model::MAX_TIMEOUT {
            return fail(&format!(
                "the lease must be longer than the longest webhook timeout ({} s)",
                crate::domain::model::MAX_TIMEOUT.as_secs()
            ));
        }
        if self
            .metrics_token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return fail("the metrics token must not be empty");
        }
        if let Some(proxy) = &self.outbound_proxy {
            if reqwest::Proxy::all(proxy).is_err() {
                return fail("the outbound proxy must be a URL such as http://proxy:3128");
            }
        }
        // The DNS servers and overrides parse.
        self.dispatch()?;
        if self.dns_timeout.is_zero() || self.dns_timeout > Duration::from_secs(30) {
            return fail("the DNS timeout must be between 1 ms and 30 s");
        }
        if !(self.health_threshold > 0.0 && self.health_threshold <= 1.0) {
            return fail("the health threshold must be in (0, 1]");
        }
        if self.health_warn_after >= self.health_deactivate_after {
            return fail("the warning must come before the deactivation");
        }
        if self.max_connections == 0
            || self.header_read_timeout.is_zero()
            || self.body_timeout.is_zero()
            || self.body_deadline.is_zero()
        {
            return fail(
                "max connections, the header and body timeouts and the body deadline must not be zero",
            );
        }
        if self.db_timeout < Duration::from_millis(100)
            || self.db_timeout > Duration::from_secs(300)
        {
            return fail("the database timeout must be between 100 ms and 5 min");
        }
        if self.instance_heartbeat < Duration::from_millis(100)
            || self.instance_heartbeat > Duration::from_secs(60)
        {
            return fail("the instance heartbeat must be between 100 ms and 1 min");
        }
        if self.health_window.is_zero() {
            return fail("the health window must not be empty");
        }
        check_retention(self.retention)?;
        if self.platform_key.as_deref().is_some_and(|k| k.len() < 16) {
            return fail("the platform key must be at least 16 characters");
        }
        Ok(())
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database", &self.database_url.split(':').next())
            .field(
                "platform_key",
                &self.platform_key.as_ref().map(|_| "<redacted>"),
            )
            .field("frame_ancestors", &self.frame_ancestors)
            .field("allow_insecure_targets", &self.allow_insecure_targets)
            .field("allow_private_targets", &self.allow_private_targets)
            .field("dispatcher", &self.dispatcher)
            .field("workers", &self.workers)
            .field("health_schedule", &self.health_schedule)
            .field("retention", &self.retention)
            .field(
                "sqs",
                &self.sqs_queue_url.as_ref().or(self.sqs_queue_name.as_ref()),
            )
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub fn pool(&self) -> crate::store::PoolSettings {
        crate::store::PoolSettings {
            max_connections: self.db_max_connections,
            acquire_timeout: self.db_acquire_timeout,
            idle_in_transaction_timeout: self.db_timeout,
        }
    }

    /// The dispatcher's part.
    pub fn dispatch(
        &self,
    ) -> Result<crate::delivery::dispatcher::DispatchSettings, InvalidSettings> {
        use crate::delivery::resolver::{parse_overrides, parse_servers, DnsSettings};
        Ok(crate::delivery::dispatcher::DispatchSettings {
            workers: self.workers,
            batch_size: self.batch_size,
            max_in_flight: self.max_in_flight,
            min_in_flight_per_webhook: self.min_in_flight_per_webhook,
            max_in_flight_per_webhook: self.max_in_flight_per_webhook,
            initial_in_flight_per_webhook: crate::domain::concurrency::INITIAL_LIMIT,
            lease: self.lease,
            idle_poll: self.idle_poll,
            response_excerpt_bytes: self.response_excerpt_bytes,
            allow_private_targets: self.allow_private_targets,
            dns_overrides: parse_overrides(&self.dns_overrides).map_err(InvalidSettings)?,
            test_sends_per_minute: self.test_sends_per_minute,
            outbound_proxy: self.outbound_proxy.clone(),
            dns: DnsSettings {
                servers: parse_servers(&self.dns_servers).map_err(InvalidSettings)?,
                timeout: self.dns_timeout,
            },
        })
    }

    /// Group commit's part.
    pub fn group_commit(&self) -> crate::usecases::publishing::GroupSettings {
        crate::usecases::publishing::GroupSettings {
            max: self.group_commit_max,
            window: self.group_commit_window,
        }
    }

    /// The API server's limits on its clients.
    pub fn connection_limits(&self) -> crate::server::ConnectionLimits {
        crate::server::ConnectionLimits {
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout,
            body: crate::server::BodyPace {
                idle: self.body_timeout,
                deadline: self.body_deadline,
                min_rate: self.body_min_rate,
            },
        }
    }

    /// The health evaluator's part.
    pub fn evaluator(
        &self,
    ) -> Result<crate::health::evaluator::EvaluatorSettings, InvalidSettings> {
        let invalid = |e: &dyn std::fmt::Display| InvalidSettings(e.to_string());
        Ok(crate::health::evaluator::EvaluatorSettings {
            window: chrono::TimeDelta::from_std(self.health_window).map_err(|e| invalid(&e))?,
            rules: self.health_rules(),
            schedule: crate::health::schedule::TickSchedule::parse(&self.health_schedule)
                .map_err(|e| invalid(&e))?,
            platform_queue: self.platform_queue(),
        })
    }

    /// How long ended deliveries and their logs are kept; `None` keeps them forever.
    pub fn retention_period(&self) -> Option<chrono::TimeDelta> {
        (!self.retention.is_zero())
            .then(|| chrono::TimeDelta::from_std(self.retention).unwrap_or(chrono::TimeDelta::MAX))
    }

    /// The rules the use cases apply.
    pub fn policy(&self) -> crate::usecases::Policy {
        let delta = |d: Duration| chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX);
        crate::usecases::Policy {
            strict_event_types: self.strict_event_types,
            max_webhooks_per_app: self.max_webhooks_per_app,
            default_rate_limit_per_second: self.default_rate_limit_per_second,
            targets: crate::domain::target::TargetPolicy {
                allow_insecure: self.allow_insecure_targets,
                allow_private: self.allow_private_targets,
            },
            secret_rotation_overlap: chrono::TimeDelta::from_std(self.secret_rotation_overlap)
                .unwrap_or(chrono::TimeDelta::hours(24)),
            health_rules: self.health_rules(),
            health_window: delta(self.health_window),
        }
    }

    pub fn health_rules(&self) -> crate::domain::health::HealthRules {
        let delta = |d: Duration| chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX);
        crate::domain::health::HealthRules {
            threshold: self.health_threshold,
            warn_after: delta(self.health_warn_after),
            deactivate_after: delta(self.health_deactivate_after),
        }
    }

    /// Whether a platform queue is configured.
    pub fn platform_queue(&self) -> bool {
        self.sqs_queue_url.is_some() || self.sqs_queue_name.is_some()
    }

    pub fn aws(&self) -> crate::notify::sqs::SqsSettings {
        crate::notify::sqs::SqsSettings {
            queue_url: self.sqs_queue_url.clone(),
            queue_name: self.sqs_queue_name.clone(),
            endpoint: self.sqs_endpoint.clone(),
            sts_endpoint: self.sts_endpoint.clone(),
        }
    }
}
