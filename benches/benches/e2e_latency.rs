//! Latency: a Get round trip (Get → Record → Query Closed) over Mosaic against
//! raw round trips on the same stack (tokio + tokio-rustls + tokio-tungstenite,
//! and async-std + futures-rustls + async-tungstenite), same rustls and
//! WebSocket configurations, one connection each, one request in flight.
//!
//! Two baselines: `echo` (the client sends the Get's bytes, the server sends
//! them back: one message each way) and `same bytes` (the server answers the
//! Get's bytes with the Record message and the Query Closed message, in one
//! flush: the exact bytes Mosaic moves). Blocks of round trips alternate the
//! three; p50 and p99 are over all round trips of a side, and the spread is
//! the range of the per-block p50 ratios.
//!
//! Run: `cargo bench -p mosaic-benches --bench e2e_latency [-- --quick]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use mosaic_benches::e2e::raw::Rt;
use mosaic_benches::e2e::servers::{RunOn, on_each_runtime, start_servers};
use mosaic_benches::e2e::stats::{Paired, median, quantile, range};
use mosaic_benches::e2e::{Fixture, bounded, machine, quick, record_of_len, ws_config};
use mosaic_proto::session::ServerEvent;
use mosaic_proto::{
    ClientMessage, QueryClosedCode, QueryId, Record, Reference, References, ServerMessage,
};
use mosaic_ws::{Accepted, ClientConnection, WebSocket};
use tungstenite::Message;

/// Size of the record the Get fetches.
const RECORD_LEN: usize = 1024;

fn main() {
    let quick = quick();
    let (blocks, per_block) = if quick { (3, 300) } else { (12, 1000) };
    println!("# e2e_latency ({})", machine());
    println!(
        "{blocks} blocks x {per_block} round trips per side, {RECORD_LEN}-byte record, one request in flight"
    );
    on_each_runtime(&mut Latency {
        fixture: Fixture::new(),
        blocks,
        per_block,
    });
}

struct Latency {
    fixture: Fixture,
    blocks: usize,
    per_block: usize,
}

impl RunOn for Latency {
    fn run<R: Rt>(&mut self, rt: R) {
        run(rt, self.fixture.clone(), self.blocks, self.per_block);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RawMode {
    Echo = 0,
    SameBytes = 1,
}

fn run<R: Rt>(rt: R, fixture: Fixture, blocks: usize, per_block: usize) {
    let rt2 = rt.clone();
    rt.block_on(async move {
        let rt = rt2;
        let record = record_of_len(RECORD_LEN, 7);

        let answer = [
            ServerMessage::Record {
                query_id: QueryId(0),
                record: record.clone(),
            }
            .to_bytes(),
            ServerMessage::QueryClosed {
                query_id: QueryId(0),
                code: QueryClosedCode::OnRequest,
            }
            .to_bytes(),
        ];
        let served = Arc::new(record.clone());
        let (url, raw_addr) = start_servers(
            &rt,
            &fixture,
            16,
            move |accepted| answer_gets(accepted, served.clone()),
            move |ws| raw_server(ws, answer.clone()),
        )
        .await;
        let client = mosaic_ws::connect_on(rt.mosaic(), &url, &fixture.client_options())
            .await
            .expect("mosaic connect");
        let mut echo = R::connect(raw_addr, fixture.client_config(), ws_config())
            .await
            .expect("raw connect");
        let mut same = R::connect(raw_addr, fixture.client_config(), ws_config())
            .await
            .expect("raw connect");
        // The first byte of each request tells the raw server which answer to give.
        let references = References::from_refs(&[Reference::Id(record.id())]).expect("refs");
        let get = ClientMessage::Get {
            query_id: QueryId(0),
            references: references.clone(),
        }
        .to_bytes();
        let mut echo_request = get.to_vec();
        echo_request[1] = RawMode::Echo as u8;
        let mut same_request = get.to_vec();
        same_request[1] = RawMode::SameBytes as u8;
        let (echo_request, same_request) = (Bytes::from(echo_request), Bytes::from(same_request));

        // Warm-up.
        mosaic_block(&client, &references, 200).await;
        raw_block(&mut echo, &echo_request, 1, 200).await;
        raw_block(&mut same, &same_request, 2, 200).await;

        // For profiling one side alone: MOSAIC_BENCH_SIDE=ours or base.
        match std::env::var("MOSAIC_BENCH_SIDE").as_deref() {
            Ok("ours") => {
                mosaic_block(&client, &references, blocks * per_block).await;
                return;
            }
            Ok("base") => {
                raw_block(&mut same, &same_request, 2, blocks * per_block).await;
                return;
            }
            _ => {}
        }
        let (mut ours, mut echoes, mut sames) = (Vec::new(), Vec::new(), Vec::new());
        let (mut vs_echo, mut vs_same) = (Paired::default(), Paired::default());
        for block in 0..blocks {
            // Each side goes first, second and third equally often (blocks
            // are a multiple of three), so none always follows another.
            let (mut o, mut e, mut s) = (Vec::new(), Vec::new(), Vec::new());
            for turn in 0..3 {
                match (block + turn) % 3 {
                    0 => o = mosaic_block(&client, &references, per_block).await,
                    1 => e = raw_block(&mut echo, &echo_request, 1, per_block).await,
                    _ => s = raw_block(&mut same, &same_request, 2, per_block).await,
                }
            }
            vs_echo.push(median(&o), median(&e));
            vs_same.push(median(&o), median(&s));
            ours.extend(o);
            echoes.extend(e);
            sames.extend(s);
        }
        let us = |v: &[f64], q: f64| quantile(v, q) * 1e6;
        for (name, base, paired) in [
            ("echo", &echoes, &vs_echo),
            ("same bytes", &sames, &vs_same),
        ] {
            let ratios = paired.ratios();
            let (lo, hi) = range(&ratios);
            println!(
                "{} Get vs raw {name}: p50 ours {:.1} us base {:.1} us ratio {:.3} [block p50 ratios {:.3}..{:.3}] | p99 ours {:.1} us base {:.1} us ratio {:.3} (n={} each)",
                rt.name(),
                us(&ours, 0.5),
                us(base, 0.5),
                quantile(&ours, 0.5) / quantile(base, 0.5),
                lo,
                hi,
                us(&ours, 0.99),
                us(base, 0.99),
                quantile(&ours, 0.99) / quantile(base, 0.99),
                ours.len()
            );
        }
        client.close(mosaic_proto::CloseCode::NORMAL, "");
    });
}

/// `n` Get round trips; each one's duration in seconds.
async fn mosaic_block(client: &ClientConnection, references: &References, n: usize) -> Vec<f64> {
    bounded(Duration::from_secs(120), "mosaic block", async {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            let mut records = client.get(references.clone()).await.expect("get");
            let mut got = 0;
            while let Some(record) = records.next().await {
                record.expect("record");
                got += 1;
            }
            out.push(start.elapsed().as_secs_f64());
            assert_eq!(got, 1);
        }
        out
    })
    .await
}

/// `n` raw round trips of `request`, each answered by `answers` messages.
async fn raw_block<W: WebSocket>(
    ws: &mut W,
    request: &Bytes,
    answers: usize,
    n: usize,
) -> Vec<f64> {
    bounded(Duration::from_secs(120), "raw block", async {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            ws.send(Message::Binary(request.clone()))
                .await
                .expect("send");
            let mut got = 0;
            while got < answers {
                match ws.next().await {
                    Some(Ok(Message::Binary(_))) => got += 1,
                    Some(Ok(_)) => {}
                    other => panic!("raw stream ended: {other:?}"),
                }
            }
            out.push(start.elapsed().as_secs_f64());
        }
        out
    })
    .await
}

/// The Mosaic server application: answers each Get with the record.
async fn answer_gets<W: WebSocket>(accepted: Accepted<W>, record: Arc<Record>) {
    let Accepted::Mosaic(connection) = accepted else {
        return;
    };
    let (sender, mut receiver) = connection.split();
    while let Some(event) = receiver.recv().await {
        if let ServerEvent::Get { query, .. } = event {
            let _ = sender.send_record(query, &record).await;
            let _ = sender.close_query(query, QueryClosedCode::OnRequest).await;
        }
    }
}

/// The baseline server: echoes a request, or answers it with the Record and
/// Query Closed messages in one flush.
async fn raw_server<W: WebSocket>(mut ws: W, answer: [Bytes; 2]) {
    while let Some(Ok(request)) = ws.next().await {
        let Message::Binary(request) = request else {
            continue;
        };
        let result = if request[1] == RawMode::Echo as u8 {
            ws.send(Message::Binary(request)).await
        } else {
            let _ = ws.feed(Message::Binary(answer[0].clone())).await;
            ws.send(Message::Binary(answer[1].clone())).await
        };
        if result.is_err() {
            return;
        }
    }
}
