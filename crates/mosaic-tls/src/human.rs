//! Human encodings of keys (spec/human_encodings.md): a prefix followed by
//! the zbase32 of the 32 key bytes, and public key validation
//! (spec/cryptography.md).

use ed25519_dalek::VerifyingKey;
use zeroize::Zeroizing;

use crate::error::{ConfigError, KeyError};

/// Prefix of a human-encoded public key.
pub const MOPUB_PREFIX: &str = "mopub0";
/// Prefix of a human-encoded secret key.
pub const MOSEC_PREFIX: &str = "mosec0";

/// zbase32 characters for the values 0..32.
const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";
/// zbase32 characters needed for 32 bytes (256 bits; the last 4 bits are padding).
const KEY_CHARS: usize = 52;

/// zbase32 (Zimmermann's human-oriented base 32) of `bytes`: 5-bit groups,
/// most significant bit first, the last group padded with zero bits, no `=`.
pub(crate) fn zbase32_encode(bytes: &[u8], out: &mut String) {
    let mut acc: u16 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        acc = (acc << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[usize::from((acc >> bits) & 31)]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[usize::from((acc << (5 - bits)) & 31)]));
    }
}

/// Decodes exactly 32 bytes of zbase32 from `text` (which follows `prefix` at
/// byte offset `prefix.len()` of the original string, for error positions).
fn zbase32_decode_key(
    text: &str,
    prefix: &'static str,
) -> Result<Zeroizing<[u8; 32]>, ConfigError> {
    let mut out = Zeroizing::new([0u8; 32]);
    let mut acc: u16 = 0;
    let mut bits = 0u32;
    let mut len = 0usize;
    for (offset, character) in text.char_indices() {
        let value = ALPHABET
            .iter()
            .position(|&c| char::from(c) == character)
            .ok_or(ConfigError::BadCharacter {
                position: prefix.len() + offset,
                character: (prefix != MOSEC_PREFIX).then_some(character),
            })?;
        let index = len;
        len += 1;
        if index >= KEY_CHARS {
            continue; // counted for the length error below
        }
        // `value` < 32, so the cast is lossless.
        acc = (acc << 5) | value as u16;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out[(index * 5) / 8] = (acc >> bits) as u8;
            acc &= (1 << bits) - 1;
        }
    }
    if len != KEY_CHARS {
        return Err(ConfigError::BadLength {
            prefix,
            expected: KEY_CHARS,
            found: len,
        });
    }
    // 52 * 5 = 260 bits: 4 padding bits remain and must be zero, so that
    // every key has exactly one string.
    if acc != 0 {
        return Err(ConfigError::NonZeroPadding { prefix });
    }
    Ok(out)
}

fn strip<'a>(text: &'a str, prefix: &'static str) -> Result<&'a str, ConfigError> {
    text.strip_prefix(prefix)
        .ok_or(ConfigError::WrongPrefix { expected: prefix })
}

/// The `mopub0` string of a public key.
pub fn encode_mopub(key: &VerifyingKey) -> String {
    mopub_of_bytes(key.as_bytes())
}

/// The `mopub0` string of 32 bytes, whether or not they are a valid key.
pub(crate) fn mopub_of_bytes(key: &[u8; 32]) -> String {
    let mut out = String::with_capacity(MOPUB_PREFIX.len() + KEY_CHARS);
    out.push_str(MOPUB_PREFIX);
    zbase32_encode(key, &mut out);
    out
}

/// Parses a `mopub0` string and validates the key (see [`validate_public_key`]).
pub fn parse_mopub(text: &str) -> Result<VerifyingKey, ConfigError> {
    let bytes = zbase32_decode_key(strip(text, MOPUB_PREFIX)?, MOPUB_PREFIX)?;
    Ok(validate_public_key(&bytes)?)
}

/// The `mosec0` string of a secret key seed.
pub(crate) fn encode_mosec(seed: &[u8; 32]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(MOSEC_PREFIX.len() + KEY_CHARS));
    out.push_str(MOSEC_PREFIX);
    zbase32_encode(seed, &mut out);
    out
}

/// Parses a `mosec0` string into the 32-byte secret key seed.
pub(crate) fn decode_mosec(text: &str) -> Result<Zeroizing<[u8; 32]>, ConfigError> {
    zbase32_decode_key(strip(text, MOSEC_PREFIX)?, MOSEC_PREFIX)
}

/// Checks that 32 bytes are an acceptable Mosaic ed25519 public key: a point
/// on the curve, canonically encoded (decompressing then compressing gives the
/// same bytes), and not one of the 8 small-order points.
pub fn validate_public_key(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotOnCurve)?;
    if key.to_edwards().compress().as_bytes() != bytes {
        return Err(KeyError::NonCanonical);
    }
    if key.is_weak() {
        return Err(KeyError::SmallOrder);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z(bytes: &[u8]) -> String {
        let mut out = String::new();
        zbase32_encode(bytes, &mut out);
        out
    }

    #[test]
    fn zbase32_known_vectors() {
        // From Zimmermann's z-base-32 paper (whole-byte inputs).
        assert_eq!(z(&[0xf0, 0xbf, 0xc7]), "6n9hq");
        assert_eq!(z(&[0xd4, 0x7a, 0x04]), "4t7ye");
        assert_eq!(z(&[]), "");
        assert_eq!(z(&[0x00]), "yy");
        assert_eq!(z(&[0xff]), "9h");
        // Computed independently with Python's base64.b32encode and the
        // alphabet mapped to zbase32.
        assert_eq!(z(b"hello"), "pb1sa5dx");
        let key: Vec<u8> = (0u8..32).collect();
        assert_eq!(
            z(&key),
            "yyyoryarywdyqnyjbefoadeqbhebnrounoktcfaadrpbs8y7daxo"
        );
    }

    #[test]
    fn mopub_round_trip() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        let text = encode_mopub(&key);
        assert!(text.starts_with("mopub0"));
        assert_eq!(text.len(), 58);
        assert_eq!(parse_mopub(&text).unwrap(), key);
    }

    #[test]
    fn mopub_parse_errors() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        let good = encode_mopub(&key);
        let body = &good[6..];

        assert!(matches!(
            parse_mopub(&format!("mosec0{body}")),
            Err(ConfigError::WrongPrefix { expected: "mopub0" })
        ));
        assert!(matches!(
            parse_mopub(body),
            Err(ConfigError::WrongPrefix { .. })
        ));
        assert!(matches!(
            parse_mopub(&good[..57]),
            Err(ConfigError::BadLength { found: 51, .. })
        ));
        assert!(matches!(
            parse_mopub(&format!("{good}y")),
            Err(ConfigError::BadLength { found: 53, .. })
        ));
        // 'l', 'v', '2' and '0' are not in the alphabet; neither are capitals.
        let bad = format!("mopub0l{}", &body[1..]);
        assert!(matches!(
            parse_mopub(&bad),
            Err(ConfigError::BadCharacter {
                position: 6,
                character: Some('l')
            })
        ));
        let upper = good.to_uppercase().replace("MOPUB0", "mopub0");
        assert!(matches!(
            parse_mopub(&upper),
            Err(ConfigError::BadCharacter { .. })
        ));
        let multibyte = format!("mopub0é{}", &body[1..]);
        assert!(matches!(
            parse_mopub(&multibyte),
            Err(ConfigError::BadCharacter {
                character: Some('é'),
                ..
            })
        ));
        // Non-zero padding bits: the last character carries 1 data bit and 4
        // padding bits; 'o' is value 16 (data bit 1, padding 0) for some keys,
        // and 'n' is value 2 (padding bits 0010) which is never canonical.
        let padded = format!("{}n", &good[..57]);
        assert!(matches!(
            parse_mopub(&padded),
            Err(ConfigError::NonZeroPadding { .. })
        ));
    }

    #[test]
    fn mopub_rejects_small_order_points() {
        for point in SMALL_ORDER_POINTS {
            assert_eq!(validate_public_key(&point), Err(KeyError::SmallOrder));
            assert!(matches!(
                parse_mopub(&mopub_of_bytes(&point)),
                Err(ConfigError::InvalidPublicKey(KeyError::SmallOrder))
            ));
        }
    }

    #[test]
    fn mopub_rejects_non_canonical_and_off_curve() {
        // y = p + k (p = 2^255 - 19, 0 <= k < 19) is the non-canonical form of
        // y = k; those k on the curve must be rejected as non-canonical.
        let mut found = 0;
        for k in 0u8..19 {
            for sign in [0u8, 0x80] {
                let mut bytes = [0xffu8; 32];
                bytes[0] = 0xed + k;
                bytes[31] = 0x7f | sign;
                match validate_public_key(&bytes) {
                    Err(KeyError::NonCanonical) => found += 1,
                    Err(KeyError::NotOnCurve) => {}
                    other => panic!("y = p + {k}: unexpected {other:?}"),
                }
            }
        }
        assert!(found > 2, "only {found} non-canonical encodings decoded");
        // y = 2 is not on the curve.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert_eq!(validate_public_key(&off_curve), Err(KeyError::NotOnCurve));
        assert!(matches!(
            parse_mopub(&mopub_of_bytes(&off_curve)),
            Err(ConfigError::InvalidPublicKey(KeyError::NotOnCurve))
        ));
    }

    #[test]
    fn mosec_round_trip() {
        let seed = [42u8; 32];
        let text = encode_mosec(&seed);
        assert!(text.starts_with("mosec0"));
        assert_eq!(*decode_mosec(&text).unwrap(), seed);
        assert!(matches!(
            decode_mosec(&text.replace("mosec0", "mopub0")),
            Err(ConfigError::WrongPrefix { expected: "mosec0" })
        ));
    }

    /// The canonical encodings of the 8 points of small order on edwards25519.
    pub(crate) const SMALL_ORDER_POINTS: [[u8; 32]; 8] = small_order_points();

    const fn small_order_points() -> [[u8; 32]; 8] {
        const fn hex(s: &[u8; 64]) -> [u8; 32] {
            let mut out = [0u8; 32];
            let mut i = 0;
            while i < 32 {
                out[i] = nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]);
                i += 1;
            }
            out
        }
        const fn nibble(c: u8) -> u8 {
            match c {
                b'0'..=b'9' => c - b'0',
                _ => c - b'a' + 10,
            }
        }
        [
            // identity (order 1)
            hex(b"0100000000000000000000000000000000000000000000000000000000000000"),
            // order 2
            hex(b"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
            // order 4
            hex(b"0000000000000000000000000000000000000000000000000000000000000000"),
            hex(b"0000000000000000000000000000000000000000000000000000000000000080"),
            // order 8
            hex(b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
            hex(b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
            hex(b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
            hex(b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
        ]
    }
}
