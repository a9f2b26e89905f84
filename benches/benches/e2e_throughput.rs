//! Throughput: a server streams Record messages to a client over loopback TLS
//! 1.3 WebSockets, Mosaic against the raw stack, on tokio and on async-std.
//!
//! Mosaic: the server answers a Query with N records through
//! `ServerSender::send_record`, then Query Closed; the client reads them from
//! `ClientConnection::query`'s stream (decoding and checking each against the
//! filter, as a client does). Baseline: the same message bytes (an 8-byte
//! header and the record) fed as binary messages to tokio-tungstenite over tokio-rustls
//! (async-tungstenite over futures-rustls), same rustls configurations and
//! WebSocket configuration, flushed every 64 KiB and at the end; the client
//! reads them with `StreamExt::next`. Rounds alternate Mosaic and baseline.
//!
//! Run: `cargo bench -p mosaic-benches --bench e2e_throughput [-- --quick]`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use mosaic_benches::e2e::raw::{CLIENT_THREADS, Rt, SERVER_THREADS};
use mosaic_benches::e2e::servers::{RunOn, on_each_runtime, start_servers};
use mosaic_benches::e2e::stats::Paired;
use mosaic_benches::e2e::{
    Fixture, bounded, filter, machine, quick, record_of_len, threads_cpu, ws_config,
};
use mosaic_proto::session::ServerEvent;
use mosaic_proto::{QueryClosedCode, QueryId, Record, ServerMessage};
use mosaic_ws::{Accepted, ClientConnection, WebSocket};
use tungstenite::Message;

/// Record sizes and how many go in one timed transfer (about 50-200 MB each).
const SIZES: [(usize, u64); 4] = [
    (256, 200_000),
    (1024, 100_000),
    (64 * 1024, 3_000),
    (1024 * 1024, 200),
];

/// The raw server flushes at least this often.
const FLUSH_EVERY: usize = 64 * 1024;

type Job = Arc<Mutex<(Record, u64)>>;

fn main() {
    let quick = quick();
    // Even, so that each side goes first equally often.
    let rounds = if quick { 4 } else { 16 };
    println!("# e2e_throughput ({})", machine());
    println!("rounds per size: {rounds} (each: one Mosaic transfer, one baseline transfer)");
    on_each_runtime(&mut Throughput {
        fixture: Fixture::new(),
        rounds,
        quick,
    });
}

struct Throughput {
    fixture: Fixture,
    rounds: usize,
    quick: bool,
}

impl RunOn for Throughput {
    fn run<R: Rt>(&mut self, rt: R) {
        run(rt, self.fixture.clone(), self.rounds, self.quick);
    }
}

fn run<R: Rt>(rt: R, fixture: Fixture, rounds: usize, quick: bool) {
    let rt2 = rt.clone();
    rt.block_on(async move {
        let rt = rt2;
        let job: Job = Arc::new(Mutex::new((record_of_len(256, 0), 0)));

        // The servers, on the server side.
        let served = job.clone();
        let (url, raw_addr) = start_servers(
            &rt,
            &fixture,
            16,
            move |accepted| stream_records(accepted, served.clone()),
            raw_server,
        )
        .await;

        // The clients, on the client side.
        let client = mosaic_ws::connect_on(rt.mosaic(), &url, &fixture.client_options())
            .await
            .expect("mosaic connect");
        let mut raw = R::connect(raw_addr, fixture.client_config(), ws_config())
            .await
            .expect("raw connect");

        let only_size: Option<usize> = std::env::var("MOSAIC_BENCH_SIZE")
            .ok()
            .and_then(|s| s.parse().ok());
        for (len, count) in SIZES {
            if only_size.is_some_and(|only| only != len) {
                continue;
            }
            let count = if quick { count / 4 } else { count };
            *job.lock().expect("job") = (record_of_len(len, 1), count);
            let bytes = (count * (8 + len as u64)) as f64;
            // Warm-up: one transfer each.
            mosaic_transfer(&client, count).await;
            raw_transfer(&mut raw, len, count).await;
            let mut paired = Paired::default();
            let (mut ours_busy, mut base_busy) = (Busy::default(), Busy::default());
            // For profiling one side alone: MOSAIC_BENCH_SIDE=ours or base.
            match std::env::var("MOSAIC_BENCH_SIDE").as_deref() {
                Ok("ours") => {
                    for _ in 0..rounds {
                        mosaic_transfer(&client, count).await;
                    }
                    continue;
                }
                Ok("base") => {
                    for _ in 0..rounds {
                        raw_transfer(&mut raw, len, count).await;
                    }
                    continue;
                }
                _ => {}
            }
            for round in 0..rounds {
                // Alternate which side goes first, so neither always follows the other.
                let (ours, base) = if round % 2 == 0 {
                    let o = ours_busy.time(mosaic_transfer(&client, count)).await;
                    (o, base_busy.time(raw_transfer(&mut raw, len, count)).await)
                } else {
                    let b = base_busy.time(raw_transfer(&mut raw, len, count)).await;
                    (ours_busy.time(mosaic_transfer(&client, count)).await, b)
                };
                paired.push(bytes / ours.as_secs_f64(), bytes / base.as_secs_f64());
            }
            let msgs = count as f64;
            println!(
                "{} record {:>7} B: {}",
                rt.name(),
                len,
                paired.line("MB/s", 1e6)
            );
            let mut rates = Paired::default();
            for (o, b) in paired.ours.iter().zip(&paired.base) {
                rates.push(o / bytes * msgs, b / bytes * msgs);
            }
            println!(
                "{} record {:>7} B: {}",
                rt.name(),
                len,
                rates.line("kmsg/s", 1e3)
            );
            // Which side's thread limits the rate (tokio only: async-std
            // runs both sides on one executor).
            if !(ours_busy.client.is_zero() && base_busy.client.is_zero()) {
                println!(
                    "{} record {:>7} B: threads busy: ours {} | base {}",
                    rt.name(),
                    len,
                    ours_busy.line(),
                    base_busy.line()
                );
            }
        }
        client.close(mosaic_proto::CloseCode::NORMAL, "");
    });
}

/// CPU time of the tokio server's and client's runtime threads over one
/// side's transfers, against the transfers' duration.
#[derive(Default)]
struct Busy {
    transfers: Duration,
    client: Duration,
    server: Duration,
}

impl Busy {
    /// Runs one transfer, adding its duration and the threads' CPU time.
    async fn time(&mut self, transfer: impl Future<Output = Duration>) -> Duration {
        let (client, server) = (threads_cpu(CLIENT_THREADS), threads_cpu(SERVER_THREADS));
        let took = transfer.await;
        self.client += threads_cpu(CLIENT_THREADS).saturating_sub(client);
        self.server += threads_cpu(SERVER_THREADS).saturating_sub(server);
        self.transfers += took;
        took
    }

    fn line(&self) -> String {
        let share = |cpu: Duration| 100.0 * cpu.as_secs_f64() / self.transfers.as_secs_f64();
        format!(
            "client {:.0}%, server {:.0}%",
            share(self.client),
            share(self.server)
        )
    }
}

/// One Mosaic transfer of `count` records; its duration.
async fn mosaic_transfer(client: &ClientConnection, count: u64) -> Duration {
    bounded(Duration::from_secs(60), "mosaic transfer", async {
        let start = Instant::now();
        let mut records = client.query(filter(), 0).await.expect("query");
        let mut got = 0;
        while let Some(record) = records.next().await {
            record.expect("record");
            got += 1;
        }
        let took = start.elapsed();
        assert_eq!(got, count, "records received");
        took
    })
    .await
}

/// The Mosaic server application: answers each Query with the job's records.
async fn stream_records<W: WebSocket>(accepted: Accepted<W>, job: Job) {
    let Accepted::Mosaic(connection) = accepted else {
        return;
    };
    let (sender, mut receiver) = connection.split();
    while let Some(event) = receiver.recv().await {
        if let ServerEvent::Query { query, .. } = event {
            let (record, count) = job.lock().expect("job").clone();
            for _ in 0..count {
                if sender.send_record(query, &record).await.is_err() {
                    return;
                }
            }
            let _ = sender.close_query(query, QueryClosedCode::OnRequest).await;
        }
    }
}

/// One baseline transfer: asks the raw server for `count` messages of a
/// `len`-byte record and reads them; its duration.
async fn raw_transfer<W: WebSocket>(ws: &mut W, len: usize, count: u64) -> Duration {
    bounded(Duration::from_secs(60), "raw transfer", async {
        let start = Instant::now();
        let mut request = Vec::with_capacity(16);
        request.extend_from_slice(&(len as u64).to_le_bytes());
        request.extend_from_slice(&count.to_le_bytes());
        ws.send(Message::Binary(request.into()))
            .await
            .expect("request");
        let mut got = 0;
        let mut bytes = 0;
        while got < count {
            match ws.next().await {
                Some(Ok(Message::Binary(message))) => {
                    bytes += message.len();
                    got += 1;
                }
                Some(Ok(_)) => {}
                other => panic!("raw stream ended: {other:?}"),
            }
        }
        let took = start.elapsed();
        assert_eq!(bytes as u64, count * (8 + len as u64));
        took
    })
    .await
}

/// The baseline server: for each request, feeds the messages and flushes
/// every 64 KiB and at the end.
async fn raw_server<W: WebSocket>(mut ws: W) {
    let mut messages: HashMap<usize, Bytes> = HashMap::new();
    while let Some(Ok(request)) = ws.next().await {
        let Message::Binary(request) = request else {
            continue;
        };
        let len = u64::from_le_bytes(request[..8].try_into().expect("len")) as usize;
        let count = u64::from_le_bytes(request[8..16].try_into().expect("count"));
        let message = messages
            .entry(len)
            .or_insert_with(|| {
                ServerMessage::Record {
                    query_id: QueryId(0),
                    record: record_of_len(len, 1),
                }
                .to_bytes()
            })
            .clone();
        let mut unflushed = 0;
        for _ in 0..count {
            if ws.feed(Message::Binary(message.clone())).await.is_err() {
                return;
            }
            unflushed += message.len();
            if unflushed >= FLUSH_EVERY {
                if ws.flush().await.is_err() {
                    return;
                }
                unflushed = 0;
            }
        }
        if ws.flush().await.is_err() {
            return;
        }
    }
}
