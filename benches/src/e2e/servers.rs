//! The servers and the runtime choice the paired benches share.

use std::future::Future;
use std::net::SocketAddr;

use mosaic_ws::{Accepted, Server, Transport};

use super::raw::{AsyncStdRt, Rt, TokioRt};
use super::{Fixture, tokio_workers, ws_config};

/// A bench run on one runtime (a trait, since the run is generic over it).
pub trait RunOn {
    /// Runs the bench on `rt`.
    fn run<R: Rt>(&mut self, rt: R);
}

/// Runs `bench` on tokio, then on async-std, or on the one that
/// `MOSAIC_BENCH_RUNTIME` names.
pub fn on_each_runtime(bench: &mut impl RunOn) {
    let only = std::env::var("MOSAIC_BENCH_RUNTIME").ok();
    if only.as_deref().is_none_or(|r| r == "tokio") {
        let (server, client) = tokio_workers();
        bench.run(TokioRt::new(server, client));
    }
    if only.as_deref().is_none_or(|r| r == "async-std") {
        bench.run(AsyncStdRt);
    }
}

/// Starts, on the server side of `rt`, a Mosaic server (the fixture's options,
/// at most `max_connections`) whose connections go to `mosaic`, and a raw TLS
/// WebSocket listener (same TLS and WebSocket configurations, a plain
/// upgrade) whose connections go to `raw`; gives the Mosaic URL and the raw
/// address.
pub async fn start_servers<R, M, MF, W, WF>(
    rt: &R,
    fixture: &Fixture,
    max_connections: usize,
    mosaic: M,
    raw: W,
) -> (String, SocketAddr)
where
    R: Rt,
    M: Fn(Accepted<<R::Mosaic as Transport>::ServerWs>) -> MF + Send + Sync + 'static,
    MF: Future<Output = ()> + Send + 'static,
    W: Fn(R::ServerWs) -> WF + Send + Sync + 'static,
    WF: Future<Output = ()> + Send + 'static,
{
    let (options, tls) = (
        fixture.server_options(max_connections),
        fixture.server_config(),
    );
    let rt2 = rt.clone();
    rt.on_server(async move {
        let server = Server::bind_on(rt2.mosaic(), "127.0.0.1:0", options)
            .await
            .expect("bind");
        let url = format!("wss://{}/", server.local_addr().expect("addr"));
        rt2.spawn(async move {
            let _ = server
                .serve(mosaic, |remote, error| {
                    eprintln!("mosaic accept {remote}: {error}")
                })
                .await;
        });
        let listener = rt2.listen("127.0.0.1:0").await.expect("listen");
        let raw_addr = R::local_addr(&listener);
        let (rt3, raw) = (rt2.clone(), std::sync::Arc::new(raw));
        rt2.spawn(async move {
            while let Ok(tcp) = R::accept(&listener).await {
                let (tls, raw) = (tls.clone(), raw.clone());
                rt3.spawn(async move {
                    let Ok(ws) = R::server_handshake(tcp, tls, ws_config()).await else {
                        return;
                    };
                    raw(ws).await;
                });
            }
        });
        (url, raw_addr)
    })
    .await
}

/// A raw server WebSocket on tokio, as the process benches' servers hold it.
pub type TokioRawWs =
    tokio_tungstenite::WebSocketStream<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>;

/// tokio: accepts raw TLS WebSocket connections on `addr` (the fixture's TLS,
/// a plain upgrade with `config`) and hands each to `handle`. The handshake is
/// boxed, as Mosaic's server boxes its own, so that its state is freed once
/// done instead of sizing the connection's task.
pub async fn serve_raw_tokio<H, F>(
    addr: &str,
    fixture: &Fixture,
    config: tungstenite::protocol::WebSocketConfig,
    handle: H,
) -> SocketAddr
where
    H: Fn(TokioRawWs) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let local = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(fixture.server_config());
    let handle = std::sync::Arc::new(handle);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, handle) = (acceptor.clone(), handle.clone());
            tokio::spawn(async move {
                let handshake = Box::pin(async move {
                    let tls = acceptor.accept(tcp).await.ok()?;
                    tokio_tungstenite::accept_async_with_config(tls, Some(config))
                        .await
                        .ok()
                });
                // `let else`, not `if let`: the scrutinee of an `if let`
                // would keep a second copy of the stream alive in the task.
                let Some(ws) = handshake.await else {
                    return;
                };
                handle(ws).await;
            });
        }
    });
    local
}

/// A server process's report loop: answers each `REPORT` line on stdin with
/// `PEAK <peak RSS KiB> RSS <RSS KiB>`, until stdin ends.
pub fn report_memory_until_stdin_ends() {
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
        if line.trim() == "REPORT" {
            println!("PEAK {} RSS {}", super::peak_rss_kib(), super::rss_kib());
        }
        line.clear();
    }
}
