//! Fan-out: one Mosaic server (the demo's `MemoryStore` on tokio, two
//! workers, its own process), 1,000 subscribed clients and one submitter (in
//! a second process); 10,000 records of 256 bytes are submitted (16 in
//! flight) and every one must reach every subscriber. Reports records
//! delivered per second (10,000,000 deliveries over the time from the first
//! submission to the last delivery) and the server's peak resident memory.
//!
//! The store hands each live record to every matching subscriber with
//! `try_send_record`, which queues the same `Bytes` for each one: encoded
//! once, never copied by Mosaic per subscriber above 4 KiB, and for small
//! records only laid out behind its header in each connection's scratch
//! buffer.
//!
//! Run: `cargo bench -p mosaic-benches --bench e2e_fanout [-- --quick]`
//! (`--quick`: 200 subscribers, 2,000 records).

use std::io::{BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mosaic_benches::e2e::{
    Fixture, filter, machine, peak_rss_kib, quick, raise_nofile_limit, record_of_len, rss_kib,
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
    match arg("role").as_deref() {
        Some("server") => server(fixture()),
        Some("client") => client(
            arg("addr").expect("addr"),
            arg("subscribers").expect("n").parse().expect("n"),
            arg("records").expect("n").parse().expect("n"),
            fixture(),
        ),
        _ => orchestrate(),
    }
}

fn orchestrate() {
    let (subscribers, records) = if quick() {
        (200, 2_000)
    } else {
        (1_000, 10_000)
    };
    raise_nofile_limit();
    println!("# e2e_fanout ({})", machine());
    let mosec = Identity::generate().expect("identity").to_mosec();
    let exe = std::env::current_exe().expect("exe");
    let spawn = |args: &[String]| {
        Command::new(&exe)
            .args(args)
            .env("MOSAIC_BENCH_IDENTITY", mosec.as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let mut server = spawn(&["--role=server".into()]);
    let mut server_in = server.stdin.take().expect("stdin");
    let mut server_out = BufReader::new(server.stdout.take().expect("stdout"));
    let ready = read_words(&mut server_out);
    assert_eq!(ready[0], "READY");
    let (addr, rss0) = (ready[1].clone(), ready[3].clone());

    let mut client = spawn(&[
        "--role=client".into(),
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
    let deliveries = (subscribers * records) as f64;
    println!(
        "{subscribers} subscribers x {records} records of {RECORD_LEN} B: all delivered in {seconds:.2} s = {:.0} records delivered/s ({:.0} submitted/s)",
        deliveries / seconds,
        records as f64 / seconds
    );
    println!(
        "server resident memory: {rss0} KiB before the clients, peak {} KiB (VmHWM), {} KiB after they left",
        report[1], report[3]
    );
}

fn read_words(reader: &mut impl std::io::BufRead) -> Vec<String> {
    let mut line = String::new();
    reader.read_line(&mut line).expect("read");
    line.split_whitespace().map(str::to_owned).collect()
}

/// The server process: the demo store, until stdin ends.
fn server(fixture: Fixture) {
    raise_nofile_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
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
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
        if line.trim() == "REPORT" {
            println!("PEAK {} RSS {}", peak_rss_kib(), rss_kib());
        }
        line.clear();
    }
}

/// The client process: subscribers, then the submitter; prints the time
/// from the first submission to the last delivery.
fn client(addr: String, subscribers: usize, records: usize, fixture: Fixture) {
    raise_nofile_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
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
        let start = Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let submitters: Vec<_> = (0..IN_FLIGHT)
            .map(|_| {
                let (submitter, next) = (submitter.clone(), next.clone());
                tokio::spawn(async move {
                    loop {
                        let seq = next.fetch_add(1, Ordering::SeqCst);
                        if seq >= records {
                            break;
                        }
                        let record = record_of_len(RECORD_LEN, seq as u64 + 1);
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
