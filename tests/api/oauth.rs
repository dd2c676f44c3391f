//! OAuth 2.0 access tokens on partner routes, from a real authorization server
//! (oidc-provider, `oidc.rs`): a token acts for the app whose `oauth_client_id` is its
//! client, within its scopes; every forged, expired, misdirected or foreign token is
//! refused; keys rotate; a JWKS outage keeps cached keys working.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, TestApp};
use crate::oidc::{AuthServer, ALL_SCOPES, AUDIENCE};

async fn gateway(backend: Backend, auth: &AuthServer) -> TestApp {
    let issuer = auth.issuer();
    spawn_app_with(backend, move |s| {
        s.oauth_issuer = Some(issuer);
        s.oauth_audience = AUDIENCE.into();
        s.oauth_leeway = Duration::ZERO;
        s.oauth_jwks_refresh = Duration::from_secs(1);
    })
    .await
}

fn part(token: &str, i: usize) -> Value {
    let bytes = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(i).unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// The token with its header replaced by `header`, its payload and signature kept.
fn with_header(token: &str, header: Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", encode(&header), parts[1], parts[2])
}

async fn get(app: &TestApp, path: &str, token: &str) -> crate::helpers::Reply {
    app.call(Method::GET, path, Some(token), None).await
}

fn refused_as(reply: &crate::helpers::Reply, status: u16, says: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message:?} should say {says:?}");
}

async fn tokens_act_for_their_app_within_their_scopes(backend: Backend) {
    let mut auth = AuthServer::start(&["bob-client", "eve-client", "stray-client"], "RS256").await;
    let app = gateway(backend, &auth).await;
    let bob = app
        .platform_post(
            "/v1/apps",
            json!({"id": "bob", "name": "Bob", "oauth_client_id": "bob-client"}),
        )
        .await;
    assert_eq!(bob.status, 201, "{}", bob.body);
    assert_eq!(bob.body["oauth_client_id"], "bob-client");
    let bob_key = bob.body["partner_key"].as_str().unwrap().to_string();
    let eve = app
        .platform_post("/v1/apps", json!({"id": "eve", "name": "Eve"}))
        .await;
    assert_eq!(eve.status, 201);
    let set = app
        .call(
            Method::PATCH,
            "/v1/apps/eve",
            Some(crate::helpers::PLATFORM_KEY),
            Some(json!({"oauth_client_id": "eve-client"})),
        )
        .await;
    assert_eq!(set.body["oauth_client_id"], "eve-client", "{}", set.body);
    // One client, one app.
    let taken = app
        .call(
            Method::PATCH,
            "/v1/apps/eve",
            Some(crate::helpers::PLATFORM_KEY),
            Some(json!({"oauth_client_id": "bob-client"})),
        )
        .await;
    assert_eq!(taken.status, 409, "{}", taken.body);

    // A token with both scopes manages bob's webhooks.
    let token = auth.token("bob-client", ALL_SCOPES, AUDIENCE).await;
    assert_eq!(part(&token, 0)["typ"], "at+jwt");
    let created = app
        .call(
            Method::POST,
            "/v1/apps/bob/webhooks",
            Some(&token),
            Some(json!({"url": "http://127.0.0.1:9/hooks"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let webhook = format!(
        "/v1/apps/bob/webhooks/{}",
        created.body["id"].as_str().unwrap()
    );
    assert_eq!(get(&app, &webhook, &token).await.status, 200);
    assert_eq!(
        get(&app, &webhook, &bob_key).await.status,
        200,
        "keys still work"
    );

    // Read only: reading yes, changing no.
    let reader = auth.token("bob-client", "webhooks:read", AUDIENCE).await;
    assert_eq!(
        get(&app, "/v1/apps/bob/webhooks", &reader).await.status,
        200
    );
    let refused = app
        .call(Method::DELETE, &webhook, Some(&reader), None)
        .await;
    refused_as(&refused, 403, "webhooks:manage");
    assert_eq!(refused.body["error"]["code"], "insufficient_scope");
    // Credentials are the manage scope's, even to read: the secret would let a reader
    // forge deliveries, header values are the partner's own credentials.
    for credential in ["secret", "headers"] {
        let path = format!("{webhook}/{credential}");
        let read = get(&app, &path, &reader).await;
        assert_eq!(read.status, 403, "{credential}: {}", read.body);
        assert_eq!(read.body["error"]["code"], "insufficient_scope");
        assert_eq!(get(&app, &path, &token).await.status, 200, "{credential}");
        assert_eq!(get(&app, &path, &bob_key).await.status, 200, "{credential}");
    }

    // Another app's client sees nothing of bob's; no partner token reaches the platform's
    // routes; a client no app is set up for is refused.
    let eve_token = auth.token("eve-client", ALL_SCOPES, AUDIENCE).await;
    assert_eq!(get(&app, &webhook, &eve_token).await.status, 404);
    assert_eq!(
        get(&app, "/v1/apps/bob/webhooks", &eve_token).await.status,
        404
    );
    assert_eq!(
        get(&app, "/v1/apps/eve/webhooks", &eve_token).await.status,
        200
    );
    let platform_route = app
        .call(Method::GET, "/v1/tenants", Some(&token), None)
        .await;
    assert_eq!(platform_route.status, 403);
    let stray = auth.token("stray-client", ALL_SCOPES, AUDIENCE).await;
    refused_as(&get(&app, webhook.as_str(), &stray).await, 401, "no app");

    // Misdirected and forged tokens.
    let elsewhere = auth
        .token("bob-client", ALL_SCOPES, "https://elsewhere.test")
        .await;
    refused_as(
        &get(&app, &webhook, &elsewhere).await,
        401,
        "wrong audience",
    );
    let mut tampered: Vec<char> = token.chars().collect();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    refused_as(&get(&app, &webhook, &tampered).await, 401, "not valid");
    let header = part(&token, 0);
    let unsigned = format!(
        "{}.",
        with_header(
            &token,
            json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]})
        )
        .rsplit_once('.')
        .unwrap()
        .0
    );
    refused_as(&get(&app, &webhook, &unsigned).await, 401, "not valid");
    let hmac_header = jsonwebtoken::Header {
        alg: jsonwebtoken::Algorithm::HS256,
        typ: Some("at+jwt".into()),
        kid: header["kid"].as_str().map(String::from),
        ..Default::default()
    };
    let forged = jsonwebtoken::encode(
        &hmac_header,
        &part(&token, 1),
        &jsonwebtoken::EncodingKey::from_secret(&auth.public_pem()),
    )
    .unwrap();
    refused_as(
        &get(&app, &webhook, &forged).await,
        401,
        "RS256, ES256 and EdDSA",
    );
    // Signed with the server's own key, but not an access token (typ JWT) or not valid
    // yet (nbf an hour ahead): refused all the same; the same claims as at+jwt pass.
    let signed = |typ: &str, claims: &Value| {
        let header = jsonwebtoken::Header {
            alg: jsonwebtoken::Algorithm::RS256,
            typ: Some(typ.into()),
            kid: header["kid"].as_str().map(String::from),
            ..Default::default()
        };
        let key = jsonwebtoken::EncodingKey::from_rsa_der(&auth.private_der());
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    };
    let claims = part(&token, 1);
    assert_eq!(
        get(&app, &webhook, &signed("at+jwt", &claims)).await.status,
        200
    );
    refused_as(
        &get(&app, &webhook, &signed("JWT", &claims)).await,
        401,
        "at+jwt",
    );
    let mut early = claims.clone();
    early["nbf"] = json!(chrono::Utc::now().timestamp() + 3600);
    refused_as(
        &get(&app, &webhook, &signed("at+jwt", &early)).await,
        401,
        "not valid yet",
    );

    // The same keys under another issuer.
    let mut twin = auth.twin().await;
    let foreign = twin.token("bob-client", ALL_SCOPES, AUDIENCE).await;
    refused_as(&get(&app, &webhook, &foreign).await, 401, "wrong issuer");
    twin.stop().await;

    // A rotation: the new key's tokens work once the JWKS may be fetched again; the old
    // key, still published, keeps working.
    auth.restart(true, 60).await;
    let rotated = auth.token("bob-client", ALL_SCOPES, AUDIENCE).await;
    assert_ne!(part(&rotated, 0)["kid"], header["kid"]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get(&app, &webhook, &rotated).await.status, 200);
    assert_eq!(get(&app, &webhook, &token).await.status, 200);

    // Expiry, with no leeway.
    auth.restart(false, 1).await;
    let short = auth.token("bob-client", ALL_SCOPES, AUDIENCE).await;
    assert_eq!(get(&app, &webhook, &short).await.status, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    refused_as(&get(&app, &webhook, &short).await, 401, "expired");

    // The authorization server down: cached keys still verify; an unknown key is a 401.
    auth.stop().await;
    assert_eq!(get(&app, &webhook, &rotated).await.status, 200);
    let unknown_kid = with_header(
        &rotated,
        json!({"alg": "RS256", "typ": "at+jwt", "kid": "not-a-key"}),
    );
    refused_as(
        &get(&app, &webhook, &unknown_kid).await,
        401,
        "unknown signing key",
    );
    // A gateway that never had a key answers 503: the token may well be valid.
    let fresh = gateway(backend, &auth).await;
    let unavailable = get(&fresh, "/v1/apps/bob/webhooks", &rotated).await;
    assert_eq!(unavailable.status, 503, "{}", unavailable.body);
    assert_eq!(unavailable.body["error"]["code"], "oauth_unavailable");
    let said = unavailable.body["error"]["message"].as_str().unwrap();
    assert!(
        !said.contains(&auth.issuer()) && !said.contains("http"),
        "an unauthenticated caller learns nothing of the JWKS URL or the fetch: {said}"
    );
}

/// ES256 and EdDSA keys verify as RS256 ones do.
async fn elliptic_curve_and_edwards_keys_verify(backend: Backend) {
    for alg in ["ES256", "EdDSA"] {
        let auth = AuthServer::start(&["bob-client"], alg).await;
        let app = gateway(backend, &auth).await;
        let bob = app
            .platform_post(
                "/v1/apps",
                json!({"id": "bob", "name": "Bob", "oauth_client_id": "bob-client"}),
            )
            .await;
        assert_eq!(bob.status, 201);
        let token = auth.token("bob-client", "webhooks:read", AUDIENCE).await;
        assert_eq!(part(&token, 0)["alg"], alg);
        let r = get(&app, "/v1/apps/bob/webhooks", &token).await;
        assert_eq!(r.status, 200, "{alg}: {}", r.body);
    }
}

on_both_backends!(
    tokens_act_for_their_app_within_their_scopes,
    elliptic_curve_and_edwards_keys_verify
);
