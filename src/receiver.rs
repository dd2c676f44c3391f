//! `hookgate receiver`: a small listener for trying hookgate out. It prints every
//! delivery it gets and, given the webhook's secret, checks the signature.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;

use crate::delivery::signing;

#[derive(Clone)]
struct ReceiverState {
    key: Option<Vec<u8>>,
    status: StatusCode,
}

pub async fn run(listen: SocketAddr, secret: Option<String>, status: u16) -> anyhow::Result<()> {
    let key = secret.as_deref().map(signing::secret_key).transpose()?;
    let state = ReceiverState {
        key,
        status: StatusCode::from_u16(status)?,
    };
    let app = Router::new().fallback(receive).with_state(state);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("receiver listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let id = header("webhook-id");
    let signature_check = match &state.key {
        None => "unchecked",
        Some(key) => check_signature(
            key,
            id,
            header("webhook-timestamp"),
            header("webhook-signature"),
            &body,
            chrono::Utc::now().timestamp(),
        ),
    };
    println!(
        "webhook-id={id} signature={signature_check} body={}",
        String::from_utf8_lossy(&body)
    );
    state.status
}

/// How far a delivery's timestamp may be from now (Standard Webhooks' replay guard).
const TIMESTAMP_TOLERANCE_SECONDS: i64 = 5 * 60;

/// "ok" when one of the signatures is the expected one, compared in constant time, and
/// the timestamp is within the tolerance of `now`; otherwise why not.
fn check_signature(
    key: &[u8],
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> &'static str {
    use subtle::ConstantTimeEq;
    let Ok(ts) = timestamp.parse::<i64>() else {
        return "BAD (no timestamp)";
    };
    if (now - ts).abs() > TIMESTAMP_TOLERANCE_SECONDS {
        return "BAD (timestamp too old or too new)";
    }
    let expected = signing::sign(key, id, ts, body);
    let matched = signatures
        .split(' ')
        .fold(subtle::Choice::from(0), |any, s| {
            any | s.as_bytes().ct_eq(expected.as_bytes())
        });
    if bool::from(matched) {
        "ok"
    } else {
        "BAD"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_with_the_timestamp_tolerance() {
        let key = b"0123456789abcdef0123456789abcdef";
        let now = 1_700_000_000;
        let good = signing::sign(key, "msg_1", now, b"{}");
        let check =
            |ts: i64, sig: &str| check_signature(key, "msg_1", &ts.to_string(), sig, b"{}", now);
        assert_eq!(check(now, &good), "ok");
        assert_eq!(check(now, &format!("v1,other {good}")), "ok");
        assert_eq!(check(now, "v1,forged"), "BAD");
        let old = signing::sign(key, "msg_1", now - 301, b"{}");
        assert_eq!(check(now - 301, &old), "BAD (timestamp too old or too new)");
        assert_eq!(
            check_signature(key, "msg_1", "", &good, b"{}", now),
            "BAD (no timestamp)"
        );
    }
}
