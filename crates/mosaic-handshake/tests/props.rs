//! Property tests.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::headers;
use mosaic_handshake::http::{HeaderMap, Request, StatusCode};
use mosaic_handshake::{
    ClientHandshake, Decision, Extensions, Host, MosaicUrl, ServerPolicy, X_MOSAIC_EXTENSIONS,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// Names from a small pool, so that requested and supported overlap often.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["sync", "nip11", "a", "b", "c", "x-1", "Sync"])
            .prop_map(String::from),
        "[a-z0-9!#$%&'*+.^_`|~-]{1,8}".prop_filter("not the empty-set marker", |s| s != "-"),
    ]
}

/// A list of names with repeats, at most 32 different ones.
fn names() -> impl Strategy<Value = Vec<String>> {
    vec(name(), 0..12)
}

proptest! {
    /// Issue item 5: for any set of supported and requested extension names,
    /// the server's answer is requested ∩ supported in the client's order,
    /// and the client accepts exactly that answer.
    #[test]
    fn negotiation_is_requested_intersect_supported(
        supported in names(),
        requested in names(),
        dual_stack in any::<bool>(),
    ) {
        let policy = ServerPolicy::builder()
            .supported_extensions(supported.clone())
            .dual_stack(dual_stack)
            .build()
            .unwrap();
        let requested_set = Extensions::from_names(&requested).unwrap();
        let client = ClientHandshake::new(requested_set.clone());

        let mut request = Request::get("/").body(()).unwrap();
        client.apply(&mut request);
        let Decision::Mosaic { response_headers, negotiated } = policy.decide(&request) else {
            panic!("a request from ClientHandshake must be accepted as Mosaic");
        };

        // requested ∩ supported, client's order, no repeats.
        let mut expected: Vec<&str> = Vec::new();
        for r in &requested {
            if supported.contains(r) && !expected.contains(&r.as_str()) {
                expected.push(r);
            }
        }
        let got: Vec<&str> = negotiated.extensions().iter().map(|n| n.as_str()).collect();
        prop_assert_eq!(&got, &expected);

        // The reply header: present iff the client sent one, `-` when empty.
        let reply = response_headers.get(X_MOSAIC_EXTENSIONS).map(|v| v.to_str().unwrap().to_owned());
        if requested.is_empty() {
            prop_assert_eq!(reply, None);
        } else if expected.is_empty() {
            prop_assert_eq!(reply.as_deref(), Some("-"));
        } else {
            prop_assert_eq!(reply, Some(expected.join(";")));
        }

        // The client accepts exactly that answer.
        let on_client = client.check_headers(&response_headers).unwrap();
        prop_assert_eq!(on_client.extensions(), negotiated.extensions());
    }

    /// The client refuses any answer holding a name it did not request.
    #[test]
    fn client_refuses_unrequested_names(requested in names(), extra in name()) {
        prop_assume!(!requested.contains(&extra));
        let client = ClientHandshake::new(Extensions::from_names(&requested).unwrap());
        let mut answer = requested.clone();
        answer.push(extra);
        let response = headers(&[
            ("sec-websocket-protocol", b"mosaic2024".to_vec()),
            ("x-mosaic-extensions", answer.join(";").into_bytes()),
        ]);
        prop_assert!(client.check_headers(&response).is_err());
    }

    /// Any header values: `decide` never panics, an accept always answers
    /// exactly mosaic2024 with supported names only, and a rejection is a 400
    /// with a one-line reason.
    #[test]
    fn decide_is_total(
        lines in vec((0usize..6, vec(any::<u8>(), 0..40)), 0..8),
        dual_stack in any::<bool>(),
    ) {
        const NAMES: [&str; 6] = [
            "sec-websocket-protocol", "x-mosaic-extensions", "x-mosiac-extensions",
            "x-mosaic-service-url", "host", "sec-websocket-protocol",
        ];
        let mut map = HeaderMap::new();
        for (i, value) in &lines {
            // Seed the values with the real tokens now and then.
            let mut value = value.clone();
            if value.first().is_some_and(|b| b % 3 == 0) {
                value.extend_from_slice(b", mosaic2024;sync");
            }
            if let Ok(v) = mosaic_handshake::http::HeaderValue::from_bytes(&value) {
                map.append(NAMES[*i], v);
            }
        }
        let policy = ServerPolicy::builder()
            .supported_extension("sync")
            .dual_stack(dual_stack)
            .build()
            .unwrap();
        match policy.decide_headers(&map) {
            Decision::Mosaic { response_headers, negotiated } => {
                let protos: Vec<_> = response_headers.get_all("sec-websocket-protocol").iter().collect();
                prop_assert_eq!(protos, vec!["mosaic2024"]);
                for n in negotiated.extensions() {
                    prop_assert_eq!(n.as_str(), "sync");
                }
            }
            Decision::Nostr => prop_assert!(dual_stack),
            Decision::Reject { status, reason } => {
                prop_assert_eq!(status, StatusCode::BAD_REQUEST);
                let msg = reason.to_string();
                prop_assert!(!msg.contains(['\n', '\r']) && msg.len() < 400, "{}", msg);
            }
        }
    }

    /// Extensions survive their header form.
    #[test]
    fn extensions_header_round_trip(list in names()) {
        let set = Extensions::from_names(&list).unwrap();
        let text = set.to_string();
        prop_assert_eq!(text.parse::<Extensions>().unwrap(), set.clone());
        let value = set.to_header_value();
        prop_assert_eq!(value.to_str().unwrap(), text);
    }

    /// The normal form of any valid URL parses back to the same URL.
    #[test]
    fn url_normal_form_round_trips(
        kind in 0u8..3,
        v4 in any::<[u8; 4]>(),
        v6 in any::<[u16; 8]>(),
        labels in vec("[a-z][a-z0-9-]{0,10}[a-z0-9]", 1..4),
        port in 1u16..,
    ) {
        let host = match kind {
            0 => Host::Ipv4(Ipv4Addr::from(v4)),
            1 => Host::Ipv6(Ipv6Addr::from(v6)),
            _ => Host::Domain(labels.join(".")),
        };
        let url = MosaicUrl::new(host.clone(), port).unwrap();
        prop_assert_eq!(url.host(), &host);
        let back: MosaicUrl = url.to_string().parse().unwrap();
        prop_assert_eq!(&back, &url);
        // With user info, query and fragment added, the same URL comes out.
        let noisy = format!("wss://u:p@{}:{port}/?q=1#f", url.host());
        prop_assert_eq!(noisy.parse::<MosaicUrl>().unwrap(), url);
    }

    /// Parsing any string never panics, and a success is in normal form.
    #[test]
    fn url_parse_is_total(s in ".{0,40}", t in "(wss|ws|https)://[a-z0-9:@\\[\\]./?#%-]{0,30}") {
        for input in [s, t] {
            if let Ok(url) = MosaicUrl::parse(&input) {
                prop_assert!(url.as_str().starts_with("wss://") && url.as_str().ends_with('/'));
                prop_assert_eq!(MosaicUrl::parse(url.as_str()).unwrap(), url);
            }
        }
    }
}
