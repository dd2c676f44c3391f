//! hookgate-bench: a load generator and a fast receiver for the scenarios in
//! BENCHMARKS.md. Loopback only; every run is bounded in events and time.
//!
//!   cargo build --release && target/release/hookgate-bench --db sqlite --events 200000

mod gateway;
mod noisy;
mod receiver;
mod scheduled;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use gateway::{drop_database, free_port, fresh_database, Db, Gateway, PLATFORM_KEY};
use receiver::{now_us, Behaviour, Receiver};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum DbArg {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Down {
    None,
    /// The down app's listener refuses connections.
    Refused,
    /// The down app's listener accepts and never answers.
    Hang,
}

#[derive(Parser, Debug)]
#[command(about = "Load generator and receiver for hookgate benchmarks (loopback only)")]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    db: DbArg,
    /// Keep the run's database afterwards (to look at its plans or rows); by default it
    /// is dropped.
    #[arg(long)]
    keep_database: bool,
    /// Gateway processes sharing the database (PostgreSQL for more than one).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    #[arg(long, default_value_t = 1000)]
    tenants: usize,
    /// Healthy partner apps, one webhook each; tenant i installs app i mod apps.
    #[arg(long, default_value_t = 10)]
    apps: usize,
    /// Events to publish (ignored when --rate and --duration are given).
    #[arg(long, default_value_t = 10_000)]
    events: u64,
    /// Events per second; 0 publishes as fast as possible.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// With --rate: how long to publish, in seconds.
    #[arg(long, default_value_t = 0)]
    duration: u64,
    /// Events per request: 1 uses POST /v1/events, more uses /v1/events/batch.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Publish requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// An extra app whose listener is down, with --down-backlog deliveries queued first.
    #[arg(long, value_enum, default_value = "none")]
    down: Down,
    #[arg(long, default_value_t = 100_000)]
    down_backlog: u64,
    /// Deliveries scheduled far in the future, inserted before the run (backlog scenario).
    #[arg(long, default_value_t = 0)]
    scheduled: u64,
    /// The healthy listeners answer after this many milliseconds.
    #[arg(long, default_value_t = 0)]
    listener_delay_ms: u64,
    /// After this many seconds of publishing, the healthy listeners turn slow…
    #[arg(long)]
    slow_after: Option<u64>,
    /// …and answer after this many milliseconds.
    #[arg(long, default_value_t = 200)]
    slow_delay_ms: u64,
    /// The noisy-tenant scenario: one tenant publishes this many events in batches of
    /// --noisy-batch while --quiet-tenants publish --quiet-rate events a second each, to
    /// one webhook with --max-concurrency (0: the usual scenarios).
    #[arg(long, default_value_t = 0)]
    noisy_events: u64,
    #[arg(long, default_value_t = 500)]
    noisy_batch: usize,
    #[arg(long, default_value_t = 5)]
    quiet_tenants: usize,
    #[arg(long, default_value_t = 5.0)]
    quiet_rate: f64,
    #[arg(long, default_value_t = 8)]
    max_concurrency: i64,
    /// With several instances: SIGKILL the first this many seconds into publishing, and
    /// measure each listener's longest wait for a request across the kill (failover).
    /// Publishes then go to the instances still up, each event with an id so that one
    /// retried elsewhere is not stored twice.
    #[arg(long)]
    kill_after: Option<u64>,
    /// The healthy apps' webhooks order per key (`ordering: per_key`), and event n
    /// carries `ordering_key` `k-{n mod this}` (0: no keys, `ordering: none`). A key is
    /// scoped to its tenant (tenant n mod --tenants): with as many keys as tenants, each
    /// tenant has one key.
    #[arg(long, default_value_t = 0)]
    ordering_keys: u64,
    /// Extra gateway settings, KEY=VALUE.
    #[arg(long = "gateway-env")]
    gateway_env: Vec<String>,
    /// A name for the run in the results.
    #[arg(long, default_value = "run")]
    label: String,
    /// Append the results, as one JSON line, to this file.
    #[arg(long)]
    out: Option<String>,
}

struct Setup {
    http: reqwest::Client,
    bases: Vec<String>,
    /// Instances killed (`--kill-after`): requests go to the others.
    killed: Vec<std::sync::atomic::AtomicBool>,
    /// Published events carry ids (`b-N`), so one sent again is stored once.
    event_ids: bool,
    /// Event n carries `ordering_key` `k-{n mod this}`, when not 0.
    ordering_keys: u64,
}

impl Setup {
    fn new(bases: Vec<String>, event_ids: bool, ordering_keys: u64) -> Self {
        Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .unwrap(),
            killed: bases.iter().map(|_| Default::default()).collect(),
            bases,
            event_ids,
            ordering_keys,
        }
    }

    /// The `n`th instance, or the next one up from it.
    fn base(&self, n: usize) -> &str {
        let len = self.bases.len();
        (0..len)
            .map(|k| (n + k) % len)
            .find(|i| !self.killed[*i].load(std::sync::atomic::Ordering::Relaxed))
            .map_or(&self.bases[n % len], |i| &self.bases[i])
    }

    async fn post(&self, n: usize, path: &str, key: &str, body: Value) -> Value {
        // A request to an instance killed under it is sent again to the next one up.
        let mut tries = 0;
        let r = loop {
            let sent = self
                .http
                .post(format!("{}{path}", self.base(n + tries)))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(r) => break r,
                Err(e) if tries < self.bases.len() => {
                    tries += 1;
                    eprintln!("{path}: {e}; sent again to another instance");
                }
                Err(e) => panic!("{path}: {e}"),
            }
        };
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

/// Creates apps with one webhook each at `url` (with `fields` besides); returns their ids.
async fn create_apps(
    s: &Setup,
    prefix: &str,
    n: usize,
    url: &str,
    keys: &Mutex<HashMap<String, Vec<u8>>>,
    fields: Value,
) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}{i}");
        let app = s
            .post(0, "/v1/apps", PLATFORM_KEY, json!({"id": id, "name": id}))
            .await;
        let key = app["partner_key"].as_str().unwrap().to_string();
        let hook = s
            .post(0, &format!("/v1/apps/{id}/webhooks"), &key, {
                let mut body = fields.clone();
                body["url"] = json!(url);
                body
            })
            .await;
        let secret =
            hookgate::delivery::signing::secret_key(hook["secret"].as_str().unwrap()).unwrap();
        keys.lock()
            .unwrap()
            .insert(hook["id"].as_str().unwrap().to_string(), secret);
        ids.push(id);
    }
    ids
}

/// Creates tenants `prefix0…` and installs app `apps[i % len]` for tenant i.
async fn create_tenants(s: &Arc<Setup>, prefix: &str, n: usize, apps: &[String]) -> Vec<String> {
    let permits = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (s, permits) = (s.clone(), permits.clone());
        let (tenant, app) = (format!("{prefix}{i}"), apps[i % apps.len()].clone());
        tasks.push(tokio::spawn(async move {
            let _p = permits.acquire().await.unwrap();
            s.post(
                i,
                "/v1/tenants",
                PLATFORM_KEY,
                json!({"id": tenant, "name": tenant, "environment": "production"}),
            )
            .await;
            s.post(
                i,
                "/v1/installations",
                PLATFORM_KEY,
                json!({"tenant_id": tenant, "app_id": app}),
            )
            .await;
            tenant
        }));
    }
    let mut tenants = Vec::new();
    for t in tasks {
        tenants.push(t.await.unwrap());
    }
    tenants
}

/// Publishes `total` events over `tenants` (round-robin), `batch` per request, at `rate`
/// events/s (0: as fast as `concurrency` allows). Returns when all are accepted.
#[allow(clippy::too_many_arguments)]
async fn publish(
    s: &Arc<Setup>,
    tenants: &[String],
    total: u64,
    batch: usize,
    rate: u64,
    concurrency: usize,
    accepted: &Arc<std::sync::atomic::AtomicU64>,
) -> Duration {
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(concurrency));
    let tenants = Arc::new(tenants.to_vec());
    let requests = total.div_ceil(batch as u64);
    let interval = (rate > 0).then(|| Duration::from_secs_f64(batch as f64 / rate as f64));
    let mut tasks = Vec::new();
    for r in 0..requests {
        if let Some(interval) = interval {
            let due = started + interval.mul_f64(r as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (s, tenants, accepted) = (s.clone(), tenants.clone(), accepted.clone());
        let first = r * batch as u64;
        let count = (total - first).min(batch as u64);
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let events: Vec<Value> = (first..first + count)
                .map(|n| {
                    let tenant = &tenants[n as usize % tenants.len()];
                    let mut event = json!({"type": "employee.updated", "tenant_id": tenant, "data": {"n": n, "sent_us": now_us()}});
                    if s.event_ids {
                        event["id"] = json!(format!("b-{n}"));
                    }
                    if s.ordering_keys > 0 {
                        event["ordering_key"] = json!(format!("k-{}", n % s.ordering_keys));
                    }
                    event
                })
                .collect();
            if batch == 1 {
                s.post(r as usize, "/v1/events", PLATFORM_KEY, events.into_iter().next().unwrap()).await;
            } else {
                s.post(r as usize, "/v1/events/batch", PLATFORM_KEY, json!({"events": events})).await;
            }
            accepted.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let db = match args.db {
        DbArg::Sqlite => Db::Sqlite,
        DbArg::Postgres => Db::Postgres,
    };
    assert!(
        args.instances == 1 || db == Db::Postgres,
        "several instances need PostgreSQL"
    );
    let database_url = fresh_database(db).await;
    let extra: Vec<(String, String)> = args
        .gateway_env
        .iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let mut gateways = Vec::new();
    for _ in 0..args.instances {
        gateways.push(Gateway::start(&database_url, free_port(), &extra).await);
    }
    let setup = Arc::new(Setup::new(
        gateways.iter().map(|g| g.base.clone()).collect(),
        args.kill_after.is_some(),
        args.ordering_keys,
    ));
    let keys = Arc::new(Mutex::new(HashMap::new()));
    let receiver = Arc::new(Receiver::start(Behaviour::Ok, keys.clone()).await);
    receiver
        .delay_ms
        .store(args.listener_delay_ms, std::sync::atomic::Ordering::Relaxed);
    if args.noisy_events > 0 {
        let scenario = noisy::Noisy {
            events: args.noisy_events,
            batch: args.noisy_batch,
            quiet_tenants: args.quiet_tenants,
            quiet_rate: args.quiet_rate,
            max_concurrency: args.max_concurrency,
            listener_delay_ms: args.listener_delay_ms,
        };
        let (complete, mut result) = noisy::run(&setup, &receiver, &keys, &scenario).await;
        result["label"] = json!(args.label);
        result["db"] = json!(format!("{:?}", args.db).to_lowercase());
        result["instances"] = json!(args.instances);
        finish(&args, &result, gateways, &database_url, complete).await;
        return;
    }
    let ordering = if args.ordering_keys > 0 {
        json!({"ordering": "per_key"})
    } else {
        json!({})
    };
    let apps = create_apps(&setup, "app", args.apps, &receiver.url(), &keys, ordering).await;
    let tenants = create_tenants(&setup, "t", args.tenants, &apps).await;

    // The isolation scenario: a down app with a backlog of deliveries in retry.
    let mut _hang = None;
    if args.down != Down::None {
        let url = match args.down {
            Down::Refused => format!("http://127.0.0.1:{}/hook", free_port()),
            _ => {
                let r = Receiver::start(Behaviour::Hang, keys.clone()).await;
                let url = r.url();
                _hang = Some(r);
                url
            }
        };
        let down = create_apps(&setup, "down", 1, &url, &keys, json!({})).await;
        let down_tenants = create_tenants(&setup, "dt", 100, &down).await;
        let took = publish(
            &setup,
            &down_tenants,
            args.down_backlog,
            100,
            0,
            8,
            &Default::default(),
        )
        .await;
        println!(
            "queued {} deliveries for the down app in {took:.1?}",
            args.down_backlog
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    if args.scheduled > 0 {
        publish(&setup, &tenants[..1], 1, 1, 0, 1, &Default::default()).await;
        receiver.wait_for(1, Duration::from_secs(30)).await;
        scheduled::seed_scheduled(&database_url, db, &tenants[0], args.scheduled).await;
    }

    let baseline = receiver.unique();
    receiver.reset_latency();
    let total = if args.rate > 0 && args.duration > 0 {
        args.rate * args.duration
    } else {
        args.events
    };
    let cpu_before: Vec<f64> = gateways.iter().map(Gateway::cpu_seconds).collect();
    let started_us = now_us();
    let wall = Instant::now();
    // Peak resident memory of each gateway, sampled every 200 ms.
    let peak_rss = Arc::new(Mutex::new(vec![0u64; gateways.len()]));
    let sampler = {
        let pids: Vec<u32> = gateways.iter().map(Gateway::pid).collect();
        let peak = peak_rss.clone();
        tokio::spawn(async move {
            loop {
                for (i, pid) in pids.iter().enumerate() {
                    let rss = gateway::rss_kib(*pid);
                    let mut peak = peak.lock().unwrap();
                    peak[i] = peak[i].max(rss);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    // Once a second: accepted, delivered, the backlog between them, and the most requests
    // the listeners had at once (how the gateway's per-listener limit moves).
    let accepted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let timeline = Arc::new(Mutex::new(Vec::new()));
    let timeline_task = {
        let (accepted, timeline, receiver) = (accepted.clone(), timeline.clone(), receiver.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.tick().await;
            for t in 1.. {
                every.tick().await;
                let published = accepted.load(std::sync::atomic::Ordering::Relaxed);
                let delivered = receiver.unique() - baseline;
                timeline.lock().unwrap().push(json!({
                    "t": t, "published": published, "delivered": delivered,
                    "backlog": published.saturating_sub(delivered),
                    "listener_peak_in_flight": receiver.take_peak(),
                }));
            }
        })
    };
    let slow_task = args.slow_after.map(|after| {
        let (delay, slow) = (receiver.delay_ms.clone(), args.slow_delay_ms);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(after)).await;
            delay.store(slow, std::sync::atomic::Ordering::Relaxed);
        })
    });
    // The failover scenario: the first instance killed mid-publish.
    let kill_task = args.kill_after.map(|after| {
        assert!(args.instances > 1, "--kill-after needs several instances");
        receiver.track_failover();
        let (setup, receiver, first) = (setup.clone(), receiver.clone(), gateways[0].pid());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(after)).await;
            setup.killed[0].store(true, std::sync::atomic::Ordering::Relaxed);
            Gateway::kill(first);
            receiver.killed();
        })
    });
    let publish_took = publish(
        &setup,
        &tenants,
        total,
        args.batch,
        args.rate,
        args.concurrency,
        &accepted,
    )
    .await;
    // Delivery while publishing against after it (batch publishes used to starve it).
    let delivered_while_publishing = receiver.unique() - baseline;
    let limit = Duration::from_secs((args.duration * 3).max(120));
    let complete = receiver.wait_for(baseline + total, limit).await;
    let elapsed = wall.elapsed();
    sampler.abort();
    timeline_task.abort();
    if let Some(task) = slow_task {
        task.abort();
    }
    if let Some(task) = kill_task {
        task.await.unwrap();
    }
    let (failover_waits_ms, failover_not_resumed) = receiver.failover();
    let timeline = std::mem::take(&mut *timeline.lock().unwrap());
    let (_, last_us) = receiver.span_us();
    let delivered = receiver.unique() - baseline;
    let span_s = (last_us.saturating_sub(started_us)) as f64 / 1e6;
    let latency = receiver.latency();
    let cpu: Vec<f64> = gateways
        .iter()
        .zip(&cpu_before)
        .map(|(g, b)| (g.cpu_seconds() - b).max(0.0) / elapsed.as_secs_f64() * 100.0)
        .collect();
    let rss: Vec<u64> = peak_rss
        .lock()
        .unwrap()
        .iter()
        .map(|kib| kib / 1024)
        .collect();
    let requests = receiver.requests.load(std::sync::atomic::Ordering::Relaxed);
    let result = json!({
        "label": args.label,
        "db": format!("{:?}", args.db).to_lowercase(),
        "instances": args.instances,
        "ordering_keys": args.ordering_keys,
        "tenants": args.tenants,
        "apps": args.apps,
        "events": total,
        "batch": args.batch,
        "rate": args.rate,
        "down": format!("{:?}", args.down).to_lowercase(),
        "scheduled": args.scheduled,
        "complete": complete,
        "delivered_unique": delivered,
        "duplicates": requests.saturating_sub(receiver.unique()),
        "concurrent_duplicates": receiver.overlaps.load(std::sync::atomic::Ordering::Relaxed),
        "publish_seconds": publish_took.as_secs_f64(),
        "publish_per_second": total as f64 / publish_took.as_secs_f64(),
        "deliveries_per_second": delivered as f64 / span_s.max(1e-9),
        "deliveries_per_second_while_publishing": delivered_while_publishing as f64 / publish_took.as_secs_f64(),
        "deliveries_per_second_after_publishing": (delivered - delivered_while_publishing) as f64
            / (span_s - publish_took.as_secs_f64()).max(1e-3),
        "latency_ms": {
            "p50": latency.value_at_quantile(0.5) as f64 / 1000.0,
            "p90": latency.value_at_quantile(0.9) as f64 / 1000.0,
            "p99": latency.value_at_quantile(0.99) as f64 / 1000.0,
            "max": latency.max() as f64 / 1000.0,
        },
        "gateway_cpu_percent": cpu,
        "gateway_rss_mib": rss,
        "signatures_checked": receiver.signatures_checked.load(std::sync::atomic::Ordering::Relaxed),
        "signatures_bad": receiver.signatures_bad.load(std::sync::atomic::Ordering::Relaxed),
        "listener_delay_ms": args.listener_delay_ms,
        "slow_after": args.slow_after,
        "slow_delay_ms": args.slow_after.map(|_| args.slow_delay_ms),
        "timeline": timeline,
        "kill_after": args.kill_after,
        "failover": args.kill_after.map(|_| json!({
            "longest_wait_ms": failover_waits_ms.first(),
            "waits_ms": failover_waits_ms.iter().take(10).collect::<Vec<_>>(),
            "webhooks_not_resumed": failover_not_resumed,
        })),
    });
    finish(&args, &result, gateways, &database_url, complete).await;
}

/// Prints the result, appends it to --out, stops the gateways and drops the database.
async fn finish(
    args: &Args,
    result: &Value,
    gateways: Vec<Gateway>,
    database_url: &str,
    complete: bool,
) {
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    if let Some(out) = &args.out {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .unwrap();
        writeln!(f, "{}", serde_json::to_string(&result).unwrap()).unwrap();
    }
    for g in gateways {
        g.stop();
    }
    if args.keep_database {
        println!("database kept: {database_url}");
    } else {
        drop_database(database_url).await;
    }
    if !complete {
        eprintln!("not every delivery arrived in time");
        std::process::exit(1);
    }
}
