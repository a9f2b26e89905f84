//! Strategies the integration tests share.

use mosaic_proto::Kind;
use proptest::prelude::*;

/// Valid kinds: reserved flag bits clear, read access not `10`.
pub(crate) fn kind() -> impl Strategy<Value = Kind> {
    (any::<[u8; 7]>(), 0u8..0x20)
        .prop_filter("read access 10 is reserved", |(_, f)| {
            (f >> 2) & 0b11 != 0b10
        })
        .prop_map(|(head, flags)| {
            let mut b = [0u8; 8];
            b[..7].copy_from_slice(&head);
            b[7] = flags;
            Kind::from_bytes(b)
        })
}
