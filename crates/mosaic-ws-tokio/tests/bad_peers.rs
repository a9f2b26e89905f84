//! What a bad peer gets from the tokio adapter, over real loopback sockets:
//! the shared scenarios of `mosaic_demo::conformance`, run on tokio.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::Sender;

use mosaic_demo::MemoryStore;
use mosaic_demo::conformance::{self as c, Harness, Report, STEP, serve_accepted};
use mosaic_ws_tokio::{ClientConnection, ClientOptions, ConnectError, ServerOptions};

struct Tokio(tokio::runtime::Runtime);

impl Tokio {
    fn new() -> Tokio {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        Tokio(runtime)
    }
}

impl Harness for Tokio {
    fn start_server(
        &self,
        options: ServerOptions,
        store: Arc<MemoryStore>,
        reports: Sender<Report>,
    ) -> SocketAddr {
        let server = self
            .block_on(mosaic_ws_tokio::bind("127.0.0.1:0", options))
            .expect("bind");
        let addr = server.local_addr().expect("addr");
        let refused = reports.clone();
        self.0.spawn(server.serve(
            move |accepted| serve_accepted(accepted, store.clone(), reports.clone()),
            move |_, error| {
                let _ = refused.send(Report::Refused(error.to_string()));
            },
        ));
        addr
    }

    fn connect(
        &self,
        url: &str,
        options: &ClientOptions,
    ) -> Result<ClientConnection, ConnectError> {
        self.block_on(mosaic_ws_tokio::connect(url, options))
    }

    fn block_on<F: Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        self.0
            .block_on(async { tokio::time::timeout(STEP, future).await })
            .expect("a step took too long")
    }
}

#[test]
fn missing_or_wrong_subprotocol_gets_400() {
    c::missing_or_wrong_subprotocol_gets_400(&Tokio::new());
}

#[test]
fn dual_stack_hands_nostr_over() {
    c::dual_stack_hands_nostr_over(&Tokio::new());
}

#[test]
fn wrong_server_key_fails_the_client() {
    c::wrong_server_key_fails_the_client(&Tokio::new());
}

#[test]
fn text_message_closes_1003() {
    c::text_message_closes_1003(&Tokio::new());
}

#[test]
fn server_message_closes_1002() {
    c::server_message_closes_1002(&Tokio::new());
}

#[test]
fn malformed_message_closes_1002() {
    c::malformed_message_closes_1002(&Tokio::new());
}

#[test]
fn oversize_message_closes_1009() {
    c::oversize_message_closes_1009(&Tokio::new());
}

#[test]
fn invalid_filter_is_rejected_and_the_connection_lives_on() {
    c::invalid_filter_is_rejected_and_the_connection_lives_on(&Tokio::new());
}

#[test]
fn stalled_handshake_is_closed_at_the_timeout() {
    c::stalled_handshake_is_closed_at_the_timeout(&Tokio::new());
}

#[test]
fn client_vanishing_mid_message_ends_its_connection() {
    c::client_vanishing_mid_message_ends_its_connection(&Tokio::new());
}

#[test]
fn server_vanishing_ends_the_clients_requests() {
    c::server_vanishing_ends_the_clients_requests(&Tokio::new());
}
