//! What a bad peer gets, checked over real loopback sockets for any runtime
//! adapter: each scenario starts a server through a [`Harness`], keeps a
//! witness subscription open on it, misbehaves with a blocking raw client (so
//! the misbehaviour does not depend on the runtime under test), and checks the
//! answer and that the witness lost nothing.

use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mosaic_proto::session::Closed;
use mosaic_proto::{
    ClientMessage, CloseCode, Filter, QueryClosedCode, QueryId, ServerMessage, Timestamp,
};
use mosaic_tls::ed25519_dalek::VerifyingKey;
use mosaic_tls::rustls::pki_types::ServerName;
use mosaic_tls::{ClientTls, Identity, PeerCertError, PeerIdentity, ServerTls};
use mosaic_ws::{
    Accepted, ClientConnection, ClientOptions, ConnectError, RequestError, Runtime, Server,
    ServerOptions, ShutdownHandle, Subscription, SubscriptionEvent, Transport, within,
};
use tungstenite::{Message, WebSocket};

use crate::MemoryStore;
use crate::script::{note, record_now};

/// How long any one step may take before the scenario fails instead of hanging.
pub const STEP: Duration = Duration::from_secs(10);

/// What the server under test reports about its connections.
#[derive(Debug)]
pub enum Report {
    /// A Mosaic connection was accepted from this identity.
    Accepted(PeerIdentity),
    /// A Mosaic connection ended.
    Closed(Closed),
    /// A nostr connection was handed over (dual-stack mode), from this
    /// identity and address; the server greeted it with a text message.
    Nostr(PeerIdentity, Option<SocketAddr>),
    /// A handshake failed or was refused.
    Refused(String),
}

/// A server started by a harness.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its key.
    pub key: VerifyingKey,
    /// Its store.
    pub store: Arc<MemoryStore>,
    /// What it reports about connections.
    pub reports: Receiver<Report>,
    /// Shuts it down.
    pub shutdown: ShutdownHandle,
}

impl Running {
    /// Its URL.
    pub fn url(&self) -> String {
        format!("wss://{}/", self.addr)
    }

    /// The next report, or a panic after [`STEP`].
    pub fn report(&self) -> Report {
        self.reports
            .recv_timeout(STEP)
            .expect("a server report in time")
    }
}

/// What a runtime adapter provides to the scenarios: its transport, and a way
/// to wait for a future from a plain thread.
pub trait Harness {
    /// The adapter's transport.
    type Transport: Transport;

    /// The transport to run servers and clients on.
    fn transport(&self) -> Self::Transport;

    /// Runs `future` to completion on the runtime under test.
    fn run<F: Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send;

    /// Runs `future`, failing the scenario if it takes longer than [`STEP`]
    /// (a hang is a failure, not a stuck test).
    fn block_on<F: Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        self.block_on_for(STEP, future)
    }

    /// Runs `future`, failing the scenario if it takes longer than `limit`.
    fn block_on_for<F: Future + Send>(&self, limit: Duration, future: F) -> F::Output
    where
        F::Output: Send,
    {
        let transport = self.transport();
        self.run(async move { within(&transport, limit, future).await })
            .unwrap_or_else(|| panic!("a step took longer than {limit:?}"))
    }

    /// Starts a server with `options` that hands every accepted connection to
    /// [`serve_accepted`]; returns its address and shutdown handle.
    fn start_server(
        &self,
        options: ServerOptions,
        store: Arc<MemoryStore>,
        reports: Sender<Report>,
    ) -> (SocketAddr, ShutdownHandle) {
        let transport = self.transport();
        let server = self
            .block_on(Server::bind_on(transport.clone(), "127.0.0.1:0", options))
            .expect("bind");
        let addr = server.local_addr().expect("addr");
        let shutdown = server.shutdown_handle();
        let refused = reports.clone();
        let serving = server.serve(
            move |accepted| serve_accepted(accepted, store.clone(), reports.clone()),
            move |_, error| {
                let _ = refused.send(Report::Refused(error.to_string()));
            },
        );
        // Spawned from within the runtime: some runtimes (tokio) need it.
        let spawner = transport.clone();
        self.run(async move {
            spawner.spawn(Box::pin(async move {
                let _ = serving.await;
            }));
        });
        (addr, shutdown)
    }

    /// Connects a client.
    ///
    /// # Errors
    /// The adapter's connect error.
    fn connect(
        &self,
        url: &str,
        options: &ClientOptions,
    ) -> Result<ClientConnection, ConnectError> {
        self.block_on(mosaic_ws::connect_on(self.transport(), url, options))
    }
}

/// Declares one `#[test]` per scenario for a harness expression.
#[macro_export]
macro_rules! conformance_tests {
    ($harness:expr) => {
        $crate::conformance_tests!(@each $harness;
            missing_or_wrong_subprotocol_gets_400,
            requests_that_are_no_websocket_upgrade_get_an_http_status,
            a_refused_client_that_goes_on_sending_is_closed,
            dual_stack_hands_nostr_over,
            the_socket_under_a_websocket_counts_what_it_moves,
            wrong_server_key_fails_the_client,
            text_message_closes_1003,
            server_message_closes_1002,
            malformed_message_closes_1002,
            oversize_message_closes_1009,
            invalid_filter_is_rejected_and_the_connection_lives_on,
            stalled_handshake_is_closed_at_the_timeout,
            client_vanishing_mid_message_ends_its_connection,
            server_vanishing_ends_the_clients_requests,
            connections_over_the_limit_are_refused,
            graceful_shutdown_closes_queries_then_connections,
            the_server_sees_who_authenticated,
            from_author_records_need_their_author,
            kind_bits_decide_who_reads,
            many_slow_handshakes_time_out_while_others_are_served,
            a_subscriber_that_never_reads_is_closed,
            a_slow_sender_of_a_large_record_is_served,
            a_client_receiving_a_large_record_slowly_keeps_its_connection,
            a_query_flood_is_rejected_too_fast_and_the_connection_stays_usable,
            random_disconnects_mid_message_leave_the_server_serving,
            a_silent_peer_is_closed_by_the_keepalive,
            an_idle_client_is_closed,
        );
    };
    (@each $harness:expr; $($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                $crate::conformance::$name(&$harness);
            }
        )*
    };
}

/// What the server under test sends a nostr connection.
pub const NOSTR_GREETING: &str = "[\"NOTICE\",\"nostr is not served here\"]";

/// The server side every harness runs for an accepted connection.
pub async fn serve_accepted<N: mosaic_ws::WebSocket>(
    accepted: Accepted<N>,
    store: Arc<MemoryStore>,
    reports: Sender<Report>,
) {
    match accepted {
        Accepted::Mosaic(connection) => {
            let _ = reports.send(Report::Accepted(*connection.info().peer_identity()));
            let sender = connection.sender().clone();
            store.serve(connection).await;
            let _ = reports.send(Report::Closed(sender.closed().await));
        }
        Accepted::Nostr(nostr) => {
            // Taken apart, as a nostr library wanting the stream would.
            let remote = nostr.remote_addr();
            let (mut stream, peer, permit) = nostr.into_parts();
            let _ = reports.send(Report::Nostr(peer, remote));
            let _ = futures_util::SinkExt::send(&mut stream, Message::text(NOSTR_GREETING)).await;
            let _ = futures_util::SinkExt::close(&mut stream).await;
            drop(permit);
        }
    }
}

/// Starts a server with default options around a fresh identity.
pub fn start(harness: &impl Harness, configure: impl FnOnce(&mut ServerOptions)) -> Running {
    let identity = Identity::generate().expect("rng");
    let key = identity.public_key();
    let mut options = ServerOptions::new(ServerTls::builder(identity).build().expect("tls"));
    configure(&mut options);
    let store = MemoryStore::new(10_000, crate::store::full_validation());
    let (tx, reports) = std::sync::mpsc::channel();
    let (addr, shutdown) = harness.start_server(options, store.clone(), tx);
    Running {
        addr,
        key,
        store,
        reports,
        shutdown,
    }
}

/// Client options pinning `key`, anonymous.
pub fn client_options(key: VerifyingKey) -> ClientOptions {
    ClientOptions::new(ClientTls::builder(key).build().expect("tls"))
}

/// A subscriber to everything, whose every record is checked after the bad peer.
#[derive(Debug)]
pub struct Witness {
    client: ClientConnection,
    subscription: Subscription,
    author: Identity,
    seen: usize,
}

impl Witness {
    /// Connects and subscribes to every record (an empty filter).
    pub fn open(harness: &impl Harness, server: &Running) -> Witness {
        let client = harness
            .connect(&server.url(), &client_options(server.key))
            .expect("witness connects");
        assert!(matches!(server.report(), Report::Accepted(_)));
        let mut subscription = harness
            .block_on(client.subscribe(Filter::builder().build().expect("empty"), 0))
            .expect("witness subscribes");
        let first = harness.block_on(subscription.next());
        assert!(
            matches!(first, Some(Ok(SubscriptionEvent::LocallyComplete))),
            "{first:?}"
        );
        Witness {
            client,
            subscription,
            author: Identity::generate().expect("rng"),
            seen: 0,
        }
    }

    /// Submits a record through the witness's own connection and checks it
    /// arrives live: the server still serves, and the subscription lost nothing.
    pub fn check_alive(&mut self, harness: &impl Harness) {
        let record = note(
            &self.author,
            &format!("witness {}", self.seen),
            record_now(),
        );
        let code = harness
            .block_on(self.client.submit(record.clone()))
            .expect("submit");
        assert!(code.is_accepted(), "{code}");
        let live = harness.block_on(self.subscription.next());
        assert!(
            matches!(&live, Some(Ok(SubscriptionEvent::Record(r))) if *r == record),
            "witness expected its record, got {live:?}"
        );
        self.seen += 1;
    }
}

type RawStream = mosaic_tls::rustls::StreamOwned<mosaic_tls::rustls::ClientConnection, TcpStream>;

/// A raw TLS stream to the server, TLS done, nothing else sent.
fn raw_tls(server: &Running) -> RawStream {
    let tls = ClientTls::builder(server.key).build().expect("tls");
    let tcp = TcpStream::connect(server.addr).expect("tcp");
    tcp.set_read_timeout(Some(STEP)).expect("timeout");
    let name = ServerName::IpAddress(server.addr.ip().into());
    let connection =
        mosaic_tls::rustls::ClientConnection::new(tls.config(), name).expect("tls client");
    mosaic_tls::rustls::StreamOwned::new(connection, tcp)
}

/// The upgrade request for `server`, with the given `Sec-WebSocket-Protocol`.
fn upgrade_request(
    server: &Running,
    protocol: Option<&str>,
) -> tungstenite::handshake::client::Request {
    use tungstenite::client::IntoClientRequest;
    let mut request = server.url().into_client_request().expect("request");
    if let Some(protocol) = protocol {
        request.headers_mut().insert(
            "sec-websocket-protocol",
            protocol.parse().expect("header value"),
        );
    }
    request
}

/// A raw WebSocket upgraded as Mosaic, driven by hand.
pub fn raw_mosaic(server: &Running) -> WebSocket<RawStream> {
    let (ws, _) = tungstenite::client(upgrade_request(server, Some("mosaic2024")), raw_tls(server))
        .expect("raw upgrade");
    ws
}

/// The status of an upgrade offering `protocol` (or none), when refused.
pub fn upgrade_status(server: &Running, protocol: Option<&str>) -> Option<u16> {
    match tungstenite::client(upgrade_request(server, protocol), raw_tls(server)) {
        Ok(_) => None,
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            Some(response.status().as_u16())
        }
        Err(other) => panic!("upgrade failed another way: {other}"),
    }
}

/// Reads until the server's close frame; its code.
pub fn close_code(ws: &mut WebSocket<RawStream>) -> Option<u16> {
    loop {
        match ws.read() {
            Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
    }
}

/// Reads the next binary message as a server message.
pub fn read_server_message(ws: &mut WebSocket<RawStream>) -> ServerMessage {
    loop {
        match ws.read().expect("a message") {
            Message::Binary(bytes) => {
                return ServerMessage::decode(bytes, &Default::default())
                    .expect("valid server message");
            }
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a binary message, got {other:?}"),
        }
    }
}

fn send(ws: &mut WebSocket<RawStream>, message: Message) {
    ws.send(message).expect("send");
}

/// "no or wrong subprotocol → HTTP 400"
pub fn missing_or_wrong_subprotocol_gets_400(harness: &impl Harness) {
    let server = start(harness, |_| {});
    let mut witness = Witness::open(harness, &server);
    assert_eq!(upgrade_status(&server, None), Some(400));
    assert_eq!(upgrade_status(&server, Some("nostr, chat")), Some(400));
    assert!(matches!(server.report(), Report::Refused(_)));
    assert!(matches!(server.report(), Report::Refused(_)));
    witness.check_alive(harness);
}

/// The server's answer to a raw HTTP request ([`raw_http`]).
struct RawAnswer {
    /// The response's status, if one came.
    status: Option<u16>,
    /// The response's header lines.
    headers: Vec<String>,
    /// Whether the server closed in order: all of the request went, the
    /// response ended with a TLS close_notify (not a reset or a bare TCP
    /// close), and the TCP FIN came with it, while the client still held
    /// its side open.
    closed_in_order: Result<(), String>,
}

/// Sends `head` (a raw request head) over TLS, then `body` after a pause
/// (by then a server that refuses the head has answered it), and reads the
/// server's response until the server closes.
fn raw_http(server: &Running, head: &[u8], body: &[u8]) -> RawAnswer {
    let mut stream = raw_tls(server);
    let mut sent = stream
        .write_all(head)
        .and_then(|()| stream.flush())
        .map_err(|e| format!("sending the request head failed: {e}"));
    if sent.is_ok() && !body.is_empty() {
        std::thread::sleep(Duration::from_millis(100));
        sent = stream
            .write_all(body)
            .and_then(|()| stream.flush())
            .map_err(|e| format!("sending the request body failed: {e}"));
    }
    let mut response = Vec::new();
    let read = stream
        .read_to_end(&mut response)
        .map_err(|e| format!("reading the response failed: {e}"));
    // The server's TCP side must be closed too, at once, not only when it
    // stops reading what the client sends.
    let fin = read.and_then(|_| {
        let tcp = &mut stream.sock;
        tcp.set_read_timeout(Some(Duration::from_secs(1)))
            .expect("timeout");
        match tcp.read(&mut [0; 64]) {
            Ok(0) => Ok(()),
            Ok(n) => Err(format!("{n} bytes after the close_notify")),
            Err(e) => Err(format!("no FIN after the close_notify: {e}")),
        }
    });
    let text = String::from_utf8_lossy(&response);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    RawAnswer {
        status,
        headers: lines.map(str::to_owned).collect(),
        closed_in_order: sent.and(fin),
    }
}

/// Requests that are no WebSocket upgrade at all, or a malformed one, are
/// refused with an HTTP status and a reason (tungstenite alone would drop
/// the connection without a word): a browser opening the `https://`
/// address, a POST, another WebSocket version (426, with the version
/// spoken), no key, and bytes that are no HTTP; and an upgrade the Mosaic
/// rules refuse. Each refusal is closed in order (a TLS close_notify and
/// the TCP FIN), even when the client goes on to send a body the server
/// never reads. Other connections are served.
pub fn requests_that_are_no_websocket_upgrade_get_an_http_status(harness: &impl Harness) {
    const BODY: usize = 256 * 1024;
    let server = start(harness, |_| {});
    let mut witness = Witness::open(harness, &server);
    let host = format!("Host: {}\r\n", server.addr);
    let upgrade =
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: mosaic2024\r\n";
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let cases = [
        (
            "a plain page request",
            format!("GET / HTTP/1.1\r\n{host}\r\n"),
            400,
        ),
        (
            "a POST",
            format!("POST / HTTP/1.1\r\n{host}{upgrade}{key}Sec-WebSocket-Version: 13\r\n\r\n"),
            400,
        ),
        (
            "WebSocket version 8",
            format!("GET / HTTP/1.1\r\n{host}{upgrade}{key}Sec-WebSocket-Version: 8\r\n\r\n"),
            426,
        ),
        (
            "no key",
            format!("GET / HTTP/1.1\r\n{host}{upgrade}Sec-WebSocket-Version: 13\r\n\r\n"),
            400,
        ),
        ("no HTTP", "\u{1}\u{2} hello\r\n\r\n".to_owned(), 400),
        (
            // Refused by the Mosaic rules, not by tungstenite.
            "no subprotocol",
            format!(
                "GET / HTTP/1.1\r\n{host}Connection: Upgrade\r\nUpgrade: websocket\r\n{key}Sec-WebSocket-Version: 13\r\n\r\n"
            ),
            400,
        ),
    ];
    let cases = cases
        .into_iter()
        .map(|(what, head, status)| (what, head, "", status));
    // A body the server never reads: closing on unread bytes would reset
    // the connection under the response.
    let body = "x".repeat(BODY);
    let with_body = (
        "a POST with a body",
        format!("POST / HTTP/1.1\r\n{host}Content-Length: {BODY}\r\n\r\n"),
        body.as_str(),
        400,
    );
    for (what, head, body, expected) in cases.chain([with_body]) {
        let RawAnswer {
            status,
            headers,
            closed_in_order,
        } = raw_http(&server, head.as_bytes(), body.as_bytes());
        assert_eq!(status, Some(expected), "{what}: {headers:?}");
        assert_eq!(closed_in_order, Ok(()), "{what}");
        if expected == 426 {
            assert!(
                headers.iter().any(|h| h == "Sec-WebSocket-Version: 13"),
                "{what}: {headers:?}"
            );
        }
        assert!(
            matches!(server.report(), Report::Refused(e) if e.contains(&expected.to_string())),
            "{what}"
        );
    }
    witness.check_alive(harness);
}

/// A refused client is read for a while after its answer, so that the
/// answer is not lost to a reset, but not for longer than that: one that
/// goes on sending after its refusal is closed within a few seconds, and
/// other connections are served meanwhile.
pub fn a_refused_client_that_goes_on_sending_is_closed(harness: &impl Harness) {
    let server = start(harness, |_| {});
    let mut witness = Witness::open(harness, &server);
    let mut stream = raw_tls(&server);
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Length: 100000000\r\n\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).expect("request sent");
    stream.flush().expect("request flushed");
    let started = Instant::now();
    let chunk = [b'x'; 1024];
    let mut witnessed = false;
    let failed = loop {
        if !witnessed && started.elapsed() > Duration::from_millis(500) {
            // Served while the refused connection is read.
            witness.check_alive(harness);
            witnessed = true;
        }
        // 50 KiB/s: far under the bytes a refused client may send, so only
        // the time bound can end it.
        if let Err(error) = stream.write_all(&chunk).and_then(|()| stream.flush()) {
            break Some(error);
        }
        if started.elapsed() > STEP {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(failed.is_some(), "still open after {STEP:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "closed only after {:?}",
        started.elapsed()
    );
    assert!(matches!(server.report(), Report::Refused(e) if e.contains("400")));
    witness.check_alive(harness);
}

/// "…or nostr hand-off in dual-stack mode"
pub fn dual_stack_hands_nostr_over(harness: &impl Harness) {
    let server = start(harness, |o| {
        o.policy = mosaic_handshake::ServerPolicy::builder()
            .dual_stack(true)
            .build()
            .expect("policy");
    });
    let mut witness = Witness::open(harness, &server);
    let (mut ws, response) = tungstenite::client(upgrade_request(&server, None), raw_tls(&server))
        .expect("nostr upgrade");
    assert!(response.headers().get("sec-websocket-protocol").is_none());
    let local = ws.get_ref().sock.local_addr().expect("local address");
    assert!(matches!(
        server.report(),
        Report::Nostr(PeerIdentity::Anonymous, Some(remote)) if remote == local
    ));
    // The stream the handler took over works.
    let greeting = ws.read().expect("the server's greeting");
    assert_eq!(greeting, Message::text(NOSTR_GREETING));
    drop(ws);
    witness.check_alive(harness);
}

/// What the stall check and the keepalive read of a peer's progress within
/// one large frame is what the socket under the WebSocket moved
/// ([`Transport::server_ws_traffic`]): it counts the TLS handshake and the
/// upgrade, and grows by at least each message sent or received after.
pub fn the_socket_under_a_websocket_counts_what_it_moves<H: Harness>(harness: &H) {
    use futures_util::{SinkExt as _, StreamExt as _};
    let identity = Identity::generate().expect("rng");
    let key = identity.public_key();
    let mut options = ServerOptions::new(ServerTls::builder(identity).build().expect("tls"));
    options.policy = mosaic_handshake::ServerPolicy::builder()
        .dual_stack(true)
        .build()
        .expect("policy");
    let server = harness
        .block_on(Server::bind_on(harness.transport(), "127.0.0.1:0", options))
        .expect("bind");
    let running = Running {
        addr: server.local_addr().expect("addr"),
        key,
        store: MemoryStore::new(16, crate::store::full_validation()),
        reports: std::sync::mpsc::channel().1,
        shutdown: server.shutdown_handle(),
    };
    let client = std::thread::spawn(move || {
        let (mut ws, _) = tungstenite::client(upgrade_request(&running, None), raw_tls(&running))
            .expect("nostr upgrade");
        let got = ws.read().expect("the server's message");
        ws.send(Message::text("y".repeat(5_000))).expect("answer");
        got
    });
    let accepted = harness
        .block_on(async { server.accept().await.expect("accept").handshake().await })
        .expect("handshake");
    let Accepted::Nostr(mut nostr) = accepted else {
        panic!("expected the nostr hand-off");
    };
    let before = H::Transport::server_ws_traffic(&nostr);
    assert!(
        before.sent > 0,
        "the TLS handshake and the upgrade's answer"
    );
    assert!(
        before.received > 0,
        "the TLS handshake and the upgrade request"
    );
    let text = "x".repeat(10_000);
    harness
        .block_on(nostr.send(Message::text(text.clone())))
        .expect("sent");
    let sent = H::Transport::server_ws_traffic(&nostr);
    assert!(
        sent.sent >= before.sent + 10_000,
        "{before:?} then {sent:?}"
    );
    let answer = harness
        .block_on(nostr.next())
        .expect("an answer")
        .expect("read");
    assert_eq!(answer.len(), 5_000);
    let received = H::Transport::server_ws_traffic(&nostr);
    assert!(
        received.received >= before.received + 5_000,
        "{before:?} then {received:?}"
    );
    assert_eq!(client.join().expect("client"), Message::text(text));
}

/// "TLS with a wrong server key → the client fails with a clear error"
pub fn wrong_server_key_fails_the_client(harness: &impl Harness) {
    let server = start(harness, |_| {});
    let mut witness = Witness::open(harness, &server);
    let other = Identity::generate().expect("rng").public_key();
    let error = harness
        .connect(&server.url(), &client_options(other))
        .expect_err("a wrong pinned key must fail");
    assert!(
        matches!(
            error.peer_cert_error(),
            Some(PeerCertError::WrongKey { .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("mopub0"), "{error}");
    assert!(matches!(server.report(), Report::Refused(_)));
    witness.check_alive(harness);
}

/// Sends `message` on a raw Mosaic connection and checks the close code.
fn misbehave(harness: &impl Harness, message: Message, expected: u16) {
    let server = start(harness, |o| {
        o.limits.max_message_len = 64 * 1024 + 8;
        // After an oversize message the server waits this long for the
        // client to read its close frame (it cannot read on).
        o.limits.close_timeout = Duration::from_secs(1);
    });
    let mut witness = Witness::open(harness, &server);
    let mut ws = raw_mosaic(&server);
    assert!(matches!(server.report(), Report::Accepted(_)));
    send(&mut ws, message);
    assert_eq!(close_code(&mut ws), Some(expected));
    match server.report() {
        Report::Closed(closed) => assert_eq!(closed.code, CloseCode(expected)),
        other => panic!("expected the bad connection to close, got {other:?}"),
    }
    witness.check_alive(harness);
}

/// "a text message → close 1003"
pub fn text_message_closes_1003(harness: &impl Harness) {
    misbehave(harness, Message::text("hello"), 1003);
}

/// "a server-type message from a client → close 1002"
pub fn server_message_closes_1002(harness: &impl Harness) {
    let message = ServerMessage::LocallyComplete {
        query_id: QueryId(1),
    };
    misbehave(harness, Message::Binary(message.to_bytes()), 1002);
}

/// "a malformed message → close 1002"
pub fn malformed_message_closes_1002(harness: &impl Harness) {
    // An Unsubscribe whose LENGTH says 9 but which carries 8 bytes.
    misbehave(
        harness,
        Message::Binary(Bytes::from_static(&[4, 9, 0, 0, 1, 0, 0, 0])),
        1002,
    );
}

/// "an oversize message → close 1009"
pub fn oversize_message_closes_1009(harness: &impl Harness) {
    let mut big = vec![0x05, 0, 0, 0x02];
    big.resize(0x02_0000, 0);
    misbehave(harness, Message::Binary(Bytes::from(big)), 1009);
}

/// "an invalid filter → QueryClosed REJECTED_INVALID and the connection lives on"
pub fn invalid_filter_is_rejected_and_the_connection_lives_on(harness: &impl Harness) {
    let server = start(harness, |_| {});
    let mut witness = Witness::open(harness, &server);
    let mut ws = raw_mosaic(&server);
    assert!(matches!(server.report(), Report::Accepted(_)));
    // A Query whose filter has an element of length 0.
    let bad = [
        2u8, 24, 0, 0, 7, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
    ];
    send(&mut ws, Message::Binary(Bytes::copy_from_slice(&bad)));
    assert_eq!(
        read_server_message(&mut ws),
        ServerMessage::QueryClosed {
            query_id: QueryId(7),
            code: QueryClosedCode::RejectedInvalid
        }
    );
    let good = ClientMessage::Query {
        query_id: QueryId(8),
        limit: 0,
        filter: Filter::builder()
            .author_keys(&[[1; 32]])
            .build()
            .expect("filter"),
    };
    send(&mut ws, Message::Binary(good.to_bytes()));
    assert_eq!(
        read_server_message(&mut ws),
        ServerMessage::QueryClosed {
            query_id: QueryId(8),
            code: QueryClosedCode::OnRequest
        }
    );
    witness.check_alive(harness);
}

/// "a handshake that stalls → closed at the timeout"
pub fn stalled_handshake_is_closed_at_the_timeout(harness: &impl Harness) {
    let limit = Duration::from_millis(500);
    let server = start(harness, |o| o.limits.handshake_timeout = limit);
    let mut witness = Witness::open(harness, &server);
    let started = Instant::now();
    let mut tcp = TcpStream::connect(server.addr).expect("tcp");
    tcp.set_read_timeout(Some(STEP)).expect("timeout");
    // Half a TLS record header, then silence.
    tcp.write_all(&[0x16, 0x03]).expect("write");
    let mut buf = [0u8; 64];
    let read = tcp.read(&mut buf);
    let waited = started.elapsed();
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "expected the server to close, read {read:?}"
    );
    assert!(
        waited >= limit,
        "closed after {waited:?}, before the {limit:?} timeout"
    );
    assert!(
        waited < limit + Duration::from_secs(3),
        "closed only after {waited:?}"
    );
    assert!(matches!(server.report(), Report::Refused(e) if e.contains("did not finish")));
    witness.check_alive(harness);
}

/// "a peer that disappears mid-stream → the other side's tasks end with an
/// error, not a hang": a client vanishing in the middle of a frame.
pub fn client_vanishing_mid_message_ends_its_connection(harness: &impl Harness) {
    let server = start(harness, |_| {});
    let mut witness = Witness::open(harness, &server);
    let ws = raw_mosaic(&server);
    assert!(matches!(server.report(), Report::Accepted(_)));
    let mut stream = ws.into_inner();
    // A binary frame header announcing 100 bytes, masked, then 10 of them.
    let mut frame = vec![0x82, 0x80 | 100, 1, 2, 3, 4];
    frame.extend([0u8; 10]);
    stream.write_all(&frame).expect("write");
    stream.flush().expect("flush");
    stream
        .sock
        .shutdown(std::net::Shutdown::Both)
        .expect("shutdown");
    drop(stream);
    match server.report() {
        Report::Closed(closed) => assert!(
            matches!(
                closed.cause,
                mosaic_proto::session::CloseCause::Transport(_)
            ),
            "{closed}"
        ),
        other => panic!("expected the connection to end, got {other:?}"),
    }
    witness.check_alive(harness);
}

/// A server-side TLS stream over a plain socket.
type RawServerStream =
    mosaic_tls::rustls::StreamOwned<mosaic_tls::rustls::ServerConnection, TcpStream>;

/// A raw Mosaic server on a thread of its own: it accepts one connection,
/// upgrades it by the Mosaic rules and hands the WebSocket to `serve`. Its
/// URL, its key and its thread.
fn raw_server(
    serve: impl FnOnce(WebSocket<RawServerStream>) + Send + 'static,
) -> (String, VerifyingKey, std::thread::JoinHandle<()>) {
    let identity = Identity::generate().expect("rng");
    let key = identity.public_key();
    let tls = ServerTls::builder(identity).build().expect("tls");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let thread = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        tcp.set_read_timeout(Some(STEP)).expect("timeout");
        let connection = mosaic_tls::rustls::ServerConnection::new(tls.config()).expect("tls");
        let stream = mosaic_tls::rustls::StreamOwned::new(connection, tcp);
        let policy = mosaic_handshake::ServerPolicy::default();
        let mut outcome = None;
        let callback = mosaic_ws::upgrade_callback(&policy, &mut outcome);
        serve(tungstenite::accept_hdr(stream, callback).expect("upgrade"));
    });
    (format!("wss://{addr}/"), key, thread)
}

/// …and a server vanishing: the client's open requests end with an error.
pub fn server_vanishing_ends_the_clients_requests(harness: &impl Harness) {
    // A raw server that upgrades, then drops the connection mid-answer.
    let (url, key, server) = raw_server(|mut ws| {
        // Wait for the client's Query, then send half of a Record frame and vanish.
        let _ = ws.read();
        let mut stream = ws.into_inner();
        stream
            .write_all(&[0x82, 126, 0x01, 0x00, 0x80])
            .expect("write");
        stream.flush().expect("flush");
        stream
            .sock
            .shutdown(std::net::Shutdown::Both)
            .expect("shutdown");
    });
    let client = harness
        .connect(&url, &client_options(key))
        .expect("connects");
    let result = harness.block_on(async {
        let records = client
            .query(Filter::builder().build().expect("filter"), 0)
            .await?;
        records.collect_all().await
    });
    assert!(
        matches!(result, Err(mosaic_ws::RequestError::ConnectionClosed(_))),
        "{result:?}"
    );
    let closed = harness.block_on(client.closed());
    assert!(
        matches!(
            closed.cause,
            mosaic_proto::session::CloseCause::Transport(_)
        ),
        "{closed}"
    );
    server.join().expect("server thread");
}

/// "connections beyond the server's limit (refused cleanly)": closed right
/// after the TCP accept, while the connections within the limit go on.
pub fn connections_over_the_limit_are_refused(harness: &impl Harness) {
    let server = start(harness, |o| o.max_connections = 2);
    let mut witness = Witness::open(harness, &server);
    let second = harness
        .connect(&server.url(), &client_options(server.key))
        .expect("within the limit");
    assert!(matches!(server.report(), Report::Accepted(_)));
    let third = harness.connect(&server.url(), &client_options(server.key));
    assert!(matches!(third, Err(ConnectError::Tls(_))), "{third:?}");
    witness.check_alive(harness);
    // A slot frees when a connection ends.
    second.close(CloseCode::NORMAL, "bye");
    harness.block_on(second.closed());
    assert!(matches!(server.report(), Report::Closed(_)));
    let fourth = harness.connect(&server.url(), &client_options(server.key));
    assert!(fourth.is_ok(), "{fourth:?}");
    witness.check_alive(harness);
}

/// Every message type between a server on one runtime and a client on another
/// (or the same): Get, Query, Subscribe, Unsubscribe, Submission and a sync
/// extension message one way; Record, Locally Complete, Query Closed,
/// Submission Result and a sync extension message the other.
pub fn every_message_type_crosses(server_side: &impl Harness, client_side: &impl Harness) {
    let server = start(server_side, |o| {
        o.policy = mosaic_handshake::ServerPolicy::builder()
            .supported_extension("sync")
            .build()
            .expect("policy");
    });
    let mut options = client_options(server.key);
    options.extensions = "sync".parse().expect("extension list");
    let client = client_side
        .connect(&server.url(), &options)
        .expect("connects");
    assert!(client.info().extensions().contains("sync"));
    assert!(matches!(server.report(), Report::Accepted(_)));

    let author = Identity::generate().expect("rng");
    let mut transcript = Vec::new();
    client_side
        .block_on(crate::script::run(&client, &author, &mut transcript))
        .expect("the example exchange");
    let transcript = String::from_utf8_lossy(&transcript).into_owned();
    for step in [
        "→ Subscribe",
        "← Locally Complete",
        "→ Submission",
        "← Submission Result OK",
        "(live)",
        "→ Get",
        "then Query Closed ON_REQUEST",
        "→ Query",
        "2 records newest first",
        "→ Unsubscribe",
        "← Query Closed",
    ] {
        assert!(
            transcript.contains(step),
            "missing {step:?} in:\n{transcript}"
        );
    }

    let (sender, mut receiver) = client.split();
    let init = mosaic_proto::ClientExtension::new(0x10, Bytes::from_static(b"sync init"))
        .expect("sync type");
    client_side
        .block_on(sender.send_extension(&init))
        .expect("sent");
    let answer = client_side.block_on(receiver.recv());
    assert!(
        matches!(&answer, Some(mosaic_proto::session::ClientEvent::Extension(e)) if e.message_type().0 == 0x93),
        "{answer:?}"
    );
}

/// "stopping the server sends Query Closed SHUTTING_DOWN for every open query,
/// then closes with 1001, within a bounded time; clients report it as such"
pub fn graceful_shutdown_closes_queries_then_connections(harness: &impl Harness) {
    let server = start(harness, |o| o.limits.close_timeout = Duration::from_secs(1));
    let client = harness
        .connect(&server.url(), &client_options(server.key))
        .expect("connects");
    assert!(matches!(server.report(), Report::Accepted(_)));
    let all = Filter::builder().build().expect("empty filter");
    let mut subscription = harness
        .block_on(client.subscribe(all, 0))
        .expect("subscribes");
    let first = harness.block_on(subscription.next());
    assert!(
        matches!(first, Some(Ok(SubscriptionEvent::LocallyComplete))),
        "{first:?}"
    );
    assert_eq!(server.shutdown.live(), 1);

    let started = Instant::now();
    server.shutdown.shutdown();
    let ended = harness.block_on(subscription.next());
    assert!(
        matches!(
            ended,
            Some(Err(RequestError::Rejected(QueryClosedCode::ShuttingDown)))
        ),
        "{ended:?}"
    );
    let closed = harness.block_on(client.closed());
    assert_eq!(closed.code, CloseCode::GOING_AWAY, "{closed}");
    assert!(
        matches!(closed.cause, mosaic_proto::session::CloseCause::Peer),
        "{closed}"
    );
    harness.block_on(server.shutdown.closed());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(server.shutdown.live(), 0);
    match server.report() {
        Report::Closed(closed) => assert_eq!(closed.code, CloseCode::GOING_AWAY),
        other => panic!("expected the connection to close, got {other:?}"),
    }
    // No longer accepting.
    let late = harness.connect(&server.url(), &client_options(server.key));
    assert!(late.is_err(), "a connection after the shutdown: {late:?}");
}

/// Client options pinning `key` and authenticating as `identity`.
pub fn client_options_as(key: VerifyingKey, identity: &Identity) -> ClientOptions {
    let tls = ClientTls::builder(key)
        .identity(identity.clone(), mosaic_tls::CertType::X509)
        .build()
        .expect("tls");
    ClientOptions::new(tls)
}

/// "a client authenticated with a certificate is seen by the server as that
/// key and no other; an anonymous client is seen as anonymous"
pub fn the_server_sees_who_authenticated(harness: &impl Harness) {
    let server = start(harness, |_| {});
    let alice = Identity::generate().expect("rng");
    let client = harness
        .connect(&server.url(), &client_options_as(server.key, &alice))
        .expect("connects");
    match server.report() {
        Report::Accepted(PeerIdentity::Authenticated(key)) => assert_eq!(key, alice.public_key()),
        other => panic!("expected alice, got {other:?}"),
    }
    assert_eq!(client.info().peer_identity().key(), Some(&server.key));
    let anonymous = harness
        .connect(&server.url(), &client_options(server.key))
        .expect("connects");
    assert!(matches!(
        server.report(),
        Report::Accepted(PeerIdentity::Anonymous)
    ));
    drop((client, anonymous));
}

/// "the server application can refuse a submission that requires
/// authentication (REJECTED_REQUIRES_AUTHN) and one from the wrong key
/// (REJECTED_REQUIRES_AUTHZ)" for records flagged FROM_AUTHOR.
pub fn from_author_records_need_their_author(harness: &impl Harness) {
    use mosaic_proto::{RecordFlags, SubmissionResultCode};
    let server = start(harness, |_| {});
    let alice = Identity::generate().expect("rng");
    let mallory = Identity::generate().expect("rng");
    let record = crate::script::note_with(
        &alice,
        "only from alice",
        record_now(),
        crate::script::demo_kind(),
        RecordFlags::FROM_AUTHOR,
        &[],
    );
    let anonymous = harness
        .connect(&server.url(), &client_options(server.key))
        .expect("connects");
    let code = harness
        .block_on(anonymous.submit(record.clone()))
        .expect("answered");
    assert_eq!(code, SubmissionResultCode::RejectedRequiresAuthn);
    let as_mallory = harness
        .connect(&server.url(), &client_options_as(server.key, &mallory))
        .expect("connects");
    let code = harness
        .block_on(as_mallory.submit(record.clone()))
        .expect("answered");
    assert_eq!(code, SubmissionResultCode::RejectedRequiresAuthz);
    let as_alice = harness
        .connect(&server.url(), &client_options_as(server.key, &alice))
        .expect("connects");
    let code = harness.block_on(as_alice.submit(record)).expect("answered");
    assert_eq!(code, SubmissionResultCode::Ok);
    assert_eq!(server.store.len(), 1);
}

/// "Author Only records are served only to their authenticated author,
/// Author and Tagged only to the author and the keys tagged in the record, and
/// Ephemeral records go to open subscriptions only, never stored
/// (NO_CONSUMERS when nobody listens)."
pub fn kind_bits_decide_who_reads(harness: &impl Harness) {
    use mosaic_proto::{
        DuplicateHandling, Kind, ReadAccess, RecordFlags, SubmissionResultCode, Tag,
    };
    let server = start(harness, |_| {});
    let alice = Identity::generate().expect("rng");
    let bob = Identity::generate().expect("rng");
    let carol = Identity::generate().expect("rng");
    let kind = |dup, access| Kind::new(99, 2, dup, access, true).expect("kind");
    let bob_key = bob.public_key().to_bytes();
    let notify_bob = [Tag::new(crate::store::NOTIFY_PUBLIC_KEY_TAG, &bob_key).expect("tag")];
    let private = crate::script::note_with(
        &alice,
        "author only",
        record_now(),
        kind(DuplicateHandling::Unique, ReadAccess::AuthorOnly),
        RecordFlags::empty(),
        &[],
    );
    let for_bob = crate::script::note_with(
        &alice,
        "author and bob",
        Timestamp::from_nanos(record_now().as_nanos() + 0x1_0000),
        kind(DuplicateHandling::Unique, ReadAccess::AuthorAndTagged),
        RecordFlags::empty(),
        &notify_bob,
    );
    let connect_as = |who: Option<&Identity>| {
        let options = match who {
            Some(identity) => client_options_as(server.key, identity),
            None => client_options(server.key),
        };
        harness.connect(&server.url(), &options).expect("connects")
    };
    let as_alice = connect_as(Some(&alice));
    for record in [&private, &for_bob] {
        let code = harness
            .block_on(as_alice.submit(record.clone()))
            .expect("answered");
        assert_eq!(code, SubmissionResultCode::Ok);
    }
    let by_alice = Filter::builder()
        .author_keys(&[alice.public_key().to_bytes()])
        .build()
        .expect("filter");
    let read = |client: &ClientConnection| -> Vec<String> {
        let records = harness
            .block_on(async { client.query(by_alice.clone(), 0).await?.collect_all().await })
            .expect("query");
        records
            .iter()
            .map(|r| String::from_utf8_lossy(r.payload()).into_owned())
            .collect()
    };
    assert_eq!(read(&as_alice), ["author and bob", "author only"]);
    assert_eq!(read(&connect_as(Some(&bob))), ["author and bob"]);
    assert!(read(&connect_as(Some(&carol))).is_empty());
    assert!(read(&connect_as(None)).is_empty());

    // Ephemeral: delivered to a live subscriber, never stored.
    let ephemeral = |text: &str, offset: u64| {
        crate::script::note_with(
            &alice,
            text,
            Timestamp::from_nanos(record_now().as_nanos() + offset),
            kind(DuplicateHandling::Ephemeral, ReadAccess::Everybody),
            RecordFlags::empty(),
            &[],
        )
    };
    let code = harness
        .block_on(as_alice.submit(ephemeral("nobody hears", 0x2_0000)))
        .expect("answered");
    assert_eq!(code, SubmissionResultCode::NoConsumers);
    let listener = connect_as(None);
    let mut subscription = harness
        .block_on(listener.subscribe(by_alice.clone(), 0))
        .expect("subscribes");
    let first = harness.block_on(subscription.next());
    assert!(
        matches!(first, Some(Ok(SubscriptionEvent::LocallyComplete))),
        "{first:?}"
    );
    let heard = ephemeral("somebody hears", 0x3_0000);
    let code = harness
        .block_on(as_alice.submit(heard.clone()))
        .expect("answered");
    assert_eq!(code, SubmissionResultCode::Ok);
    let live = harness.block_on(subscription.next());
    assert!(
        matches!(&live, Some(Ok(SubscriptionEvent::Record(r))) if *r == heard),
        "{live:?}"
    );
    assert_eq!(
        read(&as_alice),
        ["author and bob", "author only"],
        "ephemeral records are not stored"
    );
}

/// "slow handshakes from many connections at once (closed at the timeout while
/// other clients are served normally)"
pub fn many_slow_handshakes_time_out_while_others_are_served(harness: &impl Harness) {
    const SLOW: usize = 64;
    let limit = Duration::from_millis(800);
    let server = start(harness, |o| o.limits.handshake_timeout = limit);
    let mut witness = Witness::open(harness, &server);
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..SLOW)
        .map(|i| {
            let mut tcp = TcpStream::connect(server.addr).expect("tcp");
            tcp.set_read_timeout(Some(STEP)).expect("timeout");
            // Some send nothing, some half a TLS record.
            if i % 2 == 0 {
                tcp.write_all(&[0x16, 0x03, 0x01]).expect("write");
            }
            tcp
        })
        .collect();
    // Meanwhile a new client connects and is served at once.
    let client = harness
        .connect(&server.url(), &client_options(server.key))
        .expect("served during the stall");
    assert!(
        started.elapsed() < limit,
        "a normal client waited {:?}",
        started.elapsed()
    );
    witness.check_alive(harness);
    for tcp in &mut stalled {
        let mut buf = [0u8; 16];
        let read = tcp.read(&mut buf);
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "a stalled connection was not closed: {read:?}"
        );
    }
    let waited = started.elapsed();
    assert!(
        waited >= limit && waited < limit + Duration::from_secs(5),
        "{waited:?}"
    );
    let timeouts =
        std::iter::from_fn(|| server.reports.recv_timeout(Duration::from_millis(200)).ok())
            .filter(|r| matches!(r, Report::Refused(e) if e.contains("did not finish")))
            .count();
    assert_eq!(timeouts, SLOW);
    witness.check_alive(harness);
    drop(client);
}

/// "a subscriber that never reads while records keep flowing (closed when its
/// bounded queue fills; the server's memory stays bounded)": the records
/// submitted before the close are bounded by the socket buffers plus the
/// queue, and the witness subscriber gets every record.
pub fn a_subscriber_that_never_reads_is_closed(harness: &impl Harness) {
    let queue = 64 * 1024;
    let server = start(harness, |o| {
        o.session.max_outbound_bytes = queue;
        // Once closed, what is queued for it goes out while it makes progress;
        // it makes none, so it is given up on after this long, and its socket
        // dropped after the close timeout.
        o.session.stall_timeout = Duration::from_millis(500);
        o.limits.close_timeout = Duration::from_millis(500);
    });
    let mut witness = Witness::open(harness, &server);
    let mut reader = raw_mosaic(&server);
    assert!(matches!(server.report(), Report::Accepted(_)));
    let subscribe = ClientMessage::Subscribe {
        query_id: QueryId(1),
        limit: 0,
        filter: Filter::builder().build().expect("filter"),
    };
    send(&mut reader, Message::Binary(subscribe.to_bytes()));
    assert_eq!(
        read_server_message(&mut reader),
        ServerMessage::LocallyComplete {
            query_id: QueryId(1)
        }
    );
    // The raw subscriber now stops reading; 32 KiB records keep flowing, and
    // the witness reads each one as it comes.
    let author = Identity::generate().expect("rng");
    let payload = "x".repeat(32 * 1024);
    let base = record_now().as_nanos();
    let mut sent = 0u64;
    let started = Instant::now();
    let closed = loop {
        // Socket buffers on loopback hold a few MiB; past them and the 64 KiB
        // queue, the server must give up on the subscriber.
        assert!(
            started.elapsed() < STEP,
            "the non-reading subscriber was never closed ({sent} records sent)"
        );
        let ts = Timestamp::from_nanos(base + (sent << 16));
        let record = crate::script::note(&author, &payload, ts);
        let code = harness
            .block_on(witness.client.submit(record.clone()))
            .expect("submit");
        assert_eq!(code, mosaic_proto::SubmissionResultCode::Ok);
        let live = harness.block_on(witness.subscription.next());
        assert!(
            matches!(&live, Some(Ok(SubscriptionEvent::Record(r))) if *r == record),
            "the witness missed record {sent}: {live:?}"
        );
        sent += 1;
        if let Ok(Report::Closed(closed)) = server.reports.try_recv() {
            break closed;
        }
    };
    assert_eq!(closed.code, CloseCode::POLICY_VIOLATION, "{closed}");
    witness.check_alive(harness);
}

/// A client sending a Submission of about 1 MiB slowly (one frame, 8 KiB
/// every 20 ms, so for seconds) and reading nothing meanwhile is served:
/// the server's WebSocket layer shows the message only once whole, and
/// the server's keepalive ping (after 400 ms of silence, given up on 400 ms
/// after) goes unanswered, but the server hears the client in the bytes
/// its socket reads. The record is accepted.
pub fn a_slow_sender_of_a_large_record_is_served(harness: &impl Harness) {
    let server = start(harness, |o| {
        o.session.keepalive = Some(mosaic_proto::session::KeepaliveConfig {
            interval: Duration::from_millis(400),
            timeout: Duration::from_millis(400),
        });
    });
    let author = Identity::generate().expect("rng");
    let text = "x".repeat(mosaic_proto::MAX_RECORD_LEN - 4096);
    let record = note(&author, &text, record_now());
    let submission = ClientMessage::Submission {
        record: record.clone(),
    }
    .to_bytes();
    // One masked binary frame, written by hand so that it can go slowly
    // (a zero mask leaves the payload as it is); made before connecting,
    // as the keepalive runs from the upgrade.
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend_from_slice(&(submission.len() as u64).to_be_bytes());
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(&submission);
    let mut ws = raw_mosaic(&server);
    assert!(matches!(server.report(), Report::Accepted(_)));
    let started = Instant::now();
    let stream = ws.get_mut();
    for piece in frame.chunks(8 * 1024) {
        stream.write_all(piece).expect("a piece of the frame");
        stream.flush().expect("flushed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(started.elapsed() > Duration::from_secs(2), "sent slowly");
    assert_eq!(
        read_server_message(&mut ws),
        ServerMessage::SubmissionResult {
            id_prefix: record.id_prefix(),
            code: mosaic_proto::SubmissionResultCode::Ok
        },
        "accepted, not closed"
    );
    assert_eq!(server.store.len(), 1);
}

/// A client receiving a record of about 1 MiB slowly (one frame, 8 KiB
/// every 20 ms, from a raw server that reads nothing meanwhile) keeps its
/// connection: its WebSocket layer shows the message only once whole, and
/// its keepalive ping (after 400 ms of silence, given up on 400 ms after)
/// goes unanswered, but the client hears the server in the bytes its socket
/// reads. The record and the query's end arrive.
pub fn a_client_receiving_a_large_record_slowly_keeps_its_connection(harness: &impl Harness) {
    let author = Identity::generate().expect("rng");
    let text = "x".repeat(mosaic_proto::MAX_RECORD_LEN - 4096);
    let record = note(&author, &text, record_now());
    let served = record.clone();
    let (url, key, raw_server) = raw_server(move |mut ws| {
        let query_id = loop {
            match ws.read().expect("the client's query") {
                Message::Binary(bytes) => match ClientMessage::decode(bytes, &Default::default()) {
                    Ok(ClientMessage::Query { query_id, .. }) => break query_id,
                    other => panic!("expected a query, got {other:?}"),
                },
                _ => continue,
            }
        };
        let message = ServerMessage::Record {
            query_id,
            record: served,
        }
        .to_bytes();
        // One binary frame, written by hand so that it can go slowly.
        let mut frame = vec![0x82, 127];
        frame.extend_from_slice(&(message.len() as u64).to_be_bytes());
        frame.extend_from_slice(&message);
        let stream = ws.get_mut();
        for piece in frame.chunks(8 * 1024) {
            stream.write_all(piece).expect("a piece of the frame");
            stream.flush().expect("flushed");
            std::thread::sleep(Duration::from_millis(20));
        }
        let done = ServerMessage::QueryClosed {
            query_id,
            code: QueryClosedCode::OnRequest,
        };
        ws.send(Message::Binary(done.to_bytes()))
            .expect("query closed");
        // Until the client goes.
        while ws.read().is_ok() {}
    });
    let mut options = client_options(key);
    options.session.keepalive = Some(mosaic_proto::session::KeepaliveConfig {
        interval: Duration::from_millis(400),
        timeout: Duration::from_millis(400),
    });
    let client = harness.connect(&url, &options).expect("connects");
    let started = Instant::now();
    let mut records = harness
        .block_on(client.query(Filter::builder().build().expect("filter"), 1))
        .expect("query sent");
    let first = harness.block_on(records.next());
    assert!(
        matches!(&first, Some(Ok(got)) if *got == record),
        "the record, not {:?}",
        first.map(|r| r.map(|r| r.len()))
    );
    assert!(started.elapsed() > Duration::from_secs(2), "sent slowly");
    let end = harness.block_on(records.next());
    assert!(end.is_none(), "the query's end: {end:?}");
    drop((records, client));
    raw_server.join().expect("raw server");
}

/// "a flood of queries beyond the per-connection limit (REJECTED_TOO_FAST or
/// REJECTED_INVALID as documented, connection stays usable)"
pub fn a_query_flood_is_rejected_too_fast_and_the_connection_stays_usable(harness: &impl Harness) {
    let server = start(harness, |o| o.session.max_open_queries = 8);
    let mut witness = Witness::open(harness, &server);
    let mut ws = raw_mosaic(&server);
    assert!(matches!(server.report(), Report::Accepted(_)));
    let filter = Filter::builder()
        .author_keys(&[[9; 32]])
        .build()
        .expect("filter");
    for id in 0..20u16 {
        let subscribe = ClientMessage::Subscribe {
            query_id: QueryId(id),
            limit: 0,
            filter: filter.clone(),
        };
        send(&mut ws, Message::Binary(subscribe.to_bytes()));
    }
    let mut complete = 0;
    let mut too_fast = 0;
    for _ in 0..20 {
        match read_server_message(&mut ws) {
            ServerMessage::LocallyComplete { .. } => complete += 1,
            ServerMessage::QueryClosed {
                code: QueryClosedCode::RejectedTooFast,
                ..
            } => too_fast += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((complete, too_fast), (8, 12));
    // Still usable: close one, open a Query.
    send(
        &mut ws,
        Message::Binary(
            ClientMessage::Unsubscribe {
                query_id: QueryId(0),
            }
            .to_bytes(),
        ),
    );
    assert_eq!(
        read_server_message(&mut ws),
        ServerMessage::QueryClosed {
            query_id: QueryId(0),
            code: QueryClosedCode::OnRequest
        }
    );
    let query = ClientMessage::Query {
        query_id: QueryId(100),
        limit: 0,
        filter,
    };
    send(&mut ws, Message::Binary(query.to_bytes()));
    assert_eq!(
        read_server_message(&mut ws),
        ServerMessage::QueryClosed {
            query_id: QueryId(100),
            code: QueryClosedCode::OnRequest
        }
    );
    witness.check_alive(harness);
}

/// "random disconnects in the middle of messages": clients that vanish at
/// every point of a message, from the TLS record to the WebSocket frame to the
/// Mosaic body; the server goes on serving.
pub fn random_disconnects_mid_message_leave_the_server_serving(harness: &impl Harness) {
    let server = start(harness, |_| {});
    let mut witness = Witness::open(harness, &server);
    let record = crate::script::note(
        &Identity::generate().expect("rng"),
        "cut short",
        record_now(),
    );
    let message = ClientMessage::Submission { record }.to_bytes();
    // A masked binary frame carrying the message, cut at a different place each time.
    let mut frame = vec![
        0x82,
        0x80 | 126,
        (message.len() >> 8) as u8,
        message.len() as u8,
        7,
        7,
        7,
        7,
    ];
    frame.extend(message.iter().map(|b| b ^ 7));
    let cuts = [0usize, 1, 2, 5, 8, 9, 40, 100, frame.len() - 1];
    for cut in cuts {
        let ws = raw_mosaic(&server);
        assert!(matches!(server.report(), Report::Accepted(_)));
        let mut stream = ws.into_inner();
        stream.write_all(&frame[..cut]).expect("write");
        stream.flush().expect("flush");
        stream
            .sock
            .shutdown(std::net::Shutdown::Both)
            .expect("shutdown");
        match server.report() {
            Report::Closed(closed) => assert!(
                matches!(
                    closed.cause,
                    mosaic_proto::session::CloseCause::Transport(_)
                ),
                "cut at {cut}: {closed}"
            ),
            other => panic!("cut at {cut}: expected the connection to end, got {other:?}"),
        }
    }
    // Also mid-TLS-record: raw TCP cut inside the handshake.
    for cut in [1usize, 5, 50] {
        let mut tcp = TcpStream::connect(server.addr).expect("tcp");
        tcp.write_all(&vec![0x16; cut]).expect("write");
        drop(tcp);
        assert!(matches!(server.report(), Report::Refused(_)));
    }
    witness.check_alive(harness);
}

/// A server whose process has run out of file descriptors cannot accept the
/// connection waiting in its backlog: it must wait for descriptors, not retry
/// in a busy loop (which also starved the connections' tasks on a runtime
/// that shares a thread between them and the accept loop); it must go on
/// serving its connections meanwhile, and accept the waiting one once
/// descriptors free.
///
/// Linux only (it reads `/proc/self`). It lowers the process's open-files
/// limit for a while, so it must run alone in its test binary.
#[cfg(target_os = "linux")]
pub fn accepting_waits_while_descriptors_run_out(harness: &impl Harness) {
    use rlimit::Resource;

    /// Puts the open-files limit back, even when the scenario fails.
    struct Restore(u64, u64);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = Resource::NOFILE.set(self.0, self.1);
        }
    }

    let server = start(harness, |_| {});
    let mut witness = Witness::open(harness, &server);
    let mut clock = CpuClock::open();
    let (soft, hard) = Resource::NOFILE.get().expect("open-files limit");
    let restore = Restore(soft, hard);
    // Take every descriptor number the lowered limit allows, then free one
    // for a client, whose connection then waits in the server's backlog.
    let highest = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .expect("open descriptors");
    Resource::NOFILE
        .set(highest + 2, hard)
        .expect("lower the open-files limit");
    let mut taken = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(file) => taken.push(file),
            Err(e) if e.raw_os_error() == Some(24) => break,
            Err(e) => panic!("opening /dev/null: {e}"),
        }
    }
    taken.pop().expect("a descriptor was free");
    let mut waiting = TcpStream::connect(server.addr).expect("the backlog takes it");

    // The server keeps failing to accept it: it must not spin meanwhile.
    let before = clock.used();
    std::thread::sleep(Duration::from_millis(500));
    let spent = clock.used() - before;
    assert!(
        spent < Duration::from_millis(150),
        "the process spent {spent:?} of CPU in 500 ms while the server could not accept"
    );
    witness.check_alive(harness);

    // Descriptors free: the waiting connection is accepted (and refused for
    // what it sends, which is not TLS).
    drop(taken);
    drop(restore);
    waiting
        .write_all(b"not a TLS client hello\r\n\r\n")
        .expect("write");
    assert!(
        matches!(server.report(), Report::Refused(_)),
        "the waiting connection was accepted"
    );
    witness.check_alive(harness);
}

/// This process's `/proc/self/stat`, opened once: read again, it tells the
/// CPU time used since, with no descriptor to open (there may be none).
#[cfg(target_os = "linux")]
struct CpuClock(std::fs::File);

#[cfg(target_os = "linux")]
impl CpuClock {
    fn open() -> CpuClock {
        CpuClock(std::fs::File::open("/proc/self/stat").expect("/proc/self/stat"))
    }

    /// CPU time used by all threads, in the kernel's USER_HZ ticks of 10 ms.
    fn used(&mut self) -> Duration {
        use std::io::Seek as _;
        self.0.rewind().expect("rewind");
        let mut stat = String::new();
        self.0.read_to_string(&mut stat).expect("read");
        // The fields after the command name, which is in parentheses: utime and
        // stime are the 12th and 13th of them.
        let after_name = &stat[stat.rfind(')').expect("command name") + 2..];
        let ticks: u64 = after_name
            .split(' ')
            .skip(11)
            .take(2)
            .map(|field| field.parse::<u64>().expect("ticks"))
            .sum();
        Duration::from_millis(ticks * 10)
    }
}

/// How long one phase of the load scenario may take (connect all, subscribe
/// all, submit all, receive all): bounded, but generous for a debug build on
/// two shared cores.
pub const LOAD_STEP: Duration = Duration::from_secs(120);

/// "Load without loss": `clients` clients in groups of ten, each subscribed to
/// its group's authors and submitting `per_client` records; every record is
/// accepted exactly once, every subscription gets every matching record
/// exactly once and in order, and a query afterwards finds them all.
pub fn load_without_loss(harness: &impl Harness, clients: usize, per_client: usize) {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    const GROUP: usize = 10;
    let server = start(harness, |o| {
        o.session.max_pending_events = 256;
    });
    let identities: Vec<Identity> = (0..clients)
        .map(|_| Identity::generate().expect("rng"))
        .collect();
    let connections: Vec<ClientConnection> = identities
        .chunks(50)
        .flat_map(|batch| {
            let url = server.url();
            let key = server.key;
            harness.block_on_for(LOAD_STEP, futures_util::future::join_all(batch.iter().map(|_| {
                let transport = harness.transport();
                let url = url.clone();
                async move { mosaic_ws::connect_on(transport, &url, &client_options(key)).await }
            })))
        })
        .map(|c| c.expect("every client connects"))
        .collect();
    for _ in 0..clients {
        assert!(matches!(server.report(), Report::Accepted(_)));
    }
    let group_filter = |i: usize| {
        let start = i / GROUP * GROUP;
        let keys: Vec<[u8; 32]> = identities[start..(start + GROUP).min(clients)]
            .iter()
            .map(|id| id.public_key().to_bytes())
            .collect();
        Filter::builder()
            .author_keys(&keys)
            .build()
            .expect("filter")
    };
    let mut subscriptions: Vec<Subscription> = harness.block_on_for(
        LOAD_STEP,
        futures_util::future::join_all(connections.iter().enumerate().map(|(i, c)| {
            let filter = group_filter(i);
            async move {
                let mut s = c.subscribe(filter, 0).await.expect("subscribes");
                let first = s.next().await;
                assert!(
                    matches!(first, Some(Ok(SubscriptionEvent::LocallyComplete))),
                    "{first:?}"
                );
                s
            }
        })),
    );
    let base = record_now().as_nanos();
    let codes = harness.block_on_for(
        LOAD_STEP,
        futures_util::future::join_all(connections.iter().enumerate().map(|(i, c)| {
            let author = &identities[i];
            async move {
                let mut codes = Vec::new();
                for n in 0..per_client {
                    let ts = Timestamp::from_nanos(base + ((n as u64) << 16));
                    let record = crate::script::note(author, &format!("{i}/{n}"), ts);
                    codes.push(c.submit(record).await.expect("submitted"));
                }
                codes
            }
        })),
    );
    let accepted = codes
        .iter()
        .flatten()
        .filter(|c| **c == mosaic_proto::SubmissionResultCode::Ok)
        .count();
    assert_eq!(
        accepted,
        clients * per_client,
        "every record accepted exactly once"
    );
    assert_eq!(server.store.len(), clients * per_client);
    let received = harness.block_on_for(
        LOAD_STEP,
        futures_util::future::join_all(subscriptions.iter_mut().enumerate().map(|(i, s)| {
            let members = (i / GROUP * GROUP..(i / GROUP * GROUP + GROUP).min(clients)).count();
            async move {
                let mut got = Vec::new();
                while got.len() < members * per_client {
                    match s.next().await {
                        Some(Ok(SubscriptionEvent::Record(r))) => got.push(r),
                        other => panic!("subscription {i}: {other:?}"),
                    }
                }
                got
            }
        })),
    );
    for (i, got) in received.iter().enumerate() {
        let mut ids: Vec<_> = got.iter().map(|r| r.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), got.len(), "subscription {i} got a record twice");
        // In order: each author's records arrive in the order submitted.
        let mut last: std::collections::HashMap<[u8; 32], Timestamp> = Default::default();
        for r in got {
            let previous = last.insert(*r.author_key(), r.timestamp());
            assert!(
                previous.is_none_or(|p| p < r.timestamp()),
                "subscription {i} out of order"
            );
        }
    }
    let queried = harness
        .block_on(async {
            connections[0]
                .query(group_filter(0), 0)
                .await?
                .collect_all()
                .await
        })
        .expect("query");
    assert_eq!(queried.len(), GROUP.min(clients) * per_client);
    assert!(
        queried
            .windows(2)
            .all(|w| w[0].timestamp() >= w[1].timestamp()),
        "newest first"
    );
}

/// Keepalive pings with a dead-peer timeout: a client that stops answering
/// (it neither reads nor writes) is pinged, then closed.
pub fn a_silent_peer_is_closed_by_the_keepalive(harness: &impl Harness) {
    let server = start(harness, |o| {
        o.session.keepalive = Some(mosaic_proto::session::KeepaliveConfig {
            interval: Duration::from_millis(300),
            // Generous: the witness must answer in time on a loaded machine.
            timeout: Duration::from_secs(1),
        });
        o.limits.close_timeout = Duration::from_millis(300);
    });
    let mut witness = Witness::open(harness, &server);
    let silent = raw_mosaic(&server);
    assert!(matches!(server.report(), Report::Accepted(_)));
    let started = Instant::now();
    match server.report() {
        Report::Closed(closed) => assert_eq!(
            closed.cause,
            mosaic_proto::session::CloseCause::PeerUnresponsive,
            "{closed}"
        ),
        other => panic!("expected the silent peer to be closed, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
    // The witness answers pings (its driver reads), so it lives on.
    witness.check_alive(harness);
}

/// "If a server fails to receive a message from a client that does not have
/// an open query or submission within a reasonable timeframe, it MAY close
/// the connection."
pub fn an_idle_client_is_closed(harness: &impl Harness) {
    let server = start(harness, |o| {
        o.session.idle_timeout = Some(Duration::from_millis(400));
        o.limits.close_timeout = Duration::from_millis(500);
    });
    let mut idle = raw_mosaic(&server);
    assert!(matches!(server.report(), Report::Accepted(_)));
    assert_eq!(close_code(&mut idle), Some(1000));
    match server.report() {
        Report::Closed(closed) => {
            assert_eq!(
                closed.cause,
                mosaic_proto::session::CloseCause::Idle,
                "{closed}"
            )
        }
        other => panic!("expected the idle client to be closed, got {other:?}"),
    }
}
