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
    let signature_check = match (&state.key, header("webhook-timestamp").parse::<i64>()) {
        (None, _) => "unchecked",
        (Some(_), Err(_)) => "BAD (no timestamp)",
        (Some(key), Ok(ts)) => {
            let expected = signing::sign(key, id, ts, &body);
            if header("webhook-signature")
                .split(' ')
                .any(|s| s == expected)
            {
                "ok"
            } else {
                "BAD"
            }
        }
    };
    println!(
        "webhook-id={id} signature={signature_check} body={}",
        String::from_utf8_lossy(&body)
    );
    state.status
}
