//! Mosaic timestamps (spec/timestamps.md).

use std::fmt;

/// Nanoseconds since the UNIX epoch, counting leap seconds, as an unsigned 64-bit
/// integer written big-endian on the wire.
///
/// Values used inside records also satisfy two layout rules of record.md: the top
/// bit is clear (an ID starts with a 0 bit, which tells it from an address) and
/// the low 16 bits are zero (record bytes 70 and 71 must be 0); see
/// [`Timestamp::is_record_aligned`] and [`Timestamp::record_aligned`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The smallest timestamp, the epoch itself.
    pub const ZERO: Timestamp = Timestamp(0);

    /// The largest timestamp a record can carry: top bit clear, low 16 bits zero.
    pub const MAX_RECORD: Timestamp = Timestamp((u64::MAX >> 1) & !0xffff);

    /// A timestamp of `nanos` nanoseconds since the epoch (leap seconds counted).
    pub const fn from_nanos(nanos: u64) -> Timestamp {
        Timestamp(nanos)
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The big-endian wire form.
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Reads the big-endian wire form.
    pub const fn from_be_bytes(bytes: [u8; 8]) -> Timestamp {
        Timestamp(u64::from_be_bytes(bytes))
    }

    /// Whether a record may carry this timestamp: top bit clear and low 16 bits zero.
    pub const fn is_record_aligned(self) -> bool {
        self.0 >> 63 == 0 && self.0 & 0xffff == 0
    }

    /// The nearest earlier timestamp a record may carry (clears the low 16 bits,
    /// a step of about 65.5 µs, and saturates at [`Timestamp::MAX_RECORD`]).
    pub const fn record_aligned(self) -> Timestamp {
        if self.0 > Self::MAX_RECORD.0 {
            Self::MAX_RECORD
        } else {
            Timestamp(self.0 & !0xffff)
        }
    }
}

/// Unix times (seconds) from which one more leap second has elapsed: the start
/// of 1972 (timestamps.md: before 31 Dec 1971 23:59:60 timestamps match
/// unixtime) and the 27 insertions of the IANA list since. After the last one
/// the count is 28, as timestamps.md's example states.
const LEAP_SECONDS: [u64; 28] = [
    63_072_000,
    78_796_800,
    94_694_400,
    126_230_400,
    157_766_400,
    189_302_400,
    220_924_800,
    252_460_800,
    283_996_800,
    315_532_800,
    362_793_600,
    394_329_600,
    425_865_600,
    489_024_000,
    567_993_600,
    631_152_000,
    662_688_000,
    709_948_800,
    741_484_800,
    773_020_800,
    820_454_400,
    867_715_200,
    915_148_800,
    1_136_073_600,
    1_230_768_000,
    1_341_100_800,
    1_435_708_800,
    1_483_228_800,
];

impl Timestamp {
    /// The timestamp of a Unix time (seconds and nanoseconds since the epoch,
    /// as `SystemTime` gives it), adding the leap seconds elapsed by then.
    /// Saturates at the largest timestamp.
    pub fn from_unix(secs: u64, nanos: u32) -> Timestamp {
        let leaps = LEAP_SECONDS.iter().take_while(|&&at| at <= secs).count() as u64;
        let total = secs
            .saturating_add(leaps)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(nanos));
        Timestamp(total)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000_000;
        let nanos = self.0 % 1_000_000_000;
        write!(f, "{secs}.{nanos:09}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_encodes_as_documented() {
        // timestamps.md: 1_732_829_915_000_000_000 is 0x180c_3fa0_73be_ce00.
        let ts = Timestamp::from_nanos(1_732_829_915_000_000_000);
        assert_eq!(ts.to_be_bytes(), 0x180c_3fa0_73be_ce00u64.to_be_bytes());
        assert_eq!(Timestamp::from_be_bytes(ts.to_be_bytes()), ts);
    }

    #[test]
    fn unix_time_gains_the_elapsed_leap_seconds() {
        // timestamps.md: at unixtime 1732829887 the timestamp is 1732829915.
        assert_eq!(
            Timestamp::from_unix(1_732_829_887, 0).as_nanos(),
            1_732_829_915_000_000_000
        );
        assert_eq!(
            Timestamp::from_unix(63_071_999, 5).as_nanos(),
            63_071_999_000_000_005
        );
        assert_eq!(
            Timestamp::from_unix(63_072_000, 0).as_nanos(),
            63_072_001_000_000_000
        );
        assert_eq!(
            Timestamp::from_unix(u64::MAX, 0),
            Timestamp::from_nanos(u64::MAX)
        );
    }

    #[test]
    fn record_alignment_clears_low_bits_and_top_bit() {
        let ts = Timestamp::from_nanos(0x0123_4567_89ab_cdef);
        assert!(!ts.is_record_aligned());
        assert_eq!(ts.record_aligned().as_nanos(), 0x0123_4567_89ab_0000);
        assert!(ts.record_aligned().is_record_aligned());
        assert_eq!(
            Timestamp::from_nanos(u64::MAX).record_aligned(),
            Timestamp::MAX_RECORD
        );
        assert!(Timestamp::MAX_RECORD.is_record_aligned());
    }
}
