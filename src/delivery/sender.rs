//! One HTTP attempt: POST the signed body, classify what happened, keep a bounded
//! excerpt of the answer. Never follows redirects: a 3xx is a failure.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

use super::resolver::GuardedResolver;
use super::target::is_private;
use crate::domain::retry::{AttemptClass, RetryAfter};

#[derive(Debug, Clone)]
pub struct SendOutcome {
    pub class: AttemptClass,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub excerpt: Option<String>,
    pub latency: Duration,
    /// The receiver's `Retry-After`, read only on a 429 or a 503.
    pub retry_after: Option<RetryAfter>,
}

impl SendOutcome {
    /// An attempt that never got an answer.
    pub fn unanswered(class: AttemptClass, error: String, latency: Duration) -> Self {
        Self {
            class,
            status: None,
            error: Some(error),
            excerpt: None,
            latency,
            retry_after: None,
        }
    }
}

/// What the receiver said, beyond its body.
struct Answer {
    status: u16,
    excerpt: String,
    abort: bool,
    retry_after: Option<RetryAfter>,
}

/// Svix's convention for "stop retrying this message", which partners migrating from
/// Svix already send.
const ABORT_HEADER: &str = "webhook-delivery";
const ABORT_VALUE: &str = "abort-message";

/// Everything of one attempt that is not the body.
pub const USER_AGENT: &str = concat!("hookgate/", env!("CARGO_PKG_VERSION"));

pub use crate::domain::model::MASK;

/// The headers an attempt of `msg_id` at `timestamp` carries, as logs show them: built
/// by the same code as the real request, with the signature and every custom header's
/// value masked (partners put credentials there).
pub fn shown_headers(
    msg_id: &str,
    timestamp: i64,
    custom_headers: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let masked: BTreeMap<String, String> = custom_headers
        .keys()
        .map(|name| (name.clone(), MASK.to_string()))
        .collect();
    let signature = format!("v1,{MASK}");
    let request = OutboundRequest {
        traceparent: None,
        url: "",
        msg_id,
        timestamp,
        signature: &signature,
        custom_headers: &masked,
        timeout: Duration::ZERO,
    };
    let mut shown: Vec<(String, String)> = headers(&request)
        .iter()
        .map(|(name, value)| {
            let value = value.to_str().unwrap_or_default().to_string();
            (name.as_str().to_string(), value)
        })
        .collect();
    shown.push(("user-agent".into(), USER_AGENT.into()));
    shown.sort();
    shown
}

pub struct OutboundRequest<'a> {
    /// The attempt's W3C trace context, sent as `traceparent` when traced.
    pub traceparent: Option<&'a str>,
    pub url: &'a str,
    pub msg_id: &'a str,
    pub timestamp: i64,
    pub signature: &'a str,
    pub custom_headers: &'a BTreeMap<String, String>,
    pub timeout: Duration,
}

#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    excerpt_limit: usize,
    allow_private: bool,
}

impl Sender {
    /// Every name is resolved through `resolver`, which refuses private addresses unless
    /// allowed; IP-literal URLs skip DNS, so `send` checks them itself. Proxy variables
    /// of the environment are ignored (a proxy resolves names itself, out of the guard's
    /// sight); `proxy`, when given, is the one proxy used, and must enforce the same.
    pub fn new(
        excerpt_limit: usize,
        resolver: GuardedResolver,
        allow_private: bool,
        proxy: Option<&str>,
    ) -> Result<Self, reqwest::Error> {
        let builder = match proxy {
            Some(url) => reqwest::Client::builder().proxy(reqwest::Proxy::all(url)?),
            None => reqwest::Client::builder().no_proxy(),
        };
        let client = builder
            .dns_resolver(std::sync::Arc::new(resolver))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .pool_idle_timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            client,
            excerpt_limit,
            allow_private,
        })
    }

    pub async fn send(&self, req: OutboundRequest<'_>, body: Vec<u8>) -> SendOutcome {
        let started = Instant::now();
        if let Some(refusal) = self.refuse_private_literal(req.url) {
            return SendOutcome::unanswered(AttemptClass::Connect, refusal, started.elapsed());
        }
        let result = tokio::time::timeout(req.timeout, self.exchange(&req, body)).await;
        let latency = started.elapsed();
        match result {
            Err(_elapsed) => SendOutcome::unanswered(
                AttemptClass::Timeout,
                format!("no complete answer within {} ms", req.timeout.as_millis()),
                latency,
            ),
            Ok(Err(e)) => SendOutcome::unanswered(classify_error(&e), describe_error(&e), latency),
            Ok(Ok(answer)) => {
                let (class, error) = if answer.abort {
                    (
                        AttemptClass::Aborted,
                        Some(format!(
                            "the receiver answered {ABORT_HEADER}: {ABORT_VALUE}; no more attempts"
                        )),
                    )
                } else if (200..300).contains(&answer.status) {
                    (AttemptClass::Success, None)
                } else {
                    (AttemptClass::HttpError, None)
                };
                SendOutcome {
                    class,
                    status: Some(answer.status),
                    error,
                    excerpt: Some(answer.excerpt),
                    latency,
                    retry_after: answer.retry_after,
                }
            }
        }
    }

    fn refuse_private_literal(&self, url: &str) -> Option<String> {
        if self.allow_private {
            return None;
        }
        let host = url::Url::parse(url).ok()?.host()?.to_owned();
        let ip: std::net::IpAddr = match host {
            url::Host::Ipv4(ip) => ip.into(),
            url::Host::Ipv6(ip) => ip.into(),
            url::Host::Domain(_) => return None,
        };
        is_private(ip)
            .then(|| format!("refused: {ip} is a private, loopback or link-local address"))
    }

    async fn exchange(
        &self,
        req: &OutboundRequest<'_>,
        body: Vec<u8>,
    ) -> Result<Answer, reqwest::Error> {
        let mut response = self
            .client
            .post(req.url)
            .headers(headers(req))
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let abort = headers.get_all(ABORT_HEADER).iter().any(|v| {
            v.as_bytes()
                .trim_ascii()
                .eq_ignore_ascii_case(ABORT_VALUE.as_bytes())
        });
        let retry_after = matches!(status, 429 | 503)
            .then(|| headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok())
            .flatten()
            .and_then(RetryAfter::parse);
        // Read no more than the excerpt: a huge or endless body costs nothing extra.
        let mut excerpt = Vec::new();
        while excerpt.len() < self.excerpt_limit {
            match response.chunk().await? {
                Some(chunk) => excerpt.extend_from_slice(&chunk),
                None => break,
            }
        }
        excerpt.truncate(self.excerpt_limit);
        Ok(Answer {
            status,
            excerpt: crate::domain::model::storable_text(&String::from_utf8_lossy(&excerpt))
                .into_owned(),
            abort,
            retry_after,
        })
    }
}

fn headers(req: &OutboundRequest<'_>) -> HeaderMap {
    let mut h = HeaderMap::new();
    // Custom headers were validated when the webhook was saved; any that no longer parse
    // are skipped rather than failing the delivery.
    for (name, value) in req.custom_headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    }
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let standard = [
        ("webhook-id", req.msg_id.to_string()),
        ("webhook-timestamp", req.timestamp.to_string()),
        ("webhook-signature", req.signature.to_string()),
    ];
    for (name, value) in standard {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    if let Some(v) = req.traceparent.and_then(|t| HeaderValue::from_str(t).ok()) {
        h.insert(HeaderName::from_static("traceparent"), v);
    }
    h
}

fn classify_error(e: &reqwest::Error) -> AttemptClass {
    if e.is_timeout() {
        AttemptClass::Timeout
    } else if e.is_connect() {
        AttemptClass::Connect
    } else {
        AttemptClass::Network
    }
}

/// The error and its causes, without the URL (it may carry a partner's token).
fn describe_error(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    crate::domain::model::storable_text(&text)
        .chars()
        .take(500)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_headers_are_the_real_ones_with_secrets_masked() {
        let custom = BTreeMap::from([("x-partner-token".to_string(), "s3cr3t".to_string())]);
        let shown = shown_headers("msg_1", 1_700_000_000, &custom);
        let get = |name: &str| {
            shown
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("webhook-id"), Some("msg_1"));
        assert_eq!(get("webhook-timestamp"), Some("1700000000"));
        assert_eq!(get("webhook-signature"), Some("v1,********"));
        assert_eq!(get("x-partner-token"), Some(MASK));
        assert_eq!(get("content-type"), Some("application/json"));
        assert_eq!(get("user-agent"), Some(USER_AGENT));
        assert!(shown.iter().all(|(_, v)| !v.contains("s3cr3t")));
    }
}
