//! A rolling deploy of real binaries: three instances on one PostgreSQL, replaced one at
//! a time (SIGTERM, then a new one started) while events are published to whichever
//! instances are up. Each stop and each start hands listeners over, and each handover
//! drains first: nothing is lost, nothing is sent twice, the listener's
//! `max_concurrency` holds throughout, and sending never waits for an idle poll or a
//! delivery lease (here 30 s and 60 s).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::gateway::{count, delivered_events, unique_ids, wait_until, Gateway};
use crate::helpers::{fresh_database, Backend, TestReceiver, PLATFORM_KEY};

const INSTANCES: usize = 3;
const LIVE: &str = "SELECT COUNT(*) FROM instances \
     WHERE heartbeat_at > (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint - 2000";

async fn wait_live(database_url: &str, want: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(database_url, LIVE).await != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{want} instances are not live"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Publishes `evt-N`, N = 0, 1, 2…, one after another, each to the next instance up
/// (the same id again on another when one does not take it), until `stop`.
fn publish_until(
    bases: Arc<Mutex<Vec<String>>>,
    accepted: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let (mut n, mut turn) = (0usize, 0usize);
        while !stop.is_cancelled() {
            let base = {
                let bases = bases.lock().unwrap();
                bases[turn % bases.len()].clone()
            };
            turn += 1;
            let id = format!("evt-{n}");
            let body = json!({"id": id, "type": "a.b", "tenant_id": "acme", "data": {"n": n}});
            let answer = http
                .post(format!("{base}/v1/events"))
                .bearer_auth(PLATFORM_KEY)
                .timeout(Duration::from_secs(10))
                .json(&body)
                .send()
                .await;
            if answer.is_ok_and(|r| r.status().as_u16() == 202) {
                accepted.lock().unwrap().push(id);
                n += 1;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_deploy_loses_nothing_resends_nothing_and_holds_the_limit() {
    let database_url = fresh_database(Backend::Postgres).await;
    let receiver = TestReceiver::start(None).await;
    receiver.delay(Duration::from_millis(20));
    let env = [
        ("HOOKGATE_INSTANCE_HEARTBEAT", "1s"),
        ("HOOKGATE_IDLE_POLL", "30s"),
        ("HOOKGATE_LEASE", "60s"),
    ];
    let mut gateways = vec![Gateway::start(&database_url, &env).await];
    gateways[0]
        .setup_with(&receiver.url(), json!({"max_concurrency": 4}))
        .await;
    for _ in 1..INSTANCES {
        gateways.push(Gateway::start(&database_url, &env).await);
    }
    wait_live(&database_url, INSTANCES as i64).await;

    let bases = Arc::new(Mutex::new(
        gateways.iter().map(|g| g.base.clone()).collect::<Vec<_>>(),
    ));
    let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = CancellationToken::new();
    let publisher = publish_until(bases.clone(), accepted.clone(), stop.clone());
    assert!(
        wait_until(Duration::from_secs(10), || receiver.received().len() >= 50).await,
        "nothing is sent before the deploy"
    );

    let deploy_started = chrono::Utc::now();
    for _ in 0..INSTANCES {
        let old = gateways.remove(0);
        bases.lock().unwrap().retain(|b| *b != old.base);
        let stopped = tokio::task::spawn_blocking(move || old.stop())
            .await
            .unwrap();
        assert!(stopped.success(), "a stop failed: {stopped}");
        let new = Gateway::start(&database_url, &env).await;
        bases.lock().unwrap().push(new.base.clone());
        gateways.push(new);
        wait_live(&database_url, INSTANCES as i64).await;
        // A few beats on the new membership, listeners moving to the new instance.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let deploy_ended = chrono::Utc::now();
    stop.cancel();
    publisher.await.unwrap();

    let accepted: HashSet<String> = accepted.lock().unwrap().iter().cloned().collect();
    let all_arrived = wait_until(Duration::from_secs(30), || {
        delivered_events(&receiver).is_superset(&accepted)
    })
    .await;
    assert!(
        all_arrived,
        "{} of {} accepted events never delivered",
        accepted.difference(&delivered_events(&receiver)).count(),
        accepted.len()
    );
    let received = receiver.received();
    assert_eq!(
        received.len(),
        unique_ids(&receiver).len(),
        "a delivery was sent twice across the handovers"
    );
    assert!(
        receiver.peak_in_flight() <= 4,
        "{} in flight at the listener, above its max_concurrency of 4",
        receiver.peak_in_flight()
    );
    let mut times: Vec<_> = received
        .iter()
        .map(|r| r.at)
        .filter(|at| *at >= deploy_started && *at <= deploy_ended)
        .collect();
    times.sort();
    let longest_pause = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    assert!(
        longest_pause <= chrono::Duration::seconds(5),
        "sending paused {longest_pause} during the deploy"
    );
    for gateway in gateways {
        assert!(gateway.stop().success());
    }
}
