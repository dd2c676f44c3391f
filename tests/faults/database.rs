//! The database fails under the gateway: PostgreSQL restarted mid-load, SQLite out of
//! space, SQLite read-only. A publish is answered 202 only for an event that is stored;
//! while the database is gone the answer is a 503 with a JSON error, never a 500.

use std::collections::{BTreeSet, HashSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::gateway::{count, delivered_events, serve_command, wait_until, Gateway, BINARY};
use crate::helpers::{fresh_database, Backend, Reply, TestReceiver};
use crate::private_postgres::PrivatePostgres;

/// Every answer is a 202 or a 503 with `{"error": {"code": "database_unavailable"}}`.
fn assert_accepted_or_unavailable(n: usize, r: &Reply) {
    match r.status.as_u16() {
        202 => {}
        503 => assert_eq!(
            r.body["error"]["code"], "database_unavailable",
            "evt-{n}: a 503 carries a JSON error: {}",
            r.body
        ),
        other => panic!("evt-{n}: {other} {}", r.body),
    }
}

/// PostgreSQL is stopped (fast shutdown, sessions killed) while events are published and
/// delivered, then started again: `/readyz` fails meanwhile, publishes are 503, and every
/// event that was answered 202 reaches the listener. A refused event published again
/// after the restart is delivered too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_load_loses_nothing() {
    let server = PrivatePostgres::start();
    let receiver = TestReceiver::start(None).await;
    let log = std::env::temp_dir().join(format!("hookgate-restart-{}.log", std::process::id()));
    let env = [
        ("HOOKGATE_LEASE", "31s"),
        ("HOOKGATE_DB_ACQUIRE_TIMEOUT", "1s"),
    ];
    let gateway = Arc::new(Gateway::start_logged(&server.url(), &env, &log).await);
    gateway.setup(&receiver.url()).await;

    // One publisher, one event after another, for the whole test.
    let answers: Arc<Mutex<Vec<(usize, u16)>>> = Arc::default();
    let stop = tokio_util::sync::CancellationToken::new();
    let publisher = tokio::spawn({
        let (gateway, answers, stop) = (gateway.clone(), answers.clone(), stop.clone());
        async move {
            let mut n = 0;
            while !stop.is_cancelled() {
                let r = gateway.publish_one(n, 0).await;
                assert_accepted_or_unavailable(n, &r);
                answers.lock().unwrap().push((n, r.status.as_u16()));
                n += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    receiver.wait_for(100, Duration::from_secs(30)).await;

    server.stop_server();
    let stopped_at = answers.lock().unwrap().len();
    let mut readyz_failed = false;
    for _ in 0..50 {
        if !gateway.ready().await {
            readyz_failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        readyz_failed,
        "/readyz kept answering 200 with the database down"
    );
    let refused_while_down = wait_until(Duration::from_secs(20), || {
        answers.lock().unwrap()[stopped_at..]
            .iter()
            .filter(|(_, status)| *status == 503)
            .count()
            >= 3
    })
    .await;
    assert!(
        refused_while_down,
        "publishes were not refused while the database was down"
    );

    server.start_server();
    let mut ready_again = false;
    for _ in 0..100 {
        if gateway.ready().await {
            ready_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ready_again, "/readyz did not recover after the restart");
    let resumed_at = answers.lock().unwrap().len();
    assert!(
        wait_until(Duration::from_secs(20), || {
            answers.lock().unwrap()[resumed_at..]
                .iter()
                .filter(|(_, status)| *status == 202)
                .count()
                >= 50
        })
        .await,
        "publishes were not accepted again after the restart"
    );
    stop.cancel();
    publisher.await.unwrap();

    let answers = answers.lock().unwrap().clone();
    let accepted: BTreeSet<String> = answers
        .iter()
        .filter(|(_, s)| *s == 202)
        .map(|(n, _)| format!("evt-{n}"))
        .collect();
    let refused: Vec<usize> = answers
        .iter()
        .filter(|(_, s)| *s == 503)
        .map(|(n, _)| *n)
        .collect();
    // The client's remedy for a 503: publish the same event again.
    for n in &refused {
        let r = gateway.publish_one(*n, 0).await;
        assert_eq!(r.status.as_u16(), 202, "evt-{n} again: {}", r.body);
    }
    let expected: HashSet<String> = answers.iter().map(|(n, _)| format!("evt-{n}")).collect();
    // Attempts sent but not recorded while the database was down are sent again once
    // their lease (31 s) expires, so allow for one lease.
    let all_arrived = wait_until(Duration::from_secs(90), || {
        delivered_events(&receiver).is_superset(&expected)
    })
    .await;
    let missing: Vec<&String> = accepted
        .iter()
        .filter(|id| !delivered_events(&receiver).contains(*id))
        .collect();
    assert!(
        all_arrived,
        "accepted events never delivered: {} of {} (e.g. {:?}); refused then re-published: {}",
        missing.len(),
        accepted.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        refused.len()
    );
    let gateway = Arc::into_inner(gateway).expect("the publisher has finished");
    assert!(gateway.stop().success());
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("database unavailable"),
        "the outage is in the gateway's log"
    );
}

/// The gateway may not grow its files past a limit (RLIMIT_FSIZE, as a full disk would
/// stop it): publishes start failing with a 503, never a 202 for an event that was not
/// stored; once space is back (a restart without the limit) every accepted event is
/// delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_out_of_space_refuses_and_loses_nothing() {
    let database_url = fresh_database(Backend::Sqlite).await;
    let path = database_url.trim_start_matches("sqlite://").to_string();
    let receiver = TestReceiver::start(None).await;

    // The shell ignores SIGXFSZ (so a write past the limit fails with EFBIG instead of
    // killing the process; exec keeps the disposition) and caps file sizes at 3 MiB.
    let (mut command, base) = serve_command("bash", &database_url, &[]);
    command.args([
        "-c",
        "trap '' XFSZ; ulimit -f 3072; exec \"$0\" serve",
        BINARY,
    ]);
    let log = std::env::temp_dir().join(format!("hookgate-full-{}.log", std::process::id()));
    command.stderr(std::fs::File::create(&log).unwrap());
    let gateway = Gateway::spawn_ready(command, base).await;
    gateway.setup(&receiver.url()).await;

    let mut answers = Vec::new();
    let mut refused = 0;
    for n in 0..4000 {
        let r = gateway.publish_one(n, 8 * 1024).await;
        if !matches!(r.status.as_u16(), 202 | 503) {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("evt-{n}: {} {}\ngateway log:\n{log}", r.status, r.body);
        }
        assert_accepted_or_unavailable(n, &r);
        if r.status == 503 {
            refused += 1;
            assert!(
                r.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("nothing was stored"),
                "{}",
                r.body
            );
        }
        answers.push((n, r.status.as_u16()));
        if refused >= 20 {
            break;
        }
    }
    assert!(refused >= 20, "the size limit was never reached");
    assert!(gateway.stop().success());

    let stored = |n: usize| {
        let (database_url, id) = (database_url.clone(), format!("evt-{n}"));
        async move {
            count(
                &database_url,
                &format!("SELECT COUNT(*) FROM events WHERE id = '{id}'"),
            )
            .await
        }
    };
    let accepted: Vec<usize> = answers
        .iter()
        .filter(|(_, s)| *s == 202)
        .map(|(n, _)| *n)
        .collect();
    for &n in &accepted {
        assert_eq!(
            stored(n).await,
            1,
            "evt-{n} was answered 202 but is not stored"
        );
    }
    for &(n, status) in &answers {
        if status == 503 {
            assert_eq!(stored(n).await, 0, "evt-{n} was refused but is stored");
        }
    }

    // Space again: every accepted event reaches the listener.
    let gateway = Gateway::start(&database_url, &[]).await;
    let expected: HashSet<String> = accepted.iter().map(|n| format!("evt-{n}")).collect();
    assert!(
        wait_until(Duration::from_secs(60), || delivered_events(&receiver)
            .is_superset(&expected))
        .await,
        "accepted events were lost"
    );
    assert!(gateway.stop().success());
    let _ = std::fs::remove_file(path);
}

/// A database file the gateway may not write: it refuses to start, says why, and so
/// never answers a publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_read_only_file_is_a_clear_error_at_start() {
    let database_url = fresh_database(Backend::Sqlite).await;
    let path = database_url.trim_start_matches("sqlite://").to_string();
    let migrated = Command::new(BINARY)
        .args(["migrate", "--database-url", &database_url])
        .output()
        .unwrap();
    assert!(migrated.status.success());
    // The file and its directory read-only; root ignores permissions, so as root the
    // gateway runs as `nobody`.
    let dir = std::env::temp_dir().join(format!("hookgate-ro-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let ro_path = dir.join("ro.db");
    std::fs::copy(&path, &ro_path).unwrap();
    let read_only = |p: &std::path::Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    read_only(&ro_path, 0o444);
    read_only(&dir, 0o555);
    let ro_url = format!("sqlite://{}", ro_path.display());
    let (mut command, _) = serve_command(BINARY, &ro_url, &[]);
    command.arg("serve").stderr(std::process::Stdio::piped());
    if Command::new("id").arg("-u").output().unwrap().stdout == b"0\n" {
        use std::os::unix::process::CommandExt;
        command.uid(65534).gid(65534);
    }
    let child = command.spawn().unwrap();
    let pid = child.id().to_string();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await;
    let Ok(out) = out else {
        let _ = Command::new("kill").args(["-9", &pid]).status();
        panic!("the gateway kept running on a read-only database");
    };
    let out = out.unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the gateway started on a read-only database"
    );
    assert!(
        stderr.contains("opening the database") && stderr.contains("readonly database"),
        "the error says what is wrong: {stderr}"
    );
    read_only(&dir, 0o755);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(path);
}
