#![doc = include_str!("../README.md")]

mod codes;
mod error;
mod extension;
mod filter;
mod framer;
mod ids;
mod kind;
mod message;
mod message_type;
mod record;
pub mod session;
mod tag;
mod timestamp;
mod wire;

#[cfg(test)]
mod test_support;

pub use codes::{QueryClosedCode, SubmissionResultCode};
pub use error::BuildError;
pub use extension::{ClientExtension, ExtensionTypes, ServerExtension};
pub use filter::{
    ElementType, Elements, Filter, FilterBuilder, FilterElement, FilterError, IdPrefixList,
    KindList, MAX_ELEMENT_LEN, MAX_FILTER_LEN, TagList, TimestampList,
};
pub use framer::{BufferFull, Framer, Next};
pub use ids::{Address, Id, IdPrefix, QueryId, Reference, References};
pub use kind::{DuplicateHandling, Kind, ReadAccess};
pub use message::{
    ClientMessage, CloseCode, DEFAULT_MAX_MESSAGE_LEN, DecodeError, DecodeOptions, Disposition,
    MAX_MESSAGE_LEN, ServerMessage,
};
pub use message_type::{MessageType, Role};
#[cfg(feature = "crypto")]
pub use record::{
    KeyDefect, RecordInvalid, SIGNATURE_CONTEXT, VerifiedRecord, validate_public_key,
};
pub use record::{
    MAX_RECORD_LEN, MIN_RECORD_LEN, Record, RecordError, RecordFlags, RecordParts, SignatureScheme,
    UnsignedRecord,
};
pub use tag::{Tag, TagError, Tags};
pub use timestamp::Timestamp;

/// The ed25519-dalek release this crate signs and verifies with, so that callers
/// name the same `SigningKey` type.
#[cfg(feature = "crypto")]
pub use ed25519_dalek;
