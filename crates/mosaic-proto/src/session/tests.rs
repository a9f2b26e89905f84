//! The sessions driven by hand: every input a peer can get wrong, and the
//! answers, events and closes that follow.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::test_support::{record_with, sample_record};
use crate::{
    ClientMessage, Filter, IdPrefix, QueryClosedCode, QueryId, Record, Reference, References,
    ServerMessage, SubmissionResultCode, Tag, Timestamp,
};

fn t(secs: u64) -> Instant {
    thread_local!(static T0: Instant = Instant::now());
    T0.with(|t0| *t0 + Duration::from_secs(secs))
}

fn no_keepalive_server() -> ServerSession {
    ServerSession::new(
        ServerConfig {
            keepalive: None,
            idle_timeout: None,
            ..ServerConfig::default()
        },
        t(0),
    )
}

fn author_filter() -> Filter {
    Filter::builder()
        .author_keys(&[[0x33; 32]])
        .build()
        .expect("fits")
}

fn query_msg(id: u16) -> Bytes {
    ClientMessage::Query {
        query_id: QueryId(id),
        limit: 0,
        filter: author_filter(),
    }
    .to_bytes()
}

fn subscribe_msg(id: u16, limit: u16) -> Bytes {
    ClientMessage::Subscribe {
        query_id: QueryId(id),
        limit,
        filter: author_filter(),
    }
    .to_bytes()
}

/// Every transmit, decoded as server messages (closes as `Err`).
fn sent_by_server(session: &mut ServerSession) -> Vec<Result<ServerMessage, (CloseCode, String)>> {
    let mut out = Vec::new();
    while let Some(t) = session.poll_transmit(t(0)) {
        match t {
            Transmit::Close { code, reason } => out.push(Err((code, reason))),
            Transmit::Ping => {}
            other => {
                let bytes = other.contiguous().expect("a message");
                out.push(Ok(
                    ServerMessage::decode(bytes, &Default::default()).expect("valid")
                ));
            }
        }
    }
    out
}

fn closed_query(id: u16, code: QueryClosedCode) -> Result<ServerMessage, (CloseCode, String)> {
    Ok(ServerMessage::QueryClosed {
        query_id: QueryId(id),
        code,
    })
}

#[test]
fn a_query_is_served_then_closed() {
    let mut s = no_keepalive_server();
    s.handle_binary(query_msg(4), t(1));
    let Some(ServerEvent::Query {
        query,
        limit: 0,
        filter,
    }) = s.poll_event()
    else {
        panic!("expected a query event");
    };
    assert_eq!(filter, author_filter());
    assert_eq!(query.id(), QueryId(4));
    let record = sample_record();
    s.send_record(query, &record, t(1)).expect("open");
    s.close_query(query, QueryClosedCode::OnRequest, t(1))
        .expect("open");
    assert_eq!(
        sent_by_server(&mut s),
        [
            Ok(ServerMessage::Record {
                query_id: QueryId(4),
                record: record.clone()
            }),
            closed_query(4, QueryClosedCode::OnRequest)
        ]
    );
    assert_eq!(
        s.send_record(query, &record, t(2)),
        Err(SessionError::UnknownQuery(QueryId(4)))
    );
}

/// A bulk answer leaves room free for records sent without waiting: at most
/// half the queue, and an empty queue takes any record.
#[test]
fn records_sent_leaving_room_keep_it_free() {
    let mut s = ServerSession::new(
        ServerConfig {
            keepalive: None,
            idle_timeout: None,
            max_outbound_bytes: 10_000,
            ..ServerConfig::default()
        },
        t(0),
    );
    s.handle_binary(query_msg(4), t(1));
    let Some(ServerEvent::Query { query, .. }) = s.poll_event() else {
        panic!("expected a query event");
    };
    let record = record_with(&[], &[7; 3000], 0x1_0000);
    let full = |r| matches!(r, Err(SessionError::QueueFull { .. }));
    // The empty queue takes it even with room asked beyond the queue.
    s.send_record_leaving(query, &record, 1 << 20, t(1))
        .expect("an empty queue takes any record");
    // Room for a second record, but not for it and 4,000 more.
    assert!(full(s.send_record_leaving(query, &record, 4000, t(1))));
    // Room asked beyond half the queue counts as half: 5,000 is too much too.
    assert!(full(s.send_record_leaving(query, &record, 1 << 20, t(1))));
    // 2,000 stay free: taken; and a record sent without asking for room
    // (a live one) finds what was left.
    s.send_record_leaving(query, &record, 2000, t(1))
        .expect("room left");
    s.send_record(query, &record, t(1)).expect("the room left");
    assert_eq!(sent_by_server(&mut s).len(), 3);
}

#[test]
fn record_transmits_share_the_record_bytes() {
    let mut s = no_keepalive_server();
    s.handle_binary(subscribe_msg(1, 0), t(0));
    let Some(ServerEvent::Subscribe { query, .. }) = s.poll_event() else {
        panic!("expected a subscription");
    };
    let record = sample_record();
    s.send_record(query, &record, t(0)).expect("open");
    let Some(Transmit::Record {
        header,
        record: shared,
    }) = s.poll_transmit(t(0))
    else {
        panic!("expected a record transmit");
    };
    assert_eq!(shared.as_ptr(), record.as_bytes().as_ptr(), "not copied");
    assert_eq!(header, ServerMessage::record_header(QueryId(1), &record));
}

#[test]
fn a_reused_open_query_id_closes_both() {
    let mut s = no_keepalive_server();
    s.handle_binary(subscribe_msg(9, 0), t(0));
    let Some(ServerEvent::Subscribe { query: first, .. }) = s.poll_event() else {
        panic!("expected a subscription");
    };
    s.handle_binary(query_msg(9), t(0));
    assert_eq!(
        s.poll_event(),
        Some(ServerEvent::Cancelled { query: first })
    );
    assert_eq!(s.poll_event(), None, "the second query is not served");
    assert_eq!(
        sent_by_server(&mut s),
        [closed_query(9, QueryClosedCode::RejectedInvalid)]
    );
    assert_eq!(s.open_queries().count(), 0);
    assert!(s.closed().is_none(), "the connection lives on");
    // Answers meant for the old query are refused, even once the id is reused.
    s.handle_binary(query_msg(9), t(0));
    let Some(ServerEvent::Query { query: second, .. }) = s.poll_event() else {
        panic!("expected a query");
    };
    assert_eq!(
        s.send_record(first, &sample_record(), t(0)),
        Err(SessionError::UnknownQuery(QueryId(9)))
    );
    assert!(s.send_record(second, &sample_record(), t(0)).is_ok());
}

#[test]
fn queries_past_the_limit_are_rejected_too_fast() {
    let mut s = ServerSession::new(
        ServerConfig {
            max_open_queries: 2,
            ..ServerConfig::default()
        },
        t(0),
    );
    for id in 0..3 {
        s.handle_binary(query_msg(id), t(0));
    }
    assert_eq!(s.open_queries().count(), 2);
    assert_eq!(
        sent_by_server(&mut s),
        [closed_query(2, QueryClosedCode::RejectedTooFast)]
    );
    assert!(s.closed().is_none());
}

#[test]
fn unsubscribe_cancels_and_answers_on_request() {
    let mut s = no_keepalive_server();
    s.handle_binary(subscribe_msg(3, 0), t(0));
    let Some(ServerEvent::Subscribe { query, .. }) = s.poll_event() else {
        panic!("expected a subscription");
    };
    s.handle_binary(
        ClientMessage::Unsubscribe {
            query_id: QueryId(3),
        }
        .to_bytes(),
        t(0),
    );
    assert_eq!(s.poll_event(), Some(ServerEvent::Cancelled { query }));
    // An unknown id is answered too.
    s.handle_binary(
        ClientMessage::Unsubscribe {
            query_id: QueryId(77),
        }
        .to_bytes(),
        t(0),
    );
    assert_eq!(s.poll_event(), None);
    assert_eq!(
        sent_by_server(&mut s),
        [
            closed_query(3, QueryClosedCode::OnRequest),
            closed_query(77, QueryClosedCode::OnRequest)
        ]
    );
}

#[test]
fn an_invalid_filter_is_answered_and_the_connection_lives_on() {
    let mut s = no_keepalive_server();
    let mut bytes = query_msg(5).to_vec();
    bytes[8 + 8 + 1] = 0; // zero element length
    s.handle_binary(Bytes::from(bytes), t(0));
    assert_eq!(s.poll_event(), None);
    assert_eq!(
        sent_by_server(&mut s),
        [closed_query(5, QueryClosedCode::RejectedInvalid)]
    );
    assert!(s.closed().is_none());
    assert!(s.wants_input());
}

#[test]
fn an_invalid_record_is_answered_when_it_has_an_id() {
    let mut s = no_keepalive_server();
    let record = sample_record();
    let mut bytes = ClientMessage::Submission {
        record: record.clone(),
    }
    .to_bytes()
    .to_vec();
    bytes[8 + 200] = 0x02; // a reserved flag bit
    s.handle_binary(Bytes::from(bytes), t(0));
    assert_eq!(
        sent_by_server(&mut s),
        [Ok(ServerMessage::SubmissionResult {
            code: SubmissionResultCode::RejectedInvalid,
            id_prefix: record.id_prefix()
        })]
    );
    assert!(s.closed().is_none());
    // Too short to carry an ID: close with 1002.
    let mut short = vec![0x05, 8 + 100, 0, 0, 0, 0, 0, 0];
    short.extend([0u8; 100]);
    s.handle_binary(Bytes::from(short), t(0));
    let closed = s.closed().expect("closed").clone();
    assert_eq!(closed.code, CloseCode::PROTOCOL_ERROR);
    assert!(matches!(closed.cause, CloseCause::Violation(_)));
}

#[test]
fn protocol_violations_close_with_their_codes() {
    type Send = fn(&mut ServerSession);
    let cases: [(&str, Send, CloseCode); 5] = [
        (
            "server message from a client",
            |s| {
                let m = ServerMessage::LocallyComplete {
                    query_id: QueryId(1),
                };
                s.handle_binary(m.to_bytes(), t(0))
            },
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            "unknown client type",
            |s| s.handle_binary(Bytes::from_static(&[0x07, 8, 0, 0, 0, 0, 0, 0]), t(0)),
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            "malformed header",
            |s| s.handle_binary(Bytes::from_static(&[0x04, 9, 0, 0, 0, 0, 0, 0]), t(0)),
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            "text message",
            |s| s.handle_text(t(0)),
            CloseCode::UNSUPPORTED_DATA,
        ),
        (
            "oversize message",
            |s| {
                let mut big = vec![0x05, 0, 0, 0x20];
                big.resize(0x20_0000, 0);
                s.handle_binary(Bytes::from(big), t(0))
            },
            CloseCode::MESSAGE_TOO_BIG,
        ),
    ];
    for (name, send, code) in cases {
        let mut s = no_keepalive_server();
        s.handle_binary(subscribe_msg(1, 0), t(0));
        send(&mut s);
        let sent = sent_by_server(&mut s);
        assert!(
            matches!(sent.last(), Some(Err((c, _))) if *c == code),
            "{name}: {sent:?}"
        );
        assert_eq!(s.closed().map(|c| c.code), Some(code), "{name}");
        assert!(!s.wants_input(), "{name}");
        // Nothing is accepted once closed.
        s.handle_binary(query_msg(2), t(0));
        assert!(matches!(
            s.poll_event(),
            Some(ServerEvent::Subscribe { .. })
        ));
        assert_eq!(s.poll_event(), None, "{name}");
    }
}

#[test]
fn limits_count_stored_records_only() {
    let mut s = no_keepalive_server();
    s.handle_binary(subscribe_msg(1, 2), t(0));
    let Some(ServerEvent::Subscribe {
        query, limit: 2, ..
    }) = s.poll_event()
    else {
        panic!("expected a subscription");
    };
    let r = sample_record();
    s.send_record(query, &r, t(0)).expect("1");
    s.send_record(query, &r, t(0)).expect("2");
    assert_eq!(
        s.send_record(query, &r, t(0)),
        Err(SessionError::LimitReached {
            query_id: QueryId(1),
            limit: 2
        })
    );
    s.locally_complete(query, t(0)).expect("subscription");
    assert_eq!(
        s.locally_complete(query, t(0)),
        Err(SessionError::NotAwaitingLocallyComplete(QueryId(1)))
    );
    for _ in 0..5 {
        s.send_record(query, &r, t(0))
            .expect("live records are not limited");
    }
    s.handle_binary(query_msg(2), t(0));
    let Some(ServerEvent::Query { query: q, .. }) = s.poll_event() else {
        panic!("expected a query");
    };
    assert_eq!(
        s.locally_complete(q, t(0)),
        Err(SessionError::NotAwaitingLocallyComplete(QueryId(2)))
    );
}

#[test]
fn submissions_are_answered_once_and_bounded() {
    let mut s = ServerSession::new(
        ServerConfig {
            max_pending_submissions: 1,
            ..ServerConfig::default()
        },
        t(0),
    );
    let a = sample_record();
    let b = record_with(&[], b"other", 0x2_0000);
    s.handle_binary(
        ClientMessage::Submission { record: a.clone() }.to_bytes(),
        t(0),
    );
    s.handle_binary(
        ClientMessage::Submission { record: b.clone() }.to_bytes(),
        t(0),
    );
    let Some(ServerEvent::Submission { submission, record }) = s.poll_event() else {
        panic!("expected a submission");
    };
    assert_eq!(record, a);
    assert_eq!(s.poll_event(), None, "the second is over the limit");
    s.submission_result(submission, SubmissionResultCode::Ok, t(0))
        .expect("pending");
    assert_eq!(
        s.submission_result(submission, SubmissionResultCode::Ok, t(0)),
        Err(SessionError::UnknownSubmission(a.id_prefix()))
    );
    assert_eq!(
        sent_by_server(&mut s),
        [
            Ok(ServerMessage::SubmissionResult {
                code: SubmissionResultCode::RejectedTooFast,
                id_prefix: b.id_prefix()
            }),
            Ok(ServerMessage::SubmissionResult {
                code: SubmissionResultCode::Ok,
                id_prefix: a.id_prefix()
            })
        ]
    );
}

#[test]
fn idle_clients_are_closed_but_not_while_a_query_is_open() {
    let config = ServerConfig {
        idle_timeout: Some(Duration::from_secs(60)),
        keepalive: None,
        ..ServerConfig::default()
    };
    let mut s = ServerSession::new(config, t(0));
    assert_eq!(s.poll_timeout(), Some(t(60)));
    s.handle_binary(subscribe_msg(1, 0), t(10));
    assert_eq!(s.poll_timeout(), None, "an open subscription is not idle");
    s.handle_timeout(t(1000));
    assert!(s.closed().is_none());
    s.handle_binary(
        ClientMessage::Unsubscribe {
            query_id: QueryId(1),
        }
        .to_bytes(),
        t(20),
    );
    assert_eq!(
        s.poll_timeout(),
        Some(t(50)),
        "the queued answer's stall deadline"
    );
    assert_eq!(sent_by_server(&mut s).len(), 1);
    assert_eq!(s.poll_timeout(), Some(t(80)));
    s.handle_timeout(t(79));
    assert!(s.closed().is_none());
    s.handle_timeout(t(80));
    let closed = s.closed().expect("idle close");
    assert_eq!(closed.cause, CloseCause::Idle);
    assert_eq!(closed.code, CloseCode::NORMAL);
}

#[test]
fn keepalive_pings_then_closes_a_silent_peer() {
    let config = ServerConfig {
        idle_timeout: None,
        keepalive: Some(KeepaliveConfig {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        }),
        ..ServerConfig::default()
    };
    let mut s = ServerSession::new(config, t(0));
    assert_eq!(s.poll_timeout(), Some(t(10)));
    s.handle_timeout(t(10));
    assert_eq!(s.poll_transmit(t(10)), Some(Transmit::Ping));
    s.handle_ping_or_pong(t(12));
    assert_eq!(s.poll_timeout(), Some(t(22)));
    s.handle_timeout(t(22));
    assert_eq!(s.poll_transmit(t(22)), Some(Transmit::Ping));
    s.handle_timeout(t(27));
    assert_eq!(
        s.closed().map(|c| c.cause.clone()),
        Some(CloseCause::PeerUnresponsive)
    );
}

/// Bytes arriving without a whole message (part of one large frame) count
/// as hearing the peer: no ping while they come.
#[test]
fn bytes_arriving_keep_the_keepalive_content() {
    let mut s = ServerSession::new(brisk_keepalive(), t(0));
    for at in (8..=40).step_by(8) {
        s.handle_transport_activity(t(at));
        s.handle_timeout(t(at));
        assert_eq!(s.poll_timeout(), Some(t(at + 10)), "at {at}");
    }
    assert!(!s.has_transmits(), "no ping while the peer is heard");
    s.handle_timeout(t(50));
    assert_eq!(
        s.poll_transmit(t(50)),
        Some(Transmit::Ping),
        "quiet since 40"
    );
}

/// Evidence short of a message keeps the keepalive content, but without
/// it a peer is judged as before, even while bytes wait for it (its ping
/// behind them): a vanished peer whose bytes our own buffers take is
/// given up on at the keepalive's timeout. A ping that waits is not
/// queued twice.
#[test]
fn without_evidence_a_peer_with_bytes_waiting_is_still_given_up_on() {
    let (mut s, query) = subscribed(brisk_keepalive());
    s.handle_timeout(t(10));
    assert_eq!(s.poll_transmit(t(10)), Some(Transmit::Ping));
    // Records trickle in and the transport takes them into its buffers:
    // progress for the stall check, no word from the peer.
    for at in [11, 13] {
        s.send_record(query, &sample_record(), t(at)).expect("room");
        assert!(s.poll_transmit(t(at)).is_some());
        s.set_transport_backlog(TransportBacklog::Draining, t(at));
        s.handle_timeout(t(at));
    }
    s.handle_timeout(t(15));
    assert_eq!(
        s.closed().map(|c| c.cause.clone()),
        Some(CloseCause::PeerUnresponsive)
    );
    // A ping that waits unsent, then evidence, then quiet again: one ping.
    let (mut s, query) = subscribed(brisk_keepalive());
    s.send_record(query, &sample_record(), t(0)).expect("room");
    s.handle_timeout(t(10));
    let one_ping = s.queued_bytes();
    s.handle_transport_activity(t(12));
    s.handle_timeout(t(22));
    assert_eq!(s.queued_bytes(), one_ping, "one ping waits, not two");
    assert_eq!(s.poll_transmit(t(23)), Some(Transmit::Ping));
}

/// A server with a keepalive pinging after 10 s and giving up 5 s later.
fn brisk_keepalive() -> ServerConfig {
    ServerConfig {
        idle_timeout: None,
        keepalive: Some(KeepaliveConfig {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        }),
        ..ServerConfig::default()
    }
}

/// A server session with `config` whose client has subscribed (id 1, no
/// limit), the subscription taken by the application.
fn subscribed(config: ServerConfig) -> (ServerSession, QueryRef) {
    let mut s = ServerSession::new(config, t(0));
    s.handle_binary(subscribe_msg(1, 0), t(0));
    let Some(ServerEvent::Subscribe { query, .. }) = s.poll_event() else {
        panic!("expected a subscription");
    };
    (s, query)
}

/// A client that takes a large message slowly, a frame at a time, is
/// making progress: the transport says so, and the stall clock moves on.
#[test]
fn a_client_taking_a_message_slowly_is_not_stalled() {
    let (mut s, query) = subscribed(ServerConfig {
        stall_timeout: Duration::from_secs(30),
        keepalive: None,
        idle_timeout: None,
        ..ServerConfig::default()
    });
    s.send_record(query, &sample_record(), t(1)).expect("room");
    assert!(s.poll_transmit(t(1)).is_some());
    for at in (20..300).step_by(20) {
        s.set_transport_backlog(TransportBacklog::Draining, t(at));
        if s.poll_timeout().is_some_and(|d| d <= t(at)) {
            s.handle_timeout(t(at));
        }
        assert!(s.closed().is_none(), "open at {at} s");
    }
    // Then it stops taking anything.
    s.set_transport_backlog(TransportBacklog::Waiting, t(300));
    assert_eq!(
        s.poll_timeout(),
        Some(t(310)),
        "30 s after the last progress"
    );
}

#[test]
fn a_client_that_stops_reading_is_closed_and_its_queue_bounded() {
    let config = ServerConfig {
        // Four 232-byte Record messages fit, each entry counting 64 bytes more.
        max_outbound_bytes: 4 * (232 + 64),
        stall_timeout: Duration::from_secs(30),
        keepalive: None,
        idle_timeout: None,
        ..ServerConfig::default()
    };
    let (mut s, query) = subscribed(config);
    let r = sample_record(); // 224 bytes + 8
    for _ in 0..4 {
        s.send_record(query, &r, t(1)).expect("room");
    }
    assert!(matches!(
        s.send_record(query, &r, t(1)),
        Err(SessionError::QueueFull { max: 1184, .. })
    ));
    assert!(s.queued_bytes() <= 1184);
    assert!(!s.wants_input());
    assert_eq!(s.poll_timeout(), Some(t(31)));
    s.handle_timeout(t(31));
    let closed = s.closed().expect("stalled");
    assert_eq!(closed.cause, CloseCause::PeerNotReading);
    assert_eq!(closed.code, CloseCode::POLICY_VIOLATION);
    assert!(matches!(
        s.send_record(query, &r, t(32)),
        Err(SessionError::Closed(_))
    ));
}

/// The transport took every queued record but could not hand them on, and
/// the client keeps pinging: the keepalive is content, but the stall check
/// sees the transport's backlog and closes.
#[test]
fn a_client_that_stops_reading_after_the_transport_took_everything_is_closed() {
    let config = ServerConfig {
        stall_timeout: Duration::from_secs(30),
        idle_timeout: None,
        ..ServerConfig::default()
    };
    let (mut s, query) = subscribed(config);
    s.send_record(query, &sample_record(), t(1)).expect("room");
    assert!(matches!(
        s.poll_transmit(t(1)),
        Some(Transmit::Record { .. })
    ));
    s.set_transport_backlog(TransportBacklog::Waiting, t(1));
    for at in (5..31).step_by(5) {
        s.handle_ping_or_pong(t(at));
        if s.poll_timeout().is_some_and(|d| d <= t(at)) {
            s.handle_timeout(t(at));
        }
        s.set_transport_backlog(TransportBacklog::Waiting, t(at));
        assert!(s.closed().is_none(), "open at {at} s");
    }
    assert_eq!(s.poll_timeout(), Some(t(31)), "30 s after the take");
    s.handle_timeout(t(31));
    let closed = s.closed().expect("stalled");
    assert_eq!(closed.cause, CloseCause::PeerNotReading);
    assert_eq!(closed.code, CloseCode::POLICY_VIOLATION);

    // Had the transport handed the record on, nothing would be waiting.
    let (mut s, query) = subscribed(config);
    s.send_record(query, &sample_record(), t(1)).expect("room");
    assert!(s.poll_transmit(t(1)).is_some());
    s.set_transport_backlog(TransportBacklog::Waiting, t(1));
    s.set_transport_backlog(TransportBacklog::Empty, t(2));
    s.handle_ping_or_pong(t(20));
    assert!(s.poll_timeout().is_none_or(|d| d > t(31)));
}

#[test]
fn input_stops_while_the_application_lags() {
    let mut s = ServerSession::new(
        ServerConfig {
            max_pending_events: 2,
            ..ServerConfig::default()
        },
        t(0),
    );
    s.handle_binary(query_msg(1), t(0));
    assert!(s.wants_input());
    s.handle_binary(query_msg(2), t(0));
    assert!(!s.wants_input());
    s.poll_event();
    assert!(s.wants_input());
}

/// Events count by the message bytes they hold too: 64 waiting submissions
/// of the largest record would hold 64 MiB.
#[test]
fn server_input_stops_while_pending_events_hold_too_many_bytes() {
    let mut s = ServerSession::new(
        ServerConfig {
            max_pending_event_bytes: 2 * 1024,
            ..ServerConfig::default()
        },
        t(0),
    );
    let submission = |at: u64| {
        let record = record_with(&[], &[7; 1500], 0x1_0000 * (at + 1));
        ClientMessage::Submission { record }.to_bytes()
    };
    s.handle_binary(submission(0), t(0));
    assert!(s.wants_input(), "below the limit");
    s.handle_binary(submission(1), t(0));
    assert!(!s.wants_input(), "two records pass 2 KiB");
    assert!(matches!(
        s.poll_event(),
        Some(ServerEvent::Submission { .. })
    ));
    assert!(s.wants_input(), "taken events no longer count");
    assert!(s.poll_event().is_some());
    // References count as well, and one message is always taken whatever
    // its size: 43 references, 2,064 bytes.
    let refs: Vec<Reference> = (0..43u8)
        .map(|i| Reference::Id(record_with(&[], &[i], 0x1_0000).id()))
        .collect();
    let references = References::from_refs(&refs).expect("fits");
    let get = ClientMessage::Get {
        query_id: QueryId(1),
        references,
    };
    s.handle_binary(get.to_bytes(), t(0));
    assert!(!s.wants_input(), "2,064 bytes of references");
    assert!(matches!(s.poll_event(), Some(ServerEvent::Get { .. })));
    assert!(s.wants_input());

    // A limit of 0 still takes one message at a time.
    let mut s = ServerSession::new(
        ServerConfig {
            max_pending_event_bytes: 0,
            ..ServerConfig::default()
        },
        t(0),
    );
    assert!(s.wants_input());
    s.handle_binary(submission(0), t(0));
    assert!(!s.wants_input());
    assert!(s.poll_event().is_some());
    assert!(s.wants_input());
}

/// A client whose pending answers may hold 2 KiB.
fn client_holding_2_kib() -> ClientSession {
    ClientSession::new(
        ClientConfig {
            keepalive: None,
            max_pending_event_bytes: 2 * 1024,
            ..ClientConfig::default()
        },
        t(0),
    )
}

/// A Record message answering `query_id` with a 1.5 KiB record: two of
/// them pass [`client_holding_2_kib`]'s limit.
fn answer_of_1500_bytes(query_id: QueryId) -> ServerMessage {
    ServerMessage::Record {
        query_id,
        record: record_with(&[], &[7; 1500], 0x1_0000),
    }
}

#[test]
fn client_input_stops_while_pending_records_hold_too_many_bytes() {
    let mut c = client_holding_2_kib();
    let id = c.query(author_filter(), 0, t(0)).expect("id");
    let big = answer_of_1500_bytes(id);
    c.handle_binary(big.to_bytes(), t(0));
    assert!(c.wants_input(), "below the limit");
    c.handle_binary(big.to_bytes(), t(0));
    assert!(!c.wants_input(), "two records pass 2 KiB");
    assert!(matches!(c.poll_event(), Some(ClientEvent::Record { .. })));
    assert!(c.wants_input());
    assert!(c.poll_event_where(|e| e.query_id() == Some(id)).is_some());
    c.handle_binary(big.to_bytes(), t(0));
    c.handle_binary(big.to_bytes(), t(0));
    assert!(!c.wants_input());
    c.abandon_query(id, t(0));
    assert!(c.wants_input(), "abandoned answers no longer count");

    // A limit of 0 still takes one record at a time.
    let mut c = ClientSession::new(
        ClientConfig {
            keepalive: None,
            max_pending_event_bytes: 0,
            ..ClientConfig::default()
        },
        t(0),
    );
    let id = c.query(author_filter(), 0, t(0)).expect("id");
    assert!(c.wants_input());
    c.handle_binary(answer_of_1500_bytes(id).to_bytes(), t(0));
    assert!(!c.wants_input());
    assert!(c.poll_event().is_some());
    assert!(c.wants_input());
}

#[test]
fn shutdown_closes_every_open_query_then_the_connection() {
    let mut s = no_keepalive_server();
    s.handle_binary(subscribe_msg(1, 0), t(0));
    s.handle_binary(query_msg(2), t(0));
    s.shutdown(t(0));
    let sent = sent_by_server(&mut s);
    assert_eq!(sent.len(), 3);
    assert!(sent.contains(&closed_query(1, QueryClosedCode::ShuttingDown)));
    assert!(sent.contains(&closed_query(2, QueryClosedCode::ShuttingDown)));
    assert_eq!(
        sent[2],
        Err((CloseCode::GOING_AWAY, "server shutting down".to_owned()))
    );
    assert_eq!(
        s.closed().map(|c| c.cause.clone()),
        Some(CloseCause::Shutdown)
    );
}

fn client() -> ClientSession {
    ClientSession::new(
        ClientConfig {
            keepalive: None,
            ..ClientConfig::default()
        },
        t(0),
    )
}

fn sent_by_client(c: &mut ClientSession) -> Vec<ClientMessage> {
    let mut out = Vec::new();
    while let Some(t) = c.poll_transmit(t(0)) {
        if let Some(bytes) = t.contiguous() {
            out.push(ClientMessage::decode(bytes, &Default::default()).expect("valid"));
        }
    }
    out
}

fn from_server(c: &mut ClientSession, message: ServerMessage) -> Option<ClientEvent> {
    c.handle_binary(message.to_bytes(), t(0));
    c.poll_event()
}

#[test]
fn client_ids_are_never_reused_while_open() {
    let mut c = ClientSession::new(
        ClientConfig {
            max_open_queries: 3,
            ..ClientConfig::default()
        },
        t(0),
    );
    let a = c.query(author_filter(), 0, t(0)).expect("id");
    let b = c.subscribe(author_filter(), 0, t(0)).expect("id");
    let d = c.get(References::default(), t(0)).expect("id");
    assert_eq!((a, b, d), (QueryId(0), QueryId(1), QueryId(2)));
    assert_eq!(
        c.query(author_filter(), 0, t(0)),
        Err(SessionError::TooManyOpenQueries { max: 3 })
    );
    from_server(
        &mut c,
        ServerMessage::QueryClosed {
            query_id: b,
            code: QueryClosedCode::OnRequest,
        },
    );
    // Wrap all the way round: ids 0 and 2 are still open and are skipped.
    for _ in 0..u16::MAX as usize - 2 {
        let id = c.get(References::default(), t(0)).expect("id");
        assert!(id != a && id != d);
        while c.poll_transmit(t(0)).is_some() {}
        from_server(
            &mut c,
            ServerMessage::QueryClosed {
                query_id: id,
                code: QueryClosedCode::OnRequest,
            },
        );
    }
    let next = c.get(References::default(), t(0)).expect("id");
    assert_eq!(next, QueryId(1));
}

#[test]
fn answers_are_routed_to_their_queries() {
    let mut c = client();
    let q = c.subscribe(author_filter(), 0, t(0)).expect("id");
    let record = sample_record();
    assert_eq!(
        from_server(
            &mut c,
            ServerMessage::Record {
                query_id: q,
                record: record.clone()
            }
        ),
        Some(ClientEvent::Record {
            query_id: q,
            record: record.clone()
        })
    );
    assert_eq!(
        from_server(&mut c, ServerMessage::LocallyComplete { query_id: q }),
        Some(ClientEvent::LocallyComplete { query_id: q })
    );
    assert_eq!(
        from_server(&mut c, ServerMessage::LocallyComplete { query_id: q }),
        Some(ClientEvent::Ignored(Ignored::UnexpectedLocallyComplete(q)))
    );
    c.unsubscribe(q, t(0)).expect("open");
    assert_eq!(
        sent_by_client(&mut c).last(),
        Some(&ClientMessage::Unsubscribe { query_id: q })
    );
    assert_eq!(
        from_server(
            &mut c,
            ServerMessage::QueryClosed {
                query_id: q,
                code: QueryClosedCode::OnRequest
            }
        ),
        Some(ClientEvent::QueryClosed {
            query_id: q,
            code: QueryClosedCode::OnRequest
        })
    );
    let late = ServerMessage::Record {
        query_id: q,
        record,
    };
    assert_eq!(
        from_server(&mut c, late.clone()),
        Some(ClientEvent::Ignored(Ignored::UnknownQuery(late)))
    );
    assert!(c.closed().is_none(), "unexpected messages are ignored");
}

#[test]
fn records_that_do_not_answer_are_ignored() {
    let mut c = client();
    let record = sample_record();
    let other_author = Filter::builder()
        .author_keys(&[[9; 32]])
        .build()
        .expect("fits");
    let q = c.query(other_author, 0, t(0)).expect("id");
    assert!(matches!(
        from_server(
            &mut c,
            ServerMessage::Record {
                query_id: q,
                record: record.clone()
            }
        ),
        Some(ClientEvent::Ignored(Ignored::NotAnAnswer { .. }))
    ));
    // A Get answers only its references.
    let g = c
        .get(
            References::from_refs(&[Reference::Id(record.id())]).expect("one"),
            t(0),
        )
        .expect("id");
    assert!(matches!(
        from_server(
            &mut c,
            ServerMessage::Record {
                query_id: g,
                record: record.clone()
            }
        ),
        Some(ClientEvent::Record { .. })
    ));
    let other = record_with(&[Tag::new(1, b"x").expect("tag")], b"", 0x5_0000);
    assert!(matches!(
        from_server(
            &mut c,
            ServerMessage::Record {
                query_id: g,
                record: other
            }
        ),
        Some(ClientEvent::Ignored(Ignored::NotAnAnswer { .. }))
    ));
    // A limit of 1 lets one record through.
    let l = c.query(author_filter(), 1, t(0)).expect("id");
    assert!(matches!(
        from_server(
            &mut c,
            ServerMessage::Record {
                query_id: l,
                record: record.clone()
            }
        ),
        Some(ClientEvent::Record { .. })
    ));
    assert!(matches!(
        from_server(
            &mut c,
            ServerMessage::Record {
                query_id: l,
                record
            }
        ),
        Some(ClientEvent::Ignored(Ignored::NotAnAnswer { .. }))
    ));
}

#[test]
fn submission_results_match_by_prefix() {
    let mut c = client();
    let record = sample_record();
    let prefix = c.submit(record.clone(), t(0)).expect("queued");
    assert_eq!(prefix, record.id_prefix());
    assert_eq!(c.pending_submissions().collect::<Vec<_>>(), [prefix]);
    let stray = ServerMessage::SubmissionResult {
        code: SubmissionResultCode::Ok,
        id_prefix: IdPrefix([1; 32]),
    };
    assert_eq!(
        from_server(&mut c, stray.clone()),
        Some(ClientEvent::Ignored(Ignored::UnknownSubmission(stray)))
    );
    assert_eq!(
        from_server(
            &mut c,
            ServerMessage::SubmissionResult {
                code: SubmissionResultCode::Duplicate,
                id_prefix: prefix
            }
        ),
        Some(ClientEvent::SubmissionResult {
            id_prefix: prefix,
            code: SubmissionResultCode::Duplicate
        })
    );
    assert_eq!(c.pending_submissions().count(), 0);
}

#[test]
fn a_client_ignores_unknown_server_types_and_closes_on_violations() {
    let mut c = client();
    c.handle_binary(Bytes::from_static(&[0x9f, 4, 0, 0]), t(0));
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::Ignored(Ignored::UnknownType(_)))
    ));
    assert!(c.closed().is_none());
    c.handle_binary(
        ClientMessage::Unsubscribe {
            query_id: QueryId(0),
        }
        .to_bytes(),
        t(0),
    );
    assert_eq!(c.closed().map(|x| x.code), Some(CloseCode::PROTOCOL_ERROR));
    let mut c = client();
    c.handle_text(t(0));
    assert_eq!(
        c.closed().map(|x| x.code),
        Some(CloseCode::UNSUPPORTED_DATA)
    );
    let mut c = client();
    c.handle_peer_close(Some(CloseCode::GOING_AWAY), "bye");
    let closed = c.closed().expect("closed").clone();
    assert_eq!(
        (closed.code, closed.cause),
        (CloseCode::GOING_AWAY, CloseCause::Peer)
    );
    assert!(matches!(
        c.query(author_filter(), 0, t(0)),
        Err(SessionError::Closed(_))
    ));
    assert_eq!(
        c.poll_transmit(t(0)),
        None,
        "nothing is sent after the peer closed"
    );
}

#[test]
fn a_client_and_a_server_session_talk() {
    let mut c = client();
    let mut s = no_keepalive_server();
    let record = record_with(&[], b"payload", 0x7_0000);
    let q = c.subscribe(author_filter(), 10, t(0)).expect("id");
    let prefix = c.submit(record.clone(), t(0)).expect("queued");
    while let Some(t) = c.poll_transmit(t(0)) {
        s.handle_binary(t.contiguous().expect("message"), self::t(0));
    }
    let mut query = None;
    while let Some(event) = s.poll_event() {
        match event {
            ServerEvent::Subscribe { query: q, .. } => query = Some(q),
            ServerEvent::Submission {
                submission,
                record: r,
            } => {
                assert!(
                    Filter::builder()
                        .author_keys(&[[0x33; 32]])
                        .build()
                        .expect("f")
                        .matches(&r, Timestamp::ZERO)
                );
                s.submission_result(submission, SubmissionResultCode::Ok, t(0))
                    .expect("pending");
                s.send_record(query.expect("subscribed first"), &r, t(0))
                    .expect("open");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    s.locally_complete(query.expect("subscribed"), t(0))
        .expect("subscription");
    while let Some(t) = s.poll_transmit(t(0)) {
        c.handle_binary(t.contiguous().expect("message"), self::t(0));
    }
    let events: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(
        events,
        [
            ClientEvent::SubmissionResult {
                id_prefix: prefix,
                code: SubmissionResultCode::Ok
            },
            ClientEvent::Record {
                query_id: q,
                record
            },
            ClientEvent::LocallyComplete { query_id: q },
        ]
    );
}

#[test]
fn an_oversize_message_refused_by_the_websocket_layer_closes_with_1009() {
    for session in [
        &mut no_keepalive_server() as &mut dyn Session,
        &mut client(),
    ] {
        session.handle_oversize(2_000_000, 1_048_584, t(0));
        let closed = session.closed().expect("closed").clone();
        assert_eq!(closed.code, CloseCode::MESSAGE_TOO_BIG);
        assert!(matches!(closed.cause, CloseCause::Violation(_)));
        assert!(!session.wants_input());
        assert!(matches!(
            session.poll_transmit(t(0)),
            Some(Transmit::Close {
                code: CloseCode::MESSAGE_TOO_BIG,
                ..
            })
        ));
    }
}

#[test]
fn abandoned_queries_drop_their_answers_and_unsubscribe() {
    let mut c = client();
    let q = c.query(author_filter(), 0, t(0)).expect("id");
    let s = c.subscribe(author_filter(), 0, t(0)).expect("id");
    sent_by_client(&mut c);
    let record = sample_record();
    c.handle_binary(
        ServerMessage::Record {
            query_id: q,
            record: record.clone(),
        }
        .to_bytes(),
        t(0),
    );
    c.handle_binary(
        ServerMessage::Record {
            query_id: s,
            record: record.clone(),
        }
        .to_bytes(),
        t(0),
    );
    c.abandon_query(s, t(0));
    assert_eq!(
        sent_by_client(&mut c),
        [ClientMessage::Unsubscribe { query_id: s }]
    );
    assert_eq!(
        c.poll_event_where(|e| e.query_id() == Some(s)),
        None,
        "queued answers of the abandoned query are gone"
    );
    c.handle_binary(
        ServerMessage::Record {
            query_id: s,
            record: record.clone(),
        }
        .to_bytes(),
        t(0),
    );
    c.handle_binary(
        ServerMessage::QueryClosed {
            query_id: s,
            code: QueryClosedCode::OnRequest,
        }
        .to_bytes(),
        t(0),
    );
    assert_eq!(c.open_queries().collect::<Vec<_>>(), [q]);
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Record {
            query_id: q,
            record
        })
    );
    assert_eq!(c.poll_event(), None);
}

#[test]
fn events_are_taken_per_query_in_order() {
    let mut c = client();
    let a = c.query(author_filter(), 0, t(0)).expect("id");
    let b = c.query(author_filter(), 0, t(0)).expect("id");
    for id in [a, b, a] {
        c.handle_binary(
            ServerMessage::QueryClosed {
                query_id: id,
                code: QueryClosedCode::OnRequest,
            }
            .to_bytes(),
            t(0),
        );
    }
    assert!(
        matches!(c.poll_event_where(|e| e.query_id() == Some(b)), Some(ClientEvent::QueryClosed { query_id, .. }) if query_id == b)
    );
    assert!(
        matches!(c.poll_event_where(|e| e.query_id() == Some(a)), Some(ClientEvent::QueryClosed { query_id, .. }) if query_id == a)
    );
    // The third close is for a query no longer open: ignored.
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::Ignored(Ignored::UnknownQuery(_)))
    ));
}

#[test]
fn ignored_events_are_capped() {
    let mut c = client();
    for _ in 0..40 {
        c.handle_binary(Bytes::from_static(&[0x9f, 4, 0, 0]), t(0));
    }
    assert_eq!(std::iter::from_fn(|| c.poll_event()).count(), 16);
    assert_eq!(c.ignored_dropped(), 24);
    assert!(c.closed().is_none());
}

/// Ignored records may be kept for the connection's life (an application
/// need not read them), so they hold none of the buffer they came in.
#[test]
fn ignored_records_hold_none_of_the_buffer_they_came_in() {
    let mut c = client();
    let other_author = Filter::builder()
        .author_keys(&[[9; 32]])
        .build()
        .expect("fits");
    let open = c.query(other_author, 0, t(0)).expect("id");
    let record = sample_record();
    for query_id in [QueryId(77), open] {
        let message = ServerMessage::Record {
            query_id,
            record: record.clone(),
        }
        .to_bytes();
        let mut read_buffer = bytes::BytesMut::with_capacity(64 * 1024);
        read_buffer.extend_from_slice(&message);
        read_buffer.extend_from_slice(&[0; 1000]);
        let read_buffer = read_buffer.freeze();
        c.handle_binary(read_buffer.slice(..message.len()), t(0));
        assert!(read_buffer.is_unique(), "{query_id:?}");
    }
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::Ignored(Ignored::UnknownQuery(
            ServerMessage::Record { .. }
        )))
    ));
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::Ignored(Ignored::NotAnAnswer { record: r, .. })) if r == record
    ));
}

/// A record names itself: a Get answered with the same record again gets
/// nothing more (a server repeating it without end would fill an
/// application collecting the answers).
#[test]
fn a_get_takes_each_record_once() {
    let mut c = client();
    let record = sample_record();
    let g = c
        .get(
            References::from_refs(&[Reference::Id(record.id())]).expect("one"),
            t(0),
        )
        .expect("id");
    let answer = ServerMessage::Record {
        query_id: g,
        record: record.clone(),
    };
    assert!(matches!(
        from_server(&mut c, answer.clone()),
        Some(ClientEvent::Record { .. })
    ));
    for _ in 0..3 {
        assert!(matches!(
            from_server(&mut c, answer.clone()),
            Some(ClientEvent::Ignored(Ignored::NotAnAnswer { .. }))
        ));
    }
}

/// A Get of an address may have many versions: each is taken once, the
/// first inline and the later ones in the set.
#[test]
fn a_get_of_an_address_takes_each_version_once() {
    let mut c = client();
    let versions: Vec<Record> = (1..=3).map(|i| record_with(&[], b"v", i << 16)).collect();
    let address = versions[0].address();
    assert!(versions.iter().all(|v| v.address() == address));
    let g = c
        .get(
            References::from_refs(&[Reference::Address(address)]).expect("one"),
            t(0),
        )
        .expect("id");
    let answer = |record: &Record| ServerMessage::Record {
        query_id: g,
        record: record.clone(),
    };
    for (i, version) in versions.iter().enumerate() {
        assert!(
            matches!(
                from_server(&mut c, answer(version)),
                Some(ClientEvent::Record { .. })
            ),
            "version {i}"
        );
        for (j, seen) in versions[..=i].iter().enumerate() {
            assert!(
                matches!(
                    from_server(&mut c, answer(seen)),
                    Some(ClientEvent::Ignored(Ignored::NotAnAnswer { .. }))
                ),
                "version {j} again after {i}"
            );
        }
    }
}

/// The IDs a Get notes are bounded: as many as its references and
/// `MAX_VERSIONS_NOTED` more, in all. Past that, a server's new versions are
/// still taken but not noted, and the repeats of those noted are still
/// refused.
#[test]
fn a_get_notes_a_bounded_number_of_versions() {
    let version = |i: u64| record_with(&[], b"v", i << 16);
    let address = version(1).address();
    let other = record_with(&[], b"other", 7 << 16);
    for references in [
        vec![Reference::Address(address)],
        vec![Reference::Address(address), Reference::Id(other.id())],
    ] {
        let mut c = client();
        let count = references.len();
        let g = c
            .get(References::from_refs(&references).expect("refs"), t(0))
            .expect("id");
        let answer = |record: Record| ServerMessage::Record {
            query_id: g,
            record,
        };
        let most = (count + super::client::MAX_VERSIONS_NOTED) as u64;
        for i in 1..=most + 5 {
            assert!(
                matches!(
                    from_server(&mut c, answer(version(i))),
                    Some(ClientEvent::Record { .. })
                ),
                "{count} references: version {i}"
            );
        }
        assert_eq!(c.ids_noted(g), most as usize, "{count} references");
        for i in [1, 2, most / 2, most] {
            assert!(
                matches!(
                    from_server(&mut c, answer(version(i))),
                    Some(ClientEvent::Ignored(Ignored::NotAnAnswer { .. }))
                ),
                "{count} references: version {i} again"
            );
        }
        // Not noted, so not known as a repeat.
        assert!(matches!(
            from_server(&mut c, answer(version(most + 1))),
            Some(ClientEvent::Record { .. })
        ));
        assert_eq!(c.ids_noted(g), most as usize, "{count} references");
    }
}

/// An abandoned Get drops what comes for it unlooked-at: a server sending
/// new versions of its address without end adds nothing to the IDs it noted.
#[test]
fn an_abandoned_get_notes_no_more_ids() {
    let mut c = client();
    let version = |i: u64| record_with(&[], b"v", i << 16);
    let address = version(1).address();
    let g = c
        .get(
            References::from_refs(&[Reference::Address(address)]).expect("one"),
            t(0),
        )
        .expect("id");
    let answer = |record: Record| ServerMessage::Record {
        query_id: g,
        record,
    };
    for i in 1..=3 {
        assert!(from_server(&mut c, answer(version(i))).is_some());
    }
    assert_eq!(c.ids_noted(g), 3);
    c.abandon_query(g, t(0));
    assert_eq!(c.ids_noted(g), 0);
    for i in 4..=100 {
        assert_eq!(from_server(&mut c, answer(version(i))), None, "version {i}");
    }
    assert_eq!(c.ids_noted(g), 0);
    assert!(c.wants_input());
}

/// Records for no open query (or that answer nothing) are the server's doing:
/// however large, they never stop input, which would stall every query of an
/// application that does not read ignored events; their own bounds hold.
#[test]
fn ignored_records_never_stop_input() {
    let mut c = client();
    let unknown = |id: u16| ServerMessage::Record {
        query_id: QueryId(id),
        record: record_with(&[], &vec![7; 300 << 10], 0x1_0000),
    };
    // Five of 300 KiB: more than the 256 KiB pending answers may hold.
    for id in 900..905 {
        c.handle_binary(unknown(id).to_bytes(), t(0));
        assert!(c.wants_input(), "ignored record {id}");
        assert_eq!(c.poll_timeout(), None, "keepalive is off here");
    }
    // At most 1 MiB of them is kept: the newest three.
    let kept: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(kept.len(), 3);
    assert_eq!(c.ignored_dropped(), 2);
    assert!(matches!(
        &kept[0],
        ClientEvent::Ignored(Ignored::UnknownQuery(ServerMessage::Record { query_id, .. }))
            if *query_id == QueryId(902)
    ));
    // Answers still count as before, next to ignored records.
    let mut c = client_holding_2_kib();
    c.handle_binary(unknown(7).to_bytes(), t(0));
    let id = c.query(author_filter(), 0, t(0)).expect("id");
    let answer = answer_of_1500_bytes(id);
    c.handle_binary(answer.to_bytes(), t(0));
    assert!(c.wants_input(), "one answer of 1.5 KiB");
    c.handle_binary(answer.to_bytes(), t(0));
    assert!(!c.wants_input(), "two answers pass 2 KiB");
}

/// RFC 6455 7.4: 1005, 1006 and 1015 are never sent, nor are unassigned
/// codes; an application asking for one closes with 1000.
#[test]
fn a_close_code_no_frame_may_carry_goes_out_as_1000() {
    for (asked, sent) in [
        (1005, 1000),
        (1006, 1000),
        (1015, 1000),
        (999, 1000),
        (1004, 1000),
        (1014, 1000),
        (2000, 1000),
        (5000, 1000),
        (1001, 1001),
        (1011, 1011),
        (4000, 4000),
    ] {
        let mut c = client();
        c.close(CloseCode(asked), "bye", t(0));
        assert!(
            matches!(c.poll_transmit(t(0)), Some(Transmit::Close { code, .. }) if code == CloseCode(sent)),
            "{asked}"
        );
        assert_eq!(c.closed().map(|closed| closed.code), Some(CloseCode(sent)));
    }
}

#[test]
fn abandoned_submissions_drop_their_result() {
    let mut c = client();
    let record = sample_record();
    let prefix = c.submit(record, t(0)).expect("queued");
    c.abandon_submission(prefix);
    c.handle_binary(
        ServerMessage::SubmissionResult {
            code: SubmissionResultCode::Ok,
            id_prefix: prefix,
        }
        .to_bytes(),
        t(0),
    );
    assert_eq!(c.poll_event(), None);
    assert_eq!(c.pending_submissions().count(), 0);
}

#[test]
fn an_id_stays_taken_while_its_answers_wait_and_abandoning_clears_them() {
    let mut c = ClientSession::new(
        ClientConfig {
            keepalive: None,
            ..ClientConfig::default()
        },
        t(0),
    );
    let first = c.query(author_filter(), 0, t(0)).expect("id");
    c.handle_binary(
        ServerMessage::Record {
            query_id: first,
            record: sample_record(),
        }
        .to_bytes(),
        t(0),
    );
    c.handle_binary(
        ServerMessage::QueryClosed {
            query_id: first,
            code: QueryClosedCode::OnRequest,
        }
        .to_bytes(),
        t(0),
    );
    assert_eq!(c.open_queries().count(), 0, "closed on the wire");
    // Wrap the id counter round: the closed query's id is skipped while its
    // answers wait for the application.
    for _ in 0..u16::MAX {
        let id = c.get(References::default(), t(0)).expect("id");
        assert_ne!(id, first, "an id reused while its answers wait");
        while c.poll_transmit(t(0)).is_some() {}
        c.handle_binary(
            ServerMessage::QueryClosed {
                query_id: id,
                code: QueryClosedCode::OnRequest,
            }
            .to_bytes(),
            t(0),
        );
        assert!(c.poll_event_where(|e| e.query_id() == Some(id)).is_some());
    }
    // The application drops the first query's stream: its answers go, and the
    // id is free again.
    c.abandon_query(first, t(0));
    assert_eq!(c.poll_event_where(|e| e.query_id() == Some(first)), None);
    let mut reused = false;
    for _ in 0..=u16::MAX {
        let id = c.get(References::default(), t(0)).expect("id");
        while c.poll_transmit(t(0)).is_some() {}
        reused |= id == first;
        c.handle_binary(
            ServerMessage::QueryClosed {
                query_id: id,
                code: QueryClosedCode::OnRequest,
            }
            .to_bytes(),
            t(0),
        );
        c.poll_event();
    }
    assert!(reused);
}

#[test]
fn the_keepalive_waits_while_the_application_lags() {
    let config = ClientConfig {
        max_pending_events: 1,
        keepalive: Some(KeepaliveConfig {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        }),
        ..ClientConfig::default()
    };
    let mut c = ClientSession::new(config, t(0));
    let q = c.subscribe(author_filter(), 0, t(0)).expect("id");
    while c.poll_transmit(t(0)).is_some() {}
    c.handle_binary(
        ServerMessage::LocallyComplete { query_id: q }.to_bytes(),
        t(1),
    );
    assert!(!c.wants_input(), "the application has not taken its event");
    assert_eq!(c.poll_timeout(), None, "no keepalive while input is held");
    c.handle_timeout(t(100));
    assert!(
        c.closed().is_none(),
        "a lagging application is not the peer's fault"
    );
    c.poll_event();
    assert!(c.wants_input());
    assert_eq!(c.poll_timeout(), Some(t(110)));
}

#[test]
fn pings_go_ahead_of_queued_messages() {
    let (mut s, query) = subscribed(brisk_keepalive());
    s.send_record(query, &sample_record(), t(0)).expect("room");
    s.handle_timeout(t(10));
    assert_eq!(s.poll_transmit(t(10)), Some(Transmit::Ping));
}

#[test]
fn after_a_close_the_queue_still_drains_until_the_peer_stalls() {
    let config = ServerConfig {
        idle_timeout: None,
        keepalive: None,
        stall_timeout: Duration::from_secs(30),
        ..ServerConfig::default()
    };
    let (mut s, query) = subscribed(config);
    s.send_record(query, &sample_record(), t(0)).expect("room");
    s.shutdown(t(1));
    assert!(s.closed().is_some());
    assert!(s.has_transmits());
    assert_eq!(
        s.poll_timeout(),
        Some(t(30)),
        "the stall watch goes on after the close"
    );
    s.handle_timeout(t(30));
    assert!(!s.has_transmits(), "a stalled peer gets nothing more");
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn idle_time_counts_from_the_end_of_the_last_query() {
    let config = ServerConfig {
        idle_timeout: Some(Duration::from_secs(60)),
        keepalive: None,
        ..ServerConfig::default()
    };
    let mut s = ServerSession::new(config, t(0));
    s.handle_binary(query_msg(1), t(0));
    let Some(ServerEvent::Query { query, .. }) = s.poll_event() else {
        panic!("expected a query");
    };
    s.close_query(query, QueryClosedCode::OnRequest, t(100))
        .expect("open");
    while s.poll_transmit(t(100)).is_some() {}
    assert_eq!(s.poll_timeout(), Some(t(160)));
    s.handle_timeout(t(101));
    assert!(s.closed().is_none());
}

#[test]
fn a_query_takes_its_answers_in_one_batch_leaving_the_others() {
    let mut c = client();
    let a = c.query(author_filter(), 0, t(0)).expect("id");
    let b = c.query(author_filter(), 0, t(0)).expect("id");
    let record = sample_record();
    for id in [a, b, a] {
        c.handle_binary(
            ServerMessage::Record {
                query_id: id,
                record: record.clone(),
            }
            .to_bytes(),
            t(0),
        );
    }
    c.handle_binary(
        ServerMessage::QueryClosed {
            query_id: a,
            code: QueryClosedCode::OnRequest,
        }
        .to_bytes(),
        t(0),
    );
    let mut taken = std::collections::VecDeque::new();
    assert_eq!(c.take_events_for(a, &mut taken), 3);
    assert!(matches!(
        taken.back(),
        Some(ClientEvent::QueryClosed { .. })
    ));
    assert!(taken.iter().all(|e| e.query_id() == Some(a)));
    assert_eq!(c.take_events_for(a, &mut taken), 0);
    assert!(matches!(c.poll_event(), Some(ClientEvent::Record { query_id, .. }) if query_id == b));
    assert_eq!(c.poll_event(), None);
    assert!(c.wants_input());
}

#[test]
fn a_lone_query_takes_its_whole_queue_and_later_batches_append_in_order() {
    let mut c = client();
    let a = c.query(author_filter(), 0, t(0)).expect("id");
    let records: Vec<crate::Record> = (0..3)
        .map(|i| {
            record_with(
                &[Tag::new(1, b"abc").expect("tag")],
                b"hello",
                0x1_0000 * (i + 1),
            )
        })
        .collect();
    let deliver = |c: &mut ClientSession, record: &crate::Record| {
        c.handle_binary(
            ServerMessage::Record {
                query_id: a,
                record: record.clone(),
            }
            .to_bytes(),
            t(0),
        )
    };
    let mut taken = std::collections::VecDeque::new();
    deliver(&mut c, &records[0]);
    deliver(&mut c, &records[1]);
    // The consumer holds nothing: the queue is handed over whole.
    assert_eq!(c.take_events_for(a, &mut taken), 2);
    assert_eq!(c.poll_event(), None);
    // The consumer still holds one: the next batch goes behind it.
    taken.pop_front();
    deliver(&mut c, &records[2]);
    assert_eq!(c.take_events_for(a, &mut taken), 1);
    let order: Vec<crate::Record> = taken
        .into_iter()
        .map(|e| match e {
            ClientEvent::Record { record, .. } => record,
            other => panic!("expected a record, got {other:?}"),
        })
        .collect();
    assert_eq!(order, records[1..]);
    // Nothing is counted as held once taken: the session reads on.
    assert!(c.wants_input());
}

#[test]
fn abandoning_one_of_two_identical_submissions_leaves_the_other_its_result() {
    let mut c = client();
    let record = sample_record();
    let prefix = c.submit(record.clone(), t(0)).expect("queued");
    c.submit(record, t(0)).expect("queued");
    let result = ServerMessage::SubmissionResult {
        code: SubmissionResultCode::Ok,
        id_prefix: prefix,
    };
    c.handle_binary(result.to_bytes(), t(0));
    // One waiter gives up: the queued result stays for the other.
    c.abandon_submission(prefix);
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::SubmissionResult {
            code: SubmissionResultCode::Ok,
            ..
        })
    ));
    // The abandoned one's result is dropped when it comes.
    c.handle_binary(result.to_bytes(), t(0));
    assert_eq!(c.poll_event(), None);
    assert_eq!(c.pending_submissions().count(), 0);
}

/// Extension messages wait for the application's receiver and count against
/// the pending-event limit; once it stops receiving, those queued and later
/// ones are dropped (and counted), so that input goes on for the queries.
#[test]
fn a_client_that_stops_receiving_drops_extension_and_ignored_events() {
    let mut c = ClientSession::new(
        ClientConfig {
            keepalive: None,
            max_pending_events: 2,
            decode: crate::DecodeOptions::default().with_extensions(crate::ExtensionTypes::sync()),
            ..ClientConfig::default()
        },
        t(0),
    );
    let extension = || {
        let message = crate::ServerExtension::new(0x91, Bytes::from_static(&[0; 8]));
        ServerMessage::Extension(message.expect("a sync type")).to_bytes()
    };
    c.handle_binary(extension(), t(0));
    c.handle_binary(extension(), t(0));
    assert!(!c.wants_input(), "two unread extension messages stop input");

    c.stop_receiving();
    assert!(c.wants_input());
    assert_eq!(c.poll_event(), None);
    assert_eq!(c.ignored_dropped(), 2);
    let a = c.query(author_filter(), 0, t(0)).expect("id");
    for _ in 0..5 {
        c.handle_binary(extension(), t(0));
    }
    // A record for no open query: ignored, and dropped too.
    let stray = ServerMessage::Record {
        query_id: QueryId(a.0.wrapping_add(1)),
        record: sample_record(),
    };
    c.handle_binary(stray.to_bytes(), t(0));
    assert!(c.wants_input());
    assert_eq!(c.ignored_dropped(), 8);
    // The query's answers still come.
    let answer = ServerMessage::Record {
        query_id: a,
        record: sample_record(),
    };
    c.handle_binary(answer.to_bytes(), t(0));
    assert!(matches!(c.poll_event(), Some(ClientEvent::Record { query_id, .. }) if query_id == a));
}
