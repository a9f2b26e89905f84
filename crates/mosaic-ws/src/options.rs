//! What a client or a server is configured with; shared by every runtime adapter.

use mosaic_handshake::{Extensions, Negotiated, ServerPolicy};
use mosaic_proto::session::{ClientConfig, ServerConfig};
use mosaic_proto::{DecodeOptions, MAX_MESSAGE_LEN};
use mosaic_tls::{ClientTls, ServerTls};

use crate::{ExtensionTable, Limits};

/// How a client connects: the TLS policy (pinned server key, optional client
/// identity), the extensions to request, and the limits.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The TLS client configuration, pinning the server's key.
    pub tls: ClientTls,
    /// Extensions to request (sent as `X-Mosaic-Extensions` when not empty).
    pub extensions: Extensions,
    /// Which message types each extension brings.
    pub extension_table: ExtensionTable,
    /// Session limits. Its `decode` is not used: each connection's comes
    /// from `limits.max_message_len` and the negotiated extensions (see
    /// [`ClientOptions::session_for`]).
    pub session: ClientConfig,
    /// Transport limits.
    pub limits: Limits,
}

impl ClientOptions {
    /// Defaults around a TLS configuration: no extensions, default limits.
    pub fn new(tls: ClientTls) -> ClientOptions {
        ClientOptions {
            tls,
            extensions: Extensions::default(),
            extension_table: ExtensionTable::default(),
            session: ClientConfig::default(),
            limits: Limits::default(),
        }
    }

    /// The session configuration for what was negotiated: the message size
    /// limit and the negotiated extensions' message types.
    pub fn session_for(&self, negotiated: &Negotiated) -> ClientConfig {
        let mut session = self.session;
        session.decode = decode_options(&self.limits, &self.extension_table, negotiated);
        session
    }
}

/// How a server accepts: its TLS identity and policy, the upgrade rules, the
/// limits, and how many connections it holds at once.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The TLS server configuration.
    pub tls: ServerTls,
    /// The upgrade rules: supported extensions, service URL, dual-stack mode.
    pub policy: ServerPolicy,
    /// Which message types each extension brings.
    pub extension_table: ExtensionTable,
    /// Session limits. Its `decode` is not used: each connection's comes
    /// from `limits.max_message_len` and the negotiated extensions (see
    /// [`ServerOptions::session_for`]).
    pub session: ServerConfig,
    /// Transport limits.
    pub limits: Limits,
    /// Most connections held at once (handshakes included); more are closed
    /// right after the TCP accept. Default 10,000.
    pub max_connections: usize,
}

impl ServerOptions {
    /// Defaults around a TLS configuration: Mosaic only, no extensions,
    /// default limits.
    pub fn new(tls: ServerTls) -> ServerOptions {
        ServerOptions {
            tls,
            policy: ServerPolicy::default(),
            extension_table: ExtensionTable::default(),
            session: ServerConfig::default(),
            limits: Limits::default(),
            max_connections: 10_000,
        }
    }

    /// The session configuration for what was negotiated.
    pub fn session_for(&self, negotiated: &Negotiated) -> ServerConfig {
        let mut session = self.session;
        session.decode = decode_options(&self.limits, &self.extension_table, negotiated);
        session
    }
}

/// The decode options: the transport's size limit (clamped to what the
/// protocol can express) and the negotiated extension types.
fn decode_options(
    limits: &Limits,
    table: &ExtensionTable,
    negotiated: &Negotiated,
) -> DecodeOptions {
    let max = limits.max_message_len.clamp(8, MAX_MESSAGE_LEN);
    DecodeOptions::default()
        .with_max_message_len(max)
        .unwrap_or_default()
        .with_extensions(table.types_for(negotiated.extensions()))
}
