//! What a session hands the transport, and the bounded queue that holds it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use crate::CloseCode;

/// One thing for the transport to send, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transmit {
    /// One whole Mosaic message: send it as one binary WebSocket message.
    Message(Bytes),
    /// One Record message in two parts: its 8-byte header and the record bytes,
    /// which are shared with every other subscriber the record goes to. Send
    /// them as one binary WebSocket message (two frames of one message, or
    /// [`Transmit::contiguous`] for a single buffer).
    Record {
        /// The Record message header for this query.
        header: [u8; 8],
        /// The record, not copied.
        record: Bytes,
    },
    /// A keepalive WebSocket ping.
    Ping,
    /// Close the WebSocket with this code and reason; nothing follows it.
    Close {
        /// The close code.
        code: CloseCode,
        /// A short reason (at most 123 bytes, the WebSocket limit).
        reason: String,
    },
}

impl Transmit {
    /// Bytes of Mosaic message this carries (0 for pings and closes).
    pub fn message_len(&self) -> usize {
        match self {
            Transmit::Message(bytes) => bytes.len(),
            Transmit::Record { header, record } => header.len() + record.len(),
            Transmit::Ping | Transmit::Close { .. } => 0,
        }
    }

    /// The message in one buffer (copies a Record's parts together); `None`
    /// for pings and closes.
    pub fn contiguous(self) -> Option<Bytes> {
        match self {
            Transmit::Message(bytes) => Some(bytes),
            Transmit::Record { header, record } => {
                let mut buf = BytesMut::with_capacity(header.len() + record.len());
                buf.put_slice(&header);
                buf.put_slice(&record);
                Some(buf.freeze())
            }
            Transmit::Ping | Transmit::Close { .. } => None,
        }
    }
}

/// What the transport holds of the transmits it took, as it tells the
/// session after each round of writing (for the stall check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportBacklog {
    /// Everything taken has been written and flushed.
    Empty,
    /// Bytes wait, and some were handed on since the last report (a message
    /// or frame taken by the WebSocket layer, a flush completed, or bytes
    /// taken by the socket: a large frame's flush may stay pending while
    /// the peer takes it bit by bit, which is progress too).
    Draining,
    /// Bytes wait, and none were handed on since the last report.
    Waiting,
}

/// The most a WebSocket close reason may hold (125-byte control payload − 2).
pub(crate) const MAX_CLOSE_REASON: usize = 123;

/// Cuts `reason` to the WebSocket limit on a character boundary.
pub(crate) fn close_reason(reason: &str) -> String {
    if reason.len() <= MAX_CLOSE_REASON {
        return reason.to_owned();
    }
    let mut end = MAX_CLOSE_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

/// What each queued transmit counts for besides its message bytes: its entry
/// and the allocation behind it, so that many tiny answers cannot hold much
/// more memory than the byte limit says.
pub(crate) const ENTRY_COST: usize = 64;

/// Adds `d` to `at`, saturating far in the future (a configured `Duration::MAX`
/// means "never").
pub(crate) fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// The outbound queue: bounded in bytes (each entry counting
/// [`ENTRY_COST`] more), and watched for a peer that stops reading (no
/// transmit taken for `stall_timeout` while some wait, in the queue or in
/// the transport's backlog).
#[derive(Debug)]
pub(crate) struct Outbound {
    queue: VecDeque<Transmit>,
    bytes: usize,
    max_bytes: usize,
    stall_timeout: Duration,
    /// When the transport last took a transmit, or something last began to
    /// wait (in the queue or the transport's backlog) after nothing did.
    progress_at: Option<Instant>,
    /// The transport still holds bytes it took and has not handed on.
    backlog: bool,
}

impl Outbound {
    pub(crate) fn new(max_bytes: usize, stall_timeout: Duration) -> Outbound {
        Outbound {
            queue: VecDeque::new(),
            bytes: 0,
            max_bytes,
            stall_timeout,
            progress_at: None,
            backlog: false,
        }
    }

    /// Whether a message of `len` bytes fits.
    pub(crate) fn has_room(&self, len: usize) -> bool {
        self.queue.is_empty() || self.bytes + len + ENTRY_COST <= self.max_bytes
    }

    /// Whether the queue is below its limit (so reading more input is fine).
    pub(crate) fn below_limit(&self) -> bool {
        self.bytes < self.max_bytes
    }

    /// Queues a transmit without checking room: callers check [`Outbound::has_room`]
    /// for application messages; automatic answers are tiny and only made while
    /// input is read, which stops when the queue is full (a transport that
    /// reads in batches may pass the limit by one batch's answers).
    pub(crate) fn push(&mut self, transmit: Transmit, now: Instant) {
        // Set unless something already waits (here or in the backlog).
        self.progress_at.get_or_insert(now);
        self.bytes += transmit.message_len() + ENTRY_COST;
        self.queue.push_back(transmit);
    }

    /// Queues a keepalive ping ahead of the messages (control frames may go
    /// between messages), so that its timeout measures the peer, not our
    /// queue; not a second one while one waits there.
    pub(crate) fn push_ping(&mut self, now: Instant) {
        if matches!(self.queue.front(), Some(Transmit::Ping)) {
            return;
        }
        self.progress_at.get_or_insert(now);
        self.bytes += ENTRY_COST;
        self.queue.push_front(Transmit::Ping);
    }

    pub(crate) fn pop(&mut self, now: Instant) -> Option<Transmit> {
        let transmit = self.queue.pop_front()?;
        self.bytes -= transmit.message_len() + ENTRY_COST;
        self.progress_at = if self.queue.is_empty() && !self.backlog {
            None
        } else {
            Some(now)
        };
        Some(transmit)
    }

    /// What the transport holds of what it took (its batch, a message in
    /// frames, an unflushed write buffer). Those bytes wait as the queue's
    /// do: a peer that stops reading after the transport took everything is
    /// still found out. Bytes the transport hands on are progress, as a
    /// transmit taken is: a slow reader taking a large message frame by
    /// frame is not a stalled one.
    pub(crate) fn set_backlog(&mut self, backlog: TransportBacklog, now: Instant) {
        self.backlog = backlog != TransportBacklog::Empty;
        match backlog {
            TransportBacklog::Empty if self.queue.is_empty() => self.progress_at = None,
            TransportBacklog::Empty => {}
            TransportBacklog::Draining => self.progress_at = Some(now),
            TransportBacklog::Waiting => {
                self.progress_at.get_or_insert(now);
            }
        }
    }

    /// When the queue counts as stalled, if transmits are waiting.
    pub(crate) fn stall_deadline(&self) -> Option<Instant> {
        self.progress_at.map(|at| later(at, self.stall_timeout))
    }

    /// Whether anything waits to be sent.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    pub(crate) fn queued_bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn clear(&mut self) {
        self.queue.clear();
        self.bytes = 0;
        self.progress_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_counts_bytes_and_tracks_progress() {
        let t0 = Instant::now();
        let mut out = Outbound::new(16 + 2 * ENTRY_COST, Duration::from_secs(5));
        assert!(out.has_room(100), "an empty queue takes any one message");
        out.push(Transmit::Message(Bytes::from_static(&[0; 10])), t0);
        assert_eq!(out.queued_bytes(), 10 + ENTRY_COST);
        // 16 bytes of messages fit, each entry counting ENTRY_COST more.
        assert!(out.has_room(6));
        assert!(!out.has_room(7));
        assert_eq!(out.stall_deadline(), Some(t0 + Duration::from_secs(5)));
        out.push(
            Transmit::Close {
                code: crate::CloseCode::NORMAL,
                reason: String::new(),
            },
            t0,
        );
        out.push_ping(t0);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(out.pop(t1), Some(Transmit::Ping), "pings go first");
        assert!(matches!(out.pop(t1), Some(Transmit::Message(_))));
        assert_eq!(out.stall_deadline(), Some(t1 + Duration::from_secs(5)));
        assert!(matches!(out.pop(t1), Some(Transmit::Close { .. })));
        assert_eq!(out.stall_deadline(), None);
        assert_eq!(out.queued_bytes(), 0);
    }

    #[test]
    fn the_transports_backlog_waits_as_the_queue_does() {
        let t0 = Instant::now();
        let stall = Duration::from_secs(5);
        let mut out = Outbound::new(1024, stall);
        out.set_backlog(TransportBacklog::Waiting, t0);
        assert_eq!(out.stall_deadline(), Some(t0 + stall), "from now");
        out.push(Transmit::Ping, t0 + stall / 2);
        assert_eq!(out.stall_deadline(), Some(t0 + stall), "still from t0");
        // The transport takes the last transmit and still holds it.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(out.pop(t1), Some(Transmit::Ping));
        assert_eq!(out.stall_deadline(), Some(t1 + stall), "from the take");
        out.set_backlog(TransportBacklog::Waiting, t1 + stall / 2);
        assert_eq!(out.stall_deadline(), Some(t1 + stall), "not moved on");
        // Some of it handed on: progress.
        let t2 = t1 + stall / 2;
        out.set_backlog(TransportBacklog::Draining, t2);
        assert_eq!(out.stall_deadline(), Some(t2 + stall), "moved on");
        // All handed on: nothing waits.
        out.set_backlog(TransportBacklog::Empty, t2);
        assert_eq!(out.stall_deadline(), None);
        // The backlog gone while the queue holds something: the queue's
        // clock runs on.
        out.push(Transmit::Ping, t2);
        out.set_backlog(TransportBacklog::Empty, t2 + stall / 2);
        assert_eq!(out.stall_deadline(), Some(t2 + stall));
    }

    #[test]
    fn record_parts_join_into_one_message() {
        let t = Transmit::Record {
            header: [0x80, 12, 0, 0, 1, 0, 0, 0],
            record: Bytes::from_static(b"abcd"),
        };
        assert_eq!(t.message_len(), 12);
        assert_eq!(
            t.contiguous().expect("message")[..],
            b"\x80\x0c\0\0\x01\0\0\0abcd"[..]
        );
    }

    #[test]
    fn close_reasons_are_cut_on_a_char_boundary() {
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert!(cut.len() <= MAX_CLOSE_REASON);
        assert!(long.starts_with(&cut));
    }
}
