//! Client messages: Get, Query, Subscribe, Unsubscribe, Submission.

use bytes::{BufMut, Bytes, BytesMut};

use super::{
    DecodeError, DecodeOptions, body_from, check_prefix, need_exact, need_header, need_zero,
    put_header, query_id_of,
};
use crate::{
    ClientExtension, Filter, IdPrefix, MessageType, QueryId, Record, References, Role,
    wire::{self, HEADER_LEN},
};

/// A message a client sends and a server receives.
///
/// Bodies ([`References`], [`Filter`], [`Record`], extension bodies) are slices
/// of the decoded buffer: decoding never copies them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMessage {
    /// Get (0x1): the records with these IDs or at these addresses.
    Get {
        /// Ties the answers to this request.
        query_id: QueryId,
        /// IDs and addresses, 48 bytes each.
        references: References,
    },
    /// Query (0x2): records matching a filter, newest first, then Query Closed.
    Query {
        /// Ties the answers to this request.
        query_id: QueryId,
        /// Most records wanted; 0 means no limit from the client.
        limit: u16,
        /// Which records.
        filter: Filter,
    },
    /// Subscribe (0x3): like Query, then Locally Complete and live records.
    Subscribe {
        /// Ties the answers to this request.
        query_id: QueryId,
        /// Most stored records wanted; 0 means no limit from the client.
        limit: u16,
        /// Which records.
        filter: Filter,
    },
    /// Unsubscribe (0x4): close an open subscription.
    Unsubscribe {
        /// The subscription to close.
        query_id: QueryId,
    },
    /// Submission (0x5): a record for the server.
    Submission {
        /// The record submitted.
        record: Record,
    },
    /// A message of a negotiated extension type.
    Extension(ClientExtension),
}

impl ClientMessage {
    /// Decodes one whole message, as a server does.
    ///
    /// # Errors
    /// A [`DecodeError`] whose [`disposition`](DecodeError::disposition) tells
    /// the server to close, or to answer the query or submission as invalid.
    pub fn decode(bytes: Bytes, options: &DecodeOptions) -> Result<ClientMessage, DecodeError> {
        let ty = check_prefix(&bytes, options, Role::Client)?;
        match ty {
            MessageType::GET => {
                need_header(&bytes, ty)?;
                need_zero(&bytes, ty, 6)?;
                let query_id = query_id_of(&bytes);
                let body = body_from(bytes, HEADER_LEN);
                let len = body.len();
                let references = References::from_bytes(body)
                    .map_err(|_| DecodeError::GetBodyNotReferences { len })?;
                Ok(ClientMessage::Get {
                    query_id,
                    references,
                })
            }
            MessageType::QUERY | MessageType::SUBSCRIBE => {
                need_header(&bytes, ty)?;
                let query_id = query_id_of(&bytes);
                let limit = wire::u16_le_at(&bytes, 6);
                let filter =
                    Filter::from_bytes(body_from(bytes, HEADER_LEN)).map_err(|source| {
                        DecodeError::InvalidFilter {
                            ty,
                            query_id,
                            source,
                        }
                    })?;
                Ok(if ty == MessageType::QUERY {
                    ClientMessage::Query {
                        query_id,
                        limit,
                        filter,
                    }
                } else {
                    ClientMessage::Subscribe {
                        query_id,
                        limit,
                        filter,
                    }
                })
            }
            MessageType::UNSUBSCRIBE => {
                need_exact(&bytes, ty, HEADER_LEN)?;
                need_zero(&bytes, ty, 6)?;
                Ok(ClientMessage::Unsubscribe {
                    query_id: query_id_of(&bytes),
                })
            }
            MessageType::SUBMISSION => {
                need_header(&bytes, ty)?;
                need_zero(&bytes, ty, 4)?;
                let body = body_from(bytes, HEADER_LEN);
                // The ID prefix is record bytes [64:96]; the ruling answers when
                // the bytes reach the end of the ID (112).
                let id_prefix = body
                    .get(64..112)
                    .and_then(|id| id.first_chunk::<32>())
                    .map(|p| IdPrefix(*p));
                let record =
                    Record::from_bytes(body).map_err(|source| DecodeError::InvalidRecord {
                        ty,
                        id_prefix,
                        source,
                    })?;
                Ok(ClientMessage::Submission { record })
            }
            _ if options.extensions().contains(ty.0) => {
                let ext = ClientExtension::new(ty.0, body_from(bytes, wire::PREFIX_LEN))
                    .expect("declared extension types are not core and the role was checked");
                Ok(ClientMessage::Extension(ext))
            }
            _ => Err(DecodeError::UnknownType {
                ty,
                role: Role::Client,
            }),
        }
    }

    /// The type byte.
    pub fn message_type(&self) -> MessageType {
        match self {
            ClientMessage::Get { .. } => MessageType::GET,
            ClientMessage::Query { .. } => MessageType::QUERY,
            ClientMessage::Subscribe { .. } => MessageType::SUBSCRIBE,
            ClientMessage::Unsubscribe { .. } => MessageType::UNSUBSCRIBE,
            ClientMessage::Submission { .. } => MessageType::SUBMISSION,
            ClientMessage::Extension(ext) => ext.message_type(),
        }
    }

    /// The query this message opens or closes, if any.
    pub fn query_id(&self) -> Option<QueryId> {
        match self {
            ClientMessage::Get { query_id, .. }
            | ClientMessage::Query { query_id, .. }
            | ClientMessage::Subscribe { query_id, .. }
            | ClientMessage::Unsubscribe { query_id } => Some(*query_id),
            ClientMessage::Submission { .. } | ClientMessage::Extension(_) => None,
        }
    }

    /// Bytes the message takes on the wire.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + match self {
                ClientMessage::Get { references, .. } => references.as_bytes().len(),
                ClientMessage::Query { filter, .. } | ClientMessage::Subscribe { filter, .. } => {
                    filter.len()
                }
                ClientMessage::Unsubscribe { .. } => 0,
                ClientMessage::Submission { record } => record.len(),
                ClientMessage::Extension(ext) => return ext.encoded_len(),
            }
    }

    /// Appends the wire form to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let len = self.encoded_len();
        dst.reserve(len);
        let ty = self.message_type();
        match self {
            ClientMessage::Get {
                query_id,
                references,
            } => {
                put_header(dst, ty, len, query_id.to_le_bytes(), [0; 2]);
                dst.put_slice(references.as_bytes());
            }
            ClientMessage::Query {
                query_id,
                limit,
                filter,
            }
            | ClientMessage::Subscribe {
                query_id,
                limit,
                filter,
            } => {
                put_header(dst, ty, len, query_id.to_le_bytes(), limit.to_le_bytes());
                dst.put_slice(filter.as_bytes());
            }
            ClientMessage::Unsubscribe { query_id } => {
                put_header(dst, ty, len, query_id.to_le_bytes(), [0; 2]);
            }
            ClientMessage::Submission { record } => {
                put_header(dst, ty, len, [0; 2], [0; 2]);
                dst.put_slice(record.as_bytes());
            }
            ClientMessage::Extension(ext) => ext.encode(dst),
        }
    }

    /// The wire form in a buffer of its own.
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut buf);
        buf.freeze()
    }
}
