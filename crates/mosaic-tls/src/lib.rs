#![doc = include_str!("../README.md")]

mod cert;
mod config;
mod error;
mod human;
mod identity;
mod peer;
mod provider;
mod sign;
mod verify;

pub use cert::CertType;
pub use config::{
    ALPN_HTTP_1_1, ClientTls, ClientTlsBuilder, ServerCertTypes, ServerTls, ServerTlsBuilder,
    TlsVersions,
};
pub use error::{ConfigError, KeyError, PeerCertError, PeerIdentityError};
pub use human::{MOPUB_PREFIX, MOSEC_PREFIX, encode_mopub, parse_mopub, validate_public_key};
pub use identity::Identity;
pub use peer::PeerIdentity;
pub use provider::crypto_provider;
pub use verify::{ClientAuth, ClientKeyVerifier, PinnedServerVerifier};

/// The crates whose types appear in this crate's API, re-exported so that
/// users get the same versions.
pub use {ed25519_dalek, rustls, zeroize};
