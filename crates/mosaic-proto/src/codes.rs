//! The reason codes of Query Closed and Submission Result.
//!
//! Codes may grow in later protocol versions, so a code this crate does not know
//! is kept as `Unknown(raw)` rather than rejected (DESIGN.md rulings).

use std::fmt;

macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A code this version does not know, kept as sent.
            Unknown(u8),
        }

        impl $name {
            /// The code for a raw byte; unknown bytes become `Unknown`.
            pub const fn from_u8(raw: u8) -> Self {
                match raw {
                    $( $value => Self::$variant, )*
                    other => Self::Unknown(other),
                }
            }

            /// The byte written on the wire.
            pub const fn to_u8(self) -> u8 {
                match self {
                    $( Self::$variant => $value, )*
                    Self::Unknown(raw) => raw,
                }
            }

            /// The spec's upper-case name, or `None` for an unknown code.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $( Self::$variant => Some($text), )*
                    Self::Unknown(_) => None,
                }
            }
        }

        impl From<u8> for $name {
            fn from(raw: u8) -> Self {
                Self::from_u8(raw)
            }
        }

        impl From<$name> for u8 {
            fn from(code: $name) -> u8 {
                code.to_u8()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => write!(f, "{name} (0x{:02x})", self.to_u8()),
                    None => write!(f, "unknown code 0x{:02x}", self.to_u8()),
                }
            }
        }
    };
}

code_enum! {
    /// Why a query was closed (Query Closed, 0x82).
    QueryClosedCode {
        /// 0x1: closed on request (Unsubscribe), or a Get/Query that was fully served.
        OnRequest = 0x01 => "ON_REQUEST",
        /// 0x10: the query is invalid.
        RejectedInvalid = 0x10 => "REJECTED_INVALID",
        /// 0x11: the query is too broad, matching too many records.
        RejectedTooOpen = 0x11 => "REJECTED_TOO_OPEN",
        /// 0x12: queries (or messages) are coming too quickly.
        RejectedTooFast = 0x12 => "REJECTED_TOO_FAST",
        /// 0x13: the client is temporarily banned from querying.
        RejectedTempBanned = 0x13 => "REJECTED_TEMP_BANNED",
        /// 0x14: the client is permanently banned from querying.
        RejectedPermBanned = 0x14 => "REJECTED_PERM_BANNED",
        /// 0x30: the server is shutting down.
        ShuttingDown = 0x30 => "SHUTTING_DOWN",
        /// 0xF0: the server has encountered an internal error.
        InternalError = 0xF0 => "INTERNAL_ERROR",
        /// 0xFF: other reason, or not specified.
        Other = 0xFF => "OTHER",
    }
}

code_enum! {
    /// The outcome of a submission (Submission Result, 0x83).
    SubmissionResultCode {
        /// 0x1: the record was accepted.
        Ok = 0x01 => "OK",
        /// 0x2: the record is a duplicate.
        Duplicate = 0x02 => "DUPLICATE",
        /// 0x3: an ephemeral record had no consumers.
        NoConsumers = 0x03 => "NO_CONSUMERS",
        /// 0x10: the record is invalid.
        RejectedInvalid = 0x10 => "REJECTED_INVALID",
        /// 0x12: submissions (or messages) are coming too quickly.
        RejectedTooFast = 0x12 => "REJECTED_TOO_FAST",
        /// 0x13: the client is temporarily banned from submissions.
        RejectedTempBanned = 0x13 => "REJECTED_TEMP_BANNED",
        /// 0x14: the client is permanently banned from submissions.
        RejectedPermBanned = 0x14 => "REJECTED_PERM_BANNED",
        /// 0x15: the submission requires authentication.
        RejectedRequiresAuthn = 0x15 => "REJECTED_REQUIRES_AUTHN",
        /// 0x16: the submission requires authorization.
        RejectedRequiresAuthz = 0x16 => "REJECTED_REQUIRES_AUTHZ",
        /// 0xF0: the server has encountered an internal error.
        InternalError = 0xF0 => "INTERNAL_ERROR",
        /// 0xFF: other reason, or not specified.
        Other = 0xFF => "OTHER",
    }
}

impl SubmissionResultCode {
    /// Whether the server holds (or, for ephemeral records, delivered) the record:
    /// `OK`, `DUPLICATE` and `NO_CONSUMERS`.
    pub const fn is_accepted(self) -> bool {
        matches!(self, Self::Ok | Self::Duplicate | Self::NoConsumers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_query_closed_code_has_its_value() {
        let table = [
            (QueryClosedCode::OnRequest, 0x01),
            (QueryClosedCode::RejectedInvalid, 0x10),
            (QueryClosedCode::RejectedTooOpen, 0x11),
            (QueryClosedCode::RejectedTooFast, 0x12),
            (QueryClosedCode::RejectedTempBanned, 0x13),
            (QueryClosedCode::RejectedPermBanned, 0x14),
            (QueryClosedCode::ShuttingDown, 0x30),
            (QueryClosedCode::InternalError, 0xF0),
            (QueryClosedCode::Other, 0xFF),
        ];
        for (code, raw) in table {
            assert_eq!(code.to_u8(), raw);
            assert_eq!(QueryClosedCode::from_u8(raw), code);
        }
    }

    #[test]
    fn every_spec_submission_result_code_has_its_value() {
        let table = [
            (SubmissionResultCode::Ok, 0x01),
            (SubmissionResultCode::Duplicate, 0x02),
            (SubmissionResultCode::NoConsumers, 0x03),
            (SubmissionResultCode::RejectedInvalid, 0x10),
            (SubmissionResultCode::RejectedTooFast, 0x12),
            (SubmissionResultCode::RejectedTempBanned, 0x13),
            (SubmissionResultCode::RejectedPermBanned, 0x14),
            (SubmissionResultCode::RejectedRequiresAuthn, 0x15),
            (SubmissionResultCode::RejectedRequiresAuthz, 0x16),
            (SubmissionResultCode::InternalError, 0xF0),
            (SubmissionResultCode::Other, 0xFF),
        ];
        for (code, raw) in table {
            assert_eq!(code.to_u8(), raw);
            assert_eq!(SubmissionResultCode::from_u8(raw), code);
        }
    }

    #[test]
    fn unknown_codes_are_kept_raw_for_every_byte() {
        for raw in 0u8..=255 {
            assert_eq!(QueryClosedCode::from_u8(raw).to_u8(), raw);
            assert_eq!(SubmissionResultCode::from_u8(raw).to_u8(), raw);
        }
        assert_eq!(
            QueryClosedCode::from_u8(0x77),
            QueryClosedCode::Unknown(0x77)
        );
        assert_eq!(
            SubmissionResultCode::from_u8(0x11).to_string(),
            "unknown code 0x11"
        );
        assert_eq!(
            QueryClosedCode::ShuttingDown.to_string(),
            "SHUTTING_DOWN (0x30)"
        );
    }
}
