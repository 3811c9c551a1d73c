//! Secrets: the one generator of tokens and the one way to compare them.
//! Below the stores and the gateway, so both use the same two functions.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh secret token: 32 bytes from the OS CSPRNG, base64url without
/// padding (43 characters), as OpenClaw makes its tokens.
pub fn new_token() -> String {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    if rand::rngs::OsRng.try_fill_bytes(&mut bytes).is_err() {
        // The thread RNG is a CSPRNG seeded from the OS; only reached if the
        // direct OS call failed transiently.
        use rand::RngCore;
        rand::rng().fill_bytes(&mut bytes);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Constant-time comparison of two secrets: both sides are hashed with
/// SHA-256 and the digests compared with `subtle`, so neither content nor
/// length leaks.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    let da = Sha256::digest(a.as_bytes());
    let db = Sha256::digest(b.as_bytes());
    bool::from(da.as_slice().ct_eq(db.as_slice()))
}

/// Constant-time comparison of two SHA-256 digests of secrets (what a
/// gateway session keeps of its device token).
pub fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_char_base64url_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert!(!secrets_equal(&a, &b));
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&a)
            .unwrap();
        assert_eq!(raw.len(), 32);
    }

    #[test]
    fn comparison() {
        assert!(secrets_equal("abc", "abc"));
        assert!(secrets_equal("", ""));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
        assert!(!secrets_equal("", "a"));
    }
}
