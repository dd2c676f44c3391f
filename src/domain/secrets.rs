//! Keys, tokens and their hashes: what the platform, partners, portal links and sessions
//! present, and how they are stored (SHA-256, hex).

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const PARTNER_KEY_PREFIX: &str = "hg_app_";

/// How a key or token is stored and looked up.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether two hashes are equal, in constant time (a key check must not leak how many
/// characters matched).
pub fn same_hash(a: &str, b: &str) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()))
}

/// A fresh random token: what a link, a session cookie or a CSRF field carries.
pub fn generate_token() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 43)
}

/// A fresh partner key, its hash, and the prefix kept to recognise it.
pub fn generate_partner_key() -> (String, String, String) {
    let key = format!(
        "{PARTNER_KEY_PREFIX}{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
    );
    let prefix: String = key.chars().take(PARTNER_KEY_PREFIX.len() + 4).collect();
    (hash_key(&key), prefix, key)
}

/// A webhook's signing secret: `whsec_` and the base64 of its HMAC key (Standard
/// Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";
pub const SECRET_BYTES: usize = 24;
/// The longest secret key a partner may choose.
pub const MAX_SECRET_BYTES: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a webhook secret must be \"whsec_\" followed by base64 of 24 to 64 bytes")]
pub struct InvalidSecret;

/// A fresh random secret in its `whsec_…` form.
pub fn generate_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", B64.encode(key))
}

/// The HMAC key behind a `whsec_…` secret.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, InvalidSecret> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).ok_or(InvalidSecret)?;
    let key = B64.decode(encoded).map_err(|_| InvalidSecret)?;
    if (SECRET_BYTES..=MAX_SECRET_BYTES).contains(&key.len()) {
        Ok(key)
    } else {
        Err(InvalidSecret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_keys_hash_to_what_is_stored_and_keep_their_prefix() {
        let (hash, prefix, key) = generate_partner_key();
        assert_eq!(hash, hash_key(&key));
        assert!(key.starts_with(&prefix) && prefix.starts_with(PARTNER_KEY_PREFIX));
        assert!(same_hash(&hash, &hash_key(&key)));
        assert!(!same_hash(&hash, &hash_key("another")));
        assert_ne!(generate_token(), generate_token());
    }
}
