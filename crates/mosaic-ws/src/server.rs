//! The server's side of a Mosaic connection: requests in, answers out.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mosaic_proto::session::{
    Closed, QueryRef, ServerEvent, ServerSession, SessionError, SubmissionRef,
};
use mosaic_proto::{CloseCode, QueryClosedCode, Record, ServerExtension, SubmissionResultCode};

use crate::driver::{TrafficProbe, WebSocket, spawn_driver};
use crate::shared::Shared;
use crate::{ConnectionInfo, Runtime, ServerOptions};

/// An upgraded connection, as a runtime adapter's `accept` hands it over.
#[derive(Debug)]
pub enum Accepted<N> {
    /// A Mosaic connection, its session running.
    Mosaic(ServerConnection),
    /// A nostr WebSocket (dual-stack mode only).
    Nostr(NostrConnection<N>),
}

/// A nostr WebSocket handed over in dual-stack mode, with the client's TLS
/// identity and address. It dereferences to the WebSocket stream, and holds
/// the connection's place within the server's connection limit until
/// dropped; [`NostrConnection::into_parts`] gives the stream away.
pub struct NostrConnection<N> {
    /// The stream and the identity in one box: an `Accepted` stays as small
    /// as a Mosaic connection's handles, so that a handler task holding one
    /// is not sized by the rare nostr case.
    inner: Box<NostrParts<N>>,
    permit: ConnectionPermit,
}

struct NostrParts<N> {
    stream: N,
    peer: mosaic_tls::PeerIdentity,
    remote_addr: Option<SocketAddr>,
}

/// A connection's place within the server's connection limit, freed when
/// this is dropped.
pub struct ConnectionPermit(#[allow(dead_code, reason = "held for its drop")] Box<dyn Send + Sync>);

impl std::fmt::Debug for ConnectionPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPermit").finish_non_exhaustive()
    }
}

impl<N> NostrConnection<N> {
    pub(crate) fn new(
        stream: N,
        peer: mosaic_tls::PeerIdentity,
        remote_addr: Option<SocketAddr>,
        hold: impl Send + Sync + 'static,
    ) -> Self {
        NostrConnection {
            inner: Box::new(NostrParts {
                stream,
                peer,
                remote_addr,
            }),
            permit: ConnectionPermit(Box::new(hold)),
        }
    }

    /// Who the client proved to be in the TLS handshake.
    pub fn peer_identity(&self) -> &mosaic_tls::PeerIdentity {
        &self.inner.peer
    }

    /// The client's address.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr
    }

    /// The WebSocket stream, for a nostr library that wants to own it, with
    /// the client's identity and the permit that holds the connection's
    /// place within the server's limit: keep it as long as the stream.
    pub fn into_parts(self) -> (N, mosaic_tls::PeerIdentity, ConnectionPermit) {
        let NostrParts { stream, peer, .. } = *self.inner;
        (stream, peer, self.permit)
    }
}

impl<N> std::ops::Deref for NostrConnection<N> {
    type Target = N;

    fn deref(&self) -> &N {
        &self.inner.stream
    }
}

impl<N> std::ops::DerefMut for NostrConnection<N> {
    fn deref_mut(&mut self) -> &mut N {
        &mut self.inner.stream
    }
}

impl<N> std::fmt::Debug for NostrConnection<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NostrConnection")
            .field("peer", &self.inner.peer)
            .field("remote_addr", &self.inner.remote_addr)
            .finish_non_exhaustive()
    }
}

/// An accepted Mosaic connection, server side: receive the client's requests
/// with [`ServerConnection::recv`], answer through [`ServerConnection::sender`]
/// (or [`ServerConnection::split`] to answer from other tasks).
///
/// A driver task moves the bytes; dropping every handle lets it close the
/// connection with 1000 once nothing is left to send.
#[derive(Debug)]
pub struct ServerConnection {
    sender: ServerSender,
    receiver: ServerReceiver,
}

impl ServerConnection {
    /// Starts the session and its driver over a WebSocket whose upgrade
    /// negotiated what `info` says.
    pub fn start<W: WebSocket, R: Runtime>(
        ws: W,
        info: ConnectionInfo,
        options: &ServerOptions,
        runtime: R,
    ) -> ServerConnection {
        Self::start_holding(ws, info, options, runtime, ())
    }

    /// Like [`ServerConnection::start`], keeping `hold` alive until the
    /// connection is over (for instance a permit of a connection limit).
    pub fn start_holding<W: WebSocket, R: Runtime>(
        ws: W,
        info: ConnectionInfo,
        options: &ServerOptions,
        runtime: R,
        hold: impl Send + 'static,
    ) -> ServerConnection {
        Self::start_probed(ws, info, options, runtime, hold, None)
    }

    /// Like [`ServerConnection::start_holding`], the driver watching the
    /// bytes the socket moves with `traffic_probe` (the stall check and the
    /// keepalive).
    pub(crate) fn start_probed<W: WebSocket, R: Runtime>(
        ws: W,
        info: ConnectionInfo,
        options: &ServerOptions,
        runtime: R,
        hold: impl Send + 'static,
        traffic_probe: Option<TrafficProbe<W>>,
    ) -> ServerConnection {
        let config = options.session_for(info.negotiated());
        let shared = Shared::new(ServerSession::new(config, Instant::now()));
        spawn_driver(
            ws,
            &shared,
            runtime.clone(),
            &options.limits,
            Box::new(hold),
            traffic_probe,
        );
        let info = Arc::new(info);
        let guard = Arc::new(CloseOnDrop(shared.clone()));
        ServerConnection {
            sender: ServerSender {
                shared: shared.clone(),
                info: info.clone(),
                _guard: guard.clone(),
            },
            receiver: ServerReceiver {
                shared,
                info,
                _guard: guard,
            },
        }
    }

    /// The next request, or `None` once the connection is closed.
    pub async fn recv(&mut self) -> Option<ServerEvent> {
        self.receiver.recv().await
    }

    /// The half that answers.
    pub fn sender(&self) -> &ServerSender {
        &self.sender
    }

    /// Negotiated extensions, service URL, the client's identity and address.
    pub fn info(&self) -> &ConnectionInfo {
        &self.sender.info
    }

    /// Shuts the connection down gracefully when it is still open: Query Closed
    /// `SHUTTING_DOWN` for every open query, then close with 1001. Kept by the
    /// server without keeping the connection alive.
    pub(crate) fn shutdown_hook(&self) -> ShutdownHook {
        ShutdownHook(Arc::downgrade(&self.sender.shared))
    }

    /// Splits into a sender (cloneable, for answering from many tasks) and a receiver.
    pub fn split(self) -> (ServerSender, ServerReceiver) {
        (self.sender, self.receiver)
    }
}

/// A weak handle that can shut a connection down; see
/// [`ServerConnection::shutdown_hook`].
#[derive(Debug)]
pub(crate) struct ShutdownHook(std::sync::Weak<Shared<ServerSession>>);

impl ShutdownHook {
    pub(crate) fn shutdown(&self) {
        if let Some(shared) = self.0.upgrade() {
            let mut inner = shared.lock();
            inner.session.shutdown(Instant::now());
            inner.wake_driver();
        }
    }
}

/// Closes the connection once the application has dropped every handle.
#[derive(Debug)]
struct CloseOnDrop(Arc<Shared<ServerSession>>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.session.close(CloseCode::NORMAL, "", Instant::now());
        inner.wake_driver();
    }
}

/// The receiving half of a [`ServerConnection`].
///
/// Dropping it closes the connection after what is queued (1000, or 1011
/// when dropped by a panic): nobody can read the client's requests any
/// more, and a connection whose senders live on (in a registry of
/// subscribers, say) would otherwise leave them unanswered for ever.
#[derive(Debug)]
pub struct ServerReceiver {
    shared: Arc<Shared<ServerSession>>,
    info: Arc<ConnectionInfo>,
    _guard: Arc<CloseOnDrop>,
}

impl ServerReceiver {
    /// The next request, or `None` once the connection is closed.
    pub async fn recv(&mut self) -> Option<ServerEvent> {
        poll_fn(|cx| self.shared.poll_event(cx, ServerSession::poll_event)).await
    }

    /// Negotiated extensions, service URL, the client's identity and address.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// How the connection closed, once it has (`recv` gives `None` then).
    pub fn close_reason(&self) -> Option<Closed> {
        self.shared.close_reason()
    }
}

impl Drop for ServerReceiver {
    fn drop(&mut self) {
        let (code, reason) = if std::thread::panicking() {
            (CloseCode::INTERNAL_ERROR, "server error")
        } else {
            (CloseCode::NORMAL, "")
        };
        let _ = self.shared.call(|session, now| {
            session.close(code, reason, now);
            Ok(())
        });
    }
}

/// The answering half of a [`ServerConnection`]; clone it freely.
///
/// The `async` methods wait while the outbound queue is full; the queue is
/// bounded, and a client that stops reading is closed after the stall timeout,
/// which ends the wait with [`SessionError::Closed`].
#[derive(Clone, Debug)]
pub struct ServerSender {
    shared: Arc<Shared<ServerSession>>,
    info: Arc<ConnectionInfo>,
    _guard: Arc<CloseOnDrop>,
}

impl ServerSender {
    async fn call<T>(
        &self,
        mut f: impl FnMut(&mut ServerSession, Instant) -> Result<T, SessionError>,
    ) -> Result<T, SessionError> {
        poll_fn(|cx| self.shared.poll_call(cx, &mut f)).await
    }

    /// Sends a record for an open query, waiting for room in the queue.
    ///
    /// # Errors
    /// See [`ServerSession::send_record`].
    pub async fn send_record(&self, query: QueryRef, record: &Record) -> Result<(), SessionError> {
        self.call(|s, now| s.send_record(query, record, now)).await
    }

    /// Like [`ServerSender::send_record`], but waits until, with the record
    /// queued, `room` more bytes stay free (at most half the queue): for
    /// answers sent in bulk, so that live records sent meanwhile with
    /// [`ServerSender::try_send_record`] find room. See
    /// [`ServerSession::send_record_leaving`].
    ///
    /// # Errors
    /// See [`ServerSession::send_record`].
    pub async fn send_record_leaving(
        &self,
        query: QueryRef,
        record: &Record,
        room: usize,
    ) -> Result<(), SessionError> {
        self.call(|s, now| s.send_record_leaving(query, record, room, now))
            .await
    }

    /// Sends a record now, or fails with [`SessionError::QueueFull`]: for live
    /// records, where waiting on one slow subscriber would hold up the others.
    ///
    /// # Errors
    /// See [`ServerSession::send_record`].
    pub fn try_send_record(&self, query: QueryRef, record: &Record) -> Result<(), SessionError> {
        self.shared.call(|s, now| s.send_record(query, record, now))
    }

    /// Tells the client a subscription's stored records are all sent.
    ///
    /// # Errors
    /// See [`ServerSession::locally_complete`].
    pub async fn locally_complete(&self, query: QueryRef) -> Result<(), SessionError> {
        self.call(|s, now| s.locally_complete(query, now)).await
    }

    /// Ends a query with a code (`ON_REQUEST` once a Get or Query is served).
    ///
    /// # Errors
    /// See [`ServerSession::close_query`].
    pub async fn close_query(
        &self,
        query: QueryRef,
        code: QueryClosedCode,
    ) -> Result<(), SessionError> {
        self.call(|s, now| s.close_query(query, code, now)).await
    }

    /// Answers a submission.
    ///
    /// # Errors
    /// See [`ServerSession::submission_result`].
    pub async fn submission_result(
        &self,
        submission: SubmissionRef,
        code: SubmissionResultCode,
    ) -> Result<(), SessionError> {
        self.call(|s, now| s.submission_result(submission, code, now))
            .await
    }

    /// Sends a message of a negotiated extension.
    ///
    /// # Errors
    /// See [`ServerSession::send_extension`].
    pub async fn send_extension(&self, message: &ServerExtension) -> Result<(), SessionError> {
        self.call(|s, now| s.send_extension(message, now)).await
    }

    /// Closes the connection after what is queued. A code no close frame may
    /// carry ([`CloseCode::may_be_sent`]) goes out as 1000.
    pub fn close(&self, code: CloseCode, reason: &str) {
        let _ = self.shared.call(|s, now| {
            s.close(code, reason, now);
            Ok(())
        });
    }

    /// Graceful shutdown: Query Closed `SHUTTING_DOWN` for every open query,
    /// then close with 1001.
    pub fn shutdown(&self) {
        let _ = self.shared.call(|s, now| {
            s.shutdown(now);
            Ok(())
        });
    }

    /// Waits until the connection has closed and its transport is released.
    pub async fn closed(&self) -> Closed {
        poll_fn(|cx| self.shared.poll_finished(cx)).await
    }

    /// How the connection closed, once it has.
    pub fn close_reason(&self) -> Option<Closed> {
        self.shared.close_reason()
    }

    /// Bytes queued for the client and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.shared.lock().session.queued_bytes()
    }

    /// Negotiated extensions, service URL, the client's identity and address.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler task holds its `Accepted` for as long as the connection
    /// lives: the nostr case, whatever its stream, must not make every
    /// Mosaic connection's task bigger.
    #[test]
    fn accepted_is_no_bigger_than_a_mosaic_connection_and_a_tag() {
        let mosaic = std::mem::size_of::<ServerConnection>();
        assert!(std::mem::size_of::<Accepted<[u8; 4096]>>() <= mosaic + 8);
    }

    /// A server connection over the driver tests' in-memory peer, its
    /// driver task parked (never run).
    fn connection() -> ServerConnection {
        use std::collections::VecDeque;

        use crate::client::tests::Parked;
        use crate::driver::tests::{Peer, Recorder};

        let identity = mosaic_tls::Identity::generate().expect("rng");
        let tls = mosaic_tls::ServerTls::builder(identity)
            .build()
            .expect("tls");
        let peer = Peer::new(VecDeque::new(), usize::MAX, true);
        let info = ConnectionInfo::new(
            mosaic_handshake::Negotiated::default(),
            mosaic_tls::PeerIdentity::Anonymous,
            None,
        );
        let options = ServerOptions::new(tls);
        ServerConnection::start(Recorder(peer), info, &options, Parked::default())
    }

    /// Nobody can read the client's requests once the receiver is gone, so
    /// the connection closes though a sender lives on (kept in a registry of
    /// subscribers, say): 1000, or 1011 when a panic dropped it.
    #[test]
    fn dropping_the_receiver_closes_the_connection() {
        let (sender, receiver) = connection().split();
        assert_eq!(receiver.close_reason(), None);
        drop(receiver);
        let closed = sender.close_reason().expect("closed");
        assert_eq!(closed.code, CloseCode::NORMAL);
        assert_eq!(closed.cause, mosaic_proto::session::CloseCause::Local);

        let (sender, receiver) = connection().split();
        let handler = std::panic::AssertUnwindSafe(move || {
            let _receiver = receiver;
            panic!("a handler fails (this panic is the test's)");
        });
        assert!(std::panic::catch_unwind(handler).is_err());
        let closed = sender.close_reason().expect("closed");
        assert_eq!(closed.code, CloseCode::INTERNAL_ERROR);
        assert_eq!(closed.reason, "server error");
    }
}
