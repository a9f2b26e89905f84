//! async-std's sockets, futures-rustls and async-tungstenite behind mosaic-ws's
//! [`Transport`]; async-io's timer and a chosen executor behind its [`Runtime`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_io::Timer;
use async_std::net::{TcpListener, TcpStream};
use async_tungstenite::WebSocketStream;
use futures_rustls::{LazyConfigAcceptor, TlsConnector, client, server};
use futures_util::FutureExt as _;
use futures_util::future::Map;
use mosaic_tls::ServerTls;
use mosaic_tls::rustls::server::Acceptor;
use mosaic_tls::rustls::{ClientConfig, CommonState, pki_types::ServerName};
use mosaic_ws::{Runtime, Task, Transport};
use tungstenite::handshake::client::{Request, Response};
use tungstenite::handshake::server::Callback;
use tungstenite::protocol::WebSocketConfig;

/// Mosaic on a futures-io executor: async-std's by default, or any other
/// (smol's, for one) through [`AsyncStd::with_spawner`]. Sockets are async-std's
/// and timers async-io's, which both run under any executor.
#[derive(Clone, Copy, Debug)]
pub struct AsyncStd {
    spawner: fn(Task),
}

fn spawn_on_async_std(task: Task) {
    async_std::task::spawn(task);
}

impl Default for AsyncStd {
    fn default() -> Self {
        AsyncStd {
            spawner: spawn_on_async_std,
        }
    }
}

impl AsyncStd {
    /// Spawns connection drivers with `spawner`, for instance
    /// `|task| smol::spawn(task).detach()`.
    pub fn with_spawner(spawner: fn(Task)) -> AsyncStd {
        AsyncStd { spawner }
    }
}

fn done(_: Instant) {}

impl Runtime for AsyncStd {
    type Sleep = Map<Timer, fn(Instant)>;

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        Timer::at(deadline).map(done as fn(Instant))
    }

    fn spawn(&self, task: Task) {
        (self.spawner)(task);
    }
}

/// Sets `TCP_NODELAY`: small messages must not wait; a failure only costs latency.
fn without_nagle(tcp: TcpStream) -> TcpStream {
    let _ = tcp.set_nodelay(true);
    tcp
}

impl Transport for AsyncStd {
    type Listener = TcpListener;
    type Tcp = TcpStream;
    type ServerTls = server::TlsStream<TcpStream>;
    type ClientTls = client::TlsStream<TcpStream>;
    type ServerWs = WebSocketStream<Self::ServerTls>;
    type ClientWs = WebSocketStream<Self::ClientTls>;

    async fn bind(&self, addr: &str) -> io::Result<TcpListener> {
        TcpListener::bind(addr).await
    }

    fn local_addr(listener: &TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        listener
            .accept()
            .await
            .map(|(tcp, addr)| (without_nagle(tcp), addr))
    }

    fn peer_addr(tcp: &TcpStream) -> Option<SocketAddr> {
        tcp.peer_addr().ok()
    }

    async fn connect(&self, authority: &str) -> io::Result<TcpStream> {
        Ok(without_nagle(TcpStream::connect(authority).await?))
    }

    async fn tls_accept(&self, tcp: TcpStream, tls: Arc<ServerTls>) -> io::Result<Self::ServerTls> {
        let hello = LazyConfigAcceptor::new(Acceptor::default(), tcp).await?;
        let chosen = tls.config_for(&hello.client_hello());
        hello.into_stream(chosen).await
    }

    async fn tls_connect(
        &self,
        tcp: TcpStream,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<Self::ClientTls> {
        let connector = TlsConnector::from(config);
        connector.connect(name, tcp).await
    }

    fn server_tls_state(tls: &Self::ServerTls) -> &CommonState {
        let (_, state) = tls.get_ref();
        state
    }

    fn client_tls_state(tls: &Self::ClientTls) -> &CommonState {
        let (_, state) = tls.get_ref();
        state
    }

    async fn ws_accept<C: Callback + Unpin + Send>(
        &self,
        tls: Self::ServerTls,
        callback: C,
        config: WebSocketConfig,
    ) -> Result<Self::ServerWs, tungstenite::Error> {
        async_tungstenite::accept_hdr_async_with_config(tls, callback, Some(config)).await
    }

    async fn ws_connect(
        &self,
        request: Request,
        tls: Self::ClientTls,
        config: WebSocketConfig,
    ) -> Result<(Self::ClientWs, Response), tungstenite::Error> {
        async_tungstenite::client_async_with_config(request, tls, Some(config)).await
    }
}
