//! Little helpers for reading and writing the fixed-width fields of the wire format.

/// Bytes in the type-and-length prefix every message starts with.
pub(crate) const PREFIX_LEN: usize = 4;

/// Bytes in the 8-byte header of every core message.
pub(crate) const HEADER_LEN: usize = 8;

/// Rounds `len` up to the next multiple of 8 (record and filter sections are 64-bit aligned).
pub(crate) const fn pad8(len: usize) -> usize {
    (len + 7) & !7
}

/// Reads a 24-bit little-endian length from the three bytes after the type byte.
pub(crate) fn read_len24(prefix: &[u8; PREFIX_LEN]) -> usize {
    usize::from(prefix[1]) | usize::from(prefix[2]) << 8 | usize::from(prefix[3]) << 16
}

/// Writes a 24-bit little-endian length. Callers guarantee `len < 2^24`.
pub(crate) fn len24_bytes(len: usize) -> [u8; 3] {
    debug_assert!(len < 1 << 24, "message length {len} does not fit 24 bits");
    [len as u8, (len >> 8) as u8, (len >> 16) as u8]
}

/// A fixed-size array reference at `at` inside `bytes`.
///
/// Only used at offsets that a constructor has already proven to lie inside the
/// buffer (a validated record or message header), so `None` would be a bug here,
/// never a peer's doing.
pub(crate) fn array_at<const N: usize>(bytes: &[u8], at: usize) -> &[u8; N] {
    bytes
        .get(at..)
        .and_then(<[u8]>::first_chunk::<N>)
        .expect("offset inside a buffer validated by its constructor")
}

/// Reads a little-endian `u16` at `at` (validated offset, see [`array_at`]).
pub(crate) fn u16_le_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(*array_at(bytes, at))
}

/// Reads a little-endian `u32` at `at` (validated offset, see [`array_at`]).
pub(crate) fn u32_le_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(*array_at(bytes, at))
}

/// The first non-zero byte of `bytes` as `(index, value)`, if any.
pub(crate) fn first_non_zero(bytes: &[u8]) -> Option<(usize, u8)> {
    bytes.iter().copied().enumerate().find(|&(_, b)| b != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad8_rounds_up_to_words() {
        assert_eq!(pad8(0), 0);
        assert_eq!(pad8(1), 8);
        assert_eq!(pad8(8), 8);
        assert_eq!(pad8(9), 16);
    }

    #[test]
    fn len24_round_trips_little_endian() {
        let bytes = len24_bytes(0x0a_0b_0c);
        assert_eq!(bytes, [0x0c, 0x0b, 0x0a]);
        assert_eq!(read_len24(&[0xff, 0x0c, 0x0b, 0x0a]), 0x0a_0b_0c);
    }

    #[test]
    fn first_non_zero_reports_position() {
        assert_eq!(first_non_zero(&[0, 0, 7, 1]), Some((2, 7)));
        assert_eq!(first_non_zero(&[0, 0]), None);
    }
}
