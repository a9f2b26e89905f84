//! Record flags, `[200:202]` little-endian.

use std::fmt;

/// The signature scheme named by flag bits `0x0080` and `0x0040`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// `00`: EdDSA ed25519, the only scheme in use.
    Ed25519,
    /// `01`, `10` or `11`: reserved (record.md keeps `01` for secp256k1, not yet in use).
    Reserved(u8),
}

/// The 16 flag bits of a record.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RecordFlags(u16);

impl RecordFlags {
    /// `0x0001`: the payload is compressed with Zstd.
    pub const ZSTD: RecordFlags = RecordFlags(0x0001);
    /// `0x0004`: servers SHOULD only accept the record from its author.
    pub const FROM_AUTHOR: RecordFlags = RecordFlags(0x0004);
    /// Mask of the two signature scheme bits.
    pub const SIGNATURE_SCHEME_MASK: u16 = 0x00c0;
    /// Every bit record.md does not define: these MUST be zero.
    pub const RESERVED_MASK: u16 = !(0x0001 | 0x0004 | Self::SIGNATURE_SCHEME_MASK);

    /// No flags: uncompressed, accepted from anyone, EdDSA.
    pub const fn empty() -> RecordFlags {
        RecordFlags(0)
    }

    /// Flags from their raw bits (any bits, reserved ones included).
    pub const fn from_bits(bits: u16) -> RecordFlags {
        RecordFlags(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: RecordFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags with the bits of `other` added.
    pub const fn union(self, other: RecordFlags) -> RecordFlags {
        RecordFlags(self.0 | other.0)
    }

    /// The signature scheme bits.
    pub const fn signature_scheme(self) -> SignatureScheme {
        match (self.0 & Self::SIGNATURE_SCHEME_MASK) >> 6 {
            0 => SignatureScheme::Ed25519,
            other => SignatureScheme::Reserved(other as u8),
        }
    }

    /// The reserved bits that are set (zero in a valid record).
    pub const fn reserved_bits(self) -> u16 {
        self.0 & Self::RESERVED_MASK
    }
}

impl std::ops::BitOr for RecordFlags {
    type Output = RecordFlags;

    fn bitor(self, rhs: RecordFlags) -> RecordFlags {
        self.union(rhs)
    }
}

impl fmt::Debug for RecordFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_set();
        if self.contains(Self::ZSTD) {
            list.entry(&"ZSTD");
        }
        if self.contains(Self::FROM_AUTHOR) {
            list.entry(&"FROM_AUTHOR");
        }
        if let SignatureScheme::Reserved(scheme) = self.signature_scheme() {
            list.entry(&format_args!("SCHEME_{scheme:02b}"));
        }
        if self.reserved_bits() != 0 {
            list.entry(&format_args!("RESERVED_0x{:04x}", self.reserved_bits()));
        }
        list.finish()
    }
}
