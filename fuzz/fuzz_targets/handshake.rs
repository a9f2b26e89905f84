//! Fuzzes mosaic-handshake: arbitrary request headers into
//! `ServerPolicy::decide`, arbitrary response headers into
//! `ClientHandshake::check`, and an arbitrary string into `MosaicUrl::parse`,
//! checking invariants on every outcome.
//!
//! The input is text-like, so that seeds are readable and libFuzzer's
//! mutations stay meaningful:
//!
//! ```text
//! <request header lines>
//! --
//! <response header lines>
//! --
//! <URL>
//! ```
//!
//! A header line is `NAME:VALUE` (one space after the colon is dropped); the
//! value is raw bytes up to the end of the line. A NAME starting with `%`
//! picks a real header name: the next byte chooses it from `DICTIONARY`, the
//! bytes after it are a bit mask that upper-cases its letters. Any other NAME
//! is used as it is (lines whose name or value `http` refuses are skipped).

#![no_main]

use std::sync::LazyLock;

use http::header::SEC_WEBSOCKET_PROTOCOL;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use mosaic_handshake::{
    ClientHandshake, Decision, Extensions, MosaicUrl, ServerPolicy, X_MOSAIC_EXTENSIONS,
    X_MOSAIC_SERVICE_URL, X_MOSIAC_EXTENSIONS,
};

const DICTIONARY: [&str; 6] = [
    "sec-websocket-protocol",
    "x-mosaic-extensions",
    "x-mosiac-extensions",
    "x-mosaic-service-url",
    "upgrade",
    "sec-websocket-key",
];

fn header_name(raw: &[u8]) -> Option<HeaderName> {
    match raw.split_first() {
        Some((b'%', rest)) => {
            let (&index, mask) = rest.split_first()?;
            let name = DICTIONARY[usize::from(index) % DICTIONARY.len()];
            let bytes: Vec<u8> = name
                .bytes()
                .enumerate()
                .map(|(i, b)| {
                    let bit = if mask.is_empty() {
                        false
                    } else {
                        let byte = mask[(i / 8) % mask.len()];
                        byte & (1 << (i % 8)) != 0
                    };
                    if bit { b.to_ascii_uppercase() } else { b }
                })
                .collect();
            HeaderName::from_bytes(&bytes).ok()
        }
        _ => HeaderName::from_bytes(raw).ok(),
    }
}

fn header_map(section: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in section.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Some(name), Ok(value)) = (header_name(name), HeaderValue::from_bytes(value)) {
            map.append(name, value);
        }
    }
    map
}

/// Splits the input into three sections on lines that are exactly `--`.
fn sections(data: &[u8]) -> [&[u8]; 3] {
    let mut out: [&[u8]; 3] = [&[], &[], &[]];
    let mut start = 0;
    let mut k = 0;
    let mut i = 0;
    while i <= data.len() && k < 2 {
        let at_line_start = i == 0 || data[i - 1] == b'\n';
        if at_line_start
            && data[i..].starts_with(b"--")
            && matches!(data.get(i + 2), None | Some(b'\n'))
        {
            out[k] = &data[start..i];
            k += 1;
            start = (i + 3).min(data.len());
            i = start;
            continue;
        }
        i += 1;
    }
    out[k] = &data[start.min(data.len())..];
    out
}

/// An independent, simple reading of "did the client offer mosaic2024":
/// `None` when some subprotocol line is not text (the crate must refuse).
fn oracle_offers_mosaic(map: &HeaderMap) -> Option<bool> {
    let mut offered = false;
    for v in map.get_all(SEC_WEBSOCKET_PROTOCOL) {
        let text = v.to_str().ok()?;
        offered |= text
            .split(',')
            .any(|item| item.trim_matches([' ', '\t']) == "mosaic2024");
    }
    Some(offered)
}

static POLICIES: LazyLock<Vec<ServerPolicy>> = LazyLock::new(|| {
    vec![
        ServerPolicy::default(),
        ServerPolicy::builder().dual_stack(true).build().unwrap(),
        ServerPolicy::builder()
            .supported_extensions(["sync", "nip11"])
            .service_url("https://example.com/account")
            .build()
            .unwrap(),
        ServerPolicy::builder()
            .supported_extensions(["nip11", "x", "Sync"])
            .dual_stack(true)
            .build()
            .unwrap(),
    ]
});

fn one_line(msg: &str) {
    assert!(!msg.is_empty() && !msg.contains(['\n', '\r']), "{msg:?}");
    assert!(msg.len() < 512, "message too long: {msg:?}");
}

fn check_server(policy: &ServerPolicy, request: &HeaderMap) {
    let oracle = oracle_offers_mosaic(request);
    match policy.decide_headers(request) {
        Decision::Mosaic {
            response_headers,
            negotiated,
        } => {
            assert_eq!(oracle, Some(true), "accepted without a mosaic2024 offer");
            let protos: Vec<_> = response_headers
                .get_all(SEC_WEBSOCKET_PROTOCOL)
                .iter()
                .collect();
            assert_eq!(protos, ["mosaic2024"]);
            let ext_sent = request.contains_key(X_MOSAIC_EXTENSIONS)
                || request.contains_key(X_MOSIAC_EXTENSIONS);
            let reply: Vec<_> = response_headers
                .get_all(X_MOSAIC_EXTENSIONS)
                .iter()
                .collect();
            if ext_sent {
                assert_eq!(reply.len(), 1);
                assert_eq!(
                    reply[0].to_str().unwrap(),
                    negotiated.extensions().to_string()
                );
            } else {
                assert!(reply.is_empty(), "replied to extensions nobody requested");
            }
            assert!(!response_headers.contains_key(X_MOSIAC_EXTENSIONS));
            for name in negotiated.extensions() {
                assert!(policy.supported_extensions().contains(name.as_str()));
            }
            let url: Vec<_> = response_headers
                .get_all(X_MOSAIC_SERVICE_URL)
                .iter()
                .collect();
            match policy.service_url() {
                Some(u) => assert_eq!(url, [u.as_str()]),
                None => assert!(url.is_empty()),
            }
            assert_eq!(
                response_headers.len(),
                1 + usize::from(ext_sent) + url.len()
            );

            // A client that requested everything the server supports accepts
            // the answer, and agrees on the extensions (as a set).
            let client = ClientHandshake::new(policy.supported_extensions().clone());
            let on_client = client
                .check_headers(&response_headers)
                .expect("client refuses a valid accept");
            let mut a: Vec<_> = on_client.extensions().iter().collect();
            let mut b: Vec<_> = negotiated.extensions().iter().collect();
            a.sort();
            b.sort();
            assert_eq!(a, b);
            assert_eq!(on_client.service_url(), policy.service_url());
        }
        Decision::Nostr => {
            assert!(policy.dual_stack(), "nostr hand-over without dual-stack");
            assert_eq!(oracle, Some(false), "nostr although mosaic2024 was offered");
        }
        Decision::Reject { status, reason } => {
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(reason.status(), status);
            one_line(&reason.to_string());
            if oracle == Some(false) && policy.dual_stack() {
                // Only a malformed subprotocol header can be refused here.
                assert!(!matches!(
                    reason,
                    mosaic_handshake::ServerHandshakeError::MissingSubprotocol { .. }
                ));
            }
        }
    }
}

fn check_client(response: &HeaderMap) {
    for requested in ["-", "sync", "sync;nip11", "nip11;x;Sync"] {
        let requested: Extensions = requested.parse().unwrap();
        let client = ClientHandshake::new(requested.clone());
        match client.check_headers(response) {
            Ok(negotiated) => {
                let protos: Vec<_> = response.get_all(SEC_WEBSOCKET_PROTOCOL).iter().collect();
                assert_eq!(protos.len(), 1);
                assert_eq!(
                    protos[0].to_str().unwrap().trim_matches([' ', '\t']),
                    "mosaic2024"
                );
                // Negotiated ⊆ requested, in the requested order.
                let got: Vec<_> = negotiated.extensions().iter().collect();
                let want: Vec<_> = requested.iter().filter(|n| got.contains(n)).collect();
                assert_eq!(got, want);
                if let Some(url) = negotiated.service_url() {
                    assert!(url.as_str().to_ascii_lowercase().starts_with("http"));
                    assert!(negotiated.ignored_service_url().is_none());
                }
                if let Some(e) = negotiated.ignored_service_url() {
                    one_line(&e.to_string());
                }
            }
            Err(e) => one_line(&e.to_string()),
        }
    }
}

fn check_url(raw: &[u8]) {
    let Ok(text) = std::str::from_utf8(raw) else {
        return;
    };
    match MosaicUrl::parse(text) {
        Ok(url) => {
            let s = url.as_str();
            assert!(s.starts_with("wss://") && s.ends_with('/'), "{s}");
            assert_eq!(url.to_string(), s);
            assert_eq!(
                MosaicUrl::parse(s).as_ref(),
                Ok(&url),
                "normal form does not round-trip"
            );
            assert!(!s.ends_with(":443/"), "{s}");
            assert!(url.port() != 0);
        }
        Err(e) => one_line(&e.to_string()),
    }
}

fuzz_target!(|data: &[u8]| {
    let [request, response, url] = sections(data);
    let request = header_map(request);
    for policy in POLICIES.iter() {
        check_server(policy, &request);
    }
    check_client(&header_map(response));
    check_url(url);
});
