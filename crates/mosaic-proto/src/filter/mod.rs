//! Filters: which records a Query or Subscribe asks for (spec/filter.md).
//!
//! A [`Filter`] is a validated, zero-copy view over the filter bytes of a
//! message; [`FilterBuilder`] lays out new ones; [`Filter::matches`] decides
//! whether a record passes.

mod builder;
mod element;
mod matching;

use std::fmt;

use bytes::Bytes;

pub use builder::FilterBuilder;
pub use element::{
    ElementType, FilterElement, FilterError, IdPrefixList, KindList, TagList, TimestampList,
};

use crate::{Timestamp, tag::validate_filter_tags, wire};

/// The largest filter: its byte length is a 16-bit multiple of 8.
pub const MAX_FILTER_LEN: usize = 65528;

/// The largest filter element: its length byte counts up to 255 words.
pub const MAX_ELEMENT_LEN: usize = 255 * 8;

/// A structurally valid filter, held as a slice of the bytes it was read from.
/// Two filters are equal when their bytes are.
///
/// A filter read from a message shares the whole buffer the transport read
/// that message into, as a [`Record`](crate::Record) does: a server that keeps
/// a subscription's filter for the subscription's life should keep it as
/// [`Filter::detached`].
#[derive(Clone)]
pub struct Filter {
    bytes: Bytes,
    /// Where the element that counts for each type starts (found once, as
    /// the filter is read, so that matching a record goes straight to them).
    first: FirstElements,
    /// Which slots of `first` hold an element, a bit each: kept rather than
    /// found from `first` for every record matched, which cost most of what
    /// the index saves.
    present: u16,
}

/// A filter is its bytes: the index is found from them.
impl PartialEq for Filter {
    fn eq(&self, other: &Filter) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Filter {}

impl std::hash::Hash for Filter {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

/// The number of element types filter.md defines: 0x01..=0x05 and 0x80..=0x85.
const TYPES: usize = 11;

/// For each element type (see [`type_slot`]), the byte offset of its first
/// element in the filter, 0 for none (the filter header sits at 0).
/// Filters are at most 65528 bytes, so offsets fit 16 bits.
type FirstElements = [u16; TYPES];

/// The slot of a defined element type in [`FirstElements`].
fn type_slot(ty: ElementType) -> Option<usize> {
    match ty.0 {
        t @ 0x01..=0x05 => Some(usize::from(t) - 1),
        t @ 0x80..=0x85 => Some(usize::from(t) - 0x80 + 5),
        _ => None,
    }
}

impl Filter {
    /// Validates `bytes` as a whole filter (header and elements), without copying.
    ///
    /// # Errors
    /// [`FilterError`] names the first rule of filter.md the bytes break.
    pub fn from_bytes(bytes: Bytes) -> Result<Filter, FilterError> {
        let first = validate(&bytes)?;
        Ok(Filter::with_first(bytes, first))
    }

    /// The filter of `bytes`, whose first elements are at `first`.
    fn with_first(bytes: Bytes, first: FirstElements) -> Filter {
        let present = (0..TYPES)
            .filter(|&slot| first[slot] != 0)
            .fold(0, |bits, slot| bits | 1 << slot);
        Filter {
            bytes,
            first,
            present,
        }
    }

    /// The element that counts for the type in `slot`, if the filter has one.
    fn first_element(&self, slot: usize) -> Option<FilterElement<'_>> {
        let at = usize::from(*self.first.get(slot)?);
        if at == 0 {
            return None;
        }
        let element = self.bytes.get(at..)?;
        let len = usize::from(*element.get(1)?) * 8;
        parse_element(ElementType(element[0]), element.get(wire::HEADER_LEN..len)?)
    }

    /// The elements that count (the first of each type), in type order.
    pub(crate) fn first_elements(&self) -> impl Iterator<Item = FilterElement<'_>> {
        let mut present = self.present;
        std::iter::from_fn(move || {
            while present != 0 {
                let slot = present.trailing_zeros() as usize;
                present &= present - 1;
                if let Some(element) = self.first_element(slot) {
                    return Some(element);
                }
            }
            None
        })
    }

    /// A copy in an allocation of its own and of its own size, holding no
    /// part of the buffer this filter was read from (see [`Filter`]).
    #[must_use]
    pub fn detached(&self) -> Filter {
        Filter {
            bytes: Bytes::copy_from_slice(&self.bytes),
            first: self.first,
            present: self.present,
        }
    }

    /// A builder for a new filter.
    pub fn builder() -> FilterBuilder {
        FilterBuilder::new()
    }

    /// The wire bytes, header included.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The wire bytes, header included.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// The byte length on the wire.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the filter has no elements (it then matches every record).
    pub fn is_empty(&self) -> bool {
        self.bytes.len() == wire::HEADER_LEN
    }

    /// The elements in wire order, duplicates included.
    pub fn elements(&self) -> Elements<'_> {
        Elements {
            rest: self.bytes.get(wire::HEADER_LEN..).unwrap_or_default(),
        }
    }

    /// The element of type `ty` that counts: the first one (filter.md: later
    /// elements of the same type MUST be ignored).
    pub fn element(&self, ty: ElementType) -> Option<FilterElement<'_>> {
        self.first_element(type_slot(ty)?)
    }

    /// Whether at least one element is narrow (filter.md: filters SHOULD have one,
    /// and servers MAY reject those that do not).
    pub fn has_narrow_element(&self) -> bool {
        self.elements().any(|e| e.element_type().is_narrow())
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.elements()).finish()
    }
}

/// Iterator over the elements of a [`Filter`].
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Elements<'a> {
    type Item = FilterElement<'a>;

    fn next(&mut self) -> Option<FilterElement<'a>> {
        let (&ty, after_ty) = self.rest.split_first()?;
        let len = usize::from(*after_ty.first()?) * 8;
        let element = self.rest.get(..len)?;
        self.rest = &self.rest[len..];
        parse_element(ElementType(ty), element.get(wire::HEADER_LEN..)?)
    }
}

/// The view of an element's contents; `None` only for bytes [`validate`] rejects.
fn parse_element(ty: ElementType, data: &[u8]) -> Option<FilterElement<'_>> {
    let single = || {
        data.first_chunk::<8>()
            .map(|t| Timestamp::from_be_bytes(*t))
    };
    Some(match ty {
        ElementType::AUTHOR_KEYS => FilterElement::AuthorKeys(data.as_chunks::<32>().0),
        ElementType::SIGNING_KEYS => FilterElement::SigningKeys(data.as_chunks::<32>().0),
        ElementType::KINDS => FilterElement::Kinds(KindList(data.as_chunks::<8>().0)),
        ElementType::TIMESTAMPS => {
            FilterElement::Timestamps(TimestampList(data.as_chunks::<8>().0))
        }
        ElementType::INCLUDED_TAGS => FilterElement::IncludedTags(TagList(data)),
        ElementType::SINCE => FilterElement::Since(single()?),
        ElementType::UNTIL => FilterElement::Until(single()?),
        ElementType::RECEIVED_SINCE => FilterElement::ReceivedSince(single()?),
        ElementType::RECEIVED_UNTIL => FilterElement::ReceivedUntil(single()?),
        ElementType::EXCLUDE => FilterElement::Exclude(IdPrefixList(data.as_chunks::<32>().0)),
        ElementType::EXCLUDED_TAGS => FilterElement::ExcludedTags(TagList(data)),
        _ => return None,
    })
}

/// Notes an element of type `ty` at `offset` if it is the first of its type.
fn note_first(first: &mut FirstElements, ty: ElementType, offset: usize) {
    // Offsets are below the 65528-byte limit of a filter, checked before
    // any element is looked at.
    debug_assert!(offset <= usize::from(u16::MAX));
    if let (Some(slot), Ok(at)) = (type_slot(ty), u16::try_from(offset))
        && first[slot] == 0
    {
        first[slot] = at;
    }
}

/// Checks every structural rule of filter.md; where the first element of
/// each type starts.
fn validate(bytes: &[u8]) -> Result<FirstElements, FilterError> {
    let len = bytes.len();
    let Some((header, mut rest)) = bytes.split_first_chunk::<8>() else {
        return Err(FilterError::TooShort { len });
    };
    if len > usize::from(u16::MAX) {
        return Err(FilterError::TooLong { len });
    }
    let declared = usize::from(u16::from_le_bytes([header[0], header[1]]));
    if declared != len {
        return Err(FilterError::LengthMismatch {
            declared,
            actual: len,
        });
    }
    if !len.is_multiple_of(8) {
        return Err(FilterError::NotWordAligned { len });
    }
    if let Some((at, value)) = wire::first_non_zero(&header[2..]) {
        return Err(FilterError::NonZeroReserved {
            offset: 2 + at,
            value,
        });
    }
    let mut first = [0; TYPES];
    let mut offset = wire::HEADER_LEN;
    // The filter is whole words, so every element starts with an 8-byte header.
    while let Some((element_header, _)) = rest.split_first_chunk::<8>() {
        let element_type = ElementType(element_header[0]);
        let element_len = usize::from(element_header[1]) * 8;
        if element_len == 0 {
            return Err(FilterError::ZeroLength {
                offset,
                element_type,
            });
        }
        let Some(element) = rest.get(..element_len) else {
            return Err(FilterError::ElementOverrun {
                offset,
                element_type,
                len: element_len,
                remaining: rest.len(),
            });
        };
        if let Some((at, value)) = wire::first_non_zero(&element_header[2..]) {
            return Err(FilterError::ElementReserved {
                offset,
                element_type,
                byte: 2 + at,
                value,
            });
        }
        validate_element(offset, element_type, &element[wire::HEADER_LEN..])?;
        note_first(&mut first, element_type, offset);
        rest = &rest[element_len..];
        offset += element_len;
    }
    Ok(first)
}

/// Checks the contents of one element against its type's entry size.
fn validate_element(
    offset: usize,
    element_type: ElementType,
    data: &[u8],
) -> Result<(), FilterError> {
    let size_error = |expected| FilterError::ElementSize {
        offset,
        element_type,
        len: data.len(),
        expected,
    };
    match element_type {
        ElementType::AUTHOR_KEYS | ElementType::SIGNING_KEYS => {
            if !data.len().is_multiple_of(32) {
                return Err(size_error("keys are 32 bytes each"));
            }
        }
        ElementType::EXCLUDE => {
            if !data.len().is_multiple_of(32) {
                return Err(size_error("ID prefixes are 32 bytes each"));
            }
        }
        // Whole words are whole 8-byte kinds and timestamps.
        ElementType::KINDS | ElementType::TIMESTAMPS => {}
        ElementType::SINCE
        | ElementType::UNTIL
        | ElementType::RECEIVED_SINCE
        | ElementType::RECEIVED_UNTIL => {
            if data.len() != 8 {
                return Err(size_error("the element holds exactly one 8-byte timestamp"));
            }
        }
        ElementType::INCLUDED_TAGS | ElementType::EXCLUDED_TAGS => {
            validate_filter_tags(data).map_err(|source| FilterError::ElementTags {
                offset,
                element_type,
                source,
            })?;
        }
        _ => {
            return Err(FilterError::UnknownElement {
                offset,
                element_type,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
