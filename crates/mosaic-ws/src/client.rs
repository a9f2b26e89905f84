//! The client's side of a Mosaic connection: requests as async calls, answers
//! as streams that end when the server closes the query.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_core::Stream;
use mosaic_proto::session::{ClientEvent, ClientSession, Closed, SessionError};
use mosaic_proto::{
    ClientExtension, CloseCode, Filter, IdPrefix, QueryClosedCode, QueryId, Record, References,
    SubmissionResultCode,
};

use crate::driver::{TrafficProbe, WebSocket, spawn_driver};
use crate::shared::Shared;
use crate::{ClientOptions, ConnectionInfo, Runtime};

/// Why a request got no (complete) answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The request could not be made (queue full, too many open queries, closed).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The server closed the query with a code other than `ON_REQUEST`.
    #[error("the server closed the query: {0}")]
    Rejected(QueryClosedCode),
    /// The connection closed before the answer was complete.
    #[error("the connection closed: {0}")]
    ConnectionClosed(Closed),
}

/// A Mosaic connection, client side. Requests are `async` calls on its
/// [`ClientSender`] (reached through `Deref`); [`ClientConnection::split`]
/// gives a cloneable sender and a receiver for extension messages and ignored
/// server messages.
///
/// The connection stays open while any of its handles lives: the
/// connection, a sender, the receiver, or a [`Records`] or [`Subscription`]
/// stream (so a stream may outlive the handle that made it). Once the last
/// is dropped it closes with 1000 after what is queued.
#[derive(Debug)]
pub struct ClientConnection {
    sender: ClientSender,
    receiver: ClientReceiver,
}

impl ClientConnection {
    /// Starts the session and its driver over a WebSocket whose upgrade
    /// negotiated what `info` says.
    pub fn start<W: WebSocket, R: Runtime>(
        ws: W,
        info: ConnectionInfo,
        options: &ClientOptions,
        runtime: R,
    ) -> ClientConnection {
        Self::start_probed(ws, info, options, runtime, None)
    }

    /// Like [`ClientConnection::start`], the driver watching the bytes the
    /// socket moves with `traffic_probe` (the stall check and the keepalive).
    pub(crate) fn start_probed<W: WebSocket, R: Runtime>(
        ws: W,
        info: ConnectionInfo,
        options: &ClientOptions,
        runtime: R,
        traffic_probe: Option<TrafficProbe<W>>,
    ) -> ClientConnection {
        let config = options.session_for(info.negotiated());
        let shared = Shared::new(ClientSession::new(config, Instant::now()));
        let hold = Box::new(());
        spawn_driver(
            ws,
            &shared,
            runtime.clone(),
            &options.limits,
            hold,
            traffic_probe,
        );
        let info = Arc::new(info);
        let guard = Arc::new(CloseOnDrop(shared.clone()));
        ClientConnection {
            sender: ClientSender {
                shared: shared.clone(),
                info,
                _guard: guard.clone(),
            },
            receiver: ClientReceiver {
                shared,
                _guard: guard,
            },
        }
    }

    /// Splits into a cloneable sender and the receiver of extension messages
    /// and ignored server messages.
    pub fn split(self) -> (ClientSender, ClientReceiver) {
        (self.sender, self.receiver)
    }

    /// The next extension message or ignored server message, or `None` once
    /// the connection is closed.
    pub async fn recv(&mut self) -> Option<ClientEvent> {
        self.receiver.recv().await
    }
}

impl std::ops::Deref for ClientConnection {
    type Target = ClientSender;

    fn deref(&self) -> &ClientSender {
        &self.sender
    }
}

/// Closes the connection once the application has dropped every handle.
#[derive(Debug)]
struct CloseOnDrop(Arc<Shared<ClientSession>>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.session.close(CloseCode::NORMAL, "", Instant::now());
        inner.wake_driver();
    }
}

/// Receives what no request waits for: extension messages, and server messages
/// that were ignored (protocol.md: a client MUST ignore the unexpected).
///
/// Dropping it (or the [`ClientConnection`] that holds it) tells the session
/// that nobody will read these any more: they are dropped from then on
/// (counted by [`ClientSender::ignored_dropped`]), so that unread extension
/// messages never hold up the answers to requests.
#[derive(Debug)]
pub struct ClientReceiver {
    shared: Arc<Shared<ClientSession>>,
    _guard: Arc<CloseOnDrop>,
}

impl ClientReceiver {
    /// The next extension message or ignored server message, or `None` once
    /// the connection is closed.
    pub async fn recv(&mut self) -> Option<ClientEvent> {
        poll_fn(|cx| {
            self.shared
                .poll_event(cx, |s| s.poll_event_where(ClientEvent::is_for_receiver))
        })
        .await
    }

    /// How the connection closed, once it has (`recv` gives `None` then).
    pub fn close_reason(&self) -> Option<Closed> {
        self.shared.close_reason()
    }
}

impl Drop for ClientReceiver {
    fn drop(&mut self) {
        // The driver is woken: dropped events may free room for input.
        let _ = self.shared.call(|session, _| {
            session.stop_receiving();
            Ok(())
        });
    }
}

/// Makes requests; clone it to make them from many tasks.
///
/// Calls wait while the outbound queue is full; the queue is bounded, and a
/// server that stops reading is closed after the stall timeout.
#[derive(Clone, Debug)]
pub struct ClientSender {
    shared: Arc<Shared<ClientSession>>,
    info: Arc<ConnectionInfo>,
    _guard: Arc<CloseOnDrop>,
}

impl ClientSender {
    async fn call<T>(
        &self,
        mut f: impl FnMut(&mut ClientSession, Instant) -> Result<T, SessionError>,
    ) -> Result<T, SessionError> {
        poll_fn(|cx| self.shared.poll_call(cx, &mut f)).await
    }

    fn answers(&self, query_id: QueryId) -> Answers {
        Answers {
            shared: self.shared.clone(),
            query_id,
            taken: VecDeque::new(),
            done: false,
            _guard: self._guard.clone(),
        }
    }

    /// Gets records by ID or address; the stream ends after the last one.
    ///
    /// # Errors
    /// [`SessionError`] when the request cannot be made.
    pub async fn get(&self, references: References) -> Result<Records, SessionError> {
        let id = self.call(|s, now| s.get(references.clone(), now)).await?;
        Ok(Records(self.answers(id)))
    }

    /// Queries records matching `filter`, newest first, at most `limit`
    /// (0: no limit); the stream ends after the last one.
    ///
    /// # Errors
    /// [`SessionError`] when the request cannot be made.
    pub async fn query(&self, filter: Filter, limit: u16) -> Result<Records, SessionError> {
        let id = self
            .call(|s, now| s.query(filter.clone(), limit, now))
            .await?;
        Ok(Records(self.answers(id)))
    }

    /// Subscribes to records matching `filter`: at most `limit` stored ones
    /// (0: no limit), then [`SubscriptionEvent::LocallyComplete`], then live ones.
    ///
    /// # Errors
    /// [`SessionError`] when the request cannot be made.
    pub async fn subscribe(
        &self,
        filter: Filter,
        limit: u16,
    ) -> Result<Subscription, SessionError> {
        let id = self
            .call(|s, now| s.subscribe(filter.clone(), limit, now))
            .await?;
        Ok(Subscription(self.answers(id)))
    }

    /// Submits a record and waits for the server's result.
    ///
    /// # Errors
    /// [`RequestError::Session`] when it cannot be sent,
    /// [`RequestError::ConnectionClosed`] when no result came before the close.
    pub async fn submit(&self, record: Record) -> Result<SubmissionResultCode, RequestError> {
        let prefix = self.call(|s, now| s.submit(record.clone(), now)).await?;
        let mut waiting = SubmissionWait {
            shared: &self.shared,
            prefix,
            done: false,
        };
        poll_fn(|cx| waiting.poll(cx)).await
    }

    /// Sends a message of a negotiated extension.
    ///
    /// # Errors
    /// [`SessionError`] when it cannot be sent.
    pub async fn send_extension(&self, message: &ClientExtension) -> Result<(), SessionError> {
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

    /// Waits until the connection has closed and its transport is released.
    pub async fn closed(&self) -> Closed {
        poll_fn(|cx| self.shared.poll_finished(cx)).await
    }

    /// How the connection closed, once it has.
    pub fn close_reason(&self) -> Option<Closed> {
        self.shared.close_reason()
    }

    /// Negotiated extensions, service URL, the server's identity and address.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// How many ignored server messages were dropped unread.
    pub fn ignored_dropped(&self) -> u64 {
        self.shared.lock().session.ignored_dropped()
    }
}

/// Waits for one submission's result; forgets it if dropped first.
struct SubmissionWait<'a> {
    shared: &'a Arc<Shared<ClientSession>>,
    prefix: IdPrefix,
    done: bool,
}

impl SubmissionWait<'_> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<SubmissionResultCode, RequestError>> {
        let prefix = self.prefix;
        let event = self.shared.poll_event(cx, |s| {
            s.poll_event_where(
                |e| matches!(e, ClientEvent::SubmissionResult { id_prefix, .. } if *id_prefix == prefix),
            )
        });
        match event {
            Poll::Pending => Poll::Pending,
            Poll::Ready(event) => {
                self.done = true;
                Poll::Ready(match event {
                    Some(ClientEvent::SubmissionResult { code, .. }) => Ok(code),
                    _ => Err(RequestError::ConnectionClosed(closed_of(self.shared))),
                })
            }
        }
    }
}

impl Drop for SubmissionWait<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut inner = self.shared.lock();
            inner.session.abandon_submission(self.prefix);
            // A result taken out of the queue may free room for input.
            inner.wake_driver();
        }
    }
}

fn closed_of(shared: &Shared<ClientSession>) -> Closed {
    shared.lock().closed().cloned().unwrap_or_else(|| Closed {
        code: CloseCode(1006),
        reason: String::new(),
        cause: mosaic_proto::session::CloseCause::Transport("closed".into()),
    })
}

/// The answers of one query, taken from the session in batches (one lock for
/// all that are queued), then handed out one by one.
#[derive(Debug)]
struct Answers {
    shared: Arc<Shared<ClientSession>>,
    query_id: QueryId,
    taken: VecDeque<ClientEvent>,
    done: bool,
    /// Keeps the connection open while the stream lives.
    _guard: Arc<CloseOnDrop>,
}

impl Answers {
    /// The next record when one is at the front of the batch already taken:
    /// the common case of a streaming query, without the general path's
    /// larger result type.
    fn take_record(&mut self) -> Option<Record> {
        if !matches!(self.taken.front(), Some(ClientEvent::Record { .. })) {
            return None;
        }
        match self.taken.pop_front() {
            Some(ClientEvent::Record { record, .. }) => Some(record),
            _ => None,
        }
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<ClientEvent, RequestError>>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match self.taken.pop_front() {
                Some(ClientEvent::QueryClosed { code, .. }) => {
                    self.done = true;
                    return Poll::Ready(if code == QueryClosedCode::OnRequest {
                        None
                    } else {
                        Some(Err(RequestError::Rejected(code)))
                    });
                }
                Some(event) => return Poll::Ready(Some(Ok(event))),
                None => {}
            }
            let (id, taken) = (self.query_id, &mut self.taken);
            let batch = self
                .shared
                .poll_event(cx, |s| (s.take_events_for(id, taken) > 0).then_some(()));
            match batch {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(())) => {}
                Poll::Ready(None) => {
                    self.done = true;
                    let closed = closed_of(&self.shared);
                    return Poll::Ready(Some(Err(RequestError::ConnectionClosed(closed))));
                }
            }
        }
    }
}

impl Answers {
    /// Whether the query is over for the session: its Query Closed was
    /// taken (handed out or not), so the session has forgotten it and its
    /// id may be another query's by now.
    fn forgotten(&self) -> bool {
        self.done
            || self
                .taken
                .iter()
                .any(|e| matches!(e, ClientEvent::QueryClosed { .. }))
    }
}

impl Drop for Answers {
    fn drop(&mut self) {
        if !self.forgotten() {
            let mut inner = self.shared.lock();
            inner.session.abandon_query(self.query_id, Instant::now());
            inner.wake_driver();
        }
    }
}

/// The records answering a Get or Query, in the order sent; ends after the
/// server's Query Closed `ON_REQUEST`, or with an error for any other close.
/// Dropping it early forgets the rest.
#[derive(Debug)]
pub struct Records(Answers);

impl Records {
    /// The query id used on the wire.
    pub fn query_id(&self) -> QueryId {
        self.0.query_id
    }

    /// The next record; `None` once the query is complete.
    pub async fn next(&mut self) -> Option<Result<Record, RequestError>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Collects every record until the query completes.
    ///
    /// All of them are held at once, and the server decides how many come
    /// (a Query with LIMIT 0, a Get of an address with many versions): from
    /// a server not trusted that far, take them with [`Records::next`], or
    /// set a LIMIT.
    ///
    /// # Errors
    /// The first error in the stream.
    pub async fn collect_all(mut self) -> Result<Vec<Record>, RequestError> {
        let mut out = Vec::new();
        while let Some(record) = self.next().await {
            out.push(record?);
        }
        Ok(out)
    }
}

impl Stream for Records {
    type Item = Result<Record, RequestError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(record) = self.0.take_record() {
            return Poll::Ready(Some(Ok(record)));
        }
        loop {
            return match self.0.poll_next(cx) {
                Poll::Ready(Some(Ok(ClientEvent::Record { record, .. }))) => {
                    Poll::Ready(Some(Ok(record)))
                }
                // A Get or Query has no Locally Complete; the session ignores it.
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

/// What a subscription delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscriptionEvent {
    /// A stored record (before Locally Complete) or a live one (after).
    Record(Record),
    /// The stored matches are all sent; live records follow.
    LocallyComplete,
}

/// The records of a subscription; ends after [`Subscription::unsubscribe`] is
/// answered, or with an error when the server closes it. Dropping it
/// unsubscribes.
#[derive(Debug)]
pub struct Subscription(Answers);

impl Subscription {
    /// The query id used on the wire.
    pub fn query_id(&self) -> QueryId {
        self.0.query_id
    }

    /// The next event; `None` once the subscription is closed on request.
    pub async fn next(&mut self) -> Option<Result<SubscriptionEvent, RequestError>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Asks the server to end the subscription; the stream ends when it does.
    ///
    /// # Errors
    /// [`SessionError`] when the request cannot be sent.
    pub async fn unsubscribe(&self) -> Result<(), SessionError> {
        if self.0.forgotten() {
            // Closed already; the id may be another query's.
            return Ok(());
        }
        let id = self.0.query_id;
        let mut f = |s: &mut ClientSession, now| s.unsubscribe(id, now);
        match poll_fn(|cx| self.0.shared.poll_call(cx, &mut f)).await {
            // The server's Query Closed came and waits, unread, for this
            // stream: the subscription is over, as when it has been read
            // (and its id cannot be another query's while it waits).
            Err(SessionError::UnknownQuery(_)) => Ok(()),
            result => result,
        }
    }
}

impl Stream for Subscription {
    type Item = Result<SubscriptionEvent, RequestError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(record) = self.0.take_record() {
            return Poll::Ready(Some(Ok(SubscriptionEvent::Record(record))));
        }
        loop {
            return match self.0.poll_next(cx) {
                Poll::Ready(Some(Ok(ClientEvent::Record { record, .. }))) => {
                    Poll::Ready(Some(Ok(SubscriptionEvent::Record(record))))
                }
                Poll::Ready(Some(Ok(ClientEvent::LocallyComplete { .. }))) => {
                    Poll::Ready(Some(Ok(SubscriptionEvent::LocallyComplete)))
                }
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use mosaic_proto::session::ClientConfig;
    use mosaic_proto::{Filter, ServerMessage};

    use super::*;
    use crate::shared::Shared;

    /// A record signed by a fresh key, answering an empty filter.
    pub(crate) fn sample_record() -> Record {
        record_of(b"hello")
    }

    /// A signed record carrying `payload`.
    pub(crate) fn record_of(payload: &[u8]) -> Record {
        let identity = mosaic_tls::Identity::generate().expect("rng");
        let key = identity.public_key().to_bytes();
        mosaic_proto::RecordParts {
            signing_key: key,
            author_key: key,
            kind: mosaic_proto::Kind::from_bytes([0, 0, 0, 0, 1, 0, 1, 0x1c]),
            address_nonce: [0x80, 0, 0, 0, 0, 0, 0, 1],
            timestamp: mosaic_proto::Timestamp::from_unix(1_700_000_000, 0).record_aligned(),
            flags: mosaic_proto::RecordFlags::empty(),
            tags: &[],
            payload,
        }
        .sign(identity.signing_key())
        .expect("fits")
    }

    fn closed(query_id: QueryId) -> bytes::Bytes {
        ServerMessage::QueryClosed {
            query_id,
            code: QueryClosedCode::OnRequest,
        }
        .to_bytes()
    }

    /// A subscription's answers that have taken its Query Closed (not yet
    /// handed out), and a new subscription that got the same id after every
    /// other id was used once (the ids wrap after 65,536), nothing queued.
    fn closed_answers_and_a_new_subscription_with_their_id() -> (
        Arc<Shared<ClientSession>>,
        Answers,
        QueryId,
        Arc<CloseOnDrop>,
    ) {
        let now = Instant::now();
        let shared = Shared::new(ClientSession::new(ClientConfig::default(), now));
        let everything = || Filter::builder().build().expect("empty");
        let old = shared
            .lock()
            .session
            .subscribe(everything(), 0, now)
            .expect("id");
        // The connection's other handles, kept by the caller.
        let guard = Arc::new(CloseOnDrop(shared.clone()));
        let mut answers = Answers {
            shared: shared.clone(),
            query_id: old,
            taken: VecDeque::new(),
            done: false,
            _guard: guard.clone(),
        };
        {
            let mut inner = shared.lock();
            inner.session.handle_binary(closed(old), now);
            inner.session.take_events_for(old, &mut answers.taken);
        }
        let new = loop {
            let mut inner = shared.lock();
            let id = inner.session.subscribe(everything(), 0, now).expect("id");
            while inner.session.poll_transmit(now).is_some() {}
            if id == old {
                break id;
            }
            inner.session.handle_binary(closed(id), now);
            assert!(inner.session.poll_event().is_some());
        };
        (shared, answers, new, guard)
    }

    /// Dropped, such answers leave the new subscription alone: no
    /// Unsubscribe for it, and its records are delivered.
    #[test]
    fn dropping_closed_answers_leaves_a_new_query_with_their_id_alone() {
        let (shared, answers, new, _guard) = closed_answers_and_a_new_subscription_with_their_id();
        let now = Instant::now();
        drop(answers);
        let mut inner = shared.lock();
        assert!(inner.session.poll_transmit(now).is_none(), "no Unsubscribe");
        let record = ServerMessage::Record {
            query_id: new,
            record: sample_record(),
        };
        inner.session.handle_binary(record.to_bytes(), now);
        assert!(
            matches!(inner.session.poll_event(), Some(ClientEvent::Record { query_id, .. }) if query_id == new),
            "the new query's record is delivered"
        );
    }

    /// Unsubscribing such a subscription sends nothing: the id is not its own.
    #[test]
    fn unsubscribing_a_closed_subscription_leaves_a_new_one_with_its_id_alone() {
        let (shared, answers, _, _guard) = closed_answers_and_a_new_subscription_with_their_id();
        let subscription = Subscription(answers);
        let unsubscribed = futures_util::FutureExt::now_or_never(subscription.unsubscribe());
        assert!(matches!(unsubscribed, Some(Ok(()))));
        let now = Instant::now();
        assert!(
            shared.lock().session.poll_transmit(now).is_none(),
            "no Unsubscribe"
        );
    }

    /// A runtime that keeps what it is given to spawn and never runs it.
    #[derive(Clone, Default)]
    pub(crate) struct Parked(Arc<std::sync::Mutex<Vec<crate::Task>>>);

    impl Runtime for Parked {
        type Sleep = crate::driver::tests::Deadline;

        fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
            crate::driver::tests::Deadline(deadline)
        }

        fn spawn(&self, task: crate::Task) {
            self.0.lock().expect("tasks").push(task);
        }
    }

    /// A client connection over the driver tests' in-memory peer; its
    /// driver task is never run, so the session is driven by hand.
    fn connection() -> ClientConnection {
        use crate::driver::tests::{Peer, Recorder};
        let key = mosaic_tls::Identity::generate().expect("rng").public_key();
        let options = ClientOptions::new(mosaic_tls::ClientTls::builder(key).build().expect("tls"));
        let peer = Peer::new(VecDeque::new(), usize::MAX, true);
        let info = ConnectionInfo::new(
            mosaic_handshake::Negotiated::default(),
            mosaic_tls::PeerIdentity::Anonymous,
            None,
        );
        ClientConnection::start(Recorder(peer), info, &options, Parked::default())
    }

    fn now<F: std::future::Future>(future: F) -> F::Output {
        futures_util::FutureExt::now_or_never(future).expect("ready at once")
    }

    /// A stream keeps the connection open after the handle that made it is
    /// dropped, gets its answers, and the connection closes (1000) when the
    /// stream goes too.
    #[test]
    fn a_stream_outlives_the_connection_that_made_it() {
        let client = connection();
        let mut records =
            now(client.query(Filter::builder().build().expect("filter"), 0)).expect("query");
        drop(client);
        let shared = records.0.shared.clone();
        assert!(
            shared.lock().closed().is_none(),
            "open while the stream lives"
        );
        let record = sample_record();
        {
            let mut inner = shared.lock();
            let id = records.query_id();
            let answer = ServerMessage::Record {
                query_id: id,
                record: record.clone(),
            };
            inner
                .session
                .handle_binary(answer.to_bytes(), Instant::now());
            inner.session.handle_binary(closed(id), Instant::now());
        }
        assert_eq!(now(records.next()).map(Result::ok), Some(Some(record)));
        assert!(now(records.next()).is_none(), "complete");
        drop(records);
        let closed = shared
            .lock()
            .closed()
            .cloned()
            .expect("closed with the stream");
        assert_eq!(closed.code, CloseCode::NORMAL);
    }

    /// Unsubscribing when the server's Query Closed has come but waits,
    /// unread, in the session's queue is no error: the subscription is over.
    #[test]
    fn unsubscribing_after_the_server_closed_it_unread_is_no_error() {
        let client = connection();
        let subscription = now(client.subscribe(Filter::builder().build().expect("filter"), 0))
            .expect("subscribe");
        let id = subscription.query_id();
        let shutting_down = ServerMessage::QueryClosed {
            query_id: id,
            code: QueryClosedCode::ShuttingDown,
        };
        let shared = subscription.0.shared.clone();
        shared
            .lock()
            .session
            .handle_binary(shutting_down.to_bytes(), Instant::now());
        assert_eq!(now(subscription.unsubscribe()), Ok(()));
        let mut subscription = subscription;
        assert!(matches!(
            now(subscription.next()),
            Some(Err(RequestError::Rejected(QueryClosedCode::ShuttingDown)))
        ));
    }

    /// The receiver gone, extension messages and ignored ones are dropped
    /// (counted) rather than held for nobody; its close reason is there once
    /// closed.
    #[test]
    fn a_dropped_receiver_stops_the_session_keeping_its_events() {
        let (sender, receiver) = connection().split();
        let stray = ServerMessage::Record {
            query_id: QueryId(7),
            record: sample_record(),
        };
        sender
            .shared
            .lock()
            .session
            .handle_binary(stray.to_bytes(), Instant::now());
        assert_eq!(sender.ignored_dropped(), 0, "kept for the receiver");
        assert_eq!(receiver.close_reason(), None);
        drop(receiver);
        assert_eq!(sender.ignored_dropped(), 1, "dropped with the receiver");
        assert!(!sender.shared.lock().session.has_events());
        assert_eq!(sender.close_reason(), None, "the sender keeps it open");
    }
}
