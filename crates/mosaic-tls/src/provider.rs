//! The rustls crypto provider: the backend's key exchange groups and bulk
//! ciphers, with ED25519 the only signature algorithm.

use std::sync::{Arc, OnceLock};

use ed25519_dalek::{Signature, VerifyingKey};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};
use rustls::{SignatureScheme, SupportedCipherSuite};

use crate::human::validate_public_key;

#[cfg(all(feature = "aws-lc-rs", feature = "ring"))]
compile_error!(
    "mosaic-tls: the features `aws-lc-rs` and `ring` are both enabled; enable exactly one \
     (with two providers rustls cannot pick one). Depend on mosaic-tls with \
     `default-features = false, features = [\"ring\"]` to use ring."
);
#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!(
    "mosaic-tls: no crypto provider; enable the feature `aws-lc-rs` (the default) or `ring`."
);

#[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
use rustls::crypto::aws_lc_rs as backend;
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
use rustls::crypto::ring as backend;

/// The crypto provider every configuration of this crate uses.
///
/// It is the backend's (aws-lc-rs by default, ring with the `ring` feature)
/// default provider, narrowed to the Mosaic policy:
/// - cipher suites: the TLS 1.3 suites, and the TLS 1.2 ECDHE suites that
///   an ed25519 certificate can authenticate (`TLS_ECDHE_ECDSA_*`, RFC 8422);
/// - key exchange groups: the backend's defaults;
/// - signature verification: ED25519 only, verified by ed25519-dalek's
///   `verify_strict` with the Mosaic key checks.
///
/// It is built once and shared; it is never installed as the process default.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let base = backend::default_provider();
            Arc::new(CryptoProvider {
                cipher_suites: base
                    .cipher_suites
                    .into_iter()
                    .filter(|suite| match suite {
                        SupportedCipherSuite::Tls13(_) => true,
                        SupportedCipherSuite::Tls12(suite) => {
                            suite.sign.contains(&SignatureScheme::ED25519)
                        }
                    })
                    .collect(),
                signature_verification_algorithms: ED25519_ONLY,
                ..base
            })
        })
        .clone()
}

/// ED25519 as the only signature verification algorithm.
pub(crate) static ED25519_ONLY: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[&DalekEd25519],
    mapping: &[(SignatureScheme::ED25519, &[&DalekEd25519])],
};

/// Pure Ed25519 (RFC 8032) verification by ed25519-dalek.
#[derive(Debug)]
struct DalekEd25519;

impl SignatureVerificationAlgorithm for DalekEd25519 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let key = public_key
            .try_into()
            .ok()
            .and_then(|bytes| validate_public_key(bytes).ok())
            .ok_or(InvalidSignature)?;
        verify_ed25519(&key, message, signature)
            .then_some(())
            .ok_or(InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        rustls::pki_types::alg_id::ED25519
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        rustls::pki_types::alg_id::ED25519
    }
}

/// Verifies a pure Ed25519 signature with `verify_strict`: rejects
/// non-canonical `s` and `R`, small-order `R` and small-order keys.
pub(crate) fn verify_ed25519(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    Signature::from_slice(signature)
        .and_then(|signature| key.verify_strict(message, &signature))
        .is_ok()
}
