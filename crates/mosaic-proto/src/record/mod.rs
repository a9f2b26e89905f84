//! Records: the signed unit of Mosaic data (spec/record.md).
//!
//! [`Record`] is a structurally validated, zero-copy view of record bytes;
//! [`RecordParts`] lays out a new record. With the `crypto` feature, `crypto`
//! signs it and runs the cryptographic checks (keys, hash, signature).

mod builder;
#[cfg(feature = "crypto")]
mod crypto;
mod flags;

use std::fmt;

use bytes::Bytes;

pub use builder::{RecordParts, UnsignedRecord};
#[cfg(feature = "crypto")]
pub use crypto::{
    KeyDefect, RecordInvalid, SIGNATURE_CONTEXT, VerifiedRecord, validate_public_key,
};
pub use flags::{RecordFlags, SignatureScheme};

use crate::{
    Address, Id, IdPrefix, Kind, TagError, Timestamp,
    tag::{Tags, validate_record_tags},
    wire::{self, array_at, pad8},
};

/// The smallest record: the fixed header with no tags and no payload.
pub const MIN_RECORD_LEN: usize = 208;

/// The largest record (record.md "Maximum Size"): 1 MiB.
pub const MAX_RECORD_LEN: usize = 1 << 20;

/// Byte offsets of record.md's layout (flags at `[200:202]` per the rulings).
pub(crate) mod offset {
    pub(crate) const SIGNATURE: usize = 0;
    pub(crate) const ID: usize = 64;
    pub(crate) const ID_HASH: usize = 72;
    pub(crate) const SIGNING_KEY: usize = 112;
    pub(crate) const ADDRESS: usize = 144;
    pub(crate) const KIND: usize = 152;
    pub(crate) const AUTHOR_KEY: usize = 160;
    pub(crate) const TIMESTAMP: usize = 192;
    pub(crate) const FLAGS: usize = 200;
    pub(crate) const LEN_T: usize = 202;
    pub(crate) const LEN_P: usize = 204;
    pub(crate) const TAGS: usize = 208;
}

/// What is wrong with a record's structure.
///
/// These are the checks of record.md that need no cryptography, in the order of
/// its validation steps, plus the field rules its layout states (the address
/// nonce starts with a 1 bit, reserved kind and flag bits clear, the reserved
/// read access `10` unused, tags well formed). Padding must be zero: record.md
/// does not say what it holds, and DESIGN.md's ruling on reserved bytes is
/// applied to it, since padding is signed and hashed, so other bytes there
/// would give one record's content many IDs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Step 1: shorter than the 208-byte header.
    #[error("record of {len} bytes is shorter than the 208-byte minimum")]
    TooShort {
        /// Bytes present.
        len: usize,
    },
    /// Step 1: longer than 1 MiB.
    #[error("record of {len} bytes exceeds the 1048576-byte maximum")]
    TooLong {
        /// Bytes present.
        len: usize,
    },
    /// Step 2: the length is not 208 + LenTPad + LenPPad.
    #[error("record is {len} bytes but LenT {len_t} and LenP {len_p} make it {expected}")]
    LengthMismatch {
        /// Bytes present.
        len: usize,
        /// The length LenT and LenP imply.
        expected: usize,
        /// The tags length field.
        len_t: usize,
        /// The payload length field.
        len_p: usize,
    },
    /// Step 8: the ID timestamp differs from the signed timestamp.
    #[error("ID timestamp {id} differs from the signed timestamp {signed}")]
    TimestampMismatch {
        /// Bytes `[64:72]`.
        id: Timestamp,
        /// Bytes `[192:200]`.
        signed: Timestamp,
    },
    /// Step 10: bytes 70 and 71 are not zero.
    #[error("record bytes 70 and 71 are 0x{value:04x}, but must be zero")]
    IdLowBytesNotZero {
        /// The two bytes, big-endian.
        value: u16,
    },
    /// Step 11: reserved flag bits are set.
    #[error("record flags 0x{flags:04x} set reserved bits 0x{reserved:04x}")]
    ReservedFlags {
        /// The flags field.
        flags: u16,
        /// The reserved bits that are set.
        reserved: u16,
    },
    /// The signature scheme bits name a scheme other than EdDSA ed25519.
    #[error("signature scheme {scheme} is reserved; only EdDSA ed25519 records can be validated")]
    UnsupportedSignatureScheme {
        /// The two scheme bits.
        scheme: u8,
    },
    /// The ID (the timestamp) starts with a 1 bit, which marks an address.
    #[error("record timestamp {timestamp} sets the top bit, so its ID would read as an address")]
    TimestampTopBit {
        /// The timestamp.
        timestamp: Timestamp,
    },
    /// The address nonce does not start with a 1 bit.
    #[error("address nonce must start with a 1 bit")]
    NonceTopBitClear,
    /// The kind sets bits kinds.md reserves.
    #[error("kind {kind} sets bits that kinds.md reserves")]
    ReservedKindBits {
        /// The kind.
        kind: Kind,
    },
    /// The tags section is malformed.
    #[error("record tags: {0}")]
    Tags(#[source] TagError),
    /// A padding byte after the tags or the payload is not zero.
    #[error("{section} padding byte at record offset {offset} is 0x{value:02x}, not zero")]
    PaddingNotZero {
        /// `"tags"` or `"payload"`.
        section: &'static str,
        /// Offset in the record.
        offset: usize,
        /// The byte found.
        value: u8,
    },
}

/// A structurally valid record, held as a slice of the bytes it was read from.
///
/// Accessors read fields in place. Validation here is structural only: call
/// `Record::verify` (feature `crypto`) before trusting a record's author or
/// content.
///
/// A record read from a message shares that message's buffer, and through it
/// the whole allocation the transport read it into: a 300-byte record can
/// hold a read buffer many times its size for as long as it lives (with
/// tungstenite at least its 4 KiB read buffer, after a large message one of
/// that message's size). That costs nothing while a record passes through;
/// one kept for long (in a store or a cache) should be kept as
/// [`Record::detached`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Record(Bytes);

impl Record {
    /// Validates `bytes` as one record, without copying.
    ///
    /// # Errors
    /// [`RecordError`] names the first structural rule the bytes break.
    pub fn from_bytes(bytes: Bytes) -> Result<Record, RecordError> {
        validate(&bytes)?;
        Ok(Record(bytes))
    }

    /// A copy in an allocation of its own and of its own size, holding no
    /// part of the buffer this record was read from (see [`Record`]).
    #[must_use]
    pub fn detached(&self) -> Record {
        Record(Bytes::copy_from_slice(&self.0))
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The wire bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The record's length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a record holds at least its 208-byte header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The ed25519ph signature, `[0:64]`.
    pub fn signature(&self) -> &[u8; 64] {
        array_at(&self.0, offset::SIGNATURE)
    }

    /// The ID, `[64:112]`.
    pub fn id(&self) -> Id {
        Id::from_bytes(*array_at(&self.0, offset::ID)).expect("validated: top bit clear")
    }

    /// The first 32 bytes of the ID, as Submission Result carries them.
    pub fn id_prefix(&self) -> IdPrefix {
        IdPrefix(*array_at(&self.0, offset::ID))
    }

    /// The 40 hash bytes of the ID, `[72:112]`.
    pub fn hash_prefix(&self) -> &[u8; 40] {
        array_at(&self.0, offset::ID_HASH)
    }

    /// The signing public key, `[112:144]`.
    pub fn signing_key(&self) -> &[u8; 32] {
        array_at(&self.0, offset::SIGNING_KEY)
    }

    /// The address, `[144:192]`.
    pub fn address(&self) -> Address {
        Address::from_bytes(*array_at(&self.0, offset::ADDRESS)).expect("validated: nonce top bit")
    }

    /// The unique address nonce, `[144:152]`.
    pub fn address_nonce(&self) -> [u8; 8] {
        *array_at(&self.0, offset::ADDRESS)
    }

    /// The kind, `[152:160]`.
    pub fn kind(&self) -> Kind {
        Kind::from_bytes(*array_at(&self.0, offset::KIND))
    }

    /// The author's master public key, `[160:192]`.
    pub fn author_key(&self) -> &[u8; 32] {
        array_at(&self.0, offset::AUTHOR_KEY)
    }

    /// The signed timestamp, `[192:200]`.
    pub fn timestamp(&self) -> Timestamp {
        Timestamp::from_be_bytes(*array_at(&self.0, offset::TIMESTAMP))
    }

    /// The flags, `[200:202]`.
    pub fn flags(&self) -> RecordFlags {
        RecordFlags::from_bits(wire::u16_le_at(&self.0, offset::FLAGS))
    }

    /// The tags, in order.
    pub fn tags(&self) -> Tags<'_> {
        Tags::new(self.tags_section())
    }

    fn tags_section(&self) -> &[u8] {
        let len_t = usize::from(wire::u16_le_at(&self.0, offset::LEN_T));
        &self.0[offset::TAGS..offset::TAGS + len_t]
    }

    /// The payload (without padding).
    pub fn payload(&self) -> &[u8] {
        let len_t = usize::from(wire::u16_le_at(&self.0, offset::LEN_T));
        let len_p = wire::u32_le_at(&self.0, offset::LEN_P) as usize;
        let start = offset::TAGS + pad8(len_t);
        &self.0[start..start + len_p]
    }

    /// The payload as a zero-copy slice of the record's buffer.
    pub fn payload_bytes(&self) -> Bytes {
        let len_t = usize::from(wire::u16_le_at(&self.0, offset::LEN_T));
        let len_p = wire::u32_le_at(&self.0, offset::LEN_P) as usize;
        let start = offset::TAGS + pad8(len_t);
        self.0.slice(start..start + len_p)
    }

    /// The bytes that are hashed and signed, `[112:]`.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.0[offset::SIGNING_KEY..]
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id())
            .field("kind", &self.kind())
            .field("timestamp", &self.timestamp())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// The length LenT and LenP make a record: 208 + LenTPad + LenPPad, in
/// `u64` because LenP is a full `u32` from the peer, and in `usize` on a
/// 32-bit target the sum could wrap round to a small length that passes.
fn implied_len(len_t: u16, len_p: u32) -> u64 {
    MIN_RECORD_LEN as u64
        + u64::from(len_t).next_multiple_of(8)
        + u64::from(len_p).next_multiple_of(8)
}

/// Checks every structural rule; see [`RecordError`].
fn validate(bytes: &[u8]) -> Result<(), RecordError> {
    let len = bytes.len();
    if len < MIN_RECORD_LEN {
        return Err(RecordError::TooShort { len });
    }
    if len > MAX_RECORD_LEN {
        return Err(RecordError::TooLong { len });
    }
    let len_t = wire::u16_le_at(bytes, offset::LEN_T);
    let len_p = wire::u32_le_at(bytes, offset::LEN_P);
    let expected = implied_len(len_t, len_p);
    if expected != len as u64 {
        return Err(RecordError::LengthMismatch {
            len,
            expected: usize::try_from(expected).unwrap_or(usize::MAX),
            len_t: usize::from(len_t),
            len_p: usize::try_from(len_p).unwrap_or(usize::MAX),
        });
    }
    // Both now fit the record, which is at most 1 MiB.
    let (len_t, len_p) = (usize::from(len_t), len_p as usize);
    let id_ts = Timestamp::from_be_bytes(*array_at(bytes, offset::ID));
    let signed = Timestamp::from_be_bytes(*array_at(bytes, offset::TIMESTAMP));
    if id_ts != signed {
        return Err(RecordError::TimestampMismatch { id: id_ts, signed });
    }
    let low = u16::from_be_bytes(*array_at(bytes, offset::ID + 6));
    if low != 0 {
        return Err(RecordError::IdLowBytesNotZero { value: low });
    }
    let flags = RecordFlags::from_bits(wire::u16_le_at(bytes, offset::FLAGS));
    let reserved = flags.reserved_bits();
    if reserved != 0 {
        return Err(RecordError::ReservedFlags {
            flags: flags.bits(),
            reserved,
        });
    }
    if let SignatureScheme::Reserved(scheme) = flags.signature_scheme() {
        return Err(RecordError::UnsupportedSignatureScheme { scheme });
    }
    if signed.as_nanos() >> 63 != 0 {
        return Err(RecordError::TimestampTopBit { timestamp: signed });
    }
    if bytes[offset::ADDRESS] & 0x80 == 0 {
        return Err(RecordError::NonceTopBitClear);
    }
    let kind = Kind::from_bytes(*array_at(bytes, offset::KIND));
    if kind.uses_reserved_bits() {
        return Err(RecordError::ReservedKindBits { kind });
    }
    let tags_end = offset::TAGS + len_t;
    validate_record_tags(&bytes[offset::TAGS..tags_end]).map_err(RecordError::Tags)?;
    let payload_start = offset::TAGS + pad8(len_t);
    check_padding("tags", bytes, tags_end, payload_start)?;
    check_padding("payload", bytes, payload_start + len_p, len)
}

fn check_padding(
    section: &'static str,
    bytes: &[u8],
    start: usize,
    end: usize,
) -> Result<(), RecordError> {
    match wire::first_non_zero(&bytes[start..end]) {
        Some((at, value)) => Err(RecordError::PaddingNotZero {
            section,
            offset: start + at,
            value,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
