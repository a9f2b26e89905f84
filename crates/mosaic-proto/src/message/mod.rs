//! Messages: the typed client and server messages of protocol.md, their
//! zero-copy decoding and their encoding.
//!
//! Decoding is role-checked: a server decodes [`ClientMessage`]s and a client
//! [`ServerMessage`]s, and a message of the other role is a [`DecodeError`]
//! whose [`Disposition`] says what the receiver does about it.

mod client;
mod error;
mod server;

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub use client::ClientMessage;
pub use error::{CloseCode, DecodeError, Disposition};
pub use server::ServerMessage;

use crate::{BuildError, ExtensionTypes, MessageType, QueryId, Role, record::MAX_RECORD_LEN, wire};

/// The largest message the 24-bit length can describe: 16 MiB − 1.
pub const MAX_MESSAGE_LEN: usize = (1 << 24) - 1;

/// The default limit on a received message: the largest Record or Submission
/// (a 1 MiB record behind the 8-byte header). Filters are at most 64 KiB, so
/// only a Get with over 21,845 references needs more.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = MAX_RECORD_LEN + wire::HEADER_LEN;

/// What a receiver accepts: the size limit and the negotiated extension types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecodeOptions {
    max_message_len: usize,
    extensions: ExtensionTypes,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            extensions: ExtensionTypes::none(),
        }
    }
}

impl DecodeOptions {
    /// The defaults: [`DEFAULT_MAX_MESSAGE_LEN`] and no extension types.
    pub fn new() -> DecodeOptions {
        DecodeOptions::default()
    }

    /// These options with a different size limit.
    ///
    /// # Errors
    /// [`BuildError::MaxMessageLen`] outside `8..=MAX_MESSAGE_LEN`.
    pub fn with_max_message_len(mut self, len: usize) -> Result<DecodeOptions, BuildError> {
        if !(wire::HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len) {
            return Err(BuildError::MaxMessageLen { len });
        }
        self.max_message_len = len;
        Ok(self)
    }

    /// These options accepting the given extension types.
    pub fn with_extensions(mut self, extensions: ExtensionTypes) -> DecodeOptions {
        self.extensions = extensions;
        self
    }

    /// The largest message accepted.
    pub fn max_message_len(&self) -> usize {
        self.max_message_len
    }

    /// The extension types accepted.
    pub fn extensions(&self) -> ExtensionTypes {
        self.extensions
    }
}

/// Checks the type-and-length prefix against the bytes and the limit, and the
/// type's role against the receiver's; returns the type.
fn check_prefix(
    bytes: &Bytes,
    options: &DecodeOptions,
    expected: Role,
) -> Result<MessageType, DecodeError> {
    let Some(prefix) = bytes.first_chunk::<{ wire::PREFIX_LEN }>() else {
        return Err(DecodeError::TooShortForPrefix { len: bytes.len() });
    };
    let ty = MessageType(prefix[0]);
    let len = bytes.len();
    if len > options.max_message_len {
        return Err(DecodeError::TooLarge {
            ty,
            len,
            max: options.max_message_len,
        });
    }
    let declared = wire::read_len24(prefix);
    if declared != len {
        return Err(DecodeError::LengthMismatch {
            ty,
            declared,
            actual: len,
        });
    }
    if ty.role() != expected {
        return Err(DecodeError::WrongRole { ty, expected });
    }
    Ok(ty)
}

/// Requires at least the 8-byte header.
fn need_header(bytes: &[u8], ty: MessageType) -> Result<(), DecodeError> {
    if bytes.len() < wire::HEADER_LEN {
        return Err(DecodeError::TooShort {
            ty,
            len: bytes.len(),
            min: wire::HEADER_LEN,
        });
    }
    Ok(())
}

/// Requires exactly `expected` bytes (fixed-size messages).
fn need_exact(bytes: &[u8], ty: MessageType, expected: usize) -> Result<(), DecodeError> {
    if bytes.len() != expected {
        return Err(DecodeError::WrongSize {
            ty,
            expected,
            actual: bytes.len(),
        });
    }
    Ok(())
}

/// The message's bytes from `start` on, taking the buffer over rather than
/// slicing it: no reference count to raise for the slice and drop again for
/// the whole, per message. Callers have checked the length; a shorter
/// message would give an empty body, not a panic.
fn body_from(mut bytes: Bytes, start: usize) -> Bytes {
    bytes.advance(start.min(bytes.len()));
    bytes
}

/// Requires the zeroed bytes `[from..8]` of the header to be zero.
fn need_zero(bytes: &[u8], ty: MessageType, from: usize) -> Result<(), DecodeError> {
    match wire::first_non_zero(&bytes[from..wire::HEADER_LEN]) {
        Some((at, value)) => Err(DecodeError::NonZeroReserved {
            ty,
            offset: from + at,
            value,
        }),
        None => Ok(()),
    }
}

/// The query id at `[4:6]` of a header already checked to be present.
fn query_id_of(bytes: &[u8]) -> QueryId {
    QueryId(wire::u16_le_at(bytes, 4))
}

/// Writes the type byte and 24-bit length of a message `len` bytes long.
fn put_prefix(dst: &mut BytesMut, ty: MessageType, len: usize) {
    dst.put_u8(ty.0);
    dst.put_slice(&wire::len24_bytes(len));
}

/// Writes an 8-byte header: prefix, then `[4:6]` and `[6:8]`.
fn put_header(dst: &mut BytesMut, ty: MessageType, len: usize, b4: [u8; 2], b6: [u8; 2]) {
    put_prefix(dst, ty, len);
    dst.put_slice(&b4);
    dst.put_slice(&b6);
}

#[cfg(test)]
mod tests;
