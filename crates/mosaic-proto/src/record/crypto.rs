//! Signed construction and full validation of records (record.md "Construction"
//! and "Validation", cryptography.md), on the `blake3` and `ed25519-dalek` crates.
//!
//! The hash is unkeyed BLAKE3 of bytes `[112:]` read out to 64 bytes through the
//! XOF. The signature is RFC 8032 Ed25519ph over that 64-byte value (BLAKE3 in
//! place of SHA-512 as the prehash; SHA-512 stays inside Ed25519 itself) with the
//! context string `"Mosaic"`. No hash or curve arithmetic is written here: the
//! two crates do all of it, and this module only wires them together.

use std::ops::Deref;

use digest::{FixedOutput, HashMarker, Output, OutputSizeUser, Update, consts::U64};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

use super::{Record, RecordParts, UnsignedRecord, offset};
use crate::{BuildError, wire::array_at};

/// The ed25519ph context string of every record signature (record.md
/// "Construction", step 3).
pub const SIGNATURE_CONTEXT: &[u8] = b"Mosaic";

/// What is wrong with a 32-byte public key, by cryptography.md's key checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum KeyDefect {
    /// The bytes decode to no point of edwards25519.
    #[error("is not the encoding of a point on edwards25519")]
    NotAPoint,
    /// A point, but not in its one canonical encoding (the y coordinate is not
    /// reduced below 2^255 - 19, or x is 0 with the sign bit set).
    #[error(
        "is a non-canonical encoding of its point (y not reduced mod p, or x = 0 with the sign bit set)"
    )]
    NonCanonical,
    /// One of the eight points of small order, under which a forged signature
    /// can verify for almost any message.
    #[error("is one of the eight small-order points, which cannot be a signing or author key")]
    SmallOrder,
}

/// Why a structurally valid record fails full validation.
///
/// One variant per cryptographic step of record.md "Validation" (the structural
/// steps are [`RecordError`](crate::RecordError)s, checked by
/// [`Record::from_bytes`]). A server answers any of them with
/// `SubmissionResult(REJECTED_INVALID)`; a client drops the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum RecordInvalid {
    /// Step 3: the signing public key (bytes `[112:144]`) fails the key checks.
    #[error("record signing key (bytes 112..144) {0}")]
    SigningKey(KeyDefect),
    /// Step 4: the author public key (bytes `[160:192]`) fails the key checks.
    #[error("record author key (bytes 160..192) {0}")]
    AuthorKey(KeyDefect),
    /// Step 5 (clients only): the caller's subkey check refused the signing key.
    #[error("record signing key is not a current subkey of its author (the subkey check said no)")]
    NotASubkey,
    /// Step 7: the ID hash (bytes `[72:112]`) is not the first 40 bytes of the
    /// BLAKE3 hash of bytes `[112:]`: the record was altered or built wrongly.
    #[error("record ID hash (bytes 72..112) does not match the BLAKE3 hash of bytes 112..")]
    HashMismatch,
    /// Step 9: the signature (bytes `[0:64]`) is not a valid strict ed25519ph
    /// signature of the 64-byte hash, context "Mosaic", by the signing key.
    #[error(
        "record signature (bytes 0..64) does not verify: strict ed25519ph over the 64-byte BLAKE3 hash, context \"Mosaic\", by the record's signing key"
    )]
    BadSignature,
}

/// Checks a public key as cryptography.md requires: it must decode to a point,
/// in the canonical encoding, and not be one of the eight small-order points.
///
/// Points of mixed order (a prime-order point plus a small-order one) pass, as
/// cryptography.md asks no more; see [`Record::verify`] for what that means.
///
/// # Errors
/// The [`KeyDefect`] found, checked in the order above.
pub fn validate_public_key(key: &[u8; 32]) -> Result<VerifyingKey, KeyDefect> {
    // ed25519-dalek decodes by ZIP-215 rules, which accept non-canonical
    // encodings; compressing the point again gives the canonical one.
    let verifying = VerifyingKey::from_bytes(key).map_err(|_| KeyDefect::NotAPoint)?;
    if verifying.to_edwards().compress().as_bytes() != key {
        return Err(KeyDefect::NonCanonical);
    }
    if verifying.is_weak() {
        return Err(KeyDefect::SmallOrder);
    }
    Ok(verifying)
}

/// Unkeyed BLAKE3 read out to 64 bytes through its XOF (record.md "Construction"
/// step 2), as the `Digest` ed25519-dalek's ed25519ph functions take their
/// prehash from.
#[derive(Clone, Default)]
pub(crate) struct Blake3Xof64(blake3::Hasher);

impl Blake3Xof64 {
    /// The hasher after absorbing `bytes`.
    pub(crate) fn of(bytes: &[u8]) -> Blake3Xof64 {
        let mut hasher = blake3::Hasher::new();
        hasher.update(bytes);
        Blake3Xof64(hasher)
    }

    /// The 64-byte hash of what was absorbed (the hasher stays usable).
    pub(crate) fn hash(&self) -> [u8; 64] {
        let mut out = [0; 64];
        self.0.finalize_xof().fill(&mut out);
        out
    }
}

impl Update for Blake3Xof64 {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
}

impl OutputSizeUser for Blake3Xof64 {
    type OutputSize = U64;
}

impl FixedOutput for Blake3Xof64 {
    fn finalize_into(self, out: &mut Output<Self>) {
        self.0.finalize_xof().fill(out);
    }
}

impl HashMarker for Blake3Xof64 {}

/// The 64-byte BLAKE3 hash of `signed_bytes` (record bytes `[112:]`).
pub(crate) fn full_hash(signed_bytes: &[u8]) -> [u8; 64] {
    Blake3Xof64::of(signed_bytes).hash()
}

impl RecordParts<'_> {
    /// Lays out, hashes and signs the record: all of record.md "Construction".
    ///
    /// `key` must be the secret half of [`RecordParts::signing_key`]; the field
    /// is not filled in from it, so that the caller states which key a record
    /// names and a mix-up is an error rather than a silent change. The author key
    /// must pass the key checks, so that every record this returns passes
    /// [`Record::verify`].
    ///
    /// ```
    /// use mosaic_proto::ed25519_dalek::SigningKey;
    /// use mosaic_proto::{Kind, RecordFlags, RecordParts, Timestamp};
    ///
    /// let master = SigningKey::from_bytes(&[1; 32]);
    /// let subkey = SigningKey::from_bytes(&[2; 32]);
    /// let record = RecordParts {
    ///     signing_key: subkey.verifying_key().to_bytes(),
    ///     author_key: master.verifying_key().to_bytes(),
    ///     kind: Kind::from_bytes([0, 0, 0, 0, 99, 0, 1, 0x1c]),
    ///     address_nonce: [0x80, 0, 0, 0, 0, 0, 0, 7],
    ///     timestamp: Timestamp::from_nanos(1_750_000_000_000_000_000).record_aligned(),
    ///     flags: RecordFlags::empty(),
    ///     tags: &[],
    ///     payload: b"hello",
    /// }
    /// .sign(&subkey)?;
    /// assert!(record.verify().is_ok());
    /// # Ok::<(), mosaic_proto::BuildError>(())
    /// ```
    ///
    /// # Errors
    /// Any error of [`RecordParts::lay_out`];
    /// [`BuildError::SigningKeyMismatch`] if `key`'s public half is not
    /// `signing_key`; [`BuildError::InvalidAuthorKey`] if `author_key` fails the
    /// key checks.
    pub fn sign(&self, key: &SigningKey) -> Result<Record, BuildError> {
        self.lay_out()?.sign(key)
    }
}

impl UnsignedRecord {
    /// The 64-byte BLAKE3 hash of [`UnsignedRecord::signed_bytes`] (construction
    /// step 2); its first 40 bytes become the ID hash.
    pub fn full_hash(&self) -> [u8; 64] {
        full_hash(self.signed_bytes())
    }

    /// Hashes and signs the laid-out record (construction steps 2 to 5).
    ///
    /// # Errors
    /// [`BuildError::SigningKeyMismatch`] if `key`'s public half is not the
    /// signing key laid out at `[112:144]`; [`BuildError::InvalidAuthorKey`] if
    /// the author key at `[160:192]` fails the key checks.
    pub fn sign(self, key: &SigningKey) -> Result<Record, BuildError> {
        let bytes = &self.0;
        if key.verifying_key().as_bytes() != array_at::<32>(bytes, offset::SIGNING_KEY) {
            return Err(BuildError::SigningKeyMismatch);
        }
        validate_public_key(array_at(bytes, offset::AUTHOR_KEY))
            .map_err(BuildError::InvalidAuthorKey)?;
        let hasher = Blake3Xof64::of(self.signed_bytes());
        let hash = hasher.hash();
        let signature = key
            .sign_prehashed(hasher, Some(SIGNATURE_CONTEXT))
            .expect("ed25519ph fails only for contexts over 255 bytes; ours has 6");
        Ok(self.finish(&signature.to_bytes(), array_at(&hash, 0)))
    }
}

impl Record {
    /// The 64-byte BLAKE3 hash of [`Record::signed_bytes`] (validation step 6);
    /// the ID holds its first 40 bytes and the signature covers all 64.
    pub fn full_hash(&self) -> [u8; 64] {
        full_hash(self.signed_bytes())
    }

    /// Fully validates the record as a server must: every step of record.md
    /// "Validation" except the two marked CLIENTS ONLY.
    ///
    /// | step | check | where |
    /// | --- | --- | --- |
    /// | 1 | 208 ≤ length ≤ 1 MiB | [`Record::from_bytes`] ([`RecordError::TooShort`], [`RecordError::TooLong`]) |
    /// | 2 | length = 208 + LenTPad + LenPPad | [`Record::from_bytes`] ([`RecordError::LengthMismatch`]) |
    /// | 3 | signing key passes the key checks | here: [`RecordInvalid::SigningKey`] |
    /// | 4 | author key passes the key checks | here: [`RecordInvalid::AuthorKey`] |
    /// | 5 | CLIENTS ONLY: signing key is a subkey of the author | [`Record::verify_with`]: [`RecordInvalid::NotASubkey`] |
    /// | 6 | BLAKE3 hash of `[112:]`, 64 bytes by XOF | here ([`Record::full_hash`]) |
    /// | 7 | hash `[0:40]` = bytes `[72:112]` | here: [`RecordInvalid::HashMismatch`] |
    /// | 8 | bytes `[64:72]` = bytes `[192:200]` | [`Record::from_bytes`] ([`RecordError::TimestampMismatch`]) |
    /// | 9 | signature verifies | here: [`RecordInvalid::BadSignature`] |
    /// | 10 | bytes 70 and 71 are 0 | [`Record::from_bytes`] ([`RecordError::IdLowBytesNotZero`]) |
    /// | 11 | reserved flags are 0 (and the scheme is EdDSA) | [`Record::from_bytes`] ([`RecordError::ReservedFlags`], [`RecordError::UnsupportedSignatureScheme`]) |
    /// | 12 | CLIENTS ONLY: application checks | the application, after this |
    ///
    /// A [`Record`] exists only once the structural steps have passed, so this
    /// runs steps 3, 4, 6, 7 and 9, in that order, and reports the first failure.
    ///
    /// The key checks (steps 3 and 4) reject bytes that are no point, a
    /// non-canonical encoding, or one of the eight small-order points
    /// ([`validate_public_key`]).
    ///
    /// The signature check (step 9) is ed25519-dalek's
    /// `VerifyingKey::verify_prehashed_strict`: `s` must be below the group
    /// order L, R must be canonically encoded (the recomputed R is compared as
    /// bytes) and not of small order, A must not be of small order (and step 3
    /// already made it canonical). (`s < L` holds as long as nothing in the
    /// build turns on ed25519-dalek's `legacy_compatibility` feature, which
    /// relaxes it; a test with `s + L` would catch that.) Its equation is the
    /// cofactorless
    /// `[s]B = R + [k]A`, where cryptography.md asks for the cofactored
    /// `[8][s]B = [8]R + [8][k]A`. Every signature it accepts passes the
    /// cofactored equation too (multiply both sides by 8), so no record that
    /// cryptography.md rejects is accepted here. The two differ only when
    /// `[s]B - R - [k]A` is a non-zero point of small order, which needs R or A
    /// to carry a small-order component. An RFC 8032 signer never makes one
    /// (its `A = [a]B` and `R = [r]B` lie in the prime-order subgroup), so honest
    /// records from any conforming implementation verify here; what is refused
    /// beyond the spec is a signature crafted around a mixed-order key or R, or
    /// one whose R has small order (the vector `mixed-order-signing-key` in
    /// `tests/vectors/signed_records.txt` is one).
    ///
    /// # Errors
    /// The first step that fails, as a [`RecordInvalid`].
    ///
    /// [`RecordError::TooShort`]: crate::RecordError::TooShort
    /// [`RecordError::TooLong`]: crate::RecordError::TooLong
    /// [`RecordError::LengthMismatch`]: crate::RecordError::LengthMismatch
    /// [`RecordError::TimestampMismatch`]: crate::RecordError::TimestampMismatch
    /// [`RecordError::IdLowBytesNotZero`]: crate::RecordError::IdLowBytesNotZero
    /// [`RecordError::ReservedFlags`]: crate::RecordError::ReservedFlags
    /// [`RecordError::UnsupportedSignatureScheme`]: crate::RecordError::UnsupportedSignatureScheme
    pub fn verify(&self) -> Result<VerifiedRecord, RecordInvalid> {
        verify_bytes(&self.0)?;
        Ok(VerifiedRecord(self.clone()))
    }

    /// Fully validates the record as a client must: [`Record::verify`] and then
    /// step 5, which asks `is_subkey(author_key, signing_key)` whether the
    /// signing key is a non-revoked subkey of the author (from the author's
    /// bootstrap, which this crate does not read).
    ///
    /// `is_subkey` runs last, only for records whose signature verifies, so that
    /// forged records never cost a bootstrap lookup. Step 12 (application
    /// checks) is the application's, after this returns.
    ///
    /// # Errors
    /// The first step that fails, as a [`RecordInvalid`];
    /// [`RecordInvalid::NotASubkey`] when `is_subkey` returns `false`.
    pub fn verify_with(
        &self,
        is_subkey: impl FnOnce(&[u8; 32], &[u8; 32]) -> bool,
    ) -> Result<VerifiedRecord, RecordInvalid> {
        verify_bytes(&self.0)?;
        if !is_subkey(self.author_key(), self.signing_key()) {
            return Err(RecordInvalid::NotASubkey);
        }
        Ok(VerifiedRecord(self.clone()))
    }
}

/// Steps 3, 4, 6, 7 and 9 over the bytes of a structurally valid record.
fn verify_bytes(bytes: &[u8]) -> Result<(), RecordInvalid> {
    let signing_key = check_signing_key(bytes)?;
    check_author_key(bytes)?;
    let hasher = Blake3Xof64::of(&bytes[offset::SIGNING_KEY..]);
    check_hash(bytes, &hasher)?;
    check_signature(bytes, &signing_key, hasher)
}

/// Step 3.
pub(crate) fn check_signing_key(bytes: &[u8]) -> Result<VerifyingKey, RecordInvalid> {
    validate_public_key(array_at(bytes, offset::SIGNING_KEY)).map_err(RecordInvalid::SigningKey)
}

/// Step 4.
pub(crate) fn check_author_key(bytes: &[u8]) -> Result<(), RecordInvalid> {
    validate_public_key(array_at(bytes, offset::AUTHOR_KEY))
        .map(drop)
        .map_err(RecordInvalid::AuthorKey)
}

/// Step 7, given the hasher that has absorbed `[112:]` (step 6).
pub(crate) fn check_hash(bytes: &[u8], hasher: &Blake3Xof64) -> Result<(), RecordInvalid> {
    let hash = hasher.hash();
    if hash[..40] == bytes[offset::ID_HASH..offset::SIGNING_KEY] {
        Ok(())
    } else {
        Err(RecordInvalid::HashMismatch)
    }
}

/// Step 9, given the hasher that has absorbed `[112:]` (step 6).
pub(crate) fn check_signature(
    bytes: &[u8],
    signing_key: &VerifyingKey,
    hasher: Blake3Xof64,
) -> Result<(), RecordInvalid> {
    let signature = Signature::from_bytes(array_at(bytes, offset::SIGNATURE));
    signing_key
        .verify_prehashed_strict(hasher, Some(SIGNATURE_CONTEXT), &signature)
        .map_err(|_| RecordInvalid::BadSignature)
}

/// A record that passed full validation: [`Record::verify`] (every server
/// step) or [`Record::verify_with`] (every step but the application's own).
///
/// It derefs to the [`Record`]; holding one instead of a `Record` shows that
/// the validation was not forgotten.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VerifiedRecord(Record);

impl VerifiedRecord {
    /// The record.
    pub fn record(&self) -> &Record {
        &self.0
    }

    /// The record, giving up the proof of validation.
    pub fn into_record(self) -> Record {
        self.0
    }
}

impl Deref for VerifiedRecord {
    type Target = Record;

    fn deref(&self) -> &Record {
        &self.0
    }
}

impl AsRef<Record> for VerifiedRecord {
    fn as_ref(&self) -> &Record {
        &self.0
    }
}

impl From<VerifiedRecord> for Record {
    fn from(verified: VerifiedRecord) -> Record {
        verified.0
    }
}

#[cfg(test)]
mod tests;
