//! Helpers shared by the integration tests.

#![allow(dead_code, unreachable_pub)]

use mosaic_handshake::http::{HeaderMap, HeaderName, HeaderValue};

/// A header map from (name in any case, raw value bytes) pairs, in order.
pub fn headers(pairs: &[(&str, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("test header name");
        let value = HeaderValue::from_bytes(value).expect("test header value");
        map.append(name, value);
    }
    map
}

/// A (name, value) pair from text.
pub fn h(name: &str, value: &str) -> (String, Vec<u8>) {
    (name.to_owned(), value.as_bytes().to_vec())
}

/// A (name, value) pair from raw bytes.
pub fn hb(name: &str, value: &[u8]) -> (String, Vec<u8>) {
    (name.to_owned(), value.to_vec())
}

/// Borrows owned pairs for [`headers`].
pub fn borrow(pairs: &[(String, Vec<u8>)]) -> Vec<(&str, Vec<u8>)> {
    pairs.iter().map(|(n, v)| (n.as_str(), v.clone())).collect()
}

/// All (name, value) pairs of a map as text, sorted, for exact comparison.
pub fn pairs_of(map: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = map
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A value of `len` bytes: `prefix` padded with `, x` items... kept valid.
pub fn padded(prefix: &str, len: usize, filler: u8) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    v.resize(len, filler);
    v
}
