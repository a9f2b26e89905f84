//! Connecting and accepting, once for every runtime: TCP, TLS, the upgrade by
//! the Mosaic header rules, then the session; each within the handshake
//! timeout, and the server within its connection limit.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::{Either, select};
use mosaic_handshake::{ClientHandshake, Host, MosaicUrl};
use mosaic_tls::PeerIdentity;
use mosaic_tls::rustls::pki_types::ServerName;
use tungstenite::client::IntoClientRequest;

use crate::{
    AcceptError, Accepted, ClientConnection, ClientOptions, ConnectError, ConnectionInfo,
    ServerConnection, ServerOptions, Transport, UpgradeOutcome, upgrade_callback,
};

/// Runs `future` for at most `limit`; `None` when time ran out.
pub async fn within<R: crate::Runtime, F: Future>(
    runtime: &R,
    limit: Duration,
    future: F,
) -> Option<F::Output> {
    let sleep = pin!(runtime.sleep_until(Instant::now() + limit));
    match select(pin!(future), sleep).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(_) => None,
    }
}

/// Connects to the server at `url` (`wss://host[:port]/`) on `transport`, all
/// within the handshake timeout.
///
/// # Errors
/// [`ConnectError`] says which step failed: the URL, TCP, TLS (a server key
/// other than the pinned one fails here), the upgrade or its Mosaic headers,
/// or the timeout.
pub async fn connect_on<T: Transport>(
    transport: T,
    url: &str,
    options: &ClientOptions,
) -> Result<ClientConnection, ConnectError> {
    let url = MosaicUrl::parse(url)?;
    let limit = options.limits.handshake_timeout;
    // Boxed: the handshake state (TLS and WebSocket streams) is large.
    within(
        &transport,
        limit,
        Box::pin(connect_to(&transport, &url, options)),
    )
    .await
    .ok_or(ConnectError::Timeout(limit))?
}

async fn connect_to<T: Transport>(
    transport: &T,
    url: &MosaicUrl,
    options: &ClientOptions,
) -> Result<ClientConnection, ConnectError> {
    let name = server_name(url.host())?;
    let tcp = transport
        .connect(&url.authority())
        .await
        .map_err(|source| ConnectError::Connect {
            addr: url.authority(),
            source,
        })?;
    let remote_addr = T::peer_addr(&tcp);
    let tls = transport
        .tls_connect(tcp, options.tls.config(), name)
        .await
        .map_err(ConnectError::Tls)?;
    let state = T::client_tls_state(&tls);
    let peer = PeerIdentity::from_connection(state)?;

    let handshake = ClientHandshake::new(options.extensions.clone());
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(ConnectError::Upgrade)?;
    handshake.apply(&mut request);
    let (ws, response) = transport
        .ws_connect(request, tls, options.limits.websocket_config())
        .await
        .map_err(ConnectError::from_upgrade)?;
    let negotiated = handshake.check(&response)?;
    let info = ConnectionInfo::new(negotiated, peer, remote_addr);
    Ok(ClientConnection::start(
        ws,
        info,
        options,
        transport.clone(),
    ))
}

/// The TLS server name for a host: SNI for a DNS name, none for an address.
fn server_name(host: &Host) -> Result<ServerName<'static>, ConnectError> {
    Ok(match host {
        Host::Ipv4(ip) => ServerName::IpAddress((*ip).into()),
        Host::Ipv6(ip) => ServerName::IpAddress((*ip).into()),
        Host::Domain(name) => {
            ServerName::try_from(name.clone()).map_err(|e| ConnectError::Resolve {
                host: name.clone(),
                source: io::Error::new(io::ErrorKind::InvalidInput, e),
            })?
        }
    })
}

/// A count of connections held, up to a limit.
#[derive(Debug)]
struct Slots {
    used: AtomicUsize,
    max: usize,
}

/// One connection's place in [`Slots`]; given back when dropped.
#[derive(Debug)]
struct Slot(Arc<Slots>);

impl Slots {
    fn take(self: &Arc<Self>) -> Option<Slot> {
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < self.max).then_some(used + 1)
            });
        taken.ok().map(|_| Slot(self.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.used.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A listening Mosaic server on a runtime's transport.
#[derive(Debug)]
pub struct Server<T: Transport> {
    transport: T,
    listener: T::Listener,
    options: Arc<ServerOptions>,
    tls: Arc<mosaic_tls::ServerTls>,
    slots: Arc<Slots>,
}

/// A TCP connection accepted within the connection limit, not yet upgraded.
#[derive(Debug)]
pub struct Incoming<T: Transport> {
    transport: T,
    tcp: T::Tcp,
    remote_addr: SocketAddr,
    options: Arc<ServerOptions>,
    tls: Arc<mosaic_tls::ServerTls>,
    slot: Slot,
}

impl<T: Transport> Server<T> {
    /// Listens on `addr` (`host:port`).
    ///
    /// # Errors
    /// The bind error.
    pub async fn bind_on(
        transport: T,
        addr: &str,
        options: ServerOptions,
    ) -> io::Result<Server<T>> {
        let listener = transport.bind(addr).await?;
        let slots = Arc::new(Slots {
            used: AtomicUsize::new(0),
            max: options.max_connections,
        });
        Ok(Server {
            transport,
            listener,
            tls: Arc::new(options.tls.clone()),
            options: Arc::new(options),
            slots,
        })
    }

    /// The address listened on.
    ///
    /// # Errors
    /// The socket's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        T::local_addr(&self.listener)
    }

    /// The options.
    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// Accepts the next TCP connection within the connection limit; those over
    /// it are closed at once, before any TLS work, and not returned. Run
    /// [`Incoming::handshake`] on its own task so that a slow client does not
    /// hold up the others.
    ///
    /// # Errors
    /// The accept error (the listener stays usable).
    pub async fn accept(&self) -> io::Result<Incoming<T>> {
        loop {
            let (tcp, remote_addr) = T::accept(&self.listener).await?;
            let Some(slot) = self.slots.take() else {
                drop(tcp);
                continue;
            };
            return Ok(Incoming {
                transport: self.transport.clone(),
                tcp,
                remote_addr,
                options: self.options.clone(),
                tls: self.tls.clone(),
                slot,
            });
        }
    }

    /// Accepts connections until the listener fails, upgrading each on its own
    /// task and handing it to `handler`; failed handshakes go to `on_error`.
    ///
    /// # Errors
    /// An accept error that concerns the listener, not one connection.
    pub async fn serve<H, F, E>(self, handler: H, on_error: E) -> io::Result<()>
    where
        H: Fn(Accepted<T::ServerWs>) -> F + Send + Sync + 'static,
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
            self.transport.spawn(Box::pin(async move {
                let remote = incoming.remote_addr();
                match incoming.handshake().await {
                    Ok(accepted) => handler(accepted).await,
                    Err(error) => on_error(remote, error),
                }
            }));
        }
    }
}

/// Accept errors that concern one connection or a passing shortage, not the
/// listener (EMFILE and ENFILE included: they pass as connections close).
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || error
        .raw_os_error()
        .is_some_and(|code| code == 23 || code == 24)
}

impl<T: Transport> Incoming<T> {
    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// Runs the TLS handshake and the upgrade within the handshake timeout.
    ///
    /// # Errors
    /// [`AcceptError`] for a failed or refused handshake; a refused upgrade has
    /// already been answered with its HTTP status.
    pub async fn handshake(self) -> Result<Accepted<T::ServerWs>, AcceptError> {
        let limit = self.options.limits.handshake_timeout;
        let transport = self.transport.clone();
        // Boxed: the handshake state (TLS and WebSocket streams) is large.
        within(&transport, limit, Box::pin(self.upgrade()))
            .await
            .ok_or(AcceptError::Timeout(limit))?
    }

    async fn upgrade(self) -> Result<Accepted<T::ServerWs>, AcceptError> {
        let Incoming {
            transport,
            tcp,
            remote_addr,
            options,
            tls,
            slot,
        } = self;
        let tls = transport
            .tls_accept(tcp, tls)
            .await
            .map_err(AcceptError::Tls)?;
        let peer = PeerIdentity::from_connection(T::server_tls_state(&tls))?;
        let mut outcome = None;
        let callback = upgrade_callback(&options.policy, &mut outcome);
        let ws = transport
            .ws_accept(tls, callback, options.limits.websocket_config())
            .await;
        match (ws, outcome) {
            (Ok(ws), Some(UpgradeOutcome::Mosaic(negotiated))) => {
                let info = ConnectionInfo::new(negotiated, peer, Some(remote_addr));
                let connection =
                    ServerConnection::start_holding(ws, info, &options, transport, slot);
                Ok(Accepted::Mosaic(connection))
            }
            (Ok(ws), Some(UpgradeOutcome::Nostr)) => Ok(Accepted::Nostr(Box::new(ws), peer)),
            (_, Some(UpgradeOutcome::Rejected { status, reason })) => {
                Err(AcceptError::Rejected { status, reason })
            }
            (Err(error), _) => Err(AcceptError::Upgrade(error)),
            (Ok(_), None) => Err(AcceptError::Upgrade(tungstenite::Error::ConnectionClosed)),
        }
    }
}
