//! A real OAuth 2.0 authorization server for tests: the npm package oidc-provider
//! (`tests/oidc/provider.mjs`, installed by `scripts/test.sh`), one per test on a free
//! loopback port, issuing RFC 9068 JWT access tokens through the client-credentials
//! grant. A test may stop it, restart it with a rotated key or a shorter token lifetime,
//! or start a second one on the same keys (another issuer).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::{Child, Command};

pub const AUDIENCE: &str = "https://hookgate.test";
pub const ALL_SCOPES: &str = "webhooks:read webhooks:manage";

pub struct AuthServer {
    pub port: u16,
    child: Option<Child>,
    keys: PathBuf,
    _dir: std::sync::Arc<tempfile::TempDir>,
    clients: Vec<String>,
    alg: &'static str,
}

fn secret_of(client: &str) -> String {
    format!("{client}-secret-0123456789abcdef0123456789abcdef")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl AuthServer {
    /// A server for `clients` (each may ask for both scopes), signing with a new `alg`
    /// key (RS256, ES256 or EdDSA).
    pub async fn start(clients: &[&str], alg: &'static str) -> Self {
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let mut server = Self {
            port: free_port(),
            child: None,
            keys: dir.path().join("keys.json"),
            _dir: dir,
            clients: clients.iter().map(|c| c.to_string()).collect(),
            alg,
        };
        server.run(false, 60).await;
        server
    }

    /// Another server, on another port (so another issuer), with the same clients and
    /// signing keys.
    pub async fn twin(&self) -> Self {
        let mut twin = Self {
            port: free_port(),
            child: None,
            keys: self.keys.clone(),
            _dir: self._dir.clone(),
            clients: self.clients.clone(),
            alg: self.alg,
        };
        twin.run(false, 60).await;
        twin
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn run(&mut self, rotate: bool, token_ttl: u64) {
        let clients: Vec<Value> = self
            .clients
            .iter()
            .map(|c| json!({"client_id": c, "client_secret": secret_of(c), "scope": ALL_SCOPES}))
            .collect();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/provider.mjs");
        let child = Command::new("node")
            .arg(script)
            .env("PORT", self.port.to_string())
            .env("CLIENTS", Value::from(clients).to_string())
            .env("KEYS_FILE", &self.keys)
            .env("KEY_ALG", self.alg)
            .env("ROTATE", if rotate { "1" } else { "0" })
            .env("TOKEN_TTL", token_ttl.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs tests/oidc/provider.mjs: scripts/test.sh installs it");
        self.child = Some(child);
        let url = format!("{}/.well-known/openid-configuration", self.issuer());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = reqwest::get(&url).await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "oidc-provider did not start on {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    /// Starts again on the same port: with a new signing key first (the old one still
    /// published) when `rotate`, issuing tokens that live `token_ttl` seconds.
    pub async fn restart(&mut self, rotate: bool, token_ttl: u64) {
        self.stop().await;
        self.run(rotate, token_ttl).await;
    }

    /// An access token from the token endpoint: the client-credentials grant with the
    /// client's secret, for `scope` and the audience `resource`.
    pub async fn token(&self, client: &str, scope: &str, resource: &str) -> String {
        let r = reqwest::Client::new()
            .post(format!("{}/token", self.issuer()))
            .basic_auth(client, Some(secret_of(client)))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", scope),
                ("resource", resource),
            ])
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {body}"))
            .to_string()
    }

    /// An RSA signing key's private key (PKCS#1 DER): signs what the server would never
    /// issue.
    pub fn private_der(&self) -> Vec<u8> {
        std::fs::read(format!("{}.key.der", self.keys.display())).unwrap()
    }

    /// The signing key's public key, as PEM (what an HS256 forgery would use as secret).
    pub fn public_pem(&self) -> Vec<u8> {
        std::fs::read(format!("{}.pub.pem", self.keys.display())).unwrap()
    }
}
