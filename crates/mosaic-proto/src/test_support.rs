//! Builders shared by the unit tests.

use bytes::Bytes;

use crate::{Kind, Record, RecordFlags, RecordParts, Tag, Timestamp};

/// A record with one tag and a short payload, signed with placeholder bytes.
pub(crate) fn record_with(tags: &[Tag<'_>], payload: &[u8], ts: u64) -> Record {
    RecordParts {
        signing_key: [0x22; 32],
        author_key: [0x33; 32],
        kind: Kind::from_bytes([0, 0, 0, 0, 1, 0, 1, 0x1c]),
        address_nonce: [0x80, 0, 0, 0, 0, 0, 0, 1],
        timestamp: Timestamp::from_nanos(ts),
        flags: RecordFlags::empty(),
        tags,
        payload,
    }
    .lay_out()
    .expect("valid parts")
    .finish(&[0x5a; 64], &[0x11; 40])
}

/// The sample record: tag 1 = "abc", payload "hello", timestamp 0x1_0000.
pub(crate) fn sample_record() -> Record {
    record_with(&[Tag::new(1, b"abc").expect("tag")], b"hello", 0x1_0000)
}

/// A copy of `bytes` with byte `at` replaced by `value`.
pub(crate) fn with_byte(bytes: &[u8], at: usize, value: u8) -> Bytes {
    let mut v = bytes.to_vec();
    v[at] = value;
    Bytes::from(v)
}
