//! Stream framing: whole messages out of a byte stream without message
//! boundaries, using the 24-bit length every message starts with.
//!
//! WebSockets keep message boundaries and do not need this; byte-stream
//! transports (a raw TLS stream, a pipe) do.

use bytes::{Bytes, BytesMut};

use crate::{BuildError, DecodeError, MAX_MESSAGE_LEN, MessageType, wire};

/// The outcome of [`Framer::next_message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// One whole message, ready for [`ClientMessage::decode`](crate::ClientMessage::decode)
    /// or [`ServerMessage::decode`](crate::ServerMessage::decode).
    Message(Bytes),
    /// At least this many more bytes must be pushed before the next message is whole.
    NeedMore(usize),
}

/// [`Framer::push`] was given more than [`Framer::space`] allows: drain messages first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "pushing {pushed} bytes onto {buffered} buffered would exceed the framer's {capacity}-byte capacity; take messages out first"
)]
pub struct BufferFull {
    /// Bytes already buffered.
    pub buffered: usize,
    /// Bytes offered.
    pub pushed: usize,
    /// The framer's capacity.
    pub capacity: usize,
}

/// Splits a byte stream into messages, buffering at most two maximal messages.
///
/// Push bytes as they arrive, then call [`Framer::next_message`] until it
/// answers [`Next::NeedMore`]. A length over the limit is reported as soon as
/// the 4-byte prefix arrives, before its body is buffered. After an error the
/// stream cannot be resynchronised: close the connection.
///
/// ```
/// use mosaic_proto::{Framer, Next};
///
/// let mut framer = Framer::new(1024)?;
/// // An Unsubscribe for query 7, arriving in two pieces.
/// framer.push(&[0x04, 0x08, 0x00])?;
/// assert_eq!(framer.next_message()?, Next::NeedMore(1));
/// framer.push(&[0x00, 0x07, 0x00, 0x00, 0x00])?;
/// assert!(matches!(framer.next_message()?, Next::Message(m) if m.len() == 8));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Framer {
    buf: BytesMut,
    max_message_len: usize,
}

impl Framer {
    /// A framer accepting messages up to `max_message_len` bytes.
    ///
    /// # Errors
    /// [`BuildError::MaxMessageLen`] outside `8..=MAX_MESSAGE_LEN`.
    pub fn new(max_message_len: usize) -> Result<Framer, BuildError> {
        if !(wire::HEADER_LEN..=MAX_MESSAGE_LEN).contains(&max_message_len) {
            return Err(BuildError::MaxMessageLen {
                len: max_message_len,
            });
        }
        Ok(Framer {
            buf: BytesMut::new(),
            max_message_len,
        })
    }

    /// The most bytes the framer holds at once: two maximal messages.
    pub fn capacity(&self) -> usize {
        2 * self.max_message_len
    }

    /// How many bytes [`Framer::push`] accepts now.
    pub fn space(&self) -> usize {
        self.capacity() - self.buf.len()
    }

    /// Bytes buffered and not yet taken out as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Appends bytes from the stream.
    ///
    /// # Errors
    /// [`BufferFull`] when `data` exceeds [`Framer::space`]; nothing is appended.
    pub fn push(&mut self, data: &[u8]) -> Result<(), BufferFull> {
        if data.len() > self.space() {
            return Err(BufferFull {
                buffered: self.buf.len(),
                pushed: data.len(),
                capacity: self.capacity(),
            });
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Takes the next whole message out, or says how many bytes are missing.
    ///
    /// # Errors
    /// [`DecodeError::TooLarge`] for a declared length over the limit and
    /// [`DecodeError::TooShortForPrefix`] for one under 4 bytes.
    pub fn next_message(&mut self) -> Result<Next, DecodeError> {
        let Some(prefix) = self.buf.first_chunk::<{ wire::PREFIX_LEN }>() else {
            return Ok(Next::NeedMore(wire::PREFIX_LEN - self.buf.len()));
        };
        let declared = wire::read_len24(prefix);
        if declared > self.max_message_len {
            return Err(DecodeError::TooLarge {
                ty: MessageType(prefix[0]),
                len: declared,
                max: self.max_message_len,
            });
        }
        if declared < wire::PREFIX_LEN {
            return Err(DecodeError::TooShortForPrefix { len: declared });
        }
        if self.buf.len() < declared {
            return Ok(Next::NeedMore(declared - self.buf.len()));
        }
        Ok(Next::Message(self.buf.split_to(declared).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_back_to_back_messages_pushed_byte_by_byte() {
        let a = [0x04, 0x08, 0, 0, 1, 0, 0, 0];
        let b = [0x81, 0x08, 0, 0, 2, 0, 0, 0];
        let mut framer = Framer::new(64).expect("valid limit");
        let mut out = Vec::new();
        for byte in a.iter().chain(&b) {
            framer.push(&[*byte]).expect("space");
            while let Next::Message(m) = framer.next_message().expect("valid") {
                out.push(m);
            }
        }
        assert_eq!(
            out,
            [Bytes::copy_from_slice(&a), Bytes::copy_from_slice(&b)]
        );
        assert_eq!(framer.buffered(), 0);
        assert_eq!(framer.next_message(), Ok(Next::NeedMore(4)));
    }

    #[test]
    fn oversize_length_is_refused_from_the_prefix_alone() {
        let mut framer = Framer::new(64).expect("valid limit");
        framer.push(&[0x80, 65, 0, 0]).expect("space");
        assert_eq!(
            framer.next_message(),
            Err(DecodeError::TooLarge {
                ty: MessageType::RECORD,
                len: 65,
                max: 64
            })
        );
    }

    #[test]
    fn length_below_the_prefix_is_refused() {
        let mut framer = Framer::new(64).expect("valid limit");
        framer.push(&[0x01, 3, 0, 0]).expect("space");
        assert_eq!(
            framer.next_message(),
            Err(DecodeError::TooShortForPrefix { len: 3 })
        );
    }

    #[test]
    fn push_is_bounded_by_capacity() {
        let mut framer = Framer::new(8).expect("valid limit");
        assert_eq!(framer.capacity(), 16);
        framer.push(&[0; 10]).expect("space");
        assert_eq!(
            framer.push(&[0; 7]),
            Err(BufferFull {
                buffered: 10,
                pushed: 7,
                capacity: 16
            })
        );
        assert_eq!(framer.buffered(), 10);
        assert!(Framer::new(7).is_err());
        assert!(Framer::new(MAX_MESSAGE_LEN + 1).is_err());
    }
}
