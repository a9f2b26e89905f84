//! Why a connection could not be set up, by side.

use std::io;
use std::time::Duration;

use http::StatusCode;
use mosaic_handshake::{ClientHandshakeError, MosaicUrlError};
use mosaic_tls::{PeerCertError, PeerIdentityError};

/// Why connecting to a server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a Mosaic WebSocket URL.
    #[error("invalid Mosaic URL: {0}")]
    Url(#[from] MosaicUrlError),
    /// The host is not usable as a TLS server name (not a valid DNS name).
    /// A name that does not resolve fails the TCP connection instead:
    /// [`ConnectError::Connect`].
    #[error("invalid server name {host}: {source}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// No TCP connection could be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address tried last.
        addr: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed; [`ConnectError::peer_cert_error`] tells when the
    /// server's certificate was refused (wrong key, not ed25519, bad signature).
    #[error("TLS handshake failed: {}", tls_message(.0))]
    Tls(#[source] io::Error),
    /// The WebSocket upgrade failed below the Mosaic rules.
    #[error("WebSocket upgrade failed: {0}")]
    Upgrade(#[source] tungstenite::Error),
    /// The server answered the upgrade with an HTTP error.
    #[error("the server refused the upgrade with {status}: {reason}")]
    Rejected {
        /// The HTTP status.
        status: StatusCode,
        /// The response body, cut to one line.
        reason: String,
    },
    /// The server's upgrade response breaks the Mosaic header rules.
    #[error("the server's upgrade response breaks the Mosaic rules: {0}")]
    Handshake(#[from] ClientHandshakeError),
    /// The server's certificate could not be read after the handshake.
    #[error("cannot read the server's identity: {0}")]
    PeerIdentity(#[from] PeerIdentityError),
    /// Connect, TLS and upgrade did not finish in time.
    #[error("the handshake did not finish within {0:?}")]
    Timeout(Duration),
}

impl ConnectError {
    /// The certificate error, when the server's certificate was refused.
    pub fn peer_cert_error(&self) -> Option<&PeerCertError> {
        match self {
            ConnectError::Tls(io) => tls_cause(io),
            _ => None,
        }
    }
}

/// Why an incoming connection was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcceptError {
    /// The TLS handshake failed (for instance a client certificate refused).
    #[error("TLS handshake failed: {}", tls_message(.0))]
    Tls(#[source] io::Error),
    /// The WebSocket upgrade failed below the Mosaic rules.
    #[error("WebSocket upgrade failed: {0}")]
    Upgrade(#[source] tungstenite::Error),
    /// The upgrade was refused, by the Mosaic header rules or as no valid
    /// WebSocket upgrade request ([`Refusal`](crate::Refusal)); the client
    /// got `status` and `reason`.
    #[error("upgrade refused with {status}: {reason}")]
    Rejected {
        /// The HTTP status sent.
        status: StatusCode,
        /// The one-line reason sent.
        reason: String,
    },
    /// The client's certificate could not be read after the handshake.
    #[error("cannot read the client's identity: {0}")]
    PeerIdentity(#[from] PeerIdentityError),
    /// TLS and upgrade did not finish in time.
    #[error("the handshake did not finish within {0:?}")]
    Timeout(Duration),
}

impl AcceptError {
    /// The certificate error, when the client's certificate was refused.
    pub fn peer_cert_error(&self) -> Option<&PeerCertError> {
        match self {
            AcceptError::Tls(io) => tls_cause(io),
            _ => None,
        }
    }
}

/// A TLS failure in words: the certificate error's own message when the peer's
/// certificate was refused (rustls would print its debug form).
fn tls_message(io: &io::Error) -> String {
    match tls_cause(io) {
        Some(cert) => cert.to_string(),
        None => io.to_string(),
    }
}

/// The rustls error inside an I/O error from a TLS stream, as a certificate error.
fn tls_cause(io: &io::Error) -> Option<&PeerCertError> {
    let rustls = io.get_ref()?.downcast_ref::<mosaic_tls::rustls::Error>()?;
    PeerCertError::from_rustls(rustls)
}

impl ConnectError {
    /// The error of a client upgrade: [`ConnectError::Rejected`] when the server
    /// answered with an HTTP error, [`ConnectError::Upgrade`] otherwise.
    pub fn from_upgrade(error: tungstenite::Error) -> ConnectError {
        match error {
            tungstenite::Error::Http(response) => {
                let status = response.status();
                let reason = response
                    .body()
                    .as_deref()
                    .map(|b| {
                        String::from_utf8_lossy(b)
                            .lines()
                            .next()
                            .unwrap_or("")
                            .chars()
                            .take(200)
                            .collect()
                    })
                    .unwrap_or_default();
                ConnectError::Rejected { status, reason }
            }
            other => ConnectError::Upgrade(other),
        }
    }
}
