//! What both sides know about a connection once it is up.

use std::net::SocketAddr;

use mosaic_handshake::{Extensions, Negotiated, ServiceUrl};
use mosaic_proto::ExtensionTypes;
use mosaic_tls::PeerIdentity;

/// The negotiated extensions, the service URL, the peer's identity and address.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    negotiated: Negotiated,
    peer: PeerIdentity,
    remote_addr: Option<SocketAddr>,
}

impl ConnectionInfo {
    /// Gathers what the handshakes settled.
    pub fn new(
        negotiated: Negotiated,
        peer: PeerIdentity,
        remote_addr: Option<SocketAddr>,
    ) -> Self {
        ConnectionInfo {
            negotiated,
            peer,
            remote_addr,
        }
    }

    /// What the WebSocket upgrade negotiated.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// The extensions in use.
    pub fn extensions(&self) -> &Extensions {
        self.negotiated.extensions()
    }

    /// The server's service URL, if it gave one.
    pub fn service_url(&self) -> Option<&ServiceUrl> {
        self.negotiated.service_url()
    }

    /// Who the peer proved to be in the TLS handshake: a client that sent no
    /// certificate is anonymous; a server is always its pinned key.
    pub fn peer_identity(&self) -> &PeerIdentity {
        &self.peer
    }

    /// The peer's address, when known.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }
}

/// Which message types each extension name brings, so that a negotiated
/// extension's messages decode. The default knows `sync` (the sync extension's
/// 0x10-0x12 and 0x91, 0x93).
#[derive(Clone, Debug)]
pub struct ExtensionTable(Vec<(String, ExtensionTypes)>);

impl Default for ExtensionTable {
    fn default() -> Self {
        ExtensionTable(vec![("sync".to_owned(), ExtensionTypes::sync())])
    }
}

impl ExtensionTable {
    /// A table that knows no extension.
    pub fn empty() -> Self {
        ExtensionTable(Vec::new())
    }

    /// This table with `name` bringing `types`.
    pub fn with(mut self, name: impl Into<String>, types: ExtensionTypes) -> Self {
        self.0.push((name.into(), types));
        self
    }

    /// The message types the negotiated extensions bring.
    pub fn types_for(&self, extensions: &Extensions) -> ExtensionTypes {
        self.0
            .iter()
            .filter(|(name, _)| extensions.contains(name))
            .fold(ExtensionTypes::none(), |acc, (_, types)| acc.union(*types))
    }
}
