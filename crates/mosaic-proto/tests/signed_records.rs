//! Signed records through the public API only, as another implementation would
//! use it: the committed vectors in `tests/vectors/signed_records.txt` rebuild
//! byte for byte and validate (or fail at the step they name), signing then
//! validating is the identity over generated fields, and no record with a
//! changed byte validates.
#![cfg(feature = "crypto")]

use bytes::Bytes;
use mosaic_proto::ed25519_dalek::SigningKey;
use mosaic_proto::{
    Kind, Record, RecordError, RecordFlags, RecordInvalid, RecordParts, Tag, Timestamp,
};
use proptest::prelude::*;

mod common;
use common::kind;

const VECTORS: &str = include_str!("vectors/signed_records.txt");

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex: {text}");
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn unhex_array<const N: usize>(text: &str) -> [u8; N] {
    unhex(text).try_into().expect("length")
}

/// One block of `name = value` lines, in order (names may repeat).
struct Vector(Vec<(String, String)>);

impl Vector {
    fn get(&self, name: &str) -> &str {
        self.all(name).next().unwrap_or_else(|| panic!("no {name}"))
    }

    fn all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    let mut block = Vec::new();
    for line in VECTORS.lines().chain([""]) {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if !block.is_empty() {
                out.push(Vector(std::mem::take(&mut block)));
            }
            continue;
        }
        let (name, value) = line.split_once('=').expect("name = value");
        block.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    out
}

/// The record.md validation step a failure stands for; 0 for the layout rules
/// outside the numbered steps (nonce and ID top bits, kind bits, tags, padding).
fn failed_step(bytes: &[u8]) -> Option<u8> {
    let record = match Record::from_bytes(Bytes::copy_from_slice(bytes)) {
        Ok(record) => record,
        Err(RecordError::TooShort { .. } | RecordError::TooLong { .. }) => return Some(1),
        Err(RecordError::LengthMismatch { .. }) => return Some(2),
        Err(RecordError::TimestampMismatch { .. }) => return Some(8),
        Err(RecordError::IdLowBytesNotZero { .. }) => return Some(10),
        Err(RecordError::ReservedFlags { .. } | RecordError::UnsupportedSignatureScheme { .. }) => {
            return Some(11);
        }
        Err(_) => return Some(0),
    };
    match record.verify() {
        Ok(_) => None,
        Err(RecordInvalid::SigningKey(_)) => Some(3),
        Err(RecordInvalid::AuthorKey(_)) => Some(4),
        Err(RecordInvalid::NotASubkey) => Some(5),
        Err(RecordInvalid::HashMismatch) => Some(7),
        Err(RecordInvalid::BadSignature) => Some(9),
        Err(other) => panic!("unexpected {other}"),
    }
}

#[test]
fn valid_vectors_rebuild_byte_for_byte_and_validate() {
    let mut count = 0;
    for v in vectors().iter().filter(|v| v.get("expect") == "valid") {
        let name = v.get("vector");
        let signing = SigningKey::from_bytes(&unhex_array(v.get("signing_secret")));
        let author = SigningKey::from_bytes(&unhex_array(v.get("author_secret")));
        assert_eq!(
            signing.verifying_key().to_bytes(),
            unhex_array(v.get("signing_public")),
            "{name}"
        );
        assert_eq!(
            author.verifying_key().to_bytes(),
            unhex_array(v.get("author_public")),
            "{name}"
        );
        let tag_data: Vec<(u16, Vec<u8>)> = v
            .all("tag")
            .map(|t| {
                let (ty, value) = t.split_once(' ').unwrap_or((t, ""));
                (u16::from_str_radix(ty, 16).expect("type"), unhex(value))
            })
            .collect();
        let tags: Vec<Tag<'_>> = tag_data
            .iter()
            .map(|(t, value)| Tag::new(*t, value).expect("tag"))
            .collect();
        let payload = unhex(v.get("payload"));
        let record = RecordParts {
            signing_key: signing.verifying_key().to_bytes(),
            author_key: author.verifying_key().to_bytes(),
            kind: Kind::from_bytes(unhex_array(v.get("kind"))),
            address_nonce: unhex_array(v.get("address_nonce")),
            timestamp: Timestamp::from_nanos(v.get("timestamp").parse().expect("decimal")),
            flags: RecordFlags::from_bits(u16::from_str_radix(v.get("flags"), 16).expect("hex")),
            tags: &tags,
            payload: &payload,
        }
        .sign(&signing)
        .expect("signs");
        let expected = unhex(v.get("record"));
        assert_eq!(record.as_bytes()[..], expected[..], "{name}: record");
        assert_eq!(record.full_hash()[..], unhex(v.get("hash"))[..], "{name}");
        assert_eq!(
            record.signature()[..],
            unhex(v.get("signature"))[..],
            "{name}"
        );
        let read = Record::from_bytes(Bytes::from(expected)).expect("structure");
        read.verify().expect("valid");
        assert_eq!(failed_step(read.as_bytes()), None);
        count += 1;
    }
    assert_eq!(count, 3);
}

#[test]
fn invalid_vectors_fail_at_their_step() {
    let mut count = 0;
    for v in vectors().iter().filter(|v| v.get("expect") != "valid") {
        let name = v.get("vector");
        let expect = v.get("expect");
        let step: u8 = expect
            .rsplit_once("step ")
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or_else(|| panic!("{name}: expect {expect}"));
        let bytes = unhex(v.get("record"));
        assert_eq!(failed_step(&bytes), Some(step), "{name}");
        count += 1;
    }
    assert!(count >= 10, "{count}");
}

/// Every single-byte change to every valid vector is caught: for each byte,
/// three different changes.
#[test]
fn no_changed_byte_of_a_vector_validates() {
    for v in vectors().iter().filter(|v| v.get("expect") == "valid") {
        let good = unhex(v.get("record"));
        for at in 0..good.len() {
            for mask in [0x01, 0x80, 0xff] {
                let mut bytes = good.clone();
                bytes[at] ^= mask;
                assert!(
                    failed_step(&bytes).is_some(),
                    "{}: byte {at} ^ {mask:#04x} validates",
                    v.get("vector")
                );
            }
        }
    }
}

/// Everything a record is built from, with the signing key's secret.
#[derive(Clone, Debug)]
struct Fields {
    signing_secret: [u8; 32],
    /// `None`: the master key signs its own record.
    author_secret: Option<[u8; 32]>,
    kind: Kind,
    address_nonce: [u8; 8],
    timestamp: u64,
    flags: u16,
    tags: Vec<(u16, Vec<u8>)>,
    payload: Vec<u8>,
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        any::<[u8; 32]>(),
        prop::option::of(any::<[u8; 32]>()),
        kind(),
        any::<[u8; 8]>(),
        any::<u64>(),
        prop::sample::select(vec![0u16, 0x0001, 0x0004, 0x0005]),
        prop::collection::vec((1u16.., prop::collection::vec(any::<u8>(), 0..=253)), 0..5),
        prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..600),
            1 => prop::collection::vec(any::<u8>(), 600..5000),
        ],
    )
        .prop_map(
            |(
                signing_secret,
                author_secret,
                kind,
                mut address_nonce,
                timestamp,
                flags,
                tags,
                payload,
            )| {
                address_nonce[0] |= 0x80;
                Fields {
                    signing_secret,
                    author_secret,
                    kind,
                    address_nonce,
                    timestamp,
                    flags,
                    tags,
                    payload,
                }
            },
        )
}

impl Fields {
    fn sign(&self) -> Record {
        let signing = SigningKey::from_bytes(&self.signing_secret);
        let author = SigningKey::from_bytes(&self.author_secret.unwrap_or(self.signing_secret));
        let tags: Vec<Tag<'_>> = self
            .tags
            .iter()
            .map(|(t, v)| Tag::new(*t, v).expect("tag"))
            .collect();
        RecordParts {
            signing_key: signing.verifying_key().to_bytes(),
            author_key: author.verifying_key().to_bytes(),
            kind: self.kind,
            address_nonce: self.address_nonce,
            timestamp: Timestamp::from_nanos(self.timestamp).record_aligned(),
            flags: RecordFlags::from_bits(self.flags),
            tags: &tags,
            payload: &self.payload,
        }
        .sign(&signing)
        .expect("generated fields fit a record")
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Construct, send as bytes, read back, validate: the fields survive.
    #[test]
    fn signed_records_round_trip_and_validate(f in fields()) {
        let record = f.sign();
        let read = Record::from_bytes(Bytes::copy_from_slice(record.as_bytes())).expect("structure");
        let verified = read.verify().expect("valid");
        let signing = SigningKey::from_bytes(&f.signing_secret).verifying_key().to_bytes();
        prop_assert_eq!(verified.signing_key(), &signing);
        prop_assert!(verified.verify_with(|_, s| s == &signing).is_ok());
        prop_assert_eq!(verified.kind(), f.kind);
        prop_assert_eq!(verified.address_nonce(), f.address_nonce);
        prop_assert_eq!(verified.timestamp(), Timestamp::from_nanos(f.timestamp).record_aligned());
        prop_assert_eq!(verified.flags().bits(), f.flags);
        prop_assert_eq!(verified.payload(), &f.payload[..]);
        let tags: Vec<(u16, Vec<u8>)> =
            verified.tags().map(|t| (t.tag_type(), t.value().to_vec())).collect();
        prop_assert_eq!(tags, f.tags.clone());
        prop_assert_eq!(&verified.hash_prefix()[..], &verified.full_hash()[..40]);
    }

    /// A record with any bad byte that validates is a defect: change one byte
    /// (anywhere, to any other value) and either the structure or the full
    /// validation must fail. Forty changes per signed record.
    #[test]
    fn a_changed_byte_never_validates(
        f in fields(),
        changes in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 40),
    ) {
        let good = f.sign().into_bytes().to_vec();
        for (at, delta) in changes {
            let at = at.index(good.len());
            let mut bytes = good.clone();
            bytes[at] ^= delta;
            prop_assert!(failed_step(&bytes).is_some(), "byte {} ^ {:#04x} validates", at, delta);
        }
    }
}
