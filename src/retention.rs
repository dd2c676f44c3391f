//! The retention job: on a schedule (hourly by default), deletes what ended more than the
//! retention period ago (30 days by default). What it keeps and why is in
//! [`crate::store::retention`]. Running it on several instances at once is harmless: the
//! deletes are idempotent.

use crate::clock::SharedClock;
use crate::store::{Pruned, SharedStore, StoreError};
use chrono::TimeDelta;

/// Rows deleted per transaction: small enough that publishes never wait long behind it.
const CHUNK: i64 = 1_000;

pub struct Pruner {
    store: SharedStore,
    clock: SharedClock,
    keep: TimeDelta,
}

impl Pruner {
    pub fn new(store: SharedStore, clock: SharedClock, keep: TimeDelta) -> Self {
        Self { store, clock, keep }
    }

    /// Deletes what ended before now minus the retention period.
    pub async fn run_once(&self) -> Result<Pruned, StoreError> {
        // A retention longer than the calendar reaches back keeps everything.
        let Some(cutoff) = self.clock.now().checked_sub_signed(self.keep) else {
            return Ok(Pruned::default());
        };
        let started = std::time::Instant::now();
        let pruned = self.store.prune(cutoff, CHUNK).await?;
        crate::metrics::record_pruned(&pruned);
        // Signed-out state needs no retention period: what has expired can go now.
        let sessions = self.store.prune_expired_sessions(self.clock.now()).await?;
        tracing::info!(
            %cutoff,
            attempts = pruned.attempts,
            deliveries = pruned.deliveries,
            events = pruned.events,
            notifications = pruned.notifications,
            sessions,
            took_ms = started.elapsed().as_millis() as u64,
            "retention: pruned what ended before the cutoff"
        );
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use tokio_cron_scheduler::JobScheduler;

    use crate::config::Settings;

    /// The default schedule is one tokio-cron-scheduler accepts, and fires within the hour.
    #[tokio::test]
    async fn default_schedule_fires_hourly() {
        let cron = Settings::defaults().retention_schedule;
        let mut scheduler = JobScheduler::new().await.unwrap();
        let job =
            tokio_cron_scheduler::Job::new_async(cron.as_str(), |_, _| Box::pin(async {})).unwrap();
        let id = scheduler.add(job).await.unwrap();
        let next = scheduler
            .next_tick_for_job(id)
            .await
            .unwrap()
            .expect("a next tick");
        assert!(next - chrono::Utc::now() <= chrono::Duration::hours(1));
        scheduler.shutdown().await.unwrap();
    }

    #[test]
    fn retention_is_a_day_at_least_or_off() {
        let mut settings = Settings::defaults();
        assert_eq!(
            settings.retention,
            std::time::Duration::from_secs(30 * 86_400)
        );
        settings.retention = std::time::Duration::from_secs(3600);
        assert!(settings.validate().is_err());
        settings.retention = std::time::Duration::ZERO;
        assert!(settings.validate().is_ok());
    }
}
