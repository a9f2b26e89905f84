//! Message type bytes and the role (client or server) each one belongs to.

use std::fmt;

/// Which side of a connection sends a message.
///
/// Type bytes below `0x80` are client messages, `0x80` and above server messages
/// (DESIGN.md rulings); extension types follow the same split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Clients send Get, Query, Subscribe, Unsubscribe, Submission and client extensions.
    Client,
    /// Servers send Record, Locally Complete, Query Closed, Submission Result and server extensions.
    Server,
}

impl Role {
    /// The role of the other side of the connection.
    pub const fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Client => "client",
            Role::Server => "server",
        })
    }
}

/// The first byte of every message.
///
/// Any byte is representable so that errors can name what a peer actually sent;
/// the associated constants are the core types of protocol.md.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageType(pub u8);

impl MessageType {
    /// Get (0x1): records by ID or address.
    pub const GET: MessageType = MessageType(0x01);
    /// Query (0x2): records matching a filter, closed once served.
    pub const QUERY: MessageType = MessageType(0x02);
    /// Subscribe (0x3): a query kept open for records that arrive later.
    pub const SUBSCRIBE: MessageType = MessageType(0x03);
    /// Unsubscribe (0x4): closes an open subscription.
    pub const UNSUBSCRIBE: MessageType = MessageType(0x04);
    /// Submission (0x5): a record for the server to store.
    pub const SUBMISSION: MessageType = MessageType(0x05);
    /// Record (0x80): a record matching a query.
    pub const RECORD: MessageType = MessageType(0x80);
    /// Locally Complete (0x81): all stored matches of a subscription were sent.
    pub const LOCALLY_COMPLETE: MessageType = MessageType(0x81);
    /// Query Closed (0x82): a query ended, with a reason code.
    pub const QUERY_CLOSED: MessageType = MessageType(0x82);
    /// Submission Result (0x83): the outcome of a submission.
    pub const SUBMISSION_RESULT: MessageType = MessageType(0x83);

    /// The role whose messages use this type byte.
    pub const fn role(self) -> Role {
        if self.0 & 0x80 == 0 {
            Role::Client
        } else {
            Role::Server
        }
    }

    /// Whether this is one of the nine types protocol.md defines.
    pub const fn is_core(self) -> bool {
        matches!(self.0, 0x01..=0x05 | 0x80..=0x83)
    }

    /// The protocol.md name of a core type, `None` for any other byte.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x01 => "Get",
            0x02 => "Query",
            0x03 => "Subscribe",
            0x04 => "Unsubscribe",
            0x05 => "Submission",
            0x80 => "Record",
            0x81 => "Locally Complete",
            0x82 => "Query Closed",
            0x83 => "Submission Result",
            _ => return None,
        })
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:02x})", self.0),
            None => write!(f, "type 0x{:02x}", self.0),
        }
    }
}

impl fmt::Debug for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_bit_decides_the_role() {
        for ty in 0u8..=255 {
            let expected = if ty < 0x80 {
                Role::Client
            } else {
                Role::Server
            };
            assert_eq!(MessageType(ty).role(), expected, "type 0x{ty:02x}");
        }
    }

    #[test]
    fn exactly_nine_core_types_have_names() {
        let named: Vec<u8> = (0u8..=255)
            .filter(|&t| MessageType(t).name().is_some())
            .collect();
        assert_eq!(named, [1, 2, 3, 4, 5, 0x80, 0x81, 0x82, 0x83]);
        assert!(named.iter().all(|&t| MessageType(t).is_core()));
        assert_eq!(MessageType::QUERY.to_string(), "Query (0x02)");
        assert_eq!(MessageType(0x42).to_string(), "type 0x42");
    }
}
