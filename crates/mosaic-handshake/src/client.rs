//! The client side: request headers and the check of the server's response.

use http::header::SEC_WEBSOCKET_PROTOCOL;
use http::{HeaderMap, HeaderValue, Request, Response};

use crate::extensions::{check_name, split_extension_items};
use crate::header::{EXTENSION_FIELDS, FieldError, PROTOCOL_FIELD, is_ows, show, text_lines};
use crate::{
    ExtensionNameError, Extensions, Negotiated, SUBPROTOCOL, ServiceUrl, ServiceUrlError,
    X_MOSAIC_EXTENSIONS, X_MOSAIC_SERVICE_URL, X_MOSIAC_EXTENSIONS,
};

/// The client's half of the handshake: the extensions it requests.
///
/// Use [`apply`](Self::apply) (or [`add_headers`](Self::add_headers)) on the
/// upgrade request, then [`check`](Self::check) (or
/// [`check_headers`](Self::check_headers)) on the server's response once the
/// WebSocket library has accepted it. The WebSocket library checks the status
/// code and `Sec-WebSocket-Accept`; this type checks only the Mosaic rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHandshake {
    requested: Extensions,
}

impl ClientHandshake {
    /// A handshake that requests `requested` (possibly none).
    pub fn new(requested: Extensions) -> Self {
        Self { requested }
    }

    /// The extensions this client requests.
    pub fn requested(&self) -> &Extensions {
        &self.requested
    }

    /// Sets the Mosaic headers of an upgrade request:
    /// `Sec-WebSocket-Protocol: mosaic2024`, replacing any value already
    /// there, and `X-Mosaic-Extensions: a;b` when at least one extension is
    /// requested. Any extensions header already present (either spelling) is
    /// removed first, so the request carries exactly what this handshake says.
    pub fn add_headers(&self, headers: &mut HeaderMap) {
        headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(SUBPROTOCOL),
        );
        headers.remove(X_MOSAIC_EXTENSIONS);
        headers.remove(X_MOSIAC_EXTENSIONS);
        if !self.requested.is_empty() {
            headers.insert(X_MOSAIC_EXTENSIONS, self.requested.to_header_value());
        }
    }

    /// [`add_headers`](Self::add_headers) on a request.
    pub fn apply<T>(&self, request: &mut Request<T>) {
        self.add_headers(request.headers_mut());
    }

    /// Checks the server's upgrade response; see
    /// [`check_headers`](Self::check_headers).
    pub fn check<T>(&self, response: &Response<T>) -> Result<Negotiated, ClientHandshakeError> {
        self.check_headers(response.headers())
    }

    /// Checks the headers of the server's upgrade response.
    ///
    /// * `Sec-WebSocket-Protocol` must be present once, with exactly the
    ///   value `mosaic2024` (surrounding spaces aside).
    /// * The extensions header (`X-Mosaic-Extensions`, or the misspelled
    ///   `X-Mosiac-Extensions`, or both, and on several lines) is read like
    ///   the server reads it; absence and `-` mean the empty set. A name this
    ///   client did not request fails the handshake, as does an invalid name.
    /// * `X-Mosaic-Service-Url` is exposed when present and valid. An invalid
    ///   one (or several) does not fail the handshake: it is left out and the
    ///   reason is kept in [`Negotiated::ignored_service_url`].
    ///
    /// The negotiated extensions come in the order this client requested them.
    pub fn check_headers(&self, headers: &HeaderMap) -> Result<Negotiated, ClientHandshakeError> {
        self.check_subprotocol(headers)?;
        let extensions = self.check_extensions(headers)?;
        let (service_url, ignored_service_url) = match read_service_url(headers) {
            Ok(url) => (url, None),
            Err(e) => (None, Some(e)),
        };
        Ok(Negotiated {
            extensions,
            service_url,
            ignored_service_url,
        })
    }

    fn check_subprotocol(&self, headers: &HeaderMap) -> Result<(), ClientHandshakeError> {
        let lines = text_lines(headers, &[PROTOCOL_FIELD])?;
        match lines.as_slice() {
            [] => Err(ClientHandshakeError::MissingSubprotocol),
            [line] if line.contains(',') => Err(ClientHandshakeError::SeveralSubprotocols {
                shown: show(line.as_bytes()),
            }),
            [line] if line.trim_matches(is_ows) == SUBPROTOCOL => Ok(()),
            [line] => Err(ClientHandshakeError::WrongSubprotocol {
                shown: show(line.trim_matches(is_ows).as_bytes()),
            }),
            several => Err(ClientHandshakeError::SeveralSubprotocols {
                shown: show(several.join(", ").as_bytes()),
            }),
        }
    }

    fn check_extensions(&self, headers: &HeaderMap) -> Result<Extensions, ClientHandshakeError> {
        let lines = text_lines(headers, &EXTENSION_FIELDS)?;
        let mut accepted = vec![false; self.requested.len()];
        for item in lines.iter().flat_map(|line| split_extension_items(line)) {
            check_name(item.as_bytes())?;
            match self.requested.iter().position(|r| r.as_str() == item) {
                Some(i) => {
                    if let Some(slot) = accepted.get_mut(i) {
                        *slot = true;
                    }
                }
                None => {
                    return Err(ClientHandshakeError::UnrequestedExtension {
                        name: show(item.as_bytes()),
                        requested: self.requested.clone(),
                    });
                }
            }
        }
        let mut negotiated = Extensions::new();
        for (name, ok) in self.requested.iter().zip(accepted) {
            if ok {
                negotiated.push_known_new(name.clone());
            }
        }
        Ok(negotiated)
    }
}

/// Reads `X-Mosaic-Service-Url`: `Ok(None)` when absent.
fn read_service_url(headers: &HeaderMap) -> Result<Option<ServiceUrl>, ServiceUrlError> {
    let mut values = headers.get_all(X_MOSAIC_SERVICE_URL).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let rest = values.count();
    if rest > 0 {
        return Err(ServiceUrlError::Several {
            count: rest.saturating_add(1),
        });
    }
    let text = value.to_str().map_err(|_| {
        let bad = value
            .as_bytes()
            .iter()
            .find(|b| !(0x21..=0x7e).contains(*b))
            .copied()
            .unwrap_or(b'?');
        ServiceUrlError::InvalidCharacter {
            shown: show(&[bad]),
        }
    })?;
    ServiceUrl::new(text.trim_matches(is_ows)).map(Some)
}

/// The server's upgrade response broke a Mosaic rule.
///
/// Every variant is the server's fault (or a proxy's): the connection must
/// not be used as Mosaic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientHandshakeError {
    /// No `Sec-WebSocket-Protocol` in the response.
    #[error(
        "the server did not accept the mosaic2024 subprotocol (no Sec-WebSocket-Protocol in its response); it is probably not a Mosaic server"
    )]
    MissingSubprotocol,
    /// The server chose another subprotocol.
    #[error(
        "the server chose subprotocol `{shown}` instead of mosaic2024; it is not speaking Mosaic"
    )]
    WrongSubprotocol {
        /// The value it sent, escaped for display.
        shown: String,
    },
    /// The server answered with several subprotocols instead of one.
    #[error(
        "the server answered several subprotocols (`{shown}`); it must choose exactly mosaic2024"
    )]
    SeveralSubprotocols {
        /// The values it sent, escaped for display.
        shown: String,
    },
    /// A Mosaic header value holds bytes other than visible ASCII.
    #[error("the server's {header} header is not visible ASCII text")]
    HeaderNotText {
        /// The header's name.
        header: &'static str,
    },
    /// A Mosaic header value is too long.
    #[error("the server's {header} header is {len} bytes long; the limit is {max}")]
    HeaderTooLong {
        /// The header's name.
        header: &'static str,
        /// The length of the value.
        len: usize,
        /// The limit, [`MAX_HEADER_VALUE_LEN`](crate::MAX_HEADER_VALUE_LEN).
        max: usize,
    },
    /// A Mosaic header is repeated too often.
    #[error("the server sent {count} {header} header lines; the limit is {max}")]
    TooManyHeaderLines {
        /// The header's name.
        header: &'static str,
        /// How many lines it sent, counted up to the first one over the limit.
        count: usize,
        /// The limit, [`MAX_HEADER_LINES`](crate::MAX_HEADER_LINES).
        max: usize,
    },
    /// The server's extensions header holds an invalid name.
    #[error("the server's X-Mosaic-Extensions header is malformed: {0}")]
    InvalidExtensionName(#[from] ExtensionNameError),
    /// The server accepted an extension the client did not request.
    #[error(
        "the server accepted extension `{name}`, which this client did not request (requested: {requested}); a server may only return requested names"
    )]
    UnrequestedExtension {
        /// The name, escaped for display.
        name: String,
        /// What the client requested.
        requested: Extensions,
    },
}

impl From<FieldError> for ClientHandshakeError {
    fn from(e: FieldError) -> Self {
        match e {
            FieldError::NotText { header } => Self::HeaderNotText { header },
            FieldError::TooLong { header, len } => Self::HeaderTooLong {
                header,
                len,
                max: crate::MAX_HEADER_VALUE_LEN,
            },
            FieldError::TooManyLines { header, count } => Self::TooManyHeaderLines {
                header,
                count,
                max: crate::MAX_HEADER_LINES,
            },
        }
    }
}
