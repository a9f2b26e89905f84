//! One negative test per validation step of record.md: change the bytes the step
//! guards in a validly signed record, re-hash and re-sign where that keeps the
//! other steps passing, and show that exactly that step fails.
//!
//! [`failing`] runs every step on its own (not stopping at the first failure),
//! so each test can state the whole set of steps that fail.

use bytes::Bytes;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use super::*;
use crate::{Kind, MAX_RECORD_LEN, MIN_RECORD_LEN, RecordError, RecordFlags, Tag, Timestamp};

/// The eight points of small order, in their canonical encodings: the identity,
/// the point of order 2, two of order 4 and four of order 8.
const SMALL_ORDER: [&str; 8] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
];

fn hex32(text: &str) -> [u8; 32] {
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

fn small_order_points() -> Vec<[u8; 32]> {
    SMALL_ORDER.iter().map(|h| hex32(h)).collect()
}

/// The encoding of y = p + `i` (p = 2^255 - 19), with the sign bit `sign`:
/// never canonical, since y is not reduced.
fn unreduced(i: u8, sign: bool) -> [u8; 32] {
    let mut bytes = [0xff; 32];
    bytes[0] = 0xed + i;
    bytes[31] = if sign { 0xff } else { 0x7f };
    bytes
}

fn subkey() -> SigningKey {
    SigningKey::from_bytes(&[0x5b; 32])
}

fn master() -> SigningKey {
    SigningKey::from_bytes(&[0x4d; 32])
}

fn sample_parts<'a>(tags: &'a [Tag<'a>], payload: &'a [u8]) -> RecordParts<'a> {
    RecordParts {
        signing_key: subkey().verifying_key().to_bytes(),
        author_key: master().verifying_key().to_bytes(),
        kind: Kind::from_bytes([0, 0, 0, 0, 1, 0, 1, 0x1c]),
        address_nonce: [0x80, 0, 0, 0, 0, 0, 0, 1],
        timestamp: Timestamp::from_nanos(1_750_000_000_000_000_000).record_aligned(),
        flags: RecordFlags::empty(),
        tags,
        payload,
    }
}

/// A validly signed 232-byte record with one tag and a short payload.
fn signed() -> Record {
    let tags = [Tag::new(1, b"abc").expect("tag")];
    sample_parts(&tags, b"hello, mosaic")
        .sign(&subkey())
        .expect("signs")
}

fn signed_bytes() -> Vec<u8> {
    signed().into_bytes().to_vec()
}

/// Fills in the ID timestamp, the ID hash and a signature made by `sign` from
/// the hasher that has absorbed `[112:]`, whatever the other bytes hold.
fn reseal_with(bytes: &mut [u8], sign: impl FnOnce(Blake3Xof64) -> [u8; 64]) {
    let timestamp: [u8; 8] = *array_at(bytes, offset::TIMESTAMP);
    bytes[offset::ID..offset::ID_HASH].copy_from_slice(&timestamp);
    let hasher = Blake3Xof64::of(&bytes[offset::SIGNING_KEY..]);
    bytes[offset::ID_HASH..offset::SIGNING_KEY].copy_from_slice(&hasher.hash()[..40]);
    bytes[..offset::ID].copy_from_slice(&sign(hasher));
}

/// [`reseal_with`] signing as construction does, with `key`.
fn reseal(bytes: &mut [u8], key: &SigningKey) {
    reseal_with(bytes, |hasher| {
        key.sign_prehashed(hasher, Some(SIGNATURE_CONTEXT))
            .expect("sign")
            .to_bytes()
    });
}

/// The validation step a structural error stands for.
fn structural_step(error: &RecordError) -> &'static str {
    match error {
        RecordError::TooShort { .. } | RecordError::TooLong { .. } => "1",
        RecordError::LengthMismatch { .. } => "2",
        RecordError::TimestampMismatch { .. } => "8",
        RecordError::IdLowBytesNotZero { .. } => "10",
        RecordError::ReservedFlags { .. } | RecordError::UnsupportedSignatureScheme { .. } => "11",
        _ => "layout",
    }
}

/// Every step that fails on `bytes`, each run on its own. The structural steps
/// report only the first of them (as `Record::from_bytes` does); the signature
/// step is strict verification with whatever key the bytes decode to.
fn failing(bytes: &[u8]) -> Vec<&'static str> {
    let mut steps = Vec::new();
    if let Err(error) = Record::from_bytes(Bytes::copy_from_slice(bytes)) {
        steps.push(structural_step(&error));
    }
    if bytes.len() < MIN_RECORD_LEN {
        return steps;
    }
    if check_signing_key(bytes).is_err() {
        steps.push("3");
    }
    if check_author_key(bytes).is_err() {
        steps.push("4");
    }
    let hasher = Blake3Xof64::of(&bytes[offset::SIGNING_KEY..]);
    if check_hash(bytes, &hasher).is_err() {
        steps.push("7");
    }
    let signature_ok = VerifyingKey::from_bytes(array_at(bytes, offset::SIGNING_KEY))
        .is_ok_and(|key| check_signature(bytes, &key, hasher).is_ok());
    if !signature_ok {
        steps.push("9");
    }
    steps
}

fn verify(bytes: &[u8]) -> Result<VerifiedRecord, RecordInvalid> {
    Record::from_bytes(Bytes::copy_from_slice(bytes))
        .expect("structurally valid")
        .verify()
}

#[test]
fn a_signed_record_passes_every_step() {
    let record = signed();
    assert_eq!(failing(record.as_bytes()), Vec::<&str>::new());
    let verified = record.verify().expect("valid");
    assert_eq!(verified.record(), &record);
    assert_eq!(&record.hash_prefix()[..], &record.full_hash()[..40]);
    assert_eq!(record.id().timestamp(), record.timestamp());
    // Signing is deterministic.
    assert_eq!(signed(), record);
}

#[test]
fn step_1_length_bounds() {
    let bytes = signed_bytes();
    assert_eq!(failing(&bytes[..MIN_RECORD_LEN - 1]), ["1"]);
    // The largest record signs and verifies; 8 bytes more is too long.
    let payload = vec![0xa5; MAX_RECORD_LEN - MIN_RECORD_LEN];
    let big = sample_parts(&[], &payload).sign(&subkey()).expect("fits");
    assert_eq!(big.len(), MAX_RECORD_LEN);
    assert!(big.verify().is_ok());
    let mut longer = big.into_bytes().to_vec();
    longer.extend([0; 8]);
    let len_p = (MAX_RECORD_LEN - MIN_RECORD_LEN + 8) as u32;
    longer[offset::LEN_P..offset::TAGS].copy_from_slice(&len_p.to_le_bytes());
    reseal(&mut longer, &subkey());
    assert_eq!(failing(&longer), ["1"]);
}

#[test]
fn step_2_length_equals_header_plus_padded_sections() {
    let mut bytes = signed_bytes();
    bytes[offset::LEN_P] += 8; // 13 -> 21 bytes of payload: 8 more than present
    reseal(&mut bytes, &subkey());
    assert_eq!(failing(&bytes), ["2"]);
}

#[test]
fn step_3_signing_key_small_order_with_a_signature_that_satisfies_the_equation() {
    // Under the identity as A, [s]B = R + [k]A holds for R = [s]B whatever the
    // message: take any scalar s and R = [s]B (a key pair's scalar and public key).
    let stand_in = SigningKey::from_bytes(&[0x77; 32]);
    let identity = small_order_points()[0];
    let mut bytes = signed_bytes();
    bytes[offset::SIGNING_KEY..offset::ADDRESS].copy_from_slice(&identity);
    reseal_with(&mut bytes, |_| {
        let mut signature = [0; 64];
        signature[..32].copy_from_slice(stand_in.verifying_key().as_bytes());
        signature[32..].copy_from_slice(&stand_in.to_scalar().to_bytes());
        signature
    });
    // The lax (non-strict) check accepts it: only the key check stands in the way.
    let weak = VerifyingKey::from_bytes(&identity).expect("a point");
    let hasher = Blake3Xof64::of(&bytes[offset::SIGNING_KEY..]);
    let signature = Signature::from_bytes(array_at(&bytes, 0));
    assert!(
        weak.verify_prehashed(hasher, Some(SIGNATURE_CONTEXT), &signature)
            .is_ok()
    );
    // Strict verification repeats the small-order check, so step 9 fails too.
    assert_eq!(failing(&bytes), ["3", "9"]);
    assert_eq!(
        verify(&bytes),
        Err(RecordInvalid::SigningKey(KeyDefect::SmallOrder))
    );
}

#[test]
fn step_3_signing_key_any_small_order_point() {
    for point in small_order_points() {
        let mut bytes = signed_bytes();
        bytes[offset::SIGNING_KEY..offset::ADDRESS].copy_from_slice(&point);
        reseal(&mut bytes, &subkey());
        assert_eq!(failing(&bytes), ["3", "9"]);
        assert_eq!(
            verify(&bytes),
            Err(RecordInvalid::SigningKey(KeyDefect::SmallOrder))
        );
    }
}

#[test]
fn step_3_signing_key_non_canonical_or_not_a_point() {
    let mut seen_non_canonical = 0;
    let mut seen_not_a_point = 0;
    for i in 0..19 {
        for sign in [false, true] {
            let key = unreduced(i, sign);
            let mut bytes = signed_bytes();
            bytes[offset::SIGNING_KEY..offset::ADDRESS].copy_from_slice(&key);
            reseal(&mut bytes, &subkey());
            assert_eq!(failing(&bytes), ["3", "9"]);
            match verify(&bytes) {
                Err(RecordInvalid::SigningKey(KeyDefect::NonCanonical)) => seen_non_canonical += 1,
                Err(RecordInvalid::SigningKey(KeyDefect::NotAPoint)) => seen_not_a_point += 1,
                other => panic!("y = p + {i}, sign {sign}: {other:?}"),
            }
        }
    }
    assert!(seen_non_canonical > 0 && seen_not_a_point > 0);
    // x = 0 with the sign bit set: the identity and the point of order 2.
    let mut negative_zero = hex32(SMALL_ORDER[0]);
    negative_zero[31] |= 0x80;
    assert_eq!(
        validate_public_key(&negative_zero).err(),
        Some(KeyDefect::NonCanonical)
    );
}

#[test]
fn step_4_author_key() {
    let mut cases: Vec<([u8; 32], KeyDefect)> = small_order_points()
        .into_iter()
        .map(|p| (p, KeyDefect::SmallOrder))
        .collect();
    for i in 0..19 {
        let key = unreduced(i, false);
        let defect = validate_public_key(&key).expect_err("unreduced");
        cases.push((key, defect));
    }
    for (key, defect) in cases {
        let mut bytes = signed_bytes();
        bytes[offset::AUTHOR_KEY..offset::TIMESTAMP].copy_from_slice(&key);
        reseal(&mut bytes, &subkey());
        // The record is properly hashed and signed: only the author key is wrong.
        assert_eq!(failing(&bytes), ["4"]);
        assert_eq!(verify(&bytes), Err(RecordInvalid::AuthorKey(defect)));
    }
}

#[test]
fn step_5_subkey_hook() {
    let record = signed();
    let master_key = master().verifying_key().to_bytes();
    let subkey_key = subkey().verifying_key().to_bytes();
    let verified = record
        .verify_with(|author, signing| author == &master_key && signing == &subkey_key)
        .expect("a subkey");
    assert_eq!(verified.into_record(), record);
    assert_eq!(
        record.verify_with(|_, _| false),
        Err(RecordInvalid::NotASubkey)
    );
    // The hook runs only once the signature holds.
    let mut bytes = signed_bytes();
    bytes[0] ^= 1;
    let forged = Record::from_bytes(Bytes::from(bytes)).expect("structure");
    assert_eq!(
        forged.verify_with(|_, _| panic!("hook called for a forged record")),
        Err(RecordInvalid::BadSignature)
    );
}

#[test]
fn steps_6_and_7_hash() {
    // A changed ID hash byte: the signature covers the full hash, not the ID.
    for at in [
        offset::ID_HASH,
        offset::ID_HASH + 20,
        offset::SIGNING_KEY - 1,
    ] {
        let mut bytes = signed_bytes();
        bytes[at] ^= 0x01;
        assert_eq!(failing(&bytes), ["7"]);
        assert_eq!(verify(&bytes), Err(RecordInvalid::HashMismatch));
    }
    // A changed signed byte changes the hash: step 7 fails first, step 9 too.
    let mut bytes = signed_bytes();
    let last = bytes.len() - 4; // inside "hello, mosaic"
    bytes[last] ^= 0x20;
    assert_eq!(failing(&bytes), ["7", "9"]);
    assert_eq!(verify(&bytes), Err(RecordInvalid::HashMismatch));
}

#[test]
fn step_8_id_timestamp() {
    for at in [offset::ID, offset::ID + 3, offset::ID + 5] {
        let mut bytes = signed_bytes();
        bytes[at] ^= 0x01;
        // The ID timestamp is not signed, so hash and signature still hold.
        assert_eq!(failing(&bytes), ["8"]);
    }
}

#[test]
fn step_9_signature() {
    // A flipped bit anywhere in R or in s.
    for at in [0, 17, 31, 32, 50, 63] {
        let mut bytes = signed_bytes();
        bytes[at] ^= 0x04;
        assert_eq!(failing(&bytes), ["9"], "byte {at}");
        assert_eq!(verify(&bytes), Err(RecordInvalid::BadSignature));
    }
}

/// L, the order of the prime subgroup, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

#[test]
fn step_9_rejects_s_out_of_range() {
    // s + L is the same scalar mod L: a lax verifier would accept it.
    let mut bytes = signed_bytes();
    let mut carry = 0u16;
    for (i, l) in L.iter().enumerate() {
        let sum = u16::from(bytes[32 + i]) + u16::from(*l) + carry;
        bytes[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    assert_eq!(failing(&bytes), ["9"]);
}

/// Makes a signature from the hasher that has absorbed `[112:]`.
type SignFn<'a> = dyn Fn(Blake3Xof64) -> [u8; 64] + 'a;

#[test]
fn step_9_rejects_other_signature_schemes() {
    let key = subkey();
    let schemes: [(&str, Box<SignFn<'_>>); 6] = [
        (
            "ed25519ph, no context",
            Box::new(|h| key.sign_prehashed(h, None).expect("sign").to_bytes()),
        ),
        (
            "ed25519ph, context \"mosaic\"",
            Box::new(|h| {
                key.sign_prehashed(h, Some(b"mosaic"))
                    .expect("sign")
                    .to_bytes()
            }),
        ),
        (
            "pure ed25519 over the 64-byte hash",
            Box::new(|h| key.sign(&h.hash()).to_bytes()),
        ),
        (
            "ed25519ph by the author's key",
            Box::new(|h| {
                master()
                    .sign_prehashed(h, Some(SIGNATURE_CONTEXT))
                    .expect("sign")
                    .to_bytes()
            }),
        ),
        (
            "ed25519ph with SHA-512 as the prehash",
            Box::new(|_| {
                let sha = <ed25519_dalek::Sha512 as digest::Digest>::new_with_prefix(
                    &signed_bytes()[offset::SIGNING_KEY..],
                );
                key.sign_prehashed(sha, Some(SIGNATURE_CONTEXT))
                    .expect("sign")
                    .to_bytes()
            }),
        ),
        (
            "the signature of another record",
            Box::new(|_| {
                let tags = [];
                *sample_parts(&tags, b"another")
                    .sign(&key)
                    .expect("signs")
                    .signature()
            }),
        ),
    ];
    for (name, sign) in schemes {
        let mut bytes = signed_bytes();
        reseal_with(&mut bytes, sign);
        assert_eq!(failing(&bytes), ["9"], "{name}");
    }
}

#[test]
fn step_9_is_cofactorless_for_mixed_order_keys() {
    // A' = A + T for a point T of order 8 passes the key checks (cryptography.md
    // rejects only the eight small-order points) ...
    let torsion = VerifyingKey::from_bytes(&hex32(SMALL_ORDER[4])).expect("point");
    let honest = subkey().verifying_key();
    let mixed_bytes = (honest.to_edwards() + torsion.to_edwards())
        .compress()
        .to_bytes();
    let mixed = validate_public_key(&mixed_bytes).expect("mixed order passes the key checks");
    // ... and a signature made with the secret of A but the challenge of A'
    // (s = r + k'a) satisfies the cofactored equation, since
    // [s]B - R - [k']A' = -[k']T and [8]T = 0, but not the cofactorless one
    // unless 8 divides k'. Strict verification refuses it, as Record::verify
    // documents.
    let expanded = ed25519_dalek::hazmat::ExpandedSecretKey::from(&[0x5b; 32]);
    let hazmat_sign = |hasher, key: &VerifyingKey| {
        ed25519_dalek::hazmat::raw_sign_prehashed::<ed25519_dalek::Sha512, _>(
            &expanded,
            hasher,
            key,
            Some(SIGNATURE_CONTEXT),
        )
        .expect("sign")
        .to_bytes()
    };
    // Raw signing with the honest key gives exactly what construction gives.
    let mut bytes = signed_bytes();
    reseal_with(&mut bytes, |hasher| hazmat_sign(hasher, &honest));
    assert_eq!(bytes, signed_bytes());
    let mut bytes = signed_bytes();
    bytes[offset::SIGNING_KEY..offset::ADDRESS].copy_from_slice(&mixed_bytes);
    reseal_with(&mut bytes, |hasher| hazmat_sign(hasher, &mixed));
    assert_eq!(failing(&bytes), ["9"]);
    assert_eq!(verify(&bytes), Err(RecordInvalid::BadSignature));
}

#[test]
fn step_10_bytes_70_and_71() {
    for at in [70, 71] {
        let mut bytes = signed_bytes();
        // Set the byte in the signed timestamp and re-sign, so that step 8
        // (ID timestamp = signed timestamp) and the crypto steps still pass.
        bytes[offset::TIMESTAMP + at - offset::ID] = 0x01;
        reseal(&mut bytes, &subkey());
        assert_eq!(bytes[at], 0x01);
        assert_eq!(failing(&bytes), ["10"]);
    }
}

#[test]
fn step_11_reserved_flags() {
    for bit in 0..16u16 {
        let flags = 1u16 << bit;
        let mut bytes = signed_bytes();
        bytes[offset::FLAGS..offset::LEN_T].copy_from_slice(&flags.to_le_bytes());
        reseal(&mut bytes, &subkey());
        let expected: &[&str] = match flags {
            0x0001 | 0x0004 => &[],
            _ => &["11"],
        };
        assert_eq!(failing(&bytes), expected, "flags 0x{flags:04x}");
    }
}

#[test]
fn sign_refuses_a_mismatched_key_or_an_invalid_author_key() {
    let tags = [];
    let parts = sample_parts(&tags, b"x");
    assert_eq!(
        parts.sign(&master()).err(),
        Some(BuildError::SigningKeyMismatch)
    );
    for (author, defect) in [
        (small_order_points()[7], KeyDefect::SmallOrder),
        (unreduced(1, false), KeyDefect::NonCanonical),
    ] {
        let parts = RecordParts {
            author_key: author,
            ..parts
        };
        assert_eq!(
            parts.sign(&subkey()).err(),
            Some(BuildError::InvalidAuthorKey(defect))
        );
    }
    // Errors of lay_out come first.
    let parts = RecordParts {
        address_nonce: [0; 8],
        ..parts
    };
    assert_eq!(
        parts.sign(&subkey()).err(),
        Some(BuildError::NonceTopBitClear)
    );
}

#[test]
fn the_small_order_list_is_the_eight_small_order_points() {
    let points = small_order_points();
    for (i, point) in points.iter().enumerate() {
        let key = VerifyingKey::from_bytes(point).expect("a point");
        assert!(key.is_weak(), "{}", SMALL_ORDER[i]);
        assert_eq!(
            validate_public_key(point).err(),
            Some(KeyDefect::SmallOrder)
        );
        assert!(!points[..i].contains(point), "duplicate");
    }
    // Real keys pass.
    for seed in 0..=255u8 {
        let key = SigningKey::from_bytes(&[seed; 32]).verifying_key();
        assert!(validate_public_key(key.as_bytes()).is_ok());
    }
}

/// The first 64 bytes of BLAKE3's official extended-output test vectors
/// (BLAKE3-team/BLAKE3 test_vectors.json, "hash" mode); the input is the
/// repeating sequence 0, 1, ..., 250.
#[test]
fn the_hash_is_the_blake3_xof_read_to_64_bytes() {
    let cases = [
        (
            0,
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\
             e00f03e7b69af26b7faaf09fcd333050338ddfe085b8cc869ca98b206c08243a",
        ),
        (
            1023,
            "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11\
             a182d27a591b05592b15607500e1e8dd56bc6c7fc063715b7a1d737df5bad333",
        ),
        (
            1025,
            "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444\
             f4c4a22b4b399155358a994e52bf255de60035742ec71bd08ac275a1b51cc6bf",
        ),
        (
            3073,
            "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3\
             9a27ae3b79d68d89da9bf25bc27139ae65a324918a5f9b7828181e52cf373c84",
        ),
    ];
    for (len, expected) in cases {
        let input: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let hasher = Blake3Xof64::of(&input);
        let hash = hasher.hash();
        let mut want = [0u8; 64];
        want[..32].copy_from_slice(&hex32(&expected[..64]));
        want[32..].copy_from_slice(&hex32(&expected[64..]));
        assert_eq!(hash, want, "input_len {len}");
        // The Digest path ed25519-dalek takes gives the same bytes.
        let via_digest = digest::Digest::finalize(hasher);
        assert_eq!(via_digest.as_slice(), &want[..], "input_len {len}");
        assert_eq!(full_hash(&input), want);
    }
}

#[test]
fn unsigned_and_signed_records_agree_on_the_hash() {
    let tags = [Tag::new(7, &[9; 100]).expect("tag")];
    let payload = vec![3u8; 5000];
    let parts = sample_parts(&tags, &payload);
    let unsigned = parts.lay_out().expect("fits");
    let hash = unsigned.full_hash();
    let record = unsigned.sign(&subkey()).expect("signs");
    assert_eq!(record.full_hash(), hash);
    assert_eq!(&record.hash_prefix()[..], &hash[..40]);
    assert_eq!(parts.sign(&subkey()).expect("signs"), record);
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The fields of one valid vector.
struct VectorFields {
    name: &'static str,
    note: &'static str,
    signing_secret: [u8; 32],
    author_secret: [u8; 32],
    kind: [u8; 8],
    address_nonce: [u8; 8],
    timestamp: u64,
    flags: u16,
    tags: Vec<(u16, Vec<u8>)>,
    payload: Vec<u8>,
}

impl VectorFields {
    fn sign(&self) -> Record {
        let signing = SigningKey::from_bytes(&self.signing_secret);
        let author = SigningKey::from_bytes(&self.author_secret);
        let tags: Vec<Tag<'_>> = self
            .tags
            .iter()
            .map(|(t, v)| Tag::new(*t, v).expect("tag"))
            .collect();
        RecordParts {
            signing_key: signing.verifying_key().to_bytes(),
            author_key: author.verifying_key().to_bytes(),
            kind: Kind::from_bytes(self.kind),
            address_nonce: self.address_nonce,
            timestamp: Timestamp::from_nanos(self.timestamp),
            flags: RecordFlags::from_bits(self.flags),
            tags: &tags,
            payload: &self.payload,
        }
        .sign(&signing)
        .expect("signs")
    }

    fn write(&self, out: &mut String) -> Record {
        let record = self.sign();
        let signing = SigningKey::from_bytes(&self.signing_secret);
        let author = SigningKey::from_bytes(&self.author_secret);
        out.push_str(&format!(
            "vector = {}\nexpect = valid\nnote = {}\n",
            self.name, self.note
        ));
        out.push_str(&format!("signing_secret = {}\n", hex(&self.signing_secret)));
        out.push_str(&format!(
            "signing_public = {}\n",
            hex(signing.verifying_key().as_bytes())
        ));
        out.push_str(&format!("author_secret = {}\n", hex(&self.author_secret)));
        out.push_str(&format!(
            "author_public = {}\n",
            hex(author.verifying_key().as_bytes())
        ));
        out.push_str(&format!("kind = {}\n", hex(&self.kind)));
        out.push_str(&format!("address_nonce = {}\n", hex(&self.address_nonce)));
        out.push_str(&format!("timestamp = {}\n", self.timestamp));
        out.push_str(&format!("flags = {:04x}\n", self.flags));
        for (tag_type, value) in &self.tags {
            out.push_str(&format!("tag = {tag_type:04x} {}\n", hex(value)));
        }
        out.push_str(&format!("payload = {}\n", hex(&self.payload)));
        out.push_str(&format!("hash = {}\n", hex(&record.full_hash())));
        out.push_str(&format!("signature = {}\n", hex(record.signature())));
        out.push_str(&format!("record = {}\n\n", hex(record.as_bytes())));
        record
    }
}

fn write_invalid(out: &mut String, name: &str, step: u8, note: &str, bytes: &[u8]) {
    let expect = if name == "mixed-order-signing-key" {
        format!("rejected-here step {step}")
    } else {
        format!("invalid step {step}")
    };
    // Every invalid vector fails exactly where it says.
    let steps = failing(bytes);
    assert_eq!(
        steps.first().copied(),
        Some(step.to_string()).as_deref(),
        "{name}: {steps:?}"
    );
    out.push_str(&format!(
        "vector = {name}\nexpect = {expect}\nnote = {note}\nrecord = {}\n\n",
        hex(bytes)
    ));
}

const VECTORS_HEADER: &str = "\
# Signed Mosaic records: test vectors for implementations of spec/record.md
# \"Construction\" and \"Validation\" (mosaic-spec 96ef5e0, with the rulings of this
# project's DESIGN.md: flags at [200:202] little-endian, timestamps big-endian,
# kinds 8 bytes as kinds.md lays them out).
#
# hash      = unkeyed BLAKE3 of record bytes [112:], read to 64 bytes with the XOF.
# signature = RFC 8032 Ed25519ph with context \"Mosaic\", where the 64-byte hash
#             stands in for PH(M) = SHA-512(M); SHA-512 stays inside Ed25519.
# ID        = timestamp [64:72] then the first 40 bytes of the hash [72:112].
#
# Format: blocks of `name = value` lines separated by blank lines; `#` starts a
# comment line. Binary values are lower-case hex, possibly empty.
#   expect = valid: the record must validate, and building it from the fields
#     (secret keys are RFC 8032 32-byte private keys; author_secret is only
#     there to derive author_public) must give exactly `record`, `hash` and
#     `signature`. `tag` lines are `<type, 4 hex digits, as a number> <value>`,
#     in order; `timestamp` is decimal nanoseconds; `flags` a 16-bit number.
#   expect = invalid step N: the record must fail validation; N is the first
#     record.md validation step it fails (the others pass where possible).
#   expect = rejected-here step N: see the note.
#
# Generated by mosaic-proto (`cargo test -p mosaic-proto --lib -- --ignored
# write_signed_record_vectors`); tests/signed_records.rs checks them.

";

#[test]
#[ignore = "writes tests/vectors/signed_records.txt; run by hand after changing the vectors"]
fn write_signed_record_vectors() {
    let master: [u8; 32] = std::array::from_fn(|i| i as u8);
    let sub: [u8; 32] = std::array::from_fn(|i| 0x20 + i as u8);
    let mut out = String::from(VECTORS_HEADER);
    VectorFields {
        name: "minimal",
        note: "master key signs its own record; no tags, empty payload, 208 bytes",
        signing_secret: master,
        author_secret: master,
        kind: [0, 0, 0, 0, 0, 0, 2, 0x0e],
        address_nonce: [0x80, 0, 0, 0, 0, 0, 0, 0],
        timestamp: 1_750_000_000_000_000_000 & !0xffff,
        flags: 0,
        tags: vec![],
        payload: vec![],
    }
    .write(&mut out);
    let typical = VectorFields {
        name: "typical",
        note: "subkey signs for the master key; FROM_AUTHOR; three tags and a text payload, both padded",
        signing_secret: sub,
        author_secret: master,
        kind: [0, 0, 0, 0, 1, 0, 1, 0x1c],
        address_nonce: [0x81, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
        timestamp: 1_762_000_000_123_456_789 & !0xffff,
        flags: 0x0004,
        tags: vec![
            (
                0x0001,
                SigningKey::from_bytes(&[0x42; 32])
                    .verifying_key()
                    .to_bytes()
                    .to_vec(),
            ),
            (0x0024, b"https://example.com/".to_vec()),
            (0x0100, vec![0xab; 5]),
        ],
        payload: b"Hello, Mosaic! \xf0\x9f\x8c\x90".to_vec(),
    };
    let typical_record = typical.write(&mut out);
    VectorFields {
        name: "multi-chunk",
        note: "bytes [112:] span three 1024-byte BLAKE3 chunks; payload is i mod 251",
        signing_secret: sub,
        author_secret: master,
        kind: [0, 0, 0, 0, 99, 0, 7, 0x0f],
        address_nonce: [0xff; 8],
        timestamp: 0x0123_4567_89ab_0000,
        flags: 0,
        tags: vec![(0x0005, vec![0x11; 253])],
        payload: (0..3000).map(|i| (i % 251) as u8).collect(),
    }
    .write(&mut out);

    let sub_key = SigningKey::from_bytes(&sub);
    let good = typical_record.into_bytes().to_vec();
    let put = |bytes: &mut Vec<u8>, at: usize, value: &[u8]| {
        bytes[at..at + value.len()].copy_from_slice(value);
    };

    out.push_str("# Invalid records, each made from `typical`.\n\n");
    let mut b = good.clone();
    b[offset::LEN_P] += 8;
    reseal(&mut b, &sub_key);
    write_invalid(
        &mut out,
        "length-mismatch",
        2,
        "LenP 8 more than the bytes present; re-hashed and re-signed",
        &b,
    );

    let stand_in = SigningKey::from_bytes(&[0x77; 32]);
    let mut b = good.clone();
    put(&mut b, offset::SIGNING_KEY, &small_order_points()[0]);
    reseal_with(&mut b, |_| {
        let mut signature = [0; 64];
        signature[..32].copy_from_slice(stand_in.verifying_key().as_bytes());
        signature[32..].copy_from_slice(&stand_in.to_scalar().to_bytes());
        signature
    });
    write_invalid(
        &mut out,
        "identity-signing-key",
        3,
        "signing key is the identity; R = [s]B satisfies [s]B = R + [k]A for any message, so only the key check refuses it",
        &b,
    );

    let mut b = good.clone();
    put(&mut b, offset::SIGNING_KEY, &small_order_points()[4]);
    reseal(&mut b, &sub_key);
    write_invalid(
        &mut out,
        "small-order-signing-key",
        3,
        "signing key is a point of order 8",
        &b,
    );

    let non_canonical = (0..19)
        .map(|i| unreduced(i, false))
        .find(decodes_and_strong)
        .expect("some y = p + i is a point of large order");
    let mut b = good.clone();
    put(&mut b, offset::SIGNING_KEY, &non_canonical);
    reseal(&mut b, &sub_key);
    write_invalid(
        &mut out,
        "non-canonical-signing-key",
        3,
        "signing key encodes y = p + i (not reduced) of a point that is not of small order",
        &b,
    );

    let mut b = good.clone();
    put(&mut b, offset::AUTHOR_KEY, &small_order_points()[1]);
    reseal(&mut b, &sub_key);
    write_invalid(
        &mut out,
        "small-order-author-key",
        4,
        "author key is the point of order 2; hash and signature are valid",
        &b,
    );

    let mut b = good.clone();
    put(&mut b, offset::AUTHOR_KEY, &non_canonical);
    reseal(&mut b, &sub_key);
    write_invalid(
        &mut out,
        "non-canonical-author-key",
        4,
        "author key encodes y = p + i (not reduced); hash and signature are valid",
        &b,
    );

    let mut b = good.clone();
    b[offset::SIGNING_KEY - 1] ^= 0x01;
    write_invalid(
        &mut out,
        "id-hash-changed",
        7,
        "last byte of the ID hash changed; the signature (over the full hash) still holds",
        &b,
    );

    let mut b = good.clone();
    b[offset::ID + 5] ^= 0x01;
    write_invalid(
        &mut out,
        "id-timestamp-changed",
        8,
        "ID timestamp differs from the signed timestamp by 2^16 ns",
        &b,
    );

    let mut b = good.clone();
    let mut carry = 0u16;
    for (i, l) in L.iter().enumerate() {
        let sum = u16::from(b[32 + i]) + u16::from(*l) + carry;
        b[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    write_invalid(
        &mut out,
        "s-plus-l",
        9,
        "s replaced by s + L: the same scalar mod L, but not below L",
        &b,
    );

    let mut b = good.clone();
    reseal_with(&mut b, |h| {
        sub_key.sign_prehashed(h, None).expect("sign").to_bytes()
    });
    write_invalid(
        &mut out,
        "no-context",
        9,
        "signed as Ed25519ph with an empty context instead of \"Mosaic\"",
        &b,
    );

    let mut b = good.clone();
    let sha =
        <ed25519_dalek::Sha512 as digest::Digest>::new_with_prefix(&good[offset::SIGNING_KEY..]);
    reseal_with(&mut b, |_| {
        sub_key
            .sign_prehashed(sha, Some(SIGNATURE_CONTEXT))
            .expect("sign")
            .to_bytes()
    });
    write_invalid(
        &mut out,
        "sha512-prehash",
        9,
        "signed as standard Ed25519ph (SHA-512 of [112:]) with context \"Mosaic\"",
        &b,
    );

    let mut b = good.clone();
    reseal_with(&mut b, |h| sub_key.sign(&h.hash()).to_bytes());
    write_invalid(
        &mut out,
        "pure-ed25519",
        9,
        "pure Ed25519 signature of the 64-byte hash as the message",
        &b,
    );

    let torsion = VerifyingKey::from_bytes(&small_order_points()[4]).expect("point");
    let mixed = VerifyingKey::from_bytes(
        &(sub_key.verifying_key().to_edwards() + torsion.to_edwards())
            .compress()
            .to_bytes(),
    )
    .expect("point");
    let expanded = ed25519_dalek::hazmat::ExpandedSecretKey::from(&sub);
    let mut b = good.clone();
    put(&mut b, offset::SIGNING_KEY, mixed.as_bytes());
    reseal_with(&mut b, |h| {
        ed25519_dalek::hazmat::raw_sign_prehashed::<ed25519_dalek::Sha512, _>(
            &expanded,
            h,
            &mixed,
            Some(SIGNATURE_CONTEXT),
        )
        .expect("sign")
        .to_bytes()
    });
    write_invalid(
        &mut out,
        "mixed-order-signing-key",
        9,
        "signing key A' = A + T (T of order 8) passes the key checks; s = r + k'a satisfies the cofactored equation [8][s]B = [8]R + [8][k']A' but not the cofactorless [s]B = R + [k']A' that ed25519-dalek's strict verification (used here) checks. A cofactored verifier accepts it. No RFC 8032 signer produces such a signature",
        &b,
    );

    let mut b = good.clone();
    b[offset::TIMESTAMP + 7] = 0x01;
    reseal(&mut b, &sub_key);
    write_invalid(
        &mut out,
        "id-byte-71",
        10,
        "timestamp low byte 1 in both copies; re-hashed and re-signed",
        &b,
    );

    let mut b = good.clone();
    put(&mut b, offset::FLAGS, &0x0104u16.to_le_bytes());
    reseal(&mut b, &sub_key);
    write_invalid(
        &mut out,
        "reserved-flag",
        11,
        "flags 0x0104: reserved bit 0x0100 set; re-hashed and re-signed",
        &b,
    );

    let mut b = good.clone();
    put(&mut b, offset::FLAGS, &0x0044u16.to_le_bytes());
    reseal(&mut b, &sub_key);
    write_invalid(
        &mut out,
        "secp256k1-scheme",
        11,
        "flags 0x0044: signature scheme 01 (reserved for secp256k1); re-hashed and re-signed",
        &b,
    );

    out.pop(); // one trailing newline
    let out: String = out
        .lines()
        .map(|line| format!("{}\n", line.trim_end()))
        .collect();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/signed_records.txt");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("create dir");
    std::fs::write(&path, out).expect("write vectors");
}

/// Whether `key` decodes (canonical or not) to a point not of small order.
fn decodes_and_strong(key: &[u8; 32]) -> bool {
    VerifyingKey::from_bytes(key).is_ok_and(|k| !k.is_weak())
}
