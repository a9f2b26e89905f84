//! What the session fuzz targets share: records to answer with, and the
//! checks every transmit must pass.

use bytes::Bytes;
use mosaic_proto::session::{Transmit, TransportBacklog};
use mosaic_proto::{DecodeError, Kind, Record, RecordFlags, RecordParts, Timestamp};

/// A structurally valid record (placeholder signature), distinct per `n`,
/// with `payload_len` bytes of payload.
pub fn record(n: u8, payload_len: usize) -> Record {
    RecordParts {
        signing_key: [1; 32],
        author_key: [2; 32],
        kind: Kind::from_bytes([0, 0, 0, 0, 1, 0, 1, 0x1c]),
        address_nonce: [0x80, 0, 0, 0, 0, 0, 0, n],
        timestamp: Timestamp::from_nanos(u64::from(n) << 16),
        flags: RecordFlags::empty(),
        tags: &[],
        payload: &vec![n; payload_len],
    }
    .lay_out()
    .expect("fits")
    .finish(&[0; 64], &[n; 40])
}

/// Checks one transmit: nothing after the close, a close reason that fits a
/// WebSocket close frame, and every message one the peer decodes (`decode`).
pub fn check_transmit(
    transmit: Transmit,
    closed_sent: &mut bool,
    decode: impl FnOnce(Bytes) -> Result<(), DecodeError>,
) {
    assert!(!*closed_sent, "a transmit after the close: {transmit:?}");
    match transmit {
        Transmit::Close { reason, .. } => {
            assert!(reason.len() <= 123);
            *closed_sent = true;
        }
        Transmit::Ping => {}
        other => {
            if let Err(e) = decode(other.contiguous().expect("a message")) {
                panic!("the session sent an invalid message: {e}");
            }
        }
    }
}

/// The transport's backlog a fuzz input's byte stands for.
pub fn backlog(state: u8) -> TransportBacklog {
    match state % 3 {
        0 => TransportBacklog::Empty,
        1 => TransportBacklog::Draining,
        _ => TransportBacklog::Waiting,
    }
}
