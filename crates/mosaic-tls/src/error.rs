//! Errors, sorted by who is to blame: [`ConfigError`] for what the local
//! caller gave us, [`PeerCertError`] for what the peer's certificate got wrong,
//! and [`KeyError`] for why 32 bytes are not an acceptable public key (used by both).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::SignatureScheme;

use crate::human::mopub_of_bytes;

/// Why 32 bytes are not an acceptable Mosaic ed25519 public key
/// (spec/cryptography.md: valid, canonical, not one of the 8 small-order points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes do not decode to a point on the ed25519 curve.
    #[error("the 32 bytes are not an ed25519 point")]
    NotOnCurve,
    /// The bytes decode to a point, but are not its canonical encoding.
    #[error("the 32 bytes are a non-canonical encoding of an ed25519 point")]
    NonCanonical,
    /// The point is one of the 8 small-order ("weak") points, which anyone can sign for.
    #[error("the key is one of the 8 small-order (weak) ed25519 points")]
    SmallOrder,
}

/// A local error: a key file, a key string, an option or a call this crate
/// cannot use. The caller (or the local machine) is to blame, never the peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Reading or writing a key file failed.
    #[error("cannot {action} key file {}: {source}", path.display())]
    KeyFile {
        /// `"read"` or `"write"`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The text is not an unencrypted ed25519 PKCS#8 private key in PEM.
    #[error(
        "not an unencrypted ed25519 PKCS#8 private key (PEM \"-----BEGIN PRIVATE KEY-----\"): {0}"
    )]
    Pkcs8(String),
    /// A human-encoded key does not start with the expected prefix.
    #[error("expected a key string starting with {expected:?}")]
    WrongPrefix {
        /// `"mopub0"` or `"mosec0"`.
        expected: &'static str,
    },
    /// A human-encoded key has a character outside the zbase32 alphabet.
    #[error(
        "{} at position {position} is not zbase32 (ybndrfg8ejkmcpqxot1uwisza345h769)",
        match character { Some(c) => format!("character {c:?}"), None => "a character".to_owned() }
    )]
    BadCharacter {
        /// Byte offset in the whole string, prefix included.
        position: usize,
        /// The offending character; `None` in a secret key (`mosec0`), so that
        /// a mistyped secret does not end up in logs.
        character: Option<char>,
    },
    /// A human-encoded key has the wrong length or non-zero padding bits.
    #[error(
        "a {prefix} key string has {expected} zbase32 characters after the prefix, with zero padding bits; this one has {found}"
    )]
    BadLength {
        /// `"mopub0"` or `"mosec0"`.
        prefix: &'static str,
        /// Always 52.
        expected: usize,
        /// How many characters came after the prefix.
        found: usize,
    },
    /// A human-encoded key has the right length but non-zero padding bits.
    #[error("the last character of the {prefix} key string has non-zero padding bits")]
    NonZeroPadding {
        /// `"mopub0"` or `"mosec0"`.
        prefix: &'static str,
    },
    /// A public key (pinned, or given as a string) is not acceptable.
    #[error("invalid public key: {0}")]
    InvalidPublicKey(#[from] KeyError),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// Making the self-signed certificate failed.
    #[error("cannot make the self-signed certificate: {0}")]
    Certificate(String),
    /// rustls refused the configuration.
    #[error("rustls refused the configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// What a peer's certificate (or its handshake signature) got wrong.
///
/// A handshake that fails for one of these reasons surfaces as
/// `rustls::Error::InvalidCertificate(CertificateError::Other(..))` holding
/// this value; [`PeerCertError::from_rustls`] gets it back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerCertError {
    /// The bytes are not a DER X.509 certificate.
    #[error("peer certificate is not a DER X.509 certificate: {0}")]
    Malformed(String),
    /// The bytes are not a DER SubjectPublicKeyInfo (RFC 7250 raw public key).
    #[error("peer raw public key is not a DER SubjectPublicKeyInfo")]
    MalformedRawPublicKey,
    /// The certificate carries a key of another algorithm (RSA, ECDSA, ...).
    #[error(
        "peer certificate carries a {algorithm} key; Mosaic accepts only ed25519 (OID 1.3.101.112)"
    )]
    NotEd25519 {
        /// A name for the algorithm found (or its dotted OID when unknown).
        algorithm: String,
    },
    /// The ed25519 key is not acceptable (weak, non-canonical, not a point).
    #[error("peer certificate carries an unacceptable ed25519 key: {0}")]
    InvalidKey(KeyError),
    /// The X.509 certificate is signed with another algorithm than ed25519.
    #[error(
        "peer certificate is signed with {algorithm}; Mosaic accepts only ed25519 self-signatures"
    )]
    SignatureNotEd25519 {
        /// A name for the algorithm found (or its dotted OID when unknown).
        algorithm: String,
    },
    /// The X.509 self-signature does not verify with the certificate's own key.
    #[error("peer certificate's self-signature does not verify with its own ed25519 key")]
    BadSelfSignature,
    /// The peer sent more than one certificate.
    #[error("peer sent {count} certificates; a Mosaic certificate is self-signed and stands alone")]
    ChainNotAllowed {
        /// How many certificates came in all.
        count: usize,
    },
    /// The server's key is not the pinned one.
    #[error(
        "server presented key {} but {} is pinned",
        mopub_of_bytes(presented),
        mopub_of_bytes(pinned)
    )]
    WrongKey {
        /// The key in the server's certificate.
        presented: [u8; 32],
        /// The key the client pinned.
        pinned: [u8; 32],
    },
    /// The peer signed the handshake with another scheme than ED25519.
    #[error("peer signed the handshake with {0:?}; Mosaic accepts only ED25519")]
    UnsupportedSignatureScheme(SignatureScheme),
    /// A raw public key reached a TLS 1.2 handshake (possible only in a
    /// configuration built outside this crate).
    #[error("peer presented a raw public key over TLS 1.2; raw public keys are TLS 1.3 only")]
    RawPublicKeyOverTls12,
    /// The handshake signature does not verify with the certificate's key:
    /// the peer does not hold the key it presented.
    #[error("peer's handshake signature does not verify with the key in its certificate")]
    BadHandshakeSignature,
}

impl PeerCertError {
    /// The `PeerCertError` inside a rustls error, when the handshake failed
    /// because of one (on the side that checked the certificate).
    pub fn from_rustls(error: &rustls::Error) -> Option<&PeerCertError> {
        match error {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
                other.0.downcast_ref::<PeerCertError>()
            }
            _ => None,
        }
    }
}

impl From<PeerCertError> for rustls::Error {
    fn from(error: PeerCertError) -> Self {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
            Arc::new(error),
        )))
    }
}

/// Why [`PeerIdentity::from_connection`](crate::PeerIdentity::from_connection)
/// could not tell who the peer is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerIdentityError {
    /// The handshake is not complete yet (a usage error).
    #[error("the TLS handshake is not complete yet")]
    HandshakeIncomplete,
    /// The peer's certificate is not a Mosaic certificate: only possible on a
    /// connection whose configuration did not come from this crate.
    #[error(transparent)]
    Certificate(#[from] PeerCertError),
}
