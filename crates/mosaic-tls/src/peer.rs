//! Who the peer is, after the handshake.

use std::fmt;

use ed25519_dalek::VerifyingKey;
use rustls::CommonState;
use rustls::pki_types::CertificateDer;

use crate::cert::checked_peer_key;
use crate::error::{PeerCertError, PeerIdentityError};
use crate::human::encode_mopub;

/// Who the peer proved to be in the handshake.
///
/// For a client, the server is always `Authenticated` with the pinned key.
/// For a server, a client is `Anonymous` when it sent no certificate, or
/// `Authenticated` with the key of its certificate: the client's signing key
/// (a subkey of the user, per spec/identity.md; tying it to the user's
/// master key through their key schedule is the application's job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerIdentity {
    /// The peer sent no certificate.
    Anonymous,
    /// The peer holds this key: it sent a certificate carrying it and signed
    /// the handshake with it.
    Authenticated(VerifyingKey),
}

impl PeerIdentity {
    /// The peer identity of a connection whose handshake is complete, on
    /// either side (`ClientConnection` and `ServerConnection` dereference to
    /// [`CommonState`]).
    ///
    /// The certificate was checked by this crate's verifiers during the
    /// handshake; its key is read again here (X.509 or raw public key, told
    /// apart by form), and checked again, but its self-signature is not.
    pub fn from_connection(connection: &CommonState) -> Result<Self, PeerIdentityError> {
        if connection.is_handshaking() {
            return Err(PeerIdentityError::HandshakeIncomplete);
        }
        Ok(Self::from_certificates(connection.peer_certificates())?)
    }

    /// The peer identity of the certificates rustls reports
    /// (`peer_certificates()`): none is anonymous, one is the key it
    /// carries, more is an error (Mosaic certificates stand alone).
    ///
    /// Only for certificates a verifier of this crate accepted during the
    /// handshake: it reads the key but does not check the self-signature, nor
    /// that the peer holds the key (the handshake signature did that).
    pub fn from_certificates(
        certificates: Option<&[CertificateDer<'_>]>,
    ) -> Result<Self, PeerCertError> {
        match certificates.unwrap_or_default() {
            [] => Ok(Self::Anonymous),
            [certificate] => Ok(Self::Authenticated(checked_peer_key(certificate)?)),
            many => Err(PeerCertError::ChainNotAllowed { count: many.len() }),
        }
    }

    /// The peer's key, if it is authenticated.
    pub fn key(&self) -> Option<&VerifyingKey> {
        match self {
            Self::Anonymous => None,
            Self::Authenticated(key) => Some(key),
        }
    }
}

/// `anonymous`, or the key as a `mopub0` string.
impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("anonymous"),
            Self::Authenticated(key) => f.write_str(&encode_mopub(key)),
        }
    }
}
