//! Server side: `ServerPolicy::decide`, one table row per rule, each quoting
//! the spec sentence or DESIGN.md ruling it checks.

mod common;

use common::{borrow, h, hb, headers, padded, pairs_of};
use mosaic_handshake::http::{Request, Response, StatusCode};
use mosaic_handshake::{
    Decision, ExtensionNameError, ExtensionsError, PolicyConfigError, ServerHandshakeError,
    ServerPolicy, ServiceUrlError,
};

const SPEC_PROTOCOL: &str = "Clients must present the Sec-WebSocket-Protocol header field in the handshake with WebSocket with the value mosaic2024.";
const SPEC_REPLY: &str = "Servers MUST reply with the protocol they have accepted in the same header, at this point being only 'mosaic2024'.";
const SPEC_REFUSE: &str = "If this is not presented, a server may either refuse service and close the connection, or presume the connection is nostr (if it is dual-stack). It should not presume the connection is Mosaic.";
const RULING_MISSING: &str = "Missing mosaic2024 subprotocol: Default: refuse with HTTP 400 and a one-line reason. Optional dual-stack mode: hand the connection to the application as nostr. Never presume Mosaic.";
const RULING_SEVERAL: &str = "Several offered subprotocols: Pick mosaic2024 when offered among others (comma-separated, possibly across several header lines). Reply with exactly mosaic2024.";
const SPEC_EXT: &str = "Servers MUST check for an X-Mosaic-Extensions header. If one is specified, split it's contents on semicolons. Remove all extensions you are unable to service. Join these back together and return an X-Mosaic-Extensions header with this string. If that string was empty, use a - instead.";
/// websockets.md, server side.
const REMOVE_UNSERVICEABLE: &str = "Servers MUST check for an X-Mosaic-Extensions header. If one is specified, split it's contents on semicolons. Remove all extensions you are unable to service.";

const RULING_EXT_HEADER: &str = "X-Mosaic-Extensions header: When reading, also accept the seed's misspelling X-Mosiac-Extensions. Split on ;, trim spaces, drop empty names and duplicates.";
const RULING_EXT_REPLY: &str = "Server reply to extensions: Only when the client sent the header: the requested ∩ supported names, in the client's order, joined by ;, or - when none.";
const SPEC_MISSPELLED: &str = "Clients MAY present an X-Mosiac-Extensions header to specify the extentions they support and may wish to use.";
const SPEC_SERVICE: &str = "Servers MAY present a service URL for a website which users can visit in order to manage their relationship with the server";
const ISSUE_BOUNDS: &str =
    "Parsing covers: ... non-UTF-8 or over-long header values (rejected with 400, never a panic)";
const ISSUE_NAMES: &str = "Parsing covers: ... header names in any case";

/// What a row expects.
enum Expect {
    /// Accept as Mosaic with exactly these response headers (sorted by the
    /// comparison) and these negotiated extensions (header form).
    Mosaic {
        headers: Vec<(&'static str, &'static str)>,
        extensions: &'static str,
    },
    /// Hand over as nostr.
    Nostr,
    /// Reject with 400, the reason matching the predicate and containing the text.
    Reject(fn(&ServerHandshakeError) -> bool, &'static str),
}

struct Case {
    spec: &'static str,
    what: &'static str,
    dual_stack: bool,
    service_url: Option<&'static str>,
    request: Vec<(String, Vec<u8>)>,
    expect: Expect,
}

fn accept_plain() -> Expect {
    Expect::Mosaic {
        headers: vec![("sec-websocket-protocol", "mosaic2024")],
        extensions: "-",
    }
}

fn case(
    spec: &'static str,
    what: &'static str,
    request: Vec<(String, Vec<u8>)>,
    expect: Expect,
) -> Case {
    Case {
        spec,
        what,
        dual_stack: false,
        service_url: None,
        request,
        expect,
    }
}

fn dual(mut c: Case) -> Case {
    c.dual_stack = true;
    c
}

fn proto() -> (String, Vec<u8>) {
    h("Sec-WebSocket-Protocol", "mosaic2024")
}

fn ext_reply(value: &'static str) -> Expect {
    Expect::Mosaic {
        headers: vec![
            ("sec-websocket-protocol", "mosaic2024"),
            ("x-mosaic-extensions", value),
        ],
        extensions: value,
    }
}

fn missing(offered: Option<&'static str>) -> Expect {
    match offered {
        None => Expect::Reject(
            |e| {
                matches!(
                    e,
                    ServerHandshakeError::MissingSubprotocol { offered: None }
                )
            },
            "offer the WebSocket subprotocol mosaic2024",
        ),
        Some(text) => Expect::Reject(
            |e| {
                matches!(
                    e,
                    ServerHandshakeError::MissingSubprotocol { offered: Some(_) }
                )
            },
            text,
        ),
    }
}

fn cases() -> Vec<Case> {
    let many_items = |n: usize| {
        let mut v: Vec<String> = (0..n - 1).map(|i| format!("p{i}")).collect();
        v.push("mosaic2024".to_owned());
        v.join(",")
    };
    let many_names = |n: usize| {
        (0..n)
            .map(|i| format!("e{i}"))
            .collect::<Vec<_>>()
            .join(";")
    };
    vec![
        // --- Sec-WebSocket-Protocol ---
        case(
            SPEC_PROTOCOL,
            "mosaic2024 alone is accepted",
            vec![proto()],
            accept_plain(),
        ),
        case(
            SPEC_REPLY,
            "the reply is exactly mosaic2024 even when other protocols are offered",
            vec![h("Sec-WebSocket-Protocol", "chat, mosaic2024, nostr")],
            accept_plain(),
        ),
        case(
            RULING_MISSING,
            "no subprotocol header: 400",
            vec![],
            missing(None),
        ),
        dual(case(
            RULING_MISSING,
            "no subprotocol header, dual-stack: nostr",
            vec![],
            Expect::Nostr,
        )),
        case(
            SPEC_REFUSE,
            "only nostr offered: 400 naming what was offered",
            vec![h("Sec-WebSocket-Protocol", "nostr")],
            missing(Some("you offered `nostr`")),
        ),
        dual(case(
            SPEC_REFUSE,
            "only nostr offered, dual-stack: nostr",
            vec![h("Sec-WebSocket-Protocol", "nostr")],
            Expect::Nostr,
        )),
        case(
            SPEC_REFUSE,
            "an empty subprotocol header is not Mosaic",
            vec![h("Sec-WebSocket-Protocol", "")],
            missing(None),
        ),
        case(
            SPEC_REFUSE,
            "case matters: MOSAIC2024 is another subprotocol",
            vec![h("Sec-WebSocket-Protocol", "MOSAIC2024")],
            missing(Some("MOSAIC2024")),
        ),
        dual(case(
            SPEC_REFUSE,
            "case matters, dual-stack: nostr",
            vec![h("Sec-WebSocket-Protocol", "Mosaic2024")],
            Expect::Nostr,
        )),
        case(
            SPEC_REFUSE,
            "no prefix match: mosaic2024x is not mosaic2024",
            vec![h("Sec-WebSocket-Protocol", "mosaic2024x, xmosaic2024")],
            missing(Some("mosaic2024x")),
        ),
        case(
            SPEC_REFUSE,
            "a semicolon does not separate subprotocols",
            vec![h("Sec-WebSocket-Protocol", "nostr;mosaic2024")],
            missing(Some("nostr;mosaic2024")),
        ),
        case(
            RULING_SEVERAL,
            "mosaic2024 among others, comma-separated",
            vec![h("Sec-WebSocket-Protocol", "nostr,mosaic2024")],
            accept_plain(),
        ),
        case(
            RULING_SEVERAL,
            "mosaic2024 on a second header line",
            vec![
                h("Sec-WebSocket-Protocol", "nostr"),
                h("Sec-WebSocket-Protocol", "mosaic2024"),
            ],
            accept_plain(),
        ),
        case(
            RULING_SEVERAL,
            "spaces, tabs and empty items around commas",
            vec![h(
                "Sec-WebSocket-Protocol",
                " ,\t, nostr ,  mosaic2024\t,, ",
            )],
            accept_plain(),
        ),
        case(
            RULING_SEVERAL,
            "mosaic2024 offered twice",
            vec![
                h("Sec-WebSocket-Protocol", "mosaic2024, mosaic2024"),
                proto(),
            ],
            accept_plain(),
        ),
        case(
            ISSUE_NAMES,
            "header name in upper case",
            vec![h("SEC-WEBSOCKET-PROTOCOL", "mosaic2024")],
            accept_plain(),
        ),
        case(
            ISSUE_NAMES,
            "header name in odd case",
            vec![h("sEc-WeBsOcKeT-pRoToCoL", "mosaic2024")],
            accept_plain(),
        ),
        case(
            ISSUE_BOUNDS,
            "non-UTF-8 subprotocol value: 400",
            vec![hb("Sec-WebSocket-Protocol", b"mosaic2024, \xff\xfe")],
            Expect::Reject(
                |e| matches!(e, ServerHandshakeError::HeaderNotText { .. }),
                "visible ASCII",
            ),
        ),
        dual(case(
            ISSUE_BOUNDS,
            "non-UTF-8 subprotocol value, dual-stack: still 400",
            vec![hb("Sec-WebSocket-Protocol", b"nostr\x80")],
            Expect::Reject(
                |e| matches!(e, ServerHandshakeError::HeaderNotText { .. }),
                "Sec-WebSocket-Protocol",
            ),
        )),
        case(
            ISSUE_BOUNDS,
            "valid UTF-8 but not ASCII: 400",
            vec![hb("Sec-WebSocket-Protocol", "mosaic2024, é".as_bytes())],
            Expect::Reject(
                |e| matches!(e, ServerHandshakeError::HeaderNotText { .. }),
                "visible ASCII",
            ),
        ),
        case(
            ISSUE_BOUNDS,
            "a value of exactly 4096 bytes is read",
            vec![hb(
                "Sec-WebSocket-Protocol",
                &padded("mosaic2024,", 4096, b' '),
            )],
            accept_plain(),
        ),
        case(
            ISSUE_BOUNDS,
            "a value of 4097 bytes: 400",
            vec![hb(
                "Sec-WebSocket-Protocol",
                &padded("mosaic2024,", 4097, b' '),
            )],
            Expect::Reject(
                |e| matches!(e, ServerHandshakeError::HeaderTooLong { len: 4097, .. }),
                "4097 bytes long; the limit is 4096",
            ),
        ),
        case(
            ISSUE_BOUNDS,
            "16 subprotocol lines are read",
            (0..16).map(|_| proto()).collect(),
            accept_plain(),
        ),
        case(
            ISSUE_BOUNDS,
            "17 subprotocol lines: 400",
            (0..17).map(|_| proto()).collect(),
            Expect::Reject(
                |e| matches!(e, ServerHandshakeError::TooManyHeaderLines { .. }),
                "the limit is 16",
            ),
        ),
        case(
            ISSUE_BOUNDS,
            "64 subprotocol items are read",
            vec![h("Sec-WebSocket-Protocol", &many_items(64))],
            accept_plain(),
        ),
        case(
            ISSUE_BOUNDS,
            "65 subprotocol items: 400",
            vec![h("Sec-WebSocket-Protocol", &many_items(65))],
            Expect::Reject(
                |e| matches!(e, ServerHandshakeError::TooManySubprotocols { max: 64 }),
                "too many subprotocols",
            ),
        ),
        // --- X-Mosaic-Extensions ---
        case(
            RULING_EXT_REPLY,
            "no extensions header: no extensions header in the reply",
            vec![proto()],
            accept_plain(),
        ),
        case(
            SPEC_EXT,
            "a supported extension is returned",
            vec![proto(), h("X-Mosaic-Extensions", "sync")],
            ext_reply("sync"),
        ),
        case(
            SPEC_EXT,
            "unsupported names are removed, the rest joined with ;",
            vec![proto(), h("X-Mosaic-Extensions", "sync;unknown;nip11")],
            ext_reply("sync;nip11"),
        ),
        case(
            RULING_EXT_REPLY,
            "the client's order is kept, not the server's",
            vec![proto(), h("X-Mosaic-Extensions", "nip11;sync")],
            ext_reply("nip11;sync"),
        ),
        case(
            SPEC_EXT,
            "nothing supported: -",
            vec![proto(), h("X-Mosaic-Extensions", "unknown;other")],
            ext_reply("-"),
        ),
        case(
            RULING_EXT_REPLY,
            "the client sent -: the server still replies -",
            vec![proto(), h("X-Mosaic-Extensions", "-")],
            ext_reply("-"),
        ),
        case(
            RULING_EXT_REPLY,
            "the client sent an empty header: the server replies -",
            vec![proto(), h("X-Mosaic-Extensions", "")],
            ext_reply("-"),
        ),
        case(
            RULING_EXT_HEADER,
            "spaces around semicolons and empty names",
            vec![proto(), h("X-Mosaic-Extensions", " ; sync ;\t;nip11 ; ")],
            ext_reply("sync;nip11"),
        ),
        case(
            RULING_EXT_HEADER,
            "duplicate names are dropped",
            vec![proto(), h("X-Mosaic-Extensions", "sync;nip11;sync;nip11")],
            ext_reply("sync;nip11"),
        ),
        case(
            RULING_EXT_HEADER,
            "a - item among names is skipped",
            vec![proto(), h("X-Mosaic-Extensions", "-;sync")],
            ext_reply("sync"),
        ),
        case(
            SPEC_MISSPELLED,
            "the misspelled header alone is read; the reply is spelled correctly",
            vec![proto(), h("X-Mosiac-Extensions", "sync")],
            ext_reply("sync"),
        ),
        case(
            SPEC_MISSPELLED,
            "the misspelled header alone with nothing supported: -",
            vec![proto(), h("X-Mosiac-Extensions", "unknown")],
            ext_reply("-"),
        ),
        case(
            RULING_EXT_HEADER,
            "both spellings: union, correct spelling first",
            vec![
                proto(),
                h("X-Mosiac-Extensions", "nip11"),
                h("X-Mosaic-Extensions", "sync"),
            ],
            ext_reply("sync;nip11"),
        ),
        case(
            RULING_EXT_HEADER,
            "both spellings overlapping: no duplicates",
            vec![
                proto(),
                h("X-Mosaic-Extensions", "sync"),
                h("X-Mosiac-Extensions", "nip11;sync"),
            ],
            ext_reply("sync;nip11"),
        ),
        case(
            RULING_EXT_HEADER,
            "repeated header lines are one list, in order",
            vec![
                proto(),
                h("X-Mosaic-Extensions", "nip11"),
                h("X-Mosaic-Extensions", "sync"),
            ],
            ext_reply("nip11;sync"),
        ),
        case(
            RULING_EXT_HEADER,
            "lines joined by a proxy with a comma",
            vec![proto(), h("X-Mosaic-Extensions", "nip11, sync")],
            ext_reply("nip11;sync"),
        ),
        case(
            ISSUE_NAMES,
            "extensions header name in any case",
            vec![
                h("sec-websocket-protocol", "mosaic2024"),
                h("x-MOSAIC-Extensions", "sync"),
            ],
            ext_reply("sync"),
        ),
        case(
            ISSUE_NAMES,
            "misspelled header name in any case",
            vec![proto(), h("X-MOSIAC-EXTENSIONS", "nip11")],
            ext_reply("nip11"),
        ),
        case(
            RULING_EXT_HEADER,
            "names are case-sensitive: SYNC is not sync",
            vec![proto(), h("X-Mosaic-Extensions", "SYNC")],
            ext_reply("-"),
        ),
        case(
            REMOVE_UNSERVICEABLE,
            "a name with an invalid character is dropped, not refused",
            vec![proto(), h("X-Mosaic-Extensions", "sync;bad name")],
            ext_reply("sync"),
        ),
        case(
            REMOVE_UNSERVICEABLE,
            "a quoted name is dropped, not refused",
            vec![proto(), h("X-Mosaic-Extensions", "\"sync\"")],
            ext_reply("-"),
        ),
        case(
            ISSUE_BOUNDS,
            "a 64-byte name is read",
            vec![proto(), hb("X-Mosaic-Extensions", &[b'x'; 64])],
            ext_reply("-"),
        ),
        case(
            REMOVE_UNSERVICEABLE,
            "a 65-byte name is dropped, not refused",
            vec![proto(), hb("X-Mosaic-Extensions", &[b'x'; 65])],
            ext_reply("-"),
        ),
        case(
            ISSUE_BOUNDS,
            "32 different names are read",
            vec![
                proto(),
                h("X-Mosaic-Extensions", &format!("{};sync", many_names(31))),
            ],
            ext_reply("sync"),
        ),
        case(
            REMOVE_UNSERVICEABLE,
            "33 unsupported names and a supported one: the supported one is kept",
            vec![
                proto(),
                h("X-Mosaic-Extensions", &format!("{};sync", many_names(33))),
            ],
            ext_reply("sync"),
        ),
        case(
            ISSUE_BOUNDS,
            "duplicates do not count towards the limit",
            vec![
                proto(),
                h(
                    "X-Mosaic-Extensions",
                    &format!("{};{};sync", many_names(31), many_names(31)),
                ),
            ],
            ext_reply("sync"),
        ),
        case(
            ISSUE_BOUNDS,
            "non-UTF-8 extensions value: 400",
            vec![proto(), hb("X-Mosaic-Extensions", b"sync;\xe9t\xe9")],
            Expect::Reject(
                |e| {
                    matches!(
                        e,
                        ServerHandshakeError::HeaderNotText {
                            header: "X-Mosaic-Extensions"
                        }
                    )
                },
                "X-Mosaic-Extensions header must be visible ASCII",
            ),
        ),
        case(
            ISSUE_BOUNDS,
            "non-UTF-8 misspelled extensions value: 400",
            vec![proto(), hb("X-Mosiac-Extensions", b"\xff")],
            Expect::Reject(
                |e| {
                    matches!(
                        e,
                        ServerHandshakeError::HeaderNotText {
                            header: "X-Mosiac-Extensions"
                        }
                    )
                },
                "X-Mosiac-Extensions",
            ),
        ),
        case(
            ISSUE_BOUNDS,
            "over-long extensions value: 400",
            vec![
                proto(),
                hb("X-Mosaic-Extensions", &padded("sync;", 5000, b' ')),
            ],
            Expect::Reject(
                |e| matches!(e, ServerHandshakeError::HeaderTooLong { len: 5000, .. }),
                "5000 bytes long",
            ),
        ),
        case(
            ISSUE_BOUNDS,
            "16 extension lines over both spellings are read",
            std::iter::once(proto())
                .chain((0..8).map(|_| h("X-Mosaic-Extensions", "sync")))
                .chain((0..8).map(|_| h("X-Mosiac-Extensions", "nip11")))
                .collect(),
            ext_reply("sync;nip11"),
        ),
        case(
            ISSUE_BOUNDS,
            "17 extension lines over both spellings: 400",
            std::iter::once(proto())
                .chain((0..9).map(|_| h("X-Mosaic-Extensions", "sync")))
                .chain((0..8).map(|_| h("X-Mosiac-Extensions", "nip11")))
                .collect(),
            Expect::Reject(
                |e| {
                    matches!(
                        e,
                        ServerHandshakeError::TooManyHeaderLines { count: 17, .. }
                    )
                },
                "17",
            ),
        ),
        case(
            RULING_MISSING,
            "extensions without mosaic2024: still 400 for the subprotocol",
            vec![h("X-Mosaic-Extensions", "sync")],
            missing(None),
        ),
        dual(case(
            RULING_MISSING,
            "extensions without mosaic2024, dual-stack: nostr, extensions not read",
            vec![hb("X-Mosaic-Extensions", b"bad name \xff")],
            Expect::Nostr,
        )),
        dual(case(
            RULING_SEVERAL,
            "dual-stack does not change a Mosaic request",
            vec![
                h("Sec-WebSocket-Protocol", "nostr, mosaic2024"),
                h("X-Mosaic-Extensions", "sync"),
            ],
            ext_reply("sync"),
        )),
        // --- X-Mosaic-Service-Url ---
        Case {
            service_url: Some("https://example.com/account"),
            ..case(
                SPEC_SERVICE,
                "the policy's service URL is sent",
                vec![proto()],
                Expect::Mosaic {
                    headers: vec![
                        ("sec-websocket-protocol", "mosaic2024"),
                        ("x-mosaic-service-url", "https://example.com/account"),
                    ],
                    extensions: "-",
                },
            )
        },
        Case {
            service_url: Some("http://192.0.2.7:8080/"),
            ..case(
                SPEC_SERVICE,
                "service URL with extensions",
                vec![proto(), h("X-Mosaic-Extensions", "nip11")],
                Expect::Mosaic {
                    headers: vec![
                        ("sec-websocket-protocol", "mosaic2024"),
                        ("x-mosaic-extensions", "nip11"),
                        ("x-mosaic-service-url", "http://192.0.2.7:8080/"),
                    ],
                    extensions: "nip11",
                },
            )
        },
        Case {
            service_url: Some("https://example.com/"),
            ..dual(case(
                SPEC_SERVICE,
                "no Mosaic header at all on a nostr hand-over",
                vec![],
                Expect::Nostr,
            ))
        },
    ]
}

#[test]
fn decide_table() {
    let mut failures = Vec::new();
    for c in cases() {
        let mut builder = ServerPolicy::builder()
            .supported_extensions(["sync", "nip11"])
            .dual_stack(c.dual_stack);
        if let Some(url) = c.service_url {
            builder = builder.service_url(url);
        }
        let policy = builder.build().expect("test policy");
        let mut request = Request::get("/").body(()).expect("request");
        *request.headers_mut() = headers(&borrow(&c.request));
        let decision = policy.decide(&request);
        let ok = match (&c.expect, &decision) {
            (
                Expect::Mosaic {
                    headers,
                    extensions,
                },
                Decision::Mosaic {
                    response_headers,
                    negotiated,
                },
            ) => {
                let mut want: Vec<(String, String)> = headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                want.sort();
                pairs_of(response_headers) == want
                    && negotiated.extensions().to_string() == *extensions
                    && negotiated.service_url().map(|u| u.as_str()) == c.service_url
            }
            (Expect::Nostr, Decision::Nostr) => true,
            (Expect::Reject(pred, text), Decision::Reject { status, reason }) => {
                let msg = reason.to_string();
                *status == StatusCode::BAD_REQUEST
                    && reason.status() == StatusCode::BAD_REQUEST
                    && pred(reason)
                    && msg.contains(text)
                    && !msg.contains(['\n', '\r'])
                    && msg.len() < 400
            }
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{}\n    spec: {}\n    got: {decision:?}",
                c.what, c.spec
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn decide_headers_matches_decide() {
    let policy = ServerPolicy::builder()
        .supported_extension("sync")
        .build()
        .unwrap();
    let map = headers(&[
        ("sec-websocket-protocol", b"mosaic2024".to_vec()),
        ("x-mosaic-extensions", b"sync".to_vec()),
    ]);
    let mut request = Request::get("/").body(()).unwrap();
    *request.headers_mut() = map.clone();
    let (
        Decision::Mosaic {
            response_headers: a,
            ..
        },
        Decision::Mosaic {
            response_headers: b,
            ..
        },
    ) = (policy.decide(&request), policy.decide_headers(&map))
    else {
        panic!("both must accept");
    };
    assert_eq!(pairs_of(&a), pairs_of(&b));
}

#[test]
fn apply_to_sets_headers_and_status() {
    // RULING_SEVERAL: "Reply with exactly mosaic2024": a stale value on the
    // response is replaced, not joined.
    let policy = ServerPolicy::builder()
        .supported_extension("sync")
        .service_url("https://example.com/")
        .build()
        .unwrap();
    let req = Request::get("/")
        .header("Sec-WebSocket-Protocol", "mosaic2024")
        .header("X-Mosaic-Extensions", "sync")
        .body(())
        .unwrap();
    let mut resp = Response::builder()
        .status(101)
        .header("Sec-WebSocket-Protocol", "stale")
        .header("Upgrade", "websocket")
        .body(())
        .unwrap();
    policy.decide(&req).apply_to(&mut resp);
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        pairs_of(resp.headers()),
        vec![
            ("sec-websocket-protocol".into(), "mosaic2024".into()),
            ("upgrade".into(), "websocket".into()),
            ("x-mosaic-extensions".into(), "sync".into()),
            ("x-mosaic-service-url".into(), "https://example.com/".into()),
        ]
    );

    // A rejection sets the status; Nostr leaves the response alone.
    let bad = Request::get("/").body(()).unwrap();
    let mut resp = Response::builder().status(101).body(()).unwrap();
    policy.decide(&bad).apply_to(&mut resp);
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let dual = ServerPolicy::builder().dual_stack(true).build().unwrap();
    let mut resp = Response::builder()
        .status(101)
        .header("A", "b")
        .body(())
        .unwrap();
    let decision = dual.decide(&bad);
    assert!(matches!(decision, Decision::Nostr));
    decision.apply_to(&mut resp);
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(pairs_of(resp.headers()), vec![("a".into(), "b".into())]);
}

#[test]
fn default_policy_is_mosaic_only_without_extensions() {
    // RULING_MISSING: "Default: refuse with HTTP 400".
    let policy = ServerPolicy::default();
    assert!(!policy.dual_stack());
    assert!(policy.supported_extensions().is_empty());
    assert!(policy.service_url().is_none());
    let req = Request::get("/")
        .header("Sec-WebSocket-Protocol", "nostr")
        .body(())
        .unwrap();
    assert!(matches!(
        policy.decide(&req),
        Decision::Reject {
            status: StatusCode::BAD_REQUEST,
            ..
        }
    ));
}

/// Policy configuration: a bad service URL or extension name is the local
/// operator's mistake, reported by `build`, not at run time.
#[test]
fn policy_config_table() {
    struct Row {
        spec: &'static str,
        service_url: Option<&'static str>,
        supported: &'static [&'static str],
        expect: fn(&Result<ServerPolicy, PolicyConfigError>) -> bool,
    }
    const RULING: &str =
        "X-Mosaic-Service-Url: Server option; must be an absolute http or https URL.";
    const ISSUE: &str = "a service URL that is not an absolute http(s) URL (a configuration error when the policy is built, not at run time)";
    let ok = |r: &Result<ServerPolicy, PolicyConfigError>| r.is_ok();
    let rows = [
        Row {
            spec: RULING,
            service_url: Some("https://example.com/"),
            supported: &[],
            expect: ok,
        },
        Row {
            spec: RULING,
            service_url: Some("HTTPS://Example.com"),
            supported: &[],
            expect: ok,
        },
        Row {
            spec: RULING,
            service_url: Some("http://192.0.2.7:8080/a?b=c#d"),
            supported: &[],
            expect: ok,
        },
        Row {
            spec: RULING,
            service_url: Some("https://[2001:db8::1]:8443/signup"),
            supported: &[],
            expect: ok,
        },
        Row {
            spec: ISSUE,
            service_url: Some(""),
            supported: &[],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::ServiceUrl(ServiceUrlError::Empty))
                )
            },
        },
        Row {
            spec: ISSUE,
            service_url: Some("example.com/account"),
            supported: &[],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::ServiceUrl(
                        ServiceUrlError::NotAbsolute { .. }
                    ))
                )
            },
        },
        Row {
            spec: ISSUE,
            service_url: Some("/account"),
            supported: &[],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::ServiceUrl(
                        ServiceUrlError::NotAbsolute { .. }
                    ))
                )
            },
        },
        Row {
            spec: ISSUE,
            service_url: Some("ftp://example.com/"),
            supported: &[],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::ServiceUrl(
                        ServiceUrlError::NotHttp { .. }
                    ))
                )
            },
        },
        Row {
            spec: ISSUE,
            service_url: Some("wss://example.com/"),
            supported: &[],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::ServiceUrl(
                        ServiceUrlError::NotHttp { .. }
                    ))
                )
            },
        },
        Row {
            spec: ISSUE,
            service_url: Some("https://"),
            supported: &[],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::ServiceUrl(ServiceUrlError::MissingHost))
                )
            },
        },
        Row {
            spec: ISSUE,
            service_url: Some("https:///account"),
            supported: &[],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::ServiceUrl(ServiceUrlError::MissingHost))
                )
            },
        },
        Row {
            spec: ISSUE,
            service_url: Some("https://user:pw@example.com/"),
            supported: &[],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::ServiceUrl(ServiceUrlError::HasUserInfo))
                )
            },
        },
        Row {
            spec: ISSUE,
            service_url: Some("https://exa mple.com/"),
            supported: &[],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::ServiceUrl(
                        ServiceUrlError::InvalidCharacter { .. }
                    ))
                )
            },
        },
        Row {
            spec: ISSUE,
            service_url: Some("https://example.com/\r\nX-Evil: 1"),
            supported: &[],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::ServiceUrl(
                        ServiceUrlError::InvalidCharacter { .. }
                    ))
                )
            },
        },
        Row {
            spec: ISSUE,
            service_url: Some("https://example.com:99999/"),
            supported: &[],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::ServiceUrl(
                        ServiceUrlError::InvalidPort { .. }
                    ))
                )
            },
        },
        Row {
            spec: ISSUE,
            service_url: Some("https://exa_mple.com/"),
            supported: &[],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::ServiceUrl(
                        ServiceUrlError::InvalidHost { .. }
                    ))
                )
            },
        },
        Row {
            spec: RULING_EXT_HEADER,
            service_url: None,
            supported: &["sync", "nip11", "sync"],
            expect: ok,
        },
        Row {
            spec: RULING_EXT_HEADER,
            service_url: None,
            supported: &["bad name"],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::Extensions(ExtensionsError::InvalidName(
                        ExtensionNameError::InvalidCharacter { .. }
                    )))
                )
            },
        },
        Row {
            spec: SPEC_EXT,
            service_url: None,
            supported: &["-"],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::Extensions(ExtensionsError::InvalidName(
                        ExtensionNameError::Reserved
                    )))
                )
            },
        },
        Row {
            spec: RULING_EXT_HEADER,
            service_url: None,
            supported: &[""],
            expect: |r| {
                matches!(
                    r,
                    Err(PolicyConfigError::Extensions(ExtensionsError::InvalidName(
                        ExtensionNameError::Empty
                    )))
                )
            },
        },
    ];
    for row in &rows {
        let mut b = ServerPolicy::builder().supported_extensions(row.supported.iter().copied());
        if let Some(u) = row.service_url {
            b = b.service_url(u);
        }
        let result = b.build();
        assert!(
            (row.expect)(&result),
            "{:?} / {:?}: got {result:?}\n  spec: {}",
            row.service_url,
            row.supported,
            row.spec
        );
        if let Err(e) = &result {
            let msg = e.to_string();
            assert!(
                !msg.contains(['\n', '\r']) && msg.len() > 20,
                "message: {msg}"
            );
        }
    }
    // Too many supported names.
    let names: Vec<String> = (0..33).map(|i| format!("e{i}")).collect();
    let r = ServerPolicy::builder().supported_extensions(names).build();
    assert!(
        matches!(
            r,
            Err(PolicyConfigError::Extensions(ExtensionsError::TooMany {
                max: 32
            }))
        ),
        "{r:?}"
    );
    // The accepted URL is kept as given.
    let p = ServerPolicy::builder()
        .service_url("HTTPS://Example.com")
        .build()
        .unwrap();
    assert_eq!(
        p.service_url().map(|u| u.as_str()),
        Some("HTTPS://Example.com")
    );
}

#[test]
fn rejection_messages_are_one_line_and_escape_peer_bytes() {
    // A peer's bytes appear escaped and cut short in the reason.
    let policy = ServerPolicy::default();
    let long = format!("{}\t{}", "n".repeat(100), "x");
    let req = Request::get("/")
        .header("Sec-WebSocket-Protocol", long.as_str())
        .body(())
        .unwrap();
    let Decision::Reject { reason, .. } = policy.decide(&req) else {
        panic!("must reject")
    };
    let msg = reason.to_string();
    assert!(!msg.contains(['\n', '\r', '\t']), "{msg}");
    assert!(msg.contains("..."), "cut short: {msg}");
    assert!(msg.len() < 250, "{msg}");
}
