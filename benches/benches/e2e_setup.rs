//! Connection set-up: full connections per second, Mosaic against the same
//! stack without the Mosaic rules, on tokio and async-std; and beside them,
//! bare rustls TLS 1.3 ed25519 handshakes per second in memory.
//!
//! Each is measured twice: with full handshakes (the clients resume no
//! session, so every connection carries the ed25519 certificate and its
//! signature, and the client checks both), and with the clients resuming the
//! sessions of earlier connections (rustls's default, and what a client
//! reconnecting to its server does: no certificate, no signature).
//!
//! A full connection: TCP connect, TLS 1.3 handshake (ed25519 certificate,
//! the client pinning the server's key), the WebSocket upgrade (Mosaic: the
//! `mosaic2024` subprotocol and extension header rules on both sides, then the
//! session and its driver), then an orderly close (close frame, the peer's
//! reply, socket closed) so that every round ends with nothing left over.
//! Baseline: tokio-rustls + tokio-tungstenite (futures-rustls +
//! async-tungstenite) with the same rustls and WebSocket configurations, a
//! plain upgrade and the same close. Client and server share the process and
//! its two cores; several connectors run at once. Rounds alternate the two.
//!
//! Run: `cargo bench -p mosaic-benches --bench e2e_setup [-- --quick]`

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::future::join_all;
use mosaic_benches::e2e::raw::Rt;
use mosaic_benches::e2e::servers::{RunOn, on_each_runtime, start_servers};
use mosaic_benches::e2e::stats::{Paired, median, range};
use mosaic_benches::e2e::{Fixture, bounded, machine, quick, ws_config};
use mosaic_proto::CloseCode;
use mosaic_tls::rustls;
use mosaic_ws::{Accepted, ClientOptions};

/// Connectors running at once.
const CONNECTORS: usize = 4;

fn main() {
    let quick = quick();
    // Even, so that each side goes first equally often.
    let (rounds, per_round) = if quick { (4, 100) } else { (10, 400) };
    println!("# e2e_setup ({})", machine());
    println!(
        "{rounds} rounds of {per_round} connections per side, {CONNECTORS} connectors at once"
    );
    let fixture = Fixture::new();
    on_each_runtime(&mut Setup {
        fixture: fixture.clone(),
        rounds,
        per_round,
    });
    for (kind, fixture) in handshake_kinds(&fixture) {
        bare_rustls(&fixture, if quick { 500 } else { 3000 }, kind);
    }
}

/// The two kinds of handshake measured, and the fixture that makes each.
fn handshake_kinds(fixture: &Fixture) -> [(&'static str, Fixture); 2] {
    [
        ("full handshakes", fixture.without_resumption()),
        ("resumed", fixture.clone()),
    ]
}

struct Setup {
    fixture: Fixture,
    rounds: usize,
    per_round: usize,
}

impl RunOn for Setup {
    fn run<R: Rt>(&mut self, rt: R) {
        for (kind, fixture) in handshake_kinds(&self.fixture) {
            run(rt.clone(), fixture, kind, self.rounds, self.per_round);
        }
    }
}

fn run<R: Rt>(rt: R, fixture: Fixture, kind: &'static str, rounds: usize, per_round: usize) {
    let rt2 = rt.clone();
    rt.block_on(async move {
        let rt = rt2;
        let (url, raw_addr) = start_servers(
            &rt,
            &fixture,
            CONNECTORS * 4,
            |accepted| async move {
                if let Accepted::Mosaic(mut connection) = accepted {
                    while connection.recv().await.is_some() {}
                }
            },
            // Read until the client's close; tungstenite answers it.
            |mut ws| async move { while let Some(Ok(_)) = ws.next().await {} },
        )
        .await;

        let options = Arc::new(fixture.client_options());
        let client_tls = fixture.client_config();
        // Warm-up.
        mosaic_round(&rt, &url, &options, 20).await;
        raw_round(&rt, raw_addr, &client_tls, 20).await;
        // For profiling one side alone: MOSAIC_BENCH_SIDE=ours or base.
        match std::env::var("MOSAIC_BENCH_SIDE").as_deref() {
            Ok("ours") => {
                for _ in 0..rounds {
                    mosaic_round(&rt, &url, &options, per_round).await;
                }
                return;
            }
            Ok("base") => {
                for _ in 0..rounds {
                    raw_round(&rt, raw_addr, &client_tls, per_round).await;
                }
                return;
            }
            _ => {}
        }
        let mut paired = Paired::default();
        for round in 0..rounds {
            let (ours, base) = if round % 2 == 0 {
                let o = mosaic_round(&rt, &url, &options, per_round).await;
                (o, raw_round(&rt, raw_addr, &client_tls, per_round).await)
            } else {
                let b = raw_round(&rt, raw_addr, &client_tls, per_round).await;
                (mosaic_round(&rt, &url, &options, per_round).await, b)
            };
            paired.push(per_round as f64 / ours, per_round as f64 / base);
        }
        println!(
            "{} connections/s, {kind}: {}",
            rt.name(),
            paired.line("conn/s", 1.0)
        );
    });
}

/// `n` Mosaic connections by [`CONNECTORS`] tasks; seconds taken.
async fn mosaic_round<R: Rt>(rt: &R, url: &str, options: &Arc<ClientOptions>, n: usize) -> f64 {
    let start = Instant::now();
    let tasks = (0..CONNECTORS).map(|i| {
        let count = n / CONNECTORS + usize::from(i < n % CONNECTORS);
        let (url, options, transport) = (url.to_owned(), options.clone(), rt.mosaic());
        async move {
            for _ in 0..count {
                let client = mosaic_ws::connect_on(transport.clone(), &url, &options)
                    .await
                    .expect("mosaic connect");
                client.close(CloseCode::NORMAL, "");
                client.closed().await;
            }
        }
    });
    bounded(Duration::from_secs(120), "mosaic round", join_all(tasks)).await;
    start.elapsed().as_secs_f64()
}

/// `n` raw connections by [`CONNECTORS`] tasks; seconds taken.
async fn raw_round<R: Rt>(
    _rt: &R,
    addr: SocketAddr,
    tls: &Arc<rustls::ClientConfig>,
    n: usize,
) -> f64 {
    let start = Instant::now();
    let tasks = (0..CONNECTORS).map(|i| {
        let count = n / CONNECTORS + usize::from(i < n % CONNECTORS);
        let tls = tls.clone();
        async move {
            for _ in 0..count {
                let mut ws = R::connect(addr, tls.clone(), ws_config())
                    .await
                    .expect("raw connect");
                let _ = futures_util::SinkExt::close(&mut ws).await;
                while let Some(Ok(_)) = ws.next().await {}
            }
        }
    });
    bounded(Duration::from_secs(120), "raw round", join_all(tasks)).await;
    start.elapsed().as_secs_f64()
}

/// Bare rustls: client and server connections with the same configurations,
/// handshaking in memory on one thread; prints handshakes per second and how
/// many of them were resumed.
fn bare_rustls(fixture: &Fixture, n: usize, kind: &str) {
    let client_config = fixture.client_config();
    let server_config = fixture.server_config();
    let name =
        rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into());
    let (mut samples, mut resumed) = (Vec::new(), 0);
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..n / 5 {
            let mut client =
                rustls::ClientConnection::new(client_config.clone(), name.clone()).expect("client");
            let mut server = rustls::ServerConnection::new(server_config.clone()).expect("server");
            let mut buf = Vec::new();
            while client.is_handshaking() || server.is_handshaking() {
                buf.clear();
                client.write_tls(&mut buf).expect("write");
                let mut input = &buf[..];
                while !input.is_empty() {
                    server.read_tls(&mut input).expect("read");
                }
                server.process_new_packets().expect("server handshake");
                buf.clear();
                server.write_tls(&mut buf).expect("write");
                let mut input = &buf[..];
                while !input.is_empty() {
                    client.read_tls(&mut input).expect("read");
                }
                client.process_new_packets().expect("client handshake");
            }
            resumed += usize::from(client.handshake_kind() == Some(rustls::HandshakeKind::Resumed));
        }
        samples.push((n / 5) as f64 / start.elapsed().as_secs_f64());
    }
    let (lo, hi) = range(&samples);
    println!(
        "bare rustls TLS 1.3 ed25519 handshakes/s, {kind} (client and server on one thread, in memory; {resumed} of {} resumed): {:.0} [{:.0}..{:.0}]",
        n / 5 * 5,
        median(&samples),
        lo,
        hi
    );
}
