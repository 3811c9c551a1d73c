//! `wss://` for the operator client: rustls with the system's CA roots, or a
//! SHA-256 certificate pin (`--tls-fingerprint`, or the pin remembered for the
//! gateway). A pinned certificate replaces chain and name checks, as in
//! OpenClaw's clients (a self-signed `gateway.tls.autoGenerate` certificate has
//! no SAN), but the handshake signature is still verified, so only the holder
//! of the certificate's key passes.

use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// A SHA-256 certificate fingerprint.
pub type Fingerprint = [u8; 32];

// The fingerprint forms have one home, beside the gateway's certificate.
pub use crate::gateway::tls::{
    fingerprint_colons as format_fingerprint, fingerprint_hex, fingerprint_of,
};

/// Parses the forms OpenClaw accepts: 64 hex digits, or 32 colon-separated hex
/// pairs, either case, optionally prefixed `sha256:`.
pub fn parse_fingerprint(s: &str) -> Result<Fingerprint, String> {
    crate::gateway::tls::parse_fingerprint(s).ok_or_else(|| {
        "Invalid TLS fingerprint; expected a SHA-256 certificate fingerprint.".to_string()
    })
}

/// Which certificate the client will accept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsPolicy {
    /// `--tls-fingerprint`: the owner's word; wins over a remembered pin.
    pub explicit_pin: Option<Fingerprint>,
    /// The pin remembered after the first verified connection.
    pub stored_pin: Option<Fingerprint>,
}

/// Why a TLS handshake was refused, with what the gateway presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsRefusal {
    /// The certificate does not match `--tls-fingerprint`.
    PinMismatch {
        expected: Fingerprint,
        got: Fingerprint,
    },
    /// The certificate changed since the remembered, verified connection.
    PinChanged {
        stored: Fingerprint,
        got: Fingerprint,
    },
    /// No pin, and the system roots do not vouch for it (self-signed?).
    Untrusted { got: Fingerprint, why: String },
    /// The handshake failed otherwise (protocol, no common cipher, not TLS).
    Handshake(String),
}

impl std::fmt::Display for TlsRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsRefusal::PinMismatch { expected, got } => write!(
                f,
                "gateway tls fingerprint mismatch: expected {}, the gateway presented {}",
                format_fingerprint(expected),
                format_fingerprint(got)
            ),
            TlsRefusal::PinChanged { stored, got } => write!(
                f,
                "THE GATEWAY'S TLS CERTIFICATE CHANGED: remembered {}, now {}. Someone may be \
                 intercepting the connection, or the gateway got a new certificate. If you \
                 expected this, check the new fingerprint on the gateway host (openssl x509 -in \
                 <state>/gateway/tls/gateway-cert.pem -noout -fingerprint -sha256) and run again \
                 with --tls-fingerprint {}",
                format_fingerprint(stored),
                format_fingerprint(got),
                format_fingerprint(got)
            ),
            TlsRefusal::Untrusted { got, why } => write!(
                f,
                "gateway tls certificate not trusted ({why}); its fingerprint is {}. If that is \
                 the gateway's certificate (openssl x509 -in <state>/gateway/tls/gateway-cert.pem \
                 -noout -fingerprint -sha256 on the gateway host), pass --tls-fingerprint {}",
                format_fingerprint(got),
                format_fingerprint(got)
            ),
            TlsRefusal::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
        }
    }
}

/// The verifier: pin, else the system roots; records what it saw.
#[derive(Debug)]
pub struct Verifier {
    policy: TlsPolicy,
    roots: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    /// The leaf certificate's fingerprint of the last handshake.
    pub seen: Mutex<Option<Fingerprint>>,
    /// Why the last handshake was refused by this verifier.
    pub refusal: Mutex<Option<TlsRefusal>>,
}

fn provider() -> Arc<CryptoProvider> {
    crate::gateway::tls::provider()
}

/// The system's CA roots, read once; `None` when there are none.
fn system_roots() -> Option<Arc<WebPkiServerVerifier>> {
    static R: OnceLock<Option<Arc<WebPkiServerVerifier>>> = OnceLock::new();
    R.get_or_init(|| {
        let mut store = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for c in found.certs {
            let _ = store.add(c);
        }
        if store.is_empty() {
            return None;
        }
        WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider())
            .build()
            .ok()
    })
    .clone()
}

impl Verifier {
    pub fn new(policy: TlsPolicy) -> Verifier {
        let roots = if policy.explicit_pin.is_none() && policy.stored_pin.is_none() {
            system_roots()
        } else {
            None
        };
        Verifier {
            policy,
            roots,
            provider: provider(),
            seen: Mutex::new(None),
            refusal: Mutex::new(None),
        }
    }

    fn refuse(&self, r: TlsRefusal) -> rustls::Error {
        let text = r.to_string();
        if let Ok(mut g) = self.refusal.lock() {
            *g = Some(r);
        }
        rustls::Error::General(text)
    }

    pub fn seen(&self) -> Option<Fingerprint> {
        self.seen.lock().ok().and_then(|g| *g)
    }

    pub fn refusal(&self) -> Option<TlsRefusal> {
        self.refusal.lock().ok().and_then(|g| g.clone())
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = fingerprint_of(end_entity.as_ref());
        if let Ok(mut g) = self.seen.lock() {
            *g = Some(got);
        }
        if let Some(expected) = self.policy.explicit_pin {
            return if expected == got {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(self.refuse(TlsRefusal::PinMismatch { expected, got }))
            };
        }
        if let Some(stored) = self.policy.stored_pin {
            return if stored == got {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(self.refuse(TlsRefusal::PinChanged { stored, got }))
            };
        }
        let Some(roots) = &self.roots else {
            return Err(self.refuse(TlsRefusal::Untrusted {
                got,
                why: "no system CA certificates found".into(),
            }));
        };
        roots
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| {
                let why = match &e {
                    rustls::Error::InvalidCertificate(c) => format!("{c:?}"),
                    other => other.to_string(),
                };
                let why = if why.contains("UnknownIssuer") || why.contains("CaUsedAsEndEntity") {
                    "self-signed, or signed by an unknown CA".to_string()
                } else if why.contains("NotValidForName") {
                    "issued for another name".to_string()
                } else if why.contains("Expired") {
                    "expired".to_string()
                } else {
                    why
                };
                self.refuse(TlsRefusal::Untrusted { got, why })
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client configuration around `verifier`.
pub fn client_config(verifier: Arc<Verifier>) -> Result<rustls::ClientConfig, String> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The SNI / verification name for a host (an IP literal or a DNS name).
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string())
        .map_err(|e| format!("invalid TLS server name {host:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_forms() {
        let hex = "570bd4a6aa4b1c2d3e4f5061728394a5b6c7d8e9f00112233445566778dfca66";
        let fp = parse_fingerprint(hex).unwrap();
        assert_eq!(fingerprint_hex(&fp), hex);
        let colons = format_fingerprint(&fp);
        assert!(colons.starts_with("57:0B:D4:"));
        assert_eq!(parse_fingerprint(&colons).unwrap(), fp);
        assert_eq!(
            parse_fingerprint(&format!("SHA256:{}", hex.to_uppercase())).unwrap(),
            fp
        );
        assert_eq!(parse_fingerprint(&format!("sha256:{colons}")).unwrap(), fp);
        for bad in ["", "abc", &hex[..62], "zz".repeat(32).as_str(), "57:0B"] {
            assert!(parse_fingerprint(bad).is_err(), "{bad}");
        }
    }
}
