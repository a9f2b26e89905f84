//! Mosaic WebSocket URLs (`wss://host[:port]/`) and service URLs.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::MAX_HEADER_VALUE_LEN;
use crate::header::show;

/// The default port of `wss` URLs (spec/url.md: "The `wss` default port is 443").
pub const DEFAULT_WSS_PORT: u16 = 443;

/// The longest DNS name accepted, in bytes (RFC 1035, without the final dot).
const MAX_DNS_NAME_LEN: usize = 253;
/// The longest DNS label accepted, in bytes (RFC 1035).
const MAX_DNS_LABEL_LEN: usize = 63;

/// The host of a URL: an IP address or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 address, such as `192.0.2.7`.
    Ipv4(Ipv4Addr),
    /// An IPv6 address, written in brackets in a URL: `[2001:db8::7]`.
    Ipv6(Ipv6Addr),
    /// A DNS name in lower case, such as `example.onion`. Internationalised
    /// names must be given in their ASCII (`xn--`) form.
    Domain(String),
}

impl fmt::Display for Host {
    /// The URL form: IPv6 addresses in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ipv4(ip) => write!(f, "{ip}"),
            Host::Ipv6(ip) => write!(f, "[{ip}]"),
            Host::Domain(name) => f.write_str(name),
        }
    }
}

/// A problem with the authority (`host[:port]`) part of a URL.
enum AuthorityError {
    MissingHost,
    InvalidHost { shown: String, reason: &'static str },
    InvalidPort { shown: String },
}

/// Parses `host[:port]` (no user info). `None` port means none was written
/// (or it was empty, which RFC 3986 allows and means the default).
fn parse_host_port(s: &str) -> Result<(Host, Option<u16>), AuthorityError> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(AuthorityError::InvalidHost {
                shown: show(s.as_bytes()),
                reason: "an IPv6 address opened with `[` must be closed with `]`",
            });
        };
        let ip = parse_ipv6(inside)?;
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(p),
                None => {
                    return Err(AuthorityError::InvalidHost {
                        shown: show(s.as_bytes()),
                        reason: "only `:PORT` may follow an IPv6 address in brackets",
                    });
                }
            },
        };
        (Host::Ipv6(ip), port)
    } else {
        let mut parts = s.split(':');
        let host = parts.next().unwrap_or_default();
        let port = parts.next();
        if parts.next().is_some() {
            return Err(AuthorityError::InvalidHost {
                shown: show(s.as_bytes()),
                reason: "an IPv6 address must be written in brackets, like [2001:db8::1]",
            });
        }
        if host.is_empty() {
            return Err(AuthorityError::MissingHost);
        }
        (parse_reg_host(host)?, port)
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((host, port))
}

fn parse_ipv6(inside: &str) -> Result<Ipv6Addr, AuthorityError> {
    inside.parse().map_err(|_| AuthorityError::InvalidHost {
        shown: show(inside.as_bytes()),
        reason: if inside.contains('%') {
            "IPv6 zone identifiers are not supported"
        } else {
            "not a valid IPv6 address"
        },
    })
}

/// An IPv4 address or a DNS name.
fn parse_reg_host(host: &str) -> Result<Host, AuthorityError> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ipv4(ip));
    }
    let invalid = |reason| AuthorityError::InvalidHost {
        shown: show(host.as_bytes()),
        reason,
    };
    // A name whose last label is a number would be read as an IPv4 address by
    // browsers and resolvers (the WHATWG URL standard does so): refuse it
    // rather than guess.
    let last = host.rsplit('.').next().unwrap_or_default();
    let hex = last
        .strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()));
    if hex || (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())) {
        return Err(invalid(
            "not a valid IPv4 address (four numbers from 0 to 255, like 192.0.2.7)",
        ));
    }
    if !host.is_ascii() {
        return Err(invalid(
            "not ASCII: write internationalised names in their xn-- form",
        ));
    }
    if host.len() > MAX_DNS_NAME_LEN {
        return Err(invalid("a DNS name is at most 253 bytes long"));
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(invalid(
                "a DNS name cannot have an empty label (two dots in a row, or a leading or trailing dot)",
            ));
        }
        if label.len() > MAX_DNS_LABEL_LEN {
            return Err(invalid("a DNS label is at most 63 bytes long"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid(
                "a DNS name holds only ASCII letters, digits, `-` and `.`",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("a DNS label cannot start or end with `-`"));
        }
    }
    Ok(Host::Domain(host.to_ascii_lowercase()))
}

fn parse_port(p: &str) -> Result<u16, AuthorityError> {
    let invalid = || AuthorityError::InvalidPort {
        shown: show(p.as_bytes()),
    };
    if p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(invalid()),
        Ok(port) => Ok(port),
    }
}

/// Splits `scheme://rest`, the scheme in lower case. `None` when the input
/// does not start with an RFC 3986 scheme followed by `://`.
fn split_scheme(s: &str) -> Option<(String, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let mut bytes = scheme.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) {
        return None;
    }
    Some((scheme.to_ascii_lowercase(), rest))
}

/// Whether a URL byte is allowed unescaped in the parts we read: visible
/// ASCII, no space, and no backslash (WHATWG parsers read `\` as `/` in a
/// `wss` URL, so a backslash would make us connect elsewhere than a browser
/// or a log shows).
fn is_url_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b'\\'
}

/// A Mosaic over WebSockets server URL in normal form: `wss://host[:port]/`.
///
/// Parsing follows spec/url.md:
///
/// * the scheme must be `wss` (any case); `ws`, `http`, `https` and `mosaic`
///   (Mosaic over QUIC) get their own errors;
/// * the host is required: an IPv4 address, an IPv6 address in brackets, or
///   a DNS name (stored in lower case);
/// * the port defaults to 443; port 0 is refused;
/// * user, password, query and fragment are pruned;
/// * the path must be empty or `/`: any other path is an error rather than
///   pruned, because the spec lists the path apart from the parts to prune,
///   and quietly connecting somewhere else than written would hide a mistake;
/// * surrounding white space is trimmed; inside the scheme, host, port and
///   path only visible ASCII other than a backslash is allowed.
///
/// [`Display`](fmt::Display) writes the normal form, leaving out `:443`;
/// parsing it gives back an equal value.
///
/// ```
/// use mosaic_handshake::MosaicUrl;
/// let url: MosaicUrl = "WSS://alice:secret@Relay.Example.com?x=1#top".parse()?;
/// assert_eq!(url.to_string(), "wss://relay.example.com/");
/// assert_eq!(url.port(), 443);
/// assert_eq!(url.authority(), "relay.example.com:443");
/// # Ok::<(), mosaic_handshake::MosaicUrlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MosaicUrl {
    host: Host,
    port: u16,
    normal: String,
}

impl MosaicUrl {
    /// Parses and normalises a Mosaic WebSocket URL.
    pub fn parse(input: &str) -> Result<Self, MosaicUrlError> {
        let s = input.trim_matches(|c: char| c.is_ascii_whitespace());
        if s.is_empty() {
            return Err(MosaicUrlError::Empty);
        }
        let Some((scheme, rest)) = split_scheme(s) else {
            return Err(MosaicUrlError::MissingScheme {
                shown: show(s.as_bytes()),
            });
        };
        match scheme.as_str() {
            "wss" => {}
            "ws" => return Err(MosaicUrlError::PlainWebSocket),
            "http" | "https" => return Err(MosaicUrlError::HttpScheme { scheme }),
            "mosaic" => return Err(MosaicUrlError::QuicScheme),
            _ => {
                return Err(MosaicUrlError::UnsupportedScheme {
                    scheme: show(scheme.as_bytes()),
                });
            }
        }
        // Query and fragment are pruned unread.
        let before_query = rest.split(['?', '#']).next().unwrap_or_default();
        if let Some(b) = before_query.bytes().find(|&b| !is_url_byte(b)) {
            return Err(MosaicUrlError::InvalidCharacter { shown: show(&[b]) });
        }
        let (authority, path) = match before_query.find('/') {
            Some(i) => before_query.split_at(i),
            None => (before_query, ""),
        };
        if !(path.is_empty() || path == "/") {
            return Err(MosaicUrlError::NonRootPath {
                shown: show(path.as_bytes()),
            });
        }
        // User and password are pruned.
        let host_port = authority.rsplit('@').next().unwrap_or_default();
        let (host, port) = parse_host_port(host_port).map_err(|e| match e {
            AuthorityError::MissingHost => MosaicUrlError::MissingHost,
            AuthorityError::InvalidHost { shown, reason } => {
                MosaicUrlError::InvalidHost { shown, reason }
            }
            AuthorityError::InvalidPort { shown } => MosaicUrlError::InvalidPort { shown },
        })?;
        Ok(Self::from_parts(host, port.unwrap_or(DEFAULT_WSS_PORT)))
    }

    /// Builds the URL of `host` and `port` (0 is refused).
    pub fn new(host: Host, port: u16) -> Result<Self, MosaicUrlError> {
        if port == 0 {
            return Err(MosaicUrlError::InvalidPort {
                shown: "0".to_owned(),
            });
        }
        // Re-check a hand-made domain by parsing it as a URL host.
        let host = match host {
            Host::Domain(name) => match parse_reg_host(&name) {
                Ok(host @ Host::Domain(_)) => host,
                Ok(_) | Err(_) => {
                    return Err(MosaicUrlError::InvalidHost {
                        shown: show(name.as_bytes()),
                        reason: "not a valid DNS name",
                    });
                }
            },
            ip => ip,
        };
        Ok(Self::from_parts(host, port))
    }

    fn from_parts(host: Host, port: u16) -> Self {
        let normal = if port == DEFAULT_WSS_PORT {
            format!("wss://{host}/")
        } else {
            format!("wss://{host}:{port}/")
        };
        Self { host, port, normal }
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port: the one written, or 443.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, always with the port and with IPv6 in brackets: the form
    /// `std::net::ToSocketAddrs` and the HTTP `Host` header take.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The normal form, as [`Display`](fmt::Display) writes it.
    pub fn as_str(&self) -> &str {
        &self.normal
    }
}

impl fmt::Display for MosaicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normal)
    }
}

impl FromStr for MosaicUrl {
    type Err = MosaicUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for MosaicUrl {
    type Error = MosaicUrlError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

/// Why a string is not a Mosaic WebSocket URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MosaicUrlError {
    /// Nothing but white space.
    #[error("the URL is empty; a Mosaic server URL looks like wss://192.0.2.7/")]
    Empty,
    /// No `scheme://` at the start.
    #[error(
        "`{shown}` has no scheme; a Mosaic server URL starts with wss://, like wss://192.0.2.7/"
    )]
    MissingScheme {
        /// The input, escaped for display.
        shown: String,
    },
    /// `ws://`: WebSocket without TLS.
    #[error("ws:// is WebSocket without TLS, which Mosaic does not allow; use wss://")]
    PlainWebSocket,
    /// `http://` or `https://`.
    #[error("{scheme}:// is a web page address, not a Mosaic server URL; use wss://")]
    HttpScheme {
        /// `http` or `https`.
        scheme: String,
    },
    /// `mosaic://`: Mosaic over QUIC.
    #[error(
        "mosaic:// is Mosaic over QUIC, which this WebSocket transport does not speak; use the server's wss:// URL"
    )]
    QuicScheme,
    /// Any other scheme.
    #[error("unsupported scheme `{scheme}`; Mosaic over WebSockets uses wss://")]
    UnsupportedScheme {
        /// The scheme, escaped for display.
        scheme: String,
    },
    /// A space, control character or non-ASCII byte before the query.
    #[error(
        "the URL contains `{shown}`; only visible ASCII other than a backslash is allowed (write internationalised host names in their xn-- form)"
    )]
    InvalidCharacter {
        /// The offending byte, escaped for display.
        shown: String,
    },
    /// No host after `wss://`.
    #[error("the URL has no host; write one after wss://, like wss://192.0.2.7/")]
    MissingHost,
    /// The host is not an IP address or DNS name.
    #[error("invalid host `{shown}`: {reason}")]
    InvalidHost {
        /// The host, escaped for display.
        shown: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The port is not a number from 1 to 65535.
    #[error("invalid port `{shown}`: a port is a number from 1 to 65535")]
    InvalidPort {
        /// The port, escaped for display.
        shown: String,
    },
    /// A path other than `/`.
    #[error("Mosaic server URLs use the root path `/`, not `{shown}`; remove the path")]
    NonRootPath {
        /// The path, escaped for display.
        shown: String,
    },
}

/// An `X-Mosaic-Service-Url`: an absolute `http` or `https` URL with a host,
/// where people manage their relationship with the server.
///
/// It must be visible ASCII without spaces (so that it fits an HTTP header),
/// at most [`MAX_HEADER_VALUE_LEN`] bytes, with a valid host and port and
/// without user info (RFC 9110 §4.2.4 forbids sending it). Path, query and
/// fragment are free. The text is kept as given, not normalised.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ServiceUrl(String);

impl ServiceUrl {
    /// Validates a service URL.
    ///
    /// ```
    /// use mosaic_handshake::ServiceUrl;
    /// assert!(ServiceUrl::new("https://example.com/account").is_ok());
    /// assert!(ServiceUrl::new("example.com/account").is_err());
    /// ```
    pub fn new(url: &str) -> Result<Self, ServiceUrlError> {
        if url.is_empty() {
            return Err(ServiceUrlError::Empty);
        }
        if url.len() > MAX_HEADER_VALUE_LEN {
            return Err(ServiceUrlError::TooLong {
                len: url.len(),
                max: MAX_HEADER_VALUE_LEN,
            });
        }
        if let Some(b) = url.bytes().find(|&b| !is_url_byte(b)) {
            return Err(ServiceUrlError::InvalidCharacter { shown: show(&[b]) });
        }
        let Some((scheme, rest)) = split_scheme(url) else {
            return Err(ServiceUrlError::NotAbsolute {
                shown: show(url.as_bytes()),
            });
        };
        if scheme != "http" && scheme != "https" {
            return Err(ServiceUrlError::NotHttp {
                scheme: show(scheme.as_bytes()),
            });
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(ServiceUrlError::HasUserInfo);
        }
        parse_host_port(authority).map_err(|e| match e {
            AuthorityError::MissingHost => ServiceUrlError::MissingHost,
            AuthorityError::InvalidHost { shown, reason } => {
                ServiceUrlError::InvalidHost { shown, reason }
            }
            AuthorityError::InvalidPort { shown } => ServiceUrlError::InvalidPort { shown },
        })?;
        Ok(Self(url.to_owned()))
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl FromStr for ServiceUrl {
    type Err = ServiceUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for ServiceUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a string is not a valid service URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceUrlError {
    /// The empty string.
    #[error("the service URL is empty; give an absolute URL like https://example.com/")]
    Empty,
    /// Longer than [`MAX_HEADER_VALUE_LEN`].
    #[error("the service URL is {len} bytes long; the limit is {max}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit, [`MAX_HEADER_VALUE_LEN`].
        max: usize,
    },
    /// A space, control character or non-ASCII byte.
    #[error(
        "the service URL contains `{shown}`; only visible ASCII other than a backslash is allowed (percent-encode the rest)"
    )]
    InvalidCharacter {
        /// The offending byte, escaped for display.
        shown: String,
    },
    /// Not `scheme://...`.
    #[error("the service URL `{shown}` is not absolute; it must start with https:// or http://")]
    NotAbsolute {
        /// The URL, escaped for display.
        shown: String,
    },
    /// A scheme other than `http` or `https`.
    #[error("the service URL's scheme is `{scheme}`; it must be https or http")]
    NotHttp {
        /// The scheme, escaped for display.
        scheme: String,
    },
    /// `user[:password]@` in the authority.
    #[error("the service URL carries a user name or password; remove the `user@` part")]
    HasUserInfo,
    /// No host.
    #[error("the service URL has no host; write one after the scheme, like https://example.com/")]
    MissingHost,
    /// The host is not an IP address or DNS name.
    #[error("the service URL's host `{shown}` is invalid: {reason}")]
    InvalidHost {
        /// The host, escaped for display.
        shown: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The port is not a number from 1 to 65535.
    #[error("the service URL's port `{shown}` is invalid: a port is a number from 1 to 65535")]
    InvalidPort {
        /// The port, escaped for display.
        shown: String,
    },
    /// The server sent the header more than once (client side only).
    #[error("the server sent {count} X-Mosaic-Service-Url headers; one is expected")]
    Several {
        /// How many it sent.
        count: usize,
    },
}
