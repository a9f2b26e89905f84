//! The driver that moves bytes between a WebSocket and a session.
//!
//! It decides nothing about the protocol: it feeds what arrives to the session,
//! sends what the session queues, arms the session's timer, and wakes the
//! application. It is generic over any WebSocket stream of tungstenite messages
//! (tokio-tungstenite's and async-tungstenite's alike) and any [`Runtime`].
//! Its own task runs it when woken, and so does an application task about
//! to wait on the connection (see [`Shared::poll_event`]).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_sink::Sink;
use futures_util::{SinkExt as _, StreamExt as _};
use mosaic_proto::CloseCode;
use mosaic_proto::session::{CloseCause, Session, Transmit, TransportBacklog};
use tungstenite::error::{CapacityError, ProtocolError};
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame};
use tungstenite::{Error as WsError, Message};

use crate::shared::{Drive, Inner, Shared};
use crate::{Limits, Runtime, Traffic};

/// Most rounds of read-and-write in one poll before yielding to other tasks.
const ROUNDS_PER_POLL: usize = 16;

/// Most messages read in one round.
const READS_PER_ROUND: usize = 64;

/// Messages read before they are fed to the session under one lock, and the
/// bytes after which a batch ends early. The session's input limit is checked
/// per batch, so it may be passed by one batch: at most this many bytes and
/// one message more.
const READ_BATCH: usize = 16;
const READ_BATCH_BYTES: usize = 64 * 1024;

/// Transmits taken from the session under one lock, and the bytes after which
/// a batch ends early: the application queueing and the driver sending take
/// the lock in turns, and on a runtime whose threads run both at once each
/// lock taken per message is one more chance to contend.
const WRITE_BATCH: usize = 16;
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// Records up to this size go as one frame, copied behind their header into
/// the driver's scratch buffer; larger ones go as two frames of one message
/// (header, then the shared record bytes), never copied here. Copying a small
/// record costs less than a second frame (its header, its write, and the
/// reassembly the receiver does for a fragmented message), and tungstenite
/// copies every frame into its write buffer anyway.
const SINGLE_FRAME_MAX: usize = 4 * 1024;

/// The largest frame a message the session laid out whole (a client's
/// Submission, above all) is sent in: a larger one goes as frames of this
/// size, of one message. The receiving tungstenite grows its read buffer to
/// hold the largest frame it reads and reuses that allocation from then on,
/// so a server connection that was sent one 1 MiB frame would keep 1 MiB
/// for the rest of its life (measured: 907 KiB per idle connection after
/// one 900 KB submission, 33-37 KiB in 16 KiB frames). The frames are slices
/// of the message's bytes: nothing is copied here.
///
/// Records a server sends are cut so only on request
/// ([`Limits::record_frame_len`]): tungstenite gathers a fragmented message
/// by copying each frame into a vector that it grows by doubling (copying
/// what it holds at each step); in 16 KiB frames that took a fifth off the
/// 64 KiB throughput. The driver shrinks such a vector to fit ([`fit`]).
const FRAME_MAX: usize = 16 * 1024;

/// Capacity of the scratch buffer that small messages are laid out in: the
/// largest one-frame Record and its 8-byte header, so that the buffer,
/// reused from its start once tungstenite has copied what it held, never
/// has to grow.
const SCRATCH_LEN: usize = SINGLE_FRAME_MAX + 8;

/// How long after its last message a connection counts as quiet. The
/// scratch buffer and the batch are kept while the connection is in use, so
/// that neither is allocated per message or per request, and freed by the
/// first round of a quiet connection (a round comes with input, or a
/// session deadline: by default the keepalive's, 30 s after the peer was
/// last heard). A connection with no input and no deadline at all
/// (keepalive off, no idle timeout) keeps them, at most these 4 KiB and a
/// batch, until it closes.
const QUIET_AFTER: Duration = Duration::from_secs(1);

/// Adds `d` to `at`, saturating far in the future.
pub(crate) fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// A WebSocket as the driver needs it.
pub trait WebSocket:
    Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin + Send + 'static
{
}

impl<T> WebSocket for T where
    T: Stream<Item = Result<Message, WsError>>
        + Sink<Message, Error = WsError>
        + Unpin
        + Send
        + 'static
{
}

/// Drives one connection until it has closed.
pub(crate) struct Driver<W, S: Session, R: Runtime> {
    ws: W,
    shared: Arc<Shared<S>>,
    runtime: R,
    timer: Option<(Instant, Pin<Box<R::Sleep>>)>,
    /// The rest of a message being sent in frames ([`FRAME_MAX`]).
    fragments: Option<Fragments>,
    /// Transmits taken from the session, waiting for the sink (at most one
    /// batch; kept and freed with the scratch buffer, see [`QUIET_AFTER`]).
    outgoing: VecDeque<Transmit>,
    /// Where Record headers (and small records behind them) are laid out.
    scratch: BytesMut,
    /// When the last message (not a ping or close) was taken to be sent.
    last_message: Instant,
    /// How long after `last_message` the buffers are freed ([`QUIET_AFTER`]).
    quiet_after: Duration,
    /// The connection went quiet while its buffers still held something:
    /// free them once all is flushed.
    release_when_flushed: bool,
    unflushed: bool,
    /// Bytes went to the WebSocket layer (a message or frame taken, or a
    /// flush completed) or on to the socket since the session was last
    /// told: progress, for its stall check.
    handed_on: bool,
    /// What the socket under the WebSocket moved, if the transport counts
    /// it, and what that says of the peer.
    traffic: TrafficWatch<W>,
    /// No more reading: the stream ended or failed.
    read_done: bool,
    /// The WebSocket said Pending to the last read: it is polled again only
    /// once the connection's waker has been woken (`Inner::io_woken`).
    read_parked: bool,
    /// The peer finished its side: its close frame came, or the stream ended.
    peer_finished: bool,
    write_done: bool,
    close_sent: bool,
    /// After our close frame: how long to wait for the peer's before the
    /// socket is dropped whatever the peer does.
    linger_until: Option<Instant>,
    close_timeout: Duration,
    /// The largest frame of a Record's bytes ([`Limits::record_frame_len`]).
    record_frame_len: usize,
    /// An application task runs this poll (see [`Shared::poll_event`]): the
    /// timer is left to the driver task, since a runtime's timer may need
    /// its own threads to be made.
    inline: bool,
    /// Whatever must live exactly as long as the connection (a connection
    /// slot of the server); dropped with the driver.
    _hold: Box<dyn Send>,
}

/// A message being sent in frames: its bytes, where the next frame starts,
/// and the most a frame carries.
struct Fragments {
    bytes: Bytes,
    at: usize,
    frame_max: usize,
}

/// Reads how many bytes a WebSocket's socket has read and taken to send so
/// far ([`Transport::server_ws_traffic`](crate::Transport::server_ws_traffic)).
/// The WebSocket layer's flush of one large frame stays pending while the
/// peer takes it bit by bit, and a large frame from the peer shows only
/// once whole; this shows that progress to the stall check and the
/// keepalive.
pub(crate) type TrafficProbe<W> = fn(&W) -> Traffic;

/// A connection's [`TrafficProbe`], and what its counts say of the peer.
struct TrafficWatch<W> {
    probe: Option<TrafficProbe<W>>,
    /// The counts read last.
    seen: Traffic,
    /// The last round ended with a flush pending: the socket's send
    /// buffer was full, and only the peer's acknowledgements free room in
    /// it.
    send_blocked: bool,
    /// Evidence the peer is alive came since the session was last told:
    /// bytes from it, or bytes it took from a full send buffer. (Bytes
    /// sent alone prove nothing: the socket takes them into its own
    /// buffer whether the peer lives or not.)
    peer_alive: bool,
}

impl<W> TrafficWatch<W> {
    /// Watches `ws` with `probe`; with none, nothing is seen but whole
    /// messages and completed flushes.
    fn new(probe: Option<TrafficProbe<W>>, ws: &W) -> Self {
        TrafficWatch {
            probe,
            seen: probe.map_or_else(Traffic::default, |probe| probe(ws)),
            send_blocked: false,
            peer_alive: false,
        }
    }

    /// Reads the counts; whether bytes were sent since the last look
    /// (progress for the stall check, even within one frame's flush).
    fn look(&mut self, ws: &W) -> bool {
        let Some(probe) = self.probe else {
            return false;
        };
        let traffic = probe(ws);
        let sent = traffic.sent != self.seen.sent;
        self.peer_alive |= traffic.received != self.seen.received || (sent && self.send_blocked);
        self.seen = traffic;
        sent
    }

    /// Tells `session` of evidence the peer is alive, if any came.
    fn tell<S: Session>(&mut self, session: &mut S, now: Instant) {
        if std::mem::take(&mut self.peer_alive) {
            session.handle_transport_activity(now);
        }
    }
}

/// Starts a connection's driver: hands it to `shared` and spawns the task
/// that runs it.
pub(crate) fn spawn_driver<W: WebSocket, S: Session + Send + 'static, R: Runtime>(
    ws: W,
    shared: &Arc<Shared<S>>,
    runtime: R,
    limits: &Limits,
    hold: Box<dyn Send>,
    traffic_probe: Option<TrafficProbe<W>>,
) {
    let driver = Driver::new(
        ws,
        shared.clone(),
        runtime.clone(),
        limits,
        hold,
        traffic_probe,
    );
    shared.install(Box::new(driver));
    runtime.spawn(Box::pin(DriverTask {
        shared: shared.clone(),
        skip_served: R::SKIP_SERVED_WAKEUPS,
    }));
}

/// The task of a connection's driver.
struct DriverTask<S: Session + Send + 'static> {
    shared: Arc<Shared<S>>,
    /// [`Runtime::SKIP_SERVED_WAKEUPS`].
    skip_served: bool,
}

impl<S: Session + Send + 'static> Future for DriverTask<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.shared.poll_driver_task(cx, self.skip_served)
    }
}

impl<S: Session + Send + 'static> Drop for DriverTask<S> {
    /// A task dropped before its driver finished (its runtime shut down, or
    /// a spawner dropped it) drops the driver, which releases the waiters.
    fn drop(&mut self) {
        self.shared.drop_driver();
    }
}

impl<W: WebSocket, S: Session + Send + 'static, R: Runtime> Drive for Driver<W, S, R> {
    fn drive(&mut self, cx: &mut Context<'_>, inline: bool) -> Poll<()> {
        self.inline = inline;
        self.run(cx)
    }
}

impl<W: WebSocket, S: Session, R: Runtime> Driver<W, S, R> {
    pub(crate) fn new(
        ws: W,
        shared: Arc<Shared<S>>,
        runtime: R,
        limits: &Limits,
        hold: Box<dyn Send>,
        traffic_probe: Option<TrafficProbe<W>>,
    ) -> Self {
        Driver {
            traffic: TrafficWatch::new(traffic_probe, &ws),
            ws,
            shared,
            runtime,
            timer: None,
            fragments: None,
            outgoing: VecDeque::new(),
            scratch: BytesMut::new(),
            last_message: Instant::now(),
            quiet_after: QUIET_AFTER,
            release_when_flushed: false,
            unflushed: false,
            handed_on: false,
            read_done: false,
            read_parked: false,
            peer_finished: false,
            write_done: false,
            close_sent: false,
            linger_until: None,
            close_timeout: limits.close_timeout,
            record_frame_len: limits
                .record_frame_len
                .map_or(usize::MAX, |len| len.max(SINGLE_FRAME_MAX)),
            inline: false,
            _hold: hold,
        }
    }

    /// Watches the socket's traffic with `probe`.
    #[cfg(test)]
    fn with_traffic_probe(mut self, probe: Option<TrafficProbe<W>>) -> Self {
        self.traffic = TrafficWatch::new(probe, &self.ws);
        self
    }

    /// Reads while the session wants input, at most [`READS_PER_ROUND`]
    /// messages so that a fast peer cannot keep the driver from writing and
    /// checking its timers, then hands the session a due deadline; the
    /// round's time, whether anything arrived, and whether a deadline was
    /// due. Messages that are ready are gathered in batches and fed to the
    /// session under one lock, and the deadline is looked at under the last
    /// batch's (each lock taken
    /// is one more chance to contend with an application task).
    fn read_and_time(&mut self, cx: &mut Context<'_>) -> (Instant, bool, bool) {
        let mut progress = false;
        let mut read = 0;
        let mut inner = self.shared.lock();
        inner.round_begins();
        // The round's time, read once it has counted the wake-ups: a timer
        // whose wake-up it counted has fired, so `now` is past its deadline,
        // and an application task's round then hands the timer back to the
        // driver task (`sleep`) rather than absorb its wake-up unseen.
        let now = Instant::now();
        let mut wants = !self.read_done && Self::wants_input(&mut inner);
        if wants && std::mem::take(&mut inner.io_woken) {
            self.read_parked = false;
        }
        while wants && !self.read_done && !self.read_parked && read < READS_PER_ROUND {
            drop(inner);
            let mut batch: [Option<Message>; READ_BATCH] = Default::default();
            let (mut count, mut bytes) = (0, 0);
            // `Some(None)`: the stream ended; `Some(Some(error))`: it failed.
            let mut end: Option<Option<WsError>> = None;
            while count < READ_BATCH && bytes < READ_BATCH_BYTES {
                match self.ws.poll_next_unpin(cx) {
                    Poll::Pending => {
                        self.read_parked = true;
                        break;
                    }
                    Poll::Ready(Some(Ok(message))) => {
                        bytes += message.len();
                        batch[count] = Some(fit(message));
                        count += 1;
                    }
                    Poll::Ready(Some(Err(error))) => {
                        end = Some(Some(error));
                        break;
                    }
                    Poll::Ready(None) => {
                        end = Some(None);
                        break;
                    }
                }
            }
            inner = self.shared.lock();
            if count == 0 && end.is_none() {
                break;
            }
            progress = true;
            read += count + usize::from(end.is_some());
            for message in batch.iter_mut().take(count).filter_map(Option::take) {
                self.peer_finished |= matches!(message, Message::Close(_));
                if handle_message(&mut inner, message, now) {
                    self.unflushed = true;
                }
            }
            match end {
                None => {}
                Some(Some(error)) => {
                    self.read_done = true;
                    handle_read_error(&mut inner.session, error, now);
                }
                Some(None) => {
                    self.read_done = true;
                    self.peer_finished = true;
                    if inner.closed().is_none() {
                        inner
                            .session
                            .handle_transport_error("the connection ended without a close frame");
                    }
                }
            }
            wants = Self::wants_input(&mut inner);
        }
        // What arrived in part (a large message) is heard before the
        // keepalive's deadline is looked at.
        self.handed_on |= self.traffic.look(&self.ws);
        self.traffic.tell(&mut inner.session, now);
        let due = inner.session.poll_timeout().is_some_and(|d| now >= d);
        if due {
            inner.session.handle_timeout(now);
        }
        (now, progress, due)
    }

    /// Whether the session closed because the peer stopped reading or
    /// answering.
    fn peer_gone(inner: &Inner<S>) -> bool {
        inner.closed().is_some_and(|closed| {
            matches!(
                closed.cause,
                CloseCause::PeerNotReading | CloseCause::PeerUnresponsive
            )
        })
    }

    /// Whether to read on, noting in `inner` when input is blocked. Once
    /// closed, reading goes on for the peer's close frame only.
    fn wants_input(inner: &mut Inner<S>) -> bool {
        let wants = inner.session.wants_input() || inner.closed().is_some();
        inner.input_blocked = !wants;
        wants
    }

    /// Sends what the session queued while the sink accepts it; whether anything went.
    fn write(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progress = false;
        while !self.write_done {
            match self.ws.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(error)) => {
                    self.write_failed(error);
                    break;
                }
                Poll::Pending => break,
            }
            let message = match self.next_fragment() {
                Some(message) => message,
                None => {
                    if self.close_sent {
                        break;
                    }
                    if self.outgoing.is_empty() {
                        self.take_transmits(now);
                    }
                    let Some(transmit) = self.outgoing.pop_front() else {
                        break;
                    };
                    // A message, not a ping or close (those carry none).
                    if transmit.message_len() > 0 {
                        self.last_message = now;
                    }
                    self.message_for(transmit, now)
                }
            };
            if let Err(error) = self.ws.start_send_unpin(message) {
                if self.peer_finished
                    && matches!(error, WsError::Protocol(ProtocolError::SendAfterClosing))
                {
                    // The peer's close frame came while a message was going
                    // (most likely one in frames): the peer takes nothing
                    // more, and tungstenite's reply to its close waits in
                    // the sink to be flushed.
                    self.fragments = None;
                    self.outgoing.clear();
                    self.unflushed = true;
                    break;
                }
                self.write_failed(error);
                break;
            }
            self.unflushed = true;
            progress = true;
        }
        self.handed_on |= progress;
        if self.unflushed && !self.write_done {
            match self.ws.poll_flush_unpin(cx) {
                Poll::Ready(Ok(())) => {
                    self.unflushed = false;
                    self.handed_on = true;
                    if self.release_when_flushed {
                        self.release_buffers();
                    }
                }
                Poll::Ready(Err(error)) => self.write_failed(error),
                Poll::Pending => {}
            }
        }
        // The socket took part of a frame whose flush may still be pending:
        // progress for the stall check.
        self.handed_on |= self.traffic.look(&self.ws);
        self.traffic.send_blocked = self.unflushed && !self.write_done;
        progress
    }

    /// Frees the scratch buffer and the batch of a quiet connection (see
    /// [`QUIET_AFTER`]), now if nothing waits in them, else once all is
    /// flushed.
    fn release_if_quiet(&mut self, now: Instant) {
        let held = self.scratch.capacity() > 0 || self.outgoing.capacity() > 0;
        if held && now.saturating_duration_since(self.last_message) >= self.quiet_after {
            self.release_buffers();
        }
    }

    /// Whether bytes taken from the session have not all been handed to the
    /// socket: a batch, a message in frames, or an unflushed write buffer.
    fn holds_unsent(&self) -> bool {
        self.unflushed || self.fragments.is_some() || !self.outgoing.is_empty()
    }

    fn release_buffers(&mut self) {
        if self.holds_unsent() {
            self.release_when_flushed = true;
            return;
        }
        self.release_when_flushed = false;
        self.scratch = BytesMut::new();
        self.outgoing = VecDeque::new();
    }

    /// Takes a batch of transmits from the session into `outgoing`, under
    /// one lock, and wakes whoever waits for room in its queue.
    fn take_transmits(&mut self, now: Instant) {
        let mut inner = self.shared.lock();
        let mut bytes = 0;
        while self.outgoing.len() < WRITE_BATCH && bytes < WRITE_BATCH_BYTES {
            let Some(transmit) = inner.session.poll_transmit(now) else {
                break;
            };
            bytes += transmit.message_len();
            let last = matches!(transmit, Transmit::Close { .. });
            self.outgoing.push_back(transmit);
            if last {
                break;
            }
        }
        if !self.outgoing.is_empty() {
            inner.wake_space_waiters();
        }
    }

    /// The WebSocket message for a transmit, or the first frame of it. A
    /// large Record goes as its header's frame and then its shared bytes, so
    /// that they are not copied per subscriber; a small one as one frame
    /// (see [`SINGLE_FRAME_MAX`]). Any other message over [`FRAME_MAX`] goes
    /// in frames of that size.
    fn message_for(&mut self, transmit: Transmit, now: Instant) -> Message {
        match transmit {
            Transmit::Message(bytes) if bytes.len() <= FRAME_MAX => Message::Binary(bytes),
            Transmit::Message(bytes) => {
                let first = bytes.slice(..FRAME_MAX);
                self.fragments = Some(Fragments {
                    bytes,
                    at: FRAME_MAX,
                    frame_max: FRAME_MAX,
                });
                Message::Frame(Frame::message(first, OpCode::Data(Data::Binary), false))
            }
            Transmit::Record { header, record } if record.len() <= SINGLE_FRAME_MAX => {
                Message::Binary(self.lay_out(&header, &record))
            }
            Transmit::Record { header, record } => {
                self.fragments = Some(Fragments {
                    bytes: record,
                    at: 0,
                    frame_max: self.record_frame_len,
                });
                Message::Frame(Frame::message(
                    self.lay_out(&header, &[]),
                    OpCode::Data(Data::Binary),
                    false,
                ))
            }
            Transmit::Ping => Message::Ping(Bytes::new()),
            Transmit::Close { code, reason } => {
                self.close_sent = true;
                self.linger_until = Some(later(now, self.close_timeout));
                Message::Close(Some(CloseFrame {
                    code: code.0.into(),
                    reason: reason.into(),
                }))
            }
        }
    }

    /// The next frame of a message being sent in frames, if one is.
    fn next_fragment(&mut self) -> Option<Message> {
        let fragments = self.fragments.as_mut()?;
        let end = fragments
            .bytes
            .len()
            .min(fragments.at.saturating_add(fragments.frame_max));
        let frame = fragments.bytes.slice(fragments.at..end);
        fragments.at = end;
        let last = end == fragments.bytes.len();
        if last {
            self.fragments = None;
        }
        Some(Message::Frame(Frame::message(
            frame,
            OpCode::Data(Data::Continue),
            last,
        )))
    }

    /// `head` and `tail` in one buffer, from the scratch buffer: no allocation
    /// once tungstenite has copied the previous message out of it.
    fn lay_out(&mut self, head: &[u8], tail: &[u8]) -> Bytes {
        let len = head.len() + tail.len();
        if self.scratch.capacity() < len {
            self.scratch.reserve(len.max(SCRATCH_LEN));
        }
        self.scratch.extend_from_slice(head);
        self.scratch.extend_from_slice(tail);
        self.scratch.split().freeze()
    }

    /// Asks for another run of the driver: by its task when an application
    /// task runs it (waking the connection's waker would wake the other
    /// tasks waiting on the connection too, which would run it in turn),
    /// else through the connection's waker.
    fn wake_self(&self, cx: &mut Context<'_>) {
        if self.inline {
            self.shared.lock().wake_driver();
        } else {
            cx.waker().wake_by_ref();
        }
    }

    fn write_failed(&mut self, error: WsError) {
        self.write_done = true;
        self.unflushed = false;
        let mut inner = self.shared.lock();
        if inner.closed().is_none() {
            inner.session.handle_transport_error(&error.to_string());
        }
    }

    /// Arms the timer for the next deadline (the session's, `deadline`, or
    /// the close timeout), as the driver goes idle; whether that deadline
    /// has passed already (go round again rather than sleep).
    ///
    /// Arming only here, after the round's reads and writes, means that a
    /// deadline which is gone again by then (the queue's stall clock, once
    /// the queue is written out; the close timeout of a connection that
    /// finishes in this poll) costs no timer: registering one can make the
    /// runtime wake its I/O driver, a system call and a wake-up of its own.
    fn sleep(&mut self, cx: &mut Context<'_>, now: Instant, deadline: Option<Instant>) -> bool {
        let deadline = [deadline, self.linger_until].into_iter().flatten().min();
        let Some(deadline) = deadline else {
            if self.inline {
                return false;
            }
            // Nothing to wait for. An armed timer is kept, not dropped: it
            // wakes the driver once for nothing, where dropping it and arming
            // a new one each time the queue fills and empties registers a
            // timer per message.
            if let Some((_, sleep)) = self.timer.as_mut()
                && sleep.as_mut().poll(cx).is_ready()
            {
                self.timer = None;
            }
            return false;
        };
        if deadline <= now {
            return true;
        }
        // Re-arm only for an earlier deadline: a later one (the keepalive moving
        // on with every message) is met by waking early and re-arming then.
        let rearm = self
            .timer
            .as_ref()
            .is_none_or(|(armed, _)| deadline < *armed);
        if self.inline {
            // The armed timer wakes the driver task; a new one is its to
            // make, and so is a fired one's replacement (its wake-up may
            // have been spent on this application task).
            let fired = self.timer.as_ref().is_some_and(|(armed, _)| *armed <= now);
            if rearm || fired {
                self.wake_self(cx);
            }
            return false;
        }
        if rearm {
            self.timer = Some((deadline, Box::pin(self.runtime.sleep_until(deadline))));
        }
        let Some((_, sleep)) = self.timer.as_mut() else {
            return false;
        };
        if sleep.as_mut().poll(cx).is_ready() {
            self.timer = None;
            return true;
        }
        false
    }

    /// Whether the connection is over: the transport failed; or the close
    /// timeout ran out since our close frame went, or since nothing more was
    /// left to send (after an oversize message nothing more is read, so this
    /// gives the peer time to read our close frame before the socket goes; a
    /// peer that stops reading cannot hold the socket); or, all flushed, our
    /// close frame went and the peer's came; or the session is closed with
    /// nothing left to send (the peer closed or failed, or a peer that
    /// stopped reading was given up on).
    fn done(&self, inner: &Inner<S>, now: Instant) -> bool {
        if self.write_done || self.linger_until.is_some_and(|t| now >= t) {
            return true;
        }
        if self.holds_unsent() {
            return false;
        }
        if self.close_sent {
            return self.peer_finished;
        }
        inner.closed().is_some() && !inner.session.has_transmits()
    }

    /// After a round that did something: whether another round can do more
    /// at once, which is only when input is wanted and may be waiting
    /// (reading stopped at a limit, not at Pending, or the connection's
    /// waker was woken since). Writing needs no second round: a round's
    /// writes go on until the session has nothing left or the sink says
    /// Pending, and then the sink wakes the driver. Otherwise a second round
    /// would take the locks, ask the session for its deadlines and poll the
    /// sink only to find the connection idle; what comes later (input, a
    /// transmit queued by the application, room for input, a deadline) wakes
    /// the driver task.
    fn more_now(&self, inner: &Inner<S>) -> bool {
        let can_read = !self.read_done && !inner.input_blocked;
        can_read && (!self.read_parked || inner.io_woken)
    }

    fn finish(&mut self) {
        let mut inner = self.shared.lock();
        if inner.closed().is_none() {
            inner.session.handle_transport_error("the connection ended");
        }
        inner.finished = true;
        inner.wake_event_waiters();
        inner.wake_space_waiters();
    }
}

/// A message read, its bytes fitted to it. tungstenite gathers a message
/// that came in frames (a Mosaic client's large Submission comes in 16 KiB
/// frames: [`FRAME_MAX`]) in a vector it grows by doubling, so the message
/// can hold twice its size, for as long as the session or the application
/// keeps it; such a message's vector is shrunk to fit. A message read in
/// one frame shares tungstenite's read buffer and is left as it is.
fn fit(message: Message) -> Message {
    let Message::Binary(bytes) = message else {
        return message;
    };
    if bytes.len() <= FRAME_MAX {
        return Message::Binary(bytes);
    }
    match bytes.try_into_mut() {
        Ok(gathered) if gathered.capacity() > gathered.len() + gathered.len() / 8 => {
            let mut vec = Vec::from(gathered);
            vec.shrink_to_fit();
            Message::Binary(Bytes::from(vec))
        }
        Ok(gathered) => Message::Binary(gathered.freeze()),
        Err(shared) => Message::Binary(shared),
    }
}

/// Feeds one WebSocket message to the session; whether the WebSocket layer
/// queued a reply (pong or close) that needs flushing.
fn handle_message<S: Session>(inner: &mut Inner<S>, message: Message, now: Instant) -> bool {
    match message {
        Message::Binary(bytes) => inner.session.handle_binary(bytes, now),
        Message::Text(_) => inner.session.handle_text(now),
        Message::Ping(_) | Message::Pong(_) => {
            inner.session.handle_ping_or_pong(now);
            return true;
        }
        Message::Close(frame) => {
            let (code, reason) = match &frame {
                Some(f) => (Some(CloseCode(f.code.into())), f.reason.as_str()),
                None => (None, ""),
            };
            inner.session.handle_peer_close(code, reason);
            return true;
        }
        Message::Frame(_) => {}
    }
    false
}

impl<W, S: Session, R: Runtime> Drop for Driver<W, S, R> {
    /// A driver dropped before it finished (its runtime shut down, or a
    /// spawner dropped the task) still releases the application's waiters.
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        if !inner.finished {
            if inner.closed().is_none() {
                inner
                    .session
                    .handle_transport_error("the connection's task was dropped");
            }
            inner.finished = true;
            inner.wake_event_waiters();
            inner.wake_space_waiters();
        }
    }
}

fn handle_read_error<S: Session>(session: &mut S, error: WsError, now: Instant) {
    match error {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            session.handle_oversize(size, max_size, now)
        }
        // Invalid UTF-8 can only come in a text message.
        WsError::Utf8(_) => session.handle_text(now),
        WsError::ConnectionClosed | WsError::AlreadyClosed if session.closed().is_some() => {}
        other => session.handle_transport_error(&other.to_string()),
    }
}

impl<W: WebSocket, S: Session, R: Runtime> Driver<W, S, R> {
    /// Rounds of read, timeouts and write until the connection would wait
    /// (or has had [`ROUNDS_PER_POLL`] busy rounds); `Ready` once it is over.
    fn run(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..ROUNDS_PER_POLL {
            let (now, read, fired) = self.read_and_time(cx);
            let wrote = self.write(cx, now);
            self.release_if_quiet(now);
            // One lock for what the round's end looks at: waiters, whether
            // it is over, and the next deadline.
            let (done, more, deadline) = {
                let mut inner = self.shared.lock();
                let closed = inner.closed().is_some();
                // Only for what this round brought: events already queued
                // are for tasks that have seen them (every waiter looked
                // before it registered). Waking on any queued event let two
                // tasks waiting on one connection, each running the driver
                // in turn, wake each other for ever over an event neither
                // takes.
                if closed || ((read || fired) && inner.session.has_events()) {
                    inner.wake_event_waiters();
                }
                if closed {
                    // Whoever waits for room waits in vain now.
                    inner.wake_space_waiters();
                }
                if inner.input_blocked {
                    // Blocked by a full outbound queue, input may be wanted
                    // again now that this round's writes drained it; nothing
                    // else wakes the driver for that (input the socket had
                    // already announced would wait for the next timer).
                    Self::wants_input(&mut inner);
                }
                // The peer's reading is watched through our backlog too,
                // so that one that stops reading once we took everything is
                // still closed (see `set_transport_backlog`).
                let backlog = match (self.holds_unsent(), std::mem::take(&mut self.handed_on)) {
                    (false, _) => TransportBacklog::Empty,
                    (true, true) => TransportBacklog::Draining,
                    (true, false) => TransportBacklog::Waiting,
                };
                inner.session.set_transport_backlog(backlog, now);
                self.traffic.tell(&mut inner.session, now);
                if closed
                    && self.linger_until.is_none()
                    && (!inner.session.has_transmits() || Self::peer_gone(&inner))
                {
                    // Nothing more will be queued: what is left to write and
                    // flush (the last batch, the WebSocket layer's close
                    // reply, what a stalled peer never took) gets the close
                    // timeout at most. Looked at after the round's writes,
                    // as the driver may go idle now. A peer closed for not
                    // reading or not answering may never take what is
                    // queued (our close frame among it): its time starts now.
                    self.linger_until = Some(later(now, self.close_timeout));
                }
                let done = self.done(&inner, now);
                let more = !done && (read || fired || wrote) && self.more_now(&inner);
                let deadline = if done || more {
                    None
                } else {
                    inner.session.poll_timeout()
                };
                (done, more, deadline)
            };
            if done {
                self.finish();
                return Poll::Ready(());
            }
            // Nothing more to do now: sleep until the next deadline, unless
            // it has passed.
            if !more && !self.sleep(cx, now, deadline) {
                return Poll::Pending;
            }
        }
        // Busy connection: let other tasks run, then continue.
        self.wake_self(cx);
        Poll::Pending
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use std::task::Waker;

    use mosaic_proto::session::{ClientConfig, ClientSession, ServerConfig, ServerSession};

    use super::*;
    use crate::runtime::Task;
    use crate::shared::tests::{counter, woken};

    /// The far side of a [`Recorder`]: what was sent, how often the sink was
    /// asked whether it would take a message, how many more times it says
    /// yes, and whether a flush completes (a peer that stops reading makes
    /// both wait).
    pub(crate) struct Peer {
        /// What the peer sent, read in order; then nothing (Pending).
        inbound: Mutex<VecDeque<Message>>,
        sent: Mutex<Vec<Message>>,
        ready_polls: AtomicUsize,
        ready_budget: AtomicUsize,
        flushes: AtomicBool,
        /// Flushes completed.
        flushed: AtomicUsize,
        /// The peer's close frame came: data is refused as tungstenite
        /// refuses it (`SendAfterClosing`).
        closing: AtomicBool,
        /// Bytes the socket under the sink took to send, as a
        /// [`Counted`](crate::Counted) stream would count them
        /// ([`traffic`]).
        socket_sent: std::sync::atomic::AtomicU64,
        /// Bytes the socket under the stream read, likewise.
        socket_received: std::sync::atomic::AtomicU64,
    }

    /// The [`TrafficProbe`] of a [`Recorder`]: its peer's socket counts.
    fn traffic(recorder: &Recorder) -> Traffic {
        Traffic {
            received: recorder.0.socket_received.load(Ordering::SeqCst),
            sent: recorder.0.socket_sent.load(Ordering::SeqCst),
        }
    }

    impl Peer {
        /// A peer that has sent `inbound`; its sink says yes `ready_budget`
        /// more times, and its flushes complete or wait.
        pub(crate) fn new(
            inbound: VecDeque<Message>,
            ready_budget: usize,
            flushes: bool,
        ) -> Arc<Peer> {
            Arc::new(Peer {
                inbound: Mutex::new(inbound),
                sent: Mutex::new(Vec::new()),
                ready_polls: AtomicUsize::new(0),
                ready_budget: AtomicUsize::new(ready_budget),
                flushes: AtomicBool::new(flushes),
                flushed: AtomicUsize::new(0),
                closing: AtomicBool::new(false),
                socket_sent: Default::default(),
                socket_received: Default::default(),
            })
        }

        fn sent(&self) -> Vec<Message> {
            self.sent.lock().expect("sent").clone()
        }
    }

    /// A WebSocket that receives what its [`Peer`] has queued, and sends to it.
    pub(crate) struct Recorder(pub(crate) Arc<Peer>);

    impl Stream for Recorder {
        type Item = Result<Message, WsError>;

        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            match self.0.inbound.lock().expect("inbound").pop_front() {
                Some(message) => Poll::Ready(Some(Ok(message))),
                None => Poll::Pending,
            }
        }
    }

    impl Sink<Message> for Recorder {
        type Error = WsError;

        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
            self.0.ready_polls.fetch_add(1, Ordering::SeqCst);
            let budget = &self.0.ready_budget;
            match budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1)) {
                Ok(_) => Poll::Ready(Ok(())),
                Err(_) => Poll::Pending,
            }
        }

        fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), WsError> {
            if self.0.closing.load(Ordering::SeqCst) && !matches!(message, Message::Close(_)) {
                return Err(WsError::Protocol(ProtocolError::SendAfterClosing));
            }
            self.0.sent.lock().expect("recorder").push(message);
            Ok(())
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
            if self.0.flushes.load(Ordering::SeqCst) {
                self.0.flushed.fetch_add(1, Ordering::SeqCst);
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A runtime that counts the timers made. Its timers wake nobody: a
    /// test wakes the connection itself; polled, one is ready once its
    /// deadline has passed.
    #[derive(Clone)]
    pub(crate) struct Timers(pub(crate) Arc<AtomicUsize>);

    pub(crate) struct Deadline(pub(crate) Instant);

    impl Future for Deadline {
        type Output = ();

        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            if Instant::now() >= self.0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    impl Runtime for Timers {
        type Sleep = Deadline;

        fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
            self.0.fetch_add(1, Ordering::SeqCst);
            Deadline(deadline)
        }

        fn spawn(&self, _: Task) {}
    }

    /// A driver for `shared` over a [`Recorder`] to `peer`, whose runtime
    /// counts its timers in `timers`.
    fn driver_to<S: Session>(
        peer: &Arc<Peer>,
        shared: &Arc<Shared<S>>,
        timers: &Arc<AtomicUsize>,
    ) -> Driver<Recorder, S, Timers> {
        let limits = Limits {
            close_timeout: Duration::from_secs(1),
            ..Limits::default()
        };
        driver_with(peer, shared, timers, &limits)
    }

    /// [`driver_to`] with these limits.
    fn driver_with<S: Session>(
        peer: &Arc<Peer>,
        shared: &Arc<Shared<S>>,
        timers: &Arc<AtomicUsize>,
        limits: &Limits,
    ) -> Driver<Recorder, S, Timers> {
        let (recorder, timers) = (Recorder(peer.clone()), Timers(timers.clone()));
        Driver::new(recorder, shared.clone(), timers, limits, Box::new(()), None)
    }

    /// A client connection on a driver over a [`Recorder`] and [`Timers`],
    /// whose driver task has run once (it armed the keepalive timer).
    struct Started {
        shared: Arc<Shared<ClientSession>>,
        peer: Arc<Peer>,
        timers: Arc<AtomicUsize>,
        task: Arc<crate::shared::tests::Counter>,
        task_waker: Waker,
    }

    impl Started {
        /// Polls the driver task; it must wait.
        fn run_task(&self) {
            let mut cx = Context::from_waker(&self.task_waker);
            assert!(self.shared.poll_driver_task(&mut cx, true).is_pending());
        }

        fn timers(&self) -> usize {
            self.timers.load(Ordering::SeqCst)
        }
    }

    /// [`Started`], with a sink that takes everything.
    fn started() -> Started {
        started_with(ClientConfig::default())
    }

    fn started_with(config: ClientConfig) -> Started {
        let shared = Shared::new(ClientSession::new(config, Instant::now()));
        let peer = Peer::new(VecDeque::new(), usize::MAX, true);
        let timers = Arc::new(AtomicUsize::new(0));
        shared.install(Box::new(driver_to(&peer, &shared, &timers)));
        let (task, task_waker) = counter();
        let started = Started {
            shared,
            peer,
            timers,
            task,
            task_waker,
        };
        started.run_task();
        assert_eq!(started.timers(), 1, "the keepalive timer");
        started
    }

    /// Queues a Query on the session.
    fn query(shared: &Shared<ClientSession>) {
        let filter = mosaic_proto::Filter::builder()
            .build()
            .expect("empty filter");
        shared
            .call(|session, now| session.query(filter, 0, now))
            .expect("query");
    }

    /// A session closed without a close frame of ours (the transport failed),
    /// whose last batch goes out only in a later round, and whose flush then
    /// waits on a peer that reads no more: the close timeout must still
    /// start, or the socket is held for as long as the application holds a
    /// handle.
    #[test]
    fn the_close_timeout_starts_when_the_last_batch_goes_out_in_a_later_round() {
        let s = started();
        // Two queries in one batch; the sink takes the first only.
        query(&s.shared);
        query(&s.shared);
        s.peer.ready_budget.store(1, Ordering::SeqCst);
        s.run_task();
        assert_eq!(s.peer.sent().len(), 1);
        // The transport fails; then the sink takes the rest, but the flush waits.
        s.shared
            .lock()
            .session
            .handle_transport_error("the connection ended");
        s.peer.ready_budget.store(usize::MAX, Ordering::SeqCst);
        s.peer.flushes.store(false, Ordering::SeqCst);
        // The sink, writable again, wakes the connection.
        Waker::from(s.shared.clone()).wake_by_ref();
        s.run_task();
        assert_eq!(s.peer.sent().len(), 2, "the batch went out");
        assert_eq!(
            s.timers(),
            2,
            "a timer for the close timeout, before the keepalive's"
        );
    }

    #[test]
    fn a_round_that_sends_all_there_is_goes_idle_without_another_round() {
        let s = started();
        query(&s.shared);
        let before = s.peer.ready_polls.load(Ordering::SeqCst);
        s.run_task();
        assert_eq!(s.peer.sent().len(), 1, "the Query went");
        // Once to send the Query, once to find the queue empty; a second,
        // idle round would ask again.
        assert_eq!(s.peer.ready_polls.load(Ordering::SeqCst) - before, 2);
        assert_eq!(s.timers(), 1, "the keepalive timer, kept");
    }

    /// A driver task polled for a wake-up that an application task's run of
    /// the driver has already served does not run it again; a wake-up that
    /// came after that run began does.
    #[test]
    fn the_driver_task_skips_a_run_for_work_already_done() {
        let s = started();
        query(&s.shared);
        s.shared.drive_inline();
        assert_eq!(s.peer.sent().len(), 1, "the Query went inline");
        let polls = || s.peer.ready_polls.load(Ordering::SeqCst);
        let before = polls();
        assert_eq!(woken(&s.task), 1, "the call woke the driver task");
        s.run_task();
        assert_eq!(polls(), before, "its poll found the work done");

        // A runtime that does not skip (the default) runs it all the same.
        let mut cx = Context::from_waker(&s.task_waker);
        assert!(s.shared.poll_driver_task(&mut cx, false).is_pending());
        assert!(polls() > before, "run without the skip");

        let before = polls();
        query(&s.shared);
        s.run_task();
        assert_eq!(s.peer.sent().len(), 2, "new work runs it");
        assert!(polls() > before);
        // The socket's wake-up after the last run: it runs again.
        let before = polls();
        Waker::from(s.shared.clone()).wake_by_ref();
        s.run_task();
        assert!(polls() > before, "a wake-up of the connection runs it");
    }

    /// The timer fires and its wake-up is counted by an application task's
    /// round (which cannot make timers): that round handles the deadline
    /// and hands the timer back, so the driver task, though it skips work
    /// already done, runs and arms the next one.
    #[test]
    fn a_timer_wake_up_taken_by_an_application_task_still_rearms() {
        let interval = Duration::from_millis(20);
        let s = started_with(ClientConfig {
            keepalive: Some(mosaic_proto::session::KeepaliveConfig {
                interval,
                timeout: Duration::from_secs(60),
            }),
            ..ClientConfig::default()
        });
        std::thread::sleep(interval);
        // The timer fires (the Timers runtime's never do: its wake-up is
        // the connection's), and an application task runs the driver first.
        Waker::from(s.shared.clone()).wake_by_ref();
        s.shared.drive_inline();
        assert!(
            matches!(s.peer.sent().as_slice(), [Message::Ping(_)]),
            "the keepalive ping went inline"
        );
        assert_eq!(s.timers(), 1, "no timer made inline");
        s.run_task();
        assert_eq!(s.timers(), 2, "the driver task armed the next deadline");
    }

    #[test]
    fn tasks_running_the_driver_in_turn_do_not_wake_each_other_for_nothing() {
        let Started { shared, .. } = started();
        // An event neither task takes: a server message of an unknown type,
        // which the client keeps as ignored.
        shared
            .lock()
            .session
            .handle_binary(Bytes::from_static(&[0x9f, 4, 0, 0]), Instant::now());
        assert!(shared.lock().session.has_events());
        let nothing = |_: &mut ClientSession| None::<()>;
        let (a, a_waker) = counter();
        let (b, b_waker) = counter();
        let (mut a_cx, mut b_cx) = (Context::from_waker(&a_waker), Context::from_waker(&b_waker));
        assert!(shared.poll_event(&mut a_cx, nothing).is_pending());
        assert!(shared.poll_event(&mut b_cx, nothing).is_pending());
        // Both woken once (say, by the socket); each runs the driver in turn.
        Waker::from(shared.clone()).wake();
        assert_eq!((woken(&a), woken(&b)), (1, 1));
        for _ in 0..3 {
            assert!(shared.poll_event(&mut a_cx, nothing).is_pending());
            assert!(shared.poll_event(&mut b_cx, nothing).is_pending());
        }
        assert_eq!(
            (woken(&a), woken(&b)),
            (1, 1),
            "nothing new came: nobody is woken"
        );
    }

    #[test]
    fn an_application_task_leaves_new_timers_to_the_driver_task() {
        let s = started();
        // The close frame goes out on an application task; the close timeout
        // it starts comes before the keepalive, so a new timer is needed.
        s.shared
            .lock()
            .session
            .close(CloseCode::NORMAL, "bye", Instant::now());
        s.shared.drive_inline();
        assert!(
            matches!(s.peer.sent().as_slice(), [Message::Close(Some(_))]),
            "the close frame was sent inline"
        );
        assert_eq!(s.timers(), 1, "no timer made inline");
        assert_eq!(woken(&s.task), 1, "the driver task is asked to make it");

        s.run_task();
        assert_eq!(s.timers(), 2, "made by the driver task");
    }

    /// A server connection in use keeps its scratch buffer and batch from
    /// one answer to the next (no allocation per request), and frees both
    /// in its first round once quiet: at once, or after a flush that waits.
    #[test]
    fn buffers_are_kept_while_in_use_and_freed_when_the_connection_goes_quiet() {
        let record = crate::client::tests::sample_record();
        let limits = Limits {
            close_timeout: Duration::from_secs(1),
            ..Limits::default()
        };
        let serving = Serving::query(&limits);
        let (shared, peer, mut driver, query) =
            (serving.shared, serving.peer, serving.driver, serving.query);
        let quiet = Duration::from_millis(100);
        driver.quiet_after = quiet;
        let mut cx = Context::from_waker(&serving.task_waker);
        let held = |d: &Driver<_, _, _>| (d.scratch.capacity() > 0, d.outgoing.capacity() > 0);
        let answer = |driver: &mut Driver<_, _, _>, cx: &mut Context<'_>| {
            shared
                .lock()
                .session
                .send_record(query, &record, Instant::now())
                .expect("queued");
            assert!(driver.run(cx).is_pending());
        };
        for n in 1..=3 {
            answer(&mut driver, &mut cx);
            assert_eq!(peer.sent().len(), n, "answer {n} sent");
            assert_eq!(held(&driver), (true, true), "kept after answer {n}");
        }

        // Quiet while the last answer's flush waits: freed once it is done.
        peer.flushes.store(false, Ordering::SeqCst);
        answer(&mut driver, &mut cx);
        std::thread::sleep(quiet);
        assert!(driver.run(&mut cx).is_pending());
        assert_eq!(held(&driver), (true, true), "kept while the flush waits");
        peer.flushes.store(true, Ordering::SeqCst);
        assert!(driver.run(&mut cx).is_pending());
        assert_eq!(held(&driver), (false, false), "freed once flushed");

        // Quiet, then a round brought by input (a ping): freed in it.
        answer(&mut driver, &mut cx);
        assert_eq!(held(&driver), (true, true), "allocated again for answer 5");
        std::thread::sleep(quiet);
        let ping = Message::Ping(Bytes::from_static(b"hi"));
        peer.inbound.lock().expect("inbound").push_back(ping);
        assert!(driver.run(&mut cx).is_pending());
        assert_eq!(held(&driver), (false, false), "freed by the next round");
        assert_eq!(peer.sent().len(), 5);
    }

    /// The frames of one message, checked: a first frame of its type, then
    /// continuations, the last one final and only it, each at most
    /// `frame_max`; their payloads, put together.
    fn reassemble(frames: &[Message], frame_max: usize) -> Vec<u8> {
        let mut whole = Vec::new();
        for (i, message) in frames.iter().enumerate() {
            let Message::Frame(frame) = message else {
                panic!("frame {i} is not a frame: {message:?}");
            };
            let expected = if i == 0 { Data::Binary } else { Data::Continue };
            assert_eq!(frame.header().opcode, OpCode::Data(expected), "frame {i}");
            assert_eq!(frame.header().is_final, i == frames.len() - 1, "frame {i}");
            assert!(frame.payload().len() <= frame_max, "frame {i}");
            whole.extend_from_slice(frame.payload());
        }
        whole
    }

    /// A client's message over [`FRAME_MAX`] goes in frames of that size, so
    /// that the server's read buffer, which keeps the size of the largest
    /// frame it read, stays small; the frames continue across runs when the
    /// sink makes the driver wait between them, and nothing is sent between
    /// them. A server's large Record goes as its header's frame and one
    /// frame of the shared record bytes, or, asked to
    /// ([`Limits::record_frame_len`]), in frames of the length asked.
    #[test]
    fn large_messages_go_in_frames() {
        use mosaic_proto::{ClientMessage, QueryId, ServerMessage};

        let record = crate::client::tests::record_of(&[7; 40_000]);

        // A client's Submission: one message of the session's bytes.
        let s = started();
        s.peer.ready_budget.store(2, Ordering::SeqCst);
        s.shared
            .call(|session, now| session.submit(record.clone(), now))
            .expect("queued");
        query(&s.shared);
        s.run_task();
        assert_eq!(s.peer.sent().len(), 2, "two frames, then the sink waits");
        s.peer.ready_budget.store(usize::MAX, Ordering::SeqCst);
        Waker::from(s.shared.clone()).wake_by_ref();
        s.run_task();
        let sent = s.peer.sent();
        assert_eq!(sent.len(), 4, "16 + 16 + 8 KiB, then the Query");
        let submission = ClientMessage::Submission {
            record: record.clone(),
        };
        assert_eq!(reassemble(&sent[..3], FRAME_MAX), submission.to_bytes());
        assert!(matches!(&sent[3], Message::Binary(_)), "the Query, whole");

        // At the boundary: 16 KiB whole, 8 bytes more in two frames.
        for (payload, frames) in [(16_168, 1), (16_176, 2)] {
            let record = crate::client::tests::record_of(&vec![7; payload]);
            let before = s.peer.sent().len();
            s.shared
                .call(|session, now| session.submit(record.clone(), now))
                .expect("queued");
            s.run_task();
            let sent = s.peer.sent();
            let message = ClientMessage::Submission { record }.to_bytes();
            assert_eq!(message.len(), FRAME_MAX + 8 * (frames - 1));
            assert_eq!(sent.len() - before, frames, "{} bytes", message.len());
            match &sent[before..] {
                [Message::Binary(whole)] => assert_eq!(whole, &message),
                fragments => assert_eq!(reassemble(fragments, FRAME_MAX), message),
            }
        }

        // A server's Record: its header's frame, then the record's.
        let sent = record_sent(&record, &Limits::default());
        assert_eq!(sent.len(), 2, "the header, then the record");
        let (Message::Frame(header), Message::Frame(body)) = (&sent[0], &sent[1]) else {
            panic!("two frames");
        };
        assert_eq!(header.payload().len(), 8);
        assert_eq!(
            body.payload(),
            &record.as_bytes()[..],
            "the record's own bytes"
        );
        let message = ServerMessage::Record {
            query_id: QueryId(1),
            record: record.clone(),
        };
        assert_eq!(reassemble(&sent, usize::MAX), message.to_bytes());

        // Asked to, in frames of the length asked (at least 4 KiB).
        for (asked, frame) in [(16 * 1024, 16 * 1024), (100, 4 * 1024)] {
            let limits = Limits {
                record_frame_len: Some(asked),
                ..Limits::default()
            };
            let sent = record_sent(&record, &limits);
            assert_eq!(sent.len(), 1 + record.len().div_ceil(frame), "{asked}");
            assert_eq!(
                reassemble(&sent, frame.max(8)),
                message.to_bytes(),
                "{asked}"
            );
        }
    }

    /// A server connection (no keepalive, no idle timeout) on a driver with
    /// `limits`, whose driver has read the client's Query (id 1, every
    /// record) and whose application has taken it.
    struct Serving {
        shared: Arc<Shared<mosaic_proto::session::ServerSession>>,
        peer: Arc<Peer>,
        driver: Driver<Recorder, mosaic_proto::session::ServerSession, Timers>,
        query: mosaic_proto::session::QueryRef,
        task_waker: Waker,
    }

    impl Serving {
        fn query(limits: &Limits) -> Serving {
            Serving::query_stalling_after(limits, ServerConfig::default().stall_timeout)
        }

        /// [`Serving::query`] with a stall timeout of 200 ms and a close
        /// timeout of 100 ms.
        fn stalling() -> Serving {
            let limits = Limits {
                close_timeout: Duration::from_millis(100),
                ..Limits::default()
            };
            Serving::query_stalling_after(&limits, Duration::from_millis(200))
        }

        /// Queues `record` for the query, as the application would.
        fn queue(&self, record: &mosaic_proto::Record) {
            let mut inner = self.shared.lock();
            let sent = inner
                .session
                .send_record(self.query, record, Instant::now());
            sent.expect("queued");
        }

        /// [`Serving::query`], with the session's stall timeout.
        fn query_stalling_after(limits: &Limits, stall_timeout: Duration) -> Serving {
            let config = ServerConfig {
                keepalive: None,
                idle_timeout: None,
                stall_timeout,
                ..ServerConfig::default()
            };
            Serving::query_configured(limits, config)
        }

        /// [`Serving::query`], with the session's configuration.
        fn query_configured(limits: &Limits, config: ServerConfig) -> Serving {
            use mosaic_proto::session::{ServerEvent, ServerSession};
            use mosaic_proto::{ClientMessage, QueryId};

            let shared = Shared::new(ServerSession::new(config, Instant::now()));
            let query = ClientMessage::Query {
                query_id: QueryId(1),
                limit: 0,
                filter: mosaic_proto::Filter::builder().build().expect("filter"),
            };
            let peer = Peer::new([Message::Binary(query.to_bytes())].into(), usize::MAX, true);
            let mut driver = driver_with(&peer, &shared, &Arc::default(), limits);
            let (_task, task_waker) = counter();
            assert!(
                driver
                    .run(&mut Context::from_waker(&task_waker))
                    .is_pending()
            );
            let Some(ServerEvent::Query { query, .. }) = shared.lock().session.poll_event() else {
                panic!("expected the query");
            };
            Serving {
                shared,
                peer,
                driver,
                query,
                task_waker,
            }
        }
    }

    /// Runs `driver` every 20 ms, with a ping from the peer before each run,
    /// until it is over or 5 s have passed; whether it ended, and the
    /// session's close, if any.
    fn run_until_over(
        serving: &mut Serving,
        mut after_round: impl FnMut(&Driver<Recorder, ServerSession, Timers>, bool),
    ) -> (bool, Option<CloseCause>) {
        let mut cx = Context::from_waker(&serving.task_waker);
        let give_up = Instant::now() + Duration::from_secs(5);
        let mut ended = false;
        while !ended && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(20));
            let ping = Message::Ping(Bytes::from_static(b"still here"));
            serving
                .peer
                .inbound
                .lock()
                .expect("inbound")
                .push_back(ping);
            ended = serving.driver.run(&mut cx).is_ready();
            let closed = serving.shared.lock().session.closed().is_some();
            after_round(&serving.driver, closed);
        }
        let cause = serving
            .shared
            .lock()
            .session
            .closed()
            .map(|c| c.cause.clone());
        (ended, cause)
    }

    /// A client took every record the server queued but reads no more (the
    /// flush waits for ever) and pings all the while: the session's queue is
    /// empty and its keepalive content, but the driver's backlog keeps the
    /// stall clock running, so the connection is closed (1008) and ends.
    #[test]
    fn a_peer_that_stops_reading_after_taking_everything_is_closed() {
        let mut serving = Serving::stalling();
        serving.peer.flushes.store(false, Ordering::SeqCst);
        let record = crate::client::tests::sample_record();
        serving.queue(&record);
        let (ended, cause) = run_until_over(&mut serving, |_, _| {});
        assert_eq!(cause, Some(CloseCause::PeerNotReading));
        assert!(ended, "the connection ends");
        assert!(
            matches!(serving.peer.sent().last(), Some(Message::Close(_))),
            "the sink took the close frame"
        );
    }

    /// A peer that takes a large record slowly, a frame every 50 ms, is
    /// making progress though nothing else is queued: the stall timeout
    /// (1 s, far above a round's sleep even on a loaded machine) runs from
    /// the last frame taken, so the record goes out whole over nearly two
    /// seconds, and the connection stays open.
    #[test]
    fn a_slow_peer_taking_frames_is_not_stalled() {
        let limits = Limits {
            close_timeout: Duration::from_millis(100),
            record_frame_len: Some(4096),
            ..Limits::default()
        };
        let mut serving = Serving::query_stalling_after(&limits, Duration::from_secs(1));
        serving.peer.ready_budget.store(0, Ordering::SeqCst);
        let record = crate::client::tests::record_of(&[7; 150_000]);
        serving.queue(&record);
        let mut cx = Context::from_waker(&serving.task_waker);
        let give_up = Instant::now() + Duration::from_secs(10);
        let whole = |driver: &Driver<Recorder, ServerSession, Timers>| {
            driver.fragments.is_none() && driver.outgoing.is_empty()
        };
        let mut rounds = 0;
        while !(rounds > 0 && whole(&serving.driver)) && Instant::now() < give_up {
            serving.peer.ready_budget.fetch_add(1, Ordering::SeqCst);
            assert!(serving.driver.run(&mut cx).is_pending(), "still open");
            std::thread::sleep(Duration::from_millis(50));
            rounds += 1;
        }
        assert!(
            serving.shared.lock().session.closed().is_none(),
            "not stalled"
        );
        let frames = serving.peer.sent();
        assert!(
            frames.len() > 30,
            "{} frames over {rounds} rounds",
            frames.len()
        );
        let expected = mosaic_proto::ServerMessage::Record {
            query_id: mosaic_proto::QueryId(1),
            record: record.clone(),
        };
        assert_eq!(reassemble(&frames, 4096), expected.to_bytes()[..]);
    }

    /// Keepalive timings short enough for a test: pinged after 400 ms of
    /// silence, given up on 400 ms after.
    fn brisk_keepalive() -> Option<mosaic_proto::session::KeepaliveConfig> {
        Some(mosaic_proto::session::KeepaliveConfig {
            interval: Duration::from_millis(400),
            timeout: Duration::from_millis(400),
        })
    }

    /// Runs `driver` a round every 50 ms for 2.2 s, calling `step` before
    /// each, until `shared`'s session closes; why it closed, if it did.
    fn rounds_for_two_seconds<S: Session>(
        driver: &mut Driver<Recorder, S, Timers>,
        shared: &Arc<Shared<S>>,
        cx: &mut Context<'_>,
        mut step: impl FnMut(),
    ) -> Option<CloseCause> {
        let until = Instant::now() + Duration::from_millis(2_200);
        while Instant::now() < until {
            step();
            let _ = driver.run(cx);
            if let Some(closed) = shared.lock().session.closed() {
                return Some(closed.cause.clone());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// A record sent as one frame to a slow peer: the WebSocket layer took
    /// the frame, and its flush stays pending while the socket takes the
    /// frame bit by bit. With the socket's traffic watched, the stall
    /// timeout (1 s) runs from the last bytes taken, and the keepalive (a
    /// ping after 400 ms of silence, unanswered behind the frame) hears the
    /// peer in bytes taken from a full send buffer, so the connection stays
    /// open over two seconds of such progress. The same run with no probe,
    /// or with a probe whose count does not move, is closed.
    #[test]
    fn a_slow_peer_taking_one_large_frame_is_not_stalled() {
        for (probe, moving) in [(true, true), (false, true), (true, false)] {
            let limits = Limits {
                close_timeout: Duration::from_millis(100),
                ..Limits::default()
            };
            let config = ServerConfig {
                keepalive: brisk_keepalive(),
                idle_timeout: None,
                stall_timeout: Duration::from_secs(1),
                ..ServerConfig::default()
            };
            let mut serving = Serving::query_configured(&limits, config);
            let probe = probe.then_some(traffic as TrafficProbe<Recorder>);
            serving.driver = serving.driver.with_traffic_probe(probe);
            serving.peer.flushes.store(false, Ordering::SeqCst);
            let record = crate::client::tests::record_of(&[7; 150_000]);
            serving.queue(&record);
            let mut cx = Context::from_waker(&serving.task_waker);
            let peer = serving.peer.clone();
            let closed =
                rounds_for_two_seconds(&mut serving.driver, &serving.shared, &mut cx, || {
                    if moving {
                        peer.socket_sent.fetch_add(4096, Ordering::SeqCst);
                    }
                });
            let driver = &serving.driver;
            let all_taken = driver.fragments.is_none() && driver.outgoing.is_empty();
            assert!(all_taken, "the WebSocket layer took the whole message");
            if probe.is_some() && moving {
                assert_eq!(closed, None, "open while the socket takes bytes");
                serving.peer.flushes.store(true, Ordering::SeqCst);
                assert!(serving.driver.run(&mut cx).is_pending(), "still open");
                assert!(!serving.driver.holds_unsent(), "flushed");
            } else {
                // The keepalive gives up at 0.8 s, the stall check at 1 s.
                assert!(
                    matches!(
                        closed,
                        Some(CloseCause::PeerUnresponsive | CloseCause::PeerNotReading)
                    ),
                    "the control ({probe:?}, {moving}): {closed:?}"
                );
            }
        }
    }

    /// A client receiving one large frame slowly: the WebSocket layer
    /// shows nothing until the frame is whole, and the server's pong to the
    /// client's keepalive ping waits behind it. With the socket's traffic
    /// watched, the bytes arriving show the keepalive that the server is
    /// alive; without, the client gives up on it.
    #[test]
    fn a_client_receiving_one_large_frame_keeps_its_keepalive_content() {
        for probe in [true, false] {
            let config = ClientConfig {
                keepalive: brisk_keepalive(),
                ..ClientConfig::default()
            };
            let shared = Shared::new(ClientSession::new(config, Instant::now()));
            let peer = Peer::new(VecDeque::new(), usize::MAX, true);
            let probe = probe.then_some(traffic as TrafficProbe<Recorder>);
            let mut driver = driver_to(&peer, &shared, &Arc::default()).with_traffic_probe(probe);
            let (_task, waker) = counter();
            let mut cx = Context::from_waker(&waker);
            let closed = rounds_for_two_seconds(&mut driver, &shared, &mut cx, || {
                peer.socket_received.fetch_add(4096, Ordering::SeqCst);
            });
            if probe.is_some() {
                assert_eq!(closed, None, "the server is heard in its bytes");
            } else {
                assert_eq!(closed, Some(CloseCause::PeerUnresponsive), "the control");
            }
        }
    }

    /// A peer that stops reading while records wait in the session's queue
    /// is closed at the stall timeout, and the close timeout starts then:
    /// the close frame waits behind nothing the peer will take.
    #[test]
    fn a_peer_closed_for_not_reading_gets_the_close_timeout_at_once() {
        let mut serving = Serving::stalling();
        serving.peer.ready_budget.store(0, Ordering::SeqCst);
        let record = crate::client::tests::sample_record();
        for _ in 0..3 {
            serving.queue(&record);
        }
        let mut lingering_once_closed = None;
        let (ended, cause) = run_until_over(&mut serving, |driver, closed| {
            if closed && lingering_once_closed.is_none() {
                lingering_once_closed = Some(driver.linger_until.is_some());
            }
        });
        assert_eq!(cause, Some(CloseCause::PeerNotReading));
        assert_eq!(lingering_once_closed, Some(true), "timed from the close");
        assert!(ended, "the connection ends");
        assert!(serving.peer.sent().is_empty(), "the peer took nothing");
    }

    /// What a server's driver with `limits` sends for one Record of `record`.
    fn record_sent(record: &mosaic_proto::Record, limits: &Limits) -> Vec<Message> {
        let mut serving = Serving::query(limits);
        serving
            .shared
            .lock()
            .session
            .send_record(serving.query, record, Instant::now())
            .expect("queued");
        let mut cx = Context::from_waker(&serving.task_waker);
        assert!(serving.driver.run(&mut cx).is_pending());
        serving.peer.sent()
    }

    /// The peer closes while a message in frames is going (a server closing
    /// with 1009 on an upload, say): the rest is dropped, the peer's close
    /// code stands, and the sink is still flushed, which carries
    /// tungstenite's reply to the peer's close frame.
    #[test]
    fn a_close_from_the_peer_mid_message_still_flushes_the_reply() {
        let s = started();
        s.peer.ready_budget.store(1, Ordering::SeqCst);
        let record = crate::client::tests::record_of(&[7; 40_000]);
        s.shared
            .call(|session, now| session.submit(record, now))
            .expect("queued");
        s.run_task();
        assert_eq!(s.peer.sent().len(), 1, "the first frame");
        let flushed = s.peer.flushed.load(Ordering::SeqCst);
        let close = CloseFrame {
            code: 1009.into(),
            reason: "too big".into(),
        };
        s.peer
            .inbound
            .lock()
            .expect("inbound")
            .push_back(Message::Close(Some(close)));
        s.peer.closing.store(true, Ordering::SeqCst);
        s.peer.ready_budget.store(usize::MAX, Ordering::SeqCst);
        Waker::from(s.shared.clone()).wake_by_ref();
        let mut cx = Context::from_waker(&s.task_waker);
        assert!(s.shared.poll_driver_task(&mut cx, true).is_ready(), "done");
        assert_eq!(s.peer.sent().len(), 1, "nothing more was sent");
        assert!(
            s.peer.flushed.load(Ordering::SeqCst) > flushed,
            "flushed after the close"
        );
        let closed = s.shared.lock().closed().cloned().expect("closed");
        assert_eq!(closed.code, mosaic_proto::CloseCode(1009));
    }

    /// A message tungstenite gathered from frames, in a vector grown to
    /// twice its size, reaches the session fitted to its size; one read in
    /// a single frame (sharing the read buffer) is left as it is.
    #[test]
    fn messages_gathered_from_frames_are_fitted() {
        use mosaic_proto::ClientMessage;
        use mosaic_proto::session::{ServerConfig, ServerEvent, ServerSession};

        let record = crate::client::tests::record_of(&[7; 40_000]);
        let message = ClientMessage::Submission { record }.to_bytes();
        let mut gathered = Vec::with_capacity(2 * message.len());
        gathered.extend_from_slice(&message);
        let mut read_buffer = BytesMut::with_capacity(2 * message.len());
        read_buffer.extend_from_slice(&message);
        let single_frame = read_buffer.freeze();
        let inbound = [
            Message::Binary(Bytes::from(gathered)),
            Message::Binary(single_frame.slice(..)),
        ];
        let shared = Shared::new(ServerSession::new(ServerConfig::default(), Instant::now()));
        let peer = Peer::new(inbound.into(), usize::MAX, true);
        let mut driver = driver_to(&peer, &shared, &Arc::default());
        let (_task, task_waker) = counter();
        assert!(
            driver
                .run(&mut Context::from_waker(&task_waker))
                .is_pending()
        );
        // What the record holds: the allocation's room from its start on.
        let room = || match shared.lock().session.poll_event() {
            Some(ServerEvent::Submission { record, .. }) => {
                let bytes = record.into_bytes();
                assert_eq!(bytes.len(), message.len() - 8);
                match bytes.try_into_mut() {
                    Ok(unique) => unique.capacity(),
                    Err(_) => usize::MAX,
                }
            }
            other => panic!("expected a submission, not {other:?}"),
        };
        assert!(room() <= message.len() + message.len() / 8, "fitted");
        assert_eq!(room(), usize::MAX, "still the read buffer's");
        drop(single_frame);
    }

    /// Input held back while the outbound queue was full is read once the
    /// driver's writes drain the queue, in the same run: the socket
    /// announced it before, and nothing else would wake the driver for it.
    #[test]
    fn input_held_back_by_a_full_outbound_queue_is_read_once_it_drains() {
        use mosaic_proto::session::{ServerConfig, ServerSession};
        use mosaic_proto::{ClientMessage, QueryId};

        let config = ServerConfig {
            max_outbound_bytes: 1000,
            ..ServerConfig::default()
        };
        let shared = Shared::new(ServerSession::new(config, Instant::now()));
        // A client sends Unsubscribes, each answered with a Query Closed,
        // while it reads nothing; then a Query.
        let everything = mosaic_proto::Filter::builder().build().expect("filter");
        let inbound = (0..20)
            .map(|id| ClientMessage::Unsubscribe {
                query_id: QueryId(id),
            })
            .chain([ClientMessage::Query {
                query_id: QueryId(500),
                limit: 0,
                filter: everything,
            }])
            .map(|message| Message::Binary(message.to_bytes()))
            .collect();
        let peer = Peer::new(inbound, 0, false);
        shared.install(Box::new(driver_to(&peer, &shared, &Arc::default())));
        let (task, task_waker) = counter();
        let mut cx = Context::from_waker(&task_waker);
        let unread = || peer.inbound.lock().expect("inbound").len();

        assert!(shared.poll_driver_task(&mut cx, true).is_pending());
        assert!(unread() > 0, "reading stopped at the full queue");
        assert!(!shared.lock().session.has_events());

        // The client reads again: the sink takes all and wakes the driver.
        peer.ready_budget.store(usize::MAX, Ordering::SeqCst);
        peer.flushes.store(true, Ordering::SeqCst);
        let woken_before = woken(&task);
        Waker::from(shared.clone()).wake_by_ref();
        assert!(shared.poll_driver_task(&mut cx, true).is_pending());
        assert_eq!(unread(), 0, "the rest was read, the Query last");
        assert!(shared.lock().session.has_events(), "the Query is an event");
        assert_eq!(peer.sent().len(), 20, "a Query Closed per Unsubscribe");
        assert_eq!(woken(&task) - woken_before, 1, "the one wake-up above");
    }
}
