//! PostgreSQL behind a link that stops forwarding without closing anything (packets
//! dropped, as a partition drops them): no statement fails, every one waits. Publishes
//! are answered within `HOOKGATE_DB_TIMEOUT` all the same, 503 `database_unavailable`
//! with `Retry-After`; once the link heals they are accepted again, and every accepted
//! event reaches the listener.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::gateway::{count, delivered_events, wait_until, Gateway};
use crate::helpers::{fresh_database, Backend, Reply, TestReceiver};
use crate::ownership::{wait_until_count, NOW_MS};

/// A TCP proxy on loopback that can be cut: while cut it forwards nothing and connects
/// nothing, and holds every socket open; healed, it forwards what it held.
struct Link {
    address: std::net::SocketAddr,
    cut: watch::Sender<bool>,
}

impl Link {
    async fn to(upstream: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (cut, _) = watch::channel(false);
        let healed = cut.subscribe();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let healed = healed.clone();
                tokio::spawn(async move {
                    // A connection attempt during a cut waits for the link, as a SYN
                    // would be retransmitted until it gets through.
                    wait_healed(&healed).await;
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::spawn(pump(client_read, server_write, healed.clone()));
                    tokio::spawn(pump(server_read, client_write, healed));
                });
            }
        });
        Self { address, cut }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

async fn wait_healed(healed: &watch::Receiver<bool>) {
    let mut healed = healed.clone();
    let _ = healed.wait_for(|cut| !cut).await;
}

/// Copies one direction; what arrives during a cut is held until the link heals.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    healed: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        wait_healed(&healed).await;
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        wait_healed(&healed).await;
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// The test database's URL, through `link` instead of straight to the server.
fn through(url: &str, link: &Link) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(link.address.port())).unwrap();
    url.to_string()
}

fn server_address(url: &str) -> std::net::SocketAddr {
    let url = url::Url::parse(url).unwrap();
    let host = url.host_str().unwrap();
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{}", url.port().unwrap_or(5432))
        .parse()
        .unwrap()
}

/// One publish's answer and how long it took.
struct Answer {
    n: usize,
    status: u16,
    took: Duration,
}

fn check_answer(n: usize, r: &Reply) {
    match r.status.as_u16() {
        202 => {}
        503 => {
            assert_eq!(
                r.body["error"]["code"], "database_unavailable",
                "evt-{n}: {}",
                r.body
            );
            let retry_after = r.headers.get("retry-after").map(|v| v.to_str().unwrap());
            assert!(
                retry_after.is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s > 0)),
                "evt-{n}: a 503 says when to retry: {retry_after:?}"
            );
        }
        other => panic!("evt-{n}: {other} {}", r.body),
    }
}

const DB_TIMEOUT: Duration = Duration::from_secs(2);
/// Beyond the timeout, what an answer may take (a loaded CI machine, the HTTP round trip).
const SLACK: Duration = Duration::from_secs(2);
const PUBLISHERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cut_off_answers_within_the_bound_and_loses_nothing() {
    let database = fresh_database(Backend::Postgres).await;
    let link = Link::to(server_address(&database)).await;
    let receiver = TestReceiver::start(None).await;
    let log = std::env::temp_dir().join(format!("hookgate-cut-{}.log", std::process::id()));
    let env = [
        ("HOOKGATE_DB_TIMEOUT", "2s"),
        ("HOOKGATE_DB_ACQUIRE_TIMEOUT", "2s"),
        ("HOOKGATE_LEASE", "31s"),
    ];
    let gateway = Arc::new(Gateway::start_logged(&through(&database, &link), &env, &log).await);
    gateway.setup(&receiver.url()).await;

    // Eight publishers, each one event after another, for the whole test.
    let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let stop = tokio_util::sync::CancellationToken::new();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (gateway, answers, stop) = (gateway.clone(), answers.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = p;
                while !stop.is_cancelled() {
                    let started = Instant::now();
                    let r = gateway.publish_one(n, 0).await;
                    check_answer(n, &r);
                    let (status, took) = (r.status.as_u16(), started.elapsed());
                    answers.lock().unwrap().push(Answer { n, status, took });
                    n += PUBLISHERS;
                }
            })
        })
        .collect();
    receiver.wait_for(100, Duration::from_secs(30)).await;

    link.set_cut(true);
    let cut_at = answers.lock().unwrap().len();
    let mut readyz_failed = false;
    for _ in 0..20 {
        if !gateway.ready().await {
            readyz_failed = true;
            break;
        }
    }
    assert!(
        readyz_failed,
        "/readyz kept answering 200 with the database cut off"
    );
    let refused = wait_until(Duration::from_secs(20), || {
        let answers = answers.lock().unwrap();
        answers[cut_at..].iter().filter(|a| a.status == 503).count() >= 2 * PUBLISHERS
    })
    .await;
    assert!(
        refused,
        "publishes were not answered 503 while the database was cut off"
    );

    link.set_cut(false);
    let healed_at = answers.lock().unwrap().len();
    assert!(
        wait_until(Duration::from_secs(30), || {
            let answers = answers.lock().unwrap();
            answers[healed_at..]
                .iter()
                .filter(|a| a.status == 202)
                .count()
                >= 50
        })
        .await,
        "publishes were not accepted again once the link healed"
    );
    stop.cancel();
    for publisher in publishers {
        publisher.await.unwrap();
    }

    let answers = std::mem::take(&mut *answers.lock().unwrap());
    let slowest = answers.iter().map(|a| a.took).max().unwrap();
    assert!(
        slowest <= DB_TIMEOUT + SLACK,
        "a publish waited {slowest:?}, past the database timeout ({DB_TIMEOUT:?})"
    );
    let accepted: HashSet<String> = answers
        .iter()
        .filter(|a| a.status == 202)
        .map(|a| format!("evt-{}", a.n))
        .collect();
    // An attempt sent but not recorded during the cut is sent again once its lease
    // (31 s) expires, so allow for one lease.
    let all_arrived = wait_until(Duration::from_secs(90), || {
        delivered_events(&receiver).is_superset(&accepted)
    })
    .await;
    let missing = accepted.difference(&delivered_events(&receiver)).count();
    assert!(
        all_arrived,
        "{missing} of {} accepted events never delivered",
        accepted.len()
    );
    let gateway = Arc::into_inner(gateway).expect("the publishers have finished");
    assert!(gateway.stop().success());
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("the database did not answer in time"),
        "the timeouts are in the gateway's log"
    );
}

/// The partition fencing exists for: two instances, each on its own link to PostgreSQL,
/// and the owner's link cut. Its beats fail, its lease lapses, and the instance that
/// still reaches the database takes the listener over and sends what is published to
/// it meanwhile; healed, the cut instance sends nothing twice and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_owner_loses_its_listener_to_an_instance_that_reaches_the_database() {
    let database = fresh_database(Backend::Postgres).await;
    let links = [
        Link::to(server_address(&database)).await,
        Link::to(server_address(&database)).await,
    ];
    let receiver = TestReceiver::start(None).await;
    let env = |host: &'static str| {
        [
            ("HOOKGATE_DB_TIMEOUT", "2s"),
            ("HOOKGATE_DB_ACQUIRE_TIMEOUT", "2s"),
            ("HOOKGATE_LEASE", "31s"),
            ("HOOKGATE_INSTANCE_HEARTBEAT", "500ms"),
            ("HOSTNAME", host),
        ]
    };
    let hosts = ["first", "second"];
    let first = Gateway::start(&through(&database, &links[0]), &env(hosts[0])).await;
    first.setup(&receiver.url()).await;
    let second = Gateway::start(&through(&database, &links[1]), &env(hosts[1])).await;
    let gateways = [first, second];
    let holder = || async {
        let held = format!("SELECT COUNT(*) FROM webhook_owners WHERE expires_at > {NOW_MS}");
        let owner = count(&database, &format!("{held} AND instance_id LIKE 'first-%'")).await;
        let any = count(&database, &held).await;
        (any == 1).then_some(if owner == 1 { 0 } else { 1 })
    };
    // The second's join may hand the webhook over; once both are live it stays put.
    let live = format!("SELECT COUNT(*) FROM instances WHERE heartbeat_at > {NOW_MS} - 1000");
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&database, &live).await < 2 || holder().await.is_none() {
        assert!(Instant::now() < deadline, "the instances did not settle");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let owner = holder().await.expect("the webhook has an owner");
    let survivor = 1 - owner;

    gateways[survivor].publish(0, 100).await;
    receiver.wait_for(100, Duration::from_secs(30)).await;

    links[owner].set_cut(true);
    let cut_at = Instant::now();
    let mut moved = false;
    while cut_at.elapsed() < Duration::from_secs(10) {
        if holder().await == Some(survivor) {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        moved,
        "the listener did not move off the cut-off owner within 10 s"
    );
    gateways[survivor].publish(100, 100).await;
    let arrived = wait_until(Duration::from_secs(30), || {
        delivered_events(&receiver).len() >= 200
    })
    .await;
    assert!(
        arrived,
        "{} of 200 events arrived with the owner cut off",
        delivered_events(&receiver).len()
    );

    // The cut owner's last attempts may have been sent but not recorded: the survivor
    // sends them again. Once it has recorded everything, nothing is left to send.
    let undelivered = "SELECT COUNT(*) FROM deliveries WHERE state <> 'delivered'";
    assert!(
        wait_until_count(&database, undelivered, 0, Duration::from_secs(30)).await,
        "the survivor did not record every delivery"
    );

    // Healed: the cut instance finds its lease gone and sends nothing it had.
    let requests = receiver.received().len();
    links[owner].set_cut(false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        receiver.received().len(),
        requests,
        "a request was sent after the link healed, with everything delivered"
    );
    assert_eq!(count(&database, undelivered).await, 0);
    assert_eq!(delivered_events(&receiver).len(), 200);
    for gateway in gateways {
        assert!(gateway.stop().success());
    }
}
