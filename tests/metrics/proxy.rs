//! Proxy variables of the environment are not honoured by the sender (a proxy resolves
//! listener names itself, out of the SSRF guard's sight); `HOOKGATE_OUTBOUND_PROXY` is
//! the one proxy deliveries go through. The real binary, with the variables set.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::binary::Gateway;
use crate::helpers::{TestReceiver, PLATFORM_KEY};

/// A loopback "proxy" that counts the connections it gets and closes them.
async fn counting_proxy() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (url, count)
}

async fn publish_one(gateway: &Gateway) {
    let published = gateway
        .post(
            "/v1/events",
            PLATFORM_KEY,
            json!({"type": "a.b", "tenant_id": "acme"}),
        )
        .await;
    assert_eq!(published.status, 202, "{}", published.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_variables_are_ignored_and_the_outbound_proxy_setting_is_used() {
    let (proxy, proxied) = counting_proxy().await;
    let env: Vec<(&str, &str)> = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .into_iter()
    .map(|name| (name, proxy.as_str()))
    .collect();
    let receiver = TestReceiver::start(None).await;
    let mut gateway = Gateway::start(&env);
    gateway.add_tenant().await;
    gateway.add_partner("bob", &receiver.url()).await;
    publish_one(&gateway).await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "delivered straight to the listener");
    assert_eq!(
        proxied.load(Ordering::SeqCst),
        0,
        "no connection to the proxy"
    );
    gateway.stop();

    let mut env = env;
    env.push(("HOOKGATE_OUTBOUND_PROXY", proxy.as_str()));
    let receiver = TestReceiver::start(None).await;
    let mut gateway = Gateway::start(&env);
    gateway.add_tenant().await;
    gateway.add_partner("bob", &receiver.url()).await;
    publish_one(&gateway).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while proxied.load(Ordering::SeqCst) == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        proxied.load(Ordering::SeqCst) > 0,
        "the configured proxy is where deliveries go"
    );
    assert!(receiver.received().is_empty());
    gateway.stop();
}
