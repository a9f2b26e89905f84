//! The sans-IO connection bookkeeping that both runtime adapters drive.
//!
//! A [`ServerSession`] or [`ClientSession`] holds the protocol state of one
//! connection. The transport feeds it what arrives (`handle_*`, with the time
//! passed in as `now`) and drains what it decided (`poll_*`). It reads no clock
//! and owns no socket.
//!
//! The transport's loop, in this order each time it wakes:
//!
//! 1. while [`wants_input`](ServerSession::wants_input) and a WebSocket message
//!    is ready: `handle_binary` / `handle_text` / `handle_ping_or_pong`, or
//!    `handle_peer_close` when the peer closes;
//! 2. if the time reached [`poll_timeout`](ServerSession::poll_timeout): `handle_timeout`;
//! 3. drain `poll_event` to the application;
//! 4. drain `poll_transmit` to the socket while it accepts data; after
//!    [`Transmit::Close`] send nothing more;
//! 5. tell [`set_transport_backlog`](ServerSession::set_transport_backlog)
//!    what the transport still holds of what it took, and whether it
//!    handed some on, and
//!    [`handle_transport_activity`](ServerSession::handle_transport_activity)
//!    when bytes arrived that made no whole message, or the peer took
//!    bytes from a full send buffer;
//! 6. sleep until input, an application call, or `poll_timeout`.

mod client;
mod keepalive;
mod server;
mod transmit;

use std::fmt;
use std::time::{Duration, Instant};

pub use client::{ClientConfig, ClientEvent, ClientSession, Ignored};
pub use keepalive::KeepaliveConfig;
pub use server::{QueryRef, ServerConfig, ServerEvent, ServerSession, SubmissionRef};
pub use transmit::{Transmit, TransportBacklog};

use crate::{CloseCode, DecodeError, IdPrefix, QueryId};
use keepalive::{Keepalive, KeepaliveAction};
use transmit::{Outbound, close_reason};

/// Why a connection closed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCause {
    /// The local application closed it.
    Local,
    /// The peer sent a close frame.
    Peer,
    /// The peer broke the protocol.
    Violation(DecodeError),
    /// The peer sent a text WebSocket message.
    TextMessage,
    /// A client stayed idle (no open query or submission) past the idle timeout.
    Idle,
    /// The peer answered no keepalive ping.
    PeerUnresponsive,
    /// The peer stopped reading: queued messages made no progress for the stall timeout.
    PeerNotReading,
    /// The server is shutting down.
    Shutdown,
    /// The transport failed (I/O or TLS error) and closed without a close frame.
    Transport(String),
}

impl fmt::Display for CloseCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseCause::Local => f.write_str("closed by the local application"),
            CloseCause::Peer => f.write_str("closed by the peer"),
            CloseCause::Violation(e) => write!(f, "protocol violation by the peer: {e}"),
            CloseCause::TextMessage => f.write_str("the peer sent a text message"),
            CloseCause::Idle => f.write_str("idle: no open query or submission"),
            CloseCause::PeerUnresponsive => f.write_str("the peer answered no keepalive ping"),
            CloseCause::PeerNotReading => f.write_str("the peer stopped reading"),
            CloseCause::Shutdown => f.write_str("the server is shutting down"),
            CloseCause::Transport(e) => write!(f, "transport failed: {e}"),
        }
    }
}

/// How a connection ended: the close code sent or received, its reason, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// The WebSocket close code (sent by whoever closed first).
    pub code: CloseCode,
    /// The close reason text.
    pub reason: String,
    /// Why it closed.
    pub cause: CloseCause,
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} with {}", self.cause, self.code)?;
        if !self.reason.is_empty() {
            write!(f, " \"{}\"", self.reason)?;
        }
        Ok(())
    }
}

/// What the local application asked that the session cannot do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The connection is closing or closed.
    #[error("the connection is closed: {0}")]
    Closed(Closed),
    /// The outbound queue has no room for this message; wait and retry, or give up.
    #[error("the outbound queue holds {queued} bytes; {len} more would pass its {max}-byte limit")]
    QueueFull {
        /// Bytes queued.
        queued: usize,
        /// Bytes of the message.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The query is not open (answered, cancelled, or never opened).
    #[error("{0} is not open")]
    UnknownQuery(QueryId),
    /// The query's LIMIT is reached: no more records may be sent for it.
    #[error("{query_id} already got the {limit} records its limit allows")]
    LimitReached {
        /// The query.
        query_id: QueryId,
        /// Its limit.
        limit: u16,
    },
    /// Locally Complete is only for subscriptions, once.
    #[error("{0} is not a subscription waiting for Locally Complete")]
    NotAwaitingLocallyComplete(QueryId),
    /// No submission with this ID prefix awaits a result.
    #[error("no submission {0} awaits a result")]
    UnknownSubmission(IdPrefix),
    /// The client already has its maximum of open queries.
    #[error("{max} queries are open, the configured maximum")]
    TooManyOpenQueries {
        /// The limit.
        max: usize,
    },
    /// The client already has its maximum of submissions awaiting results.
    #[error("{max} submissions await results, the configured maximum")]
    TooManyPendingSubmissions {
        /// The limit.
        max: usize,
    },
}

/// The state both sessions share: outbound queue, keepalive, close state.
#[derive(Debug)]
struct Core {
    outbound: Outbound,
    keepalive: Keepalive,
    /// Set once a close is decided (queued or received); nothing is sent after.
    /// Boxed: every open connection carries this field, few ever fill it.
    closed: Option<Box<Closed>>,
}

impl Core {
    fn new(
        max_outbound_bytes: usize,
        stall_timeout: Duration,
        keepalive: Option<KeepaliveConfig>,
        now: Instant,
    ) -> Core {
        Core {
            outbound: Outbound::new(max_outbound_bytes, stall_timeout),
            keepalive: Keepalive::new(keepalive, now),
            closed: None,
        }
    }

    fn check_open(&self) -> Result<(), SessionError> {
        match &self.closed {
            Some(closed) => Err(SessionError::Closed(Closed::clone(closed))),
            None => Ok(()),
        }
    }

    /// Checks that an application message of `len` bytes may be queued now.
    fn check_room(&self, len: usize) -> Result<(), SessionError> {
        self.check_open()?;
        if !self.outbound.has_room(len) {
            return Err(SessionError::QueueFull {
                queued: self.outbound.queued_bytes(),
                len,
                max: self.outbound.max_bytes(),
            });
        }
        Ok(())
    }

    /// Decides to close: queues the close frame after what is already queued.
    fn close(&mut self, code: CloseCode, reason: &str, cause: CloseCause, now: Instant) {
        if self.closed.is_some() {
            return;
        }
        // An application's code a close frame may not carry goes out as 1000.
        let code = if code.may_be_sent() {
            code
        } else {
            CloseCode::NORMAL
        };
        let reason = close_reason(reason);
        if matches!(
            cause,
            CloseCause::PeerNotReading | CloseCause::PeerUnresponsive
        ) {
            // Nothing queued will get through; do not keep it.
            self.outbound.clear();
        }
        self.outbound.push(
            Transmit::Close {
                code,
                reason: reason.clone(),
            },
            now,
        );
        self.closed = Some(Box::new(Closed {
            code,
            reason,
            cause,
        }));
    }

    /// Closing because of what the peer sent.
    fn close_for(&mut self, error: DecodeError, code: CloseCode, now: Instant) {
        let reason = error.to_string();
        self.close(code, &reason, CloseCause::Violation(error), now);
    }

    /// The peer closed, or the transport ended: nothing more is sent.
    fn closed_by(&mut self, closed: Closed) {
        self.outbound.clear();
        if self.closed.is_none() {
            self.closed = Some(Box::new(closed));
        }
    }

    fn handle_text(&mut self, now: Instant) {
        self.keepalive.heard(now);
        self.close(
            CloseCode::UNSUPPORTED_DATA,
            "Mosaic uses binary messages only",
            CloseCause::TextMessage,
            now,
        );
    }

    fn handle_peer_close(&mut self, code: Option<CloseCode>, reason: &str) {
        self.closed_by(Closed {
            code: code.unwrap_or(CloseCode(1005)),
            reason: close_reason(reason),
            cause: CloseCause::Peer,
        });
    }

    fn handle_oversize(&mut self, len: usize, max: usize, now: Instant) {
        self.keepalive.heard(now);
        let error = DecodeError::TooLarge {
            ty: crate::MessageType(0),
            len,
            max,
        };
        let reason = format!("message of {len} bytes exceeds the {max}-byte limit");
        self.close(
            CloseCode::MESSAGE_TOO_BIG,
            &reason,
            CloseCause::Violation(error),
            now,
        );
    }

    fn handle_transport_error(&mut self, error: &str) {
        self.closed_by(Closed {
            code: CloseCode(1006),
            reason: String::new(),
            cause: CloseCause::Transport(error.to_owned()),
        });
    }

    /// Keepalive and stall checks. `input_held` says the transport is not
    /// reading because the application lags: the peer cannot be heard then,
    /// so the keepalive waits rather than blaming it.
    fn handle_timeout(&mut self, now: Instant, input_held: bool) {
        let stalled = self.outbound.stall_deadline().is_some_and(|d| now >= d);
        if self.closed.is_some() {
            // Still sending what was queued before the close: a peer that
            // stopped reading gets nothing more, and the transport can go.
            if stalled {
                self.outbound.clear();
            }
            return;
        }
        if stalled {
            self.close(
                CloseCode::POLICY_VIOLATION,
                "peer stopped reading",
                CloseCause::PeerNotReading,
                now,
            );
            return;
        }
        if input_held {
            self.keepalive.heard(now);
            return;
        }
        match self.keepalive.on_timeout(now) {
            KeepaliveAction::Nothing => {}
            KeepaliveAction::Ping => self.outbound.push_ping(now),
            KeepaliveAction::PeerGone => self.close(
                CloseCode::GOING_AWAY,
                "keepalive timeout",
                CloseCause::PeerUnresponsive,
                now,
            ),
        }
    }

    fn poll_timeout(&self, input_held: bool) -> Option<Instant> {
        if self.closed.is_some() {
            return self.outbound.stall_deadline();
        }
        let keepalive = (!input_held).then(|| self.keepalive.deadline()).flatten();
        [self.outbound.stall_deadline(), keepalive]
            .into_iter()
            .flatten()
            .min()
    }
}

/// What a transport needs from either session: the inputs, outputs and timer
/// of the loop in the [module docs](self). Implemented by [`ServerSession`] and
/// [`ClientSession`], so one transport loop can drive both.
pub trait Session {
    /// Whether the transport should read more input now.
    fn wants_input(&self) -> bool;
    /// A binary WebSocket message arrived.
    fn handle_binary(&mut self, bytes: bytes::Bytes, now: Instant);
    /// A text WebSocket message arrived.
    fn handle_text(&mut self, now: Instant);
    /// A ping or pong arrived.
    fn handle_ping_or_pong(&mut self, now: Instant);
    /// The WebSocket layer refused a message over `max` bytes (`len` if known,
    /// else the limit): close with 1009.
    fn handle_oversize(&mut self, len: usize, max: usize, now: Instant);
    /// The peer sent a close frame.
    fn handle_peer_close(&mut self, code: Option<CloseCode>, reason: &str);
    /// The transport failed; nothing more can be sent.
    fn handle_transport_error(&mut self, error: &str);
    /// Time passed `poll_timeout`.
    fn handle_timeout(&mut self, now: Instant);
    /// When `handle_timeout` should next be called.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The next thing to send.
    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit>;
    /// How the connection ended, once a close is decided or received.
    fn closed(&self) -> Option<&Closed>;
    /// Whether events wait for the application.
    fn has_events(&self) -> bool;
    /// Bytes of messages queued for the peer (each entry counting a little more).
    fn queued_bytes(&self) -> usize;
    /// Whether anything waits to be sent. Once the session is closed and
    /// nothing waits, the transport has nothing more to do but hear the peer.
    fn has_transmits(&self) -> bool;
    /// What the transport holds of what it took from `poll_transmit` (for
    /// the stall check).
    fn set_transport_backlog(&mut self, backlog: TransportBacklog, now: Instant);
    /// Evidence the peer is alive, short of a whole message (for the
    /// keepalive). The default ignores it.
    fn handle_transport_activity(&mut self, now: Instant) {
        let _ = now;
    }
}

/// The transport inputs and outputs both sessions share, written once: each
/// forwards to [`Core`].
macro_rules! common_methods {
    ($ty:ty, $peer:literal) => {
        impl $ty {
            /// A text WebSocket message arrived: close with 1003 (rulings).
            pub fn handle_text(&mut self, now: Instant) {
                self.core.handle_text(now);
            }

            /// A ping or pong arrived (the WebSocket layer answers pings itself).
            pub fn handle_ping_or_pong(&mut self, now: Instant) {
                self.core.keepalive.heard(now);
            }

            #[doc = concat!("The ", $peer, " sent a close frame.")]
            pub fn handle_peer_close(&mut self, code: Option<CloseCode>, reason: &str) {
                self.core.handle_peer_close(code, reason);
            }

            /// The WebSocket layer refused a message over `max` bytes: close with 1009.
            pub fn handle_oversize(&mut self, len: usize, max: usize, now: Instant) {
                self.core.handle_oversize(len, max, now);
            }

            /// The transport failed; nothing more can be sent.
            pub fn handle_transport_error(&mut self, error: &str) {
                self.core.handle_transport_error(error);
            }

            /// Whether anything waits to be sent.
            pub fn has_transmits(&self) -> bool {
                !self.core.outbound.is_empty()
            }

            /// Tells the session what the transport holds of what it took
            /// from `poll_transmit` (a batch, a message in frames, an
            /// unflushed write buffer), and whether it handed some on since
            /// the last call. Call it after each round of writing. The stall
            /// check counts that backlog as waiting, so a peer that stops
            /// reading is closed with 1008 even once the queue is empty (it
            /// may keep the keepalive content with pings of its own while
            /// our bytes sit unread); bytes handed on count as progress.
            pub fn set_transport_backlog(&mut self, backlog: TransportBacklog, now: Instant) {
                self.core.outbound.set_backlog(backlog, now);
            }

            #[doc = concat!("The transport has evidence that the ", $peer, " is alive, short of a")]
            /// whole message: part of a large message arrived, or the peer
            /// took bytes from a send buffer that was full (only its
            /// acknowledgements free room there). The keepalive waits as if
            /// it had heard a message. Without this, a peer busy with one
            /// large frame is pinged, and the ping or its pong waits behind
            /// that frame: the connection would be closed as unresponsive
            /// while data flows. (Bytes a socket merely took to send prove
            /// nothing: it takes them into its own buffer whether the peer
            /// lives or not.)
            pub fn handle_transport_activity(&mut self, now: Instant) {
                self.core.keepalive.heard(now);
            }

            #[doc = concat!("Bytes of messages queued for the ", $peer, " (each entry counting a little more).")]
            pub fn queued_bytes(&self) -> usize {
                self.core.outbound.queued_bytes()
            }

            /// How the connection ended, once a close is decided or received.
            pub fn closed(&self) -> Option<&Closed> {
                self.core.closed.as_deref()
            }
        }
    };
}

common_methods!(ServerSession, "client");
common_methods!(ClientSession, "server");

macro_rules! impl_session {
    ($ty:ty) => {
        impl Session for $ty {
            fn wants_input(&self) -> bool {
                <$ty>::wants_input(self)
            }
            fn handle_binary(&mut self, bytes: bytes::Bytes, now: Instant) {
                <$ty>::handle_binary(self, bytes, now)
            }
            fn handle_text(&mut self, now: Instant) {
                <$ty>::handle_text(self, now)
            }
            fn handle_ping_or_pong(&mut self, now: Instant) {
                <$ty>::handle_ping_or_pong(self, now)
            }
            fn handle_oversize(&mut self, len: usize, max: usize, now: Instant) {
                <$ty>::handle_oversize(self, len, max, now)
            }
            fn handle_peer_close(&mut self, code: Option<CloseCode>, reason: &str) {
                <$ty>::handle_peer_close(self, code, reason)
            }
            fn handle_transport_error(&mut self, error: &str) {
                <$ty>::handle_transport_error(self, error)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$ty>::handle_timeout(self, now)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$ty>::poll_timeout(self)
            }
            fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
                <$ty>::poll_transmit(self, now)
            }
            fn closed(&self) -> Option<&Closed> {
                <$ty>::closed(self)
            }
            fn has_events(&self) -> bool {
                <$ty>::has_events(self)
            }
            fn queued_bytes(&self) -> usize {
                <$ty>::queued_bytes(self)
            }
            fn has_transmits(&self) -> bool {
                <$ty>::has_transmits(self)
            }
            fn set_transport_backlog(&mut self, backlog: TransportBacklog, now: Instant) {
                <$ty>::set_transport_backlog(self, backlog, now)
            }
            fn handle_transport_activity(&mut self, now: Instant) {
                <$ty>::handle_transport_activity(self, now)
            }
        }
    };
}

impl_session!(ServerSession);
impl_session!(ClientSession);

#[cfg(test)]
mod tests;
