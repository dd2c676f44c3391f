//! Keys, tokens and their hashes: what the platform, partners, portal links and sessions
//! present, and how they are stored (SHA-256, hex).

use rand::distributions::{Alphanumeric, DistString};
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
