//! Mosaic WebSocket URLs (spec/url.md), one table row per rule.

use std::net::{Ipv4Addr, Ipv6Addr};

use mosaic_handshake::{Host, MosaicUrl, MosaicUrlError};

const SCHEME: &str = "Mosaic URLs MUST contain one of the following schemes: mosaic for Mosaic over QUIC, wss for Mosaic over WebSockets";
const HOST: &str = "Mosaic URLs MUST contain a host. This SHOULD normally be an IP address (either IPv4 or IPv6) but it MAY be a DNS name.";
const PORT: &str = "Mosaic URLs MAY contain a port. If a port is not provided, then the following defaults apply: The wss default port is 443.";
const PATH: &str = "Mosaic URLs MUST specify the root path /.";
const PRUNE: &str = "Mosaic URLs MUST not contain a user, password, query, or fragment section. If any of these is found, software MUST prune such information.";
const RULING: &str = "URLs: wss://host[:port]/, default port 443, path /. User, password, query and fragment are pruned.";

/// What a row expects.
enum Expect {
    /// Parses to this normal form, host and port.
    Ok(&'static str, fn() -> Host, u16),
    /// Fails with this error, whose message contains the text.
    Err(fn(&MosaicUrlError) -> bool, &'static str),
}

fn dns(name: &'static str) -> fn() -> Host {
    // Non-capturing closures only: pick from a fixed list.
    match name {
        "relay.example.com" => || Host::Domain("relay.example.com".into()),
        "example.onion" => || Host::Domain("example.onion".into()),
        "a-b.i2p" => || Host::Domain("a-b.i2p".into()),
        "xn--bcher-kva.example" => || Host::Domain("xn--bcher-kva.example".into()),
        _ => unreachable!("add the name to the list"),
    }
}

fn v4() -> Host {
    Host::Ipv4(Ipv4Addr::new(192, 0, 2, 7))
}

fn v6() -> Host {
    Host::Ipv6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
}

#[test]
fn url_table() {
    let rows: &[(&str, &str, Expect)] = &[
        (
            HOST,
            "wss://192.0.2.7",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        (
            PORT,
            "wss://192.0.2.7/",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        (
            PORT,
            "wss://192.0.2.7:443/",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        (
            PORT,
            "wss://192.0.2.7:4443/",
            Expect::Ok("wss://192.0.2.7:4443/", v4, 4443),
        ),
        (
            PORT,
            "wss://192.0.2.7:00080",
            Expect::Ok("wss://192.0.2.7:80/", v4, 80),
        ),
        (
            PORT,
            "wss://192.0.2.7:65535",
            Expect::Ok("wss://192.0.2.7:65535/", v4, 65535),
        ),
        (
            PORT,
            "wss://192.0.2.7:",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        (
            HOST,
            "wss://[2001:db8::1]",
            Expect::Ok("wss://[2001:db8::1]/", v6, 443),
        ),
        (
            HOST,
            "wss://[2001:DB8:0:0::1]:8443/",
            Expect::Ok("wss://[2001:db8::1]:8443/", v6, 8443),
        ),
        (
            HOST,
            "wss://Relay.Example.COM",
            Expect::Ok("wss://relay.example.com/", dns("relay.example.com"), 443),
        ),
        (
            HOST,
            "wss://example.onion:443/",
            Expect::Ok("wss://example.onion/", dns("example.onion"), 443),
        ),
        (
            HOST,
            "wss://a-b.i2p",
            Expect::Ok("wss://a-b.i2p/", dns("a-b.i2p"), 443),
        ),
        (
            HOST,
            "wss://xn--bcher-kva.example/",
            Expect::Ok(
                "wss://xn--bcher-kva.example/",
                dns("xn--bcher-kva.example"),
                443,
            ),
        ),
        (
            SCHEME,
            "WSS://192.0.2.7/",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        (
            PRUNE,
            "wss://alice@192.0.2.7/",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        (
            PRUNE,
            "wss://alice:secret@192.0.2.7:4443/",
            Expect::Ok("wss://192.0.2.7:4443/", v4, 4443),
        ),
        (
            PRUNE,
            "wss://a@b:c@192.0.2.7/",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        (
            PRUNE,
            "wss://192.0.2.7/?since=5",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        (
            PRUNE,
            "wss://192.0.2.7?q",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        (
            PRUNE,
            "wss://192.0.2.7/#top",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        (
            PRUNE,
            "wss://192.0.2.7#top",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        (
            PRUNE,
            "wss://u:p@[2001:db8::1]:9/?a=b c#f g",
            Expect::Ok("wss://[2001:db8::1]:9/", v6, 9),
        ),
        (
            PRUNE,
            "wss://192.0.2.7/?q=/path#/x",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        (
            RULING,
            "  wss://192.0.2.7/\n",
            Expect::Ok("wss://192.0.2.7/", v4, 443),
        ),
        // Errors.
        (
            SCHEME,
            "",
            Expect::Err(|e| matches!(e, MosaicUrlError::Empty), "empty"),
        ),
        (
            SCHEME,
            "ws://192.0.2.7/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::PlainWebSocket),
                "use wss://",
            ),
        ),
        (
            SCHEME,
            "WS://192.0.2.7/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::PlainWebSocket),
                "without TLS",
            ),
        ),
        (
            SCHEME,
            "https://192.0.2.7/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::HttpScheme { .. }),
                "https:// is a web page address",
            ),
        ),
        (
            SCHEME,
            "http://192.0.2.7/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::HttpScheme { .. }),
                "use wss://",
            ),
        ),
        (
            SCHEME,
            "mosaic://192.0.2.7/",
            Expect::Err(|e| matches!(e, MosaicUrlError::QuicScheme), "QUIC"),
        ),
        (
            SCHEME,
            "ftp://192.0.2.7/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::UnsupportedScheme { .. }),
                "`ftp`",
            ),
        ),
        (
            SCHEME,
            "192.0.2.7",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::MissingScheme { .. }),
                "no scheme",
            ),
        ),
        (
            SCHEME,
            "example.com:443",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::MissingScheme { .. }),
                "starts with wss://",
            ),
        ),
        (
            SCHEME,
            "wss:192.0.2.7",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::MissingScheme { .. }),
                "no scheme",
            ),
        ),
        (
            SCHEME,
            "://192.0.2.7",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::MissingScheme { .. }),
                "no scheme",
            ),
        ),
        (
            HOST,
            "wss://",
            Expect::Err(|e| matches!(e, MosaicUrlError::MissingHost), "no host"),
        ),
        (
            HOST,
            "wss:///",
            Expect::Err(|e| matches!(e, MosaicUrlError::MissingHost), "no host"),
        ),
        (
            HOST,
            "wss://:443/",
            Expect::Err(|e| matches!(e, MosaicUrlError::MissingHost), "no host"),
        ),
        (
            HOST,
            "wss://alice@/",
            Expect::Err(|e| matches!(e, MosaicUrlError::MissingHost), "no host"),
        ),
        (
            HOST,
            "wss://?q",
            Expect::Err(|e| matches!(e, MosaicUrlError::MissingHost), "no host"),
        ),
        (
            HOST,
            "wss://0x7f000001/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidHost { .. }),
                "not a valid IPv4",
            ),
        ),
        (
            HOST,
            "wss://1.2.3.0x4/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidHost { .. }),
                "not a valid IPv4",
            ),
        ),
        (
            HOST,
            "wss://evil.example\\@good.example/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidCharacter { .. }),
                "visible ASCII",
            ),
        ),
        (
            HOST,
            "wss://2001:db8::1/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidHost { .. }),
                "in brackets",
            ),
        ),
        (
            HOST,
            "wss://[2001:db8::1/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidHost { .. }),
                "closed with `]`",
            ),
        ),
        (
            HOST,
            "wss://[2001:db8::g]/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidHost { .. }),
                "not a valid IPv6",
            ),
        ),
        (
            HOST,
            "wss://[fe80::1%25eth0]/",
            Expect::Err(|e| matches!(e, MosaicUrlError::InvalidHost { .. }), "zone"),
        ),
        (
            HOST,
            "wss://[192.0.2.7]/",
            Expect::Err(|e| matches!(e, MosaicUrlError::InvalidHost { .. }), "IPv6"),
        ),
        (
            HOST,
            "wss://[::1]x/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidHost { .. }),
                "only `:PORT`",
            ),
        ),
        (
            HOST,
            "wss://192.0.2.256/",
            Expect::Err(|e| matches!(e, MosaicUrlError::InvalidHost { .. }), "IPv4"),
        ),
        (
            HOST,
            "wss://192.0.2/",
            Expect::Err(|e| matches!(e, MosaicUrlError::InvalidHost { .. }), "IPv4"),
        ),
        (
            HOST,
            "wss://a..b/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidHost { .. }),
                "empty label",
            ),
        ),
        (
            HOST,
            "wss://example.com./",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidHost { .. }),
                "trailing dot",
            ),
        ),
        (
            HOST,
            "wss://-a.example/",
            Expect::Err(|e| matches!(e, MosaicUrlError::InvalidHost { .. }), "`-`"),
        ),
        (
            HOST,
            "wss://a_b.example/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidHost { .. }),
                "letters, digits",
            ),
        ),
        (
            HOST,
            "wss://a%41.example/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidHost { .. }),
                "letters, digits",
            ),
        ),
        (
            HOST,
            "wss://exa mple.com/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidCharacter { .. }),
                "visible ASCII",
            ),
        ),
        (
            HOST,
            "wss://bücher.example/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidCharacter { .. }),
                "xn--",
            ),
        ),
        (
            PORT,
            "wss://192.0.2.7:0/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidPort { .. }),
                "1 to 65535",
            ),
        ),
        (
            PORT,
            "wss://192.0.2.7:65536/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidPort { .. }),
                "`65536`",
            ),
        ),
        (
            PORT,
            "wss://192.0.2.7:443443/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidPort { .. }),
                "1 to 65535",
            ),
        ),
        (
            PORT,
            "wss://192.0.2.7:https/",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::InvalidPort { .. }),
                "`https`",
            ),
        ),
        (
            PORT,
            "wss://192.0.2.7:-1/",
            Expect::Err(|e| matches!(e, MosaicUrlError::InvalidPort { .. }), "port"),
        ),
        (
            PORT,
            "wss://192.0.2.7:+1/",
            Expect::Err(|e| matches!(e, MosaicUrlError::InvalidPort { .. }), "port"),
        ),
        (
            PATH,
            "wss://192.0.2.7/relay",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::NonRootPath { .. }),
                "not `/relay`",
            ),
        ),
        (
            PATH,
            "wss://192.0.2.7//",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::NonRootPath { .. }),
                "root path",
            ),
        ),
        (
            PATH,
            "wss://192.0.2.7/index.html?x",
            Expect::Err(
                |e| matches!(e, MosaicUrlError::NonRootPath { .. }),
                "remove the path",
            ),
        ),
    ];
    let mut failures = Vec::new();
    for (spec, input, expect) in rows {
        let result = MosaicUrl::parse(input);
        let ok = match (expect, &result) {
            (Expect::Ok(normal, host, port), Ok(url)) => {
                url.to_string() == *normal
                    && url.as_str() == *normal
                    && url.host() == &host()
                    && url.port() == *port
                    && url.authority() == format!("{}:{}", host(), port)
                    // Round trip: the normal form parses to the same value.
                    && MosaicUrl::parse(normal).as_ref() == Ok(url)
                    && input.parse::<MosaicUrl>().as_ref() == Ok(url)
            }
            (Expect::Err(pred, text), Err(e)) => {
                let msg = e.to_string();
                pred(e) && msg.contains(text) && !msg.contains(['\n', '\r'])
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{input:?}\n    spec: {spec}\n    got: {result:?}"));
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
fn new_builds_the_normal_form() {
    // RULING: "wss://host[:port]/, default port 443".
    let url = MosaicUrl::new(Host::Domain("Relay.Example.com".into()), 443).unwrap();
    assert_eq!(url.as_str(), "wss://relay.example.com/");
    let url = MosaicUrl::new(v6(), 8443).unwrap();
    assert_eq!(url.to_string(), "wss://[2001:db8::1]:8443/");
    assert_eq!(url.authority(), "[2001:db8::1]:8443");
    assert!(matches!(
        MosaicUrl::new(v4(), 0),
        Err(MosaicUrlError::InvalidPort { .. })
    ));
    assert!(matches!(
        MosaicUrl::new(Host::Domain("bad host".into()), 443),
        Err(MosaicUrlError::InvalidHost { .. })
    ));
    assert!(matches!(
        MosaicUrl::new(Host::Domain("192.0.2.7".into()), 443),
        Err(MosaicUrlError::InvalidHost { .. })
    ));
}
