//! Tags: the searchable `type, length, value` entries of records and filters.

use std::fmt;

use bytes::BufMut;

use crate::BuildError;

/// One tag: a 2-byte little-endian type, a 1-byte length and up to 253 bytes of
/// value (record.md "Tags"). Borrowed from a record or filter.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag<'a> {
    tag_type: u16,
    value: &'a [u8],
}

impl<'a> Tag<'a> {
    /// The largest value a tag can carry.
    pub const MAX_VALUE_LEN: usize = 253;

    /// A tag of `tag_type` holding `value`.
    ///
    /// # Errors
    /// [`BuildError::TagTypeZero`] for type 0 (the padding marker of tag_types.md)
    /// and [`BuildError::TagValueTooLong`] for values over 253 bytes.
    pub fn new(tag_type: u16, value: &'a [u8]) -> Result<Tag<'a>, BuildError> {
        if tag_type == 0 {
            return Err(BuildError::TagTypeZero);
        }
        if value.len() > Self::MAX_VALUE_LEN {
            return Err(BuildError::TagValueTooLong { len: value.len() });
        }
        Ok(Tag { tag_type, value })
    }

    /// The tag type (tag_types.md registry).
    pub const fn tag_type(&self) -> u16 {
        self.tag_type
    }

    /// The value bytes.
    pub const fn value(&self) -> &'a [u8] {
        self.value
    }

    /// Bytes the tag takes on the wire.
    pub const fn encoded_len(&self) -> usize {
        3 + self.value.len()
    }

    pub(crate) fn encode(&self, dst: &mut impl BufMut) {
        dst.put_u16_le(self.tag_type);
        // `new` and the parsers bound the value to 253 bytes.
        dst.put_u8(self.value.len() as u8);
        dst.put_slice(self.value);
    }
}

impl fmt::Debug for Tag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tag")
            .field("type", &format_args!("0x{:04x}", self.tag_type))
            .field("value_len", &self.value.len())
            .finish()
    }
}

/// What is wrong with a run of tags.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagError {
    /// Fewer than the 3 header bytes of a tag remain, and they are not zero padding.
    #[error("tag at byte {offset} needs 3 header bytes but only {remaining} remain")]
    Truncated {
        /// Offset of the tag inside its section.
        offset: usize,
        /// Bytes left in the section.
        remaining: usize,
    },
    /// The declared value runs past the end of the section.
    #[error("tag at byte {offset} declares a {len}-byte value but only {remaining} bytes remain")]
    ValueOverrun {
        /// Offset of the tag inside its section.
        offset: usize,
        /// The declared value length.
        len: usize,
        /// Bytes left after the tag header.
        remaining: usize,
    },
    /// The declared value is longer than 253 bytes.
    #[error("tag at byte {offset} declares a {len}-byte value, over the 253-byte maximum")]
    ValueTooLong {
        /// Offset of the tag inside its section.
        offset: usize,
        /// The declared value length.
        len: usize,
    },
    /// A record tag has type 0, which tag_types.md reserves as the padding marker.
    #[error("tag at byte {offset} has type 0, the padding marker, inside a record's tags")]
    ZeroType {
        /// Offset of the tag inside its section.
        offset: usize,
    },
    /// Padding after the last tag holds a non-zero byte.
    #[error("padding byte {offset} after the last tag is 0x{value:02x}, not zero")]
    PaddingNotZero {
        /// Offset of the byte inside its section.
        offset: usize,
        /// The byte found.
        value: u8,
    },
    /// Padding after the last tag is a whole 8-byte word or more.
    #[error(
        "{len} bytes of padding after the last tag; padding only fills up to the next 8-byte boundary"
    )]
    PaddingTooLong {
        /// Bytes of padding found.
        len: usize,
    },
}

/// Reads the tag header at the start of `rest`: `(type, value length)`.
fn tag_header(rest: &[u8]) -> Option<(u16, usize)> {
    match rest {
        [t0, t1, len, ..] => Some((u16::from_le_bytes([*t0, *t1]), usize::from(*len))),
        _ => None,
    }
}

/// Checks one tag at `offset` of `section`; returns the offset after it.
fn check_tag(section: &[u8], offset: usize, value_len: usize) -> Result<usize, TagError> {
    if value_len > Tag::MAX_VALUE_LEN {
        return Err(TagError::ValueTooLong {
            offset,
            len: value_len,
        });
    }
    let remaining = section.len() - offset - 3;
    if value_len > remaining {
        return Err(TagError::ValueOverrun {
            offset,
            len: value_len,
            remaining,
        });
    }
    Ok(offset + 3 + value_len)
}

/// Validates a record's tags section (`LenT` bytes, no padding): tags must tile it
/// exactly and none may have type 0. Returns the number of tags.
pub(crate) fn validate_record_tags(section: &[u8]) -> Result<usize, TagError> {
    let mut offset = 0;
    let mut count = 0;
    while offset < section.len() {
        let Some((tag_type, value_len)) = tag_header(&section[offset..]) else {
            return Err(TagError::Truncated {
                offset,
                remaining: section.len() - offset,
            });
        };
        if tag_type == 0 {
            return Err(TagError::ZeroType { offset });
        }
        offset = check_tag(section, offset, value_len)?;
        count += 1;
    }
    Ok(count)
}

/// Validates the tags of a filter element (filter.md "Included Tags"): tags up to
/// a type-0 marker or fewer than 3 remaining bytes, then zero padding shorter than
/// one 8-byte word. Returns the number of tags.
pub(crate) fn validate_filter_tags(data: &[u8]) -> Result<usize, TagError> {
    let mut offset = 0;
    let mut count = 0;
    while let Some((tag_type, value_len)) = tag_header(&data[offset..]) {
        if tag_type == 0 {
            break;
        }
        offset = check_tag(data, offset, value_len)?;
        count += 1;
    }
    let padding = &data[offset..];
    if let Some((at, value)) = crate::wire::first_non_zero(padding) {
        return Err(if padding.len() < 3 {
            TagError::Truncated {
                offset,
                remaining: padding.len(),
            }
        } else {
            TagError::PaddingNotZero {
                offset: offset + at,
                value,
            }
        });
    }
    if padding.len() >= 8 {
        return Err(TagError::PaddingTooLong { len: padding.len() });
    }
    Ok(count)
}

/// The tags of a validated record or filter element, in order.
#[derive(Clone, Debug)]
pub struct Tags<'a> {
    rest: &'a [u8],
}

impl<'a> Tags<'a> {
    /// Iterates over a section already checked by one of the validators above.
    pub(crate) fn new(section: &'a [u8]) -> Tags<'a> {
        Tags { rest: section }
    }
}

impl<'a> Iterator for Tags<'a> {
    type Item = Tag<'a>;

    fn next(&mut self) -> Option<Tag<'a>> {
        let (tag_type, value_len) = tag_header(self.rest)?;
        if tag_type == 0 {
            return None;
        }
        let value = self.rest.get(3..3 + value_len)?;
        self.rest = &self.rest[3 + value_len..];
        Some(Tag { tag_type, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag_bytes(ty: u16, value: &[u8]) -> Vec<u8> {
        let mut v = ty.to_le_bytes().to_vec();
        v.push(value.len() as u8);
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn record_tags_must_tile_the_section() {
        let mut section = tag_bytes(1, b"abc");
        section.extend(tag_bytes(0x22, &[]));
        assert_eq!(validate_record_tags(&section), Ok(2));
        let tags: Vec<_> = Tags::new(&section).collect();
        assert_eq!(tags.len(), 2);
        assert_eq!((tags[0].tag_type(), tags[0].value()), (1, &b"abc"[..]));
        assert_eq!((tags[1].tag_type(), tags[1].value()), (0x22, &b""[..]));

        section.push(7);
        assert_eq!(
            validate_record_tags(&section),
            Err(TagError::Truncated {
                offset: 9,
                remaining: 1
            })
        );
    }

    #[test]
    fn record_tags_reject_type_zero_and_overruns() {
        assert_eq!(
            validate_record_tags(&tag_bytes(0, b"x")),
            Err(TagError::ZeroType { offset: 0 })
        );
        let mut overrun = tag_bytes(1, b"abcd");
        overrun.truncate(5);
        assert_eq!(
            validate_record_tags(&overrun),
            Err(TagError::ValueOverrun {
                offset: 0,
                len: 4,
                remaining: 2
            })
        );
        let mut long = vec![1, 0, 254];
        long.extend([0u8; 254]);
        assert_eq!(
            validate_record_tags(&long),
            Err(TagError::ValueTooLong {
                offset: 0,
                len: 254
            })
        );
    }

    #[test]
    fn filter_tags_end_in_short_zero_padding() {
        let mut data = tag_bytes(5, b"hello"); // 8 bytes: no padding needed
        assert_eq!(validate_filter_tags(&data), Ok(1));
        data.extend(tag_bytes(6, b"a")); // 12 bytes, pad to 16
        data.extend([0; 4]);
        assert_eq!(validate_filter_tags(&data), Ok(2));
        assert_eq!(Tags::new(&data).count(), 2);

        let mut bad = data.clone();
        bad[14] = 9;
        assert_eq!(
            validate_filter_tags(&bad),
            Err(TagError::PaddingNotZero {
                offset: 14,
                value: 9
            })
        );
        let mut short = tag_bytes(5, b"hell"); // 7 bytes + 1 non-zero byte
        short.push(1);
        assert_eq!(
            validate_filter_tags(&short),
            Err(TagError::Truncated {
                offset: 7,
                remaining: 1
            })
        );
        let mut long_pad = data.clone();
        long_pad.extend([0; 8]);
        assert_eq!(
            validate_filter_tags(&long_pad),
            Err(TagError::PaddingTooLong { len: 12 })
        );
    }

    #[test]
    fn tag_new_enforces_the_spec_limits() {
        assert_eq!(Tag::new(0, b"x"), Err(BuildError::TagTypeZero));
        assert_eq!(
            Tag::new(1, &[0; 254]),
            Err(BuildError::TagValueTooLong { len: 254 })
        );
        let tag = Tag::new(0x0102, &[9; 253]).expect("253 bytes fit");
        let mut out = Vec::new();
        tag.encode(&mut out);
        assert_eq!(out[..3], [0x02, 0x01, 253]);
        assert_eq!(out.len(), tag.encoded_len());
    }
}
