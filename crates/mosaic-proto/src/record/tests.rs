//! One negative test per structural rule: flip the byte the rule guards and
//! show that exactly that rule fails.

use bytes::Bytes;

use super::*;
use crate::test_support::{record_with, sample_record, with_byte};
use crate::{BuildError, DuplicateHandling, ReadAccess, Tag};

fn parse(bytes: &[u8]) -> Result<Record, RecordError> {
    Record::from_bytes(Bytes::copy_from_slice(bytes))
}

fn sample_bytes() -> Bytes {
    sample_record().into_bytes()
}

#[test]
fn sample_is_valid_and_reads_back() {
    let record = parse(&sample_bytes()).expect("valid");
    assert_eq!(record.len(), 224);
    assert_eq!(record.payload(), b"hello");
    assert_eq!(&record.payload_bytes()[..], b"hello");
    assert_eq!(record.tags().count(), 1);
    assert_eq!(record.id().prefix(), record.id_prefix());
    assert_eq!(record.address().kind(), record.kind());
}

#[test]
fn step_1_length_bounds() {
    assert_eq!(
        parse(&sample_bytes()[..207]),
        Err(RecordError::TooShort { len: 207 })
    );
    let big = vec![0u8; MAX_RECORD_LEN + 8];
    assert_eq!(
        parse(&big),
        Err(RecordError::TooLong {
            len: MAX_RECORD_LEN + 8
        })
    );
}

#[test]
fn step_2_length_equals_header_plus_padded_sections() {
    // LenP 5 -> 13: the padded payload would be 16 bytes, not 8.
    assert_eq!(
        parse(&with_byte(&sample_bytes(), offset::LEN_P, 13)),
        Err(RecordError::LengthMismatch {
            len: 224,
            expected: 232,
            len_t: 6,
            len_p: 13
        })
    );
    let mut longer = sample_bytes().to_vec();
    longer.extend([0; 8]);
    assert!(matches!(
        parse(&longer),
        Err(RecordError::LengthMismatch { len: 232, .. })
    ));
}

#[test]
fn step_2_the_implied_length_does_not_wrap() {
    // The largest LenT and LenP: 208 + 65,536 + 4 GiB, in full.
    assert_eq!(implied_len(u16::MAX, u32::MAX), 208 + 65_536 + (1 << 32));
    // LenP 0xFFFF_FFF8 with LenT 8: on a 32-bit target a sum in `usize`
    // wraps round to 208 + 8 + 0xFFFF_FFF8 - 2^32 = 208, the length of this
    // header-only record, and the tags slice after it would be out of bounds.
    let mut bytes = sample_bytes()[..MIN_RECORD_LEN].to_vec();
    bytes[offset::LEN_T..offset::LEN_T + 2].copy_from_slice(&8u16.to_le_bytes());
    bytes[offset::LEN_P..offset::LEN_P + 4].copy_from_slice(&0xFFFF_FFF8u32.to_le_bytes());
    assert_eq!(
        implied_len(8, 0xFFFF_FFF8) % (1 << 32),
        MIN_RECORD_LEN as u64
    );
    assert!(matches!(
        parse(&bytes),
        Err(RecordError::LengthMismatch {
            len: 208,
            len_t: 8,
            len_p: 0xFFFF_FFF8,
            ..
        })
    ));
}

#[test]
fn step_8_id_timestamp_equals_signed_timestamp() {
    let err = parse(&with_byte(&sample_bytes(), offset::ID + 3, 1)).expect_err("mismatch");
    assert!(
        matches!(err, RecordError::TimestampMismatch { .. }),
        "{err}"
    );
    let err = parse(&with_byte(&sample_bytes(), offset::TIMESTAMP + 3, 1)).expect_err("mismatch");
    assert!(
        matches!(err, RecordError::TimestampMismatch { .. }),
        "{err}"
    );
}

#[test]
fn step_10_bytes_70_and_71_are_zero() {
    for at in [70, 71] {
        let mut bytes = sample_bytes().to_vec();
        bytes[at] = 0x12;
        bytes[offset::TIMESTAMP + at - offset::ID] = 0x12; // keep step 8 passing
        let err = parse(&bytes).expect_err("low bytes");
        assert!(
            matches!(err, RecordError::IdLowBytesNotZero { .. }),
            "{err}"
        );
    }
}

#[test]
fn step_11_reserved_flags_are_zero() {
    for bit in 0..16u16 {
        let flags = 1u16 << bit;
        let bytes = {
            let mut v = sample_bytes().to_vec();
            v[offset::FLAGS..offset::FLAGS + 2].copy_from_slice(&flags.to_le_bytes());
            v
        };
        let result = parse(&bytes);
        match flags {
            0x0001 | 0x0004 => assert!(result.is_ok(), "defined flag 0x{flags:04x}"),
            0x0040 | 0x0080 => assert_eq!(
                result,
                Err(RecordError::UnsupportedSignatureScheme {
                    scheme: (flags >> 6) as u8
                })
            ),
            _ => assert_eq!(
                result,
                Err(RecordError::ReservedFlags {
                    flags,
                    reserved: flags
                })
            ),
        }
    }
}

#[test]
fn field_rules_from_the_layout() {
    let err = parse(&with_byte(&sample_bytes(), offset::ID, 0x80)).expect_err("ID");
    // The ID timestamp now differs from the signed one first.
    assert!(matches!(err, RecordError::TimestampMismatch { .. }));
    let mut top = sample_bytes().to_vec();
    top[offset::ID] |= 0x80;
    top[offset::TIMESTAMP] |= 0x80;
    assert!(matches!(
        parse(&top),
        Err(RecordError::TimestampTopBit { .. })
    ));
    assert_eq!(
        parse(&with_byte(&sample_bytes(), offset::ADDRESS, 0x7f)),
        Err(RecordError::NonceTopBitClear)
    );
    for flag_byte in [0x20, 0x40, 0x80, 0b1000] {
        assert!(matches!(
            parse(&with_byte(&sample_bytes(), offset::KIND + 7, flag_byte)),
            Err(RecordError::ReservedKindBits { .. })
        ));
    }
}

#[test]
fn tags_must_be_well_formed_and_padding_zero() {
    // Tag value length 3 -> 9 overruns the 6-byte tags section.
    assert!(matches!(
        parse(&with_byte(&sample_bytes(), offset::TAGS + 2, 9)),
        Err(RecordError::Tags(crate::TagError::ValueOverrun { .. }))
    ));
    assert_eq!(
        parse(&with_byte(&sample_bytes(), offset::TAGS + 6, 1)),
        Err(RecordError::PaddingNotZero {
            section: "tags",
            offset: offset::TAGS + 6,
            value: 1
        })
    );
    assert_eq!(
        parse(&with_byte(&sample_bytes(), 223, 1)),
        Err(RecordError::PaddingNotZero {
            section: "payload",
            offset: 223,
            value: 1
        })
    );
}

#[test]
fn builder_refuses_fields_a_record_cannot_carry() {
    let tag = Tag::new(1, b"abc").expect("tag");
    let parts = RecordParts {
        signing_key: [1; 32],
        author_key: [2; 32],
        kind: crate::Kind::new(1, 1, DuplicateHandling::Unique, ReadAccess::Everybody, true)
            .expect("kind"),
        address_nonce: [0x80; 8],
        timestamp: crate::Timestamp::from_nanos(0x10_0000),
        flags: RecordFlags::empty(),
        tags: &[tag],
        payload: b"",
    };
    assert!(parts.lay_out().is_ok());
    let bad_nonce = RecordParts {
        address_nonce: [0x7f; 8],
        ..parts
    };
    assert_eq!(
        bad_nonce.lay_out().err(),
        Some(BuildError::NonceTopBitClear)
    );
    let bad_ts = RecordParts {
        timestamp: crate::Timestamp::from_nanos(0x10_0001),
        ..parts
    };
    assert!(matches!(
        bad_ts.lay_out(),
        Err(BuildError::TimestampNotRecordAligned { .. })
    ));
    let bad_flags = RecordParts {
        flags: RecordFlags::from_bits(0x0040),
        ..parts
    };
    assert!(matches!(
        bad_flags.lay_out(),
        Err(BuildError::UnsupportedFlags { .. })
    ));
    let big = vec![0u8; MAX_RECORD_LEN];
    let too_big = RecordParts {
        payload: &big,
        ..parts
    };
    assert!(matches!(
        too_big.lay_out(),
        Err(BuildError::RecordTooLong { .. })
    ));
    // The largest payload that fits, with no tags.
    let fits = vec![0u8; MAX_RECORD_LEN - MIN_RECORD_LEN];
    let record = RecordParts {
        payload: &fits,
        tags: &[],
        ..parts
    }
    .lay_out()
    .expect("fits")
    .finish(&[0; 64], &[0; 40]);
    assert_eq!(record.len(), MAX_RECORD_LEN);
}

#[test]
fn records_without_tags_or_payload_are_valid() {
    let record = record_with(&[], b"", 0);
    assert_eq!(record.len(), MIN_RECORD_LEN);
    assert_eq!(record.tags().count(), 0);
    assert!(record.payload().is_empty());
}

/// A record read from a large buffer holds all of it; its detached copy
/// holds none of it, and is the same record.
#[test]
fn a_detached_record_holds_none_of_the_buffer_it_was_read_from() {
    let record = sample_bytes();
    let mut read_buffer = bytes::BytesMut::with_capacity(64 * 1024);
    read_buffer.extend_from_slice(&record);
    read_buffer.extend_from_slice(&[0; 1000]);
    let read_buffer = read_buffer.freeze();
    let read = Record::from_bytes(read_buffer.slice(..record.len())).expect("valid");
    let shared = read.clone();
    let kept = read.detached();
    drop(read);
    assert!(!read_buffer.is_unique(), "a clone shares the buffer");
    drop(shared);
    assert!(
        read_buffer.is_unique(),
        "the detached copy holds none of it"
    );
    assert_eq!(kept.as_bytes(), &record);
    assert_eq!(kept.as_bytes().len(), record.len());
}
