//! Byte-exact vectors for every message type, written by hand from the diagrams
//! of spec/protocol.md, spec/filter.md and spec/record.md (one 8-byte diagram row
//! per line). Each vector decodes to the expected typed message and the typed
//! message encodes back to exactly these bytes.

use bytes::Bytes;
use mosaic_proto::{
    ClientExtension, ClientMessage, DecodeOptions, ExtensionTypes, Filter, IdPrefix, Kind,
    QueryClosedCode, QueryId, Record, RecordFlags, RecordParts, Reference, References,
    ServerExtension, ServerMessage, SubmissionResultCode, Tag, Timestamp,
};

/// Hex with whitespace, `|` separators and `#` comments ignored.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .flat_map(|line| line.bytes())
        .filter(u8::is_ascii_hexdigit)
        .collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).expect("ascii"), 16).expect("hex"))
        .collect()
}

/// A 224-byte record laid out by hand from record.md's diagram.
const RECORD: &str = "
    # [0:64] signature, 8 rows of 0x5a
    5a5a5a5a5a5a5a5a 5a5a5a5a5a5a5a5a 5a5a5a5a5a5a5a5a 5a5a5a5a5a5a5a5a
    5a5a5a5a5a5a5a5a 5a5a5a5a5a5a5a5a 5a5a5a5a5a5a5a5a 5a5a5a5a5a5a5a5a
    # [64:72] ID timestamp, big-endian; bytes 70 and 71 zero
    180c3fa073be0000
    # [72:112] ID hash, 40 bytes of 0x11
    1111111111111111 1111111111111111 1111111111111111 1111111111111111 1111111111111111
    # [112:144] signing public key, 32 bytes of 0x22
    2222222222222222 2222222222222222 2222222222222222 2222222222222222
    # [144:152] address nonce, first bit 1
    8000000000000001
    # [152:160] kind: app 1 (social media), app kind 1, flags Unique|Everybody|printable
    000000000100011c
    # [160:192] author public key, 32 bytes of 0x33
    3333333333333333 3333333333333333 3333333333333333 3333333333333333
    # [192:200] timestamp, big-endian
    180c3fa073be0000
    # [200:202] flags FROM_AUTHOR (LE) | [202:204] LenT 6 (LE) | [204:208] LenP 5 (LE)
    0400 0600 05000000
    # [208:216] tag type 0x0001 (LE), length 3, 'abc', 2 bytes padding
    010003616263 0000
    # [216:224] payload 'hello', 3 bytes padding
    68656c6c6f 000000
";

fn sample_record() -> Record {
    Record::from_bytes(Bytes::from(hex(RECORD))).expect("hand-built record is valid")
}

/// The same record through the builder, to pin the builder to the diagram.
#[test]
fn builder_lays_out_the_hand_built_record() {
    let tag = Tag::new(1, b"abc").expect("valid tag");
    let unsigned = RecordParts {
        signing_key: [0x22; 32],
        author_key: [0x33; 32],
        kind: Kind::from_bytes([0, 0, 0, 0, 1, 0, 1, 0x1c]),
        address_nonce: [0x80, 0, 0, 0, 0, 0, 0, 1],
        timestamp: Timestamp::from_nanos(0x180c_3fa0_73be_0000),
        flags: RecordFlags::FROM_AUTHOR,
        tags: &[tag],
        payload: b"hello",
    }
    .lay_out()
    .expect("valid parts");
    let record = unsigned.finish(&[0x5a; 64], &[0x11; 40]);
    assert_eq!(record.as_bytes()[..], hex(RECORD)[..]);
}

#[test]
fn record_fields_read_from_their_diagram_offsets() {
    let record = sample_record();
    assert_eq!(record.len(), 224);
    assert_eq!(record.signature(), &[0x5a; 64]);
    assert_eq!(record.timestamp().as_nanos(), 0x180c_3fa0_73be_0000);
    assert_eq!(record.id().timestamp(), record.timestamp());
    assert_eq!(record.hash_prefix(), &[0x11; 40]);
    assert_eq!(record.signing_key(), &[0x22; 32]);
    assert_eq!(record.address_nonce(), [0x80, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(record.kind().app_id(), 1);
    assert_eq!(record.kind().app_kind(), 1);
    assert_eq!(record.author_key(), &[0x33; 32]);
    assert_eq!(record.address().author_key(), &[0x33; 32]);
    assert_eq!(record.flags(), RecordFlags::FROM_AUTHOR);
    let tags: Vec<_> = record
        .tags()
        .map(|t| (t.tag_type(), t.value().to_vec()))
        .collect();
    assert_eq!(tags, [(1, b"abc".to_vec())]);
    assert_eq!(record.payload(), b"hello");
    assert_eq!(record.signed_bytes().len(), 224 - 112);
}

fn check_client(bytes: &[u8], expected: &ClientMessage, options: &DecodeOptions) {
    let decoded = ClientMessage::decode(Bytes::copy_from_slice(bytes), options)
        .unwrap_or_else(|e| panic!("vector does not decode: {e}"));
    assert_eq!(&decoded, expected);
    assert_eq!(
        expected.to_bytes()[..],
        bytes[..],
        "encoding differs from the vector"
    );
    assert_eq!(expected.encoded_len(), bytes.len());
}

fn check_server(bytes: &[u8], expected: &ServerMessage, options: &DecodeOptions) {
    let decoded = ServerMessage::decode(Bytes::copy_from_slice(bytes), options)
        .unwrap_or_else(|e| panic!("vector does not decode: {e}"));
    assert_eq!(&decoded, expected);
    assert_eq!(
        expected.to_bytes()[..],
        bytes[..],
        "encoding differs from the vector"
    );
    assert_eq!(expected.encoded_len(), bytes.len());
}

#[test]
fn get_vector() {
    let bytes = hex("
        # 0x1 | LENGTH 104 (LE) | QUERY_ID 0x0102 (LE) | zeroed
        01 680000 0201 0000
        # an ID (first bit 0): 48 bytes
        0000018c00000000 aaaaaaaaaaaaaaaa aaaaaaaaaaaaaaaa aaaaaaaaaaaaaaaa aaaaaaaaaaaaaaaa aaaaaaaaaaaaaaaa
        # an ADDR (first bit 1): 48 bytes
        8000000000000001 000000000100011c 3333333333333333 3333333333333333 3333333333333333 3333333333333333
    ");
    let mut id = [0xaa; 48];
    id[..8].copy_from_slice(&[0, 0, 1, 0x8c, 0, 0, 0, 0]);
    let addr = sample_record().address();
    let references = References::from_refs(&[Reference::from_bytes(id), Reference::Address(addr)])
        .expect("fits");
    let message = ClientMessage::Get {
        query_id: QueryId(0x0102),
        references,
    };
    check_client(&bytes, &message, &DecodeOptions::default());
    let ClientMessage::Get { references, .. } = message else {
        unreachable!()
    };
    assert!(matches!(references.iter().next(), Some(Reference::Id(_))));
    assert!(matches!(
        references.iter().nth(1),
        Some(Reference::Address(_))
    ));
}

/// A filter using every element type of filter.md, laid out by hand.
const FILTER: &str = "
    # bytelen 272 (LE) | zeroed
    1001 000000000000
    # Author Keys 0x1, 5 words: one key
    01 05 000000000000  3333333333333333 3333333333333333 3333333333333333 3333333333333333
    # Signing Keys 0x2, 5 words: one key
    02 05 000000000000  2222222222222222 2222222222222222 2222222222222222 2222222222222222
    # Kinds 0x3, 3 words: two kinds
    03 03 000000000000  000000000100011c 000000000100021c
    # Timestamps 0x4, 2 words: one timestamp
    04 02 000000000000  180c3fa073be0000
    # Included Tags 0x5, 3 words: tag 0x0001 len 3 'abc', tag 0x0005 len 0, 5 bytes padding
    05 03 000000000000  0100036162630500 0000000000000000
    # Since 0x80 | Until 0x81 | Received Since 0x82 | Received Until 0x83
    80 02 000000000000  0000000000000001
    81 02 000000000000  7fffffffffff0000
    82 02 000000000000  0000000000000002
    83 02 000000000000  7ffffffffffffff0
    # Exclude 0x84, 5 words: one 32-byte ID prefix
    84 05 000000000000  4444444444444444 4444444444444444 4444444444444444 4444444444444444
    # Excluded Tags 0x85, 2 words: tag 0x0002 len 2 'zz', 3 bytes padding
    85 02 000000000000  020002 7a7a 000000
";

fn sample_filter() -> Filter {
    let abc = Tag::new(1, b"abc").expect("tag");
    let empty = Tag::new(5, b"").expect("tag");
    let zz = Tag::new(2, b"zz").expect("tag");
    Filter::builder()
        .author_keys(&[[0x33; 32]])
        .signing_keys(&[[0x22; 32]])
        .kinds(&[
            Kind::from_bytes([0, 0, 0, 0, 1, 0, 1, 0x1c]),
            Kind::from_bytes([0, 0, 0, 0, 1, 0, 2, 0x1c]),
        ])
        .timestamps(&[Timestamp::from_nanos(0x180c_3fa0_73be_0000)])
        .included_tags(&[abc, empty])
        .since(Timestamp::from_nanos(1))
        .until(Timestamp::from_nanos(0x7fff_ffff_ffff_0000))
        .received_since(Timestamp::from_nanos(2))
        .received_until(Timestamp::from_nanos(0x7fff_ffff_ffff_fff0))
        .exclude(&[IdPrefix([0x44; 32])])
        .excluded_tags(&[zz])
        .build()
        .expect("fits")
}

#[test]
fn filter_builder_matches_the_hand_built_filter() {
    assert_eq!(sample_filter().as_bytes()[..], hex(FILTER)[..]);
    assert!(Filter::from_bytes(Bytes::from(hex(FILTER))).is_ok());
    assert_eq!(sample_filter().elements().count(), 11);
}

#[test]
fn query_vector() {
    let mut bytes = hex("
        # 0x2 | LENGTH 280 (LE) | QUERY_ID 7 (LE) | LIMIT 100 (LE)
        02 180100 0700 6400
    ");
    bytes.extend(hex(FILTER));
    let message = ClientMessage::Query {
        query_id: QueryId(7),
        limit: 100,
        filter: sample_filter(),
    };
    check_client(&bytes, &message, &DecodeOptions::default());
}

#[test]
fn subscribe_vector() {
    let bytes = hex("
        # 0x3 | LENGTH 56 (LE) | QUERY_ID 0xfffe (LE) | LIMIT 0 = unlimited
        03 380000 feff 0000
        # filter: bytelen 48 | zeroed
        3000 000000000000
        # Author Keys, 5 words, one key
        01 05 000000000000  3333333333333333 3333333333333333 3333333333333333 3333333333333333
    ");
    let message = ClientMessage::Subscribe {
        query_id: QueryId(0xfffe),
        limit: 0,
        filter: Filter::builder()
            .author_keys(&[[0x33; 32]])
            .build()
            .expect("fits"),
    };
    check_client(&bytes, &message, &DecodeOptions::default());
}

#[test]
fn unsubscribe_vector() {
    let bytes = hex("
        # 0x4 | LENGTH 8 (LE) | QUERY_ID 0xfffe (LE) | zeroed
        04 080000 feff 0000
    ");
    let message = ClientMessage::Unsubscribe {
        query_id: QueryId(0xfffe),
    };
    check_client(&bytes, &message, &DecodeOptions::default());
}

#[test]
fn submission_vector() {
    let mut bytes = hex("
        # 0x5 | LENGTH 232 (LE) | zeroed
        05 e80000 00000000
    ");
    bytes.extend(hex(RECORD));
    let message = ClientMessage::Submission {
        record: sample_record(),
    };
    check_client(&bytes, &message, &DecodeOptions::default());
}

#[test]
fn record_vector() {
    let mut bytes = hex("
        # 0x80 | LENGTH 232 (LE) | QUERY_ID 7 (LE) | zeroed
        80 e80000 0700 0000
    ");
    bytes.extend(hex(RECORD));
    let record = sample_record();
    assert_eq!(
        ServerMessage::record_header(QueryId(7), &record)[..],
        bytes[..8]
    );
    let message = ServerMessage::Record {
        query_id: QueryId(7),
        record,
    };
    check_server(&bytes, &message, &DecodeOptions::default());
}

#[test]
fn locally_complete_vector() {
    let bytes = hex("
        # 0x81 | LENGTH 8 (LE) | QUERY_ID 0x0102 (LE) | zeroed
        81 080000 0201 0000
    ");
    let message = ServerMessage::LocallyComplete {
        query_id: QueryId(0x0102),
    };
    check_server(&bytes, &message, &DecodeOptions::default());
}

#[test]
fn query_closed_vectors_for_every_code() {
    let codes = [
        (QueryClosedCode::OnRequest, "01"),
        (QueryClosedCode::RejectedInvalid, "10"),
        (QueryClosedCode::RejectedTooOpen, "11"),
        (QueryClosedCode::RejectedTooFast, "12"),
        (QueryClosedCode::RejectedTempBanned, "13"),
        (QueryClosedCode::RejectedPermBanned, "14"),
        (QueryClosedCode::ShuttingDown, "30"),
        (QueryClosedCode::InternalError, "f0"),
        (QueryClosedCode::Other, "ff"),
        (QueryClosedCode::Unknown(0x77), "77"),
    ];
    for (code, code_hex) in codes {
        // 0x82 | LENGTH 8 | QUERY_ID 9 | CODE | zero
        let bytes = hex(&format!("82 080000 0900 {code_hex} 00"));
        let message = ServerMessage::QueryClosed {
            query_id: QueryId(9),
            code,
        };
        check_server(&bytes, &message, &DecodeOptions::default());
    }
}

#[test]
fn submission_result_vectors_for_every_code() {
    let codes = [
        (SubmissionResultCode::Ok, "01"),
        (SubmissionResultCode::Duplicate, "02"),
        (SubmissionResultCode::NoConsumers, "03"),
        (SubmissionResultCode::RejectedInvalid, "10"),
        (SubmissionResultCode::RejectedTooFast, "12"),
        (SubmissionResultCode::RejectedTempBanned, "13"),
        (SubmissionResultCode::RejectedPermBanned, "14"),
        (SubmissionResultCode::RejectedRequiresAuthn, "15"),
        (SubmissionResultCode::RejectedRequiresAuthz, "16"),
        (SubmissionResultCode::InternalError, "f0"),
        (SubmissionResultCode::Other, "ff"),
        (SubmissionResultCode::Unknown(0x42), "42"),
    ];
    for (code, code_hex) in codes {
        let bytes = hex(&format!(
            "
            # 0x83 | LENGTH 40 (LE) | CODE | zeroed
            83 280000 {code_hex} 000000
            # ID prefix bytes 0..32: the sample record's ID
            180c3fa073be0000 1111111111111111 1111111111111111 1111111111111111
            "
        ));
        let message = ServerMessage::SubmissionResult {
            code,
            id_prefix: sample_record().id_prefix(),
        };
        check_server(&bytes, &message, &DecodeOptions::default());
    }
}

#[test]
fn extension_vectors_decode_once_declared() {
    let options = DecodeOptions::default().with_extensions(ExtensionTypes::sync());
    // Sync Init (0x10): type | LENGTH 12 | 8 body bytes
    let client = hex("10 0c0000 0102030405060708");
    let message = ClientMessage::Extension(
        ClientExtension::new(0x10, Bytes::from_static(&[1, 2, 3, 4, 5, 6, 7, 8])).expect("ext"),
    );
    check_client(&client, &message, &options);
    // Sync Error (0x93): type | LENGTH 4, no body
    let server = hex("93 040000");
    let message = ServerMessage::Extension(ServerExtension::new(0x93, Bytes::new()).expect("ext"));
    check_server(&server, &message, &options);
}

/// Writes one encoded message of every type (the vectors above) as the seed
/// corpus of the `frame_decode` fuzz target.
#[test]
#[ignore = "writes fuzz/corpus/frame_decode; run by hand after changing the vectors"]
fn write_fuzz_seed_corpus() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/frame_decode");
    std::fs::create_dir_all(&dir).expect("create corpus dir");
    let record = sample_record();
    let refs = [
        Reference::from_bytes([0x01; 48]),
        Reference::Address(record.address()),
    ];
    let seeds: Vec<(&str, Bytes)> = vec![
        (
            "get",
            ClientMessage::Get {
                query_id: QueryId(0x0102),
                references: References::from_refs(&refs).expect("fits"),
            }
            .to_bytes(),
        ),
        (
            "query",
            ClientMessage::Query {
                query_id: QueryId(7),
                limit: 100,
                filter: sample_filter(),
            }
            .to_bytes(),
        ),
        (
            "subscribe",
            ClientMessage::Subscribe {
                query_id: QueryId(8),
                limit: 0,
                filter: sample_filter(),
            }
            .to_bytes(),
        ),
        (
            "unsubscribe",
            ClientMessage::Unsubscribe {
                query_id: QueryId(8),
            }
            .to_bytes(),
        ),
        (
            "submission",
            ClientMessage::Submission {
                record: record.clone(),
            }
            .to_bytes(),
        ),
        (
            "record",
            ServerMessage::Record {
                query_id: QueryId(7),
                record: record.clone(),
            }
            .to_bytes(),
        ),
        (
            "locally-complete",
            ServerMessage::LocallyComplete {
                query_id: QueryId(8),
            }
            .to_bytes(),
        ),
        (
            "query-closed",
            ServerMessage::QueryClosed {
                query_id: QueryId(7),
                code: QueryClosedCode::OnRequest,
            }
            .to_bytes(),
        ),
        (
            "submission-result",
            ServerMessage::SubmissionResult {
                code: SubmissionResultCode::Duplicate,
                id_prefix: record.id_prefix(),
            }
            .to_bytes(),
        ),
        (
            "sync-init",
            ClientMessage::Extension(
                ClientExtension::new(0x10, Bytes::from_static(b"12345678")).expect("ext"),
            )
            .to_bytes(),
        ),
        (
            "sync-error",
            ServerMessage::Extension(ServerExtension::new(0x93, Bytes::new()).expect("ext"))
                .to_bytes(),
        ),
    ];
    for (name, bytes) in seeds {
        std::fs::write(dir.join(format!("seed-{name}")), &bytes).expect("write seed");
    }
}
