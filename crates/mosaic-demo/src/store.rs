//! A small in-memory Mosaic server application: the one the examples run, and a
//! reference for writing your own on [`ServerConnection`].
//!
//! It stores records in memory (bounded: the oldest are evicted), answers Get,
//! Query and Subscribe newest first with live delivery, and honours the kind's
//! bits (ephemeral records are never stored; author-only and author-and-tagged
//! records go only to those readers) and the `FROM_AUTHOR` flag.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use mosaic_proto::session::{QueryRef, ServerEvent, SessionError};
use mosaic_proto::{
    Address, CloseCode, DuplicateHandling, Filter, Id, QueryClosedCode, ReadAccess, Record,
    RecordFlags, Reference, References, ServerExtension, SubmissionResultCode, Timestamp,
};
use mosaic_tls::PeerIdentity;

use mosaic_ws::{ServerConnection, ServerSender};

/// Tag type that names a key a record is for (tag_types.md "Notify Public
/// Key"); such keys may read Author + Tagged records. core_tags.md lays its
/// value out as five zero bytes, then the key (so that the key is 8-byte
/// aligned in the record); a value of the bare 32-byte key is read too.
pub const NOTIFY_PUBLIC_KEY_TAG: u16 = 0x1;

/// The key a Notify Public Key tag's value names, in either layout.
fn notified_key(value: &[u8]) -> Option<&[u8]> {
    match value.len() {
        32 => Some(value),
        37 if value[..5] == [0; 5] => Some(&value[5..]),
        _ => None,
    }
}

/// The sync extension's Sync Error message type.
const SYNC_ERROR: u8 = 0x93;

/// Most live records, and most bytes of them, held for a subscriber still
/// receiving its stored ones; past either it is closed as too slow.
const MAX_CATCH_UP: usize = 1024;
const MAX_CATCH_UP_BYTES: usize = 4 << 20;

/// Outbound queue room a Get, Query or subscription catch-up leaves free as
/// it streams stored records, for live records to other subscriptions on
/// the same connection (sent without waiting): the largest record and its
/// header. The session caps it at half the queue.
const LIVE_ROOM: usize = mosaic_proto::MAX_RECORD_LEN + 8;

/// The record bytes [`MemoryStore::new`] keeps at most, besides its count:
/// records may be 1 MiB each, so a count alone does not bound memory.
pub const DEFAULT_MAX_BYTES: usize = 256 << 20;

/// Checks a record before it is stored: full validation (hash, signature,
/// keys). The default accepts what the codec already checked.
pub type Validator = Arc<dyn Fn(&Record) -> Result<(), String> + Send + Sync>;

/// The time of receipt, as a Mosaic timestamp.
fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix(since.as_secs(), since.subsec_nanos())
}

#[derive(Debug)]
struct Stored {
    record: Record,
    received_at: Timestamp,
}

struct Subscriber {
    connection: u64,
    sender: ServerSender,
    query: QueryRef,
    filter: Filter,
    reader: Option<[u8; 32]>,
    /// Live records held while the stored ones are still being sent.
    catching_up: Option<VecDeque<Record>>,
    /// Bytes of `catching_up`.
    catching_up_bytes: usize,
}

#[derive(Default)]
struct State {
    /// Newest first.
    records: BTreeMap<(Reverse<Timestamp>, Id), Stored>,
    by_address: HashMap<Address, Vec<Id>>,
    /// Bytes of the records stored.
    bytes: usize,
    subscribers: Vec<Subscriber>,
}

/// The in-memory store and its subscribers.
pub struct MemoryStore {
    state: Mutex<State>,
    max_records: usize,
    max_bytes: usize,
    validator: Validator,
    next_connection: AtomicU64,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryStore")
            .field("records", &state.records.len())
            .field("subscribers", &state.subscribers.len())
            .field("max_records", &self.max_records)
            .finish()
    }
}

/// Whether `reader` may see `record` under its kind's read access.
pub fn may_read(record: &Record, reader: Option<&[u8; 32]>) -> bool {
    let author = record.author_key();
    match record.kind().read_access() {
        ReadAccess::Everybody => true,
        ReadAccess::AuthorOnly => reader == Some(author),
        ReadAccess::AuthorAndTagged => reader.is_some_and(|key| {
            key == author
                || record
                    .tags()
                    .filter(|t| t.tag_type() == NOTIFY_PUBLIC_KEY_TAG)
                    .any(|t| notified_key(t.value()) == Some(key.as_slice()))
        }),
        ReadAccess::Reserved => false,
    }
}

fn reader_of(peer: &PeerIdentity) -> Option<[u8; 32]> {
    peer.key().map(|k| k.to_bytes())
}

impl MemoryStore {
    /// An empty store keeping at most `max_records` records and
    /// [`DEFAULT_MAX_BYTES`] of them, checking each record with `validator`
    /// before storing it.
    pub fn new(max_records: usize, validator: Validator) -> Arc<MemoryStore> {
        MemoryStore::with_limits(max_records, DEFAULT_MAX_BYTES, validator)
    }

    /// An empty store keeping at most `max_records` records and `max_bytes`
    /// of them (the oldest go first), checking each record with `validator`.
    pub fn with_limits(
        max_records: usize,
        max_bytes: usize,
        validator: Validator,
    ) -> Arc<MemoryStore> {
        Arc::new(MemoryStore {
            state: Mutex::new(State::default()),
            max_records,
            max_bytes,
            validator,
            next_connection: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many records are stored.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether no record is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores a submitted record and delivers it to matching subscriptions.
    /// `submitter` is the TLS identity it came from.
    pub fn submit(&self, record: &Record, submitter: &PeerIdentity) -> SubmissionResultCode {
        if record.flags().contains(RecordFlags::FROM_AUTHOR) {
            match submitter.key() {
                None => return SubmissionResultCode::RejectedRequiresAuthn,
                Some(key) if key.as_bytes() != record.author_key() => {
                    return SubmissionResultCode::RejectedRequiresAuthz;
                }
                Some(_) => {}
            }
        }
        if (self.validator)(record).is_err() {
            return SubmissionResultCode::RejectedInvalid;
        }
        // The submitted record shares the buffer its connection read it
        // into (4 KiB or more): kept as it is, each stored record could hold
        // one, and the store's byte limit would bound a fraction of its
        // memory. Copied before the lock is taken (a record may be 1 MiB).
        let detached = record.detached();
        let record = &detached;
        let received_at = now();
        let mut state = self.lock();
        let id = record.id();
        let key = (Reverse(record.timestamp()), id);
        if state.records.contains_key(&key) {
            return SubmissionResultCode::Duplicate;
        }
        let kind = record.kind();
        match kind.duplicate_handling() {
            DuplicateHandling::Ephemeral => {
                let delivered = deliver(&mut state, record, received_at);
                return if delivered == 0 {
                    SubmissionResultCode::NoConsumers
                } else {
                    SubmissionResultCode::Ok
                };
            }
            DuplicateHandling::Replaceable => {
                // Only versions this record may replace count, either way:
                // see `replaces`.
                let versions: Vec<&Record> = state
                    .by_address
                    .get(&record.address())
                    .into_iter()
                    .flatten()
                    .filter_map(|i| state.records.get(&(Reverse(i.timestamp()), *i)))
                    .map(|stored| &stored.record)
                    .collect();
                // A newer version that may replace this one is served
                // instead (an old version sent again); this one is accepted
                // but not kept. A newer version this one could replace, were
                // it newer, does not hold it back: a forgery under the
                // author's address, dated far ahead, would otherwise hold
                // back every master-signed version after it.
                let newer_exists = versions
                    .iter()
                    .any(|v| v.timestamp() >= record.timestamp() && replaces(v, record));
                if newer_exists {
                    return SubmissionResultCode::Ok;
                }
                let older: Vec<Id> = versions
                    .iter()
                    .filter(|v| v.timestamp() < record.timestamp() && replaces(record, v))
                    .map(|v| v.id())
                    .collect();
                for old in older {
                    remove(&mut state, &old);
                }
            }
            DuplicateHandling::Unique | DuplicateHandling::Versioned => {}
        }
        while state.records.len() >= self.max_records.max(1)
            || (!state.records.is_empty() && state.bytes + record.len() > self.max_bytes)
        {
            let Some((_, oldest)) = state
                .records
                .iter()
                .next_back()
                .map(|(k, v)| (*k, v.record.id()))
            else {
                break;
            };
            remove(&mut state, &oldest);
        }
        state
            .by_address
            .entry(record.address())
            .or_default()
            .push(id);
        state.bytes += record.len();
        state.records.insert(
            key,
            Stored {
                record: record.clone(),
                received_at,
            },
        );
        deliver(&mut state, record, received_at);
        SubmissionResultCode::Ok
    }

    /// The stored records a Get asks for that `reader` may see, each once,
    /// newest first.
    ///
    /// A Get may carry 21,845 references, repeats allowed, under the store's
    /// lock: each distinct reference is looked at once and each record added
    /// once, so the work is linear in the references and the records found.
    pub fn get(&self, references: &References, reader: Option<&[u8; 32]>) -> Vec<Record> {
        let state = self.lock();
        let mut seen_addresses = HashSet::new();
        let mut found = HashSet::new();
        let mut out = Vec::new();
        let mut add = |id: Id| {
            let stored = state.records.get(&(Reverse(id.timestamp()), id));
            if let Some(stored) = stored.filter(|s| may_read(&s.record, reader))
                && found.insert(id)
            {
                out.push(stored.record.clone());
            }
        };
        for reference in references.iter() {
            match reference {
                Reference::Id(id) => add(id),
                Reference::Address(address) => {
                    if seen_addresses.insert(address)
                        && let Some(ids) = state.by_address.get(&address)
                    {
                        ids.iter().copied().for_each(&mut add);
                    }
                }
            }
        }
        out.sort_by_key(|r| Reverse(r.timestamp()));
        out
    }

    /// The stored records matching `filter` that `reader` may see, newest
    /// first, at most `limit` (0: no limit).
    pub fn query(&self, filter: &Filter, limit: u16, reader: Option<&[u8; 32]>) -> Vec<Record> {
        query_state(&self.lock(), filter, limit, reader)
    }

    /// Serves one connection until it closes: answers its requests from the
    /// store and delivers live records to its subscriptions.
    ///
    /// The task waits in `recv` nearly all its life, so it is kept small:
    /// each request is handled in a boxed future of its own (its records and
    /// the send in progress live there while it runs), and the peer's
    /// identity is read from the connection's info instead of being copied
    /// in. An idle connection's task shrinks from about 920 bytes to about
    /// 260 this way, for one allocation per request.
    pub async fn serve(self: Arc<Self>, connection: ServerConnection) {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let (sender, mut receiver) = connection.split();
        let reader = reader_of(sender.info().peer_identity());
        while let Some(event) = receiver.recv().await {
            let result = Box::pin(self.handle(id, &sender, reader, event)).await;
            if let Err(SessionError::Closed(_)) = result {
                break;
            }
        }
        self.lock().subscribers.retain(|s| s.connection != id);
    }

    /// Handles one request of connection `id`.
    async fn handle(
        &self,
        id: u64,
        sender: &ServerSender,
        reader: Option<[u8; 32]>,
        event: ServerEvent,
    ) -> Result<(), SessionError> {
        match event {
            ServerEvent::Get { query, references } => {
                let records = self.get(&references, reader.as_ref());
                answer(sender, query, records).await
            }
            ServerEvent::Query {
                query,
                limit,
                filter,
            } => {
                let records = self.query(&filter, limit, reader.as_ref());
                answer(sender, query, records).await
            }
            ServerEvent::Subscribe {
                query,
                limit,
                filter,
            } => {
                self.subscribe(id, sender, query, filter, limit, reader)
                    .await
            }
            ServerEvent::Cancelled { query } => {
                self.lock()
                    .subscribers
                    .retain(|s| !(s.connection == id && s.query == query));
                Ok(())
            }
            ServerEvent::Submission { submission, record } => {
                let code = self.submit(&record, sender.info().peer_identity());
                sender.submission_result(submission, code).await
            }
            // The demo does not implement the sync extension: every sync
            // message is answered with Sync Error (0x93).
            ServerEvent::Extension(_) => match ServerExtension::new(SYNC_ERROR, Bytes::new()) {
                Ok(error) => sender.send_extension(&error).await,
                Err(_) => Ok(()),
            },
        }
    }

    async fn subscribe(
        &self,
        connection: u64,
        sender: &ServerSender,
        query: QueryRef,
        filter: Filter,
        limit: u16,
        reader: Option<[u8; 32]>,
    ) -> Result<(), SessionError> {
        // Kept for the subscription's life: a copy of its own, not the
        // Subscribe message's read buffer (see `Filter`), which goes now
        // rather than after the catch-up.
        let filter = {
            let read = filter;
            read.detached()
        };
        // Stored matches and registration at once: no record falls in between.
        let stored = {
            let mut state = self.lock();
            let stored = query_state(&state, &filter, limit, reader.as_ref());
            state.subscribers.push(Subscriber {
                connection,
                sender: sender.clone(),
                query,
                filter,
                reader,
                catching_up: Some(VecDeque::new()),
                catching_up_bytes: 0,
            });
            stored
        };
        for record in &stored {
            sender.send_record_leaving(query, record, LIVE_ROOM).await?;
        }
        sender.locally_complete(query).await?;
        // Live records that came meanwhile, then live delivery. Held records
        // go oldest first, each leaving LIVE_ROOM free as the stored ones
        // did (for live records to the connection's other subscriptions),
        // newer ones staying held behind them; once none is left, live
        // delivery resumes under the store's lock, right behind them: no
        // record overtakes another (a reader that falls behind is closed as
        // too slow once too much is held).
        loop {
            let oldest = {
                let mut state = self.lock();
                let Some(subscriber) = state
                    .subscribers
                    .iter_mut()
                    .find(|s| s.connection == connection && s.query == query)
                else {
                    return Ok(());
                };
                let Some(oldest) = subscriber
                    .catching_up
                    .as_mut()
                    .and_then(VecDeque::pop_front)
                else {
                    subscriber.catching_up = None;
                    subscriber.catching_up_bytes = 0;
                    break;
                };
                subscriber.catching_up_bytes -= oldest.len();
                oldest
            };
            sender
                .send_record_leaving(query, &oldest, LIVE_ROOM)
                .await?;
        }
        Ok(())
    }
}

/// Sends a Get or Query's records, then closes it.
async fn answer(
    sender: &ServerSender,
    query: QueryRef,
    records: Vec<Record>,
) -> Result<(), SessionError> {
    for record in &records {
        match sender.send_record_leaving(query, record, LIVE_ROOM).await {
            Ok(()) => {}
            // The client cancelled, or its limit is met: stop sending.
            Err(SessionError::UnknownQuery(_)) => return Ok(()),
            Err(SessionError::LimitReached { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    match sender.close_query(query, QueryClosedCode::OnRequest).await {
        Err(SessionError::UnknownQuery(_)) => Ok(()),
        other => other,
    }
}

fn query_state(
    state: &State,
    filter: &Filter,
    limit: u16,
    reader: Option<&[u8; 32]>,
) -> Vec<Record> {
    let cap = if limit == 0 {
        usize::MAX
    } else {
        usize::from(limit)
    };
    state
        .records
        .values()
        .filter(|s| filter.matches(&s.record, s.received_at) && may_read(&s.record, reader))
        .take(cap)
        .map(|s| s.record.clone())
        .collect()
}

/// Whether `new` may replace `old`, a version of the same Replaceable
/// address. A server cannot tie a signing key to its author (record.md step
/// 5, the key schedule, is for clients), and the address names the author:
/// anyone could sign a record under someone else's address. So a version
/// replaces only versions signed with its own key, unless it is signed by
/// the author's master key itself, which may replace any. Versions signed
/// by other keys stay side by side, for clients to tell apart.
fn replaces(new: &Record, old: &Record) -> bool {
    new.signing_key() == old.signing_key() || new.signing_key() == new.author_key()
}

fn remove(state: &mut State, id: &Id) {
    if let Some(stored) = state.records.remove(&(Reverse(id.timestamp()), *id)) {
        state.bytes -= stored.record.len();
        let address = stored.record.address();
        if let Some(ids) = state.by_address.get_mut(&address) {
            ids.retain(|i| i != id);
            if ids.is_empty() {
                state.by_address.remove(&address);
            }
        }
    }
}

/// Delivers a new record to every subscription it matches; returns how many
/// took it (queued, or held behind a catch-up).
/// A subscriber whose queue is full is closed (it stopped keeping up), so
/// memory stays bounded and no record is silently skipped. Answers streamed
/// on the same connection leave [`LIVE_ROOM`] free for these, so a client
/// that reads steadily is not closed for a query in progress.
fn deliver(state: &mut State, record: &Record, received_at: Timestamp) -> usize {
    let mut delivered = 0;
    state.subscribers.retain_mut(|s| {
        if !s.filter.matches(record, received_at) || !may_read(record, s.reader.as_ref()) {
            return true;
        }
        if let Some(held) = &mut s.catching_up {
            if held.len() < MAX_CATCH_UP && s.catching_up_bytes + record.len() <= MAX_CATCH_UP_BYTES
            {
                s.catching_up_bytes += record.len();
                held.push_back(record.clone());
                delivered += 1;
                return true;
            }
            s.sender
                .close(CloseCode::POLICY_VIOLATION, "subscriber too slow");
            return false;
        }
        match s.sender.try_send_record(s.query, record) {
            Ok(()) => {
                delivered += 1;
                true
            }
            Err(SessionError::QueueFull { .. }) => {
                s.sender
                    .close(CloseCode::POLICY_VIOLATION, "subscriber too slow");
                false
            }
            Err(_) => false,
        }
    });
    delivered
}

/// No check beyond the structure the codec already checked: for benches that
/// measure delivery with placeholder signatures, never for a server facing
/// peers.
pub fn accept_structural() -> Validator {
    Arc::new(|_| Ok(()))
}

/// Full validation as record.md requires of servers: keys, hash, ID
/// timestamp and the ed25519ph signature (the structure was checked when the
/// message was decoded).
pub fn full_validation() -> Validator {
    Arc::new(|record| record.verify().map(|_| ()).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use mosaic_proto::{Kind, ReadAccess, RecordParts};
    use mosaic_tls::Identity;
    use mosaic_ws::{ConnectionInfo, ServerOptions};

    use super::*;

    /// The size of the future `f` returns, without calling it.
    fn future_size<A, F: Future>(_: impl Fn(A) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// A Replaceable record of `author`'s address `nonce`, signed by `signer`.
    fn profile(author: &Identity, signer: &Identity, nonce: u8, at: u64) -> Record {
        let kind = Kind::new(
            99,
            2,
            DuplicateHandling::Replaceable,
            ReadAccess::Everybody,
            true,
        )
        .expect("kind");
        RecordParts {
            signing_key: signer.public_key().to_bytes(),
            author_key: author.public_key().to_bytes(),
            kind,
            address_nonce: [0x80, 0, 0, 0, 0, 0, 0, nonce],
            timestamp: Timestamp::from_unix(1_700_000_000 + at, 0).record_aligned(),
            flags: RecordFlags::empty(),
            tags: &[],
            payload: b"profile",
        }
        .sign(signer.signing_key())
        .expect("fits")
    }

    fn ids(records: &[Record]) -> Vec<Id> {
        records.iter().map(Record::id).collect()
    }

    fn by_address(store: &MemoryStore, record: &Record) -> Vec<Record> {
        let references =
            References::from_refs(&[Reference::Address(record.address())]).expect("one");
        store.get(&references, None)
    }

    /// Anyone may sign a record under someone else's address (a server cannot
    /// check the key schedule), so a version replaces, and is held back by,
    /// only versions signed with its own key or the author's master key.
    #[test]
    fn a_replaceable_record_is_replaced_only_by_its_own_signer_or_its_author() {
        let store = MemoryStore::new(100, full_validation());
        let anyone = PeerIdentity::Anonymous;
        let (author, subkey, forger) = (
            Identity::generate().expect("rng"),
            Identity::generate().expect("rng"),
            Identity::generate().expect("rng"),
        );
        let genuine = profile(&author, &subkey, 1, 10);
        // Submits `record`, then the address serves `served`, newest first.
        let submit_then_served = |record: &Record, served: &[&Record]| {
            assert_eq!(store.submit(record, &anyone), SubmissionResultCode::Ok);
            let ids_served: Vec<Id> = served.iter().map(|r| r.id()).collect();
            assert_eq!(ids(&by_address(&store, &genuine)), ids_served);
        };
        submit_then_served(&genuine, &[&genuine]);
        // A forgery, far in the future: it neither removes the genuine
        // version nor holds back its next one.
        let forged = profile(&author, &forger, 1, 1_000_000);
        assert_eq!(forged.address(), genuine.address());
        submit_then_served(&forged, &[&forged, &genuine]);
        let update = profile(&author, &subkey, 1, 20);
        submit_then_served(&update, &[&forged, &update]);
        // An older version from the same signer is held back by the newer.
        submit_then_served(&profile(&author, &subkey, 1, 15), &[&forged, &update]);
        // Nor does the forgery hold back a master-signed version (a key
        // revocation, say): that replaces every older version.
        let revocation = profile(&author, &author, 1, 30);
        submit_then_served(&revocation, &[&forged, &revocation]);
        // Older versions, the master's own or a subkey's, are held back by it.
        submit_then_served(&profile(&author, &author, 1, 5), &[&forged, &revocation]);
        submit_then_served(&profile(&author, &subkey, 1, 25), &[&forged, &revocation]);
        // The author's master key replaces every older version.
        let master = profile(&author, &author, 1, 2_000_000);
        submit_then_served(&master, &[&master]);
    }

    /// An Author + Tagged record may be read by its author and by the keys
    /// its Notify Public Key tags name, in core_tags.md's layout (five zero
    /// bytes, then the key) or as the bare key; by nobody else.
    #[test]
    fn tagged_readers_are_named_in_either_tag_layout() {
        use mosaic_proto::{DuplicateHandling, Kind, ReadAccess, RecordFlags, Tag};

        let [alice, bob, carol, dave] = std::array::from_fn(|_| {
            let identity = Identity::generate().expect("rng");
            (identity.public_key().to_bytes(), identity)
        });
        let mut aligned = vec![0; 5];
        aligned.extend_from_slice(&bob.0);
        let mut not_zero = vec![1; 5];
        not_zero.extend_from_slice(&dave.0);
        let tags = [
            Tag::new(NOTIFY_PUBLIC_KEY_TAG, &aligned).expect("tag"),
            Tag::new(NOTIFY_PUBLIC_KEY_TAG, &carol.0).expect("tag"),
            Tag::new(NOTIFY_PUBLIC_KEY_TAG, &not_zero).expect("tag"),
        ];
        let kind = Kind::new(
            99,
            2,
            DuplicateHandling::Unique,
            ReadAccess::AuthorAndTagged,
            true,
        );
        let record = crate::script::note_with(
            &alice.1,
            "for bob and carol",
            Timestamp::from_unix(1_700_000_000, 0).record_aligned(),
            kind.expect("kind"),
            RecordFlags::empty(),
            &tags,
        );
        for (reader, may) in [(&alice, true), (&bob, true), (&carol, true), (&dave, false)] {
            assert_eq!(may_read(&record, Some(&reader.0)), may);
        }
        assert!(!may_read(&record, None), "nor an anonymous reader");
    }

    /// Records may be 1 MiB each: the store is bounded in bytes as well as in
    /// records, the oldest going first.
    #[test]
    fn the_store_keeps_at_most_its_bytes() {
        let author = Identity::generate().expect("rng");
        let at = |s: u64| Timestamp::from_unix(1_700_000_000 + s, 0).record_aligned();
        let records: Vec<Record> = (0..4)
            .map(|i| crate::script::note(&author, &"x".repeat(10_000), at(i)))
            .collect();
        let size = records[0].len();
        let store = MemoryStore::with_limits(100, 3 * size, full_validation());
        for record in &records {
            assert_eq!(
                store.submit(record, &PeerIdentity::Anonymous),
                SubmissionResultCode::Ok
            );
        }
        assert_eq!(store.len(), 3);
        let everything = Filter::builder().build().expect("empty");
        let kept = store.query(&everything, 0, None);
        assert_eq!(
            ids(&kept),
            ids(&[records[3].clone(), records[2].clone(), records[1].clone()])
        );
    }

    /// A stored record holds none of the buffer it arrived in, so the
    /// store's byte limit bounds its memory: a record read into a larger
    /// buffer would otherwise keep all of it.
    #[test]
    fn a_stored_record_holds_none_of_the_buffer_it_arrived_in() {
        let store = MemoryStore::new(100, full_validation());
        let author = Identity::generate().expect("rng");
        let at = Timestamp::from_unix(1_700_000_000, 0).record_aligned();
        let record = crate::script::note(&author, "kept", at);
        let mut read_buffer = bytes::BytesMut::with_capacity(64 * 1024);
        read_buffer.extend_from_slice(record.as_bytes());
        read_buffer.extend_from_slice(&[0; 1000]);
        let read_buffer = read_buffer.freeze();
        let arrived = Record::from_bytes(read_buffer.slice(..record.len())).expect("valid");
        assert_eq!(
            store.submit(&arrived, &PeerIdentity::Anonymous),
            SubmissionResultCode::Ok
        );
        drop(arrived);
        assert!(read_buffer.is_unique());
        let everything = Filter::builder().build().expect("empty");
        assert_eq!(store.query(&everything, 0, None), [record]);
    }

    /// Repeated references give each record once, newest first.
    #[test]
    fn a_get_gives_each_record_once() {
        let store = MemoryStore::new(100, full_validation());
        let author = Identity::generate().expect("rng");
        let first = crate::script::note(
            &author,
            "one",
            Timestamp::from_unix(1_700_000_000, 0).record_aligned(),
        );
        let second = crate::script::note(
            &author,
            "two",
            Timestamp::from_unix(1_700_000_001, 0).record_aligned(),
        );
        for record in [&first, &second] {
            assert_eq!(
                store.submit(record, &PeerIdentity::Anonymous),
                SubmissionResultCode::Ok
            );
        }
        let references = References::from_refs(&[
            Reference::Id(first.id()),
            Reference::Address(first.address()),
            Reference::Id(second.id()),
            Reference::Id(first.id()),
            Reference::Address(first.address()),
        ])
        .expect("five");
        assert_eq!(ids(&store.get(&references, None)), ids(&[second, first]));
    }

    /// A WebSocket in memory: the test puts the client's messages in and
    /// takes the server's out; the server's side takes at most `room`
    /// messages the test has not taken.
    #[derive(Default)]
    struct Pipe {
        inbound: std::collections::VecDeque<tungstenite::Message>,
        outbound: std::collections::VecDeque<tungstenite::Message>,
        room: usize,
        waker: Option<std::task::Waker>,
    }

    #[derive(Clone)]
    struct PipeEnd(Arc<Mutex<Pipe>>);

    impl PipeEnd {
        fn with<T>(&self, f: impl FnOnce(&mut Pipe) -> T) -> T {
            let mut pipe = self.0.lock().expect("pipe");
            let out = f(&mut pipe);
            if let Some(waker) = pipe.waker.take() {
                waker.wake();
            }
            out
        }

        /// Polls as the server's side: ready, or waiting to be woken.
        fn poll<T>(
            &self,
            cx: &mut std::task::Context<'_>,
            f: impl FnOnce(&mut Pipe) -> std::task::Poll<T>,
        ) -> std::task::Poll<T> {
            let mut pipe = self.0.lock().expect("pipe");
            let poll = f(&mut pipe);
            if poll.is_pending() {
                pipe.waker = Some(cx.waker().clone());
            }
            poll
        }
    }

    type WsResult<T> = Result<T, tungstenite::Error>;

    impl futures_util::Stream for PipeEnd {
        type Item = WsResult<tungstenite::Message>;

        fn poll_next(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            self.poll(cx, |p| match p.inbound.pop_front() {
                Some(message) => std::task::Poll::Ready(Some(Ok(message))),
                None => std::task::Poll::Pending,
            })
        }
    }

    impl futures_util::Sink<tungstenite::Message> for PipeEnd {
        type Error = tungstenite::Error;

        fn poll_ready(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<WsResult<()>> {
            self.poll(cx, |p| match p.outbound.len() < p.room {
                true => std::task::Poll::Ready(Ok(())),
                false => std::task::Poll::Pending,
            })
        }

        fn start_send(
            self: std::pin::Pin<&mut Self>,
            message: tungstenite::Message,
        ) -> WsResult<()> {
            self.0.lock().expect("pipe").outbound.push_back(message);
            Ok(())
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<WsResult<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<WsResult<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// A store serving one connection over a [`Pipe`], on a smol executor
    /// ticked by hand: each step runs until nothing more can.
    struct Served {
        executor: Arc<smol::Executor<'static>>,
        pipe: PipeEnd,
        store: Arc<MemoryStore>,
    }

    impl Served {
        /// A connection whose outbound queue holds `max_outbound_bytes`, and
        /// whose reader takes one message at a time, when the test does.
        fn new(max_outbound_bytes: usize) -> Served {
            let executor = Arc::new(smol::Executor::new());
            let runtime = {
                let executor = executor.clone();
                mosaic_ws_async_std::AsyncStd::with_spawner(move |task| {
                    executor.spawn(task).detach()
                })
            };
            let identity = Identity::generate().expect("rng");
            let tls = mosaic_tls::ServerTls::builder(identity)
                .build()
                .expect("tls");
            let mut options = ServerOptions::new(tls);
            options.session.max_outbound_bytes = max_outbound_bytes;
            options.session.keepalive = None;
            let pipe = PipeEnd(Arc::new(Mutex::new(Pipe {
                room: 1,
                ..Pipe::default()
            })));
            let info = ConnectionInfo::new(Default::default(), PeerIdentity::Anonymous, None);
            let connection = ServerConnection::start(pipe.clone(), info, &options, runtime);
            let store = MemoryStore::new(100, full_validation());
            executor.spawn(store.clone().serve(connection)).detach();
            Served {
                executor,
                pipe,
                store,
            }
        }

        fn settle(&self) {
            while self.executor.try_tick() {}
        }

        fn submit(&self, record: &Record) {
            let code = self.store.submit(record, &PeerIdentity::Anonymous);
            assert_eq!(code, SubmissionResultCode::Ok);
            self.settle();
        }

        fn send(&self, message: mosaic_proto::ClientMessage) {
            let bytes = message.to_bytes();
            self.pipe
                .with(|p| p.inbound.push_back(tungstenite::Message::Binary(bytes)));
            self.settle();
        }

        /// The next message the server sent, if one waits.
        fn take_one(&self) -> Option<mosaic_proto::ServerMessage> {
            let message = self.pipe.with(|p| p.outbound.pop_front())?;
            self.settle();
            let bytes = match message {
                tungstenite::Message::Binary(bytes) => bytes,
                // A large record goes as frames: its header's, then its own.
                tungstenite::Message::Frame(first) => {
                    let mut whole = first.payload().to_vec();
                    let mut is_final = first.header().is_final;
                    while !is_final {
                        let next = self.pipe.with(|p| p.outbound.pop_front());
                        self.settle();
                        let Some(tungstenite::Message::Frame(frame)) = next else {
                            panic!("a message cut short: {next:?}");
                        };
                        whole.extend_from_slice(frame.payload());
                        is_final = frame.header().is_final;
                    }
                    whole.into()
                }
                other => panic!("not a Mosaic message: {other:?}"),
            };
            Some(mosaic_proto::ServerMessage::decode(bytes, &Default::default()).expect("valid"))
        }

        /// The IDs of the records in what the server sends until it stops
        /// (`None` for any other message).
        fn take_all(&self) -> Vec<Option<Id>> {
            std::iter::from_fn(|| self.take_one())
                .map(|m| record_id(&m))
                .collect()
        }
    }

    /// The ID of the record a message carries, if it carries one.
    fn record_id(message: &mosaic_proto::ServerMessage) -> Option<Id> {
        match message {
            mosaic_proto::ServerMessage::Record { record, .. } => Some(record.id()),
            _ => None,
        }
    }

    /// A 3 KB note (one frame: records under 4 KiB go as one) at second `s`.
    fn note_at(author: &Identity, s: u64) -> Record {
        note_of(author, s, 3_000)
    }

    /// A note with `len` bytes of text, `s` seconds into the test's time.
    fn note_of(author: &Identity, s: u64, len: usize) -> Record {
        let at = Timestamp::from_unix(1_700_000_000 + s, 0).record_aligned();
        crate::script::note(author, &"x".repeat(len), at)
    }

    fn everything() -> Filter {
        Filter::builder().build().expect("empty")
    }

    /// A subscription's filter, kept for the subscription's life, holds none
    /// of the buffer its Subscribe message was read into: 32 subscriptions
    /// could otherwise keep 32 read buffers (each 4 KiB or more) per
    /// connection.
    #[test]
    fn a_subscription_holds_none_of_the_buffer_it_arrived_in() {
        use mosaic_proto::{ClientMessage, QueryId, ServerMessage};

        let served = Served::new(64 * 1024);
        let subscribe = ClientMessage::Subscribe {
            query_id: QueryId(1),
            limit: 0,
            filter: everything(),
        }
        .to_bytes();
        let mut read_buffer = bytes::BytesMut::with_capacity(64 * 1024);
        read_buffer.extend_from_slice(&subscribe);
        read_buffer.extend_from_slice(&[0; 1000]);
        let read_buffer = read_buffer.freeze();
        let message = tungstenite::Message::Binary(read_buffer.slice(..subscribe.len()));
        served.pipe.with(|p| p.inbound.push_back(message));
        served.settle();
        assert!(matches!(
            served.take_one(),
            Some(ServerMessage::LocallyComplete { .. })
        ));
        assert!(read_buffer.is_unique());
        // The subscription serves on.
        let live = note_at(&Identity::generate().expect("rng"), 1);
        served.submit(&live);
        assert_eq!(served.take_all(), [Some(live.id())]);
    }

    /// Live records that come while a subscriber is still being sent the
    /// ones held during its catch-up wait their turn behind them: they are
    /// neither sent ahead of them nor do they find the queue full and close
    /// the subscriber as too slow.
    #[test]
    fn live_records_wait_behind_those_held_during_catch_up() {
        use mosaic_proto::{ClientMessage, QueryId, ServerMessage};

        // Room for one record and the small messages.
        let served = Served::new(4_500);
        let author = Identity::generate().expect("rng");
        let stored: Vec<Record> = (0..5).map(|s| note_at(&author, s)).collect();
        stored.iter().for_each(|r| served.submit(r));
        served.send(ClientMessage::Subscribe {
            query_id: QueryId(1),
            limit: 0,
            filter: everything(),
        });
        // Two live records come while the stored ones are sent: held.
        let held = [note_at(&author, 100), note_at(&author, 101)];
        held.iter().for_each(|r| served.submit(r));
        // Read until the catch-up is under way.
        let mut received = Vec::new();
        for _ in 0..5 {
            received.push(served.take_one().expect("a message"));
        }
        assert!(matches!(
            received.last(),
            Some(ServerMessage::Record { .. })
        ));
        // A third comes now, with the queue full.
        let late = note_at(&author, 102);
        served.submit(&late);
        let mut order: Vec<Option<Id>> = received.iter().map(record_id).collect();
        order.extend(served.take_all());
        let mut expected: Vec<Option<Id>> = stored.iter().rev().map(|r| Some(r.id())).collect();
        expected.push(None); // Locally Complete
        expected.extend([&held[0], &held[1], &late].map(|r| Some(r.id())));
        assert_eq!(order, expected);
    }

    /// The records held during a catch-up leave room in the queue, as the
    /// stored ones do, for live records to another subscription on the same
    /// connection: sent all at once, they filled the queue, and a live
    /// record arriving then closed a steadily reading client as too slow.
    #[test]
    fn records_held_during_catch_up_leave_room_for_live_records() {
        use mosaic_proto::{ClientMessage, QueryId, ServerMessage};

        // Records of 40 KB: the driver takes two at a time from the queue
        // (its batch stops past 64 KiB), which holds seven; half of it is
        // kept for live records.
        let served = Served::new(300_000);
        let note_at = |author: &Identity, s: u64| note_of(author, s, 40_000);
        let (author, other) = (
            Identity::generate().expect("rng"),
            Identity::generate().expect("rng"),
        );
        let by = |who: &Identity| {
            let key = who.public_key().to_bytes();
            Filter::builder()
                .author_keys(&[key])
                .build()
                .expect("filter")
        };
        served.send(ClientMessage::Subscribe {
            query_id: QueryId(1),
            limit: 0,
            filter: by(&other),
        });
        assert_eq!(
            served.take_all(),
            [None],
            "Locally Complete: nothing stored"
        );
        // More than the driver's batch and the queue take together, so
        // that the catch-up is still under way when live records come.
        let stored: Vec<Record> = (0..12).map(|s| note_at(&author, s)).collect();
        stored.iter().for_each(|r| served.submit(r));
        served.send(ClientMessage::Subscribe {
            query_id: QueryId(2),
            limit: 0,
            filter: by(&author),
        });
        // Live records while the stored ones go: held, more than the queue holds.
        let held: Vec<Record> = (100..120).map(|s| note_at(&author, s)).collect();
        held.iter().for_each(|r| served.submit(r));
        let mut order = Vec::new();
        loop {
            let message = served.take_one().expect("a message");
            if matches!(message, ServerMessage::LocallyComplete { .. }) {
                break;
            }
            order.push(record_id(&message));
        }
        // The held records are being sent; a record for the first
        // subscription comes.
        let live = note_at(&other, 200);
        served.submit(&live);
        let rest = served.take_all();
        assert!(rest.contains(&Some(live.id())), "the live record came");
        order.extend(rest.into_iter().filter(|id| *id != Some(live.id())));
        let mut expected: Vec<Option<Id>> = stored.iter().rev().map(|r| Some(r.id())).collect();
        expected.extend(held.iter().map(|r| Some(r.id())));
        assert_eq!(order, expected, "and every record of the second, in order");
    }

    /// An ephemeral record is answered `NO_CONSUMERS` unless a subscriber
    /// took it: not when the one subscriber is closed for being too slow by
    /// this very record.
    #[test]
    fn an_ephemeral_record_no_subscriber_took_has_no_consumers() {
        use mosaic_proto::{ClientMessage, DuplicateHandling, Kind, QueryId, ReadAccess};

        // Room for one record and the small messages; the reader reads nothing.
        let served = Served::new(4_500);
        served.send(ClientMessage::Subscribe {
            query_id: QueryId(1),
            limit: 0,
            filter: everything(),
        });
        let author = Identity::generate().expect("rng");
        let kind = Kind::new(
            99,
            3,
            DuplicateHandling::Ephemeral,
            ReadAccess::Everybody,
            true,
        );
        let ephemeral = |s: u64| {
            crate::script::note_with(
                &author,
                &"x".repeat(3_000),
                Timestamp::from_unix(1_700_000_000 + s, 0).record_aligned(),
                kind.expect("kind"),
                mosaic_proto::RecordFlags::empty(),
                &[],
            )
        };
        let mut taken = 0;
        let code = (0..40)
            .map(|s| served.store.submit(&ephemeral(s), &PeerIdentity::Anonymous))
            .find(|code| {
                taken += usize::from(*code == SubmissionResultCode::Ok);
                *code != SubmissionResultCode::Ok
            });
        assert_eq!(code, Some(SubmissionResultCode::NoConsumers));
        // What the client gets: Locally Complete, the records taken, the close.
        let mut messages = 0;
        loop {
            let message = served.pipe.with(|p| p.outbound.pop_front());
            served.settle();
            match message.expect("the close comes") {
                tungstenite::Message::Close(frame) => {
                    let reason = frame.map(|f| f.reason.to_string());
                    assert_eq!(reason.as_deref(), Some("subscriber too slow"));
                    break;
                }
                _ => messages += 1,
            }
        }
        assert_eq!(
            messages,
            1 + taken,
            "Locally Complete and every record taken"
        );
    }

    /// A Query answered on a connection whose reader is slow leaves room in
    /// its queue for live records to a subscription on the same connection,
    /// so one arriving mid-answer is delivered, not a reason to close it.
    #[test]
    fn an_answer_in_progress_leaves_room_for_live_records() {
        use mosaic_proto::{ClientMessage, QueryId};

        let served = Served::new(20_000);
        let (author, other) = (
            Identity::generate().expect("rng"),
            Identity::generate().expect("rng"),
        );
        // More than the driver takes from the queue in one batch (16) and
        // the queue holds (6) together.
        let stored: Vec<Record> = (0..40).map(|s| note_at(&author, s)).collect();
        stored.iter().for_each(|r| served.submit(r));
        let others = Filter::builder()
            .author_keys(&[other.public_key().to_bytes()])
            .build()
            .expect("filter");
        served.send(ClientMessage::Subscribe {
            query_id: QueryId(1),
            limit: 0,
            filter: others,
        });
        assert_eq!(
            served.take_all(),
            [None],
            "Locally Complete: nothing stored"
        );
        // The answer fills what the slow reader leaves, and a live record comes.
        served.send(ClientMessage::Query {
            query_id: QueryId(2),
            limit: 0,
            filter: everything(),
        });
        let live = note_at(&other, 50);
        served.submit(&live);
        let got = served.take_all();
        assert!(got.contains(&Some(live.id())), "the live record came");
        let answered = got
            .iter()
            .filter(|id| stored.iter().any(|r| Some(r.id()) == **id));
        assert_eq!(answered.count(), 40, "and the whole answer");
    }

    /// A connection's task lives as long as the connection, mostly idle in
    /// `recv`: requests run boxed, so it does not carry their state (it was
    /// about 920 bytes with the answers inline, about 260 without).
    #[test]
    fn a_connection_task_does_not_carry_a_request_in_progress() {
        let store = MemoryStore::new(10, accept_structural());
        let size = future_size(move |connection| store.clone().serve(connection));
        assert!(size <= 400, "serve's future is {size} bytes");
    }
}
