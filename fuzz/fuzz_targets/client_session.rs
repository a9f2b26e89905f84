//! Fuzzes the client session with a sequence of server messages interleaved
//! with the requests an application makes. Any panic is a defect; and whatever
//! the server sends: every byte the session asks to send is a valid client
//! message, events only name queries the application opened, query ids are
//! never reused while open, and nothing is sent after the close.

#![no_main]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use mosaic_proto::session::{ClientConfig, ClientEvent, ClientSession, Transmit, TransportBacklog};
use mosaic_proto::{
    ClientMessage, DecodeOptions, ExtensionTypes, Filter, IdPrefix, QueryClosedCode, QueryId,
    Reference, References, ServerMessage, SubmissionResultCode,
};

#[derive(Arbitrary, Debug)]
enum Input {
    /// A binary WebSocket message from the server.
    Binary(Vec<u8>),
    /// A well-formed server message about a query id or submission.
    Record { query: u8, n: u8 },
    LocallyComplete(u8),
    QueryClosed { query: u8, code: u8 },
    SubmissionResult { n: u8, code: u8 },
    Text,
    Wait(u8),
    /// Application requests.
    Get(u8),
    Query { limit: u16 },
    Subscribe { limit: u16 },
    Unsubscribe(u8),
    Abandon(u8),
    Submit(u8),
    Drain(u8),
    /// The transport says what it holds of what it took: nothing, bytes it
    /// is handing on, or bytes that wait.
    Backlog(u8),
    /// The transport moved bytes with the peer that made no whole message.
    Activity,
    /// The application's receiver is dropped.
    StopReceiving,
}

mod common;

/// The sessions' stall timeout.
const STALL: Duration = Duration::from_secs(7);

fn record(n: u8) -> mosaic_proto::Record {
    common::record(n, 16)
}

fn check_transmit(transmit: Transmit, closed_sent: &mut bool) {
    let options = DecodeOptions::default().with_extensions(ExtensionTypes::sync());
    common::check_transmit(transmit, closed_sent, |bytes| {
        ClientMessage::decode(bytes, &options).map(drop)
    });
}

fuzz_target!(|inputs: Vec<Input>| {
    let mut now = Instant::now();
    let config = ClientConfig {
        decode: DecodeOptions::default().with_extensions(ExtensionTypes::sync()),
        max_open_queries: 4,
        max_pending_submissions: 4,
        max_pending_events: 16,
        max_outbound_bytes: 4096,
        // Shorter than the keepalive's 30 s, so that a deadline within it
        // is the stall clock's (see the check below).
        stall_timeout: STALL,
        ..ClientConfig::default()
    };
    let mut session = ClientSession::new(config, now);
    let mut opened: Vec<QueryId> = Vec::new();
    let mut closed_sent = false;
    let mut backlog = false;
    let mut receiving = true;
    let filter = Filter::builder().author_keys(&[[2; 32]]).build().expect("fits");
    for input in inputs.into_iter().take(64) {
        let server = |m: ServerMessage| m.to_bytes();
        let pick = |i: u8| opened.get(usize::from(i) % opened.len().max(1)).copied().unwrap_or(QueryId(u16::from(i)));
        match input {
            Input::Binary(bytes) => session.handle_binary(Bytes::from(bytes), now),
            Input::Record { query, n } => {
                let m = ServerMessage::Record { query_id: pick(query), record: record(n) };
                session.handle_binary(server(m), now);
            }
            Input::LocallyComplete(query) => {
                session.handle_binary(server(ServerMessage::LocallyComplete { query_id: pick(query) }), now)
            }
            Input::QueryClosed { query, code } => {
                let m = ServerMessage::QueryClosed { query_id: pick(query), code: QueryClosedCode::from_u8(code) };
                session.handle_binary(server(m), now);
            }
            Input::SubmissionResult { n, code } => {
                let m = ServerMessage::SubmissionResult {
                    code: SubmissionResultCode::from_u8(code),
                    id_prefix: record(n).id_prefix(),
                };
                session.handle_binary(server(m), now);
            }
            Input::Text => session.handle_text(now),
            Input::Wait(secs) => {
                now += Duration::from_secs(u64::from(secs));
                if session.poll_timeout().is_some_and(|d| now >= d) {
                    session.handle_timeout(now);
                }
            }
            Input::Get(n) => {
                let refs = References::from_refs(&[Reference::Id(record(n).id())]).expect("one");
                if let Ok(id) = session.get(refs, now) {
                    assert!(!opened.contains(&id), "{id} reused while open");
                    opened.push(id);
                }
            }
            Input::Query { limit } => {
                if let Ok(id) = session.query(filter.clone(), limit, now) {
                    assert!(!opened.contains(&id), "{id} reused while open");
                    opened.push(id);
                }
            }
            Input::Subscribe { limit } => {
                if let Ok(id) = session.subscribe(filter.clone(), limit, now) {
                    assert!(!opened.contains(&id), "{id} reused while open");
                    opened.push(id);
                }
            }
            Input::Unsubscribe(i) => {
                let _ = session.unsubscribe(pick(i), now);
            }
            Input::Abandon(i) => session.abandon_query(pick(i), now),
            Input::Submit(n) => {
                let _ = session.submit(record(n), now);
            }
            Input::Drain(n) => {
                for _ in 0..n {
                    match session.poll_transmit(now) {
                        Some(t) => check_transmit(t, &mut closed_sent),
                        None => break,
                    }
                }
            }
            Input::Backlog(state) => {
                let state = common::backlog(state);
                backlog = state != TransportBacklog::Empty;
                session.set_transport_backlog(state, now);
            }
            Input::Activity => session.handle_transport_activity(now),
            Input::StopReceiving => {
                receiving = false;
                session.stop_receiving();
            }
        }
        // While anything waits to go, here or in the transport, the stall
        // clock runs.
        if session.closed().is_none() && (backlog || session.has_transmits()) {
            let deadline = session.poll_timeout();
            assert!(deadline.is_some_and(|d| d <= now + STALL), "no stall deadline");
        }
        let open: HashSet<QueryId> = session.open_queries().collect();
        assert!(open.len() <= 4);
        opened.retain(|id| open.contains(id));
        while let Some(event) = session.poll_event() {
            match event {
                ClientEvent::Record { query_id, .. } | ClientEvent::LocallyComplete { query_id } => {
                    assert!(open.contains(&query_id), "an event for {query_id}, which is not open");
                }
                ClientEvent::QueryClosed { query_id, .. } => {
                    assert!(!open.contains(&query_id), "{query_id} closed but still open");
                }
                ClientEvent::SubmissionResult { id_prefix, .. } => {
                    let _: IdPrefix = id_prefix;
                }
                ClientEvent::Extension(_) | ClientEvent::Ignored(_) => {
                    assert!(receiving, "an event for a receiver that is gone");
                }
            }
        }
    }
    while let Some(t) = session.poll_transmit(now) {
        check_transmit(t, &mut closed_sent);
    }
});
