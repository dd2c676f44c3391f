//! Figures the store counts and the metrics show.

/// Rows deleted by one pruning run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub attempts: u64,
    pub deliveries: u64,
    pub events: u64,
    pub notifications: u64,
}

/// Queue figures, read from the store when `/metrics` is scraped (at most once per
/// refresh interval).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub due: i64,
    pub scheduled: i64,
    pub in_flight: i64,
    pub held: i64,
    pub oldest_due_age_ms: i64,
    /// Outbox rows (one per notification and destination) not sent yet.
    pub outbox_backlog: i64,
    /// How long ago the oldest of them was created.
    pub outbox_oldest_age_ms: i64,
    /// Notification destinations whose last send failed.
    pub failing_destinations: i64,
}
