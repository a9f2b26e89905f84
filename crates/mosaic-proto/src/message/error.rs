//! What a peer's message got wrong, and what the receiver does about it.

use std::fmt;

use crate::{
    FilterError, IdPrefix, MessageType, QueryClosedCode, QueryId, RecordError, Role, ServerMessage,
    SubmissionResultCode,
};

/// A WebSocket close code (RFC 6455 section 7.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: unsupported data (a text message).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1008: policy violation (limits, idle peers).
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: message too big.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1011: internal error.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);

    /// Whether a close frame may carry this code (RFC 6455 7.4): the codes
    /// defined or registered for sending (1000-1003, 1007-1013) and those
    /// for libraries and applications (3000-4999). 1005, 1006 and 1015 only
    /// report what happened locally; the rest are unassigned or reserved,
    /// and a peer may fail the connection on them (1014, registered later,
    /// included: tungstenite, for one, answers it as a protocol error).
    pub const fn may_be_sent(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1013 | 3000..=4999)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1008 => "policy violation",
            1009 => "message too big",
            1011 => "internal error",
            _ => return write!(f, "close code {}", self.0),
        };
        write!(f, "{} ({name})", self.0)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What the receiver of a bad message does (DESIGN.md rulings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// Close the connection with this code.
    Close(CloseCode),
    /// Answer Query Closed `REJECTED_INVALID` for this query; keep the connection.
    RejectQuery(QueryId),
    /// Answer Submission Result `REJECTED_INVALID` with this prefix; keep the connection.
    RejectSubmission(IdPrefix),
    /// A client ignores an unexpected server message (protocol.md: it MUST ignore
    /// it) after reporting it.
    Ignore,
}

impl Disposition {
    /// The message a server sends back, for the two dispositions that answer.
    pub fn answer(&self) -> Option<ServerMessage> {
        match *self {
            Disposition::RejectQuery(query_id) => Some(ServerMessage::QueryClosed {
                query_id,
                code: QueryClosedCode::RejectedInvalid,
            }),
            Disposition::RejectSubmission(id_prefix) => Some(ServerMessage::SubmissionResult {
                code: SubmissionResultCode::RejectedInvalid,
                id_prefix,
            }),
            Disposition::Close(_) | Disposition::Ignore => None,
        }
    }
}

/// What is wrong with a received message. The sender is to blame; see
/// [`DecodeError::disposition`] for what the receiver does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer than the 4 bytes of type and length.
    #[error("message of {len} bytes is shorter than the 4-byte type and length prefix")]
    TooShortForPrefix {
        /// Bytes present.
        len: usize,
    },
    /// Larger than the receiver's limit.
    #[error("{ty} message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The type byte.
        ty: MessageType,
        /// Bytes present.
        len: usize,
        /// The receiver's limit.
        max: usize,
    },
    /// The LENGTH field differs from the bytes that came.
    #[error("{ty} message declares {declared} bytes but carries {actual}")]
    LengthMismatch {
        /// The type byte.
        ty: MessageType,
        /// The LENGTH field.
        declared: usize,
        /// Bytes present.
        actual: usize,
    },
    /// A message of the sender's own side: a client sent a server message or the reverse.
    #[error("{ty} is a {} message, but only {expected} messages may come here", .ty.role())]
    WrongRole {
        /// The type byte.
        ty: MessageType,
        /// The role the receiver accepts.
        expected: Role,
    },
    /// A type byte that is neither core nor a negotiated extension.
    #[error("unknown {role} message {ty} (not a core type, not a negotiated extension)")]
    UnknownType {
        /// The type byte.
        ty: MessageType,
        /// Its role.
        role: Role,
    },
    /// Shorter than the message's 8-byte header.
    #[error("{ty} message of {len} bytes is shorter than its {min}-byte header")]
    TooShort {
        /// The type byte.
        ty: MessageType,
        /// Bytes present.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// A fixed-size message of the wrong size.
    #[error("{ty} message must be exactly {expected} bytes but is {actual}")]
    WrongSize {
        /// The type byte.
        ty: MessageType,
        /// Its fixed size.
        expected: usize,
        /// Bytes present.
        actual: usize,
    },
    /// A zeroed header byte is not zero.
    #[error("{ty} message byte {offset} is 0x{value:02x}, but it is reserved and must be zero")]
    NonZeroReserved {
        /// The type byte.
        ty: MessageType,
        /// Offset in the message.
        offset: usize,
        /// The byte found.
        value: u8,
    },
    /// A Get body that is not a whole number of 48-byte references.
    #[error("Get message carries {len} bytes of references, not a multiple of 48")]
    GetBodyNotReferences {
        /// The body length.
        len: usize,
    },
    /// A Query or Subscribe whose filter is invalid; the query id was readable.
    #[error("{ty} message for {query_id} carries an invalid filter: {source}")]
    InvalidFilter {
        /// The type byte.
        ty: MessageType,
        /// The query the filter belongs to.
        query_id: QueryId,
        /// What is wrong with the filter.
        #[source]
        source: FilterError,
    },
    /// A Submission or Record whose record is structurally invalid.
    #[error("{ty} message carries an invalid record: {source}")]
    InvalidRecord {
        /// The type byte.
        ty: MessageType,
        /// The ID prefix, when the bytes are long enough to hold one (112 bytes).
        id_prefix: Option<IdPrefix>,
        /// What is wrong with the record.
        #[source]
        source: RecordError,
    },
}

impl DecodeError {
    /// What the receiver does about this message (DESIGN.md rulings): answer the
    /// query or submission as `REJECTED_INVALID` where one can be named, ignore
    /// unknown server messages on a client, and otherwise close with 1009 for an
    /// oversize message or 1002 for any other violation.
    pub fn disposition(&self) -> Disposition {
        match self {
            DecodeError::TooLarge { .. } => Disposition::Close(CloseCode::MESSAGE_TOO_BIG),
            DecodeError::InvalidFilter { query_id, .. } => Disposition::RejectQuery(*query_id),
            DecodeError::InvalidRecord {
                ty,
                id_prefix: Some(prefix),
                ..
            } if *ty == MessageType::SUBMISSION => Disposition::RejectSubmission(*prefix),
            DecodeError::UnknownType {
                role: Role::Server, ..
            } => Disposition::Ignore,
            _ => Disposition::Close(CloseCode::PROTOCOL_ERROR),
        }
    }

    /// The type byte of the offending message, when it had one.
    pub fn message_type(&self) -> Option<MessageType> {
        match self {
            DecodeError::TooShortForPrefix { .. } => None,
            DecodeError::GetBodyNotReferences { .. } => Some(MessageType::GET),
            DecodeError::TooLarge { ty, .. }
            | DecodeError::LengthMismatch { ty, .. }
            | DecodeError::WrongRole { ty, .. }
            | DecodeError::UnknownType { ty, .. }
            | DecodeError::TooShort { ty, .. }
            | DecodeError::WrongSize { ty, .. }
            | DecodeError::NonZeroReserved { ty, .. }
            | DecodeError::InvalidFilter { ty, .. }
            | DecodeError::InvalidRecord { ty, .. } => Some(*ty),
        }
    }
}
