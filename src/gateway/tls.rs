//! TLS for the gateway (`--tls`): the certificate, its SHA-256 fingerprint in
//! OpenClaw's forms, the rustls server configuration, and a client
//! configuration that pins a fingerprint (for `clawpair join` and tests).
//!
//! Where the certificate lives is OpenClaw's own place,
//! `<state>/gateway/tls/gateway-cert.pem` and `gateway-key.pem` (0600), so a
//! certificate OpenClaw generated is reused and a node pinned to this state
//! dir's gateway keeps its pin whichever gateway runs. When neither file
//! exists, clawpair generates a self-signed ECDSA P-256 certificate there
//! (10 years, like OpenClaw's; OpenClaw uses RSA 2048 through `openssl`).
//! `--tls-cert`/`--tls-key` name other files, which are only read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::fsutil;
use crate::paths::Paths;

/// The certificate, relative to the state dir (as OpenClaw keeps it).
pub const CERT_FILE: &str = "gateway/tls/gateway-cert.pem";
/// Its private key, relative to the state dir.
pub const KEY_FILE: &str = "gateway/tls/gateway-key.pem";

/// The gateway's certificate, ready to serve.
#[derive(Clone)]
pub struct ServerTls {
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the certificate (DER).
    pub fingerprint: [u8; 32],
    pub cert_path: PathBuf,
    /// Generated just now (first use of `--tls`).
    pub generated: bool,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("fingerprint", &fingerprint_hex(&self.fingerprint))
            .field("cert_path", &self.cert_path)
            .field("generated", &self.generated)
            .finish()
    }
}

/// The crypto provider every TLS configuration uses (ring), made once.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static P: std::sync::OnceLock<Arc<rustls::crypto::CryptoProvider>> = std::sync::OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// 64 lower-case hex digits: how OpenClaw stores and compares a pin, and the
/// form of `tlsFingerprint` in a setup code.
pub fn fingerprint_hex(fp: &[u8; 32]) -> String {
    fp.iter().map(|b| format!("{b:02x}")).collect()
}

/// `57:0B:D4:…` (upper-case colon pairs), as `openssl x509 -fingerprint
/// -sha256` prints it; OpenClaw accepts this form too.
pub fn fingerprint_colons(fp: &[u8; 32]) -> String {
    fp.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Reads a pin in any form OpenClaw accepts: 64 hex digits or 32
/// colon-separated hex pairs, any case, optionally prefixed `sha256:`.
pub fn parse_fingerprint(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    let s = if s.len() >= 7 && s[..7].eq_ignore_ascii_case("sha256:") {
        &s[7..]
    } else {
        s
    };
    let hex: String = if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 32 || parts.iter().any(|p| p.len() != 2) {
            return None;
        }
        parts.concat()
    } else {
        s.to_string()
    };
    if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// SHA-256 of a DER certificate.
pub fn fingerprint_of(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// Where the certificate and key are: `--tls-cert`/`--tls-key`, else the
/// state dir's (generated when missing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSource {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

fn read_pem(path: &Path) -> Result<Vec<u8>, String> {
    match fsutil::read_capped(path, 1024 * 1024) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(format!("{}: no such file", path.display())),
        Err(e) => Err(e.to_string()),
    }
}

/// A year for the certificate's validity, from the clock (UTC, approximate).
fn this_year() -> i32 {
    let ms = crate::clock::now_ms().max(0);
    1970 + (ms / 31_556_952_000) as i32
}

/// Generates a self-signed certificate and key (PEM).
pub fn generate_self_signed() -> Result<(String, String), String> {
    let mut params = rcgen::CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .map_err(|e| e.to_string())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "clawpair-gateway");
    let y = this_year();
    params.not_before = rcgen::date_time_ymd(y - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(y + 10, 1, 1);
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Loads the certificate (generating the state dir's on first use) and
/// builds the server configuration (TLS 1.2 and 1.3, no client certificates).
pub fn load_or_generate(paths: &Paths, src: &TlsSource) -> Result<ServerTls, String> {
    let (cert_path, key_path, generated) = match (&src.cert, &src.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone(), false),
        (Some(_), None) | (None, Some(_)) => {
            return Err("--tls-cert and --tls-key go together".into())
        }
        (None, None) => {
            let c = paths.state_dir.join(CERT_FILE);
            let k = paths.state_dir.join(KEY_FILE);
            let generated = match (fsutil::read_optional(&c), fsutil::read_optional(&k)) {
                (Ok(Some(_)), Ok(Some(_))) => false,
                (Ok(None), Ok(None)) => {
                    let (cert_pem, key_pem) = generate_self_signed()?;
                    // The key first: a crash in between leaves no certificate
                    // without its key.
                    fsutil::write_atomic(&k, key_pem.as_bytes()).map_err(|e| e.to_string())?;
                    fsutil::write_atomic(&c, cert_pem.as_bytes()).map_err(|e| e.to_string())?;
                    true
                }
                (Err(e), _) | (_, Err(e)) => return Err(e.to_string()),
                _ => {
                    return Err(format!(
                        "{} and {} must both exist (or neither, to generate them)",
                        c.display(),
                        k.display()
                    ))
                }
            };
            (c, k, generated)
        }
    };
    let cert_pem = read_pem(&cert_path)?;
    let key_pem = read_pem(&key_path)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    let Some(first) = chain.first() else {
        return Err(format!("{}: no certificate", cert_path.display()));
    };
    let fingerprint = fingerprint_of(first.as_ref());
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("{}: {e}", key_path.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    Ok(ServerTls {
        config: Arc::new(config),
        fingerprint,
        cert_path,
        generated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_forms_openclaw_accepts() {
        let fp: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let hex = fingerprint_hex(&fp);
        assert_eq!(hex.len(), 64);
        assert_eq!(parse_fingerprint(&hex), Some(fp));
        assert_eq!(parse_fingerprint(&hex.to_uppercase()), Some(fp));
        assert_eq!(parse_fingerprint(&format!("sha256:{hex}")), Some(fp));
        assert_eq!(parse_fingerprint(&format!("SHA256:{hex}")), Some(fp));
        let colons = fingerprint_colons(&fp);
        assert_eq!(colons.len(), 95);
        assert_eq!(parse_fingerprint(&colons), Some(fp));
        assert_eq!(parse_fingerprint(&colons.to_lowercase()), Some(fp));
        assert_eq!(parse_fingerprint(&format!("sha256:{colons}")), Some(fp));
        assert_eq!(parse_fingerprint(&hex[..62]), None);
        assert_eq!(parse_fingerprint("zz"), None);
        assert_eq!(
            parse_fingerprint(&format!("{}:{}", &hex[..2], &hex[2..])),
            None
        );
    }

    #[test]
    fn generated_certificate_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::resolve(Some(dir.path()));
        let a = load_or_generate(&paths, &TlsSource::default()).unwrap();
        assert!(a.generated);
        for f in [CERT_FILE, KEY_FILE] {
            assert_eq!(fsutil::mode_of(&dir.path().join(f)), Some(0o600), "{f}");
        }
        let b = load_or_generate(&paths, &TlsSource::default()).unwrap();
        assert!(!b.generated);
        assert_eq!(a.fingerprint, b.fingerprint);
        let only_cert = TlsSource {
            cert: Some(a.cert_path.clone()),
            key: None,
        };
        assert!(load_or_generate(&paths, &only_cert).is_err());
    }
}
