//! The client side of a connection: query ids, routing answers to their
//! queries, matching submission results, and ignoring what was not asked for.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Core, KeepaliveConfig, SessionError, Transmit};
use crate::{
    ClientExtension, ClientMessage, CloseCode, DecodeError, DecodeOptions, Disposition, Filter, Id,
    IdPrefix, QueryClosedCode, QueryId, Record, Reference, References, ServerExtension,
    ServerMessage, SubmissionResultCode,
};

/// Limits and timeouts of a client connection; every one bounded by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Size limit and negotiated extension types for received messages.
    pub decode: DecodeOptions,
    /// Most queries open at once. Default 32.
    pub max_open_queries: usize,
    /// Most submissions awaiting results. Default 32.
    pub max_pending_submissions: usize,
    /// Most events waiting for the application; input is not read past it. Default 256.
    /// Ignored-message events do not count: they are bounded on their own
    /// (16 events, 1 MiB), the oldest dropped, so that they never stall input.
    pub max_pending_events: usize,
    /// Most record (and extension message) bytes held by events waiting for
    /// the application, ignored ones aside; input is not read past it (one
    /// record of any size is always taken). Default 256 KiB: a reader that
    /// keeps up works on records still in the cache, and one that lags holds
    /// a quarter MiB, not 256 large records.
    pub max_pending_event_bytes: usize,
    /// Most bytes of messages queued for the server. Default 4 MiB.
    pub max_outbound_bytes: usize,
    /// Close when queued messages make no progress this long, counting what
    /// the transport took but has not handed on
    /// ([`ClientSession::set_transport_backlog`]). Default 30 s.
    pub stall_timeout: Duration,
    /// Keepalive pings; `None` disables them. Default: ping after 30 s of
    /// silence, give up 20 s later.
    pub keepalive: Option<KeepaliveConfig>,
    /// Drop records that do not answer their query: not matching its filter
    /// (the time-of-receipt elements cannot be checked by a client and are
    /// skipped) or not among a Get's references, or past its LIMIT, and a
    /// Get's repeats of a record it had (noting at most as many IDs as it
    /// has references, and 1,024 more, in all). Default on.
    pub check_answers: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            decode: DecodeOptions::default(),
            max_open_queries: 32,
            max_pending_submissions: 32,
            max_pending_events: 256,
            max_pending_event_bytes: 256 << 10,
            max_outbound_bytes: 4 << 20,
            stall_timeout: Duration::from_secs(30),
            keepalive: Some(KeepaliveConfig::default()),
            check_answers: true,
        }
    }
}

/// Why a server message was ignored (protocol.md: a client MUST ignore a
/// message it did not expect).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ignored {
    /// A message for a query that is not open.
    UnknownQuery(ServerMessage),
    /// Locally Complete for a Get, a Query, or twice.
    UnexpectedLocallyComplete(QueryId),
    /// A Submission Result no pending submission matches.
    UnknownSubmission(ServerMessage),
    /// A record that does not answer its query (filter, references or limit).
    NotAnAnswer {
        /// The query it came for.
        query_id: QueryId,
        /// The record.
        record: Record,
    },
    /// A server message type that is neither core nor negotiated.
    UnknownType(Box<DecodeError>),
}

/// What the server answered, routed to the query or submission it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// A record for an open query.
    Record {
        /// The query.
        query_id: QueryId,
        /// The record, structurally valid (check its signature before trusting it).
        record: Record,
    },
    /// A subscription's stored records are all sent; live ones follow.
    LocallyComplete {
        /// The subscription.
        query_id: QueryId,
    },
    /// A query ended; its id may be reused from now on.
    QueryClosed {
        /// The query.
        query_id: QueryId,
        /// Why.
        code: QueryClosedCode,
    },
    /// The result of a submission.
    SubmissionResult {
        /// The submitted record's ID prefix.
        id_prefix: IdPrefix,
        /// The outcome.
        code: SubmissionResultCode,
    },
    /// A message of a negotiated extension.
    Extension(ServerExtension),
    /// A message that was not expected and is ignored.
    Ignored(Ignored),
}

impl ClientEvent {
    /// The query this event belongs to, if any.
    pub fn query_id(&self) -> Option<QueryId> {
        match self {
            ClientEvent::Record { query_id, .. }
            | ClientEvent::LocallyComplete { query_id }
            | ClientEvent::QueryClosed { query_id, .. } => Some(*query_id),
            _ => None,
        }
    }

    /// Whether the event is for the connection's receiver rather than a
    /// request: an extension message or an ignored server message.
    pub fn is_for_receiver(&self) -> bool {
        matches!(self, ClientEvent::Extension(_) | ClientEvent::Ignored(_))
    }
}

#[derive(Debug)]
enum Asked {
    /// A Get, with the IDs of the records it has had: a record names itself,
    /// so one sent again answers nothing (a server repeating one record
    /// without end would otherwise fill an application collecting them).
    /// The IDs noted are bounded ([`MAX_VERSIONS_NOTED`]).
    Get {
        references: References,
        answered: Answered,
    },
    Query(Filter),
    Subscribe {
        filter: Filter,
        complete: bool,
    },
}

/// Most IDs a Get notes beyond its number of references (one shared
/// total: versions of an address may use it all). A Get of an address may
/// have any number of versions, and a server could send new ones without
/// end; past this many, records are still taken but no longer checked for
/// repeats, so that the set stays bounded (about 100 KiB for a Get of one
/// reference: 2,048 slots of 48-byte IDs).
pub(super) const MAX_VERSIONS_NOTED: usize = 1024;

/// The IDs a Get has had, up to its number of references and
/// [`MAX_VERSIONS_NOTED`] more, in all. Most Gets have one record, kept
/// inline: a set (and its allocation and hashing) only from the second.
#[derive(Debug, Default)]
struct Answered {
    first: Option<Id>,
    more: HashSet<Id>,
}

impl Answered {
    /// Notes `id` unless `most` IDs are noted already; whether it is new
    /// (past `most`, whether it is not among those noted).
    fn insert(&mut self, id: Id, most: usize) -> bool {
        match self.first {
            None => {
                self.first = Some(id);
                true
            }
            Some(first) if first == id => false,
            Some(_) if 1 + self.more.len() >= most => !self.more.contains(&id),
            Some(_) => self.more.insert(id),
        }
    }
}

#[derive(Debug)]
struct Pending {
    id: QueryId,
    asked: Asked,
    limit: u16,
    received: u32,
    /// The application stopped listening: answers are dropped until Query Closed.
    abandoned: bool,
}

#[derive(Debug)]
struct PendingSubmission {
    id_prefix: IdPrefix,
    abandoned: bool,
}

/// Most ignored-message events kept, and most record bytes they hold; older
/// ones are dropped (and counted). They do not count against the limits on
/// pending events, which stop input: the server chooses to send them, and an
/// application need not read them, so they must not stall the connection.
/// They may stay for the connection's life, so their records are kept as
/// detached copies ([`Record::detached`]), holding no read buffer.
const MAX_IGNORED_EVENTS: usize = 16;
const MAX_IGNORED_BYTES: usize = crate::MAX_RECORD_LEN;

impl Pending {
    /// Whether a Get has not had `record` before (noting it); always true
    /// for queries and subscriptions, whose LIMIT bounds them.
    fn first_time(&mut self, record: &Record) -> bool {
        match &mut self.asked {
            Asked::Get {
                references,
                answered,
            } => answered.insert(
                record.id(),
                references.len().saturating_add(MAX_VERSIONS_NOTED),
            ),
            _ => true,
        }
    }

    /// Whether `record` answers this query.
    fn answers(&self, record: &Record) -> bool {
        let counted = !matches!(self.asked, Asked::Subscribe { complete: true, .. });
        if counted && self.limit != 0 && self.received >= u32::from(self.limit) {
            return false;
        }
        match &self.asked {
            Asked::Get { references, .. } => references.iter().any(|r| match r {
                Reference::Id(id) => id == record.id(),
                Reference::Address(address) => address == record.address(),
            }),
            Asked::Query(filter) | Asked::Subscribe { filter, .. } => {
                filter.matches_ignoring_received(record)
            }
        }
    }
}

/// The record (or extension message) bytes an event holds: what bounds the
/// pending events' memory.
fn event_bytes(event: &ClientEvent) -> usize {
    match event {
        ClientEvent::Record { record, .. }
        | ClientEvent::Ignored(
            Ignored::NotAnAnswer { record, .. }
            | Ignored::UnknownQuery(ServerMessage::Record { record, .. }),
        ) => record.len(),
        ClientEvent::Extension(extension) => extension.body().len(),
        _ => 0,
    }
}

/// What the queued events hold, kept up to date as they come and go.
#[derive(Debug, Default)]
struct Held {
    /// Bytes of the events the application asked for (all but ignored ones).
    bytes: usize,
    /// Ignored-message events, and the bytes they hold.
    ignored: usize,
    ignored_bytes: usize,
}

impl Held {
    fn of<'a>(events: impl IntoIterator<Item = &'a ClientEvent>) -> Held {
        let mut held = Held::default();
        events.into_iter().for_each(|event| held.add(event));
        held
    }

    fn add(&mut self, event: &ClientEvent) {
        let bytes = event_bytes(event);
        if matches!(event, ClientEvent::Ignored(_)) {
            self.ignored += 1;
            self.ignored_bytes += bytes;
        } else {
            self.bytes += bytes;
        }
    }

    fn remove(&mut self, event: &ClientEvent) {
        let bytes = event_bytes(event);
        if matches!(event, ClientEvent::Ignored(_)) {
            self.ignored -= 1;
            self.ignored_bytes -= bytes;
        } else {
            self.bytes -= bytes;
        }
    }
}

/// The client side of one connection. See the [module docs](super) for the
/// order in which to drive it.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    pub(super) core: Core,
    open: Vec<Pending>,
    submissions: Vec<PendingSubmission>,
    events: VecDeque<ClientEvent>,
    /// What `events` hold.
    held: Held,
    next_id: u16,
    ignored_dropped: u64,
    /// The application still reads extension messages and ignored-message
    /// events (see [`ClientSession::stop_receiving`]).
    receiving: bool,
}

impl ClientSession {
    /// A session for a connection established at `now`.
    pub fn new(config: ClientConfig, now: Instant) -> ClientSession {
        ClientSession {
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
            held: Held::default(),
            next_id: 0,
            ignored_dropped: 0,
            receiving: true,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Whether the transport should read more input now.
    pub fn wants_input(&self) -> bool {
        self.core.closed.is_none() && !self.input_held()
    }

    /// The next free query id: counting up from the last one, skipping ids open.
    fn allocate(&mut self) -> Result<QueryId, SessionError> {
        self.core.check_open()?;
        if self.open.len() >= self.config.max_open_queries {
            return Err(SessionError::TooManyOpenQueries {
                max: self.config.max_open_queries,
            });
        }
        // An id is taken while its query is open, and also while events of
        // it wait for the application (its Query Closed included), so that a
        // new query never receives an old query's answers.
        for _ in 0..=u16::MAX {
            let id = QueryId(self.next_id);
            self.next_id = self.next_id.wrapping_add(1);
            let taken = self.open.iter().any(|q| q.id == id)
                || self.events.iter().any(|e| e.query_id() == Some(id));
            if !taken {
                return Ok(id);
            }
        }
        Err(SessionError::TooManyOpenQueries {
            max: self.config.max_open_queries,
        })
    }

    fn send_query(
        &mut self,
        make: impl FnOnce(QueryId) -> (ClientMessage, Asked, u16),
        now: Instant,
    ) -> Result<QueryId, SessionError> {
        let id = self.allocate()?;
        let (message, asked, limit) = make(id);
        let bytes = message.to_bytes();
        self.core.check_room(bytes.len())?;
        self.core.outbound.push(Transmit::Message(bytes), now);
        self.open.push(Pending {
            id,
            asked,
            limit,
            received: 0,
            abandoned: false,
        });
        Ok(id)
    }

    /// Asks for records by ID or address.
    ///
    /// With [`ClientConfig::check_answers`] each record is taken once: one
    /// sent again is an [`Ignored::NotAnAnswer`] event. The Get notes the IDs
    /// it had, as many as it has references and 1,024 more, in all (an
    /// address may have many versions); past that, records are taken without
    /// the check for repeats, so that a server sending versions without end
    /// cannot grow the set without end.
    ///
    /// # Errors
    /// [`SessionError::TooManyOpenQueries`], [`SessionError::QueueFull`], [`SessionError::Closed`].
    pub fn get(&mut self, references: References, now: Instant) -> Result<QueryId, SessionError> {
        self.send_query(
            |query_id| {
                let message = ClientMessage::Get {
                    query_id,
                    references: references.clone(),
                };
                let asked = Asked::Get {
                    references,
                    answered: Answered::default(),
                };
                (message, asked, 0)
            },
            now,
        )
    }

    /// Asks for records matching `filter`, at most `limit` (0: no limit).
    ///
    /// # Errors
    /// As [`ClientSession::get`].
    pub fn query(
        &mut self,
        filter: Filter,
        limit: u16,
        now: Instant,
    ) -> Result<QueryId, SessionError> {
        self.send_query(
            |query_id| {
                let message = ClientMessage::Query {
                    query_id,
                    limit,
                    filter: filter.clone(),
                };
                (message, Asked::Query(filter), limit)
            },
            now,
        )
    }

    /// Subscribes to records matching `filter`: at most `limit` stored ones
    /// (0: no limit), then live ones.
    ///
    /// # Errors
    /// As [`ClientSession::get`].
    pub fn subscribe(
        &mut self,
        filter: Filter,
        limit: u16,
        now: Instant,
    ) -> Result<QueryId, SessionError> {
        self.send_query(
            |query_id| {
                let message = ClientMessage::Subscribe {
                    query_id,
                    limit,
                    filter: filter.clone(),
                };
                let asked = Asked::Subscribe {
                    filter,
                    complete: false,
                };
                (message, asked, limit)
            },
            now,
        )
    }

    /// Asks the server to close a query; it stays open until Query Closed arrives.
    ///
    /// # Errors
    /// [`SessionError::UnknownQuery`], [`SessionError::QueueFull`], [`SessionError::Closed`].
    pub fn unsubscribe(&mut self, query_id: QueryId, now: Instant) -> Result<(), SessionError> {
        self.core.check_open()?;
        if self.open.iter().all(|q| q.id != query_id) {
            return Err(SessionError::UnknownQuery(query_id));
        }
        let bytes = ClientMessage::Unsubscribe { query_id }.to_bytes();
        self.core.check_room(bytes.len())?;
        self.core.outbound.push(Transmit::Message(bytes), now);
        Ok(())
    }

    /// Submits a record; its result arrives as [`ClientEvent::SubmissionResult`]
    /// with this ID prefix.
    ///
    /// # Errors
    /// [`SessionError::TooManyPendingSubmissions`], [`SessionError::QueueFull`],
    /// [`SessionError::Closed`].
    pub fn submit(&mut self, record: Record, now: Instant) -> Result<IdPrefix, SessionError> {
        self.core.check_open()?;
        if self.submissions.len() >= self.config.max_pending_submissions {
            return Err(SessionError::TooManyPendingSubmissions {
                max: self.config.max_pending_submissions,
            });
        }
        let id_prefix = record.id_prefix();
        let bytes = ClientMessage::Submission { record }.to_bytes();
        self.core.check_room(bytes.len())?;
        self.core.outbound.push(Transmit::Message(bytes), now);
        self.submissions.push(PendingSubmission {
            id_prefix,
            abandoned: false,
        });
        Ok(id_prefix)
    }

    /// Sends a message of a negotiated extension.
    ///
    /// # Errors
    /// [`SessionError::QueueFull`], [`SessionError::Closed`].
    pub fn send_extension(
        &mut self,
        message: &ClientExtension,
        now: Instant,
    ) -> Result<(), SessionError> {
        let bytes = ClientMessage::Extension(message.clone()).to_bytes();
        self.core.check_room(bytes.len())?;
        self.core.outbound.push(Transmit::Message(bytes), now);
        Ok(())
    }

    /// Closes the connection after what is queued. A code no close frame may
    /// carry ([`CloseCode::may_be_sent`]) goes out as 1000.
    pub fn close(&mut self, code: CloseCode, reason: &str, now: Instant) {
        self.core.close(code, reason, super::CloseCause::Local, now);
    }

    /// A binary WebSocket message arrived.
    pub fn handle_binary(&mut self, bytes: Bytes, now: Instant) {
        if self.core.closed.is_some() {
            return;
        }
        self.core.keepalive.heard(now);
        match ServerMessage::decode(bytes, &self.config.decode) {
            Ok(message) => self.handle_message(message),
            Err(error) => match error.disposition() {
                Disposition::Ignore => {
                    self.push_event(ClientEvent::Ignored(Ignored::UnknownType(Box::new(error))))
                }
                Disposition::Close(code) => self.core.close_for(error, code, now),
                // Only a server answers; a client closes on anything else.
                Disposition::RejectQuery(_) | Disposition::RejectSubmission(_) => {
                    self.core.close_for(error, CloseCode::PROTOCOL_ERROR, now)
                }
            },
        }
    }

    fn handle_message(&mut self, message: ServerMessage) {
        let event = match message {
            ServerMessage::Record { query_id, record } => {
                let check = self.config.check_answers;
                match self.open.iter_mut().find(|q| q.id == query_id) {
                    None => ClientEvent::Ignored(Ignored::UnknownQuery(ServerMessage::Record {
                        query_id,
                        record: record.detached(),
                    })),
                    // Dropped unlooked-at: an abandoned Get notes no more
                    // IDs, which a server could otherwise add without end.
                    Some(pending) if pending.abandoned => return,
                    Some(pending) => {
                        if check && !(pending.answers(&record) && pending.first_time(&record)) {
                            ClientEvent::Ignored(Ignored::NotAnAnswer {
                                query_id,
                                record: record.detached(),
                            })
                        } else {
                            // Saturating: live records after Locally Complete
                            // are counted too, without end.
                            pending.received = pending.received.saturating_add(1);
                            ClientEvent::Record { query_id, record }
                        }
                    }
                }
            }
            ServerMessage::LocallyComplete { query_id } => {
                match self.open.iter_mut().find(|q| q.id == query_id) {
                    Some(Pending {
                        asked: Asked::Subscribe { complete, .. },
                        abandoned,
                        ..
                    }) if !*complete => {
                        *complete = true;
                        if *abandoned {
                            return;
                        }
                        ClientEvent::LocallyComplete { query_id }
                    }
                    _ => ClientEvent::Ignored(Ignored::UnexpectedLocallyComplete(query_id)),
                }
            }
            ServerMessage::QueryClosed { query_id, code } => {
                match self.open.iter().position(|q| q.id == query_id) {
                    Some(at) => {
                        if self.open.swap_remove(at).abandoned {
                            return;
                        }
                        ClientEvent::QueryClosed { query_id, code }
                    }
                    None => {
                        ClientEvent::Ignored(Ignored::UnknownQuery(ServerMessage::QueryClosed {
                            query_id,
                            code,
                        }))
                    }
                }
            }
            ServerMessage::SubmissionResult { code, id_prefix } => {
                // The oldest live submission with this prefix first.
                let at = self
                    .submissions
                    .iter()
                    .position(|p| p.id_prefix == id_prefix && !p.abandoned)
                    .or_else(|| {
                        self.submissions
                            .iter()
                            .position(|p| p.id_prefix == id_prefix)
                    });
                match at {
                    Some(at) => {
                        if self.submissions.remove(at).abandoned {
                            return;
                        }
                        ClientEvent::SubmissionResult { id_prefix, code }
                    }
                    None => ClientEvent::Ignored(Ignored::UnknownSubmission(
                        ServerMessage::SubmissionResult { code, id_prefix },
                    )),
                }
            }
            ServerMessage::Extension(ext) => ClientEvent::Extension(ext),
        };
        self.push_event(event);
    }

    /// Queues an event; an ignored-message event pushes out the oldest ones
    /// while more than [`MAX_IGNORED_EVENTS`] or [`MAX_IGNORED_BYTES`] would
    /// be held.
    fn push_event(&mut self, event: ClientEvent) {
        if !self.receiving && event.is_for_receiver() {
            self.ignored_dropped += 1;
            return;
        }
        if matches!(event, ClientEvent::Ignored(_)) {
            let bytes = event_bytes(&event);
            while self.held.ignored >= MAX_IGNORED_EVENTS
                || self.held.ignored_bytes + bytes > MAX_IGNORED_BYTES
            {
                let oldest = self
                    .events
                    .iter()
                    .position(|e| matches!(e, ClientEvent::Ignored(_)));
                let Some(at) = oldest else { break };
                self.take_event(at);
                self.ignored_dropped += 1;
            }
        }
        self.held.add(&event);
        self.events.push_back(event);
    }

    /// Removes the event at `at`, keeping count of what is held.
    fn take_event(&mut self, at: usize) -> Option<ClientEvent> {
        let event = self.events.remove(at)?;
        self.held.remove(&event);
        Some(event)
    }

    /// The next event `wanted` picks, leaving the others queued in order: lets
    /// each query's consumer take its own answers.
    pub fn poll_event_where(
        &mut self,
        wanted: impl Fn(&ClientEvent) -> bool,
    ) -> Option<ClientEvent> {
        let at = self.events.iter().position(wanted)?;
        self.take_event(at)
    }

    /// Moves every queued event of `query_id`, in order, to the end of `out`:
    /// lets a query's consumer take its answers in batches rather than one at
    /// a time. Returns how many moved.
    pub fn take_events_for(&mut self, query_id: QueryId, out: &mut VecDeque<ClientEvent>) -> usize {
        let before = out.len();
        // Many streams may look when any event comes: those with none
        // queued leave the queue as it is.
        if !self.events.iter().any(|e| e.query_id() == Some(query_id)) {
            return 0;
        }
        if self.events.iter().all(|e| e.query_id() == Some(query_id)) {
            if out.is_empty() {
                // The usual case, one query streaming: hand the whole queue
                // over and keep the consumer's empty one, moving nothing.
                std::mem::swap(&mut self.events, out);
            } else {
                out.extend(self.events.drain(..));
            }
            self.held = Held::default();
        } else {
            let mut kept = VecDeque::with_capacity(self.events.len());
            for event in self.events.drain(..) {
                if event.query_id() == Some(query_id) {
                    out.push_back(event);
                } else {
                    kept.push_back(event);
                }
            }
            self.events = kept;
            self.held = Held::of(&self.events);
        }
        out.len() - before
    }

    /// The application stopped listening to a query: its queued answers are
    /// dropped, later ones are dropped on arrival, and a subscription is
    /// unsubscribed. The id stays taken until the server's Query Closed.
    pub fn abandon_query(&mut self, query_id: QueryId, now: Instant) {
        // Its answers may be queued even when the query has already closed.
        self.events.retain(|e| e.query_id() != Some(query_id));
        self.held = Held::of(&self.events);
        let Some(pending) = self.open.iter_mut().find(|q| q.id == query_id) else {
            return;
        };
        if pending.abandoned {
            return;
        }
        pending.abandoned = true;
        if let Asked::Get { answered, .. } = &mut pending.asked {
            *answered = Answered::default();
        }
        let subscription = matches!(pending.asked, Asked::Subscribe { .. });
        if subscription && self.core.closed.is_none() {
            let bytes = ClientMessage::Unsubscribe { query_id }.to_bytes();
            self.core.outbound.push(Transmit::Message(bytes), now);
        }
    }

    /// How many record IDs the open Get `query_id` has noted (tests).
    #[cfg(test)]
    pub(super) fn ids_noted(&self, query_id: QueryId) -> usize {
        match self
            .open
            .iter()
            .find(|q| q.id == query_id)
            .map(|q| &q.asked)
        {
            Some(Asked::Get { answered, .. }) => {
                usize::from(answered.first.is_some()) + answered.more.len()
            }
            _ => 0,
        }
    }

    /// The application stopped waiting for a submission's result: it is dropped
    /// when it comes.
    pub fn abandon_submission(&mut self, id_prefix: IdPrefix) {
        // A result still to come is forgotten first: a queued one may be what
        // another waiter for the same record (the same prefix) takes.
        if let Some(pending) = self
            .submissions
            .iter_mut()
            .find(|p| p.id_prefix == id_prefix && !p.abandoned)
        {
            pending.abandoned = true;
            return;
        }
        let queued = self.events.iter().position(
            |e| matches!(e, ClientEvent::SubmissionResult { id_prefix: p, .. } if *p == id_prefix),
        );
        if let Some(at) = queued {
            self.take_event(at);
        }
    }

    /// How many ignored-message events were dropped because too many waited,
    /// and, after [`ClientSession::stop_receiving`], how many extension
    /// messages and ignored messages were dropped on arrival.
    pub fn ignored_dropped(&self) -> u64 {
        self.ignored_dropped
    }

    /// The application will read no more extension messages or
    /// ignored-message events (the task that read them is gone): those
    /// queued are dropped, and later ones on arrival. Extension messages
    /// count against the limits on pending events, so unread ones would in
    /// time stop input, and every query's answers with it.
    pub fn stop_receiving(&mut self) {
        self.receiving = false;
        let before = self.events.len();
        self.events.retain(|e| !e.is_for_receiver());
        self.ignored_dropped += (before - self.events.len()) as u64;
        self.held = Held::of(&self.events);
    }

    /// Whether events wait for the application.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// When [`ClientSession::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout(self.input_held())
    }

    /// Whether input is held back because the application lags behind with
    /// the events it asked for (ignored ones do not count: see
    /// [`MAX_IGNORED_EVENTS`]).
    fn input_held(&self) -> bool {
        self.events.len() - self.held.ignored >= self.config.max_pending_events
            || (self.held.bytes > 0 && self.held.bytes >= self.config.max_pending_event_bytes)
    }

    /// Time passed: keepalive and stalled server.
    pub fn handle_timeout(&mut self, now: Instant) {
        let held = self.input_held();
        self.core.handle_timeout(now, held);
    }

    /// The next answer for the application.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.take_event(0)
    }

    /// The next thing to send.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        self.core.outbound.pop(now)
    }

    /// The queries open now.
    pub fn open_queries(&self) -> impl Iterator<Item = QueryId> + '_ {
        self.open.iter().map(|q| q.id)
    }

    /// The ID prefixes of submissions awaiting results.
    pub fn pending_submissions(&self) -> impl Iterator<Item = IdPrefix> + '_ {
        self.submissions.iter().map(|p| p.id_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_record;

    #[test]
    fn the_received_count_of_an_endless_subscription_saturates() {
        let now = Instant::now();
        let config = ClientConfig {
            keepalive: None,
            ..ClientConfig::default()
        };
        let mut c = ClientSession::new(config, now);
        let everything = Filter::builder().build().expect("empty filter");
        let q = c.subscribe(everything, 0, now).expect("id");
        // As after 2^32 - 1 records: the next one must not overflow.
        c.open[0].received = u32::MAX;
        let record = ServerMessage::Record {
            query_id: q,
            record: sample_record(),
        };
        c.handle_binary(record.to_bytes(), now);
        assert!(matches!(c.poll_event(), Some(ClientEvent::Record { .. })));
        assert_eq!(c.open[0].received, u32::MAX);
    }
}
