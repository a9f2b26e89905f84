//! Reading header fields with bounds, shared by the client and server sides.

use http::{HeaderMap, HeaderName};

use crate::{MAX_HEADER_LINES, MAX_HEADER_VALUE_LEN};

/// How much of a peer's bytes an error message shows.
const SHOW_MAX: usize = 64;

/// HTTP optional white space: space and horizontal tab.
pub(crate) fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Peer bytes escaped to printable ASCII, cut after [`SHOW_MAX`] bytes, so an
/// error message stays on one line and short whatever the peer sent.
pub(crate) fn show(bytes: &[u8]) -> String {
    let (head, cut) = match bytes.get(..SHOW_MAX) {
        Some(head) if head.len() < bytes.len() => (head, true),
        _ => (bytes, false),
    };
    let mut out = head.escape_ascii().to_string();
    if cut {
        out.push_str("...");
    }
    out
}

/// A header field as the rules read it: its wire name for messages and its
/// lower-case [`HeaderName`] for look-ups.
pub(crate) struct Field {
    pub(crate) display: &'static str,
    pub(crate) name: HeaderName,
}

/// `Sec-WebSocket-Protocol`.
pub(crate) const PROTOCOL_FIELD: Field = Field {
    display: "Sec-WebSocket-Protocol",
    name: http::header::SEC_WEBSOCKET_PROTOCOL,
};

/// The extensions header in both spellings, the correct one first.
pub(crate) const EXTENSION_FIELDS: [Field; 2] = [
    Field {
        display: "X-Mosaic-Extensions",
        name: crate::X_MOSAIC_EXTENSIONS,
    },
    Field {
        display: "X-Mosiac-Extensions",
        name: crate::X_MOSIAC_EXTENSIONS,
    },
];

/// Why a header field could not be read as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FieldError {
    /// A value holds bytes other than visible ASCII, space and tab.
    NotText { header: &'static str },
    /// A value is longer than [`MAX_HEADER_VALUE_LEN`].
    TooLong { header: &'static str, len: usize },
    /// The field has more than [`MAX_HEADER_LINES`] lines.
    TooManyLines { header: &'static str, count: usize },
}

/// All the lines of `fields`, in order (all lines of the first field, then of
/// the next), each checked to be visible ASCII and bounded in length; the
/// total number of lines is bounded too. An absent field gives no lines.
pub(crate) fn text_lines<'a>(
    headers: &'a HeaderMap,
    fields: &[Field],
) -> Result<Vec<&'a str>, FieldError> {
    let mut count = 0usize;
    for field in fields {
        count = count.saturating_add(headers.get_all(&field.name).iter().count());
        if count > MAX_HEADER_LINES {
            return Err(FieldError::TooManyLines {
                header: field.display,
                count,
            });
        }
    }
    let mut lines = Vec::with_capacity(count);
    for field in fields {
        for value in headers.get_all(&field.name) {
            if value.len() > MAX_HEADER_VALUE_LEN {
                return Err(FieldError::TooLong {
                    header: field.display,
                    len: value.len(),
                });
            }
            let text = value.to_str().map_err(|_| FieldError::NotText {
                header: field.display,
            })?;
            lines.push(text);
        }
    }
    Ok(lines)
}

/// Whether any of `fields` is present.
pub(crate) fn any_present(headers: &HeaderMap, fields: &[Field]) -> bool {
    fields.iter().any(|f| headers.contains_key(&f.name))
}
