//! Device identity cryptography (spec gateway-protocol §3.4, node-pairing §5–§6):
//! the `v3`/`v2` signature payloads, Ed25519 key and signature decoding in
//! every form the real gateway accepts, device ids, the token generator and the
//! hash-then-constant-time comparison used for every secret.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (the raw key follows).
pub const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of an Ed25519 PKCS#8 v1 private key as Node writes it (the seed follows).
pub const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The fields a device signs, as they appear in `connect`.
#[derive(Debug, Clone, Copy)]
pub struct SignedFields<'a> {
    pub device_id: &'a str,
    pub client_id: &'a str,
    pub client_mode: &'a str,
    /// The role after defaulting (`operator` when omitted).
    pub role: &'a str,
    pub scopes: &'a [String],
    pub signed_at: i64,
    /// `auth.token`, else `auth.deviceToken`, else empty.
    pub token: &'a str,
    pub nonce: &'a str,
    pub platform: Option<&'a str>,
    pub device_family: Option<&'a str>,
}

pub use crate::devices::state::norm_meta;
pub use crate::secret::{new_token, secrets_equal};

/// `v3|id|client|mode|role|scopes|signedAt|token|nonce|platform|family`.
pub fn payload_v3(f: &SignedFields<'_>) -> String {
    format!(
        "v3|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        f.device_id,
        f.client_id,
        f.client_mode,
        f.role,
        f.scopes.join(","),
        f.signed_at,
        f.token,
        f.nonce,
        norm_meta(f.platform),
        norm_meta(f.device_family)
    )
}

/// The legacy form: the `v3` fields without platform and family, prefix `v2`.
pub fn payload_v2(f: &SignedFields<'_>) -> String {
    format!(
        "v2|{}|{}|{}|{}|{}|{}|{}|{}",
        f.device_id,
        f.client_id,
        f.client_mode,
        f.role,
        f.scopes.join(","),
        f.signed_at,
        f.token,
        f.nonce
    )
}

fn b64_any(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    for e in [&URL_SAFE_NO_PAD, &URL_SAFE, &STANDARD, &STANDARD_NO_PAD] {
        if let Ok(v) = e.decode(s) {
            return Some(v);
        }
    }
    None
}

/// Decodes a public key sent as raw base64url/base64 or as an SPKI PEM.
pub fn decode_public_key(s: &str) -> Option<[u8; 32]> {
    if s.len() > 4096 {
        return None;
    }
    let bytes = if s.contains("BEGIN") {
        let der = pem_body(s)?;
        if der.len() == 44 && der[..12] == SPKI_PREFIX {
            der[12..].to_vec()
        } else {
            return None;
        }
    } else {
        b64_any(s)?
    };
    bytes.try_into().ok()
}

/// base64url without padding, the wire and file form of keys, tokens and signatures.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a base64url (or standard base64) value.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    b64_any(s)
}

/// Lowercase hex SHA-256 of the raw key.
pub fn device_id_for(raw: &[u8; 32]) -> String {
    crate::devices::model::device_id_from_public_key(raw)
}

/// Verifies an Ed25519 signature (base64url or base64, 64 bytes) over `msg`.
pub fn verify(raw_key: &[u8; 32], msg: &str, signature: &str) -> bool {
    if signature.len() > 256 {
        return false;
    }
    let Some(sig) = b64_any(signature) else {
        return false;
    };
    let Ok(sig): Result<[u8; 64], _> = sig.try_into() else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(raw_key) else {
        return false;
    };
    key.verify(msg.as_bytes(), &Signature::from_bytes(&sig))
        .is_ok()
}

/// Which payload form a signature verified against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigVersion {
    V3,
    V2,
}

/// Tries `v3`, then legacy `v2`.
pub fn verify_device(
    raw_key: &[u8; 32],
    f: &SignedFields<'_>,
    signature: &str,
) -> Option<SigVersion> {
    if verify(raw_key, &payload_v3(f), signature) {
        Some(SigVersion::V3)
    } else if verify(raw_key, &payload_v2(f), signature) {
        Some(SigVersion::V2)
    } else {
        None
    }
}

/// Signs `msg`, returning base64url without padding.
pub fn sign(key: &SigningKey, msg: &str) -> String {
    b64url(&key.sign(msg.as_bytes()).to_bytes())
}

/// Lowercase hex SHA-256 of a secret (how setup tokens are stored).
pub fn sha256_hex(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    let mut out = String::with_capacity(64);
    for b in d {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    STANDARD.decode(body).ok()
}

fn pem_wrap(label: &str, der: &[u8]) -> String {
    let b = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// SPKI PEM of a raw public key, exactly as Node's `export({type:"spki",format:"pem"})`.
pub fn public_key_pem(raw: &[u8; 32]) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(raw);
    pem_wrap("PUBLIC KEY", &der)
}

/// PKCS#8 PEM of a private key, exactly as Node's `export({type:"pkcs8",format:"pem"})`.
pub fn private_key_pem(key: &SigningKey) -> String {
    let mut der = PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&key.to_bytes());
    pem_wrap("PRIVATE KEY", &der)
}

/// Reads a PKCS#8 Ed25519 private key PEM (v1 as Node writes it, or v2).
pub fn signing_key_from_pem(pem: &str) -> Option<SigningKey> {
    let der = pem_body(pem)?;
    if der.len() == 48 && der[..16] == PKCS8_PREFIX {
        let seed: [u8; 32] = der[16..].try_into().ok()?;
        return Some(SigningKey::from_bytes(&seed));
    }
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    SigningKey::from_pkcs8_der(&der).ok()
}

/// A fresh key from the OS CSPRNG.
pub fn generate_signing_key() -> SigningKey {
    let seed: [u8; 32] = rand::random();
    SigningKey::from_bytes(&seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_matches_node() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIElDQVmzhZHQqhBSIJYE+OpN6/BWzB5dRX3ajo4//oet\n-----END PRIVATE KEY-----\n";
        let k = signing_key_from_pem(pem).unwrap();
        assert_eq!(private_key_pem(&k), pem);
        let raw = k.verifying_key().to_bytes();
        assert_eq!(
            public_key_pem(&raw),
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAcP7FaQv3sOjAxa/Vq+U4c6+4P7Fm/gpDA8452quCF20=\n-----END PUBLIC KEY-----\n"
        );
        assert_eq!(b64url(&raw), "cP7FaQv3sOjAxa_Vq-U4c6-4P7Fm_gpDA8452quCF20");
        assert_eq!(decode_public_key(&public_key_pem(&raw)), Some(raw));
        assert_eq!(
            decode_public_key("cP7FaQv3sOjAxa/Vq+U4c6+4P7Fm/gpDA8452quCF20="),
            Some(raw)
        );
        assert_eq!(decode_public_key("short"), None);
    }

    #[test]
    fn tokens_and_compare() {
        let t = new_token();
        assert_eq!(t.len(), 43);
        assert!(secrets_equal(&t, &t.clone()));
        assert!(!secrets_equal(&t, "x"));
    }
}
