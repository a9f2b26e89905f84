//! The certificate verifiers: a client's (pinning the server's key) and a
//! server's (any valid ed25519 key authenticates as itself).

use ed25519_dalek::VerifyingKey;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::cert::{CertType, check_peer_certificate, checked_peer_key};
use crate::error::{KeyError, PeerCertError};
use crate::human::validate_public_key;
use crate::provider::verify_ed25519;

/// How a server treats client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Never ask for a client certificate: every client is anonymous.
    None,
    /// Ask for a certificate; a client that sends none is anonymous, one that
    /// sends an invalid one fails the handshake. The default.
    #[default]
    Optional,
    /// Ask for a certificate and fail the handshake without a valid one.
    Required,
}

/// Raw public keys are TLS 1.3 only, even in a configuration built outside
/// this crate that would let rustls carry them over TLS 1.2.
fn tls12_allows(cert_type: CertType) -> Result<(), rustls::Error> {
    match cert_type {
        CertType::RawPublicKey => Err(PeerCertError::RawPublicKeyOverTls12.into()),
        CertType::X509 => Ok(()),
    }
}

/// Checks a handshake signature (TLS 1.2 ServerKeyExchange or
/// CertificateVerify, TLS 1.3 CertificateVerify) against the key of a
/// certificate a verifier already accepted: rustls calls `verify_server_cert`
/// or `verify_client_cert` on the same certificate first, in every version
/// and on both sides, and fails the handshake if it fails.
fn verify_handshake_signature(
    message: &[u8],
    certificate: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    if dss.scheme != SignatureScheme::ED25519 {
        return Err(PeerCertError::UnsupportedSignatureScheme(dss.scheme).into());
    }
    // Read the way the verifier's full parse reads it (see checked_peer_key).
    let key = checked_peer_key(certificate)?;
    if verify_ed25519(&key, message, dss.signature()) {
        Ok(HandshakeSignatureValid::assertion())
    } else {
        Err(PeerCertError::BadHandshakeSignature.into())
    }
}

/// A client's verifier of the server certificate: the certificate must pass
/// every check of this crate (ed25519 key, valid and not weak, valid
/// self-signature for X.509, no chain) and carry exactly the pinned key.
/// Names, dates and certificate authorities play no part: the pinned key is
/// the trust. Handshake signatures: ED25519 only, by that key.
#[derive(Debug, Clone)]
pub struct PinnedServerVerifier {
    pinned: VerifyingKey,
    cert_type: CertType,
}

impl PinnedServerVerifier {
    /// A verifier that accepts only `pinned`, in a certificate of `cert_type`
    /// (with [`CertType::RawPublicKey`] the client asks for a raw public key,
    /// which only TLS 1.3 can carry). Fails when `pinned` is not an
    /// acceptable key.
    pub fn new(pinned: VerifyingKey, cert_type: CertType) -> Result<Self, KeyError> {
        let pinned = validate_public_key(pinned.as_bytes())?;
        Ok(Self { pinned, cert_type })
    }

    /// The pinned key.
    pub fn pinned(&self) -> &VerifyingKey {
        &self.pinned
    }
}

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = check_peer_certificate(end_entity, intermediates, self.cert_type)?;
        if presented != self.pinned {
            return Err(PeerCertError::WrongKey {
                presented: presented.to_bytes(),
                pinned: self.pinned.to_bytes(),
            }
            .into());
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_allows(self.cert_type)?;
        verify_handshake_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_handshake_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.cert_type == CertType::RawPublicKey
    }
}

/// A server's verifier of client certificates: no pinning (any acceptable
/// ed25519 key authenticates as itself), the same certificate checks as
/// [`PinnedServerVerifier`], no certificate authority hints.
#[derive(Debug, Clone)]
pub struct ClientKeyVerifier {
    mode: ClientAuth,
    cert_type: CertType,
}

impl ClientKeyVerifier {
    /// A verifier for client certificates of `cert_type`, under `mode`.
    ///
    /// rustls ties the negotiation of the client certificate type to the
    /// verifier: with [`CertType::RawPublicKey`] it accepts only clients that
    /// offer raw public keys, with [`CertType::X509`] only clients that do
    /// not. [`ServerTls::config_for`](crate::ServerTls::config_for) picks the
    /// right one per ClientHello. Even under [`ClientAuth::None`] the
    /// type matters: a rustls client with a raw public key identity fails the
    /// handshake unless the server echoes that type.
    pub fn new(mode: ClientAuth, cert_type: CertType) -> Self {
        Self { mode, cert_type }
    }
}

impl ClientCertVerifier for ClientKeyVerifier {
    fn offer_client_auth(&self) -> bool {
        self.mode != ClientAuth::None
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mode == ClientAuth::Required
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self.mode == ClientAuth::None {
            // rustls does not ask for a certificate in this mode, so none
            // should reach here.
            return Err(rustls::Error::General(
                "client certificate received though none was requested".into(),
            ));
        }
        check_peer_certificate(end_entity, intermediates, self.cert_type)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_allows(self.cert_type)?;
        verify_handshake_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_handshake_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.cert_type == CertType::RawPublicKey
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both verifiers call this first in `verify_tls12_signature`.
    #[test]
    fn raw_public_keys_are_refused_in_tls_1_2_signatures() {
        let refused = tls12_allows(CertType::RawPublicKey).expect_err("TLS 1.3 only");
        assert!(matches!(
            PeerCertError::from_rustls(&refused),
            Some(PeerCertError::RawPublicKeyOverTls12)
        ));
        assert!(tls12_allows(CertType::X509).is_ok());
    }
}
