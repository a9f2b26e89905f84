//! Shared inputs for the Mosaic benchmarks: messages of every type built the
//! way a real peer would send them.

pub mod e2e;

use bytes::Bytes;
use mosaic_proto::{
    ClientMessage, Filter, IdPrefix, Kind, QueryClosedCode, QueryId, Record, RecordFlags,
    RecordParts, Reference, References, ServerMessage, SubmissionResultCode, Tag, Timestamp,
};

/// A record with three tags and a payload of `payload_len` bytes; the signature
/// and hash are placeholders (the codec does not check them).
pub fn record(payload_len: usize) -> Record {
    let payload = vec![0x5a; payload_len];
    let tags = sample_tags();
    RecordParts {
        signing_key: [0x22; 32],
        author_key: [0x33; 32],
        kind: Kind::from_bytes([0, 0, 0, 0, 1, 0, 1, 0x1c]),
        address_nonce: [0x80, 1, 2, 3, 4, 5, 6, 7],
        timestamp: Timestamp::from_nanos(1_750_000_000_000_000_000).record_aligned(),
        flags: RecordFlags::empty(),
        tags: &tags,
        payload: &payload,
    }
    .lay_out()
    .expect("fits")
    .finish(&[0x5a; 64], &[0x11; 40])
}

/// The secret key that signs [`signed_record`]s (a subkey of [`master_key`]).
pub fn signing_key() -> mosaic_proto::ed25519_dalek::SigningKey {
    mosaic_proto::ed25519_dalek::SigningKey::from_bytes(&[0x5b; 32])
}

/// The author's master key of [`signed_record`]s.
pub fn master_key() -> mosaic_proto::ed25519_dalek::SigningKey {
    mosaic_proto::ed25519_dalek::SigningKey::from_bytes(&[0x4d; 32])
}

/// The fields of [`record`] with real keys, ready for [`RecordParts::sign`]
/// with [`signing_key`].
pub fn record_parts<'a>(tags: &'a [Tag<'a>], payload: &'a [u8]) -> RecordParts<'a> {
    RecordParts {
        signing_key: signing_key().verifying_key().to_bytes(),
        author_key: master_key().verifying_key().to_bytes(),
        kind: Kind::from_bytes([0, 0, 0, 0, 1, 0, 1, 0x1c]),
        address_nonce: [0x80, 1, 2, 3, 4, 5, 6, 7],
        timestamp: Timestamp::from_nanos(1_750_000_000_000_000_000).record_aligned(),
        flags: RecordFlags::empty(),
        tags,
        payload,
    }
}

/// The three tags of [`record`].
pub fn sample_tags() -> [Tag<'static>; 3] {
    [
        Tag::new(1, &[1; 32]).expect("tag"),
        Tag::new(2, &[2; 48]).expect("tag"),
        Tag::new(0x24, b"https://example.com/").expect("tag"),
    ]
}

/// A validly signed record with [`record`]'s tags and a `payload_len`-byte payload.
pub fn signed_record(payload_len: usize) -> Record {
    let payload = vec![0x5a; payload_len];
    record_parts(&sample_tags(), &payload)
        .sign(&signing_key())
        .expect("fits")
}

/// The largest payload a record can carry with [`record`]'s tags.
pub fn max_payload_len() -> usize {
    mosaic_proto::MAX_RECORD_LEN - record(0).len()
}

/// A typical filter: two authors, two kinds, a since and an exclusion.
pub fn filter() -> Filter {
    Filter::builder()
        .author_keys(&[[0x33; 32], [0x44; 32]])
        .kinds(&[
            Kind::from_bytes([0, 0, 0, 0, 1, 0, 1, 0x1c]),
            Kind::from_bytes([0, 0, 0, 0, 1, 0, 2, 0x1c]),
        ])
        .since(Timestamp::from_nanos(1_700_000_000_000_000_000))
        .exclude(&[IdPrefix([9; 32])])
        .build()
        .expect("fits")
}

/// One client message of each type, named, with a 1 KiB record in the Submission.
pub fn client_messages() -> Vec<(&'static str, Bytes)> {
    let refs: Vec<Reference> = (0..10u8).map(|i| Reference::from_bytes([i; 48])).collect();
    vec![
        (
            "get_10_refs",
            ClientMessage::Get {
                query_id: QueryId(1),
                references: References::from_refs(&refs).expect("fits"),
            }
            .to_bytes(),
        ),
        (
            "query",
            ClientMessage::Query {
                query_id: QueryId(2),
                limit: 100,
                filter: filter(),
            }
            .to_bytes(),
        ),
        (
            "subscribe",
            ClientMessage::Subscribe {
                query_id: QueryId(3),
                limit: 0,
                filter: filter(),
            }
            .to_bytes(),
        ),
        (
            "unsubscribe",
            ClientMessage::Unsubscribe {
                query_id: QueryId(3),
            }
            .to_bytes(),
        ),
        (
            "submission_1k",
            ClientMessage::Submission {
                record: record(1024),
            }
            .to_bytes(),
        ),
    ]
}

/// One server message of each type, named, with a 1 KiB record in the Record.
pub fn server_messages() -> Vec<(&'static str, Bytes)> {
    vec![
        (
            "record_1k",
            ServerMessage::Record {
                query_id: QueryId(2),
                record: record(1024),
            }
            .to_bytes(),
        ),
        (
            "locally_complete",
            ServerMessage::LocallyComplete {
                query_id: QueryId(3),
            }
            .to_bytes(),
        ),
        (
            "query_closed",
            ServerMessage::QueryClosed {
                query_id: QueryId(2),
                code: QueryClosedCode::OnRequest,
            }
            .to_bytes(),
        ),
        (
            "submission_result",
            ServerMessage::SubmissionResult {
                code: SubmissionResultCode::Ok,
                id_prefix: IdPrefix([7; 32]),
            }
            .to_bytes(),
        ),
    ]
}
