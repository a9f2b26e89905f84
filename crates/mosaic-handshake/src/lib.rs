#![doc = include_str!("../README.md")]

mod client;
mod extensions;
mod header;
mod negotiated;
mod server;
mod url;

pub use http;

pub use client::{ClientHandshake, ClientHandshakeError};
pub use extensions::{ExtensionName, ExtensionNameError, Extensions, ExtensionsError};
pub use negotiated::Negotiated;
pub use server::{
    Decision, PolicyConfigError, ServerHandshakeError, ServerPolicy, ServerPolicyBuilder,
};
pub use url::{DEFAULT_WSS_PORT, Host, MosaicUrl, MosaicUrlError, ServiceUrl, ServiceUrlError};

use http::HeaderName;

/// The WebSocket subprotocol of Mosaic over WebSockets, sent by the client and
/// echoed by the server in `Sec-WebSocket-Protocol`.
pub const SUBPROTOCOL: &str = "mosaic2024";

/// `X-Mosaic-Extensions`: the extensions a client requests and a server
/// accepts. Header names are case-insensitive; `http` stores them in lower case.
pub const X_MOSAIC_EXTENSIONS: HeaderName = HeaderName::from_static("x-mosaic-extensions");

/// `X-Mosiac-Extensions`: the seed specification's misspelling of
/// [`X_MOSAIC_EXTENSIONS`]. Read on both sides, never sent.
pub const X_MOSIAC_EXTENSIONS: HeaderName = HeaderName::from_static("x-mosiac-extensions");

/// `X-Mosaic-Service-Url`: the server's optional web page for account
/// management.
pub const X_MOSAIC_SERVICE_URL: HeaderName = HeaderName::from_static("x-mosaic-service-url");

/// The extensions header value meaning "no extensions".
pub const NO_EXTENSIONS: &str = "-";

/// The longest value accepted in any one line of a header this crate reads,
/// in bytes. Longer: the server refuses with 400, the client fails (but
/// for `X-Mosaic-Service-Url`, which it ignores:
/// [`Negotiated::ignored_service_url`]).
pub const MAX_HEADER_VALUE_LEN: usize = 4096;

/// The most lines accepted for one header this crate reads (for the extensions
/// header, both spellings counted together).
pub const MAX_HEADER_LINES: usize = 16;

/// The most non-empty subprotocol items a server reads in
/// `Sec-WebSocket-Protocol`, over all its lines.
pub const MAX_SUBPROTOCOLS: usize = 64;

/// The most different extension names in a request (and in an
/// [`Extensions`] set).
pub const MAX_EXTENSIONS: usize = 32;

/// The longest extension name, in bytes.
pub const MAX_EXTENSION_NAME_LEN: usize = 64;
