//! Server messages: Record, Locally Complete, Query Closed, Submission Result.

use bytes::{BufMut, Bytes, BytesMut};

use super::{
    DecodeError, DecodeOptions, body_from, check_prefix, need_exact, need_header, need_zero,
    put_header, put_prefix, query_id_of,
};
use crate::{
    IdPrefix, MessageType, QueryClosedCode, QueryId, Record, Role, ServerExtension,
    SubmissionResultCode,
    wire::{self, HEADER_LEN, array_at},
};

/// Bytes in a Submission Result: the header and a 32-byte ID prefix.
const SUBMISSION_RESULT_LEN: usize = HEADER_LEN + 32;

/// A message a server sends and a client receives.
///
/// A [`Record`] body is a slice of the decoded buffer: decoding never copies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerMessage {
    /// Record (0x80): a record matching a query.
    Record {
        /// The query it answers.
        query_id: QueryId,
        /// The record.
        record: Record,
    },
    /// Locally Complete (0x81): a subscription's stored records are all sent.
    LocallyComplete {
        /// The subscription.
        query_id: QueryId,
    },
    /// Query Closed (0x82): a query ended.
    QueryClosed {
        /// The query.
        query_id: QueryId,
        /// Why.
        code: QueryClosedCode,
    },
    /// Submission Result (0x83): what became of a submission.
    SubmissionResult {
        /// The outcome.
        code: SubmissionResultCode,
        /// The first 32 bytes of the submitted record's ID.
        id_prefix: IdPrefix,
    },
    /// A message of a negotiated extension type.
    Extension(ServerExtension),
}

impl ServerMessage {
    /// Decodes one whole message, as a client does.
    ///
    /// # Errors
    /// A [`DecodeError`] whose [`disposition`](DecodeError::disposition) tells
    /// the client to close, or to ignore an unknown server message.
    pub fn decode(bytes: Bytes, options: &DecodeOptions) -> Result<ServerMessage, DecodeError> {
        let ty = check_prefix(&bytes, options, Role::Server)?;
        match ty {
            MessageType::RECORD => {
                need_header(&bytes, ty)?;
                need_zero(&bytes, ty, 6)?;
                let query_id = query_id_of(&bytes);
                let record =
                    Record::from_bytes(body_from(bytes, HEADER_LEN)).map_err(|source| {
                        DecodeError::InvalidRecord {
                            ty,
                            id_prefix: None,
                            source,
                        }
                    })?;
                Ok(ServerMessage::Record { query_id, record })
            }
            MessageType::LOCALLY_COMPLETE => {
                need_exact(&bytes, ty, HEADER_LEN)?;
                need_zero(&bytes, ty, 6)?;
                Ok(ServerMessage::LocallyComplete {
                    query_id: query_id_of(&bytes),
                })
            }
            MessageType::QUERY_CLOSED => {
                need_exact(&bytes, ty, HEADER_LEN)?;
                need_zero(&bytes, ty, 7)?;
                Ok(ServerMessage::QueryClosed {
                    query_id: query_id_of(&bytes),
                    code: QueryClosedCode::from_u8(bytes[6]),
                })
            }
            MessageType::SUBMISSION_RESULT => {
                need_exact(&bytes, ty, SUBMISSION_RESULT_LEN)?;
                need_zero(&bytes, ty, 5)?;
                Ok(ServerMessage::SubmissionResult {
                    code: SubmissionResultCode::from_u8(bytes[4]),
                    id_prefix: IdPrefix(*array_at(&bytes, HEADER_LEN)),
                })
            }
            _ if options.extensions().contains(ty.0) => {
                let ext = ServerExtension::new(ty.0, body_from(bytes, wire::PREFIX_LEN))
                    .expect("declared extension types are not core and the role was checked");
                Ok(ServerMessage::Extension(ext))
            }
            _ => Err(DecodeError::UnknownType {
                ty,
                role: Role::Server,
            }),
        }
    }

    /// The type byte.
    pub fn message_type(&self) -> MessageType {
        match self {
            ServerMessage::Record { .. } => MessageType::RECORD,
            ServerMessage::LocallyComplete { .. } => MessageType::LOCALLY_COMPLETE,
            ServerMessage::QueryClosed { .. } => MessageType::QUERY_CLOSED,
            ServerMessage::SubmissionResult { .. } => MessageType::SUBMISSION_RESULT,
            ServerMessage::Extension(ext) => ext.message_type(),
        }
    }

    /// The query this message answers, if any.
    pub fn query_id(&self) -> Option<QueryId> {
        match self {
            ServerMessage::Record { query_id, .. }
            | ServerMessage::LocallyComplete { query_id }
            | ServerMessage::QueryClosed { query_id, .. } => Some(*query_id),
            ServerMessage::SubmissionResult { .. } | ServerMessage::Extension(_) => None,
        }
    }

    /// Bytes the message takes on the wire.
    pub fn encoded_len(&self) -> usize {
        match self {
            ServerMessage::Record { record, .. } => HEADER_LEN + record.len(),
            ServerMessage::LocallyComplete { .. } | ServerMessage::QueryClosed { .. } => HEADER_LEN,
            ServerMessage::SubmissionResult { .. } => SUBMISSION_RESULT_LEN,
            ServerMessage::Extension(ext) => ext.encoded_len(),
        }
    }

    /// Appends the wire form to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let len = self.encoded_len();
        dst.reserve(len);
        let ty = self.message_type();
        match self {
            ServerMessage::Record { query_id, record } => {
                put_header(dst, ty, len, query_id.to_le_bytes(), [0; 2]);
                dst.put_slice(record.as_bytes());
            }
            ServerMessage::LocallyComplete { query_id } => {
                put_header(dst, ty, len, query_id.to_le_bytes(), [0; 2]);
            }
            ServerMessage::QueryClosed { query_id, code } => {
                put_header(dst, ty, len, query_id.to_le_bytes(), [code.to_u8(), 0]);
            }
            ServerMessage::SubmissionResult { code, id_prefix } => {
                put_prefix(dst, ty, len);
                dst.put_slice(&[code.to_u8(), 0, 0, 0]);
                dst.put_slice(id_prefix.as_bytes());
            }
            ServerMessage::Extension(ext) => ext.encode(dst),
        }
    }

    /// The wire form in a buffer of its own.
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut buf);
        buf.freeze()
    }

    /// The 8-byte header of a Record message for `record` answering `query_id`.
    ///
    /// Lets a server send one encoded record to many subscribers without copying
    /// it per subscriber: the header is per query, the record bytes are shared
    /// (see [`Record::as_bytes`]).
    pub fn record_header(query_id: QueryId, record: &Record) -> [u8; HEADER_LEN] {
        let len = wire::len24_bytes(HEADER_LEN + record.len());
        let q = query_id.to_le_bytes();
        [
            MessageType::RECORD.0,
            len[0],
            len[1],
            len[2],
            q[0],
            q[1],
            0,
            0,
        ]
    }
}
