//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256(key, id.ts.body)>`
//! with the key carried as `whsec_<base64>`, so receivers can verify with the public
//! `standardwebhooks` / `svix` libraries.

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use crate::domain::secrets::{
    generate_secret, secret_key, InvalidSecret, SECRET_BYTES, SECRET_PREFIX,
};

/// One `v1,…` signature of `{msg_id}.{timestamp}.{body}`.
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header value: one signature per key, space separated, so a
/// receiver holding either the old or the new secret verifies during a rotation.
pub fn signature_header<'a>(
    keys: impl IntoIterator<Item = &'a [u8]>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    keys.into_iter()
        .map(|key| sign(key, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn std_headers(id: &str, ts: i64, sig: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("webhook-id", id.parse().unwrap());
        h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
        h.insert("webhook-signature", sig.parse().unwrap());
        h
    }

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // The example from the Standard Webhooks specification.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn generated_secrets_parse() {
        let s = generate_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(secret_key(&s).unwrap().len(), SECRET_BYTES);
        assert_eq!(secret_key("whsec_!!"), Err(InvalidSecret));
        assert_eq!(secret_key("nope"), Err(InvalidSecret));
    }

    proptest! {
        #[test]
        fn verifies_with_the_public_standardwebhooks_library(
            body in any::<String>().prop_map(String::into_bytes),
            id in "[a-zA-Z0-9_-]{1,40}",
        ) {
            // Bodies are JSON, so UTF-8: the library refuses anything else.
            let secret = generate_secret();
            let key = secret_key(&secret).unwrap();
            let ts = chrono::Utc::now().timestamp();
            let header = sign(&key, &id, ts, &body);
            let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
            prop_assert!(verifier.verify(&body, &std_headers(&id, ts, &header)).is_ok());
            // Any change to the body breaks it.
            let mut tampered = body.clone();
            tampered.push(b'x');
            prop_assert!(verifier.verify(&tampered, &std_headers(&id, ts, &header)).is_err());
        }

        #[test]
        fn either_secret_verifies_during_rotation(body in any::<String>().prop_map(String::into_bytes)) {
            let (old, new) = (generate_secret(), generate_secret());
            let keys = [secret_key(&old).unwrap(), secret_key(&new).unwrap()];
            let ts = chrono::Utc::now().timestamp();
            let header = signature_header(keys.iter().map(Vec::as_slice), "msg_1", ts, &body);
            for secret in [&old, &new] {
                let verifier = standardwebhooks::Webhook::new(secret).unwrap();
                prop_assert!(verifier.verify(&body, &std_headers("msg_1", ts, &header)).is_ok());
            }
        }
    }
}
