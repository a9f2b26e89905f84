//! Memory per idle connection: a server process holds N idle connections that
//! a separate client process opened, and reports its resident memory growth
//! per connection; for Mosaic (the demo's `MemoryStore::serve` task per
//! connection, default server options) and for the raw stack
//! (tokio-rustls + tokio-tungstenite, one task per connection reading it) with
//! tungstenite's default configuration and with a lean one (4 KiB read
//! buffer). Same rustls configuration throughout (TLS 1.3, ed25519).
//!
//! This binary is the orchestrator; it runs itself again as the server
//! (`--role=server`) and as the client (`--role=client`) of each scenario, a
//! fresh pair per scenario, on its own loopback address. The server reads its
//! VmRSS once listening (after a warm-up connection, so the runtime, TLS and
//! allocator are set up) and again once all N connections are up and have
//! sat idle for two seconds. N = 1,000, 5,000, 10,000 and 15,000
//! (`--quick`: 1,000 and 5,000); both processes raise their soft open-files
//! limit to the hard limit.
//!
//! `MOSAIC_BENCH_LARGE=<bytes>`: each connection first sends a large
//! Submission and a small one (see [`SENT_FIRST`]), then goes idle: what a
//! connection keeps after one large message. `MOSAIC_BENCH_SERVED=<bytes>`:
//! each Mosaic connection is first sent a stored record of that size (see
//! [`SERVED_FIRST`]); `MOSAIC_BENCH_RECORD_FRAME=<bytes>` sets the server's
//! `Limits::record_frame_len`.
//!
//! Run: `cargo bench -p mosaic-benches --bench e2e_idle_memory [-- --quick]`

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use mosaic_benches::e2e::servers::serve_raw_tokio;
use mosaic_benches::e2e::stats::median;
use mosaic_benches::e2e::{Fixture, machine, process_runtime, quick, raise_nofile_limit, rss_kib};
use mosaic_demo::store::{MemoryStore, accept_structural};
use mosaic_proto::{ClientMessage, Record, RecordFlags, SubmissionResultCode, Timestamp};
use mosaic_tls::Identity;
use mosaic_ws::{Accepted, ServerOptions};
use tungstenite::Message;
use tungstenite::protocol::WebSocketConfig;

/// Connections the client opens at once.
const CONCURRENCY: usize = 64;

/// The stacks compared.
const STACKS: [&str; 3] = ["mosaic", "raw-default", "raw-lean"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_owned))
    };
    match arg("role").as_deref() {
        Some("server") => server(
            &arg("stack").expect("stack"),
            &arg("addr").expect("addr"),
            fixture_from_env(),
        ),
        Some("client") => client(
            &arg("stack").expect("stack"),
            arg("addr").expect("addr").parse().expect("addr"),
            arg("n").expect("n").parse().expect("n"),
            fixture_from_env(),
        ),
        _ => orchestrate(),
    }
}

fn fixture_from_env() -> Fixture {
    let mosec = std::env::var("MOSAIC_BENCH_IDENTITY").expect("identity from the orchestrator");
    Fixture::from_identity(Identity::from_mosec(&mosec).expect("identity"))
}

fn ws_config(stack: &str) -> WebSocketConfig {
    match stack {
        "raw-default" => WebSocketConfig::default(),
        "raw-lean" => WebSocketConfig::default().read_buffer_size(4 * 1024),
        _ => mosaic_ws::Limits::default().websocket_config(),
    }
}

fn orchestrate() {
    let ns: Vec<usize> = match std::env::var("MOSAIC_BENCH_N") {
        Ok(list) => list.split(',').map(|n| n.parse().expect("N")).collect(),
        Err(_) if quick() => vec![1_000, 5_000],
        Err(_) => vec![1_000, 5_000, 10_000, 15_000],
    };
    let limit = raise_nofile_limit();
    println!("# e2e_idle_memory ({})", machine());
    println!("open-files soft limit {limit}; server: tokio, 2 workers; client: a separate process");
    if let Ok(len) = std::env::var("MOSAIC_BENCH_LARGE") {
        println!("each connection first sends a Submission of {len} payload bytes and one of 10");
    }
    if let Ok(len) = std::env::var("MOSAIC_BENCH_SERVED") {
        println!("each Mosaic connection is first sent a record of {len} payload bytes");
    }
    if let Ok(len) = std::env::var("MOSAIC_BENCH_RECORD_FRAME") {
        println!("the Mosaic server sends records in frames of {len} bytes");
    }
    let identity = Identity::generate().expect("identity");
    let mosec = identity.to_mosec();
    let exe = std::env::current_exe().expect("current exe");
    let mut per_conn: Vec<Vec<f64>> = vec![Vec::new(); STACKS.len()];
    let mut scenario = 0u8;
    for &n in &ns {
        let mut line = format!("N={n:>6}:");
        for (i, stack) in STACKS.iter().enumerate() {
            scenario += 1;
            let ip = format!("127.0.0.{}", 10 + scenario);
            let kib = run_scenario(&exe, &mosec, stack, &ip, n);
            per_conn[i].push(kib);
            line += &format!(" {stack} {kib:.1} KiB/conn |");
        }
        let ours = per_conn[0][per_conn[0].len() - 1];
        let default = per_conn[1][per_conn[1].len() - 1];
        let lean = per_conn[2][per_conn[2].len() - 1];
        println!(
            "{line} ours/lean {:.3} ours/default {:.3}",
            ours / lean,
            ours / default
        );
    }
    let summary: Vec<String> = STACKS
        .iter()
        .zip(&per_conn)
        .map(|(stack, v)| {
            let (lo, hi) = mosaic_benches::e2e::stats::range(v);
            format!("{stack} {:.1} [{lo:.1}..{hi:.1}]", median(v))
        })
        .collect();
    println!("median over N, KiB per connection: {}", summary.join(" | "));
    let ratios: Vec<f64> = per_conn[0]
        .iter()
        .zip(&per_conn[2])
        .map(|(o, l)| o / l)
        .collect();
    let (lo, hi) = mosaic_benches::e2e::stats::range(&ratios);
    println!(
        "ours / raw-lean: median {:.3} [{lo:.3}..{hi:.3}]",
        median(&ratios)
    );
}

/// One scenario: a fresh server and client process; the server's resident
/// memory growth per connection, in KiB.
fn run_scenario(exe: &std::path::Path, mosec: &str, stack: &str, ip: &str, n: usize) -> f64 {
    // For profiling: MOSAIC_BENCH_WRAP_SERVER="valgrind --tool=massif" runs
    // the server under that command.
    let wrap: Vec<String> = std::env::var("MOSAIC_BENCH_WRAP_SERVER")
        .map(|w| w.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let spawn = |args: &[String]| {
        let (program, prefix) = match (args[0].as_str(), wrap.split_first()) {
            ("--role=server", Some((first, rest))) => (first.as_str(), rest),
            _ => (exe.to_str().expect("path"), &[][..]),
        };
        let mut command = Command::new(program);
        command.args(prefix);
        if program != exe.to_str().expect("path") {
            command.arg(exe);
        }
        command
            .args(args)
            .env("MOSAIC_BENCH_IDENTITY", mosec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let mut server = spawn(&[
        "--role=server".into(),
        format!("--stack={stack}"),
        format!("--addr={ip}:0"),
    ]);
    let (mut server_in, mut server_out) = pipes(&mut server);
    let ready = expect_line(&mut server_out, "READY");
    let addr = ready[1].clone();
    let rss0: u64 = ready[3].parse().expect("rss");

    let started = Instant::now();
    let mut client = spawn(&[
        "--role=client".into(),
        format!("--stack={stack}"),
        format!("--addr={addr}"),
        format!("--n={n}"),
    ]);
    let (client_in, mut client_out) = pipes(&mut client);
    expect_line(&mut client_out, "CONNECTED");
    let connect_time = started.elapsed();

    writeln!(server_in, "REPORT {n}").expect("ask the server");
    let report = expect_line(&mut server_out, "RSS");
    let rss1: u64 = report[1].parse().expect("rss");
    let live: usize = report[3].parse().expect("live");
    assert_eq!(live, n, "{stack}: the server holds every connection");

    drop(client_in);
    let _ = client.wait();
    drop(server_in);
    let _ = server.wait();
    let per = (rss1 as f64 - rss0 as f64) / n as f64;
    eprintln!(
        "  {stack} N={n}: RSS {rss0} -> {rss1} KiB, {per:.1} KiB/conn, {live} live, connected in {:.1} s",
        connect_time.as_secs_f64()
    );
    per
}

fn pipes(child: &mut Child) -> (ChildStdin, BufReader<ChildStdout>) {
    (
        child.stdin.take().expect("stdin"),
        BufReader::new(child.stdout.take().expect("stdout")),
    )
}

/// Reads lines until one starts with `word`; its words.
fn expect_line(reader: &mut BufReader<ChildStdout>, word: &str) -> Vec<String> {
    let mut line = String::new();
    loop {
        line.clear();
        let read = reader.read_line(&mut line).expect("read");
        assert!(read > 0, "the child ended before saying {word}");
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        if words.first().map(String::as_str) == Some(word) {
            return words;
        }
    }
}

/// The server process: listens, reports, holds connections until stdin ends.
fn server(stack: &str, addr: &str, fixture: Fixture) {
    let runtime = process_runtime();
    let live = Arc::new(AtomicUsize::new(0));
    let local = runtime.block_on(async {
        match stack {
            "mosaic" => serve_mosaic(addr, &fixture, live.clone()).await,
            _ => serve_raw(addr, &fixture, ws_config(stack), live.clone()).await,
        }
    });
    // Warm up: one connection and back, so that the runtime, TLS and the
    // allocator's arenas are set up before the first reading.
    runtime.block_on(async {
        let conns = open(stack, local, 1, &fixture).await;
        drop(conns);
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    println!("READY {local} RSS0 {}", rss_kib());
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
        if let Some(n) = line.trim().strip_prefix("REPORT ") {
            let n: usize = n.parse().expect("n");
            let deadline = Instant::now() + Duration::from_secs(30);
            while live.load(Ordering::SeqCst) < n && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_secs(2));
            println!("RSS {} LIVE {}", rss_kib(), live.load(Ordering::SeqCst));
        }
        line.clear();
    }
}

async fn serve_mosaic(addr: &str, fixture: &Fixture, live: Arc<AtomicUsize>) -> SocketAddr {
    let mut options = ServerOptions::new(fixture.server_tls.clone());
    options.max_connections = 20_000;
    options.limits.record_frame_len = std::env::var("MOSAIC_BENCH_RECORD_FRAME")
        .ok()
        .map(|len| len.parse().expect("bytes"));
    let server = mosaic_ws_tokio::bind(addr, options).await.expect("bind");
    let local = server.local_addr().expect("addr");
    let store = MemoryStore::new(1000, accept_structural());
    if let Some(record) = &*SERVED_FIRST {
        let code = store.submit(record, &mosaic_tls::PeerIdentity::Anonymous);
        assert_eq!(code, SubmissionResultCode::Ok);
    }
    tokio::spawn(server.serve(
        move |accepted| {
            let (store, live) = (store.clone(), live.clone());
            async move {
                if let Accepted::Mosaic(connection) = accepted {
                    live.fetch_add(1, Ordering::SeqCst);
                    store.serve(connection).await;
                    live.fetch_sub(1, Ordering::SeqCst);
                }
            }
        },
        |_, _| {},
    ));
    local
}

async fn serve_raw(
    addr: &str,
    fixture: &Fixture,
    config: WebSocketConfig,
    live: Arc<AtomicUsize>,
) -> SocketAddr {
    serve_raw_tokio(addr, fixture, config, move |mut ws| {
        let live = live.clone();
        async move {
            live.fetch_add(1, Ordering::SeqCst);
            while let Some(Ok(_)) = ws.next().await {}
            live.fetch_sub(1, Ordering::SeqCst);
        }
    })
    .await
}

/// With `MOSAIC_BENCH_LARGE=<bytes>`, what each client connection sends
/// before it goes idle: a Submission of a record with that many payload
/// bytes, then one of 10. Both records are `FROM_AUTHOR` and the clients do
/// not authenticate, so the Mosaic server answers `REJECTED_REQUIRES_AUTHN`
/// and keeps neither; the raw clients send the same message bytes, each as
/// one frame, and the raw server reads and drops them.
static SENT_FIRST: std::sync::LazyLock<Option<[Record; 2]>> = std::sync::LazyLock::new(|| {
    let len: usize = std::env::var("MOSAIC_BENCH_LARGE")
        .ok()?
        .parse()
        .expect("bytes");
    let identity = Identity::generate().expect("identity");
    let record = |len: usize| {
        mosaic_demo::script::note_with(
            &identity,
            &"x".repeat(len),
            Timestamp::from_unix(1_700_000_000, 0).record_aligned(),
            mosaic_demo::script::demo_kind(),
            RecordFlags::FROM_AUTHOR,
            &[],
        )
    };
    Some([record(len), record(10)])
});

/// With `MOSAIC_BENCH_SERVED=<bytes>`, a record with that many payload bytes
/// that the Mosaic server stores at start, and that each client connection
/// asks for (a Query of everything, LIMIT 1) before it goes idle.
static SERVED_FIRST: std::sync::LazyLock<Option<Record>> = std::sync::LazyLock::new(|| {
    let len: usize = std::env::var("MOSAIC_BENCH_SERVED")
        .ok()?
        .parse()
        .expect("bytes");
    let identity = Identity::generate().expect("identity");
    Some(mosaic_demo::script::note_with(
        &identity,
        &"x".repeat(len),
        Timestamp::from_unix(1_700_000_000, 0).record_aligned(),
        mosaic_demo::script::demo_kind(),
        RecordFlags::empty(),
        &[],
    ))
});

/// A connection the client holds.
#[allow(dead_code)]
enum Held {
    Mosaic(mosaic_ws::ClientConnection),
    Raw(Box<dyn Send>),
}

/// Opens `n` connections to `addr`, [`CONCURRENCY`] at a time.
async fn open(stack: &str, addr: SocketAddr, n: usize, fixture: &Fixture) -> Vec<Held> {
    let mut options = fixture.client_options();
    options.limits.handshake_timeout = Duration::from_secs(60);
    let options = Arc::new(options);
    let url = format!("wss://{addr}/");
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY.min(n) {
        let (stack, url, options, next) =
            (stack.to_owned(), url.clone(), options.clone(), next.clone());
        let tls = fixture.client_config();
        tasks.push(tokio::spawn(async move {
            let mut held = Vec::new();
            while next.fetch_add(1, Ordering::SeqCst) < n {
                if stack == "mosaic" {
                    let connection = mosaic_ws_tokio::connect(&url, &options)
                        .await
                        .expect("mosaic connect");
                    for record in SENT_FIRST.iter().flatten() {
                        let code = connection.submit(record.clone()).await.expect("submit");
                        assert_eq!(code, SubmissionResultCode::RejectedRequiresAuthn);
                    }
                    if SERVED_FIRST.is_some() {
                        let everything = mosaic_proto::Filter::builder().build().expect("filter");
                        let answers = connection.query(everything, 1).await.expect("query");
                        let records = answers.collect_all().await.expect("answers");
                        assert_eq!(records.len(), 1);
                    }
                    held.push(Held::Mosaic(connection));
                } else {
                    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
                    let _ = tcp.set_nodelay(true);
                    let name =
                        mosaic_tls::rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                    let tls = tokio_rustls::TlsConnector::from(tls.clone())
                        .connect(name, tcp)
                        .await
                        .expect("tls");
                    let (mut ws, _) = tokio_tungstenite::client_async_with_config(
                        url.as_str(),
                        tls,
                        Some(ws_config(&stack)),
                    )
                    .await
                    .expect("upgrade");
                    for record in SENT_FIRST.iter().flatten() {
                        let record = record.clone();
                        let bytes = ClientMessage::Submission { record }.to_bytes();
                        ws.send(Message::Binary(bytes)).await.expect("send");
                    }
                    held.push(Held::Raw(Box::new(ws)));
                }
            }
            held
        }));
    }
    let mut all = Vec::with_capacity(n);
    for task in tasks {
        all.extend(task.await.expect("connector"));
    }
    all
}

/// The client process: opens N connections, says so, holds them until stdin ends.
fn client(stack: &str, addr: SocketAddr, n: usize, fixture: Fixture) {
    let runtime = process_runtime();
    let held = runtime.block_on(open(stack, addr, n, &fixture));
    println!("CONNECTED {}", held.len());
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
        line.clear();
    }
    drop(held);
}
