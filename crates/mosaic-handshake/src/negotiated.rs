//! What a handshake settled.

use crate::{Extensions, ServiceUrl, ServiceUrlError};

/// The outcome of a Mosaic handshake, the same on both sides: the extensions
/// in use and the server's service URL, if it gave one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    pub(crate) extensions: Extensions,
    pub(crate) service_url: Option<ServiceUrl>,
    pub(crate) ignored_service_url: Option<ServiceUrlError>,
}

impl Negotiated {
    /// The extensions both sides will use, in the order the client requested
    /// them. Empty when the client requested none, when the server sent no
    /// extensions header, or when it sent `-`.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// The server's `X-Mosaic-Service-Url`, when it sent a valid one.
    pub fn service_url(&self) -> Option<&ServiceUrl> {
        self.service_url.as_ref()
    }

    /// Client side: why the server's `X-Mosaic-Service-Url` was ignored, when
    /// it sent one that is not a valid absolute http(s) URL (or sent several).
    /// The handshake still succeeds, because clients "expose it, never require
    /// it"; this is for logging. Always `None` on the server side.
    pub fn ignored_service_url(&self) -> Option<&ServiceUrlError> {
        self.ignored_service_url.as_ref()
    }

    /// Splits into extensions and service URL.
    pub fn into_parts(self) -> (Extensions, Option<ServiceUrl>) {
        (self.extensions, self.service_url)
    }
}
