//! Interop with a WebSocket stack we did not write: Python's `websockets`,
//! with the Mosaic bytes written independently in Python from the spec
//! diagrams (`tests/python/`, see its README).
//!
//! Every test here is `#[ignore]`: they need `python3` with the packages
//! `websockets`, `blake3` and `cryptography`, which `.ci/run` installs before
//! running them with `--ignored`. When they are missing the tests fail with
//! a message naming what to install; they never pass without running.

#[allow(dead_code, unreachable_pub)]
mod harness;

use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mosaic_demo::conformance::{Harness, Report};
use mosaic_demo::script::{self, note, note_with, record_now};
use mosaic_demo::{MemoryStore, store};
use mosaic_proto::{Record, RecordFlags, References, SubmissionResultCode};
use mosaic_tls::{ClientAuth, ClientTls, Identity, PeerCertError, PeerIdentity, ServerTls};
use mosaic_ws_tokio::{ClientOptions, ServerOptions};

use harness::{OnAsyncStd, OnTokio};

/// The service URL our server announces and the Python server is told to.
const SERVICE_URL: &str = "https://mosaic.example/account";

/// The pinned versions `.ci/run` installs.
const PIP_INSTALL: &str =
    "python3 -m pip install websockets==17.4 blake3==1.0.11 cryptography==48.0.0";

/// Longest a Python client run may take (it signs and verifies in pure Python).
const CLIENT_LIMIT: Duration = Duration::from_secs(120);

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

fn python() -> String {
    std::env::var("MOSAIC_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// A child process killed and reaped when dropped, whatever happened.
struct ChildGuard {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl ChildGuard {
    /// Starts `args` under python in `tests/python`, its stdout and stderr piped.
    fn spawn(args: &[&str], stdin: Stdio) -> ChildGuard {
        let child = Command::new(python())
            .args(args)
            .current_dir(python_dir())
            // No __pycache__ left in the source tree.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}): install Python 3 (Debian: apt-get install python3 python3-pip), \
                     then {PIP_INSTALL}",
                    python()
                )
            });
        ChildGuard {
            child,
            stdout: None,
            stderr: None,
        }
    }

    /// Collects the rest of stdout and all of stderr on threads, so the child
    /// never blocks on a full pipe.
    fn drain(&mut self) {
        if let Some(mut out) = self.child.stdout.take() {
            self.stdout = Some(std::thread::spawn(move || read_all(&mut out)));
        }
        if let Some(mut err) = self.child.stderr.take() {
            self.stderr = Some(std::thread::spawn(move || read_all(&mut err)));
        }
    }

    /// Waits at most `limit` for the child to exit; kills it on timeout.
    /// Returns its status (None on timeout), stdout and stderr.
    fn wait(mut self, limit: Duration) -> (Option<ExitStatus>, String, String) {
        self.drain();
        let deadline = Instant::now() + limit;
        let status = loop {
            match self.child.try_wait().expect("try_wait") {
                Some(status) => break Some(status),
                None if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let out = self.stdout.take().map(join_text).unwrap_or_default();
        let err = self.stderr.take().map(join_text).unwrap_or_default();
        (status, out, err)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn read_all(reader: &mut impl Read) -> String {
    let mut text = String::new();
    let _ = reader.read_to_string(&mut text);
    text
}

fn join_text(handle: JoinHandle<String>) -> String {
    handle.join().unwrap_or_default()
}

/// Runs a Python script to completion (bounded), failing with its output
/// when it does not exit 0.
fn run_python(args: &[&str], limit: Duration) -> String {
    let child = ChildGuard::spawn(args, Stdio::null());
    let (status, out, err) = child.wait(limit);
    let args = match args {
        ["-c", ..] => vec!["-c", "<package check>"],
        _ => args.to_vec(),
    };
    match status {
        None => panic!(
            "python3 {args:?} took longer than {limit:?} and was killed\nstdout:\n{out}\nstderr:\n{err}"
        ),
        Some(status) if status.code() == Some(3) => {
            panic!(
                "python3 {args:?}: a Python package is missing; install with {PIP_INSTALL}\n{err}"
            )
        }
        Some(status) if !status.success() => {
            panic!("python3 {args:?} failed ({status})\nstdout:\n{out}\nstderr:\n{err}")
        }
        Some(_) => out,
    }
}

/// Fails (never skips) when python3 or a package is missing.
fn require_python() {
    let out = run_python(
        &[
            "-c",
            "import sys\n\
             try:\n    import websockets, blake3, cryptography\n\
             except ImportError as e:\n    print(e, file=sys.stderr); sys.exit(3)\n\
             print(sys.version.split()[0], websockets.__version__, cryptography.__version__)",
        ],
        Duration::from_secs(30),
    );
    eprintln!("python {}", out.trim());
}

fn hex_decode(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Our example server in-process, on a runtime of the harness: sync
/// supported, a service URL, optional client certificates, full record
/// validation.
struct OurServer {
    url: String,
    mopub: String,
    store: std::sync::Arc<MemoryStore>,
    reports: mpsc::Receiver<Report>,
    shutdown: mosaic_ws::ShutdownHandle,
}

impl OurServer {
    fn start(harness: &impl Harness) -> OurServer {
        let identity = Identity::generate().expect("rng");
        let mopub = identity.mopub();
        let tls = ServerTls::builder(identity)
            .client_auth(ClientAuth::Optional)
            .build()
            .expect("tls");
        let mut options = ServerOptions::new(tls);
        options.policy = mosaic_handshake::ServerPolicy::builder()
            .supported_extension("sync")
            .service_url(SERVICE_URL)
            .build()
            .expect("policy");
        let store = MemoryStore::new(1_000, store::full_validation());
        let (tx, reports) = mpsc::channel();
        let (addr, shutdown) = harness.start_server(options, store.clone(), tx);
        OurServer {
            url: format!("wss://{addr}/"),
            mopub,
            store,
            reports,
            shutdown,
        }
    }

    /// Every report until the server has been quiet for a moment.
    fn reports(&self) -> Vec<Report> {
        let mut all = Vec::new();
        while let Ok(report) = self.reports.recv_timeout(Duration::from_millis(500)) {
            all.push(report);
        }
        all
    }
}

impl Drop for OurServer {
    fn drop(&mut self) {
        self.shutdown.shutdown();
    }
}

/// Runs client.py against our server and checks what the server saw:
/// every accepted connection had `expected` identity, and the store holds
/// exactly the records the client says it stored, each fully valid.
fn python_client_against_our_server(
    harness: &impl Harness,
    client_args: &[&str],
    expected: Option<&str>,
) {
    require_python();
    let server = OurServer::start(harness);
    let mut args = vec![
        "client.py",
        &server.url,
        &server.mopub,
        "--service-url",
        SERVICE_URL,
    ];
    args.extend_from_slice(client_args);
    let out = run_python(&args, CLIENT_LIMIT);
    eprintln!("{out}");
    assert!(out.contains("PASS: "), "{out}");

    let ids: Vec<&str> = out
        .lines()
        .filter_map(|line| line.strip_prefix("stored "))
        .collect();
    assert!(ids.len() >= 7, "the client reports what it stored:\n{out}");
    assert_eq!(server.store.len(), ids.len(), "records in the store");
    for id in &ids {
        let references = References::from_bytes(Bytes::from(hex_decode(id))).expect("a 48-byte ID");
        let found = server.store.get(&references, None);
        assert_eq!(found.len(), 1, "record {id} is stored");
        let record = &found[0];
        assert_eq!(&record.as_bytes()[64..112], &hex_decode(id)[..]);
        record
            .verify()
            .expect("a Python-signed record passes our full validation");
    }

    // The handshake checks, the bad peers and the exchange were accepted;
    // the missing subprotocol and the wrong pin refused.
    let closes = check_connections(&out, &server.reports(), expected);
    // What the bad peers got, as the server saw it.
    for (code, times) in [(1003, 1), (1002, 2), (1009, 1)] {
        assert_eq!(
            closes.iter().filter(|&&c| c == code).count(),
            times,
            "closes with {code}: {closes:?}"
        );
    }
}

/// Checks our server's `reports` against client.py's `out`: as many
/// connections accepted and refused as its `connections N upgraded, M
/// refused` line says, every accepted one as `expected` (a mopub0 key, or
/// anonymous), no nostr hand-off. Returns the close codes reported.
fn check_connections(out: &str, reports: &[Report], expected: Option<&str>) -> Vec<u16> {
    let (upgraded, refused) = out
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix("connections ")?;
            let (up, rest) = rest.split_once(" upgraded, ")?;
            let refused = rest.strip_suffix(" refused")?;
            Some((up.parse::<usize>().ok()?, refused.parse::<usize>().ok()?))
        })
        .expect("the client reports its connections");
    let (mut accepted, mut refusals, mut closes) = (0, 0, Vec::new());
    for report in reports {
        match (report, expected) {
            (Report::Accepted(PeerIdentity::Anonymous), None) => accepted += 1,
            (Report::Accepted(PeerIdentity::Authenticated(key)), Some(mopub))
                if mosaic_tls::encode_mopub(key) == mopub =>
            {
                accepted += 1
            }
            (Report::Accepted(peer), expected) => {
                panic!("seen as {peer:?}, expected {expected:?}")
            }
            (Report::Refused(_), _) => refusals += 1,
            (Report::Closed(closed), _) => closes.push(closed.code.0),
            (Report::Nostr(..), _) => panic!("a nostr hand-off: {report:?}"),
        }
    }
    assert_eq!(accepted, upgraded, "{reports:?}");
    assert_eq!(refusals, refused, "{reports:?}");
    closes
}

#[test]
#[ignore = "needs python3 with websockets, blake3 and cryptography (.ci/run installs them)"]
fn python_client_against_our_server_anonymous() {
    python_client_against_our_server(&OnTokio, &[], None);
}

#[test]
#[ignore = "needs python3 with websockets, blake3 and cryptography (.ci/run installs them)"]
fn python_client_against_our_server_with_client_certificate() {
    require_python();
    let identity = PythonIdentity::make("exchange");
    python_client_against_our_server(&OnTokio, &identity.args(), Some(&identity.mopub));
}

/// The same exchange against our server on the async-std adapter.
#[test]
#[ignore = "needs python3 with websockets, blake3 and cryptography (.ci/run installs them)"]
fn python_client_against_our_async_std_server_with_client_certificate() {
    require_python();
    let identity = PythonIdentity::make("exchange-async-std");
    python_client_against_our_server(&OnAsyncStd, &identity.args(), Some(&identity.mopub));
}

/// 2,000 upgrades by the Python client with a client certificate, four at
/// a time, each closed at once: every one is answered and seen
/// authenticated. A lost request or answer shows here; the exchange test
/// makes only about twenty connections. (This is how a race in the Python
/// client's use of OpenSSL was found: see `tlskeys.SerializedTLSSocket`.
/// Without that lock, a handful of the 2,000 time out.)
#[test]
#[ignore = "needs python3 with websockets, blake3 and cryptography (.ci/run installs them)"]
fn python_client_handshakes_repeatedly_against_our_server() {
    python_client_handshakes_repeatedly(&OnTokio, "handshakes");
}

/// The same on the async-std adapter.
#[test]
#[ignore = "needs python3 with websockets, blake3 and cryptography (.ci/run installs them)"]
fn python_client_handshakes_repeatedly_against_our_async_std_server() {
    python_client_handshakes_repeatedly(&OnAsyncStd, "handshakes-async-std");
}

fn python_client_handshakes_repeatedly(harness: &impl Harness, name: &str) {
    const CONNECTIONS: usize = 2_000;
    require_python();
    let identity = PythonIdentity::make(name);
    let server = OurServer::start(harness);
    let count = CONNECTIONS.to_string();
    let mut args = vec!["client.py", &server.url, &server.mopub];
    let identity_args = identity.args();
    args.extend_from_slice(&identity_args);
    args.extend_from_slice(&["--handshakes", &count]);
    let out = run_python(&args, CLIENT_LIMIT);
    eprintln!("{out}");
    assert!(
        out.contains(&format!("PASS: {CONNECTIONS} handshakes")),
        "{out}"
    );

    let closes = check_connections(&out, &server.reports(), Some(&identity.mopub));
    assert_eq!(
        closes,
        vec![1000; CONNECTIONS],
        "every connection closed normally"
    );
}

/// A client identity made by client.py (ed25519 key, self-signed
/// certificate) in a directory of its own, removed when dropped.
struct PythonIdentity {
    dir: PathBuf,
    cert: String,
    key: String,
    mopub: String,
}

impl PythonIdentity {
    fn make(name: &str) -> PythonIdentity {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("python-client-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let text = |path: PathBuf| path.to_str().expect("utf-8 path").to_owned();
        let made = run_python(
            &["client.py", "--make-identity", &text(dir.clone())],
            Duration::from_secs(30),
        );
        let key = mosaic_tls::parse_mopub(made.trim()).expect("client.py prints a mopub0 key");
        // Our encoding of it, which the server's reports are compared with.
        let mopub = mosaic_tls::encode_mopub(&key);
        PythonIdentity {
            cert: text(dir.join("cert.pem")),
            key: text(dir.join("key.pem")),
            dir,
            mopub,
        }
    }

    /// client.py's arguments for it.
    fn args(&self) -> [&str; 4] {
        ["--cert", &self.cert, "--key", &self.key]
    }
}

impl Drop for PythonIdentity {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// server.py running: its key, port, and the pipe whose closing stops it.
struct PythonServer {
    child: ChildGuard,
    stdin: Option<ChildStdin>,
    mopub: String,
    url: String,
}

impl PythonServer {
    fn start(args: &[&str]) -> PythonServer {
        let mut all = vec!["server.py", "--lifetime", "120"];
        all.extend_from_slice(args);
        let mut child = ChildGuard::spawn(&all, Stdio::piped());
        let stdin = child.child.stdin.take();
        let stdout = child.child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        // The first line is "MOPUB PORT"; the rest is read on the same thread.
        let reader = std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut first = String::new();
            let _ = lines.read_line(&mut first);
            let _ = tx.send(first);
            read_all(&mut lines)
        });
        child.stdout = Some(reader);
        if let Some(mut err) = child.child.stderr.take() {
            child.stderr = Some(std::thread::spawn(move || read_all(&mut err)));
        }
        let first = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if !line.trim().is_empty() => line,
            other => {
                drop(stdin);
                let (status, out, err) = child.wait(Duration::from_secs(5));
                if status.and_then(|s| s.code()) == Some(3) {
                    panic!("a Python package is missing; install with {PIP_INSTALL}\n{err}");
                }
                panic!(
                    "server.py did not say where it listens ({other:?}, {status:?})\n{out}\n{err}"
                );
            }
        };
        let mut words = first.split_whitespace();
        let mopub = words.next().expect("a key").to_owned();
        let port: u16 = words
            .next()
            .expect("a port")
            .parse()
            .expect("a port number");
        PythonServer {
            child,
            stdin,
            mopub,
            url: format!("wss://127.0.0.1:{port}/"),
        }
    }

    /// Closes its standard input and waits (bounded) for it to stop; its
    /// stdout after the first line.
    fn stop(mut self) -> String {
        drop(self.stdin.take());
        let (status, out, err) = self.child.wait(Duration::from_secs(15));
        eprintln!("server.py stdout:\n{out}\nserver.py stderr:\n{err}");
        assert!(
            status.is_some_and(|s| s.success()),
            "server.py ended with {status:?}\n{out}\n{err}"
        );
        out
    }
}

fn connect(
    url: &str,
    options: &ClientOptions,
) -> Result<mosaic_ws_tokio::ClientConnection, mosaic_ws_tokio::ConnectError> {
    OnTokio.block_on(mosaic_ws_tokio::connect(url, options))
}

#[test]
#[ignore = "needs python3 with websockets, blake3 and cryptography (.ci/run installs them)"]
fn our_tokio_client_against_python_server() {
    require_python();
    let server = PythonServer::start(&["--extensions", "sync", "--service-url", SERVICE_URL]);
    let pinned = mosaic_tls::parse_mopub(&server.mopub).expect("server.py prints a valid mopub0");

    // The example exchange, asking for two extensions of which the server has one.
    let tls = ClientTls::builder_from_mopub(&server.mopub)
        .expect("mopub")
        .build()
        .expect("tls");
    let mut options = ClientOptions::new(tls);
    options.extensions = "foo;sync".parse().expect("extension list");
    let client = connect(&server.url, &options).expect("connects to the Python server");
    let info = client.info();
    assert_eq!(info.extensions().to_string(), "sync");
    assert_eq!(
        info.service_url().map(|u| u.as_str().to_owned()),
        Some(SERVICE_URL.to_owned())
    );
    assert_eq!(info.peer_identity().key(), Some(&pinned));

    let author = Identity::generate().expect("rng");
    let mut transcript = Vec::new();
    OnTokio
        .block_on_for(
            Duration::from_secs(60),
            script::run(&client, &author, &mut transcript),
        )
        .expect("the example exchange against the Python server");
    let transcript = String::from_utf8_lossy(&transcript).into_owned();
    eprintln!("{transcript}");
    for step in [
        "→ Subscribe",
        "← Locally Complete",
        "← Submission Result OK",
        "(live) \"hello, mosaic\"",
        "(live) \"a second note\"",
        "→ Get",
        "← Record",
        "then Query Closed ON_REQUEST",
        "2 records newest first [\"a second note\", \"hello, mosaic\"]",
        "→ Unsubscribe",
        "← Query Closed",
    ] {
        assert!(
            transcript.contains(step),
            "missing {step:?} in:\n{transcript}"
        );
    }
    assert_eq!(transcript.matches("← Submission Result OK").count(), 2);
    assert!(!transcript.contains("invalid record"), "{transcript}");

    // Idle for a while: the server's keepalive pings (every 0.2 s, 2 s to
    // answer) must be answered by our client's connection task.
    std::thread::sleep(Duration::from_millis(2500));

    // The Python validator on records signed by our crate: a tampered one
    // is refused, FROM_AUTHOR needs authentication (this server asks for no
    // client certificate), a duplicate is reported.
    let good = note(&author, "checked by python", record_now());
    let mut bytes = good.as_bytes().to_vec();
    bytes[208] ^= 0x01; // first payload byte (no tags): the hash no longer matches
    let tampered = Record::from_bytes(Bytes::from(bytes)).expect("still well formed");
    let code = OnTokio.block_on(client.submit(tampered)).expect("answered");
    assert_eq!(code, SubmissionResultCode::RejectedInvalid);
    let code = OnTokio
        .block_on(client.submit(good.clone()))
        .expect("answered");
    assert_eq!(code, SubmissionResultCode::Ok);
    let code = OnTokio.block_on(client.submit(good)).expect("answered");
    assert_eq!(code, SubmissionResultCode::Duplicate);
    let from_author = note_with(
        &author,
        "from the author only",
        record_now(),
        script::demo_kind(),
        RecordFlags::FROM_AUTHOR,
        &[],
    );
    let code = OnTokio
        .block_on(client.submit(from_author))
        .expect("answered");
    assert_eq!(code, SubmissionResultCode::RejectedRequiresAuthn);
    // The largest record (1 MiB; its Submission and Record messages are
    // 1 MiB + 8 bytes) there and back.
    let text = "x".repeat(1024 * 1024 - 208);
    let largest = note(&author, &text, record_now());
    assert_eq!(largest.len(), 1024 * 1024);
    let code = OnTokio
        .block_on(client.submit(largest.clone()))
        .expect("answered");
    assert_eq!(code, SubmissionResultCode::Ok);
    let references =
        References::from_refs(&[mosaic_proto::Reference::Id(largest.id())]).expect("one ID");
    let records = OnTokio.block_on(client.get(references)).expect("sent");
    let got = OnTokio
        .block_on(records.collect_all())
        .expect("the Get is answered");
    assert_eq!(got, vec![largest]);

    client.close(mosaic_proto::CloseCode::NORMAL, "done");
    let closed = OnTokio.block_on(client.closed());
    assert_eq!(closed.code, mosaic_proto::CloseCode::NORMAL, "{closed}");

    // Only unsupported extensions requested: the server answers "-".
    let tls = ClientTls::builder(pinned).build().expect("tls");
    let mut options = ClientOptions::new(tls);
    options.extensions = "foo".parse().expect("extension list");
    let client = connect(&server.url, &options).expect("connects");
    assert!(client.info().extensions().is_empty());
    drop(client);

    // Another pinned key fails the handshake, naming the refused key.
    let other = Identity::generate().expect("rng").public_key();
    let error = connect(
        &server.url,
        &ClientOptions::new(ClientTls::builder(other).build().expect("tls")),
    )
    .expect_err("a wrong pinned key must fail");
    assert!(
        matches!(
            error.peer_cert_error(),
            Some(PeerCertError::WrongKey { .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("mopub0"), "{error}");

    let summary = server.stop();
    // The exchange stored two notes, the checks above two more.
    assert!(
        summary.contains("stored 4 records"),
        "server.py summary: {summary}"
    );
    assert!(summary.contains("TLS versions ['TLSv1.3']"), "{summary}");
    let ponged: usize = summary
        .split("pings answered on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("server.py summary without pings: {summary}"));
    assert!(ponged >= 1, "our client answered no ping: {summary}");

    // TLS 1.2 (our client offers 1.2 and 1.3; this server only 1.2).
    let server = PythonServer::start(&["--tls12-only"]);
    let tls = ClientTls::builder_from_mopub(&server.mopub)
        .expect("mopub")
        .build()
        .expect("tls");
    let client = connect(&server.url, &ClientOptions::new(tls)).expect("connects over TLS 1.2");
    let mut transcript = Vec::new();
    OnTokio
        .block_on_for(
            Duration::from_secs(60),
            script::run(&client, &author, &mut transcript),
        )
        .expect("the example exchange over TLS 1.2");
    drop(client);
    let summary = server.stop();
    assert!(summary.contains("TLS versions ['TLSv1.2']"), "{summary}");
}

#[test]
#[ignore = "needs python3 with websockets, blake3 and cryptography (.ci/run installs them)"]
fn our_client_certificate_against_python_server() {
    require_python();
    // server.py trusts exactly our client's self-signed certificate (Python's
    // ssl module verifies client certificates against a trust store).
    let identity = Identity::generate().expect("rng");
    let ca = std::env::temp_dir().join(format!(
        "mosaic-python-client-ca-{}.der",
        std::process::id()
    ));
    std::fs::write(&ca, identity.certificate().expect("certificate")).expect("write");
    let server = PythonServer::start(&["--client-ca-der", ca.to_str().expect("utf-8 path")]);
    let builder = || ClientTls::builder_from_mopub(&server.mopub).expect("mopub");
    let from_author = |author: &Identity| {
        note_with(
            author,
            "from the author only",
            record_now(),
            script::demo_kind(),
            RecordFlags::FROM_AUTHOR,
            &[],
        )
    };

    // With the certificate: authenticated as its key, so its own
    // FROM_AUTHOR records are taken and another author's are not.
    let tls = builder()
        .identity(identity.clone(), mosaic_tls::CertType::X509)
        .build()
        .expect("tls");
    let client =
        connect(&server.url, &ClientOptions::new(tls)).expect("connects with a certificate");
    let submit = |record| OnTokio.block_on(client.submit(record)).expect("answered");
    assert_eq!(submit(from_author(&identity)), SubmissionResultCode::Ok);
    let other = Identity::generate().expect("rng");
    assert_eq!(
        submit(from_author(&other)),
        SubmissionResultCode::RejectedRequiresAuthz
    );
    client.close(mosaic_proto::CloseCode::NORMAL, "done");
    let closed = OnTokio.block_on(client.closed());
    assert_eq!(closed.code, mosaic_proto::CloseCode::NORMAL, "{closed}");

    // Without one the client is anonymous (the certificate is optional).
    let client = connect(
        &server.url,
        &ClientOptions::new(builder().build().expect("tls")),
    )
    .expect("connects without a certificate");
    let code = OnTokio
        .block_on(client.submit(from_author(&identity)))
        .expect("answered");
    assert_eq!(code, SubmissionResultCode::RejectedRequiresAuthn);
    drop(client);

    // A certificate the server does not trust ends the connection. In TLS 1.3
    // the server judges the client's certificate after the client has
    // finished its handshake, so the refusal shows on the upgrade.
    let untrusted = builder()
        .identity(other, mosaic_tls::CertType::X509)
        .build()
        .expect("tls");
    let refused = connect(&server.url, &ClientOptions::new(untrusted));
    let _ = std::fs::remove_file(&ca);
    let error = refused.expect_err("server.py trusts only the one certificate");
    eprintln!("untrusted certificate: {error}");

    let summary = server.stop();
    assert!(summary.contains("stored 1 records"), "{summary}");
    assert!(summary.contains("served 2 connections"), "{summary}");
    assert!(summary.contains("authenticated clients 1,"), "{summary}");
}

#[test]
#[ignore = "needs python3 with websockets, blake3 and cryptography (.ci/run installs them)"]
fn python_signer_reproduces_the_vectors() {
    require_python();
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mosaic-proto/tests/vectors/signed_records.txt");
    let out = run_python(
        &[
            "mosaic.py",
            "--self-test",
            vectors.to_str().expect("utf-8 path"),
        ],
        Duration::from_secs(60),
    );
    eprintln!("{out}");
    assert!(out.contains("self-test passed: 3 valid vectors"), "{out}");
    // The Python zbase32 agrees with ours in both directions.
    let mut keys = 0;
    for line in out.lines().filter_map(|l| l.strip_prefix("mopub ")) {
        let (hex, mopub) = line.split_once(' ').expect("mopub HEX MOPUB");
        let key = mosaic_tls::parse_mopub(mopub).expect("our parser reads the Python mopub0");
        assert_eq!(key.as_bytes().to_vec(), hex_decode(hex));
        assert_eq!(mosaic_tls::encode_mopub(&key), mopub);
        keys += 1;
    }
    assert!(keys >= 2, "{out}");
}
