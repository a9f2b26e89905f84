//! What a runtime adapter provides: its sockets, its TLS and WebSocket crates,
//! its timer and its spawner. Everything else (the handshake steps, timeouts,
//! connection limits, the accept loop) is written once, in this crate.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mosaic_tls::ServerTls;
use mosaic_tls::rustls::{ClientConfig, CommonState, pki_types::ServerName};
use tungstenite::handshake::client::{Request, Response};
use tungstenite::handshake::server::Callback;
use tungstenite::protocol::WebSocketConfig;

use crate::{Runtime, WebSocket};

/// A runtime's sockets, TLS streams and WebSocket streams.
///
/// Each method is one call into the runtime's own crates (tokio, tokio-rustls
/// and tokio-tungstenite; async-std, futures-rustls and async-tungstenite).
pub trait Transport: Runtime {
    /// A listening TCP socket.
    type Listener: Send + Sync + 'static;
    /// A connected TCP stream.
    type Tcp: Send + 'static;
    /// A TLS stream on the server side.
    type ServerTls: Send + 'static;
    /// A TLS stream on the client side.
    type ClientTls: Send + 'static;
    /// A WebSocket over a server-side TLS stream (also what a nostr client gets).
    type ServerWs: WebSocket;
    /// A WebSocket over a client-side TLS stream.
    type ClientWs: WebSocket;

    /// Listens on `addr`.
    fn bind(&self, addr: &str) -> impl Future<Output = io::Result<Self::Listener>> + Send;

    /// The address a listener listens on.
    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr>;

    /// Accepts the next TCP connection, with `TCP_NODELAY` set.
    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<(Self::Tcp, SocketAddr)>> + Send;

    /// The address at the other end of a TCP stream.
    fn peer_addr(tcp: &Self::Tcp) -> Option<SocketAddr>;

    /// Connects to `authority` (`host:port`), with `TCP_NODELAY` set.
    fn connect(&self, authority: &str) -> impl Future<Output = io::Result<Self::Tcp>> + Send;

    /// The server TLS handshake, with the configuration `tls` picks for the
    /// ClientHello ([`ServerTls::config_for`]).
    fn tls_accept(
        &self,
        tcp: Self::Tcp,
        tls: Arc<ServerTls>,
    ) -> impl Future<Output = io::Result<Self::ServerTls>> + Send;

    /// The client TLS handshake.
    fn tls_connect(
        &self,
        tcp: Self::Tcp,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> impl Future<Output = io::Result<Self::ClientTls>> + Send;

    /// The TLS state of a server stream (to read the client's certificate).
    fn server_tls_state(tls: &Self::ServerTls) -> &CommonState;

    /// The TLS state of a client stream (to read the server's certificate).
    fn client_tls_state(tls: &Self::ClientTls) -> &CommonState;

    /// The server's WebSocket upgrade, answering through `callback`.
    fn ws_accept<C: Callback + Unpin + Send>(
        &self,
        tls: Self::ServerTls,
        callback: C,
        config: WebSocketConfig,
    ) -> impl Future<Output = Result<Self::ServerWs, tungstenite::Error>> + Send;

    /// The client's WebSocket upgrade with `request`.
    fn ws_connect(
        &self,
        request: Request,
        tls: Self::ClientTls,
        config: WebSocketConfig,
    ) -> impl Future<Output = Result<(Self::ClientWs, Response), tungstenite::Error>> + Send;
}
