//! Client side: the request headers and the check of the server's response,
//! one table row per rule, each quoting the spec sentence or ruling it checks.

mod common;

use common::{borrow, h, hb, headers, padded, pairs_of};
use mosaic_handshake::http::{HeaderMap, Request, Response};
use mosaic_handshake::{
    ClientHandshake, ClientHandshakeError, ExtensionNameError, Extensions, ServiceUrlError,
};

const SPEC_PROTOCOL: &str = "Clients must present the Sec-WebSocket-Protocol header field in the handshake with WebSocket with the value mosaic2024.";
const SPEC_REPLY: &str = "Servers MUST reply with the protocol they have accepted in the same header, at this point being only 'mosaic2024'.";
const ISSUE_EXACT: &str = "the chosen subprotocol must be exactly mosaic2024";
const SPEC_CLIENT_EXT: &str = "Clients MUST check for an X-Mosaic-Extensions header during negotiation, and configure themselves to use only the extensions that the server returned to them, considering - as the empty set.";
const RULING_EXT_REPLY: &str = "Server reply to extensions: ... A client that gets back a name it did not request fails the handshake. No header, or -, means no extensions.";
const RULING_EXT_HEADER: &str = "X-Mosaic-Extensions header: Send it spelled correctly, and only when requesting at least one extension. When reading, also accept the seed's misspelling X-Mosiac-Extensions. Split on ;, trim spaces, drop empty names and duplicates.";
const RULING_SERVICE: &str = "X-Mosaic-Service-Url: Server option; must be an absolute http or https URL. Clients expose it, never require it.";
const ISSUE_BOUNDS: &str = "non-UTF-8 or over-long header values (rejected ..., never a panic)";
const ISSUE_NAMES: &str = "header names in any case";

/// The request side: what `add_headers` leaves on a request.
#[test]
fn request_headers_table() {
    struct Row {
        spec: &'static str,
        requested: &'static str,
        before: Vec<(String, Vec<u8>)>,
        after: &'static [(&'static str, &'static str)],
    }
    let rows = [
        Row {
            spec: SPEC_PROTOCOL,
            requested: "-",
            before: vec![],
            after: &[("sec-websocket-protocol", "mosaic2024")],
        },
        Row {
            spec: RULING_EXT_HEADER,
            requested: "sync",
            before: vec![],
            after: &[
                ("sec-websocket-protocol", "mosaic2024"),
                ("x-mosaic-extensions", "sync"),
            ],
        },
        Row {
            spec: RULING_EXT_HEADER,
            requested: "sync; nip11 ;sync",
            before: vec![],
            after: &[
                ("sec-websocket-protocol", "mosaic2024"),
                ("x-mosaic-extensions", "sync;nip11"),
            ],
        },
        Row {
            spec: SPEC_PROTOCOL,
            requested: "-",
            before: vec![
                h("Sec-WebSocket-Protocol", "nostr"),
                h("Sec-WebSocket-Protocol", "chat"),
            ],
            after: &[("sec-websocket-protocol", "mosaic2024")],
        },
        Row {
            spec: RULING_EXT_HEADER,
            requested: "-",
            before: vec![
                h("X-Mosaic-Extensions", "-"),
                h("X-Mosiac-Extensions", "sync"),
                h("Host", "a"),
            ],
            after: &[("host", "a"), ("sec-websocket-protocol", "mosaic2024")],
        },
        Row {
            spec: RULING_EXT_HEADER,
            requested: "nip11",
            before: vec![
                h("X-Mosiac-Extensions", "sync"),
                h("X-Mosaic-Extensions", "other"),
            ],
            after: &[
                ("sec-websocket-protocol", "mosaic2024"),
                ("x-mosaic-extensions", "nip11"),
            ],
        },
    ];
    for row in rows {
        let hs = ClientHandshake::new(row.requested.parse().unwrap());
        let mut map = headers(&borrow(&row.before));
        hs.add_headers(&mut map);
        let mut want: Vec<(String, String)> = row
            .after
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        want.sort();
        assert_eq!(
            pairs_of(&map),
            want,
            "requested {:?}\n  spec: {}",
            row.requested,
            row.spec
        );

        // `apply` does the same on a request.
        let mut req = Request::get("wss://192.0.2.7/").body(()).unwrap();
        *req.headers_mut() = headers(&borrow(&row.before));
        hs.apply(&mut req);
        assert_eq!(pairs_of(req.headers()), want);
    }
}

/// What a response row expects.
enum Expect {
    Ok {
        extensions: &'static str,
        service_url: Option<&'static str>,
        ignored: fn(Option<&ServiceUrlError>) -> bool,
    },
    Err(fn(&ClientHandshakeError) -> bool, &'static str),
}

fn ok(extensions: &'static str) -> Expect {
    Expect::Ok {
        extensions,
        service_url: None,
        ignored: |i| i.is_none(),
    }
}

struct Case {
    spec: &'static str,
    what: &'static str,
    requested: &'static str,
    response: Vec<(String, Vec<u8>)>,
    expect: Expect,
}

fn proto() -> (String, Vec<u8>) {
    h("Sec-WebSocket-Protocol", "mosaic2024")
}

fn cases() -> Vec<Case> {
    let c = |spec, what, requested, response, expect| Case {
        spec,
        what,
        requested,
        response,
        expect,
    };
    vec![
        // --- Sec-WebSocket-Protocol ---
        c(
            SPEC_REPLY,
            "mosaic2024 alone",
            "sync",
            vec![proto()],
            ok("-"),
        ),
        c(
            SPEC_REPLY,
            "no subprotocol in the response",
            "-",
            vec![],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::MissingSubprotocol),
                "did not accept the mosaic2024 subprotocol",
            ),
        ),
        c(
            ISSUE_EXACT,
            "another subprotocol",
            "-",
            vec![h("Sec-WebSocket-Protocol", "nostr")],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::WrongSubprotocol { .. }),
                "chose subprotocol `nostr`",
            ),
        ),
        c(
            ISSUE_EXACT,
            "the subprotocol in another case",
            "-",
            vec![h("Sec-WebSocket-Protocol", "Mosaic2024")],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::WrongSubprotocol { .. }),
                "Mosaic2024",
            ),
        ),
        c(
            ISSUE_EXACT,
            "an empty subprotocol",
            "-",
            vec![h("Sec-WebSocket-Protocol", "")],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::WrongSubprotocol { .. }),
                "instead of mosaic2024",
            ),
        ),
        c(
            ISSUE_EXACT,
            "a list of subprotocols",
            "-",
            vec![h("Sec-WebSocket-Protocol", "mosaic2024, nostr")],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::SeveralSubprotocols { .. }),
                "exactly mosaic2024",
            ),
        ),
        c(
            ISSUE_EXACT,
            "mosaic2024 twice in one line",
            "-",
            vec![h("Sec-WebSocket-Protocol", "mosaic2024,mosaic2024")],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::SeveralSubprotocols { .. }),
                "several",
            ),
        ),
        c(
            ISSUE_EXACT,
            "mosaic2024 on two lines",
            "-",
            vec![proto(), proto()],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::SeveralSubprotocols { .. }),
                "several",
            ),
        ),
        c(
            ISSUE_EXACT,
            "spaces around the value are not part of it",
            "-",
            vec![h("Sec-WebSocket-Protocol", " mosaic2024\t")],
            ok("-"),
        ),
        c(
            ISSUE_NAMES,
            "header name in upper case",
            "-",
            vec![h("SEC-WEBSOCKET-PROTOCOL", "mosaic2024")],
            ok("-"),
        ),
        c(
            ISSUE_BOUNDS,
            "non-UTF-8 subprotocol",
            "-",
            vec![hb("Sec-WebSocket-Protocol", b"mosaic2024\xff")],
            Expect::Err(
                |e| {
                    matches!(
                        e,
                        ClientHandshakeError::HeaderNotText {
                            header: "Sec-WebSocket-Protocol"
                        }
                    )
                },
                "not visible ASCII",
            ),
        ),
        c(
            ISSUE_BOUNDS,
            "over-long subprotocol",
            "-",
            vec![hb(
                "Sec-WebSocket-Protocol",
                &padded("mosaic2024", 4097, b' '),
            )],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::HeaderTooLong { len: 4097, .. }),
                "4097 bytes",
            ),
        ),
        // --- extensions ---
        c(
            SPEC_CLIENT_EXT,
            "the server returned the requested names",
            "sync;nip11",
            vec![proto(), h("X-Mosaic-Extensions", "sync;nip11")],
            ok("sync;nip11"),
        ),
        c(
            SPEC_CLIENT_EXT,
            "only what the server returned is used",
            "sync;nip11",
            vec![proto(), h("X-Mosaic-Extensions", "nip11")],
            ok("nip11"),
        ),
        c(
            SPEC_CLIENT_EXT,
            "- is the empty set",
            "sync;nip11",
            vec![proto(), h("X-Mosaic-Extensions", "-")],
            ok("-"),
        ),
        c(
            RULING_EXT_REPLY,
            "no header means no extensions",
            "sync;nip11",
            vec![proto()],
            ok("-"),
        ),
        c(
            RULING_EXT_REPLY,
            "an empty header means no extensions",
            "sync",
            vec![proto(), h("X-Mosaic-Extensions", "")],
            ok("-"),
        ),
        c(
            RULING_EXT_REPLY,
            "- when nothing was requested",
            "-",
            vec![proto(), h("X-Mosaic-Extensions", "-")],
            ok("-"),
        ),
        c(
            RULING_EXT_REPLY,
            "a name that was not requested fails",
            "sync",
            vec![proto(), h("X-Mosaic-Extensions", "sync;other")],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::UnrequestedExtension { name, .. } if name == "other"),
                "did not request (requested: sync)",
            ),
        ),
        c(
            RULING_EXT_REPLY,
            "any name fails when none was requested",
            "-",
            vec![proto(), h("X-Mosaic-Extensions", "sync")],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::UnrequestedExtension { .. }),
                "requested: -",
            ),
        ),
        c(
            RULING_EXT_REPLY,
            "names are case-sensitive",
            "sync",
            vec![proto(), h("X-Mosaic-Extensions", "SYNC")],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::UnrequestedExtension { .. }),
                "SYNC",
            ),
        ),
        c(
            SPEC_CLIENT_EXT,
            "the client's order is kept whatever the server's",
            "sync;nip11",
            vec![proto(), h("X-Mosaic-Extensions", "nip11;sync")],
            ok("sync;nip11"),
        ),
        c(
            RULING_EXT_HEADER,
            "spaces, empty names and duplicates",
            "sync;nip11",
            vec![
                proto(),
                h("X-Mosaic-Extensions", " ; nip11 ;;\tsync; nip11 "),
            ],
            ok("sync;nip11"),
        ),
        c(
            RULING_EXT_HEADER,
            "the misspelled header is read",
            "sync;nip11",
            vec![proto(), h("X-Mosiac-Extensions", "nip11")],
            ok("nip11"),
        ),
        c(
            RULING_EXT_HEADER,
            "a misspelled - is the empty set",
            "sync",
            vec![proto(), h("X-Mosiac-Extensions", "-")],
            ok("-"),
        ),
        c(
            RULING_EXT_HEADER,
            "both spellings: union",
            "sync;nip11",
            vec![
                proto(),
                h("X-Mosaic-Extensions", "sync"),
                h("X-Mosiac-Extensions", "nip11"),
            ],
            ok("sync;nip11"),
        ),
        c(
            RULING_EXT_HEADER,
            "both spellings: an unrequested name in the misspelled one fails",
            "sync",
            vec![
                proto(),
                h("X-Mosaic-Extensions", "sync"),
                h("X-Mosiac-Extensions", "other"),
            ],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::UnrequestedExtension { .. }),
                "other",
            ),
        ),
        c(
            RULING_EXT_HEADER,
            "repeated lines and comma-joined lines",
            "a;b;c",
            vec![
                proto(),
                h("X-Mosaic-Extensions", "c"),
                h("X-Mosaic-Extensions", "a, b"),
            ],
            ok("a;b;c"),
        ),
        c(
            ISSUE_NAMES,
            "extensions header name in any case",
            "sync",
            vec![proto(), h("x-MoSaIc-ExTeNsIoNs", "sync")],
            ok("sync"),
        ),
        c(
            RULING_EXT_HEADER,
            "an invalid name fails",
            "sync",
            vec![proto(), h("X-Mosaic-Extensions", "sync;b@d")],
            Expect::Err(
                |e| {
                    matches!(
                        e,
                        ClientHandshakeError::InvalidExtensionName(
                            ExtensionNameError::InvalidCharacter { .. }
                        )
                    )
                },
                "malformed",
            ),
        ),
        c(
            ISSUE_BOUNDS,
            "a non-UTF-8 extensions header fails",
            "sync",
            vec![proto(), hb("X-Mosaic-Extensions", b"sync\x80")],
            Expect::Err(
                |e| {
                    matches!(
                        e,
                        ClientHandshakeError::HeaderNotText {
                            header: "X-Mosaic-Extensions"
                        }
                    )
                },
                "X-Mosaic-Extensions",
            ),
        ),
        c(
            ISSUE_BOUNDS,
            "an over-long extensions header fails",
            "sync",
            vec![
                proto(),
                hb("X-Mosiac-Extensions", &padded("sync;", 9000, b';')),
            ],
            Expect::Err(
                |e| {
                    matches!(
                        e,
                        ClientHandshakeError::HeaderTooLong {
                            header: "X-Mosiac-Extensions",
                            ..
                        }
                    )
                },
                "9000",
            ),
        ),
        c(
            ISSUE_BOUNDS,
            "too many extensions header lines fail",
            "sync",
            std::iter::once(proto())
                .chain((0..17).map(|_| h("X-Mosaic-Extensions", "sync")))
                .collect(),
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::TooManyHeaderLines { .. }),
                "limit is 16",
            ),
        ),
        // --- service URL ---
        c(
            RULING_SERVICE,
            "a valid service URL is exposed",
            "-",
            vec![
                proto(),
                h("X-Mosaic-Service-Url", "https://example.com/account"),
            ],
            Expect::Ok {
                extensions: "-",
                service_url: Some("https://example.com/account"),
                ignored: |i| i.is_none(),
            },
        ),
        c(
            RULING_SERVICE,
            "header name in any case",
            "-",
            vec![proto(), h("x-MOSAIC-service-URL", "http://192.0.2.7:8080/")],
            Expect::Ok {
                extensions: "-",
                service_url: Some("http://192.0.2.7:8080/"),
                ignored: |i| i.is_none(),
            },
        ),
        c(
            RULING_SERVICE,
            "never required: absent is fine",
            "-",
            vec![proto()],
            ok("-"),
        ),
        c(
            RULING_SERVICE,
            "a relative URL is ignored, not fatal",
            "-",
            vec![proto(), h("X-Mosaic-Service-Url", "/account")],
            Expect::Ok {
                extensions: "-",
                service_url: None,
                ignored: |i| matches!(i, Some(ServiceUrlError::NotAbsolute { .. })),
            },
        ),
        c(
            RULING_SERVICE,
            "a non-http URL is ignored",
            "-",
            vec![proto(), h("X-Mosaic-Service-Url", "javascript://alert(1)")],
            Expect::Ok {
                extensions: "-",
                service_url: None,
                ignored: |i| matches!(i, Some(ServiceUrlError::NotHttp { .. })),
            },
        ),
        c(
            RULING_SERVICE,
            "a non-UTF-8 URL is ignored",
            "-",
            vec![
                proto(),
                hb("X-Mosaic-Service-Url", b"https://ex\xe4mple.com/"),
            ],
            Expect::Ok {
                extensions: "-",
                service_url: None,
                ignored: |i| matches!(i, Some(ServiceUrlError::InvalidCharacter { .. })),
            },
        ),
        c(
            RULING_SERVICE,
            "several service URLs are ignored",
            "-",
            vec![
                proto(),
                h("X-Mosaic-Service-Url", "https://a.example/"),
                h("X-Mosaic-Service-Url", "https://b.example/"),
            ],
            Expect::Ok {
                extensions: "-",
                service_url: None,
                ignored: |i| matches!(i, Some(ServiceUrlError::Several { count: 2 })),
            },
        ),
        c(
            RULING_SERVICE,
            "an over-long URL is ignored",
            "-",
            vec![
                proto(),
                hb(
                    "X-Mosaic-Service-Url",
                    &padded("https://example.com/", 5000, b'a'),
                ),
            ],
            Expect::Ok {
                extensions: "-",
                service_url: None,
                ignored: |i| matches!(i, Some(ServiceUrlError::TooLong { .. })),
            },
        ),
        c(
            RULING_SERVICE,
            "an ignored URL does not hide a subprotocol error",
            "-",
            vec![h("X-Mosaic-Service-Url", "bad")],
            Expect::Err(
                |e| matches!(e, ClientHandshakeError::MissingSubprotocol),
                "mosaic2024",
            ),
        ),
    ]
}

#[test]
fn check_table() {
    let mut failures = Vec::new();
    for c in cases() {
        let hs = ClientHandshake::new(c.requested.parse().expect("test extensions"));
        let map: HeaderMap = headers(&borrow(&c.response));
        let result = hs.check_headers(&map);
        let ok = match (&c.expect, &result) {
            (
                Expect::Ok {
                    extensions,
                    service_url,
                    ignored,
                },
                Ok(n),
            ) => {
                n.extensions().to_string() == *extensions
                    && n.service_url().map(|u| u.as_str()) == *service_url
                    && ignored(n.ignored_service_url())
            }
            (Expect::Err(pred, text), Err(e)) => {
                let msg = e.to_string();
                pred(e) && msg.contains(text) && !msg.contains(['\n', '\r']) && msg.len() < 400
            }
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{}\n    spec: {}\n    got: {result:?}",
                c.what, c.spec
            ));
        }
        // `check` on a response agrees with `check_headers`.
        let mut resp = Response::builder().status(101).body(()).unwrap();
        *resp.headers_mut() = map;
        assert_eq!(hs.check(&resp), result);
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn client_accessors_and_defaults() {
    let requested: Extensions = "sync;nip11".parse().unwrap();
    let hs = ClientHandshake::new(requested.clone());
    assert_eq!(hs.requested(), &requested);
    // The default handshake requests nothing.
    let mut map = HeaderMap::new();
    ClientHandshake::default().add_headers(&mut map);
    assert_eq!(
        pairs_of(&map),
        vec![("sec-websocket-protocol".into(), "mosaic2024".into())]
    );
    // Negotiated splits into parts.
    let resp = headers(&[
        ("sec-websocket-protocol", b"mosaic2024".to_vec()),
        ("x-mosaic-extensions", b"nip11".to_vec()),
        ("x-mosaic-service-url", b"https://example.com/".to_vec()),
    ]);
    let (ext, url) = hs.check_headers(&resp).unwrap().into_parts();
    assert_eq!(ext.to_string(), "nip11");
    assert_eq!(url.unwrap().as_str(), "https://example.com/");
}
