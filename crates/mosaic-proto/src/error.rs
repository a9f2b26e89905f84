//! Errors the local caller is to blame for: building a message, filter or record
//! that the protocol cannot carry.
//!
//! What a peer gets wrong is reported by [`DecodeError`](crate::DecodeError),
//! [`FilterError`](crate::FilterError) and [`RecordError`](crate::RecordError).

/// Something the caller asked to build does not fit the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A tag of type 0, which tag_types.md reserves as the padding marker.
    #[error("tag type 0 is the padding marker and cannot be used for a tag")]
    TagTypeZero,
    /// A tag value over 253 bytes.
    #[error("tag value of {len} bytes exceeds the 253-byte maximum")]
    TagValueTooLong {
        /// The value's length.
        len: usize,
    },
    /// A Get body that is not a whole number of 48-byte references.
    #[error("{len} bytes is not a whole number of 48-byte references")]
    ReferencesNotWhole {
        /// The length given.
        len: usize,
    },
    /// More references than one Get message can carry.
    #[error("{count} references do not fit one Get message (at most {max})")]
    TooManyReferences {
        /// How many were given.
        count: usize,
        /// The most that fit.
        max: usize,
    },
    /// A filter element that would exceed 255 words (2040 bytes).
    #[error(
        "filter element 0x{element_type:02x} would take {len} bytes; an element holds at most 2040"
    )]
    FilterElementTooLong {
        /// The element type.
        element_type: u8,
        /// The bytes it would take.
        len: usize,
    },
    /// A filter longer than its 16-bit length field allows.
    #[error("filter would take {len} bytes; a filter holds at most 65528")]
    FilterTooLong {
        /// The bytes it would take.
        len: usize,
    },
    /// A record longer than record.md's 1 MiB maximum.
    #[error("record would take {len} bytes; a record holds at most 1048576")]
    RecordTooLong {
        /// The bytes it would take.
        len: usize,
    },
    /// A record tags section longer than its 16-bit length field allows.
    #[error("record tags take {len} bytes; LenT holds at most 65535")]
    TagsTooLong {
        /// The bytes the tags take.
        len: usize,
    },
    /// An address nonce whose first bit is 0 (record.md: it must start with a 1 bit).
    #[error("address nonce must start with a 1 bit")]
    NonceTopBitClear,
    /// A record timestamp with the top bit set or any of its low 16 bits set.
    #[error(
        "timestamp {nanos} cannot go in a record: the top bit and the low 16 bits must be zero (see Timestamp::record_aligned)"
    )]
    TimestampNotRecordAligned {
        /// The timestamp in nanoseconds.
        nanos: u64,
    },
    /// Record flags with reserved bits set or a signature scheme other than EdDSA.
    #[error("record flags 0x{flags:04x} set reserved bits or a signature scheme other than EdDSA")]
    UnsupportedFlags {
        /// The flags given.
        flags: u16,
    },
    /// `RecordParts::sign` was given a key whose public half is not the record's
    /// `signing_key`.
    #[cfg(feature = "crypto")]
    #[error(
        "the key given to sign is not the secret half of the record's signing_key; set signing_key to key.verifying_key().to_bytes()"
    )]
    SigningKeyMismatch,
    /// `RecordParts::sign` was given an author key that fails the key checks, so
    /// the record would fail validation.
    #[cfg(feature = "crypto")]
    #[error("record author key {0}")]
    InvalidAuthorKey(crate::KeyDefect),
    /// A kind with reserved bits set.
    #[error("kind {kind} sets bits that kinds.md reserves")]
    ReservedKindBits {
        /// The kind given.
        kind: crate::Kind,
    },
    /// An extension type byte that is a core message type or of the wrong role.
    #[error("type 0x{ty:02x} cannot be a {role} extension message: {why}")]
    ExtensionType {
        /// The type byte.
        ty: u8,
        /// The role it was meant for.
        role: crate::Role,
        /// Why not.
        why: &'static str,
    },
    /// An extension body too large for the 24-bit message length.
    #[error("extension body of {len} bytes does not fit the 24-bit message length")]
    ExtensionBodyTooLong {
        /// The body length.
        len: usize,
    },
    /// A maximum message size outside what the protocol can express.
    #[error("maximum message size {len} is outside 8..=16777215")]
    MaxMessageLen {
        /// The size given.
        len: usize,
    },
}
