//! A schedule finer than a minute (used to compress time) gets one evaluation per fire
//! time across a cluster: two instances on one PostgreSQL database, the real clock and
//! the real scheduler, a tick every 2 seconds for 20 seconds.

use std::sync::Arc;
use std::time::Duration;

use hookgate::clock::SystemClock;
use hookgate::startup::Application;
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

use crate::helpers::{fresh_database, test_settings, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_second_schedule_is_evaluated_every_two_seconds_once_across_two_instances() {
    let database_url = fresh_database(Backend::Postgres).await;
    let shutdown = CancellationToken::new();
    let mut evaluators = Vec::new();
    for _ in 0..2 {
        let mut settings = test_settings(database_url.clone());
        settings.health_evaluator = true;
        settings.health_schedule = "*/2 * * * * *".into();
        let app = Application::build(settings, Arc::new(SystemClock))
            .await
            .unwrap();
        evaluators.push(app.evaluator.clone());
        tokio::spawn(app.run_until(shutdown.clone()));
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut db = sqlx::PgConnection::connect(&database_url).await.unwrap();
    let slots: Vec<i64> =
        sqlx::query_scalar("SELECT tick_at FROM evaluation_ticks ORDER BY tick_at")
            .fetch_all(&mut db)
            .await
            .unwrap();
    let evaluations: Vec<u64> = evaluators.iter().map(|e| e.evaluations()).collect();
    // About ten fire times in 20 s, each a slot of its own on the 2-second grid (the
    // old minute key made that one or two), and as many evaluations as slots: none twice.
    // The scheduler polls every 500 ms, so a loaded machine may fire one late enough to
    // miss it; 8 is the floor that still tells the two apart.
    assert!(
        (8..=11).contains(&slots.len()),
        "{} slots: {slots:?}",
        slots.len()
    );
    assert!(slots.iter().all(|ms| ms % 2_000 == 0), "{slots:?}");
    assert_eq!(
        evaluations.iter().sum::<u64>(),
        slots.len() as u64,
        "evaluations per instance: {evaluations:?}"
    );
}
