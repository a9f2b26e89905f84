//! Extension names and ordered sets of them.

use std::fmt;
use std::str::FromStr;

use http::HeaderValue;

use crate::header::{is_ows, show};
use crate::{MAX_EXTENSION_NAME_LEN, MAX_EXTENSIONS, NO_EXTENSIONS};

/// A validated Mosaic extension name.
///
/// A name is 1 to [`MAX_EXTENSION_NAME_LEN`] bytes of HTTP token characters
/// (RFC 9110 `tchar`: ASCII letters and digits and ``!#$%&'*+-.^_`|~``), and is
/// not the bare `-`, which the header uses for "no extensions". Names are
/// compared byte for byte: `Sync` and `sync` are two different extensions.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExtensionName(String);

impl ExtensionName {
    /// Validates `name` as an extension name.
    ///
    /// ```
    /// use mosaic_handshake::ExtensionName;
    /// assert!(ExtensionName::new("sync").is_ok());
    /// assert!(ExtensionName::new("two words").is_err());
    /// ```
    pub fn new(name: &str) -> Result<Self, ExtensionNameError> {
        check_name(name.as_bytes())?;
        Ok(Self(name.to_owned()))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExtensionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ExtensionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for ExtensionName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ExtensionName {
    type Err = ExtensionNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for ExtensionName {
    type Error = ExtensionNameError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

/// Why a string is not a valid [`ExtensionName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtensionNameError {
    /// The name is empty.
    #[error("an extension name cannot be empty")]
    Empty,
    /// The name is longer than [`MAX_EXTENSION_NAME_LEN`].
    #[error("extension name `{shown}` is {len} bytes long; the limit is {max} bytes")]
    TooLong {
        /// The start of the name, escaped for display.
        shown: String,
        /// Its length in bytes.
        len: usize,
        /// The limit, [`MAX_EXTENSION_NAME_LEN`].
        max: usize,
    },
    /// The name holds a byte that is not an HTTP token character.
    #[error(
        "extension name `{shown}` contains `{byte}`, which is not allowed; use only ASCII letters, digits and !#$%&'*+-.^_`|~"
    )]
    InvalidCharacter {
        /// The name, escaped for display.
        shown: String,
        /// The offending byte, escaped for display.
        byte: String,
    },
    /// The name is `-`, which means "no extensions" in the header.
    #[error("`-` is not an extension name: the header uses it for the empty set")]
    Reserved,
}

/// RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(crate) fn check_name(name: &[u8]) -> Result<(), ExtensionNameError> {
    if name.is_empty() {
        return Err(ExtensionNameError::Empty);
    }
    if name.len() > MAX_EXTENSION_NAME_LEN {
        return Err(ExtensionNameError::TooLong {
            shown: show(name),
            len: name.len(),
            max: MAX_EXTENSION_NAME_LEN,
        });
    }
    if let Some(&b) = name.iter().find(|&&b| !is_tchar(b)) {
        return Err(ExtensionNameError::InvalidCharacter {
            shown: show(name),
            byte: show(&[b]),
        });
    }
    if name == NO_EXTENSIONS.as_bytes() {
        return Err(ExtensionNameError::Reserved);
    }
    Ok(())
}

/// An ordered set of extension names with no duplicates, at most
/// [`MAX_EXTENSIONS`] long.
///
/// The order is the order of insertion; it is the order the client requested
/// the names in, which the server's answer keeps.
///
/// Its [`Display`](fmt::Display) is the header form: the names joined by `;`,
/// or `-` for the empty set. [`FromStr`] reads that form back (see
/// [`Extensions::parse_header_value`] for the exact syntax).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Extensions(Vec<ExtensionName>);

impl Extensions {
    /// The empty set.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// Builds a set from names, in order, dropping repeats.
    ///
    /// ```
    /// use mosaic_handshake::Extensions;
    /// let ext = Extensions::from_names(["sync", "nip11", "sync"])?;
    /// assert_eq!(ext.to_string(), "sync;nip11");
    /// # Ok::<(), mosaic_handshake::ExtensionsError>(())
    /// ```
    pub fn from_names<I>(names: I) -> Result<Self, ExtensionsError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut set = Self::new();
        for name in names {
            set.insert(ExtensionName::new(name.as_ref())?)?;
        }
        Ok(set)
    }

    /// Parses the header syntax: names separated by `;`, with spaces or tabs
    /// around them, empty items and `-` items skipped, repeats dropped. A comma
    /// counts as a `;`, because HTTP joins repeated header lines with commas.
    ///
    /// `-`, the empty string and `;` all give the empty set.
    pub fn parse_header_value(value: &str) -> Result<Self, ExtensionsError> {
        let mut set = Self::new();
        for item in split_extension_items(value) {
            set.insert(ExtensionName::new(item)?)?;
        }
        Ok(set)
    }

    /// Adds `name` at the end. Returns `Ok(false)` and changes nothing when the
    /// name is already there; fails when the set already holds
    /// [`MAX_EXTENSIONS`] names.
    pub fn insert(&mut self, name: ExtensionName) -> Result<bool, ExtensionsError> {
        if self.contains(name.as_str()) {
            return Ok(false);
        }
        if self.0.len() >= MAX_EXTENSIONS {
            return Err(ExtensionsError::TooMany {
                max: MAX_EXTENSIONS,
            });
        }
        self.0.push(name);
        Ok(true)
    }

    /// Whether the set holds `name` (compared byte for byte).
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|n| n.as_str() == name)
    }

    /// The number of names.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, ExtensionName> {
        self.0.iter()
    }

    /// The names, in order, as a slice.
    pub fn as_slice(&self) -> &[ExtensionName] {
        &self.0
    }

    /// The names of `self` that `other` also holds, in the order of `self`.
    pub fn intersection(&self, other: &Extensions) -> Extensions {
        Extensions(
            self.0
                .iter()
                .filter(|n| other.contains(n.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// The header value: the names joined by `;`, or `-` for the empty set.
    pub fn to_header_value(&self) -> HeaderValue {
        // Names are HTTP token characters, so the value is always valid; the
        // fallback only keeps this function free of panics.
        HeaderValue::try_from(self.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static(NO_EXTENSIONS))
    }

    /// Pushes a name taken from another `Extensions` and known to be absent
    /// here; the cap holds because the source obeyed it.
    pub(crate) fn push_known_new(&mut self, name: ExtensionName) {
        self.0.push(name);
    }
}

/// Splits an extension header value into trimmed, non-empty, non-`-` items.
pub(crate) fn split_extension_items(value: &str) -> impl Iterator<Item = &str> {
    value
        .split([';', ','])
        .map(|item| item.trim_matches(is_ows))
        .filter(|item| !item.is_empty() && *item != NO_EXTENSIONS)
}

impl fmt::Display for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(NO_EXTENSIONS);
        }
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            f.write_str(name.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

impl FromStr for Extensions {
    type Err = ExtensionsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_header_value(s)
    }
}

impl<'a> IntoIterator for &'a Extensions {
    type Item = &'a ExtensionName;
    type IntoIter = std::slice::Iter<'a, ExtensionName>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Extensions {
    type Item = ExtensionName;
    type IntoIter = std::vec::IntoIter<ExtensionName>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Why a set of extensions could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtensionsError {
    /// One of the names is invalid.
    #[error(transparent)]
    InvalidName(#[from] ExtensionNameError),
    /// More than [`MAX_EXTENSIONS`] different names.
    #[error("more than {max} different extension names")]
    TooMany {
        /// The limit, [`MAX_EXTENSIONS`].
        max: usize,
    },
}
