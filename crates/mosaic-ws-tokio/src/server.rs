//! Accepting Mosaic connections: TCP, TLS (the configuration chosen per
//! ClientHello), the upgrade by the Mosaic header rules, then the session.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mosaic_tls::PeerIdentity;
use mosaic_tls::rustls::server::Acceptor;
use mosaic_ws::{
    AcceptError, ConnectionInfo, ServerConnection, ServerOptions, UpgradeOutcome, upgrade_callback,
};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_tungstenite::WebSocketStream;

use crate::TokioRuntime;

/// A nostr WebSocket handed over in dual-stack mode.
pub type NostrStream = WebSocketStream<TlsStream<TcpStream>>;

/// An upgraded connection: Mosaic, or nostr in dual-stack mode.
pub type Accepted = mosaic_ws::Accepted<NostrStream>;

/// A listening Mosaic server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    options: Arc<ServerOptions>,
    slots: Arc<Semaphore>,
}

/// A TCP connection accepted within the connection limit, not yet upgraded.
#[derive(Debug)]
pub struct Incoming {
    tcp: TcpStream,
    remote_addr: SocketAddr,
    options: Arc<ServerOptions>,
    slot: OwnedSemaphorePermit,
}

impl Server {
    /// Listens on `addr`.
    ///
    /// # Errors
    /// The bind error.
    pub async fn bind(addr: impl ToSocketAddrs, options: ServerOptions) -> io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let slots = Arc::new(Semaphore::new(options.max_connections));
        Ok(Server {
            listener,
            options: Arc::new(options),
            slots,
        })
    }

    /// The address listened on.
    ///
    /// # Errors
    /// The socket's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The options.
    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// Accepts the next TCP connection within the connection limit. Connections
    /// over the limit are closed at once and not returned. Run
    /// [`Incoming::handshake`] on its own task so that one slow client does not
    /// hold up the others.
    ///
    /// # Errors
    /// The accept error (the listener stays usable).
    pub async fn accept(&self) -> io::Result<Incoming> {
        loop {
            let (tcp, remote_addr) = self.listener.accept().await?;
            match self.slots.clone().try_acquire_owned() {
                Ok(slot) => {
                    let _ = tcp.set_nodelay(true);
                    return Ok(Incoming {
                        tcp,
                        remote_addr,
                        options: self.options.clone(),
                        slot,
                    });
                }
                // Over the limit: closed by dropping, before any TLS work.
                Err(_) => drop(tcp),
            }
        }
    }

    /// Accepts connections forever, upgrading each on its own task and handing
    /// it to `handler`; failed handshakes are passed to `on_error`.
    ///
    /// # Errors
    /// Only an accept error that persists (the listener failing).
    pub async fn serve<H, F, E>(self, handler: H, on_error: E) -> io::Result<()>
    where
        H: Fn(Accepted) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
        E: Fn(SocketAddr, AcceptError) + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        let on_error = Arc::new(on_error);
        loop {
            let incoming = match self.accept().await {
                Ok(incoming) => incoming,
                Err(e) if is_transient(&e) => continue,
                Err(e) => return Err(e),
            };
            let handler = handler.clone();
            let on_error = on_error.clone();
            tokio::spawn(async move {
                let remote = incoming.remote_addr();
                match incoming.handshake().await {
                    Ok(accepted) => handler(accepted).await,
                    Err(error) => on_error(remote, error),
                }
            });
        }
    }
}

/// Accept errors that concern one connection (or momentary exhaustion), not
/// the listener.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || error
        .raw_os_error()
        .is_some_and(|code| code == 24 || code == 23)
}

impl Incoming {
    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// Runs the TLS handshake and the upgrade within the handshake timeout.
    ///
    /// # Errors
    /// [`AcceptError`] for a failed or refused handshake; a refused upgrade has
    /// already been answered with its HTTP status.
    pub async fn handshake(self) -> Result<Accepted, AcceptError> {
        let limit = self.options.limits.handshake_timeout;
        let Incoming {
            tcp,
            remote_addr,
            options,
            slot,
        } = self;
        let accepted = tokio::time::timeout(limit, upgrade(tcp, remote_addr, &options))
            .await
            .map_err(|_| AcceptError::Timeout(limit))??;
        if let Accepted::Mosaic(connection) = &accepted {
            // The slot is held until the connection has closed.
            let sender = connection.sender().clone();
            tokio::spawn(async move {
                sender.closed().await;
                drop(slot);
            });
        }
        Ok(accepted)
    }
}

async fn upgrade(
    tcp: TcpStream,
    remote_addr: SocketAddr,
    options: &ServerOptions,
) -> Result<Accepted, AcceptError> {
    let start = LazyConfigAcceptor::new(Acceptor::default(), tcp)
        .await
        .map_err(AcceptError::Tls)?;
    let config = options.tls.config_for(&start.client_hello());
    let tls = start.into_stream(config).await.map_err(AcceptError::Tls)?;
    let peer = PeerIdentity::from_connection(tls.get_ref().1)?;

    let mut outcome = None;
    let callback = upgrade_callback(&options.policy, &mut outcome);
    let config = Some(options.limits.websocket_config());
    let ws = tokio_tungstenite::accept_hdr_async_with_config(tls, callback, config).await;
    match (ws, outcome) {
        (Ok(ws), Some(UpgradeOutcome::Mosaic(negotiated))) => {
            let info = ConnectionInfo::new(negotiated, peer, Some(remote_addr));
            Ok(Accepted::Mosaic(ServerConnection::start(
                ws,
                info,
                options,
                TokioRuntime,
            )))
        }
        (Ok(ws), Some(UpgradeOutcome::Nostr)) => Ok(Accepted::Nostr(Box::new(ws), peer)),
        (_, Some(UpgradeOutcome::Rejected { status, reason })) => {
            Err(AcceptError::Rejected { status, reason })
        }
        (Err(error), _) => Err(AcceptError::Upgrade(error)),
        (Ok(_), None) => Err(AcceptError::Upgrade(tungstenite::Error::ConnectionClosed)),
    }
}
