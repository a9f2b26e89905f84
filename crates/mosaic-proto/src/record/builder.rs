//! Laying out new records (record.md "Construction", step 1).

use bytes::{BufMut, BytesMut};

use super::{MAX_RECORD_LEN, MIN_RECORD_LEN, Record, RecordFlags, SignatureScheme, offset};
use crate::{
    BuildError, Kind, Tag, Timestamp,
    wire::{array_at, pad8},
};

/// The fields of a new record, before it is hashed and signed.
///
/// [`RecordParts::lay_out`] fills in `[112:]` (construction step 1); the caller
/// then hashes [`UnsignedRecord::signed_bytes`], signs, and calls
/// [`UnsignedRecord::finish`] with the signature and the first 40 hash bytes.
///
/// ```
/// use mosaic_proto::{Kind, RecordFlags, RecordParts, Tag, Timestamp};
///
/// let unsigned = RecordParts {
///     signing_key: [1; 32],
///     author_key: [2; 32],
///     kind: Kind::from_bytes([0, 0, 0, 0, 99, 0, 1, 0x0c]),
///     address_nonce: [0x80, 0, 0, 0, 0, 0, 0, 7],
///     timestamp: Timestamp::from_nanos(1_700_000_000_000_000_000).record_aligned(),
///     flags: RecordFlags::empty(),
///     tags: &[Tag::new(1, &[3; 32])?],
///     payload: b"hello",
/// }
/// .lay_out()?;
/// // Hash `unsigned.signed_bytes()` and sign the digest here.
/// let record = unsigned.finish(&[0; 64], &[0; 40]);
/// assert_eq!(record.payload(), b"hello");
/// assert_eq!(record.len(), 208 + 40 + 8);
/// # Ok::<(), mosaic_proto::BuildError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RecordParts<'a> {
    /// The public key whose secret signs the record (usually the author's subkey).
    pub signing_key: [u8; 32],
    /// The author's master public key.
    pub author_key: [u8; 32],
    /// The record's kind.
    pub kind: Kind,
    /// The unique address nonce; its first bit must be 1.
    pub address_nonce: [u8; 8],
    /// The record's timestamp; see [`Timestamp::record_aligned`].
    pub timestamp: Timestamp,
    /// Flags; reserved bits and signature schemes other than EdDSA are refused.
    pub flags: RecordFlags,
    /// The tags, in order.
    pub tags: &'a [Tag<'a>],
    /// The payload.
    pub payload: &'a [u8],
}

impl RecordParts<'_> {
    /// Lays out the record with a zero signature and ID, ready to hash and sign.
    ///
    /// # Errors
    /// A [`BuildError`] for any field the record cannot carry: a nonce whose first
    /// bit is 0, a timestamp that is not record aligned, reserved kind or flag bits,
    /// tags over 65535 bytes, or a record over 1 MiB.
    pub fn lay_out(&self) -> Result<UnsignedRecord, BuildError> {
        if self.address_nonce[0] & 0x80 == 0 {
            return Err(BuildError::NonceTopBitClear);
        }
        if !self.timestamp.is_record_aligned() {
            return Err(BuildError::TimestampNotRecordAligned {
                nanos: self.timestamp.as_nanos(),
            });
        }
        if self.flags.reserved_bits() != 0
            || self.flags.signature_scheme() != SignatureScheme::Ed25519
        {
            return Err(BuildError::UnsupportedFlags {
                flags: self.flags.bits(),
            });
        }
        if self.kind.uses_reserved_bits() {
            return Err(BuildError::ReservedKindBits { kind: self.kind });
        }
        let len_t: usize = self.tags.iter().map(Tag::encoded_len).sum();
        let Ok(len_t16) = u16::try_from(len_t) else {
            return Err(BuildError::TagsTooLong { len: len_t });
        };
        let len = MIN_RECORD_LEN + pad8(len_t) + pad8(self.payload.len());
        if len > MAX_RECORD_LEN {
            return Err(BuildError::RecordTooLong { len });
        }
        let mut buf = BytesMut::with_capacity(len);
        buf.put_bytes(0, offset::SIGNING_KEY);
        buf.put_slice(&self.signing_key);
        buf.put_slice(&self.address_nonce);
        buf.put_slice(self.kind.as_bytes());
        buf.put_slice(&self.author_key);
        buf.put_slice(&self.timestamp.to_be_bytes());
        buf.put_u16_le(self.flags.bits());
        buf.put_u16_le(len_t16);
        // `len` is at most 1 MiB, so the payload length fits 32 bits.
        buf.put_u32_le(self.payload.len() as u32);
        for tag in self.tags {
            tag.encode(&mut buf);
        }
        buf.put_bytes(0, pad8(len_t) - len_t);
        buf.put_slice(self.payload);
        buf.put_bytes(0, pad8(self.payload.len()) - self.payload.len());
        debug_assert_eq!(buf.len(), len);
        Ok(UnsignedRecord(buf))
    }
}

/// A laid-out record waiting for its hash and signature.
#[derive(Clone, Debug)]
pub struct UnsignedRecord(pub(super) BytesMut);

impl UnsignedRecord {
    /// The bytes to hash and sign, `[112:]`.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.0[offset::SIGNING_KEY..]
    }

    /// Fills in the signature, the ID timestamp and the 40 ID hash bytes
    /// (construction steps 3 to 5).
    pub fn finish(mut self, signature: &[u8; 64], hash_prefix: &[u8; 40]) -> Record {
        let timestamp: [u8; 8] = *array_at(&self.0, offset::TIMESTAMP);
        self.0[offset::SIGNATURE..offset::ID].copy_from_slice(signature);
        self.0[offset::ID..offset::ID_HASH].copy_from_slice(&timestamp);
        self.0[offset::ID_HASH..offset::SIGNING_KEY].copy_from_slice(hash_prefix);
        let bytes = self.0.freeze();
        debug_assert!(
            super::validate(&bytes).is_ok(),
            "builder wrote an invalid record"
        );
        Record(bytes)
    }
}
