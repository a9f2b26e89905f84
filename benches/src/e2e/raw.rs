//! The two runtimes under test, each with the Mosaic adapter and the raw
//! baseline on the same crates: tokio + tokio-rustls + tokio-tungstenite, and
//! async-std + futures-rustls + async-tungstenite. The baseline calls those
//! crates directly (no Mosaic code at all), with the same rustls
//! configurations.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mosaic_tls::rustls::pki_types::ServerName;
use mosaic_tls::rustls::{ClientConfig, ServerConfig};
use mosaic_ws::{Transport, WebSocket};
use tungstenite::protocol::WebSocketConfig;

/// A runtime: how to run and spawn, its Mosaic transport, and the raw stack.
pub trait Rt: Clone + Send + Sync + 'static {
    /// The Mosaic adapter's transport.
    type Mosaic: Transport;
    /// A raw TCP listener.
    type Listener: Send + Sync + 'static;
    /// A raw accepted TCP stream.
    type Tcp: Send + 'static;
    /// The raw server WebSocket (over rustls).
    type ServerWs: WebSocket;
    /// The raw client WebSocket (over rustls).
    type ClientWs: WebSocket;

    /// The runtime's name in reports.
    fn name(&self) -> &'static str;
    /// The Mosaic transport.
    fn mosaic(&self) -> Self::Mosaic;
    /// Runs a future to completion as a task of this runtime's client side
    /// (so that the client application shares its worker with the
    /// connection drivers it starts, as a task of a real client would).
    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// Runs a task in the background on the server side.
    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static);
    /// Runs `future` on the server side (where sockets it makes belong) and
    /// gives its output.
    fn on_server<F>(&self, future: F) -> impl Future<Output = F::Output> + Send
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Listens on `addr`.
    fn listen(&self, addr: &str) -> impl Future<Output = io::Result<Self::Listener>> + Send;
    /// The address listened on.
    fn local_addr(listener: &Self::Listener) -> SocketAddr;
    /// Accepts a TCP connection (with `TCP_NODELAY`, as Mosaic sets it).
    fn accept(listener: &Self::Listener) -> impl Future<Output = io::Result<Self::Tcp>> + Send;
    /// The server's TLS handshake and plain WebSocket upgrade (no header rules).
    fn server_handshake(
        tcp: Self::Tcp,
        tls: Arc<ServerConfig>,
        ws: WebSocketConfig,
    ) -> impl Future<Output = io::Result<Self::ServerWs>> + Send;
    /// TCP connect, TLS handshake and a plain WebSocket upgrade to `addr`.
    fn connect(
        addr: SocketAddr,
        tls: Arc<ClientConfig>,
        ws: WebSocketConfig,
    ) -> impl Future<Output = io::Result<Self::ClientWs>> + Send;
}

fn ws_error(e: tungstenite::Error) -> io::Error {
    io::Error::other(e)
}

fn server_name(addr: SocketAddr) -> ServerName<'static> {
    ServerName::IpAddress(addr.ip().into())
}

/// The name of the tokio server runtime's threads ([`super::threads_cpu`]).
pub const SERVER_THREADS: &str = "bench-server";
/// The name of the tokio client runtime's threads.
pub const CLIENT_THREADS: &str = "bench-client";

/// tokio: the server side on one runtime, the client side on another, as if
/// they were two processes on the same machine.
#[derive(Clone, Debug)]
pub struct TokioRt {
    server: Arc<tokio::runtime::Runtime>,
    client: Arc<tokio::runtime::Runtime>,
}

impl TokioRt {
    /// A server runtime with `server_workers` worker threads and a client
    /// runtime with `client_workers`.
    pub fn new(server_workers: usize, client_workers: usize) -> TokioRt {
        let runtime = |workers, name: &str| {
            Arc::new(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .thread_name(name)
                    .enable_all()
                    .build()
                    .expect("tokio runtime"),
            )
        };
        TokioRt {
            server: runtime(server_workers, SERVER_THREADS),
            client: runtime(client_workers, CLIENT_THREADS),
        }
    }
}

impl Rt for TokioRt {
    type Mosaic = mosaic_ws_tokio::Tokio;
    type Listener = tokio::net::TcpListener;
    type Tcp = tokio::net::TcpStream;
    type ServerWs =
        tokio_tungstenite::WebSocketStream<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>;
    type ClientWs =
        tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

    fn name(&self) -> &'static str {
        "tokio"
    }

    fn mosaic(&self) -> Self::Mosaic {
        mosaic_ws_tokio::Tokio
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = self.client.spawn(future);
        self.client.block_on(task).expect("client task")
    }

    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        self.server.spawn(future);
    }

    async fn on_server<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.server.spawn(future).await.expect("server task")
    }

    async fn listen(&self, addr: &str) -> io::Result<Self::Listener> {
        tokio::net::TcpListener::bind(addr).await
    }

    fn local_addr(listener: &Self::Listener) -> SocketAddr {
        listener.local_addr().expect("local address")
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Tcp> {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        Ok(tcp)
    }

    async fn server_handshake(
        tcp: Self::Tcp,
        tls: Arc<ServerConfig>,
        ws: WebSocketConfig,
    ) -> io::Result<Self::ServerWs> {
        let tls = tokio_rustls::TlsAcceptor::from(tls).accept(tcp).await?;
        tokio_tungstenite::accept_async_with_config(tls, Some(ws))
            .await
            .map_err(ws_error)
    }

    async fn connect(
        addr: SocketAddr,
        tls: Arc<ClientConfig>,
        ws: WebSocketConfig,
    ) -> io::Result<Self::ClientWs> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let tls = tokio_rustls::TlsConnector::from(tls)
            .connect(server_name(addr), tcp)
            .await?;
        let url = format!("wss://{addr}/");
        let (ws, _) = tokio_tungstenite::client_async_with_config(url, tls, Some(ws))
            .await
            .map_err(ws_error)?;
        Ok(ws)
    }
}

/// async-std on its own executor.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStdRt;

impl Rt for AsyncStdRt {
    type Mosaic = mosaic_ws_async_std::AsyncStd;
    type Listener = async_std::net::TcpListener;
    type Tcp = async_std::net::TcpStream;
    type ServerWs = async_tungstenite::WebSocketStream<
        futures_rustls::server::TlsStream<async_std::net::TcpStream>,
    >;
    type ClientWs = async_tungstenite::WebSocketStream<
        futures_rustls::client::TlsStream<async_std::net::TcpStream>,
    >;

    fn name(&self) -> &'static str {
        "async-std"
    }

    fn mosaic(&self) -> Self::Mosaic {
        mosaic_ws_async_std::AsyncStd::default()
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        async_std::task::block_on(async_std::task::spawn(future))
    }

    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        drop(async_std::task::spawn(future));
    }

    async fn on_server<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        async_std::task::spawn(future).await
    }

    async fn listen(&self, addr: &str) -> io::Result<Self::Listener> {
        async_std::net::TcpListener::bind(addr).await
    }

    fn local_addr(listener: &Self::Listener) -> SocketAddr {
        listener.local_addr().expect("local address")
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Tcp> {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        Ok(tcp)
    }

    async fn server_handshake(
        tcp: Self::Tcp,
        tls: Arc<ServerConfig>,
        ws: WebSocketConfig,
    ) -> io::Result<Self::ServerWs> {
        let tls = futures_rustls::TlsAcceptor::from(tls).accept(tcp).await?;
        async_tungstenite::accept_async_with_config(tls, Some(ws))
            .await
            .map_err(ws_error)
    }

    async fn connect(
        addr: SocketAddr,
        tls: Arc<ClientConfig>,
        ws: WebSocketConfig,
    ) -> io::Result<Self::ClientWs> {
        let tcp = async_std::net::TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let tls = futures_rustls::TlsConnector::from(tls)
            .connect(server_name(addr), tcp)
            .await?;
        let url = format!("wss://{addr}/");
        let (ws, _) = async_tungstenite::client_async_with_config(url, tls, Some(ws))
            .await
            .map_err(ws_error)?;
        Ok(ws)
    }
}
