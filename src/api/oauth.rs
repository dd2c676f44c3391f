//! OAuth 2.0 access tokens on partner routes: JWTs in the profile of RFC 9068, issued by
//! the platform's authorization server and verified against its JWKS (jsonwebtoken).
//! Only asymmetric signatures are accepted (RS256, ES256, EdDSA); `none` and HMAC never
//! are, whatever the token says. Keys are cached; a token signed by an unknown key
//! refetches the JWKS at most once per `HOOKGATE_OAUTH_JWKS_REFRESH`. When the JWKS
//! cannot be fetched, the cached keys keep working; only when no key can be had at all is
//! the answer 503 rather than 401.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use crate::config::Settings;

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The token is not one of the issuer's valid access tokens for hookgate: 401.
    #[error("the access token is not valid: {0}")]
    Invalid(String),
    /// No signing key of the issuer could be had: 503, the token may well be valid.
    #[error("the authorization server's keys cannot be fetched: {0}")]
    KeysUnavailable(String),
}

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub client_id: String,
    pub scopes: Vec<String>,
}

#[derive(Deserialize)]
struct Claims {
    client_id: String,
    #[serde(default)]
    scope: String,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    /// When the JWKS was last asked for, successfully or not.
    fetched_at: Option<Instant>,
    /// Why the last fetch failed, if it did.
    last_error: Option<String>,
}

pub struct OAuthVerifier {
    issuer: String,
    audience: String,
    jwks_url: Option<String>,
    leeway: Duration,
    refresh: Duration,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    /// One fetch at a time; the others wait and read what it found.
    fetching: Mutex<()>,
}

/// The algorithm a key is for, from its `alg` or else its type and curve.
fn key_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::KeyAlgorithm;
    let declared = jwk.common.key_algorithm.map(|alg| match alg {
        KeyAlgorithm::RS256 => Some(Algorithm::RS256),
        KeyAlgorithm::ES256 => Some(Algorithm::ES256),
        KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
        _ => None,
    });
    match (declared, &jwk.algorithm) {
        (Some(alg), _) => alg,
        (None, AlgorithmParameters::RSA(_)) => Some(Algorithm::RS256),
        (None, AlgorithmParameters::EllipticCurve(ec)) if ec.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        (None, AlgorithmParameters::OctetKeyPair(_)) => Some(Algorithm::EdDSA),
        _ => None,
    }
}

/// RFC 9068 §2.1: `typ` is `at+jwt` (or its full media type).
fn is_access_token_type(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    })
}

impl OAuthVerifier {
    /// A verifier when `HOOKGATE_OAUTH_ISSUER` is set.
    pub fn from_settings(settings: &Settings) -> Option<Self> {
        let issuer = settings.oauth_issuer.clone()?;
        Some(Self {
            issuer,
            audience: settings.oauth_audience.clone(),
            jwks_url: settings.oauth_jwks_url.clone(),
            leeway: settings.oauth_leeway,
            refresh: settings.oauth_jwks_refresh,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .expect("an HTTP client with default TLS"),
            cache: RwLock::new(KeyCache::default()),
            fetching: Mutex::new(()),
        })
    }

    pub async fn verify(&self, token: &str) -> Result<AccessToken, TokenError> {
        let invalid = |why: &str| TokenError::Invalid(why.to_string());
        let header = decode_header(token).map_err(|_| invalid("not a signed JWT"))?;
        if !matches!(
            header.alg,
            Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
        ) {
            return Err(invalid(
                "only RS256, ES256 and EdDSA signatures are accepted",
            ));
        }
        if !is_access_token_type(header.typ.as_deref()) {
            return Err(invalid("typ must be at+jwt (RFC 9068)"));
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid("the token names no key (kid)"))?;
        let key = self.key(&kid).await?;
        if key.0 != header.alg {
            return Err(invalid("the token's alg is not its key's"));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway.as_secs();
        let data = decode::<Claims>(token, &key.1, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            TokenError::Invalid(
                match e.kind() {
                    ErrorKind::ExpiredSignature => "expired",
                    ErrorKind::ImmatureSignature => "not valid yet (nbf)",
                    ErrorKind::InvalidIssuer => "wrong issuer",
                    ErrorKind::InvalidAudience => "wrong audience",
                    ErrorKind::InvalidSignature => "bad signature",
                    _ => "malformed",
                }
                .to_string(),
            )
        })?;
        Ok(AccessToken {
            client_id: data.claims.client_id,
            scopes: data
                .claims
                .scope
                .split_whitespace()
                .map(String::from)
                .collect(),
        })
    }

    async fn cached(&self, kid: &str) -> Option<(Algorithm, DecodingKey)> {
        self.cache.read().await.keys.get(kid).cloned()
    }

    /// The key `kid`, from the cache or a fresh JWKS (at most once per refresh interval).
    async fn key(&self, kid: &str) -> Result<(Algorithm, DecodingKey), TokenError> {
        if let Some(key) = self.cached(kid).await {
            return Ok(key);
        }
        let _one_fetch = self.fetching.lock().await;
        if let Some(key) = self.cached(kid).await {
            return Ok(key);
        }
        let recently = self
            .cache
            .read()
            .await
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.refresh);
        if !recently {
            let fetched = self.fetch_keys().await;
            let mut cache = self.cache.write().await;
            cache.fetched_at = Some(Instant::now());
            match fetched {
                Ok(keys) => {
                    cache.keys = keys;
                    cache.last_error = None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "OAuth: the JWKS could not be fetched; cached keys stay");
                    cache.last_error = Some(e);
                }
            }
        }
        let cache = self.cache.read().await;
        if let Some(key) = cache.keys.get(kid) {
            return Ok(key.clone());
        }
        if cache.keys.is_empty() {
            let why = cache
                .last_error
                .clone()
                .unwrap_or_else(|| "the JWKS holds no usable key".into());
            return Err(TokenError::KeysUnavailable(why));
        }
        Err(TokenError::Invalid("unknown signing key (kid)".into()))
    }

    async fn jwks_url(&self) -> Result<String, String> {
        if let Some(url) = &self.jwks_url {
            return Ok(url.clone());
        }
        #[derive(Deserialize)]
        struct Discovery {
            jwks_uri: String,
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self.get_json(&url).await?;
        Ok(discovery.jwks_uri)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: {}", response.status()));
        }
        response.json().await.map_err(|e| format!("{url}: {e}"))
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, (Algorithm, DecodingKey)>, String> {
        let url = self.jwks_url().await?;
        let set: JwkSet = self.get_json(&url).await?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), key_algorithm(jwk)) else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, (alg, key));
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::*;

    /// A token naming key `kid`, well formed up to its (meaningless) signature.
    fn token_with_kid(kid: &str) -> String {
        let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.c2ln",
            part(serde_json::json!({"alg": "RS256", "typ": "at+jwt", "kid": kid})),
            part(serde_json::json!({"client_id": "c"}))
        )
    }

    #[tokio::test]
    async fn unknown_keys_refetch_the_jwks_at_most_once_per_interval() {
        let fetches = Arc::new(AtomicUsize::new(0));
        let counted = fetches.clone();
        let jwks = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { axum::Json(serde_json::json!({"keys": []})) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, jwks).await.unwrap() });

        let mut settings = Settings::defaults();
        settings.oauth_issuer = Some(format!("http://{addr}"));
        settings.oauth_jwks_url = Some(format!("http://{addr}/jwks"));
        settings.oauth_jwks_refresh = Duration::from_millis(300);
        let verifier = OAuthVerifier::from_settings(&settings).unwrap();
        for i in 0..5 {
            let refused = verifier.verify(&token_with_kid(&format!("k{i}"))).await;
            assert!(
                matches!(refused, Err(TokenError::KeysUnavailable(_))),
                "{refused:?}"
            );
        }
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            1,
            "five unknown keys, one fetch"
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        let _ = verifier.verify(&token_with_kid("k9")).await;
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            2,
            "once more after the interval"
        );
    }

    #[test]
    fn only_rfc_9068_types() {
        assert!(is_access_token_type(Some("at+jwt")));
        assert!(is_access_token_type(Some("application/at+JWT")));
        assert!(!is_access_token_type(Some("JWT")));
        assert!(!is_access_token_type(None));
    }
}
