//! The headers of page answers, read without a browser: every page (signed in or not,
//! error pages, the secret's page) refuses framing, sniffing, referrers and caches, and
//! allows no script; API answers are neither sniffed nor cached.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp, PLATFORM_KEY};
use crate::hostile_forms::signed_in;

/// Fails unless `r` carries every page header, with framing refused.
fn assert_page_headers(what: &str, r: &reqwest::Response) {
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_string()
    };
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: {csp:?} lacks {directive}");
    }
    assert!(
        !csp.contains("script-src"),
        "{what}: {csp:?} allows a script"
    );
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header("cache-control"), "no-store", "{what}");
    assert!(header("permissions-policy").contains("camera=()"), "{what}");
}

async fn send(
    http: &reqwest::Client,
    method: Method,
    url: String,
    cookie: Option<&str>,
) -> reqwest::RequestBuilder {
    let request = http.request(method, url);
    match cookie {
        Some(cookie) => request.header("cookie", cookie),
        None => request,
    }
}

pub async fn pages_cannot_be_framed_sniffed_or_cached(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = crate::platform(&app).await;
    let webhook = app
        .create_webhook("bob-app", &key, "http://127.0.0.1:9/hooks", json!({}))
        .await;
    let id = webhook["id"].as_str().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = &app.base;
    let (portal, portal_csrf) = signed_in(&app, &http, "portal", &key).await;
    let (console, _) = signed_in(&app, &http, "console", PLATFORM_KEY).await;

    let pages: Vec<(&str, Method, String, Option<&str>, u16)> = vec![
        (
            "portal sign-in",
            Method::GET,
            "/portal/login".into(),
            None,
            200,
        ),
        (
            "console sign-in",
            Method::GET,
            "/console/login".into(),
            None,
            200,
        ),
        (
            "signed out, sent to sign in",
            Method::GET,
            "/portal/webhooks".into(),
            None,
            303,
        ),
        (
            "no such page",
            Method::GET,
            "/portal/nope".into(),
            None,
            404,
        ),
        (
            "a spent link",
            Method::GET,
            "/portal/link/not-a-token".into(),
            None,
            410,
        ),
        (
            "webhooks",
            Method::GET,
            "/portal/webhooks".into(),
            Some(&portal),
            200,
        ),
        (
            "a webhook",
            Method::GET,
            format!("/portal/webhooks/{id}"),
            Some(&portal),
            200,
        ),
        (
            "console overview",
            Method::GET,
            "/console/".into(),
            Some(&console),
            200,
        ),
    ];
    for (what, method, path, cookie, status) in pages {
        let r = send(&http, method, format!("{base}{path}"), cookie)
            .await
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert_page_headers(what, &r);
    }
    // The page that shows the signing secret.
    let secret = send(
        &http,
        Method::POST,
        format!("{base}/portal/webhooks/{id}/secret"),
        Some(&portal),
    )
    .await
    .form(&[("csrf", portal_csrf.as_str())])
    .send()
    .await
    .unwrap();
    assert_eq!(secret.status(), 200);
    assert_page_headers("the secret's page", &secret);
    assert!(secret
        .text()
        .await
        .unwrap()
        .contains(webhook["secret"].as_str().unwrap()));

    // The API's answer with the secret: not sniffed, not cached.
    let api = http
        .get(format!("{base}/v1/apps/bob-app/webhooks/{id}/secret"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert_eq!(api.headers()["cache-control"], "no-store");
}

/// A site the operator names may frame the pages; then `X-Frame-Options` (which cannot
/// name it) is left out and the CSP names it.
pub async fn named_sites_may_frame_the_pages(backend: Backend) {
    let app: TestApp = spawn_app_with(backend, |s| {
        s.frame_ancestors = vec!["https://dashboard.example".into()]
    })
    .await;
    let r = reqwest::get(format!("{}/portal/login", app.base))
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.ends_with("frame-ancestors https://dashboard.example"),
        "{csp}"
    );
    assert!(r.headers().get("x-frame-options").is_none());
    assert_eq!(r.headers()["cache-control"], "no-store");
}

/// Serves `html` to every request on a loopback port of its own: another origin than the
/// gateway's (a `data:` page would be a public one, which Chromium forbids to reach
/// loopback at all).
async fn another_site(html: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

/// Chromium, asked by another site to frame the portal's sign-in, renders nothing of it;
/// the same page frames an API answer (which needs no such refusal), so the frame itself
/// works and it is the headers that refuse.
pub async fn a_framed_page_is_not_rendered(backend: Backend) {
    use fantoccini::Locator;
    let app = spawn_app(backend).await;
    let browser = crate::browser::Browser::start(1100).await;
    let framing = another_site(format!(
        "<!doctype html><title>elsewhere</title>\
         <iframe id=portal src='{base}/portal/login'></iframe>\
         <iframe id=api src='{base}/healthz'></iframe>",
        base = app.base
    ))
    .await;
    browser.goto(&framing).await;
    let inside = |id: &'static str| {
        let client = browser.client.clone();
        async move {
            // Frames load on their own; give both a moment, bounded.
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let frame = client.find(Locator::Id(id)).await.unwrap();
                frame.enter_frame().await.unwrap();
                let text = client
                    .execute(
                        "return document.body ? document.body.innerText : ''",
                        vec![],
                    )
                    .await
                    .unwrap();
                client.enter_parent_frame().await.unwrap();
                let text = text.as_str().unwrap_or_default().to_string();
                if !text.is_empty() || tokio::time::Instant::now() > deadline {
                    return text;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    let api = inside("api").await;
    assert!(api.contains("ok"), "the control frame renders: {api:?}");
    let portal = inside("portal").await;
    assert!(
        !portal.contains("Sign in") && !portal.contains("key"),
        "the framed portal rendered: {portal:?}"
    );
    browser.client.clone().close().await.unwrap();
}
