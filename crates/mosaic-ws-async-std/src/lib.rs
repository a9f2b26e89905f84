#![doc = include_str!("../README.md")]

mod transport;

pub use transport::AsyncStd;

pub use mosaic_ws::{
    AcceptError, ClientConnection, ClientOptions, ClientReceiver, ClientSender, ConnectError,
    ConnectionInfo, ExtensionTable, Limits, Records, RequestError, ServerConnection, ServerOptions,
    ServerReceiver, ServerSender, Subscription, SubscriptionEvent, mosaic_handshake, mosaic_proto,
    mosaic_tls,
};

/// A listening Mosaic server on async-std (or another futures-io executor).
pub type Server = mosaic_ws::Server<AsyncStd>;

/// A TCP connection accepted within the connection limit, not yet upgraded.
pub type Incoming = mosaic_ws::Incoming<AsyncStd>;

/// A nostr WebSocket handed over in dual-stack mode.
pub type NostrStream = <AsyncStd as mosaic_ws::Transport>::ServerWs;

/// An upgraded connection: Mosaic, or nostr in dual-stack mode.
pub type Accepted = mosaic_ws::Accepted<NostrStream>;

/// Listens on `addr` (`host:port`), running connections on async-std's executor.
///
/// # Errors
/// The bind error.
pub async fn bind(addr: &str, options: ServerOptions) -> std::io::Result<Server> {
    Server::bind_on(AsyncStd::default(), addr, options).await
}

/// Connects to the server at `url` (`wss://host[:port]/`), running the
/// connection on async-std's executor, within the handshake timeout.
///
/// # Errors
/// [`ConnectError`] says which step failed: the URL, TCP, TLS (a server key
/// other than the pinned one fails here), the upgrade or its Mosaic headers,
/// or the timeout.
pub async fn connect(url: &str, options: &ClientOptions) -> Result<ClientConnection, ConnectError> {
    mosaic_ws::connect(AsyncStd::default(), url, options).await
}
