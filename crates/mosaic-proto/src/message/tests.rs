//! A negative test for every malformed class, with the disposition it gets.

use bytes::{BufMut, Bytes, BytesMut};

use crate::test_support::{sample_record, with_byte};
use crate::{
    ClientMessage, CloseCode, DecodeError, DecodeOptions, Disposition, ExtensionTypes, Filter,
    FilterError, IdPrefix, MessageType, QueryClosedCode, QueryId, RecordError, Role, ServerMessage,
    SubmissionResultCode,
};

fn client(bytes: &[u8]) -> Result<ClientMessage, DecodeError> {
    ClientMessage::decode(Bytes::copy_from_slice(bytes), &DecodeOptions::default())
}

fn server(bytes: &[u8]) -> Result<ServerMessage, DecodeError> {
    ServerMessage::decode(Bytes::copy_from_slice(bytes), &DecodeOptions::default())
}

const CLOSE_1002: Disposition = Disposition::Close(CloseCode::PROTOCOL_ERROR);

fn submission_bytes() -> Bytes {
    ClientMessage::Submission {
        record: sample_record(),
    }
    .to_bytes()
}

fn record_message_bytes() -> Bytes {
    ServerMessage::Record {
        query_id: QueryId(3),
        record: sample_record(),
    }
    .to_bytes()
}

fn query_bytes() -> Bytes {
    ClientMessage::Query {
        query_id: QueryId(0x0a0b),
        limit: 5,
        filter: Filter::builder()
            .author_keys(&[[1; 32]])
            .build()
            .expect("fits"),
    }
    .to_bytes()
}

#[test]
fn fewer_than_four_bytes_cannot_carry_type_and_length() {
    for len in 0..4 {
        let bytes = vec![0x04; len];
        let err = client(&bytes).expect_err("too short");
        assert_eq!(err, DecodeError::TooShortForPrefix { len });
        assert_eq!(err.disposition(), CLOSE_1002);
        assert_eq!(server(&bytes).expect_err("too short"), err);
    }
}

#[test]
fn messages_shorter_than_their_header_are_refused() {
    for ty in [0x01, 0x02, 0x03, 0x05] {
        let err = client(&[ty, 6, 0, 0, 1, 0]).expect_err("short");
        assert_eq!(
            err,
            DecodeError::TooShort {
                ty: MessageType(ty),
                len: 6,
                min: 8
            }
        );
        assert_eq!(err.disposition(), CLOSE_1002);
    }
    assert!(matches!(
        server(&[0x80, 7, 0, 0, 1, 0, 0]),
        Err(DecodeError::TooShort { len: 7, .. })
    ));
}

#[test]
fn length_field_must_equal_the_bytes_carried() {
    let mut bytes = query_bytes().to_vec();
    bytes.truncate(bytes.len() - 4);
    let err = client(&bytes).expect_err("mismatch");
    assert_eq!(
        err,
        DecodeError::LengthMismatch {
            ty: MessageType::QUERY,
            declared: 56,
            actual: 52
        }
    );
    assert_eq!(
        err.to_string(),
        "Query (0x02) message declares 56 bytes but carries 52"
    );
    assert_eq!(err.disposition(), CLOSE_1002);
    let mut longer = query_bytes().to_vec();
    longer.extend([0; 8]);
    assert!(matches!(
        client(&longer),
        Err(DecodeError::LengthMismatch {
            declared: 56,
            actual: 64,
            ..
        })
    ));
}

#[test]
fn every_reserved_byte_must_be_zero() {
    let get = ClientMessage::Get {
        query_id: QueryId(1),
        references: Default::default(),
    }
    .to_bytes();
    let unsubscribe = ClientMessage::Unsubscribe {
        query_id: QueryId(1),
    }
    .to_bytes();
    let locally_complete = ServerMessage::LocallyComplete {
        query_id: QueryId(1),
    }
    .to_bytes();
    let query_closed = ServerMessage::QueryClosed {
        query_id: QueryId(1),
        code: QueryClosedCode::OnRequest,
    }
    .to_bytes();
    let submission_result = ServerMessage::SubmissionResult {
        code: SubmissionResultCode::Ok,
        id_prefix: IdPrefix([7; 32]),
    }
    .to_bytes();
    let client_cases: [(&Bytes, &[usize]); 3] = [
        (&get, &[6, 7]),
        (&unsubscribe, &[6, 7]),
        (&submission_bytes(), &[4, 5, 6, 7]),
    ];
    for (bytes, offsets) in client_cases {
        for &offset in offsets {
            let err = client(&with_byte(bytes, offset, 0x40)).expect_err("reserved");
            assert_eq!(
                err,
                DecodeError::NonZeroReserved {
                    ty: MessageType(bytes[0]),
                    offset,
                    value: 0x40
                }
            );
            assert_eq!(err.disposition(), CLOSE_1002);
        }
    }
    let server_cases: [(&Bytes, &[usize]); 4] = [
        (&record_message_bytes(), &[6, 7]),
        (&locally_complete, &[6, 7]),
        (&query_closed, &[7]),
        (&submission_result, &[5, 6, 7]),
    ];
    for (bytes, offsets) in server_cases {
        for &offset in offsets {
            let err = server(&with_byte(bytes, offset, 1)).expect_err("reserved");
            assert_eq!(
                err,
                DecodeError::NonZeroReserved {
                    ty: MessageType(bytes[0]),
                    offset,
                    value: 1
                }
            );
            assert_eq!(err.disposition(), CLOSE_1002);
        }
    }
}

#[test]
fn fixed_size_messages_must_have_their_size() {
    let cases: [(&[u8], Role, usize); 4] = [
        (&[0x04, 12, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], Role::Client, 8),
        (&[0x81, 9, 0, 0, 1, 0, 0, 0, 0], Role::Server, 8),
        (&[0x82, 9, 0, 0, 1, 0, 1, 0, 0], Role::Server, 8),
        (&[0x83, 8, 0, 0, 1, 0, 0, 0], Role::Server, 40),
    ];
    for (bytes, role, expected) in cases {
        let err = match role {
            Role::Client => client(bytes).expect_err("size"),
            Role::Server => server(bytes).expect_err("size"),
        };
        assert_eq!(
            err,
            DecodeError::WrongSize {
                ty: MessageType(bytes[0]),
                expected,
                actual: bytes.len()
            }
        );
        assert_eq!(err.disposition(), CLOSE_1002);
    }
}

#[test]
fn a_server_closes_on_server_messages_and_a_client_on_client_messages() {
    let err = client(&record_message_bytes()).expect_err("wrong role");
    assert_eq!(
        err,
        DecodeError::WrongRole {
            ty: MessageType::RECORD,
            expected: Role::Client
        }
    );
    assert_eq!(
        err.to_string(),
        "Record (0x80) is a server message, but only client messages may come here"
    );
    assert_eq!(err.disposition(), CLOSE_1002);
    let err = server(&submission_bytes()).expect_err("wrong role");
    assert_eq!(
        err,
        DecodeError::WrongRole {
            ty: MessageType::SUBMISSION,
            expected: Role::Server
        }
    );
    assert_eq!(err.disposition(), CLOSE_1002);
}

#[test]
fn unknown_types_close_a_server_and_are_ignored_by_a_client() {
    let err = client(&[0x06, 8, 0, 0, 0, 0, 0, 0]).expect_err("unknown");
    assert_eq!(
        err,
        DecodeError::UnknownType {
            ty: MessageType(6),
            role: Role::Client
        }
    );
    assert_eq!(err.disposition(), CLOSE_1002);
    let err = server(&[0x91, 4, 0, 0]).expect_err("unknown");
    assert_eq!(err.disposition(), Disposition::Ignore);
    assert_eq!(err.disposition().answer(), None);
}

#[test]
fn extension_types_decode_only_when_declared_and_only_in_their_role() {
    let options = DecodeOptions::default().with_extensions(ExtensionTypes::sync());
    let body = [0x11, 6, 0, 0, 0xab, 0xcd];
    assert!(client(&body).is_err());
    let decoded = ClientMessage::decode(Bytes::copy_from_slice(&body), &options).expect("declared");
    let ClientMessage::Extension(ext) = decoded else {
        panic!("expected an extension, got {decoded:?}");
    };
    assert_eq!(ext.message_type(), MessageType(0x11));
    assert_eq!(ext.body()[..], [0xab, 0xcd]);
    // A declared server type arriving at a server is still a role violation.
    let err = ClientMessage::decode(Bytes::from_static(&[0x91, 4, 0, 0]), &options)
        .expect_err("wrong role");
    assert!(matches!(err, DecodeError::WrongRole { .. }));
}

#[test]
fn get_body_must_be_whole_references() {
    let mut bytes = vec![0x01, 0, 0, 0, 2, 0, 0, 0];
    bytes.extend([0x11; 50]);
    bytes[1] = 58;
    let err = client(&bytes).expect_err("not whole");
    assert_eq!(err, DecodeError::GetBodyNotReferences { len: 50 });
    assert_eq!(err.disposition(), CLOSE_1002);
}

#[test]
fn an_invalid_filter_rejects_the_query_and_keeps_the_connection() {
    for ty in [MessageType::QUERY, MessageType::SUBSCRIBE] {
        let mut bytes = query_bytes().to_vec();
        bytes[0] = ty.0;
        bytes[8 + 8 + 1] = 0; // the element's length byte
        let err = client(&bytes).expect_err("bad filter");
        assert_eq!(
            err,
            DecodeError::InvalidFilter {
                ty,
                query_id: QueryId(0x0a0b),
                source: FilterError::ZeroLength {
                    offset: 8,
                    element_type: crate::ElementType::AUTHOR_KEYS
                }
            }
        );
        assert_eq!(err.disposition(), Disposition::RejectQuery(QueryId(0x0a0b)));
        assert_eq!(
            err.disposition().answer(),
            Some(ServerMessage::QueryClosed {
                query_id: QueryId(0x0a0b),
                code: QueryClosedCode::RejectedInvalid
            })
        );
    }
    // A Query whose body is not even a filter header still names its query.
    let err = client(&[0x02, 12, 0, 0, 9, 0, 0, 0, 1, 2, 3, 4]).expect_err("bad filter");
    assert_eq!(err.disposition(), Disposition::RejectQuery(QueryId(9)));
}

#[test]
fn an_invalid_record_with_an_id_rejects_the_submission() {
    let bytes = submission_bytes();
    let prefix = sample_record().id_prefix();
    // Break a reserved flag bit: record byte 201 is message byte 209.
    let err = client(&with_byte(&bytes, 8 + 201, 0x80)).expect_err("bad record");
    assert!(matches!(
        err,
        DecodeError::InvalidRecord {
            source: RecordError::ReservedFlags { .. },
            ..
        }
    ));
    assert_eq!(err.disposition(), Disposition::RejectSubmission(prefix));
    assert_eq!(
        err.disposition().answer(),
        Some(ServerMessage::SubmissionResult {
            code: SubmissionResultCode::RejectedInvalid,
            id_prefix: prefix
        })
    );
}

#[test]
fn a_record_too_short_to_hold_an_id_closes_the_connection() {
    let mut bytes = BytesMut::new();
    bytes.put_slice(&[0x05, 8 + 111, 0, 0, 0, 0, 0, 0]);
    bytes.put_bytes(0x01, 111);
    let err = client(&bytes).expect_err("bad record");
    assert!(matches!(
        err,
        DecodeError::InvalidRecord {
            id_prefix: None,
            source: RecordError::TooShort { len: 111 },
            ..
        }
    ));
    assert_eq!(err.disposition(), CLOSE_1002);
    // 112 bytes reach the end of the ID: the answer names it.
    let mut bytes = BytesMut::new();
    bytes.put_slice(&[0x05, 8 + 112, 0, 0, 0, 0, 0, 0]);
    bytes.put_bytes(0x01, 112);
    let err = client(&bytes).expect_err("bad record");
    assert_eq!(
        err.disposition(),
        Disposition::RejectSubmission(IdPrefix([0x01; 32]))
    );
}

#[test]
fn an_invalid_record_from_a_server_closes_the_connection() {
    let bytes = record_message_bytes();
    let err = server(&with_byte(&bytes, 8 + 144, 0x00)).expect_err("bad record");
    assert!(matches!(
        err,
        DecodeError::InvalidRecord {
            source: RecordError::NonceTopBitClear,
            ..
        }
    ));
    assert_eq!(err.disposition(), CLOSE_1002);
}

#[test]
fn oversize_messages_close_with_1009() {
    let options = DecodeOptions::default()
        .with_max_message_len(100)
        .expect("valid");
    let err = ClientMessage::decode(submission_bytes(), &options).expect_err("oversize");
    assert_eq!(
        err,
        DecodeError::TooLarge {
            ty: MessageType::SUBMISSION,
            len: 8 + 224,
            max: 100
        }
    );
    assert_eq!(
        err.disposition(),
        Disposition::Close(CloseCode::MESSAGE_TOO_BIG)
    );
    // Exactly at the limit is fine.
    let options = DecodeOptions::default()
        .with_max_message_len(8 + 224)
        .expect("valid");
    assert!(ClientMessage::decode(submission_bytes(), &options).is_ok());
    assert!(DecodeOptions::default().with_max_message_len(7).is_err());
    assert!(
        DecodeOptions::default()
            .with_max_message_len(1 << 24)
            .is_err()
    );
}

#[test]
fn decoded_bodies_share_the_input_buffer() {
    let bytes = submission_bytes();
    let start = bytes.as_ptr() as usize;
    let ClientMessage::Submission { record } =
        ClientMessage::decode(bytes.clone(), &DecodeOptions::default()).expect("valid")
    else {
        panic!("not a submission");
    };
    assert_eq!(record.as_bytes().as_ptr() as usize, start + 8);
    let query = query_bytes();
    let start = query.as_ptr() as usize;
    let Ok(ClientMessage::Query { filter, .. }) =
        ClientMessage::decode(query.clone(), &DecodeOptions::default())
    else {
        panic!("not a query");
    };
    assert_eq!(filter.as_bytes().as_ptr() as usize, start + 8);
}
