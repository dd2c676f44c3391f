//! Every tick (tokio-cron-scheduler, every 30 minutes by default) the evaluator computes
//! each active webhook's failure rate over the window and applies the health rules. In a
//! cluster every instance schedules the job, and the first to record the tick's slot (the
//! schedule's fire time) evaluates it.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};

use super::rules::{self, HealthRules, Severity};
use super::schedule::TickSchedule;
use super::HealthChange;
use crate::clock::SharedClock;
use crate::domain::notification as message;
use crate::store::{SharedStore, StoreError};

#[derive(Debug, Clone)]
pub struct EvaluatorSettings {
    /// How far back attempts count (30 minutes).
    pub window: Duration,
    pub rules: HealthRules,
    /// The schedule the ticks follow; a tick evaluates the slot it fired for.
    pub schedule: TickSchedule,
    /// A platform queue is configured: every notification gets a row for it.
    pub platform_queue: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickOutcome {
    /// Another instance already evaluated this tick.
    Skipped,
    /// This instance was still evaluating an earlier slot: the schedule fires faster than
    /// an evaluation takes. Logged as a warning.
    Overrun,
    Evaluated {
        webhooks: usize,
        notifications: Vec<Severity>,
    },
}

pub struct Evaluator {
    store: SharedStore,
    clock: SharedClock,
    settings: EvaluatorSettings,
    instance: String,
    /// Held while evaluating: one evaluation at a time in this instance.
    evaluating: tokio::sync::Mutex<()>,
    evaluations: AtomicU64,
}

impl Evaluator {
    pub fn new(store: SharedStore, clock: SharedClock, settings: EvaluatorSettings) -> Self {
        Self {
            store,
            clock,
            settings,
            instance: uuid::Uuid::new_v4().to_string(),
            evaluating: tokio::sync::Mutex::new(()),
            evaluations: AtomicU64::new(0),
        }
    }

    /// Evaluations this instance has completed since it started.
    pub fn evaluations(&self) -> u64 {
        self.evaluations.load(Ordering::Relaxed)
    }

    /// One tick: claims its slot (the schedule's fire time it belongs to, so instances
    /// firing on the same schedule agree) and, if this instance won, evaluates.
    #[tracing::instrument(skip_all)]
    pub async fn tick(&self) -> Result<TickOutcome, StoreError> {
        let now = self.clock.now();
        let slot = self.settings.schedule.slot_at(now);
        let Ok(_evaluating) = self.evaluating.try_lock() else {
            tracing::warn!(
                %slot,
                "health schedule fires faster than an evaluation takes: this slot is not \
                 evaluated while the previous one still is; choose a slower schedule"
            );
            return Ok(TickOutcome::Overrun);
        };
        if !self.store.claim_tick(slot, &self.instance, now).await? {
            tracing::debug!(%slot, "tick evaluated by another instance");
            return Ok(TickOutcome::Skipped);
        }
        let started = std::time::Instant::now();
        let outcome = self.evaluate(now).await;
        if outcome.is_ok() {
            self.evaluations.fetch_add(1, Ordering::Relaxed);
        }
        let interval = self.settings.schedule.interval_at(now);
        if let Some(interval) = interval.and_then(|i| i.to_std().ok()) {
            if started.elapsed() > interval {
                tracing::warn!(
                    took_ms = started.elapsed().as_millis() as u64,
                    interval_ms = interval.as_millis() as u64,
                    "health evaluation took longer than the schedule's interval; the next \
                     slot will be skipped; choose a slower schedule"
                );
            }
        }
        outcome
    }

    #[tracing::instrument(name = "health.evaluate", skip(self))]
    async fn evaluate(&self, now: DateTime<Utc>) -> Result<TickOutcome, StoreError> {
        let started = std::time::Instant::now();
        let inputs = self
            .store
            .health_inputs(now - self.settings.window, now)
            .await?;
        let mut notifications = Vec::new();
        for input in &inputs {
            let (state, notice) =
                rules::evaluate(input.state, input.window, now, &self.settings.rules);
            let notification = notice.map(|severity| {
                tracing::warn!(
                    webhook_id = %input.webhook_id, app_id = %input.app_id,
                    severity = severity.as_str(), failures = input.window.failures,
                    attempts = input.window.attempts, "webhook health notification"
                );
                notifications.push(severity);
                crate::metrics::record_notification(severity);
                message::build(
                    input,
                    severity,
                    state.failure_since.or(input.state.failure_since),
                    input.window,
                    self.settings.window,
                    now,
                )
            });
            self.store
                .save_health(&HealthChange {
                    webhook_id: input.webhook_id.clone(),
                    state,
                    evaluated_at: now,
                    window: input.window,
                    notification,
                    platform_copy: self.settings.platform_queue,
                })
                .await?;
        }
        metrics::counter!(crate::metrics::EVALUATIONS).increment(1);
        metrics::histogram!(crate::metrics::EVALUATION_DURATION)
            .record(started.elapsed().as_secs_f64());
        tracing::info!(
            webhooks = inputs.len(),
            notifications = notifications.len(),
            "health evaluated"
        );
        Ok(TickOutcome::Evaluated {
            webhooks: inputs.len(),
            notifications,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;
    use tokio_cron_scheduler::{Job, JobScheduler};

    use super::*;
    use crate::domain::health::HealthRules;
    use crate::health::schedule::DEFAULT_SCHEDULE;

    /// A tick while this instance still evaluates is an overrun, reported, not folded
    /// into the evaluation under way. (Holding the lock makes it deterministic: two ticks
    /// raced in a test may just as well run one after the other.)
    #[tokio::test]
    async fn a_tick_during_an_evaluation_is_an_overrun() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pool = crate::store::PoolSettings {
            max_connections: 4,
            ..Default::default()
        };
        let store = crate::store::connect(&url, &pool).await.unwrap();
        let clock: SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
        let evaluator = Evaluator::new(
            store,
            clock,
            EvaluatorSettings {
                window: Duration::minutes(30),
                rules: HealthRules::default(),
                schedule: TickSchedule::parse(DEFAULT_SCHEDULE).unwrap(),
                platform_queue: false,
            },
        );
        let evaluating = evaluator.evaluating.lock().await;
        assert_eq!(evaluator.tick().await.unwrap(), TickOutcome::Overrun);
        drop(evaluating);
        assert!(matches!(
            evaluator.tick().await.unwrap(),
            TickOutcome::Evaluated { .. }
        ));
        assert_eq!(evaluator.evaluations(), 1);
    }

    /// The default schedule is one tokio-cron-scheduler accepts, firing at :00 and :30.
    #[tokio::test]
    async fn default_schedule_fires_every_half_hour() {
        let cron = DEFAULT_SCHEDULE;
        let mut scheduler = JobScheduler::new().await.unwrap();
        let job = Job::new_async(cron, |_, _| Box::pin(async {})).unwrap();
        let id = scheduler.add(job).await.unwrap();
        let next = scheduler
            .next_tick_for_job(id)
            .await
            .unwrap()
            .expect("a next tick");
        assert_eq!(next.second(), 0);
        assert!([0, 30].contains(&next.minute()), "{next}");
        assert!(next - Utc::now() <= Duration::minutes(30));
        scheduler.shutdown().await.unwrap();
    }
}
