//! Laying out new filters.

use bytes::{BufMut, BytesMut};

use super::{ElementType, Filter, MAX_ELEMENT_LEN, MAX_FILTER_LEN};
use crate::{BuildError, IdPrefix, Kind, Tag, Timestamp, wire};

/// Builds a [`Filter`] element by element, in the order the methods are called.
///
/// Errors (an element over 2040 bytes, a filter over 65528 bytes) are kept and
/// reported by [`FilterBuilder::build`], so calls chain:
///
/// ```
/// use mosaic_proto::{Filter, Kind, Timestamp};
///
/// let author = [7u8; 32];
/// let filter = Filter::builder()
///     .author_keys(&[author])
///     .kinds(&[Kind::from_bytes([0, 0, 0, 0, 1, 0, 1, 0x1c])])
///     .since(Timestamp::from_nanos(1_700_000_000_000_000_000))
///     .build()?;
/// assert_eq!(filter.len(), 8 + 40 + 16 + 16);
/// # Ok::<(), mosaic_proto::BuildError>(())
/// ```
#[derive(Debug)]
pub struct FilterBuilder {
    buf: BytesMut,
    error: Option<BuildError>,
}

impl Default for FilterBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl FilterBuilder {
    /// An empty filter (which matches every record until elements are added).
    pub fn new() -> FilterBuilder {
        let mut buf = BytesMut::with_capacity(64);
        buf.put_bytes(0, wire::HEADER_LEN);
        FilterBuilder { buf, error: None }
    }

    /// Appends an element of `data_len` content bytes written by `write`, then
    /// zero padding to a whole word.
    fn element<F>(mut self, ty: ElementType, data_len: usize, write: F) -> Self
    where
        F: FnOnce(&mut BytesMut),
    {
        if self.error.is_some() {
            return self;
        }
        let len = wire::HEADER_LEN + wire::pad8(data_len);
        if len > MAX_ELEMENT_LEN {
            self.error = Some(BuildError::FilterElementTooLong {
                element_type: ty.0,
                len,
            });
            return self;
        }
        self.buf.put_u8(ty.0);
        // `len` is at most 2040, so the word count fits a byte.
        self.buf.put_u8((len / 8) as u8);
        self.buf.put_bytes(0, 6);
        let start = self.buf.len();
        write(&mut self.buf);
        let written = self.buf.len() - start;
        self.buf.put_bytes(0, wire::pad8(written) - written);
        self
    }

    fn timestamp(self, ty: ElementType, ts: Timestamp) -> Self {
        self.element(ty, 8, |b| b.put_slice(&ts.to_be_bytes()))
    }

    /// Records by any of these author keys (0x1).
    pub fn author_keys(self, keys: &[[u8; 32]]) -> Self {
        self.element(ElementType::AUTHOR_KEYS, keys.len() * 32, |b| {
            keys.iter().for_each(|k| b.put_slice(k))
        })
    }

    /// Records signed by any of these keys (0x2).
    pub fn signing_keys(self, keys: &[[u8; 32]]) -> Self {
        self.element(ElementType::SIGNING_KEYS, keys.len() * 32, |b| {
            keys.iter().for_each(|k| b.put_slice(k))
        })
    }

    /// Records of any of these kinds (0x3).
    pub fn kinds(self, kinds: &[Kind]) -> Self {
        self.element(ElementType::KINDS, kinds.len() * 8, |b| {
            kinds.iter().for_each(|k| b.put_slice(k.as_bytes()))
        })
    }

    /// Records with any of these exact timestamps (0x4).
    pub fn timestamps(self, timestamps: &[Timestamp]) -> Self {
        self.element(ElementType::TIMESTAMPS, timestamps.len() * 8, |b| {
            timestamps
                .iter()
                .for_each(|t| b.put_slice(&t.to_be_bytes()))
        })
    }

    /// Records carrying any of these tags (0x5).
    pub fn included_tags(self, tags: &[Tag<'_>]) -> Self {
        let len = tags.iter().map(Tag::encoded_len).sum();
        self.element(ElementType::INCLUDED_TAGS, len, |b| {
            tags.iter().for_each(|t| t.encode(b))
        })
    }

    /// Records with a timestamp at or after `ts` (0x80).
    pub fn since(self, ts: Timestamp) -> Self {
        self.timestamp(ElementType::SINCE, ts)
    }

    /// Records with a timestamp at or before `ts` (0x81).
    pub fn until(self, ts: Timestamp) -> Self {
        self.timestamp(ElementType::UNTIL, ts)
    }

    /// Records the server received at or after `ts` (0x82).
    pub fn received_since(self, ts: Timestamp) -> Self {
        self.timestamp(ElementType::RECEIVED_SINCE, ts)
    }

    /// Records the server received at or before `ts` (0x83).
    pub fn received_until(self, ts: Timestamp) -> Self {
        self.timestamp(ElementType::RECEIVED_UNTIL, ts)
    }

    /// Leaves out records whose ID starts with any of these prefixes (0x84).
    pub fn exclude(self, prefixes: &[IdPrefix]) -> Self {
        self.element(ElementType::EXCLUDE, prefixes.len() * 32, |b| {
            prefixes.iter().for_each(|p| b.put_slice(p.as_bytes()))
        })
    }

    /// Records carrying none of these tags (0x85).
    pub fn excluded_tags(self, tags: &[Tag<'_>]) -> Self {
        let len = tags.iter().map(Tag::encoded_len).sum();
        self.element(ElementType::EXCLUDED_TAGS, len, |b| {
            tags.iter().for_each(|t| t.encode(b))
        })
    }

    /// Finishes the filter.
    ///
    /// # Errors
    /// The first [`BuildError`] met while adding elements, or
    /// [`BuildError::FilterTooLong`] when the elements exceed 65528 bytes.
    pub fn build(self) -> Result<Filter, BuildError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut buf = self.buf;
        let len = buf.len();
        if len > MAX_FILTER_LEN {
            return Err(BuildError::FilterTooLong { len });
        }
        // `len` is at most 65528, so it fits the 16-bit length.
        buf[..2].copy_from_slice(&(len as u16).to_le_bytes());
        // Read back like any filter (which finds its first elements): the
        // builder's layout is checked by the same rules as a peer's.
        Ok(Filter::from_bytes(buf.freeze()).expect("the builder lays out valid filters"))
    }
}
