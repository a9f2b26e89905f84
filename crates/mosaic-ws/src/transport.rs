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

use crate::{Runtime, Traffic, WebSocket};

/// A runtime's sockets, TLS streams and WebSocket streams.
///
/// Each method is one call into the runtime's own crates (tokio, tokio-rustls
/// and tokio-tungstenite; async-std, futures-rustls and async-tungstenite).
pub trait Transport: Runtime {
    /// A listening TCP socket.
    type Listener: Send + Sync + 'static;
    /// A connected TCP stream (with [`impl_transport!`](crate::impl_transport),
    /// one counting what it reads and sends: [`Counted`](crate::Counted)).
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

    /// The server's WebSocket upgrade, answering through `callback`, over a
    /// borrowed stream: a request tungstenite refuses before `callback` sees
    /// it can then still be answered ([`Transport::write_refusal`]). The
    /// WebSocket is made after ([`Transport::ws_upgraded`]); tungstenite
    /// refuses a client that sent more than the request, so nothing it read
    /// is lost.
    fn ws_accept<C: Callback + Unpin + Send>(
        &self,
        tls: &mut Self::ServerTls,
        callback: C,
        config: WebSocketConfig,
    ) -> impl Future<Output = Result<(), tungstenite::Error>> + Send;

    /// The server's WebSocket over a stream [`Transport::ws_accept`] upgraded.
    fn ws_upgraded(
        &self,
        tls: Self::ServerTls,
        config: WebSocketConfig,
    ) -> impl Future<Output = Self::ServerWs> + Send;

    /// Writes an HTTP refusal (`response`, whole) to a stream whose upgrade
    /// failed, and flushes it.
    fn write_refusal(
        tls: &mut Self::ServerTls,
        response: &[u8],
    ) -> impl Future<Output = io::Result<()>> + Send;

    /// Ends a stream whose upgrade was refused, in order: a TLS close_notify
    /// and the end of the sending side, then what the client still sends is
    /// read and dropped, up to `limit` bytes or the client's close. The
    /// caller bounds its time. Without it, closing a socket that holds
    /// unread bytes (a request body) resets the connection, and the client
    /// may never read the answer.
    ///
    /// The default does nothing: the refused stream is dropped at once, so
    /// a hand-written transport gets the abrupt close described above.
    fn linger(
        _tls: &mut Self::ServerTls,
        _limit: usize,
    ) -> impl Future<Output = io::Result<()>> + Send {
        async { Ok(()) }
    }

    /// The bytes a server WebSocket's TCP stream has read and taken to send
    /// so far ([`Counted::traffic`](crate::Counted::traffic)). The driver
    /// reads it each round: bytes sent while the WebSocket layer's flush of
    /// a large frame is still pending are progress for the stall check;
    /// bytes received without a whole message, and bytes sent from a send
    /// buffer that was full, show the keepalive that the peer is alive. The
    /// default never moves: a peer is then judged by whole messages, frames
    /// the WebSocket layer takes and completed flushes.
    fn server_ws_traffic(_ws: &Self::ServerWs) -> Traffic {
        Traffic::default()
    }

    /// The same for a client WebSocket.
    fn client_ws_traffic(_ws: &Self::ClientWs) -> Traffic {
        Traffic::default()
    }

    /// The client's WebSocket upgrade with `request`.
    fn ws_connect(
        &self,
        request: Request,
        tls: Self::ClientTls,
        config: WebSocketConfig,
    ) -> impl Future<Output = Result<(Self::ClientWs, Response), tungstenite::Error>> + Send;
}

/// Implements [`Transport`] for a runtime type from its crates, which all have
/// the same shape: a `net` module with `TcpListener` and `TcpStream`, a rustls
/// binding with `LazyConfigAcceptor`, `TlsConnector`, `server::TlsStream` and
/// `client::TlsStream`, a tungstenite binding with `WebSocketStream`,
/// `accept_hdr_async_with_config` and `client_async_with_config`, and an
/// extension trait with `write_all` and `flush`, one with `read`, and a
/// function `close` that ends a server TLS stream's sending side (its
/// close_notify and the TCP FIN). Written once here so that the adapters
/// hold no copies of it. Its TCP streams are [`Counted`](crate::Counted),
/// which has the runtime's I/O traits only with mosaic-ws's `tokio`
/// feature (for tokio-rustls) or `futures-io` feature (for futures-rustls):
/// enable the one the runtime needs.
///
/// ```text
/// mosaic_ws::impl_transport!(Tokio, net: tokio::net, tls: tokio_rustls, ws: tokio_tungstenite,
///     write: tokio::io::AsyncWriteExt, read: tokio::io::AsyncReadExt,
///     close: tokio::io::AsyncWriteExt::shutdown);
/// ```
#[macro_export]
macro_rules! impl_transport {
    ($runtime:ty, net: $($net:ident)::+, tls: $($tls:ident)::+, ws: $($ws:ident)::+,
        write: $($write:ident)::+, read: $($read:ident)::+, close: $($close:ident)::+) => {
        impl $crate::Transport for $runtime {
            type Listener = $($net)::+::TcpListener;
            type Tcp = $crate::Counted<$($net)::+::TcpStream>;
            type ServerTls = $($tls)::+::server::TlsStream<Self::Tcp>;
            type ClientTls = $($tls)::+::client::TlsStream<Self::Tcp>;
            type ServerWs = $($ws)::+::WebSocketStream<Self::ServerTls>;
            type ClientWs = $($ws)::+::WebSocketStream<Self::ClientTls>;

            async fn bind(&self, addr: &str) -> ::std::io::Result<Self::Listener> {
                $($net)::+::TcpListener::bind(addr).await
            }

            fn local_addr(listener: &Self::Listener) -> ::std::io::Result<::std::net::SocketAddr> {
                listener.local_addr()
            }

            async fn accept(listener: &Self::Listener) -> ::std::io::Result<(Self::Tcp, ::std::net::SocketAddr)> {
                let (tcp, addr) = listener.accept().await?;
                // Small messages must not wait for Nagle; a failure only costs latency.
                let _ = tcp.set_nodelay(true);
                Ok(($crate::Counted::new(tcp), addr))
            }

            fn peer_addr(tcp: &Self::Tcp) -> Option<::std::net::SocketAddr> {
                tcp.get_ref().peer_addr().ok()
            }

            async fn connect(&self, authority: &str) -> ::std::io::Result<Self::Tcp> {
                let tcp = $($net)::+::TcpStream::connect(authority).await?;
                let _ = tcp.set_nodelay(true);
                Ok($crate::Counted::new(tcp))
            }

            async fn tls_accept(
                &self,
                tcp: Self::Tcp,
                tls: ::std::sync::Arc<$crate::mosaic_tls::ServerTls>,
            ) -> ::std::io::Result<Self::ServerTls> {
                let acceptor = $crate::mosaic_tls::rustls::server::Acceptor::default();
                let hello = $($tls)::+::LazyConfigAcceptor::new(acceptor, tcp).await?;
                let config = tls.config_for(&hello.client_hello());
                hello.into_stream(config).await
            }

            async fn tls_connect(
                &self,
                tcp: Self::Tcp,
                config: ::std::sync::Arc<$crate::mosaic_tls::rustls::ClientConfig>,
                name: $crate::mosaic_tls::rustls::pki_types::ServerName<'static>,
            ) -> ::std::io::Result<Self::ClientTls> {
                $($tls)::+::TlsConnector::from(config).connect(name, tcp).await
            }

            fn server_tls_state(tls: &Self::ServerTls) -> &$crate::mosaic_tls::rustls::CommonState {
                tls.get_ref().1
            }

            fn client_tls_state(tls: &Self::ClientTls) -> &$crate::mosaic_tls::rustls::CommonState {
                tls.get_ref().1
            }

            async fn ws_accept<C>(
                &self,
                tls: &mut Self::ServerTls,
                callback: C,
                config: $crate::tungstenite::protocol::WebSocketConfig,
            ) -> Result<(), $crate::tungstenite::Error>
            where
                C: $crate::tungstenite::handshake::server::Callback + Unpin + Send,
            {
                $($ws)::+::accept_hdr_async_with_config(tls, callback, Some(config)).await?;
                Ok(())
            }

            async fn ws_upgraded(
                &self,
                tls: Self::ServerTls,
                config: $crate::tungstenite::protocol::WebSocketConfig,
            ) -> Self::ServerWs {
                let role = $crate::tungstenite::protocol::Role::Server;
                $($ws)::+::WebSocketStream::from_raw_socket(tls, role, Some(config)).await
            }

            async fn write_refusal(
                tls: &mut Self::ServerTls,
                response: &[u8],
            ) -> ::std::io::Result<()> {
                use $($write)::+ as _;
                tls.write_all(response).await?;
                tls.flush().await
            }

            async fn linger(
                tls: &mut Self::ServerTls,
                limit: usize,
            ) -> ::std::io::Result<()> {
                use $($read)::+ as _;
                $($close)::+(tls).await?;
                let mut scratch = [0u8; 4096];
                let mut read = 0;
                while read < limit {
                    match tls.read(&mut scratch).await? {
                        0 => break,
                        n => read += n,
                    }
                }
                Ok(())
            }

            fn server_ws_traffic(ws: &Self::ServerWs) -> $crate::Traffic {
                ws.get_ref().get_ref().0.traffic()
            }

            fn client_ws_traffic(ws: &Self::ClientWs) -> $crate::Traffic {
                ws.get_ref().get_ref().0.traffic()
            }

            async fn ws_connect(
                &self,
                request: $crate::tungstenite::handshake::client::Request,
                tls: Self::ClientTls,
                config: $crate::tungstenite::protocol::WebSocketConfig,
            ) -> Result<(Self::ClientWs, $crate::tungstenite::handshake::client::Response), $crate::tungstenite::Error> {
                $($ws)::+::client_async_with_config(request, tls, Some(config)).await
            }
        }
    };
}

/// The public API of a runtime adapter crate for its runtime type: `Server`,
/// `Incoming`, `NostrStream` and `Accepted` for that runtime, and `bind` and
/// `connect` on its default instance.
#[macro_export]
macro_rules! adapter_api {
    ($runtime:ident, $name:literal) => {
        #[doc = concat!("A listening Mosaic server on ", $name, ".")]
        pub type Server = $crate::Server<$runtime>;

        /// A TCP connection accepted within the connection limit, not yet upgraded.
        pub type Incoming = $crate::Incoming<$runtime>;

        /// A nostr WebSocket handed over in dual-stack mode.
        pub type NostrStream = <$runtime as $crate::Transport>::ServerWs;

        /// An upgraded connection: Mosaic, or nostr in dual-stack mode.
        pub type Accepted = $crate::Accepted<NostrStream>;

        #[doc = concat!("Listens on `addr` (`host:port`) on ", $name, ".")]
        ///
        /// # Errors
        /// The bind error.
        pub async fn bind(addr: &str, options: $crate::ServerOptions) -> ::std::io::Result<Server> {
            Server::bind_on(<$runtime>::default(), addr, options).await
        }

        #[doc = concat!("Connects to the server at `url` (`wss://host[:port]/`) on ", $name, ",")]
        /// within the handshake timeout.
        ///
        /// # Errors
        /// [`ConnectError`]($crate::ConnectError) says which step failed: the
        /// URL, TCP, TLS (a server key other than the pinned one fails here),
        /// the upgrade or its Mosaic headers, or the timeout.
        pub async fn connect(
            url: &str,
            options: &$crate::ClientOptions,
        ) -> Result<$crate::ClientConnection, $crate::ConnectError> {
            $crate::connect_on(<$runtime>::default(), url, options).await
        }
    };
}
