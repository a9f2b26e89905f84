//! The server side: a policy that decides what to do with an upgrade request.

use http::header::SEC_WEBSOCKET_PROTOCOL;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};

use crate::extensions::split_extension_items;
use crate::header::{
    EXTENSION_FIELDS, FieldError, PROTOCOL_FIELD, any_present, is_ows, show, text_lines,
};
use crate::{
    Extensions, ExtensionsError, MAX_HEADER_LINES, MAX_HEADER_VALUE_LEN, MAX_SUBPROTOCOLS,
    Negotiated, SUBPROTOCOL, ServiceUrl, ServiceUrlError, X_MOSAIC_EXTENSIONS,
    X_MOSAIC_SERVICE_URL,
};

/// How a server answers Mosaic upgrade requests: the extensions it supports,
/// its service URL, and whether it also speaks nostr.
///
/// Build one with [`ServerPolicy::builder`] (or take the [`Default`]: no
/// extensions, no service URL, Mosaic only), then call
/// [`decide`](Self::decide) on each upgrade request.
#[derive(Debug, Clone, Default)]
pub struct ServerPolicy {
    supported: Extensions,
    service_url: Option<(ServiceUrl, HeaderValue)>,
    dual_stack: bool,
}

impl ServerPolicy {
    /// A builder with no extensions, no service URL and dual-stack off.
    pub fn builder() -> ServerPolicyBuilder {
        ServerPolicyBuilder::default()
    }

    /// The extensions this server supports.
    pub fn supported_extensions(&self) -> &Extensions {
        &self.supported
    }

    /// The service URL this server announces.
    pub fn service_url(&self) -> Option<&ServiceUrl> {
        self.service_url.as_ref().map(|(url, _)| url)
    }

    /// Whether requests without `mosaic2024` are handed over as nostr.
    pub fn dual_stack(&self) -> bool {
        self.dual_stack
    }

    /// Decides what to do with an upgrade request; see
    /// [`decide_headers`](Self::decide_headers).
    pub fn decide<T>(&self, request: &Request<T>) -> Decision {
        self.decide_headers(request.headers())
    }

    /// Decides what to do with the headers of an upgrade request.
    ///
    /// Only the Mosaic rules are checked here; the WebSocket library checks
    /// the method, `Upgrade`, `Sec-WebSocket-Key` and version itself.
    ///
    /// 1. `Sec-WebSocket-Protocol` is read on all its lines, split on commas,
    ///    items trimmed, empty items skipped, and matched case-sensitively.
    ///    A malformed header is rejected (400) even in dual-stack mode.
    /// 2. Without `mosaic2024`: [`Decision::Nostr`] in dual-stack mode,
    ///    otherwise a 400 rejection. Mosaic is never presumed.
    /// 3. The extensions header is read in both spellings
    ///    (`X-Mosaic-Extensions` first, then `X-Mosiac-Extensions`) and on all
    ///    lines, as one list: split on `;` (and `,`), trimmed, empty and `-`
    ///    items skipped, repeats dropped. Names this server does not support,
    ///    invalid ones included, are dropped, not refused (websockets.md:
    ///    remove the extensions you cannot service); a header that is not
    ///    text, too long or on too many lines is rejected (400).
    /// 4. The answer: `Sec-WebSocket-Protocol: mosaic2024`; when the client
    ///    sent an extensions header (either spelling, even empty), an
    ///    `X-Mosaic-Extensions` header with the requested names this server
    ///    supports, in the client's order, joined by `;`, or `-` when none;
    ///    `X-Mosaic-Service-Url` when the policy has one.
    pub fn decide_headers(&self, headers: &HeaderMap) -> Decision {
        match self.try_decide(headers) {
            Ok(decision) => decision,
            Err(reason) => Decision::Reject {
                status: reason.status(),
                reason,
            },
        }
    }

    fn try_decide(&self, headers: &HeaderMap) -> Result<Decision, ServerHandshakeError> {
        let lines = text_lines(headers, &[PROTOCOL_FIELD])?;
        let items = || {
            lines
                .iter()
                .flat_map(|line| line.split(','))
                .map(|item| item.trim_matches(is_ows))
                .filter(|item| !item.is_empty())
        };
        let mut offered = false;
        let mut count = 0usize;
        for item in items() {
            count = count.saturating_add(1);
            if count > MAX_SUBPROTOCOLS {
                return Err(ServerHandshakeError::TooManySubprotocols {
                    max: MAX_SUBPROTOCOLS,
                });
            }
            offered |= item == SUBPROTOCOL;
        }
        if !offered {
            if self.dual_stack {
                return Ok(Decision::Nostr);
            }
            return Err(ServerHandshakeError::MissingSubprotocol {
                offered: (count > 0)
                    .then(|| show(items().collect::<Vec<_>>().join(", ").as_bytes())),
            });
        }

        let extensions_sent = any_present(headers, &EXTENSION_FIELDS);
        let lines = text_lines(headers, &EXTENSION_FIELDS)?;
        // websockets.md: "Remove all extensions you are unable to service":
        // names that are not supported (invalid ones included) are dropped,
        // not refused, so that clients may offer extensions this server does
        // not know. The answer holds supported names only, in the client's
        // order, so it is bounded by the supported set.
        let mut extensions = Extensions::new();
        for item in lines.iter().flat_map(|line| split_extension_items(line)) {
            if extensions.contains(item) {
                continue;
            }
            if let Some(name) = self.supported.iter().find(|n| n.as_str() == item) {
                // The supported set is itself a valid `Extensions`, so this fits.
                let _ = extensions.insert(name.clone());
            }
        }

        let mut response_headers = HeaderMap::new();
        response_headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(SUBPROTOCOL),
        );
        if extensions_sent {
            response_headers.insert(X_MOSAIC_EXTENSIONS, extensions.to_header_value());
        }
        if let Some((_, value)) = &self.service_url {
            response_headers.insert(X_MOSAIC_SERVICE_URL, value.clone());
        }
        Ok(Decision::Mosaic {
            response_headers,
            negotiated: Negotiated {
                extensions,
                service_url: self.service_url().cloned(),
                ignored_service_url: None,
            },
        })
    }
}

/// Builds a [`ServerPolicy`]; configuration mistakes surface in
/// [`build`](Self::build).
#[derive(Debug, Clone, Default)]
pub struct ServerPolicyBuilder {
    supported: Vec<String>,
    service_url: Option<String>,
    dual_stack: bool,
}

impl ServerPolicyBuilder {
    /// Adds one supported extension name (checked in [`build`](Self::build)).
    pub fn supported_extension(mut self, name: impl Into<String>) -> Self {
        self.supported.push(name.into());
        self
    }

    /// Adds supported extension names (checked in [`build`](Self::build)).
    pub fn supported_extensions<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.supported.extend(names.into_iter().map(Into::into));
        self
    }

    /// Sets the `X-Mosaic-Service-Url` to announce: an absolute http or https
    /// URL with a host (checked in [`build`](Self::build)).
    pub fn service_url(mut self, url: impl Into<String>) -> Self {
        self.service_url = Some(url.into());
        self
    }

    /// Dual-stack mode: hand requests that do not offer `mosaic2024` to the
    /// application as nostr instead of refusing them. Off by default.
    pub fn dual_stack(mut self, on: bool) -> Self {
        self.dual_stack = on;
        self
    }

    /// Checks the configuration and builds the policy.
    pub fn build(self) -> Result<ServerPolicy, PolicyConfigError> {
        let supported = Extensions::from_names(&self.supported)?;
        let service_url = match self.service_url {
            None => None,
            Some(url) => {
                let url = ServiceUrl::new(&url)?;
                let value = HeaderValue::from_str(url.as_str()).map_err(|_| {
                    ServiceUrlError::InvalidCharacter {
                        shown: show(url.as_str().as_bytes()),
                    }
                })?;
                Some((url, value))
            }
        };
        Ok(ServerPolicy {
            supported,
            service_url,
            dual_stack: self.dual_stack,
        })
    }
}

/// A mistake in a [`ServerPolicy`]'s configuration: the local operator's
/// fault, found when the policy is built, never at run time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyConfigError {
    /// A supported extension name is invalid, or there are too many.
    #[error("invalid supported extensions: {0}")]
    Extensions(#[from] ExtensionsError),
    /// The service URL is not an absolute http or https URL with a host.
    #[error("invalid service URL: {0}")]
    ServiceUrl(#[from] ServiceUrlError),
}

/// What to do with an upgrade request.
#[derive(Debug, Clone)]
#[must_use]
pub enum Decision {
    /// Accept the connection as Mosaic: add `response_headers` to the
    /// `101 Switching Protocols` response (see [`Decision::apply_to`]).
    Mosaic {
        /// The headers to add: `Sec-WebSocket-Protocol: mosaic2024`, and
        /// `X-Mosaic-Extensions` and `X-Mosaic-Service-Url` when due.
        response_headers: HeaderMap,
        /// What was negotiated.
        negotiated: Negotiated,
    },
    /// Dual-stack mode only: the client did not offer `mosaic2024`; hand the
    /// connection to the application as nostr. No Mosaic header is added.
    Nostr,
    /// Refuse the upgrade with `status` and a one-line `reason` (its
    /// [`Display`](std::fmt::Display)), suitable as the response body.
    Reject {
        /// The HTTP status, `reason.status()`.
        status: StatusCode,
        /// What the client did wrong.
        reason: ServerHandshakeError,
    },
}

impl Decision {
    /// Applies the decision to a response: for [`Decision::Mosaic`], sets
    /// each of `response_headers` (replacing a header of the same name); for
    /// [`Decision::Reject`], sets the status (the body is the caller's, for
    /// instance `reason.to_string()`); for [`Decision::Nostr`], nothing.
    pub fn apply_to<T>(&self, response: &mut Response<T>) {
        match self {
            Decision::Mosaic {
                response_headers, ..
            } => {
                let headers = response.headers_mut();
                for name in response_headers.keys() {
                    headers.remove(name);
                }
                for (name, value) in response_headers {
                    headers.append(name, value.clone());
                }
            }
            Decision::Nostr => {}
            Decision::Reject { status, .. } => *response.status_mut() = *status,
        }
    }
}

/// Why a server refuses an upgrade request: the client (or a proxy) did
/// something wrong. The [`Display`](std::fmt::Display) is one line, safe to
/// send as the response body: peer bytes in it are escaped and cut short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerHandshakeError {
    /// `mosaic2024` was not offered, and the server is not dual-stack.
    #[error(
        "this is a Mosaic server: offer the WebSocket subprotocol mosaic2024 in Sec-WebSocket-Protocol ({})",
        match offered { Some(o) => format!("you offered `{o}`"), None => "you offered none".to_owned() }
    )]
    MissingSubprotocol {
        /// What the client offered instead, escaped for display.
        offered: Option<String>,
    },
    /// More than [`MAX_SUBPROTOCOLS`] subprotocols offered.
    #[error("too many subprotocols offered in Sec-WebSocket-Protocol; the limit is {max}")]
    TooManySubprotocols {
        /// The limit, [`MAX_SUBPROTOCOLS`].
        max: usize,
    },
    /// A Mosaic header value holds bytes other than visible ASCII.
    #[error("the {header} header must be visible ASCII text")]
    HeaderNotText {
        /// The header's name.
        header: &'static str,
    },
    /// A Mosaic header value is too long.
    #[error("the {header} header is {len} bytes long; the limit is {max}")]
    HeaderTooLong {
        /// The header's name.
        header: &'static str,
        /// The length of the value.
        len: usize,
        /// The limit, [`MAX_HEADER_VALUE_LEN`].
        max: usize,
    },
    /// A Mosaic header is repeated too often.
    #[error("too many {header} header lines ({count}); the limit is {max}")]
    TooManyHeaderLines {
        /// The header's name.
        header: &'static str,
        /// How many lines, counted up to the first one over the limit.
        count: usize,
        /// The limit, [`MAX_HEADER_LINES`].
        max: usize,
    },
}

impl ServerHandshakeError {
    /// The HTTP status to refuse with: `400 Bad Request` for every variant
    /// today.
    pub fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}

impl From<FieldError> for ServerHandshakeError {
    fn from(e: FieldError) -> Self {
        match e {
            FieldError::NotText { header } => Self::HeaderNotText { header },
            FieldError::TooLong { header, len } => Self::HeaderTooLong {
                header,
                len,
                max: MAX_HEADER_VALUE_LEN,
            },
            FieldError::TooManyLines { header, count } => Self::TooManyHeaderLines {
                header,
                count,
                max: MAX_HEADER_LINES,
            },
        }
    }
}
