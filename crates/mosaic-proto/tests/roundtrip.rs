//! Property tests: encode then decode is the identity, and whenever decoding
//! succeeds (on any bytes, or on valid messages with bytes changed) encoding
//! gives back exactly the input.

use bytes::Bytes;
use mosaic_proto::{
    ClientExtension, ClientMessage, DecodeOptions, ElementType, ExtensionTypes, Filter, Framer,
    IdPrefix, Kind, Next, QueryClosedCode, QueryId, Record, RecordFlags, RecordParts, Reference,
    References, ServerExtension, ServerMessage, SubmissionResultCode, Tag, Timestamp,
};
use proptest::prelude::*;

mod common;
use common::kind;

fn options() -> DecodeOptions {
    DecodeOptions::default().with_extensions(ExtensionTypes::sync())
}

fn key() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn tag_data() -> impl Strategy<Value = (u16, Vec<u8>)> {
    (1u16.., prop::collection::vec(any::<u8>(), 0..=253))
}

fn with_tags<T>(data: &[(u16, Vec<u8>)], f: impl FnOnce(&[Tag<'_>]) -> T) -> T {
    let tags: Vec<Tag<'_>> = data
        .iter()
        .map(|(t, v)| Tag::new(*t, v).expect("valid tag"))
        .collect();
    f(&tags)
}

#[derive(Clone, Debug)]
enum El {
    Authors(Vec<[u8; 32]>),
    Signers(Vec<[u8; 32]>),
    Kinds(Vec<Kind>),
    Timestamps(Vec<u64>),
    Included(Vec<(u16, Vec<u8>)>),
    Since(u64),
    Until(u64),
    ReceivedSince(u64),
    ReceivedUntil(u64),
    Exclude(Vec<[u8; 32]>),
    Excluded(Vec<(u16, Vec<u8>)>),
}

fn element() -> impl Strategy<Value = El> {
    prop_oneof![
        prop::collection::vec(key(), 0..4).prop_map(El::Authors),
        prop::collection::vec(key(), 0..4).prop_map(El::Signers),
        prop::collection::vec(kind(), 0..6).prop_map(El::Kinds),
        prop::collection::vec(any::<u64>(), 0..6).prop_map(El::Timestamps),
        prop::collection::vec(tag_data(), 0..4).prop_map(El::Included),
        any::<u64>().prop_map(El::Since),
        any::<u64>().prop_map(El::Until),
        any::<u64>().prop_map(El::ReceivedSince),
        any::<u64>().prop_map(El::ReceivedUntil),
        prop::collection::vec(key(), 0..4).prop_map(El::Exclude),
        prop::collection::vec(tag_data(), 0..4).prop_map(El::Excluded),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    prop::collection::vec(element(), 0..6).prop_filter_map("filter too long", |els| {
        let mut b = Filter::builder();
        for el in &els {
            b = match el {
                El::Authors(k) => b.author_keys(k),
                El::Signers(k) => b.signing_keys(k),
                El::Kinds(k) => b.kinds(k),
                El::Timestamps(t) => {
                    let t: Vec<_> = t.iter().map(|n| Timestamp::from_nanos(*n)).collect();
                    b.timestamps(&t)
                }
                El::Included(t) => with_tags(t, |tags| b.included_tags(tags)),
                El::Since(n) => b.since(Timestamp::from_nanos(*n)),
                El::Until(n) => b.until(Timestamp::from_nanos(*n)),
                El::ReceivedSince(n) => b.received_since(Timestamp::from_nanos(*n)),
                El::ReceivedUntil(n) => b.received_until(Timestamp::from_nanos(*n)),
                El::Exclude(p) => {
                    let p: Vec<_> = p.iter().map(|k| IdPrefix(*k)).collect();
                    b.exclude(&p)
                }
                El::Excluded(t) => with_tags(t, |tags| b.excluded_tags(tags)),
            };
        }
        b.build().ok()
    })
}

fn record() -> impl Strategy<Value = Record> {
    (
        key(),
        key(),
        kind(),
        any::<[u8; 8]>(),
        0u64..(1 << 47),
        prop::sample::select(vec![0u16, 1, 4, 5]),
        prop::collection::vec(tag_data(), 0..4),
        prop::collection::vec(any::<u8>(), 0..300),
        any::<[u8; 32]>(),
        any::<[u8; 40]>(),
    )
        .prop_map(
            |(signing_key, author_key, kind, mut nonce, ts, flags, tags, payload, sig, hash)| {
                nonce[0] |= 0x80;
                let mut signature = [0u8; 64];
                signature[..32].copy_from_slice(&sig);
                with_tags(&tags, |tags| {
                    RecordParts {
                        signing_key,
                        author_key,
                        kind,
                        address_nonce: nonce,
                        timestamp: Timestamp::from_nanos(ts << 16),
                        flags: RecordFlags::from_bits(flags),
                        tags,
                        payload: &payload,
                    }
                    .lay_out()
                    .expect("valid parts")
                    .finish(&signature, &hash)
                })
            },
        )
}

fn references() -> impl Strategy<Value = References> {
    prop::collection::vec(any::<[u8; 48]>(), 0..5).prop_map(|refs| {
        let refs: Vec<_> = refs.into_iter().map(Reference::from_bytes).collect();
        References::from_refs(&refs).expect("few")
    })
}

fn body() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from)
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        (any::<u16>(), references()).prop_map(|(q, references)| ClientMessage::Get {
            query_id: QueryId(q),
            references
        }),
        (any::<u16>(), any::<u16>(), filter()).prop_map(|(q, limit, filter)| {
            ClientMessage::Query {
                query_id: QueryId(q),
                limit,
                filter,
            }
        }),
        (any::<u16>(), any::<u16>(), filter()).prop_map(|(q, limit, filter)| {
            ClientMessage::Subscribe {
                query_id: QueryId(q),
                limit,
                filter,
            }
        }),
        any::<u16>().prop_map(|q| ClientMessage::Unsubscribe {
            query_id: QueryId(q)
        }),
        record().prop_map(|record| ClientMessage::Submission { record }),
        (prop::sample::select(vec![0x10u8, 0x11, 0x12]), body()).prop_map(|(ty, body)| {
            ClientMessage::Extension(ClientExtension::new(ty, body).expect("sync type"))
        }),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (any::<u16>(), record()).prop_map(|(q, record)| ServerMessage::Record {
            query_id: QueryId(q),
            record
        }),
        any::<u16>().prop_map(|q| ServerMessage::LocallyComplete {
            query_id: QueryId(q)
        }),
        (any::<u16>(), any::<u8>()).prop_map(|(q, c)| ServerMessage::QueryClosed {
            query_id: QueryId(q),
            code: QueryClosedCode::from_u8(c)
        }),
        (any::<u8>(), any::<[u8; 32]>()).prop_map(|(c, p)| ServerMessage::SubmissionResult {
            code: SubmissionResultCode::from_u8(c),
            id_prefix: IdPrefix(p)
        }),
        (prop::sample::select(vec![0x91u8, 0x93]), body()).prop_map(|(ty, body)| {
            ServerMessage::Extension(ServerExtension::new(ty, body).expect("sync type"))
        }),
    ]
}

/// A valid encoding with a few bytes replaced.
fn mutated(valid: Bytes, edits: &[(usize, u8)]) -> Bytes {
    let mut v = valid.to_vec();
    for &(at, value) in edits {
        if !v.is_empty() {
            let i = at % v.len();
            v[i] = value;
        }
    }
    Bytes::from(v)
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>()), 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn client_messages_round_trip(message in client_message()) {
        let bytes = message.to_bytes();
        prop_assert_eq!(bytes.len(), message.encoded_len());
        let decoded = ClientMessage::decode(bytes, &options()).expect("own encoding decodes");
        prop_assert_eq!(decoded, message);
    }

    #[test]
    fn server_messages_round_trip(message in server_message()) {
        let bytes = message.to_bytes();
        prop_assert_eq!(bytes.len(), message.encoded_len());
        let decoded = ServerMessage::decode(bytes, &options()).expect("own encoding decodes");
        prop_assert_eq!(decoded, message);
    }

    #[test]
    fn decoding_mutated_client_messages_is_exact_or_an_error(
        message in client_message(),
        edits in edits(),
    ) {
        let input = mutated(message.to_bytes(), &edits);
        if let Ok(decoded) = ClientMessage::decode(input.clone(), &options()) {
            prop_assert_eq!(decoded.to_bytes(), input);
        }
    }

    #[test]
    fn decoding_mutated_server_messages_is_exact_or_an_error(
        message in server_message(),
        edits in edits(),
    ) {
        let input = mutated(message.to_bytes(), &edits);
        if let Ok(decoded) = ServerMessage::decode(input.clone(), &options()) {
            prop_assert_eq!(decoded.to_bytes(), input);
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_is_exact_or_an_error(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let input = Bytes::from(bytes);
        if let Ok(decoded) = ClientMessage::decode(input.clone(), &options()) {
            prop_assert_eq!(decoded.to_bytes(), input.clone());
        }
        if let Ok(decoded) = ServerMessage::decode(input.clone(), &options()) {
            prop_assert_eq!(decoded.to_bytes(), input);
        }
    }

    #[test]
    fn framer_recovers_messages_from_any_split(
        messages in prop::collection::vec(server_message(), 1..6),
        cuts in prop::collection::vec(1usize..97, 1..20),
    ) {
        let stream: Vec<u8> = messages.iter().flat_map(|m| m.to_bytes()).collect();
        let mut framer = Framer::new(mosaic_proto::DEFAULT_MAX_MESSAGE_LEN).expect("limit");
        let mut out = Vec::new();
        let mut at = 0;
        let mut cut = cuts.iter().cycle();
        while at < stream.len() {
            let end = (at + cut.next().copied().unwrap_or(1)).min(stream.len());
            framer.push(&stream[at..end]).expect("space");
            at = end;
            while let Next::Message(m) = framer.next_message().expect("valid stream") {
                out.push(ServerMessage::decode(m, &options()).expect("whole message"));
            }
        }
        prop_assert_eq!(out, messages);
        prop_assert_eq!(framer.buffered(), 0);
    }

    /// The element that counts for each type (what matching looks at) is
    /// the first of its type in wire order, however the filter was made.
    #[test]
    fn the_element_of_each_type_is_the_first_in_wire_order(f in filter()) {
        let parsed = Filter::from_bytes(f.as_bytes().clone()).expect("valid");
        for ty in (0x01..=0x05).chain(0x80..=0x85).map(ElementType) {
            let first = f.elements().find(|e| e.element_type() == ty);
            prop_assert_eq!(f.element(ty), first);
            prop_assert_eq!(parsed.element(ty), first);
        }
        prop_assert_eq!(f.element(ElementType(0x06)), None);
    }

    #[test]
    fn filters_and_records_reparse_from_their_bytes(f in filter(), r in record()) {
        prop_assert_eq!(Filter::from_bytes(f.as_bytes().clone()).expect("valid"), f);
        prop_assert_eq!(Record::from_bytes(r.as_bytes().clone()).expect("valid"), r);
    }
}
