//! The server side of a connection: open queries, pending submissions, the
//! rulings' dispositions, idle clients.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{CloseCause, Core, KeepaliveConfig, SessionError, Transmit};
use crate::{
    ClientExtension, ClientMessage, CloseCode, DecodeOptions, Disposition, Filter, IdPrefix,
    QueryClosedCode, QueryId, Record, References, ServerExtension, ServerMessage,
    SubmissionResultCode,
};

/// Limits and timeouts of a server connection; every one bounded by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Size limit and negotiated extension types for received messages.
    pub decode: DecodeOptions,
    /// Most queries (Get, Query, Subscribe) open at once; more are answered
    /// `REJECTED_TOO_FAST`. Default 32.
    pub max_open_queries: usize,
    /// Most submissions awaiting a result; more are answered `REJECTED_TOO_FAST`.
    /// Default 32.
    pub max_pending_submissions: usize,
    /// Most events waiting for the application; input is not read past it. Default 64.
    pub max_pending_events: usize,
    /// Most message bytes held by events waiting for the application (records
    /// submitted, references, filters, extension bodies); input is not read
    /// past it, but one message of any size is always taken. Default 1 MiB:
    /// 64 waiting submissions of the largest record would hold 64 MiB.
    pub max_pending_event_bytes: usize,
    /// Most bytes of messages queued for the client. Default 4 MiB.
    pub max_outbound_bytes: usize,
    /// Close when queued messages make no progress this long (the client stopped
    /// reading), counting what the transport took but has not handed on
    /// ([`ServerSession::set_transport_backlog`]). Default 30 s.
    pub stall_timeout: Duration,
    /// Close a client with no open query or submission after this long without a
    /// message (protocol.md allows it). Default 5 minutes; `None` never.
    pub idle_timeout: Option<Duration>,
    /// Keepalive pings; `None` disables them. Default: ping after 30 s of
    /// silence, give up 20 s later.
    pub keepalive: Option<KeepaliveConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            decode: DecodeOptions::default(),
            max_open_queries: 32,
            max_pending_submissions: 32,
            max_pending_events: 64,
            max_pending_event_bytes: 1 << 20,
            max_outbound_bytes: 4 << 20,
            stall_timeout: Duration::from_secs(30),
            idle_timeout: Some(Duration::from_secs(300)),
            keepalive: Some(KeepaliveConfig::default()),
        }
    }
}

/// An open query, as the application refers to it when answering.
///
/// It carries a serial number besides the query id, so that answers meant for a
/// query that was closed never reach a later query that reuses its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QueryRef {
    id: QueryId,
    serial: u64,
}

impl QueryRef {
    /// The client's query id.
    pub fn id(&self) -> QueryId {
        self.id
    }
}

/// A submission awaiting its result, as the application refers to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubmissionRef {
    id_prefix: IdPrefix,
    serial: u64,
}

impl SubmissionRef {
    /// The first 32 bytes of the submitted record's ID.
    pub fn id_prefix(&self) -> IdPrefix {
        self.id_prefix
    }
}

/// What the client asked, for the application to serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// Serve these references with [`ServerSession::send_record`], then
    /// [`ServerSession::close_query`] with `ON_REQUEST`.
    Get {
        /// The query to answer.
        query: QueryRef,
        /// The IDs and addresses asked for.
        references: References,
    },
    /// Serve matching records newest first (at most `limit` unless 0), then
    /// [`ServerSession::close_query`] with `ON_REQUEST`.
    Query {
        /// The query to answer.
        query: QueryRef,
        /// Most records wanted; 0 means no limit from the client.
        limit: u16,
        /// Which records.
        filter: Filter,
    },
    /// Serve stored matches newest first (at most `limit` unless 0), then
    /// [`ServerSession::locally_complete`], then live records until cancelled.
    Subscribe {
        /// The subscription.
        query: QueryRef,
        /// Most stored records wanted; 0 means no limit from the client.
        limit: u16,
        /// Which records. It shares the buffer the message was read into:
        /// keep [`Filter::detached`] for the subscription's life.
        filter: Filter,
    },
    /// Stop serving this query: the client unsubscribed (the session answered
    /// Query Closed `ON_REQUEST`) or reused its id (answered `REJECTED_INVALID`).
    Cancelled {
        /// The query that ended.
        query: QueryRef,
    },
    /// Validate and store the record, then [`ServerSession::submission_result`].
    Submission {
        /// The submission to answer.
        submission: SubmissionRef,
        /// The record, structurally valid (check its signature before
        /// trusting it). It shares the buffer the message was read into: a
        /// store keeps [`Record::detached`].
        record: Record,
    },
    /// A message of a negotiated extension.
    Extension(ClientExtension),
}

/// The message bytes an event holds: what bounds the pending events' memory
/// ([`ServerConfig::max_pending_event_bytes`]).
fn event_bytes(event: &ServerEvent) -> usize {
    match event {
        ServerEvent::Get { references, .. } => references.as_bytes().len(),
        ServerEvent::Query { filter, .. } | ServerEvent::Subscribe { filter, .. } => filter.len(),
        ServerEvent::Submission { record, .. } => record.len(),
        ServerEvent::Extension(extension) => extension.body().len(),
        ServerEvent::Cancelled { .. } => 0,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QueryKind {
    Get,
    Query,
    /// A subscription; `complete` once Locally Complete is sent.
    Subscribe {
        complete: bool,
    },
}

#[derive(Debug)]
struct OpenQuery {
    query: QueryRef,
    kind: QueryKind,
    limit: u16,
    sent: u32,
}

/// The server side of one connection. See the [module docs](super) for the
/// order in which to drive it.
#[derive(Debug)]
pub struct ServerSession {
    config: ServerConfig,
    pub(super) core: Core,
    open: Vec<OpenQuery>,
    submissions: Vec<SubmissionRef>,
    events: VecDeque<ServerEvent>,
    /// Message bytes `events` hold ([`event_bytes`]).
    event_bytes: usize,
    next_serial: u64,
    last_message: Instant,
}

impl ServerSession {
    /// A session for a connection accepted at `now`.
    pub fn new(config: ServerConfig, now: Instant) -> ServerSession {
        ServerSession {
            core: Core::new(
                config.max_outbound_bytes,
                config.stall_timeout,
                config.keepalive,
                now,
            ),
            config,
            open: Vec::new(),
            submissions: Vec::new(),
            events: VecDeque::new(),
            event_bytes: 0,
            next_serial: 0,
            last_message: now,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    fn serial(&mut self) -> u64 {
        self.next_serial += 1;
        self.next_serial
    }

    /// Whether the transport should read more input now: the session is open,
    /// the application keeps up with events and the client with its answers.
    pub fn wants_input(&self) -> bool {
        self.core.closed.is_none() && !self.input_held() && self.core.outbound.below_limit()
    }

    /// A binary WebSocket message arrived.
    pub fn handle_binary(&mut self, bytes: Bytes, now: Instant) {
        if self.core.closed.is_some() {
            return;
        }
        self.core.keepalive.heard(now);
        self.last_message = now;
        match ClientMessage::decode(bytes, &self.config.decode) {
            Ok(message) => self.handle_message(message, now),
            Err(error) => match error.disposition() {
                Disposition::RejectQuery(id) => {
                    self.cancel_open(id);
                    self.answer_query(id, QueryClosedCode::RejectedInvalid, now);
                }
                Disposition::RejectSubmission(id_prefix) => {
                    self.answer_submission(id_prefix, SubmissionResultCode::RejectedInvalid, now);
                }
                Disposition::Close(code) => self.core.close_for(error, code, now),
                // A server never ignores: unknown client types close (rulings).
                Disposition::Ignore => self.core.close_for(error, CloseCode::PROTOCOL_ERROR, now),
            },
        }
    }

    fn handle_message(&mut self, message: ClientMessage, now: Instant) {
        match message {
            ClientMessage::Get {
                query_id,
                references,
            } => {
                if let Some(query) = self.open_query(query_id, QueryKind::Get, 0, now) {
                    self.push_event(ServerEvent::Get { query, references });
                }
            }
            ClientMessage::Query {
                query_id,
                limit,
                filter,
            } => {
                if let Some(query) = self.open_query(query_id, QueryKind::Query, limit, now) {
                    self.push_event(ServerEvent::Query {
                        query,
                        limit,
                        filter,
                    });
                }
            }
            ClientMessage::Subscribe {
                query_id,
                limit,
                filter,
            } => {
                let kind = QueryKind::Subscribe { complete: false };
                if let Some(query) = self.open_query(query_id, kind, limit, now) {
                    self.push_event(ServerEvent::Subscribe {
                        query,
                        limit,
                        filter,
                    });
                }
            }
            ClientMessage::Unsubscribe { query_id } => {
                // Closing an unknown id is answered too: the client may have
                // raced a close it has not read yet.
                self.cancel_open(query_id);
                self.answer_query(query_id, QueryClosedCode::OnRequest, now);
            }
            ClientMessage::Submission { record } => {
                let id_prefix = record.id_prefix();
                if self.submissions.len() >= self.config.max_pending_submissions {
                    self.answer_submission(id_prefix, SubmissionResultCode::RejectedTooFast, now);
                    return;
                }
                let submission = SubmissionRef {
                    id_prefix,
                    serial: self.serial(),
                };
                self.submissions.push(submission);
                self.push_event(ServerEvent::Submission { submission, record });
            }
            ClientMessage::Extension(ext) => self.push_event(ServerEvent::Extension(ext)),
        }
    }

    fn push_event(&mut self, event: ServerEvent) {
        self.event_bytes += event_bytes(&event);
        self.events.push_back(event);
    }

    /// Opens a query, or answers it: a reused open id closes both (rulings), and
    /// past the limit of open queries the answer is `REJECTED_TOO_FAST`.
    fn open_query(
        &mut self,
        id: QueryId,
        kind: QueryKind,
        limit: u16,
        now: Instant,
    ) -> Option<QueryRef> {
        if self.cancel_open(id) {
            self.answer_query(id, QueryClosedCode::RejectedInvalid, now);
            return None;
        }
        if self.open.len() >= self.config.max_open_queries {
            self.answer_query(id, QueryClosedCode::RejectedTooFast, now);
            return None;
        }
        let query = QueryRef {
            id,
            serial: self.serial(),
        };
        self.open.push(OpenQuery {
            query,
            kind,
            limit,
            sent: 0,
        });
        Some(query)
    }

    /// Idle time counts from the last message or the end of the last query or
    /// submission, whichever is later.
    fn activity(&mut self, now: Instant) {
        self.last_message = self.last_message.max(now);
    }

    /// Removes an open query with this id, telling the application; whether one was open.
    fn cancel_open(&mut self, id: QueryId) -> bool {
        let Some(at) = self.open.iter().position(|q| q.query.id == id) else {
            return false;
        };
        let query = self.open.swap_remove(at).query;
        self.push_event(ServerEvent::Cancelled { query });
        true
    }

    fn answer_query(&mut self, query_id: QueryId, code: QueryClosedCode, now: Instant) {
        let message = ServerMessage::QueryClosed { query_id, code };
        self.core
            .outbound
            .push(Transmit::Message(message.to_bytes()), now);
    }

    fn answer_submission(&mut self, id_prefix: IdPrefix, code: SubmissionResultCode, now: Instant) {
        let message = ServerMessage::SubmissionResult { code, id_prefix };
        self.core
            .outbound
            .push(Transmit::Message(message.to_bytes()), now);
    }

    /// Whether events wait for the application.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// When [`ServerSession::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let idle = self.idle_deadline();
        let held = self.input_held();
        [self.core.poll_timeout(held), idle]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether input is held back because the application lags behind.
    fn input_held(&self) -> bool {
        self.events.len() >= self.config.max_pending_events
            || (self.event_bytes > 0 && self.event_bytes >= self.config.max_pending_event_bytes)
    }

    fn idle_deadline(&self) -> Option<Instant> {
        if self.core.closed.is_some() || !self.open.is_empty() || !self.submissions.is_empty() {
            return None;
        }
        self.config
            .idle_timeout
            .map(|t| super::transmit::later(self.last_message, t))
    }

    /// Time passed: keepalive, stalled client, idle client.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.idle_deadline().is_some_and(|d| now >= d) {
            self.core.close(
                CloseCode::NORMAL,
                "idle: no open query or submission",
                CloseCause::Idle,
                now,
            );
            return;
        }
        let held = self.input_held();
        self.core.handle_timeout(now, held);
    }

    /// The next request for the application.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        let event = self.events.pop_front()?;
        self.event_bytes -= event_bytes(&event);
        Some(event)
    }

    /// The next thing to send.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        self.core.outbound.pop(now)
    }

    /// The queries open now.
    pub fn open_queries(&self) -> impl Iterator<Item = QueryRef> + '_ {
        self.open.iter().map(|q| q.query)
    }

    fn find(&self, query: QueryRef) -> Result<usize, SessionError> {
        self.core.check_open()?;
        self.open
            .iter()
            .position(|q| q.query == query)
            .ok_or(SessionError::UnknownQuery(query.id))
    }

    /// Sends a record for an open query; the record bytes are shared, not copied.
    ///
    /// # Errors
    /// [`SessionError::UnknownQuery`] when the query is not open (it may have
    /// been cancelled), [`SessionError::LimitReached`] past the query's LIMIT
    /// (a subscription's limit counts only before Locally Complete),
    /// [`SessionError::QueueFull`] and [`SessionError::Closed`].
    pub fn send_record(
        &mut self,
        query: QueryRef,
        record: &Record,
        now: Instant,
    ) -> Result<(), SessionError> {
        self.send_record_leaving(query, record, 0, now)
    }

    /// Like [`ServerSession::send_record`], but takes the record only while,
    /// with it queued, `room` more bytes of the outbound queue stay free (at
    /// most half the queue; an empty queue takes any record). For answers
    /// sent in bulk: records sent meanwhile without waiting (live ones, which
    /// a server cannot hold up for one slow subscriber) find that room.
    ///
    /// # Errors
    /// As [`ServerSession::send_record`]; [`SessionError::QueueFull`] also
    /// when the room would not stay free.
    pub fn send_record_leaving(
        &mut self,
        query: QueryRef,
        record: &Record,
        room: usize,
        now: Instant,
    ) -> Result<(), SessionError> {
        let at = self.find(query)?;
        let open = &self.open[at];
        let counted = !matches!(open.kind, QueryKind::Subscribe { complete: true });
        if counted && open.limit != 0 && open.sent >= u32::from(open.limit) {
            return Err(SessionError::LimitReached {
                query_id: query.id,
                limit: open.limit,
            });
        }
        let room = room.min(self.core.outbound.max_bytes() / 2);
        self.core.check_room(8 + record.len() + room)?;
        if counted {
            self.open[at].sent += 1;
        }
        self.core.outbound.push(
            Transmit::Record {
                header: ServerMessage::record_header(query.id, record),
                record: record.as_bytes().clone(),
            },
            now,
        );
        Ok(())
    }

    /// Tells the client a subscription's stored records are all sent.
    ///
    /// # Errors
    /// [`SessionError::NotAwaitingLocallyComplete`] for a Get, a Query or a
    /// subscription already complete, and the errors of [`ServerSession::send_record`].
    pub fn locally_complete(&mut self, query: QueryRef, now: Instant) -> Result<(), SessionError> {
        let at = self.find(query)?;
        if self.open[at].kind != (QueryKind::Subscribe { complete: false }) {
            return Err(SessionError::NotAwaitingLocallyComplete(query.id));
        }
        self.core.check_room(8)?;
        self.open[at].kind = QueryKind::Subscribe { complete: true };
        let message = ServerMessage::LocallyComplete { query_id: query.id };
        self.core
            .outbound
            .push(Transmit::Message(message.to_bytes()), now);
        Ok(())
    }

    /// Ends a query with a code: `ON_REQUEST` once a Get or Query is served,
    /// a rejection code, or `SHUTTING_DOWN`.
    ///
    /// # Errors
    /// [`SessionError::UnknownQuery`], [`SessionError::QueueFull`], [`SessionError::Closed`].
    pub fn close_query(
        &mut self,
        query: QueryRef,
        code: QueryClosedCode,
        now: Instant,
    ) -> Result<(), SessionError> {
        let at = self.find(query)?;
        self.core.check_room(8)?;
        self.open.swap_remove(at);
        self.answer_query(query.id, code, now);
        self.activity(now);
        Ok(())
    }

    /// Answers a submission.
    ///
    /// # Errors
    /// [`SessionError::UnknownSubmission`] when it was already answered, and
    /// [`SessionError::QueueFull`], [`SessionError::Closed`].
    pub fn submission_result(
        &mut self,
        submission: SubmissionRef,
        code: SubmissionResultCode,
        now: Instant,
    ) -> Result<(), SessionError> {
        self.core.check_open()?;
        let at = self
            .submissions
            .iter()
            .position(|s| *s == submission)
            .ok_or(SessionError::UnknownSubmission(submission.id_prefix))?;
        self.core.check_room(40)?;
        self.submissions.swap_remove(at);
        self.answer_submission(submission.id_prefix, code, now);
        self.activity(now);
        Ok(())
    }

    /// Sends a message of a negotiated extension.
    ///
    /// # Errors
    /// [`SessionError::QueueFull`], [`SessionError::Closed`].
    pub fn send_extension(
        &mut self,
        message: &ServerExtension,
        now: Instant,
    ) -> Result<(), SessionError> {
        let bytes = ServerMessage::Extension(message.clone()).to_bytes();
        self.core.check_room(bytes.len())?;
        self.core.outbound.push(Transmit::Message(bytes), now);
        Ok(())
    }

    /// Closes the connection after what is queued, with a code and reason. A
    /// code no close frame may carry ([`CloseCode::may_be_sent`]) goes out
    /// as 1000.
    pub fn close(&mut self, code: CloseCode, reason: &str, now: Instant) {
        self.core.close(code, reason, CloseCause::Local, now);
    }

    /// Graceful shutdown: Query Closed `SHUTTING_DOWN` for every open query,
    /// then close with 1001.
    pub fn shutdown(&mut self, now: Instant) {
        if self.core.closed.is_some() {
            return;
        }
        for open in std::mem::take(&mut self.open) {
            self.answer_query(open.query.id, QueryClosedCode::ShuttingDown, now);
        }
        self.core.close(
            CloseCode::GOING_AWAY,
            "server shutting down",
            CloseCause::Shutdown,
            now,
        );
    }
}
