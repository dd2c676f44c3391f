//! A write transaction that, on SQLite, first takes this process's turn to write.
//!
//! SQLite lets one writer in at a time; the others poll with growing sleeps (the busy
//! handler) and can lose the race again and again. Under load that left claims waiting
//! 0.3 s on average for the lock (BENCHMARKS.md, scenario 4). Writers of one process queue
//! on a fair async mutex instead and get the lock handed over without a sleep.
//! PostgreSQL locks rows, not the database, and takes no turn.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::{Database, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The queue writers of one SQLite database wait in. Delivery's writes (claims, attempt
/// records) go first: other writers pass a gate one at a time before they queue, so a
/// claim waits for at most the writer in and one more, never for every publish queued
/// (batch publishes held delivery to 150–200 a second while they lasted).
#[derive(Clone, Default)]
pub struct WriteTurn {
    turn: Arc<Mutex<()>>,
    gate: Arc<Mutex<()>>,
}

impl WriteTurn {
    pub async fn take(&self) -> OwnedMutexGuard<()> {
        let _gate = self.gate.lock().await;
        self.turn.clone().lock_owned().await
    }

    /// The turn for delivery's writes, ahead of the writers at the gate.
    pub async fn take_first(&self) -> OwnedMutexGuard<()> {
        self.turn.clone().lock_owned().await
    }
}

pub struct WriteTx<DB: Database> {
    // Dropped first: an uncommitted transaction queues its rollback before the turn
    // passes on.
    tx: Transaction<'static, DB>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl<DB: Database> WriteTx<DB> {
    pub fn new(tx: Transaction<'static, DB>, turn: Option<OwnedMutexGuard<()>>) -> Self {
        Self { tx, _turn: turn }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl<DB: Database> Deref for WriteTx<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: Database> DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}
