//! Fan-out: one Mosaic server (the demo's `MemoryStore` on tokio, two
//! workers, its own process), 1,000 subscribed clients and one submitter (in
//! a second process); 10,000 records of 256 bytes are submitted (16 in
//! flight) and every one must reach every subscriber. Reports records
//! delivered per second (10,000,000 deliveries over the time from the first
//! submission to the last delivery) and the server's peak resident memory.
//!
//! Baseline, in the same run with fresh processes: a raw broadcast server on
//! tokio-rustls + tokio-tungstenite (same configurations) that puts each
//! published message in every subscriber's queue (a tokio mpsc channel whose
//! task feeds the WebSocket and flushes when the queue runs dry) and
//! acknowledges it with 8 bytes; raw subscribers count messages; one publisher
//! keeps 16 in flight. No store, no validation, no filter matching.
//!
//! The store hands each live record to every matching subscriber with
//! `try_send_record`, which queues the same `Bytes` for each one: encoded
//! once, never copied by Mosaic per subscriber above 4 KiB, and for small
//! records only laid out behind its header in each connection's scratch
//! buffer.
//!
//! Rounds alternate the two stacks, each first equally often (4 rounds, 2
//! with `--quick`); the summary gives each side's median and range, the
//! median and range of the per-round ratios, and the servers' peak memory.
//!
//! Run: `cargo bench -p mosaic-benches --bench e2e_fanout [-- --quick]`
//! (`--quick`: 200 subscribers, 2,000 records).

use std::io::{BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use mosaic_benches::e2e::raw::{Rt as _, TokioRt};
use mosaic_benches::e2e::servers::{report_memory_until_stdin_ends, serve_raw_tokio};
use mosaic_benches::e2e::stats::Paired;
use mosaic_benches::e2e::ws_config;
use mosaic_proto::{QueryId, ServerMessage};
use tokio::sync::mpsc;
use tungstenite::Message;

use mosaic_benches::e2e::{
    Fixture, filter, machine, process_runtime, quick, raise_nofile_limit, record_of_len, rss_kib,
};
use mosaic_demo::store::{MemoryStore, accept_structural};
use mosaic_proto::SubmissionResultCode;
use mosaic_tls::Identity;
use mosaic_ws::{Accepted, ServerOptions, SubscriptionEvent};

const RECORD_LEN: usize = 256;
const IN_FLIGHT: usize = 16;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_owned))
    };
    let fixture = || {
        let mosec = std::env::var("MOSAIC_BENCH_IDENTITY").expect("identity");
        Fixture::from_identity(Identity::from_mosec(&mosec).expect("identity"))
    };
    let raw = arg("stack").as_deref() == Some("raw");
    match arg("role").as_deref() {
        Some("server") if raw => raw_server(fixture()),
        Some("server") => server(fixture()),
        Some("client") => {
            let addr = arg("addr").expect("addr");
            let subscribers = arg("subscribers").expect("n").parse().expect("n");
            let records = arg("records").expect("n").parse().expect("n");
            if raw {
                raw_client(addr.parse().expect("addr"), subscribers, records, fixture());
            } else {
                client(addr, subscribers, records, fixture());
            }
        }
        _ => orchestrate(),
    }
}

fn orchestrate() {
    let (subscribers, records, rounds) = if quick() {
        (200, 2_000, 2)
    } else {
        (1_000, 10_000, 4)
    };
    raise_nofile_limit();
    println!("# e2e_fanout ({})", machine());
    println!("{rounds} rounds of one transfer per stack, each stack first equally often");
    let mosec = Identity::generate().expect("identity").to_mosec();
    let only = std::env::var("MOSAIC_BENCH_STACK").ok();
    let (mut rates, mut peaks) = (Paired::default(), Paired::default());
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            ["mosaic", "raw"]
        } else {
            ["raw", "mosaic"]
        };
        let mut result = [(0.0, 0.0); 2];
        for stack in order {
            if only.as_deref().is_some_and(|only| only != stack) {
                continue;
            }
            let (rate, peak_kib) = transfer(&mosec, stack, subscribers, records);
            result[usize::from(stack == "raw")] = (rate, peak_kib);
        }
        let [(ours, our_peak), (base, base_peak)] = result;
        rates.push(ours, base);
        peaks.push(our_peak, base_peak);
    }
    // With MOSAIC_BENCH_STACK set, one stack ran: no ratio to give.
    if only.is_none() {
        println!(
            "records delivered/s, mosaic vs raw: {}",
            rates.line("records/s", 1.0)
        );
        println!(
            "server peak resident memory, mosaic vs raw: {}",
            peaks.line("MiB", 1024.0)
        );
    }
}

/// One transfer on `stack` in fresh server and client processes: records
/// delivered per second, and the server's peak resident memory in KiB.
fn transfer(mosec: &str, stack: &str, subscribers: usize, records: usize) -> (f64, f64) {
    let exe = std::env::current_exe().expect("exe");
    let spawn = |args: &[String]| {
        Command::new(&exe)
            .args(args)
            .env("MOSAIC_BENCH_IDENTITY", mosec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let mut server = spawn(&["--role=server".into(), format!("--stack={stack}")]);
    let mut server_in = server.stdin.take().expect("stdin");
    let mut server_out = BufReader::new(server.stdout.take().expect("stdout"));
    let ready = read_words(&mut server_out);
    assert_eq!(ready[0], "READY");
    let (addr, rss0) = (ready[1].clone(), ready[3].clone());

    let mut client = spawn(&[
        "--role=client".into(),
        format!("--stack={stack}"),
        format!("--addr={addr}"),
        format!("--subscribers={subscribers}"),
        format!("--records={records}"),
    ]);
    let mut client_out = BufReader::new(client.stdout.take().expect("stdout"));
    let done = read_words(&mut client_out);
    assert_eq!(done[0], "DONE", "{done:?}");
    let seconds: f64 = done[1].parse().expect("seconds");
    let _ = client.wait();

    writeln!(server_in, "REPORT").expect("ask");
    let report = read_words(&mut server_out);
    drop(server_in);
    let _ = server.wait();
    let rate = (subscribers * records) as f64 / seconds;
    println!(
        "{stack}: {subscribers} subscribers x {records} records of {RECORD_LEN} B: all delivered in {seconds:.2} s = {rate:.0} records delivered/s ({:.0} submitted/s); server resident memory {rss0} KiB before the clients, peak {} KiB (VmHWM)",
        records as f64 / seconds,
        report[1],
    );
    (rate, report[1].parse().expect("peak KiB"))
}

fn read_words(reader: &mut impl std::io::BufRead) -> Vec<String> {
    let mut line = String::new();
    reader.read_line(&mut line).expect("read");
    line.split_whitespace().map(str::to_owned).collect()
}

/// The server process: the demo store, until stdin ends.
fn server(fixture: Fixture) {
    let runtime = process_runtime();
    let addr = runtime.block_on(async {
        let mut options = ServerOptions::new(fixture.server_tls.clone());
        options.max_connections = 20_000;
        let server = mosaic_ws_tokio::bind("127.0.0.1:0", options)
            .await
            .expect("bind");
        let addr = server.local_addr().expect("addr");
        let store = MemoryStore::new(20_000, accept_structural());
        tokio::spawn(server.serve(
            move |accepted| {
                let store = store.clone();
                async move {
                    if let Accepted::Mosaic(connection) = accepted {
                        store.serve(connection).await;
                    }
                }
            },
            |_, _| {},
        ));
        addr
    });
    println!("READY {addr} RSS0 {}", rss_kib());
    report_memory_until_stdin_ends();
}

/// The client process: subscribers, then the submitter; prints the time
/// from the first submission to the last delivery.
fn client(addr: String, subscribers: usize, records: usize, fixture: Fixture) {
    let runtime = process_runtime();
    let seconds = runtime.block_on(async move {
        let url = format!("wss://{addr}/");
        let mut options = fixture.client_options();
        options.limits.handshake_timeout = Duration::from_secs(60);
        let options = Arc::new(options);
        let subscribed = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        // 64 connectors; each subscriber then reads on its own task.
        for _ in 0..64.min(subscribers) {
            let (url, options, subscribed, finished, next) = (
                url.clone(),
                options.clone(),
                subscribed.clone(),
                finished.clone(),
                next.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut readers = Vec::new();
                while next.fetch_add(1, Ordering::SeqCst) < subscribers {
                    let connection = mosaic_ws_tokio::connect(&url, &options)
                        .await
                        .expect("connect");
                    let mut subscription =
                        connection.subscribe(filter(), 0).await.expect("subscribe");
                    let first = subscription.next().await;
                    assert!(
                        matches!(first, Some(Ok(SubscriptionEvent::LocallyComplete))),
                        "{first:?}"
                    );
                    subscribed.fetch_add(1, Ordering::SeqCst);
                    let finished = finished.clone();
                    readers.push(tokio::spawn(async move {
                        let _connection = connection;
                        let mut got = 0;
                        while got < records {
                            match subscription.next().await {
                                Some(Ok(SubscriptionEvent::Record(_))) => got += 1,
                                other => panic!("subscription ended: {other:?}"),
                            }
                        }
                        finished.fetch_add(1, Ordering::SeqCst);
                    }));
                }
                readers
            }));
        }
        let mut readers = Vec::new();
        for task in tasks {
            readers.extend(task.await.expect("connector"));
        }
        assert_eq!(subscribed.load(Ordering::SeqCst), subscribers);

        let submitter = Arc::new(
            mosaic_ws_tokio::connect(&url, &options)
                .await
                .expect("connect"),
        );
        let to_submit: Arc<Vec<_>> = Arc::new(
            (0..records)
                .map(|seq| record_of_len(RECORD_LEN, seq as u64 + 1))
                .collect(),
        );
        let start = Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let submitters: Vec<_> = (0..IN_FLIGHT)
            .map(|_| {
                let (submitter, next, to_submit) =
                    (submitter.clone(), next.clone(), to_submit.clone());
                tokio::spawn(async move {
                    loop {
                        let seq = next.fetch_add(1, Ordering::SeqCst);
                        if seq >= records {
                            break;
                        }
                        let record = to_submit[seq].clone();
                        let code = submitter.submit(record).await.expect("submit");
                        assert_eq!(code, SubmissionResultCode::Ok);
                    }
                })
            })
            .collect();
        for task in submitters {
            task.await.expect("submitter");
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        for reader in readers {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::timeout(left, reader)
                .await
                .expect("every subscriber gets every record in time")
                .expect("reader");
        }
        assert_eq!(finished.load(Ordering::SeqCst), subscribers);
        start.elapsed().as_secs_f64()
    });
    println!("DONE {seconds}");
}

/// The baseline server: tokio-rustls + tokio-tungstenite with the same
/// configurations, no Mosaic. A client's first message says what it is:
/// `S` (subscriber: answered `OK`, then sent every published message) or `P`
/// (publisher: each message it sends goes to every subscriber's queue, then
/// an 8-byte acknowledgement goes back). Each subscriber's task feeds what
/// its queue holds and flushes when the queue runs dry.
fn raw_server(fixture: Fixture) {
    let runtime = process_runtime();
    let subscribers: Arc<Mutex<Vec<mpsc::Sender<Bytes>>>> = Arc::default();
    let addr = runtime.block_on(serve_raw_tokio(
        "127.0.0.1:0",
        &fixture,
        ws_config(),
        move |ws| raw_connection(ws, subscribers.clone()),
    ));
    println!("READY {addr} RSS0 {}", rss_kib());
    report_memory_until_stdin_ends();
}

async fn raw_connection<W: mosaic_ws::WebSocket>(
    mut ws: W,
    subscribers: Arc<Mutex<Vec<mpsc::Sender<Bytes>>>>,
) {
    let Some(Ok(Message::Binary(role))) = ws.next().await else {
        return;
    };
    if &role[..] == b"S" {
        let (tx, mut rx) = mpsc::channel::<Bytes>(64 * 1024);
        subscribers.lock().expect("subscribers").push(tx);
        if ws
            .send(Message::Binary(Bytes::from_static(b"OK")))
            .await
            .is_err()
        {
            return;
        }
        while let Some(message) = rx.recv().await {
            if ws.feed(Message::Binary(message)).await.is_err() {
                return;
            }
            // Batched as the baseline is: flushed when the queue
            // runs dry, and every 64 KiB.
            let mut unflushed = 0;
            while let Ok(message) = rx.try_recv() {
                unflushed += message.len();
                if ws.feed(Message::Binary(message)).await.is_err() {
                    return;
                }
                if unflushed >= 64 * 1024 {
                    unflushed = 0;
                    if ws.flush().await.is_err() {
                        return;
                    }
                }
            }
            if ws.flush().await.is_err() {
                return;
            }
        }
    } else {
        while let Some(Ok(message)) = ws.next().await {
            let Message::Binary(message) = message else {
                continue;
            };
            for subscriber in subscribers.lock().expect("subscribers").iter() {
                let _ = subscriber.try_send(message.clone());
            }
            let ack = Bytes::copy_from_slice(&message[..8]);
            if ws.send(Message::Binary(ack)).await.is_err() {
                return;
            }
        }
    }
}

/// The baseline clients: subscribers counting what they get, then one
/// publisher keeping 16 messages in flight.
fn raw_client(addr: SocketAddr, subscribers: usize, records: usize, fixture: Fixture) {
    let runtime = process_runtime();
    let seconds = runtime.block_on(async move {
        let tls = fixture.client_config();
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..64.min(subscribers) {
            let (tls, next) = (tls.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                let mut readers = Vec::new();
                while next.fetch_add(1, Ordering::SeqCst) < subscribers {
                    let mut ws = TokioRt::connect(addr, tls.clone(), ws_config())
                        .await
                        .expect("connect");
                    ws.send(Message::Binary(Bytes::from_static(b"S")))
                        .await
                        .expect("subscribe");
                    let ok = ws.next().await;
                    assert!(matches!(ok, Some(Ok(Message::Binary(_)))), "{ok:?}");
                    readers.push(tokio::spawn(async move {
                        let mut got = 0;
                        while got < records {
                            match ws.next().await {
                                Some(Ok(Message::Binary(_))) => got += 1,
                                Some(Ok(_)) => {}
                                other => panic!("subscriber stream ended: {other:?}"),
                            }
                        }
                    }));
                }
                readers
            }));
        }
        let mut readers = Vec::new();
        for task in tasks {
            readers.extend(task.await.expect("connector"));
        }

        let messages: Vec<Bytes> = (0..records)
            .map(|seq| {
                ServerMessage::Record {
                    query_id: QueryId(0),
                    record: record_of_len(RECORD_LEN, seq as u64 + 1),
                }
                .to_bytes()
            })
            .collect();
        let mut publisher = TokioRt::connect(addr, tls.clone(), ws_config())
            .await
            .expect("connect");
        publisher
            .send(Message::Binary(Bytes::from_static(b"P")))
            .await
            .expect("publish");
        let start = Instant::now();
        let mut sent = 0;
        while sent < IN_FLIGHT.min(records) {
            publisher
                .send(Message::Binary(messages[sent].clone()))
                .await
                .expect("send");
            sent += 1;
        }
        let mut acked = 0;
        while acked < records {
            match publisher.next().await {
                Some(Ok(Message::Binary(_))) => acked += 1,
                Some(Ok(_)) => continue,
                other => panic!("publisher stream ended: {other:?}"),
            }
            if sent < records {
                publisher
                    .send(Message::Binary(messages[sent].clone()))
                    .await
                    .expect("send");
                sent += 1;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        for reader in readers {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::timeout(left, reader)
                .await
                .expect("every subscriber gets every message in time")
                .expect("reader");
        }
        start.elapsed().as_secs_f64()
    });
    println!("DONE {seconds}");
}
