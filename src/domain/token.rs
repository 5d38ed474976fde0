//! Tokens that travel in public links: 256 random bits, only their hash is stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new link token and the hash to store for it.
pub fn new_link_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// The stored form of a link token.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let (a, hash_a) = new_link_token();
        let (b, _) = new_link_token();
        assert_ne!(a, b);
        assert!(a.len() >= 43, "at least 256 bits of base64url");
        assert_eq!(hash_token(&a), hash_a);
        assert_ne!(hash_a, a);
    }
}
