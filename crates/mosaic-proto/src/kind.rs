//! Record kinds (spec/kinds.md).

use std::fmt;

/// The 8-byte kind of a record: a 5-byte big-endian application identifier
/// (bytes 0-4), a 2-byte big-endian application-specific kind (bytes 5-6) and a
/// byte of handling flags (byte 7).
///
/// Filters compare kinds byte for byte (DESIGN.md rulings), so the wire bytes are
/// the value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind([u8; 8]);

/// How records that share an address relate (kind flag bits 1 and 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DuplicateHandling {
    /// `00`: addresses should be unique; duplicates are all preserved.
    Unique,
    /// `01`: served to current subscribers, never stored.
    Ephemeral,
    /// `10`: only the latest record of an address is served.
    Replaceable,
    /// `11`: all records of an address remain, as a version history.
    Versioned,
}

/// Who a server may serve records of this kind to (kind flag bits 3 and 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadAccess {
    /// `00`: only the record's author.
    AuthorOnly,
    /// `01`: the author and the public keys tagged in the record.
    AuthorAndTagged,
    /// `10`: reserved by kinds.md.
    Reserved,
    /// `11`: anybody.
    Everybody,
}

impl Kind {
    /// Largest application identifier (5 bytes).
    pub const MAX_APP_ID: u64 = (1 << 40) - 1;

    /// Flag bits kinds.md reserves (bits 7, 6 and 5).
    pub const RESERVED_FLAG_BITS: u8 = 0b1110_0000;

    /// The kind whose wire form is `bytes`.
    pub const fn from_bytes(bytes: [u8; 8]) -> Kind {
        Kind(bytes)
    }

    /// Builds a kind from its parts. `None` when `app_id` exceeds 5 bytes.
    pub const fn new(
        app_id: u64,
        app_kind: u16,
        duplicates: DuplicateHandling,
        access: ReadAccess,
        printable: bool,
    ) -> Option<Kind> {
        if app_id > Self::MAX_APP_ID {
            return None;
        }
        let a = app_id.to_be_bytes();
        let k = app_kind.to_be_bytes();
        let dup = match duplicates {
            DuplicateHandling::Unique => 0b00,
            DuplicateHandling::Ephemeral => 0b01,
            DuplicateHandling::Replaceable => 0b10,
            DuplicateHandling::Versioned => 0b11,
        };
        let acc = match access {
            ReadAccess::AuthorOnly => 0b00,
            ReadAccess::AuthorAndTagged => 0b01,
            ReadAccess::Reserved => 0b10,
            ReadAccess::Everybody => 0b11,
        };
        let flags = dup | acc << 2 | (printable as u8) << 4;
        Some(Kind([a[3], a[4], a[5], a[6], a[7], k[0], k[1], flags]))
    }

    /// The wire bytes.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    /// The wire bytes, borrowed.
    pub const fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }

    /// The application identifier (bytes 0-4, big-endian).
    pub const fn app_id(self) -> u64 {
        let b = self.0;
        u64::from_be_bytes([0, 0, 0, b[0], b[1], b[2], b[3], b[4]])
    }

    /// The application-specific kind (bytes 5-6, big-endian).
    pub const fn app_kind(self) -> u16 {
        u16::from_be_bytes([self.0[5], self.0[6]])
    }

    /// The raw flag byte (byte 7).
    pub const fn flags(self) -> u8 {
        self.0[7]
    }

    /// Duplicate handling from flag bits 1 and 0.
    pub const fn duplicate_handling(self) -> DuplicateHandling {
        match self.0[7] & 0b11 {
            0b00 => DuplicateHandling::Unique,
            0b01 => DuplicateHandling::Ephemeral,
            0b10 => DuplicateHandling::Replaceable,
            _ => DuplicateHandling::Versioned,
        }
    }

    /// Read access from flag bits 3 and 2.
    pub const fn read_access(self) -> ReadAccess {
        match (self.0[7] >> 2) & 0b11 {
            0b00 => ReadAccess::AuthorOnly,
            0b01 => ReadAccess::AuthorAndTagged,
            0b10 => ReadAccess::Reserved,
            _ => ReadAccess::Everybody,
        }
    }

    /// Whether records of this kind are human readable (flag bit 4).
    pub const fn is_printable(self) -> bool {
        self.0[7] & 0b1_0000 != 0
    }

    /// Whether the kind sets anything kinds.md reserves: flag bits 7-5, or the
    /// reserved read-access value `10`.
    pub const fn uses_reserved_bits(self) -> bool {
        self.0[7] & Self::RESERVED_FLAG_BITS != 0
            || matches!(self.read_access(), ReadAccess::Reserved)
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kind")
            .field("app_id", &self.app_id())
            .field("app_kind", &self.app_kind())
            .field("flags", &format_args!("0x{:02x}", self.flags()))
            .finish()
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}/0x{:02x}",
            self.app_id(),
            self.app_kind(),
            self.flags()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_land_in_the_documented_bytes() {
        // Social Media (app 1), kind 1 (microblog root), Unique, Everybody, printable.
        let kind = Kind::new(1, 1, DuplicateHandling::Unique, ReadAccess::Everybody, true)
            .expect("app id fits");
        assert_eq!(kind.to_bytes(), [0, 0, 0, 0, 1, 0, 1, 0b0001_1100]);
        assert_eq!(kind.app_id(), 1);
        assert_eq!(kind.app_kind(), 1);
        assert_eq!(kind.duplicate_handling(), DuplicateHandling::Unique);
        assert_eq!(kind.read_access(), ReadAccess::Everybody);
        assert!(kind.is_printable());
        assert!(!kind.uses_reserved_bits());
    }

    #[test]
    fn every_flag_combination_reads_back() {
        let dups = [
            DuplicateHandling::Unique,
            DuplicateHandling::Ephemeral,
            DuplicateHandling::Replaceable,
            DuplicateHandling::Versioned,
        ];
        let accesses = [
            ReadAccess::AuthorOnly,
            ReadAccess::AuthorAndTagged,
            ReadAccess::Reserved,
            ReadAccess::Everybody,
        ];
        for dup in dups {
            for access in accesses {
                for printable in [false, true] {
                    let kind = Kind::new(Kind::MAX_APP_ID, u16::MAX, dup, access, printable)
                        .expect("app id fits");
                    assert_eq!(kind.duplicate_handling(), dup);
                    assert_eq!(kind.read_access(), access);
                    assert_eq!(kind.is_printable(), printable);
                    assert_eq!(kind.app_id(), Kind::MAX_APP_ID);
                    assert_eq!(kind.uses_reserved_bits(), access == ReadAccess::Reserved);
                }
            }
        }
        assert!(Kind::new(Kind::MAX_APP_ID + 1, 0, dups[0], accesses[0], false).is_none());
        assert!(Kind::from_bytes([0, 0, 0, 0, 0, 0, 0, 0x20]).uses_reserved_bits());
    }
}
