//! Fuzzes the server session with a sequence of client messages (and text
//! messages, pings, time passing, peer closes) interleaved with the answers an
//! application gives. Any panic is a defect; and whatever the client sends:
//! every byte the session asks to send is a valid server message, the
//! outbound queue and open queries stay within their limits, and nothing is
//! sent after the close.

#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use mosaic_proto::session::{ServerConfig, ServerEvent, ServerSession, Transmit, TransportBacklog};
use mosaic_proto::{
    CloseCode, DecodeOptions, ExtensionTypes, QueryClosedCode, ServerMessage,
    SubmissionResultCode,
};

#[derive(Arbitrary, Debug)]
enum Input {
    /// A binary WebSocket message from the client.
    Binary(Vec<u8>),
    /// A well-formed message header followed by arbitrary body bytes.
    Framed { ty: u8, head: [u8; 4], body: Vec<u8> },
    Text,
    Ping,
    PeerClose(u16),
    /// Time passes, in seconds.
    Wait(u8),
    /// The application answers the oldest event it has: records, locally
    /// complete, a close code, a submission result.
    Answer { records: u8, code: u8, complete: bool },
    /// The transport takes this many transmits.
    Drain(u8),
    /// The transport says what it holds of what it took: nothing, bytes it
    /// is handing on, or bytes that wait.
    Backlog(u8),
    /// The transport moved bytes with the peer that made no whole message.
    Activity,
    Shutdown,
}

mod common;

/// The sessions' stall timeout.
const STALL: Duration = Duration::from_secs(7);

fn record(n: u8) -> mosaic_proto::Record {
    common::record(n, 40)
}

fn check_transmit(transmit: Transmit, closed_sent: &mut bool) {
    let options = DecodeOptions::default().with_extensions(ExtensionTypes::sync());
    common::check_transmit(transmit, closed_sent, |bytes| {
        ServerMessage::decode(bytes, &options).map(drop)
    });
}

fuzz_target!(|inputs: Vec<Input>| {
    let t0 = Instant::now();
    let mut now = t0;
    let config = ServerConfig {
        decode: DecodeOptions::default()
            .with_extensions(ExtensionTypes::sync())
            .with_max_message_len(4096)
            .expect("valid"),
        max_open_queries: 4,
        max_pending_submissions: 4,
        max_pending_events: 8,
        max_outbound_bytes: 2048,
        // Shorter than the keepalive's 30 s, so that a deadline within it
        // is the stall clock's (see the check below).
        stall_timeout: STALL,
        ..ServerConfig::default()
    };
    let mut session = ServerSession::new(config, now);
    let mut events = Vec::new();
    let mut closed_sent = false;
    let mut backlog = false;
    for input in inputs.into_iter().take(64) {
        match input {
            Input::Binary(bytes) => session.handle_binary(Bytes::from(bytes), now),
            Input::Framed { ty, head, body } => {
                let len = (8 + body.len()).min(0xff_ffff);
                let mut bytes = vec![ty, len as u8, (len >> 8) as u8, (len >> 16) as u8];
                bytes.extend_from_slice(&head);
                bytes.extend_from_slice(&body);
                session.handle_binary(Bytes::from(bytes), now);
            }
            Input::Text => session.handle_text(now),
            Input::Ping => session.handle_ping_or_pong(now),
            Input::PeerClose(code) => session.handle_peer_close(Some(CloseCode(code)), "bye"),
            Input::Wait(secs) => {
                now += Duration::from_secs(u64::from(secs));
                if session.poll_timeout().is_some_and(|d| now >= d) {
                    session.handle_timeout(now);
                }
            }
            Input::Answer { records, code, complete } => {
                if events.is_empty() {
                    continue;
                }
                match events.remove(0) {
                    ServerEvent::Get { query, .. } | ServerEvent::Query { query, .. } => {
                        for n in 0..records % 8 {
                            let _ = session.send_record(query, &record(n), now);
                        }
                        let _ = session.close_query(query, QueryClosedCode::from_u8(code), now);
                    }
                    ServerEvent::Subscribe { query, .. } => {
                        for n in 0..records % 8 {
                            let _ = session.send_record(query, &record(n), now);
                        }
                        if complete {
                            let _ = session.locally_complete(query, now);
                        }
                    }
                    ServerEvent::Submission { submission, .. } => {
                        let code = SubmissionResultCode::from_u8(code);
                        let _ = session.submission_result(submission, code, now);
                    }
                    ServerEvent::Cancelled { query } => {
                        // Answers to a cancelled query are refused.
                        assert!(session.send_record(query, &record(0), now).is_err());
                    }
                    ServerEvent::Extension(_) => {}
                }
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
            Input::Shutdown => session.shutdown(now),
        }
        while let Some(event) = session.poll_event() {
            if events.len() < 16 {
                events.push(event);
            }
        }
        // While anything waits to go, here or in the transport, the stall
        // clock runs.
        if session.closed().is_none() && (backlog || session.has_transmits()) {
            let deadline = session.poll_timeout();
            assert!(deadline.is_some_and(|d| d <= now + STALL), "no stall deadline");
        }
        assert!(session.open_queries().count() <= 4);
        // Automatic answers may pass the limit by a few small messages, since
        // input stops once the queue is full.
        assert!(session.queued_bytes() <= 2048 + 4096, "{}", session.queued_bytes());
        if let Some(closed) = session.closed() {
            let _ = closed.to_string();
            assert!(!session.wants_input());
        }
    }
    while let Some(t) = session.poll_transmit(now) {
        check_transmit(t, &mut closed_sent);
    }
});
