//! Filter structure and matching.

use bytes::Bytes;

use super::*;
use crate::test_support::{record_with, sample_record, with_byte};
use crate::{IdPrefix, Kind, Tag, TagError};

fn parse(bytes: &[u8]) -> Result<Filter, FilterError> {
    Filter::from_bytes(Bytes::copy_from_slice(bytes))
}

/// A filter of one element with `data` after the element header.
fn one_element(ty: u8, data: &[u8]) -> Vec<u8> {
    let len = 16 + data.len();
    let mut v = vec![len as u8, (len >> 8) as u8, 0, 0, 0, 0, 0, 0];
    v.extend([ty, (1 + data.len() / 8) as u8, 0, 0, 0, 0, 0, 0]);
    v.extend(data);
    v
}

#[test]
fn header_rules() {
    assert_eq!(
        parse(&[8, 0, 0, 0, 0, 0, 0]),
        Err(FilterError::TooShort { len: 7 })
    );
    assert!(
        parse(&[8, 0, 0, 0, 0, 0, 0, 0])
            .expect("empty filter")
            .is_empty()
    );
    assert_eq!(
        parse(&[16, 0, 0, 0, 0, 0, 0, 0]),
        Err(FilterError::LengthMismatch {
            declared: 16,
            actual: 8
        })
    );
    assert_eq!(
        parse(&[12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(FilterError::NotWordAligned { len: 12 })
    );
    for offset in 2..8 {
        assert_eq!(
            parse(&with_byte(&[8, 0, 0, 0, 0, 0, 0, 0], offset, 3)),
            Err(FilterError::NonZeroReserved { offset, value: 3 })
        );
    }
    let huge = vec![0u8; 65536];
    assert_eq!(parse(&huge), Err(FilterError::TooLong { len: 65536 }));
}

#[test]
fn element_rules() {
    let keys = one_element(0x01, &[7; 32]);
    assert!(parse(&keys).is_ok());
    assert_eq!(
        parse(&with_byte(&keys, 9, 0)),
        Err(FilterError::ZeroLength {
            offset: 8,
            element_type: ElementType::AUTHOR_KEYS
        })
    );
    assert_eq!(
        parse(&with_byte(&keys, 9, 6)),
        Err(FilterError::ElementOverrun {
            offset: 8,
            element_type: ElementType::AUTHOR_KEYS,
            len: 48,
            remaining: 40
        })
    );
    for byte in 2..8 {
        assert_eq!(
            parse(&with_byte(&keys, 8 + byte, 1)),
            Err(FilterError::ElementReserved {
                offset: 8,
                element_type: ElementType::AUTHOR_KEYS,
                byte,
                value: 1
            })
        );
    }
    for ty in [0x00, 0x06, 0x7f, 0x86, 0xff] {
        assert_eq!(
            parse(&one_element(ty, &[0; 8])),
            Err(FilterError::UnknownElement {
                offset: 8,
                element_type: ElementType(ty)
            })
        );
    }
}

#[test]
fn per_element_sizes() {
    for ty in [0x01, 0x02, 0x84] {
        assert!(parse(&one_element(ty, &[1; 64])).is_ok());
        assert!(
            parse(&one_element(ty, &[])).is_ok(),
            "an empty list is allowed"
        );
        assert!(
            matches!(
                parse(&one_element(ty, &[1; 40])),
                Err(FilterError::ElementSize { len: 40, .. })
            ),
            "type 0x{ty:02x}"
        );
    }
    for ty in [0x03, 0x04] {
        assert!(parse(&one_element(ty, &[1; 24])).is_ok());
    }
    for ty in [0x80, 0x81, 0x82, 0x83] {
        assert!(parse(&one_element(ty, &[1; 8])).is_ok());
        for len in [0, 16] {
            assert!(matches!(
                parse(&one_element(ty, &vec![1; len])),
                Err(FilterError::ElementSize { .. })
            ));
        }
    }
    for ty in [0x05, 0x85] {
        // tag 0x0001, length 2, "xy", then 3 bytes of padding
        assert!(parse(&one_element(ty, &[1, 0, 2, b'x', b'y', 0, 0, 0])).is_ok());
        assert_eq!(
            parse(&one_element(ty, &[1, 0, 2, b'x', b'y', 0, 0, 9])),
            Err(FilterError::ElementTags {
                offset: 8,
                element_type: ElementType(ty),
                source: TagError::PaddingNotZero {
                    offset: 7,
                    value: 9
                }
            })
        );
        assert!(matches!(
            parse(&one_element(ty, &[1, 0, 9, b'x', b'y', 0, 0, 0])),
            Err(FilterError::ElementTags {
                source: TagError::ValueOverrun { .. },
                ..
            })
        ));
    }
}

#[test]
fn only_the_first_element_of_a_type_counts() {
    let record = sample_record();
    let filter = Filter::builder()
        .author_keys(&[*record.author_key()])
        .author_keys(&[[0; 32]])
        .build()
        .expect("fits");
    assert!(filter.matches(&record, Timestamp::ZERO));
    let filter = Filter::builder()
        .author_keys(&[[0; 32]])
        .author_keys(&[*record.author_key()])
        .build()
        .expect("fits");
    assert!(!filter.matches(&record, Timestamp::ZERO));
    assert_eq!(filter.elements().count(), 2);
    assert!(matches!(
        filter.element(ElementType::AUTHOR_KEYS),
        Some(FilterElement::AuthorKeys([k])) if *k == [0; 32]
    ));
}

/// A later element of a type is ignored when matching, but not when reading:
/// a malformed one makes the whole filter malformed (the crate README's
/// choice), as it would anywhere else.
#[test]
fn a_malformed_later_element_of_a_type_is_still_an_error() {
    // Since (one timestamp), then a second Since of two words.
    let mut bytes = one_element(0x80, &[0; 8]);
    bytes.extend([0x80, 3, 0, 0, 0, 0, 0, 0]);
    bytes.extend([0; 16]);
    bytes[0] = bytes.len() as u8;
    assert!(matches!(
        parse(&bytes),
        Err(FilterError::ElementSize { offset: 24, .. })
    ));
    // The same second element, well formed, is read and then ignored.
    bytes.truncate(24);
    bytes.extend([0x80, 2, 0, 0, 0, 0, 0, 0]);
    bytes.extend([0xff; 8]);
    bytes[0] = bytes.len() as u8;
    let filter = parse(&bytes).expect("well formed");
    assert!(filter.matches(&sample_record(), Timestamp::ZERO));
}

type AddElement = Box<dyn Fn(FilterBuilder) -> FilterBuilder>;

/// One element of each type that the sample record passes, and one that it
/// fails, with the received-at time they assume.
fn element_cases() -> (Timestamp, Vec<(&'static str, AddElement, bool)>) {
    let record = sample_record(); // ts 0x1_0000, tag (1, "abc")
    let ts = record.timestamp();
    let later = Timestamp::from_nanos(ts.as_nanos() + 1);
    let earlier = Timestamp::from_nanos(ts.as_nanos() - 1);
    let abc = Tag::new(1, b"abc").expect("tag");
    let abd = Tag::new(1, b"abd").expect("tag");
    let other_type = Tag::new(2, b"abc").expect("tag");
    let kind = record.kind();
    let other_kind = Kind::from_bytes([0, 0, 0, 0, 1, 0, 2, 0x1c]);
    let received = Timestamp::from_nanos(5_000);
    let cases: Vec<(&str, AddElement, bool)> = vec![
        (
            "author key listed",
            Box::new(|b: FilterBuilder| b.author_keys(&[[9; 32], [0x33; 32]])),
            true,
        ),
        (
            "author key absent",
            Box::new(|b: FilterBuilder| b.author_keys(&[[9; 32]])),
            false,
        ),
        (
            "empty author list",
            Box::new(|b: FilterBuilder| b.author_keys(&[])),
            false,
        ),
        (
            "signing key listed",
            Box::new(|b: FilterBuilder| b.signing_keys(&[[0x22; 32]])),
            true,
        ),
        (
            "signing key absent",
            Box::new(|b: FilterBuilder| b.signing_keys(&[[0x33; 32]])),
            false,
        ),
        (
            "kind listed",
            Box::new(move |b: FilterBuilder| b.kinds(&[other_kind, kind])),
            true,
        ),
        (
            "kind absent",
            Box::new(move |b: FilterBuilder| b.kinds(&[other_kind])),
            false,
        ),
        (
            "timestamp listed",
            Box::new(move |b: FilterBuilder| b.timestamps(&[ts])),
            true,
        ),
        (
            "timestamp absent",
            Box::new(move |b: FilterBuilder| b.timestamps(&[later])),
            false,
        ),
        (
            "included tag present",
            Box::new(move |b: FilterBuilder| b.included_tags(&[abd, abc])),
            true,
        ),
        (
            "included tag: value differs",
            Box::new(move |b: FilterBuilder| b.included_tags(&[abd])),
            false,
        ),
        (
            "included tag: type differs",
            Box::new(move |b: FilterBuilder| b.included_tags(&[other_type])),
            false,
        ),
        (
            "since equal",
            Box::new(move |b: FilterBuilder| b.since(ts)),
            true,
        ),
        (
            "since later",
            Box::new(move |b: FilterBuilder| b.since(later)),
            false,
        ),
        (
            "until equal",
            Box::new(move |b: FilterBuilder| b.until(ts)),
            true,
        ),
        (
            "until earlier",
            Box::new(move |b: FilterBuilder| b.until(earlier)),
            false,
        ),
        (
            "received since",
            Box::new(move |b: FilterBuilder| b.received_since(received)),
            true,
        ),
        (
            "received since later",
            Box::new(|b: FilterBuilder| b.received_since(Timestamp::from_nanos(5_001))),
            false,
        ),
        (
            "received until",
            Box::new(move |b: FilterBuilder| b.received_until(received)),
            true,
        ),
        (
            "received until earlier",
            Box::new(|b: FilterBuilder| b.received_until(Timestamp::from_nanos(4_999))),
            false,
        ),
        (
            "exclude other",
            Box::new(|b: FilterBuilder| b.exclude(&[IdPrefix([0; 32])])),
            true,
        ),
        (
            "exclude this",
            Box::new(move |b: FilterBuilder| b.exclude(&[record.id_prefix()])),
            false,
        ),
        (
            "excluded tag absent",
            Box::new(move |b: FilterBuilder| b.excluded_tags(&[abd])),
            true,
        ),
        (
            "excluded tag present",
            Box::new(move |b: FilterBuilder| b.excluded_tags(&[abc])),
            false,
        ),
    ];
    (received, cases)
}

#[test]
fn each_element_type_matches_and_rejects() {
    let (received, cases) = element_cases();
    let record = sample_record();
    for (name, build, expected) in cases {
        let filter = build(Filter::builder()).build().expect("fits");
        assert_eq!(filter.matches(&record, received), expected, "{name}");
    }
    assert!(
        Filter::builder()
            .build()
            .expect("empty")
            .matches(&record, received)
    );
}

/// A filter read from a large buffer holds all of it; its detached copy
/// holds none of it and judges every record as the filter read does.
#[test]
fn a_detached_filter_holds_none_of_the_buffer_it_was_read_from() {
    let (received, cases) = element_cases();
    let record = sample_record();
    for (name, build, expected) in cases {
        let built = build(Filter::builder()).build().expect("fits");
        let mut read_buffer = bytes::BytesMut::with_capacity(64 * 1024);
        read_buffer.extend_from_slice(built.as_bytes());
        read_buffer.extend_from_slice(&[0; 1000]);
        let read_buffer = read_buffer.freeze();
        let read = Filter::from_bytes(read_buffer.slice(..built.len())).expect("valid");
        let kept = read.detached();
        assert!(
            !read_buffer.is_unique(),
            "{name}: the read filter shares it"
        );
        drop(read);
        assert!(read_buffer.is_unique(), "{name}: the copy holds none of it");
        assert_eq!(kept, built, "{name}");
        assert_eq!(kept.matches(&record, received), expected, "{name}");
    }
}

/// Every element type keeps its own "first one counts" slot: an element that
/// fails after passing elements of every other type still fails the filter,
/// and one that fails before a passing element of its own type does too.
#[test]
fn each_type_is_judged_by_its_own_first_element() {
    let (received, cases) = element_cases();
    let record = sample_record();
    let type_of = |add: &AddElement| {
        let filter = add(Filter::builder()).build().expect("fits");
        filter
            .elements()
            .next()
            .expect("one element")
            .element_type()
    };
    let passing: Vec<_> = cases.iter().filter(|case| case.2).collect();
    for (name, failing, _) in cases.iter().filter(|case| !case.2) {
        let ty = type_of(failing);
        let mut others = Filter::builder();
        for (_, pass, _) in passing.iter().filter(|case| type_of(&case.1) != ty) {
            others = pass(others);
        }
        let after_others = failing(others).build().expect("fits");
        assert!(
            !after_others.matches(&record, received),
            "{name} after the others"
        );
        let mut first = failing(Filter::builder());
        for (_, pass, _) in &passing {
            first = pass(first);
        }
        let first = first.build().expect("fits");
        assert!(
            !first.matches(&record, received),
            "{name} first of its type"
        );
    }
}

#[test]
fn every_element_must_pass() {
    let record = record_with(&[], b"", 0x2_0000);
    let filter = Filter::builder()
        .author_keys(&[[0x33; 32]])
        .since(Timestamp::from_nanos(0x3_0000))
        .build()
        .expect("fits");
    assert!(!filter.matches(&record, Timestamp::ZERO));
    assert!(filter.has_narrow_element());
    assert!(
        !Filter::builder()
            .since(Timestamp::ZERO)
            .build()
            .expect("fits")
            .has_narrow_element()
    );
}

#[test]
fn builder_refuses_what_does_not_fit() {
    let keys = vec![[1u8; 32]; 64]; // 8 + 2048 bytes > 2040
    assert_eq!(
        Filter::builder().author_keys(&keys).build(),
        Err(crate::BuildError::FilterElementTooLong {
            element_type: 1,
            len: 2056
        })
    );
    let keys = vec![[1u8; 32]; 63];
    let mut builder = Filter::builder();
    for _ in 0..33 {
        builder = builder.author_keys(&keys);
    }
    assert!(matches!(
        builder.build(),
        Err(crate::BuildError::FilterTooLong { .. })
    ));
}

/// The elements matching looks at are the first of each type in wire order,
/// one per type present, for built and parsed filters alike: a type missed
/// by the index would let records through that its element rejects.
#[test]
fn matching_looks_at_the_first_element_of_each_type_present() {
    let (_, cases) = element_cases();
    for a in &cases {
        for b in &cases {
            for c in &cases {
                let built = c.1(b.1(a.1(Filter::builder()))).build().expect("fits");
                let parsed = Filter::from_bytes(built.as_bytes().clone()).expect("valid");
                let mut expected: Vec<FilterElement<'_>> = Vec::new();
                for element in built.elements() {
                    if !expected
                        .iter()
                        .any(|e| e.element_type() == element.element_type())
                    {
                        expected.push(element);
                    }
                }
                expected.sort_by_key(|e| type_slot(e.element_type()));
                let names = (a.0, b.0, c.0);
                assert_eq!(
                    built.first_elements().collect::<Vec<_>>(),
                    expected,
                    "{names:?}"
                );
                assert_eq!(
                    parsed.first_elements().collect::<Vec<_>>(),
                    expected,
                    "{names:?}"
                );
            }
        }
    }
}
