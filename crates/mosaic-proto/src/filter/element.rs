//! Filter element types and borrowed views of their contents (filter.md).

use std::fmt;

use crate::{IdPrefix, Kind, TagError, Timestamp, tag::Tags};

/// The type byte of a filter element.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ElementType(pub u8);

impl ElementType {
    /// 0x1: records by any of these author keys.
    pub const AUTHOR_KEYS: ElementType = ElementType(0x01);
    /// 0x2: records signed by any of these keys.
    pub const SIGNING_KEYS: ElementType = ElementType(0x02);
    /// 0x3: records of any of these kinds.
    pub const KINDS: ElementType = ElementType(0x03);
    /// 0x4: records with any of these exact timestamps.
    pub const TIMESTAMPS: ElementType = ElementType(0x04);
    /// 0x5: records carrying any of these tags.
    pub const INCLUDED_TAGS: ElementType = ElementType(0x05);
    /// 0x80: records with a timestamp at or after this one.
    pub const SINCE: ElementType = ElementType(0x80);
    /// 0x81: records with a timestamp at or before this one.
    pub const UNTIL: ElementType = ElementType(0x81);
    /// 0x82: records the server received at or after this time.
    pub const RECEIVED_SINCE: ElementType = ElementType(0x82);
    /// 0x83: records the server received at or before this time.
    pub const RECEIVED_UNTIL: ElementType = ElementType(0x83);
    /// 0x84: excludes records whose ID starts with any of these prefixes.
    pub const EXCLUDE: ElementType = ElementType(0x84);
    /// 0x85: records carrying none of these tags.
    pub const EXCLUDED_TAGS: ElementType = ElementType(0x85);

    /// Narrow elements select few records; their type has the top bit clear.
    pub const fn is_narrow(self) -> bool {
        self.0 < 0x80
    }

    /// The filter.md name of a defined element type.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x01 => "Author Keys",
            0x02 => "Signing Keys",
            0x03 => "Kinds",
            0x04 => "Timestamps",
            0x05 => "Included Tags",
            0x80 => "Since",
            0x81 => "Until",
            0x82 => "Received Since",
            0x83 => "Received Until",
            0x84 => "Exclude",
            0x85 => "Excluded Tags",
            _ => return None,
        })
    }
}

impl fmt::Display for ElementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:02x})", self.0),
            None => write!(f, "element type 0x{:02x}", self.0),
        }
    }
}

impl fmt::Debug for ElementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What is wrong with a filter's bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// Shorter than the 8-byte filter header.
    #[error("filter of {len} bytes is shorter than its 8-byte header")]
    TooShort {
        /// Bytes present.
        len: usize,
    },
    /// Longer than the 16-bit byte length can state.
    #[error("filter of {len} bytes exceeds the 65528-byte maximum")]
    TooLong {
        /// Bytes present.
        len: usize,
    },
    /// The header's byte length differs from the bytes present.
    #[error("filter declares {declared} bytes but carries {actual}")]
    LengthMismatch {
        /// The length in the header.
        declared: usize,
        /// Bytes present.
        actual: usize,
    },
    /// The length is not a multiple of 8.
    #[error("filter length {len} is not a multiple of 8")]
    NotWordAligned {
        /// Bytes present.
        len: usize,
    },
    /// A zeroed header byte is not zero.
    #[error("filter header byte {offset} is 0x{value:02x}, but bytes 2..8 must be zero")]
    NonZeroReserved {
        /// Offset in the filter.
        offset: usize,
        /// The byte found.
        value: u8,
    },
    /// An element's length byte is 0 (filter.md: the filter MUST be rejected).
    #[error("{element_type} at byte {offset} has length 0")]
    ZeroLength {
        /// Offset of the element in the filter.
        offset: usize,
        /// Its type.
        element_type: ElementType,
    },
    /// An element runs past the end of the filter.
    #[error("{element_type} at byte {offset} declares {len} bytes but only {remaining} remain")]
    ElementOverrun {
        /// Offset of the element in the filter.
        offset: usize,
        /// Its type.
        element_type: ElementType,
        /// Its declared length in bytes.
        len: usize,
        /// Bytes left in the filter.
        remaining: usize,
    },
    /// A zeroed byte of an element header is not zero.
    #[error(
        "{element_type} at byte {offset}: header byte {byte} is 0x{value:02x}, but bytes 2..8 must be zero"
    )]
    ElementReserved {
        /// Offset of the element in the filter.
        offset: usize,
        /// Its type.
        element_type: ElementType,
        /// Which header byte (2..8).
        byte: usize,
        /// The byte found.
        value: u8,
    },
    /// An element type filter.md does not define.
    #[error("unknown filter {element_type} at byte {offset}")]
    UnknownElement {
        /// Offset of the element in the filter.
        offset: usize,
        /// Its type.
        element_type: ElementType,
    },
    /// An element's contents are not a whole number of its entries.
    #[error("{element_type} at byte {offset} carries {len} bytes, but {expected}")]
    ElementSize {
        /// Offset of the element in the filter.
        offset: usize,
        /// Its type.
        element_type: ElementType,
        /// Bytes after the element header.
        len: usize,
        /// What the type requires.
        expected: &'static str,
    },
    /// The tags of an Included Tags or Excluded Tags element are malformed.
    #[error("{element_type} at byte {offset}: {source}")]
    ElementTags {
        /// Offset of the element in the filter.
        offset: usize,
        /// Its type.
        element_type: ElementType,
        /// What is wrong with the tags.
        #[source]
        source: TagError,
    },
}

/// One element of a validated filter, borrowing its contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterElement<'a> {
    /// 0x1: author public keys.
    AuthorKeys(&'a [[u8; 32]]),
    /// 0x2: signing public keys.
    SigningKeys(&'a [[u8; 32]]),
    /// 0x3: kinds.
    Kinds(KindList<'a>),
    /// 0x4: exact timestamps.
    Timestamps(TimestampList<'a>),
    /// 0x5: tags a record must carry one of.
    IncludedTags(TagList<'a>),
    /// 0x80: earliest record timestamp.
    Since(Timestamp),
    /// 0x81: latest record timestamp.
    Until(Timestamp),
    /// 0x82: earliest time of receipt.
    ReceivedSince(Timestamp),
    /// 0x83: latest time of receipt.
    ReceivedUntil(Timestamp),
    /// 0x84: ID prefixes of records to leave out.
    Exclude(IdPrefixList<'a>),
    /// 0x85: tags a record must carry none of.
    ExcludedTags(TagList<'a>),
}

impl FilterElement<'_> {
    /// The element's type byte.
    pub const fn element_type(&self) -> ElementType {
        match self {
            FilterElement::AuthorKeys(_) => ElementType::AUTHOR_KEYS,
            FilterElement::SigningKeys(_) => ElementType::SIGNING_KEYS,
            FilterElement::Kinds(_) => ElementType::KINDS,
            FilterElement::Timestamps(_) => ElementType::TIMESTAMPS,
            FilterElement::IncludedTags(_) => ElementType::INCLUDED_TAGS,
            FilterElement::Since(_) => ElementType::SINCE,
            FilterElement::Until(_) => ElementType::UNTIL,
            FilterElement::ReceivedSince(_) => ElementType::RECEIVED_SINCE,
            FilterElement::ReceivedUntil(_) => ElementType::RECEIVED_UNTIL,
            FilterElement::Exclude(_) => ElementType::EXCLUDE,
            FilterElement::ExcludedTags(_) => ElementType::EXCLUDED_TAGS,
        }
    }
}

/// The kinds of a Kinds element, 8 bytes each, compared byte for byte.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KindList<'a>(pub(crate) &'a [[u8; 8]]);

impl<'a> KindList<'a> {
    /// The kinds in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Kind> + 'a {
        self.0.iter().map(|k| Kind::from_bytes(*k))
    }

    /// Whether `kind` is in the list.
    pub fn contains(&self, kind: Kind) -> bool {
        self.0.contains(kind.as_bytes())
    }

    /// How many kinds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for KindList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The timestamps of a Timestamps element, big-endian 8 bytes each.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TimestampList<'a>(pub(crate) &'a [[u8; 8]]);

impl<'a> TimestampList<'a> {
    /// The timestamps in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Timestamp> + 'a {
        self.0.iter().map(|t| Timestamp::from_be_bytes(*t))
    }

    /// Whether `ts` is in the list.
    pub fn contains(&self, ts: Timestamp) -> bool {
        self.0.contains(&ts.to_be_bytes())
    }

    /// How many timestamps.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for TimestampList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The ID prefixes of an Exclude element, 32 bytes each.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdPrefixList<'a>(pub(crate) &'a [[u8; 32]]);

impl<'a> IdPrefixList<'a> {
    /// The prefixes in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = IdPrefix> + 'a {
        self.0.iter().map(|p| IdPrefix(*p))
    }

    /// Whether `prefix` is in the list.
    pub fn contains(&self, prefix: &IdPrefix) -> bool {
        self.0.contains(prefix.as_bytes())
    }

    /// How many prefixes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for IdPrefixList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The tags of an Included Tags or Excluded Tags element (padding excluded).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TagList<'a>(pub(crate) &'a [u8]);

impl<'a> TagList<'a> {
    /// The tags in order.
    pub fn iter(&self) -> Tags<'a> {
        Tags::new(self.0)
    }
}

impl fmt::Debug for TagList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
