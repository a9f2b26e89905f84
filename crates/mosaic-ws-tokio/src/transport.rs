//! tokio's sockets, tokio-rustls and tokio-tungstenite behind mosaic-ws's
//! [`Transport`], and tokio's timer and spawner behind its [`Runtime`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mosaic_tls::ServerTls;
use mosaic_tls::rustls::server::Acceptor;
use mosaic_tls::rustls::{ClientConfig, CommonState, pki_types::ServerName};
use mosaic_ws::{Runtime, Task, Transport};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{LazyConfigAcceptor, TlsConnector, client, server};
use tokio_tungstenite::WebSocketStream;
use tungstenite::handshake::client::{Request, Response};
use tungstenite::handshake::server::Callback;
use tungstenite::protocol::WebSocketConfig;

/// Mosaic on the current tokio runtime.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    type Sleep = tokio::time::Sleep;

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        tokio::time::sleep_until(deadline.into())
    }

    fn spawn(&self, task: Task) {
        tokio::spawn(task);
    }
}

fn no_delay(tcp: TcpStream) -> TcpStream {
    // Small messages must not wait for Nagle; a failure only costs latency.
    let _ = tcp.set_nodelay(true);
    tcp
}

impl Transport for Tokio {
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
        let (tcp, addr) = listener.accept().await?;
        Ok((no_delay(tcp), addr))
    }

    fn peer_addr(tcp: &TcpStream) -> Option<SocketAddr> {
        tcp.peer_addr().ok()
    }

    async fn connect(&self, authority: &str) -> io::Result<TcpStream> {
        TcpStream::connect(authority).await.map(no_delay)
    }

    async fn tls_accept(&self, tcp: TcpStream, tls: Arc<ServerTls>) -> io::Result<Self::ServerTls> {
        let start = LazyConfigAcceptor::new(Acceptor::default(), tcp).await?;
        let config = tls.config_for(&start.client_hello());
        start.into_stream(config).await
    }

    async fn tls_connect(
        &self,
        tcp: TcpStream,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<Self::ClientTls> {
        TlsConnector::from(config).connect(name, tcp).await
    }

    fn server_tls_state(tls: &Self::ServerTls) -> &CommonState {
        tls.get_ref().1
    }

    fn client_tls_state(tls: &Self::ClientTls) -> &CommonState {
        tls.get_ref().1
    }

    async fn ws_accept<C: Callback + Unpin + Send>(
        &self,
        tls: Self::ServerTls,
        callback: C,
        config: WebSocketConfig,
    ) -> Result<Self::ServerWs, tungstenite::Error> {
        tokio_tungstenite::accept_hdr_async_with_config(tls, callback, Some(config)).await
    }

    async fn ws_connect(
        &self,
        request: Request,
        tls: Self::ClientTls,
        config: WebSocketConfig,
    ) -> Result<(Self::ClientWs, Response), tungstenite::Error> {
        tokio_tungstenite::client_async_with_config(request, tls, Some(config)).await
    }
}
