//! Connecting and accepting, once for every runtime: TCP, TLS, the upgrade by
//! the Mosaic header rules, then the session; each within the handshake
//! timeout, and the server within its connection limit.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use futures_util::future::{Either, select};
use mosaic_handshake::{ClientHandshake, Host, MosaicUrl};
use mosaic_tls::PeerIdentity;
use mosaic_tls::rustls::pki_types::ServerName;
use tungstenite::client::IntoClientRequest;

use crate::NostrConnection;
use crate::driver::{TrafficProbe, later};
use crate::server::ShutdownHook;
use crate::{
    AcceptError, Accepted, ClientConnection, ClientOptions, ConnectError, ConnectionInfo, Refusal,
    ServerConnection, ServerOptions, Transport, UpgradeOutcome, upgrade_callback,
};

/// Runs `future` for at most `limit`; `None` when time ran out.
pub async fn within<R: crate::Runtime, F: Future>(
    runtime: &R,
    limit: Duration,
    future: F,
) -> Option<F::Output> {
    // Saturating: a limit of Duration::MAX means no limit, not a panic.
    let sleep = pin!(runtime.sleep_until(later(Instant::now(), limit)));
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
    let peer = options.tls.server_identity(state)?;

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
    Ok(ClientConnection::start_probed(
        ws,
        info,
        options,
        transport.clone(),
        Some(T::client_ws_traffic),
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

/// The live connections of a server, so that it can shut them all down.
#[derive(Debug, Default)]
struct Registry {
    state: Mutex<RegistryState>,
}

#[derive(Debug, Default)]
struct RegistryState {
    next: u64,
    live: HashMap<u64, ShutdownHook>,
    shutting_down: bool,
    /// Tasks waiting for the shutdown to begin (the accept loop) or to end.
    waiters: Vec<Waker>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, RegistryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a connection; shuts it down at once when the server is shutting down.
    fn register(self: &Arc<Self>, hook: ShutdownHook) -> Registered {
        let mut state = self.lock();
        if state.shutting_down {
            hook.shutdown();
        }
        let id = state.next;
        state.next += 1;
        state.live.insert(id, hook);
        Registered {
            registry: self.clone(),
            id,
        }
    }

    /// Adds a waiter once (the accept loop polls again on every accept).
    fn wait(state: &mut RegistryState, waker: &Waker) {
        if !state.waiters.iter().any(|w| w.will_wake(waker)) {
            state.waiters.push(waker.clone());
        }
    }

    fn wake_all(state: &mut RegistryState) {
        state.waiters.drain(..).for_each(Waker::wake);
    }
}

/// A connection's entry in the [`Registry`]; removed when the connection is over.
#[derive(Debug)]
struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut state = self.registry.lock();
        state.live.remove(&self.id);
        if state.live.is_empty() {
            Registry::wake_all(&mut state);
        }
    }
}

/// Shuts a server down gracefully; get one with [`Server::shutdown_handle`].
#[derive(Clone, Debug)]
pub struct ShutdownHandle(Arc<Registry>);

impl ShutdownHandle {
    /// Stops [`Server::serve`] accepting, and shuts every live connection down:
    /// Query Closed `SHUTTING_DOWN` for each open query, then close with 1001.
    /// Connections whose handshake is still running are shut down as they
    /// finish it. Each connection then closes within its close timeout.
    pub fn shutdown(&self) {
        let mut state = self.0.lock();
        state.shutting_down = true;
        for hook in state.live.values() {
            hook.shutdown();
        }
        Registry::wake_all(&mut state);
    }

    /// Whether [`ShutdownHandle::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.0.lock().shutting_down
    }

    /// How many Mosaic connections are open.
    pub fn live(&self) -> usize {
        self.0.lock().live.len()
    }

    /// Waits until the shutdown has begun and every connection has closed.
    pub async fn closed(&self) {
        std::future::poll_fn(|cx| {
            let mut state = self.0.lock();
            if state.shutting_down && state.live.is_empty() {
                return Poll::Ready(());
            }
            Registry::wait(&mut state, cx.waker());
            Poll::Pending
        })
        .await;
    }

    /// Waits until the shutdown has begun.
    async fn begun(&self) {
        std::future::poll_fn(|cx| {
            let mut state = self.0.lock();
            if state.shutting_down {
                return Poll::Ready(());
            }
            Registry::wait(&mut state, cx.waker());
            Poll::Pending
        })
        .await;
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
    registry: Arc<Registry>,
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
    registry: Arc<Registry>,
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
            registry: Arc::default(),
        })
    }

    /// A handle that shuts this server and its connections down gracefully.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.registry.clone())
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
                registry: self.registry.clone(),
            });
        }
    }

    /// Accepts connections until the listener fails or a shutdown begins (see
    /// [`Server::shutdown_handle`]), upgrading each on its own task and
    /// handing it to `handler`; failed handshakes go to `on_error`.
    ///
    /// An accept error that concerns one connection is passed over; one that
    /// says descriptors, memory or buffers ran short pauses accepting for
    /// 50 ms (the connection waits in the backlog) rather than retrying in a
    /// busy loop that would starve the tasks whose closing ends the shortage.
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
        let shutdown = self.shutdown_handle();
        loop {
            // The shutdown is looked at first: a connection waiting in the
            // backlog when it begins is not accepted any more.
            let accepted = match select(pin!(shutdown.begun()), pin!(self.accept())).await {
                Either::Left(_) => return Ok(()),
                Either::Right((accepted, _)) => accepted,
            };
            let incoming = match accepted {
                Ok(incoming) => incoming,
                Err(e) => match after_accept_error(&e) {
                    AfterAcceptError::Retry => continue,
                    AfterAcceptError::Pause => {
                        let pause = self
                            .transport
                            .sleep_until(later(Instant::now(), ACCEPT_PAUSE));
                        match select(pin!(shutdown.begun()), pin!(pause)).await {
                            Either::Left(_) => return Ok(()),
                            Either::Right(_) => continue,
                        }
                    }
                    AfterAcceptError::Stop => return Err(e),
                },
            };
            let handler = handler.clone();
            let on_error = on_error.clone();
            let transport = self.transport.clone();
            self.transport.spawn(Box::pin(async move {
                let remote = incoming.remote_addr();
                match incoming.handshake().await {
                    // The handler gets a task of its own, sized for it alone:
                    // the handshake's state goes with this one, instead of
                    // sizing a task that lives as long as the connection.
                    Ok(accepted) => transport.spawn(Box::pin(handler(accepted))),
                    Err(error) => on_error(remote, error),
                }
            }));
        }
    }
}

/// How long [`Server::serve`] waits after an accept error that says the
/// process or the system is short of descriptors, memory or buffers. Trying
/// again at once fails again at once (the connection stays in the backlog):
/// the loop would spin, and on a runtime where it shares a thread with the
/// connections' tasks it would keep them from running and closing, which is
/// what ends the shortage.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// What [`Server::serve`] does after an accept error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterAcceptError {
    /// The error concerns one connection: accept the next at once.
    Retry,
    /// A shortage that passes as connections close: wait [`ACCEPT_PAUSE`].
    Pause,
    /// The listener itself failed: stop serving.
    Stop,
}

fn after_accept_error(error: &io::Error) -> AfterAcceptError {
    use io::ErrorKind::*;
    match error.kind() {
        // accept(2) on Linux: network errors of the pending connection are
        // to be treated like EAGAIN (the ones std names here, more below).
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | NetworkDown
        | NetworkUnreachable | HostUnreachable => return AfterAcceptError::Retry,
        OutOfMemory => return AfterAcceptError::Pause,
        _ => {}
    }
    match error.raw_os_error() {
        Some(code) if errno::SHORTAGE.contains(&code) => AfterAcceptError::Pause,
        Some(code) if errno::RETRY.contains(&code) => AfterAcceptError::Retry,
        _ => AfterAcceptError::Stop,
    }
}

/// Raw error numbers std gives no kind of its own.
mod errno {
    /// ENFILE and EMFILE (the same numbers on Linux, the BSDs and macOS),
    /// ENOBUFS.
    #[cfg(target_os = "linux")]
    pub(super) const SHORTAGE: &[i32] = &[23, 24, 105];
    #[cfg(all(unix, not(target_os = "linux")))]
    pub(super) const SHORTAGE: &[i32] = &[23, 24, 55];
    #[cfg(not(unix))]
    pub(super) const SHORTAGE: &[i32] = &[];

    /// EPROTO, ENOPROTOOPT, EHOSTDOWN, ENONET, EOPNOTSUPP: the rest of the
    /// network errors accept(2) on Linux says to retry after.
    #[cfg(target_os = "linux")]
    pub(super) const RETRY: &[i32] = &[71, 92, 112, 64, 95];
    #[cfg(not(target_os = "linux"))]
    pub(super) const RETRY: &[i32] = &[];
}

impl<T: Transport> Incoming<T> {
    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// Runs the TLS handshake and the upgrade within the handshake timeout.
    ///
    /// # Errors
    /// [`AcceptError`] for a failed or refused handshake. A refused upgrade
    /// has already been answered with its HTTP status and closed in order:
    /// the response, a TLS close_notify, then up to 1 MiB or 2 s of what the
    /// client still sends read and dropped (a request body, say), so that
    /// closing on unread bytes does not reset the connection under the
    /// response. That close counts against the connection limit, and is
    /// not part of the handshake timeout.
    pub async fn handshake(self) -> Result<Accepted<T::ServerWs>, AcceptError> {
        let limit = self.options.limits.handshake_timeout;
        let transport = self.transport.clone();
        // Boxed: the handshake state (TLS and WebSocket streams) is large.
        let upgraded = within(&transport, limit, Box::pin(self.upgrade()))
            .await
            .ok_or(AcceptError::Timeout(limit))??;
        match upgraded {
            Upgraded::Accepted(accepted) => Ok(accepted),
            Upgraded::Refused {
                mut tls,
                slot,
                error,
            } => {
                // Boxed: its read buffer would otherwise size every
                // handshake's task.
                let linger = Box::pin(T::linger(&mut tls, LINGER_BYTES));
                let _ = within(&transport, LINGER_TIME, linger).await;
                drop(tls);
                drop(slot);
                Err(error)
            }
        }
    }

    async fn upgrade(self) -> Result<Upgraded<T>, AcceptError> {
        let Incoming {
            transport,
            tcp,
            remote_addr,
            options,
            tls,
            slot,
            registry,
        } = self;
        let mut tls = transport
            .tls_accept(tcp, tls)
            .await
            .map_err(AcceptError::Tls)?;
        let peer = PeerIdentity::from_connection(T::server_tls_state(&tls))?;
        let mut outcome = None;
        let callback = upgrade_callback(&options.policy, &mut outcome);
        let config = options.limits.websocket_config();
        let upgraded = transport.ws_accept(&mut tls, callback, config).await;
        let ws = match upgraded {
            Ok(()) => transport.ws_upgraded(tls, config).await,
            Err(error) => match (Refusal::for_error(&error), outcome) {
                // Refused by tungstenite before the Mosaic rules saw it: say
                // why, as the Mosaic rules' refusals do.
                (Some(refusal), _) => {
                    let written = T::write_refusal(&mut tls, &refusal.to_http()).await;
                    let Refusal { status, reason } = refusal;
                    let error = AcceptError::Rejected { status, reason };
                    return Upgraded::refused(written.is_ok(), tls, slot, error);
                }
                // Refused by the Mosaic rules: tungstenite sent the answer
                // and then says Http, or failed to send it.
                (None, Some(UpgradeOutcome::Rejected { status, reason })) => {
                    let written = matches!(error, tungstenite::Error::Http(_));
                    let error = AcceptError::Rejected { status, reason };
                    return Upgraded::refused(written, tls, slot, error);
                }
                (None, _) => return Err(AcceptError::Upgrade(error)),
            },
        };
        let accepted = match outcome {
            Some(UpgradeOutcome::Mosaic(negotiated)) => {
                let info = ConnectionInfo::new(negotiated, peer, Some(remote_addr));
                // The driver holds the slot and the registry entry, so both go
                // when the connection does; the entry is filled in after the
                // start, since its hook points at the new session.
                let entry = Arc::new(std::sync::OnceLock::new());
                let hold = (slot, entry.clone());
                let probe = Some(T::server_ws_traffic as TrafficProbe<T::ServerWs>);
                let connection =
                    ServerConnection::start_probed(ws, info, &options, transport, hold, probe);
                let _ = entry.set(registry.register(connection.shutdown_hook()));
                Ok(Accepted::Mosaic(connection))
            }
            Some(UpgradeOutcome::Nostr) => Ok(Accepted::Nostr(NostrConnection::new(
                ws,
                peer,
                Some(remote_addr),
                slot,
            ))),
            // tungstenite upgrades only once the callback accepted: neither
            // can come with an upgraded stream.
            Some(UpgradeOutcome::Rejected { .. }) | None => {
                Err(AcceptError::Upgrade(tungstenite::Error::ConnectionClosed))
            }
        };
        accepted.map(Upgraded::Accepted)
    }
}

/// How long a refused connection is kept open, at most, after its HTTP
/// answer, reading what the client still sends ([`Incoming::handshake`]).
const LINGER_TIME: Duration = Duration::from_secs(2);

/// How much of what a refused client still sends is read and dropped, at
/// most, before its connection is closed.
const LINGER_BYTES: usize = 1 << 20;

/// How [`Incoming::upgrade`] ended.
enum Upgraded<T: Transport> {
    /// Upgraded.
    Accepted(Accepted<T::ServerWs>),
    /// Answered with an HTTP refusal: the stream is to be closed in order
    /// ([`Transport::linger`]), and holds its slot until then.
    Refused {
        tls: Box<T::ServerTls>,
        slot: Slot,
        error: AcceptError,
    },
}

impl<T: Transport> Upgraded<T> {
    /// A refusal whose answer was `written` or not: lingered on if it went,
    /// else the connection is dropped at once.
    fn refused(
        written: bool,
        tls: T::ServerTls,
        slot: Slot,
        error: AcceptError,
    ) -> Result<Upgraded<T>, AcceptError> {
        if !written {
            return Err(error);
        }
        Ok(Upgraded::Refused {
            tls: Box::new(tls),
            slot,
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(code: i32) -> AfterAcceptError {
        after_accept_error(&io::Error::from_raw_os_error(code))
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn accept_errors_are_passed_over_paused_on_or_fatal() {
        use AfterAcceptError::*;
        // ENFILE, EMFILE, ENOBUFS, ENOMEM: a shortage, waited out.
        for code in [23, 24, 105, 12] {
            assert_eq!(after(code), Pause, "errno {code}");
        }
        // ECONNABORTED, EINTR, EAGAIN, ENETDOWN, EPROTO, ENOPROTOOPT,
        // EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH: the
        // pending connection's, passed over.
        for code in [103, 4, 11, 100, 71, 92, 112, 64, 113, 95, 101] {
            assert_eq!(after(code), Retry, "errno {code}");
        }
        // EBADF, EINVAL, ENOTSOCK: the listener's.
        for code in [9, 22, 88] {
            assert_eq!(after(code), Stop, "errno {code}");
        }
    }
}
