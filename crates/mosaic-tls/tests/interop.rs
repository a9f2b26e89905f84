//! Interop with TLS stacks that are not in this repository: OpenSSL's
//! `s_client`/`s_server` and GnuTLS's `gnutls-cli`/`gnutls-serv`.
//!
//! Every test is `#[ignore]`: `.ci/run` installs what they need (OpenSSL is
//! on the machine; `apt-get install -y gnutls-bin`) and runs them with
//! `cargo test -p mosaic-tls -- --ignored`. A missing program fails the test
//! with what to install; nothing is skipped.
//!
//! Each successful case asserts the negotiated version and the key each side
//! saw (the external program's own report, parsed from its output), and one
//! exchange of application data. Each failing case asserts our side's error.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Failure, Outcome, Server, accept_one, connect, serve_one, talk_with};
use mosaic_tls::ed25519_dalek::VerifyingKey;
use mosaic_tls::ed25519_dalek::pkcs8::EncodePublicKey;
use mosaic_tls::ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use mosaic_tls::rustls::pki_types::pem::PemObject;
use mosaic_tls::rustls::pki_types::{CertificateDer, SubjectPublicKeyInfoDer};
use mosaic_tls::rustls::{self, ClientConfig, ProtocolVersion};
use mosaic_tls::{
    CertType, ClientAuth, ClientTls, Identity, PeerCertError, PeerIdentity, ServerCertTypes,
    ServerTls, TlsVersions,
};

/// How long an external program may take to start, answer or exit.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------
// Plumbing: programs, files, processes.

/// The path of `program`, or a failure saying what to install.
fn require(program: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "interop test needs `{program}`, which is not installed: \
                 run `apt-get install -y {package}` (.ci/run does)"
            )
        })
}

fn openssl() -> PathBuf {
    require("openssl", "openssl")
}

fn gnutls_cli_program() -> PathBuf {
    require("gnutls-cli", "gnutls-bin")
}

fn gnutls_serv_program() -> PathBuf {
    require("gnutls-serv", "gnutls-bin")
}

/// A scratch directory, removed when dropped.
struct Workdir(PathBuf);

impl Workdir {
    fn new(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!("mosaic-tls-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes an identity's key (PKCS#8 v1 PEM, via `Identity::save`), its
    /// certificate (PEM) and its public key (SPKI PEM, for raw public keys):
    /// `NAME.key`, `NAME.crt`, `NAME.pub`.
    fn write_identity(&self, name: &str, identity: &Identity) -> (String, String, String) {
        let key = self.path(&format!("{name}.key"));
        identity.save(&key).unwrap();
        let cert = self.path(&format!("{name}.crt"));
        std::fs::write(&cert, pem("CERTIFICATE", &identity.certificate().unwrap())).unwrap();
        let public = self.path(&format!("{name}.pub"));
        let spki = identity
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        std::fs::write(&public, spki).unwrap();
        (display(&key), display(&cert), display(&public))
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn display(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// PEM of DER bytes, through OpenSSL-independent code (der's PEM encoder).
fn pem(label: &str, der: &[u8]) -> String {
    mosaic_tls::ed25519_dalek::pkcs8::spki::der::pem::encode_string(label, LineEnding::LF, der)
        .unwrap()
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running external program; killed and reaped when dropped.
struct Program {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    output: Arc<Mutex<String>>,
}

impl Program {
    fn spawn(program: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));
        let output = Arc::new(Mutex::new(String::new()));
        // Both streams into one text; each reader ends when its pipe closes.
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for mut stream in [
            Box::new(stdout) as Box<dyn Read + Send>,
            Box::new(stderr) as Box<dyn Read + Send>,
        ] {
            let output = output.clone();
            thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(read @ 1..) = stream.read(&mut buffer) {
                    output
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buffer[..read]));
                }
            });
        }
        Self {
            name: format!("{} {}", program.display(), args.join(" ")),
            stdin: child.stdin.take(),
            child,
            output,
        }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    fn write_stdin(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until the output contains `needle`.
    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + PROGRAM_TIMEOUT;
        while !self.output().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{} did not print {needle:?}; it printed:\n{}",
                self.name,
                self.output()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the program to exit by itself (killing it after the
    /// timeout), then gives all it printed.
    fn finish(mut self) -> String {
        let deadline = Instant::now() + PROGRAM_TIMEOUT;
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        self.stop()
    }

    /// Kills the program, then gives all it printed.
    fn stop(&mut self) -> String {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Let the readers drain what is left in the pipes.
        thread::sleep(Duration::from_millis(50));
        self.output()
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// What the external programs printed.

/// The key of the only certificate in `output` (PEM blocks labelled
/// CERTIFICATE; other text is ignored).
fn certificate_key(output: &str) -> VerifyingKey {
    let certificates: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(output.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(certificates.len(), 1, "certificates in:\n{output}");
    key_of(&certificates[0])
}

/// The key of the only raw public key in `output` (PEM PUBLIC KEY blocks).
fn raw_public_key(output: &str) -> VerifyingKey {
    let keys: Vec<SubjectPublicKeyInfoDer<'static>> =
        SubjectPublicKeyInfoDer::pem_slice_iter(output.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(keys.len(), 1, "public keys in:\n{output}");
    key_of(&CertificateDer::from(keys[0].to_vec()))
}

fn key_of(certificate: &CertificateDer<'_>) -> VerifyingKey {
    match PeerIdentity::from_certificates(Some(std::slice::from_ref(certificate))).unwrap() {
        PeerIdentity::Authenticated(key) => key,
        PeerIdentity::Anonymous => unreachable!(),
    }
}

/// The version in a line of `output` starting with `prefix`, then `TLSv1.3`
/// (OpenSSL) or `TLS1.3` (GnuTLS) or the like.
fn version_after(output: &str, prefix: &str) -> ProtocolVersion {
    let rest = output
        .lines()
        .find_map(|line| line.trim_start().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{output}"));
    let rest = rest.trim_start();
    if rest.starts_with("TLSv1.3") || rest.starts_with("TLS1.3") {
        ProtocolVersion::TLSv1_3
    } else if rest.starts_with("TLSv1.2") || rest.starts_with("TLS1.2") {
        ProtocolVersion::TLSv1_2
    } else {
        panic!("unknown version in {rest:?}")
    }
}

/// The protocol version of the SSL session `openssl s_server` printed (as
/// PEM), decoded by `openssl sess_id`.
fn openssl_session_version(output: &str) -> ProtocolVersion {
    let begin = "-----BEGIN SSL SESSION PARAMETERS-----";
    let end = "-----END SSL SESSION PARAMETERS-----";
    let start = output
        .find(begin)
        .unwrap_or_else(|| panic!("no session in:\n{output}"));
    let stop = output[start..].find(end).unwrap() + start + end.len();
    let mut sess_id = Command::new(openssl())
        .args(["sess_id", "-noout", "-text"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    sess_id
        .stdin
        .take()
        .unwrap()
        .write_all(&output.as_bytes()[start..stop])
        .unwrap();
    let text = sess_id.wait_with_output().unwrap();
    version_after(&String::from_utf8_lossy(&text.stdout), "Protocol  :")
}

// ---------------------------------------------------------------------------
// Scenarios.

/// The answer our server sends external clients: a marker they print.
fn marker(byte: u8) -> Vec<u8> {
    format!("\nmosaic-server-got-{}\n", char::from(byte)).into_bytes()
}

/// Our server on a loopback port, `client` started against it: what our
/// server saw, and all the client printed. The client is sent `p`.
fn our_server_with(
    server: ServerTls,
    client: impl FnOnce(u16) -> Program,
) -> (Result<Outcome, Failure>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = Server::from(server);
    let handle = thread::spawn(move || {
        let tcp = accept_one(&listener)?;
        serve_one(&server, tcp, marker)
    });
    let mut client = client(port);
    client.write_stdin(b"p");
    let result = handle.join().expect("server thread panicked");
    // The client exits when our server closes (or fails) the connection.
    let output = client.finish();
    (result, output)
}

/// `server` started on `port` and ready (it printed `ready`); our client
/// sends `send`, and expects `expect` back (which `server` echoes, or is
/// sent on its standard input once it printed what it received): what our
/// client saw, and all the server printed.
fn our_client_with(
    config: Arc<ClientConfig>,
    mut server: Program,
    port: u16,
    ready: &str,
    send: &str,
    expect: &str,
    echo: bool,
) -> (Result<Outcome, Failure>, String) {
    server.wait_for(ready);
    let result = connect(port).map_err(Failure::from).and_then(|tcp| {
        talk_with(config, tcp, send.as_bytes(), expect.as_bytes(), || {
            if !echo {
                // Only now: had s_server read its input before the
                // handshake, it would not print the connection.
                server.wait_for(send.trim_end());
                server.write_stdin(expect.as_bytes());
            }
        })
    });
    // Give the server a moment to print what it saw, then stop it.
    thread::sleep(Duration::from_millis(200));
    let output = server.stop();
    (result, output)
}

fn server_identity() -> Identity {
    Identity::generate().unwrap()
}

fn client_identity() -> Identity {
    Identity::generate().unwrap()
}

fn assert_ok_outcome(
    result: Result<Outcome, Failure>,
    version: ProtocolVersion,
    peer: PeerIdentity,
    external: &str,
) {
    let outcome = result.unwrap_or_else(|error| {
        panic!("our side failed: {error:?}; the other program printed:\n{external}")
    });
    assert_eq!(outcome.version, version, "{external}");
    assert_eq!(outcome.peer, peer, "{external}");
}

// ---------------------------------------------------------------------------
// OpenSSL s_client against our server.

fn s_client(port: u16, version: &str, client: Option<(&str, &str)>, extra: &[&str]) -> Program {
    let connect = format!("127.0.0.1:{port}");
    let mut args = vec!["s_client", "-connect", &connect, version];
    if let Some((cert, key)) = client {
        args.extend(["-cert", cert, "-key", key]);
    }
    args.extend(extra);
    Program::spawn(&openssl(), &args)
}

fn s_client_case(version: ProtocolVersion, with_client_cert: bool) {
    let dir = Workdir::new(&format!("s-client-{version:?}-{with_client_cert}"));
    let server = server_identity();
    let client = client_identity();
    let (client_key, client_cert, _) = dir.write_identity("client", &client);
    let flag = match version {
        ProtocolVersion::TLSv1_3 => "-tls1_3",
        _ => "-tls1_2",
    };
    let server_tls = ServerTls::builder(server.clone())
        .client_auth(if with_client_cert {
            ClientAuth::Required
        } else {
            ClientAuth::Optional
        })
        .build()
        .unwrap();
    let certificate = with_client_cert.then_some((client_cert.as_str(), client_key.as_str()));
    let (result, output) =
        our_server_with(server_tls, |port| s_client(port, flag, certificate, &[]));
    let expected_peer = if with_client_cert {
        PeerIdentity::Authenticated(client.public_key())
    } else {
        PeerIdentity::Anonymous
    };
    assert_ok_outcome(result, version, expected_peer, &output);
    // What s_client saw: the version, our key, an ed25519 handshake
    // signature, and our answer to its byte.
    assert_eq!(version_after(&output, "New,"), version, "{output}");
    assert_eq!(certificate_key(&output), server.public_key(), "{output}");
    assert!(output.contains("Peer signature type: ed25519"), "{output}");
    assert!(output.contains("mosaic-server-got-p"), "{output}");
}

#[test]
#[ignore = "interop: needs openssl; run by .ci/run"]
fn openssl_s_client_tls13() {
    s_client_case(ProtocolVersion::TLSv1_3, false);
}

#[test]
#[ignore = "interop: needs openssl; run by .ci/run"]
fn openssl_s_client_tls13_with_client_certificate() {
    s_client_case(ProtocolVersion::TLSv1_3, true);
}

#[test]
#[ignore = "interop: needs openssl; run by .ci/run"]
fn openssl_s_client_tls12() {
    s_client_case(ProtocolVersion::TLSv1_2, false);
}

#[test]
#[ignore = "interop: needs openssl; run by .ci/run"]
fn openssl_s_client_tls12_with_client_certificate() {
    s_client_case(ProtocolVersion::TLSv1_2, true);
}

#[test]
#[ignore = "interop: needs openssl; run by .ci/run"]
fn openssl_s_client_refused() {
    let dir = Workdir::new("s-client-refused");
    let server = server_identity();
    let (client_key, client_cert, _) = dir.write_identity("client", &client_identity());
    let ec_key = display(&dir.path("ec.key"));
    let ec_cert = display(&dir.path("ec.crt"));
    openssl_self_signed(
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        &ec_key,
        &ec_cert,
    );

    let required = || {
        ServerTls::builder(server.clone())
            .client_auth(ClientAuth::Required)
            .build()
            .unwrap()
    };
    // No client certificate under Required.
    let (result, output) = our_server_with(required(), |port| s_client(port, "-tls1_3", None, &[]));
    let failure = result.expect_err("no client certificate must fail");
    assert!(
        matches!(failure.tls(), Some(rustls::Error::NoCertificatesPresented)),
        "{failure:?}\n{output}"
    );
    // An ECDSA client certificate under Required: OpenSSL cannot sign with
    // ED25519, the only scheme we ask for, so it sends no certificate.
    let (result, output) = our_server_with(required(), |port| {
        s_client(port, "-tls1_3", Some((&ec_cert, &ec_key)), &[])
    });
    assert!(
        result.is_err(),
        "ECDSA client certificate accepted:\n{output}"
    );
    // A client that offers no ED25519 signature scheme.
    let (result, output) = our_server_with(required(), |port| {
        s_client(
            port,
            "-tls1_3",
            Some((&client_cert, &client_key)),
            &["-sigalgs", "ECDSA+SHA256:RSA-PSS+SHA256"],
        )
    });
    let failure = result.expect_err("no ed25519 signature scheme must fail");
    assert!(
        matches!(
            failure.tls(),
            Some(rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::NoSignatureSchemesInCommon
            ))
        ),
        "{failure:?}\n{output}"
    );
    // TLS 1.2 against a TLS 1.3-only server.
    let only13 = ServerTls::builder(server.clone())
        .versions(TlsVersions::Tls13Only)
        .build()
        .unwrap();
    let (result, output) = our_server_with(only13, |port| s_client(port, "-tls1_2", None, &[]));
    let failure = result.expect_err("TLS 1.2 must fail against TLS 1.3 only");
    assert!(
        matches!(failure.tls(), Some(rustls::Error::PeerIncompatible(_))),
        "{failure:?}\n{output}"
    );
}

// ---------------------------------------------------------------------------
// Our client against OpenSSL s_server.

/// A self-signed certificate and key made by OpenSSL itself.
fn openssl_self_signed(new_key: &[&str], key: &str, cert: &str) {
    let mut args = vec![
        "req",
        "-x509",
        "-nodes",
        "-subj",
        "/CN=openssl-made",
        "-days",
        "2",
    ];
    args.extend(new_key);
    args.extend(["-keyout", key, "-out", cert]);
    let status = Command::new(openssl()).args(&args).output().unwrap();
    assert!(status.status.success(), "{status:?}");
}

fn s_server(port: u16, version: &str, cert: &str, key: &str, extra: &[&str]) -> Program {
    let accept = format!("127.0.0.1:{port}");
    let mut args = vec![
        "s_server", "-accept", &accept, "-naccept", "1", version, "-cert", cert, "-key", key,
    ];
    args.extend(extra);
    Program::spawn(&openssl(), &args)
}

fn s_server_case(version: ProtocolVersion, with_client_cert: bool) {
    let dir = Workdir::new(&format!("s-server-{version:?}-{with_client_cert}"));
    let server = server_identity();
    let client = client_identity();
    let (server_key, server_cert, _) = dir.write_identity("server", &server);
    let flag = match version {
        ProtocolVersion::TLSv1_3 => "-tls1_3",
        _ => "-tls1_2",
    };
    let mut builder = ClientTls::builder(server.public_key());
    if with_client_cert {
        builder = builder.identity(client.clone(), CertType::X509);
    }
    let port = free_port();
    // -Verify: require a client certificate (OpenSSL's own chain check is
    // not fatal there: it reports our self-signed certificate and goes on).
    let extra: &[&str] = if with_client_cert {
        &["-Verify", "1"]
    } else {
        &[]
    };
    let (result, output) = our_client_with(
        builder.build().unwrap().config(),
        s_server(port, flag, &server_cert, &server_key, extra),
        port,
        "ACCEPT",
        "mosaic-client-says-hi\n",
        "openssl-says-hi\n",
        false,
    );
    assert_ok_outcome(
        result,
        version,
        PeerIdentity::Authenticated(server.public_key()),
        &output,
    );
    // What s_server saw.
    assert_eq!(openssl_session_version(&output), version, "{output}");
    assert!(output.contains("mosaic-client-says-hi"), "{output}");
    if with_client_cert {
        assert!(output.contains("Client certificate"), "{output}");
        assert_eq!(certificate_key(&output), client.public_key(), "{output}");
        assert!(output.contains("Peer signature type: ed25519"), "{output}");
    } else {
        assert!(!output.contains("Client certificate"), "{output}");
    }
}

#[test]
#[ignore = "interop: needs openssl; run by .ci/run"]
fn openssl_s_server_tls13() {
    s_server_case(ProtocolVersion::TLSv1_3, false);
}

#[test]
#[ignore = "interop: needs openssl; run by .ci/run"]
fn openssl_s_server_tls13_with_client_certificate() {
    s_server_case(ProtocolVersion::TLSv1_3, true);
}

#[test]
#[ignore = "interop: needs openssl; run by .ci/run"]
fn openssl_s_server_tls12() {
    s_server_case(ProtocolVersion::TLSv1_2, false);
}

#[test]
#[ignore = "interop: needs openssl; run by .ci/run"]
fn openssl_s_server_tls12_with_client_certificate() {
    s_server_case(ProtocolVersion::TLSv1_2, true);
}

#[test]
#[ignore = "interop: needs openssl; run by .ci/run"]
fn openssl_made_key_and_certificate() {
    // A key and certificate made by OpenSSL alone: our client loads the key
    // file to learn the key to pin, and accepts OpenSSL's certificate.
    let dir = Workdir::new("openssl-made");
    let key = display(&dir.path("ed.key"));
    let cert = display(&dir.path("ed.crt"));
    openssl_self_signed(&["-newkey", "ed25519"], &key, &cert);
    let pinned = Identity::load(&key).unwrap().public_key();
    for version in ["-tls1_3", "-tls1_2"] {
        let port = free_port();
        let (result, output) = our_client_with(
            ClientTls::builder(pinned).build().unwrap().config(),
            s_server(port, version, &cert, &key, &[]),
            port,
            "ACCEPT",
            "hello\n",
            "openssl-says-hi\n",
            false,
        );
        let outcome = result.unwrap_or_else(|e| panic!("{e:?}\n{output}"));
        assert_eq!(outcome.peer, PeerIdentity::Authenticated(pinned));
    }
}

/// Our client against `s_server` with a bad certificate: the error our
/// client reports.
fn s_server_refused(
    client: Arc<ClientConfig>,
    version: &str,
    cert: &str,
    key: &str,
) -> (Failure, String) {
    let port = free_port();
    let (result, output) = our_client_with(
        client,
        s_server(port, version, cert, key, &[]),
        port,
        "ACCEPT",
        "hello\n",
        "openssl-says-hi\n",
        false,
    );
    match result {
        Ok(outcome) => panic!("connected to a bad server: {outcome:?}\n{output}"),
        Err(failure) => (failure, output),
    }
}

#[test]
#[ignore = "interop: needs openssl; run by .ci/run"]
fn openssl_s_server_bad_certificates_refused() {
    let dir = Workdir::new("s-server-bad");
    let server = server_identity();
    let client = ClientTls::builder(server.public_key()).build().unwrap();

    // Another ed25519 key: the wrong key.
    let (other_key, other_cert, _) = dir.write_identity("other", &client_identity());
    for version in ["-tls1_3", "-tls1_2"] {
        let (failure, output) = s_server_refused(client.config(), version, &other_cert, &other_key);
        assert!(
            matches!(
                failure.peer_cert_error(),
                Some(PeerCertError::WrongKey { .. })
            ),
            "{failure:?}\n{output}"
        );
    }
    // RSA and ECDSA certificates: OpenSSL cannot sign with ED25519, the only
    // scheme we offer, so it aborts the handshake before sending them.
    for (name, new_key) in [
        ("rsa", &["-newkey", "rsa:2048"][..]),
        (
            "ec",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
        ),
    ] {
        let key = display(&dir.path(&format!("{name}.key")));
        let cert = display(&dir.path(&format!("{name}.crt")));
        openssl_self_signed(new_key, &key, &cert);
        for version in ["-tls1_3", "-tls1_2"] {
            let (failure, output) = s_server_refused(client.config(), version, &cert, &key);
            assert!(
                matches!(
                    failure.tls(),
                    Some(rustls::Error::AlertReceived(
                        rustls::AlertDescription::HandshakeFailure
                    ))
                ),
                "{name} {version}: {failure:?}\n{output}"
            );
        }
    }
    // Our own certificate, tampered: the self-signature fails.
    let (server_key, server_cert, _) = dir.write_identity("server", &server);
    let mut der = server.certificate().unwrap().to_vec();
    let last = der.len() - 1;
    der[last] ^= 1;
    std::fs::write(&server_cert, pem("CERTIFICATE", &der)).unwrap();
    let (failure, output) = s_server_refused(client.config(), "-tls1_3", &server_cert, &server_key);
    assert_eq!(
        failure.peer_cert_error(),
        Some(&PeerCertError::BadSelfSignature),
        "{failure:?}\n{output}"
    );
    // A downgrade: TLS 1.2 only, to a TLS 1.3-only client.
    let (server_key, server_cert, _) = dir.write_identity("server", &server);
    let only13 = ClientTls::builder(server.public_key())
        .versions(TlsVersions::Tls13Only)
        .build()
        .unwrap();
    let (failure, output) = s_server_refused(only13.config(), "-tls1_2", &server_cert, &server_key);
    assert!(
        matches!(
            failure.tls(),
            Some(rustls::Error::AlertReceived(
                rustls::AlertDescription::ProtocolVersion
            ))
        ),
        "{failure:?}\n{output}"
    );
}

// ---------------------------------------------------------------------------
// GnuTLS.

/// GnuTLS priorities: TLS 1.3 (or 1.2); raw public keys preferred over
/// X.509 for the server's certificate when `server_raw`, for the client's
/// when `client_raw` (GnuTLS cancels the handshake when asked for a
/// certificate type it has no key for, so a client without a raw public key
/// must not prefer them).
fn gnutls_priority(version: ProtocolVersion, server_raw: bool, client_raw: bool) -> String {
    let version = match version {
        ProtocolVersion::TLSv1_3 => "+VERS-TLS1.3",
        _ => "+VERS-TLS1.2",
    };
    let client = if client_raw {
        "+CTYPE-CLI-RAWPK:+CTYPE-CLI-X509"
    } else {
        "+CTYPE-CLI-X509"
    };
    let server = if server_raw {
        "+CTYPE-SRV-RAWPK:+CTYPE-SRV-X509"
    } else {
        "+CTYPE-SRV-X509"
    };
    format!("NORMAL:-VERS-ALL:{version}:-CTYPE-ALL:{client}:{server}")
}

fn gnutls_cli(port: u16, priority: &str, credentials: &[&str]) -> Program {
    let port = port.to_string();
    let mut args = vec![
        "127.0.0.1",
        "--port",
        &port,
        "--priority",
        priority,
        // No PKI: the server's key is checked below from what it printed.
        "--insecure",
        "--print-cert",
    ];
    args.extend(credentials);
    Program::spawn(&gnutls_cli_program(), &args)
}

fn gnutls_cli_case(version: ProtocolVersion, raw: bool, with_client_cert: bool) {
    let dir = Workdir::new(&format!("gnutls-cli-{version:?}-{raw}-{with_client_cert}"));
    let server = server_identity();
    let client = client_identity();
    let (client_key, client_cert, client_pub) = dir.write_identity("client", &client);
    let credentials: Vec<&str> = match (with_client_cert, raw) {
        (false, _) => vec![],
        (true, true) => vec!["--rawpkkeyfile", &client_key, "--rawpkfile", &client_pub],
        (true, false) => vec!["--x509keyfile", &client_key, "--x509certfile", &client_cert],
    };
    let priority = gnutls_priority(version, raw, raw && with_client_cert);
    let server_tls = ServerTls::builder(server.clone())
        .cert_types(ServerCertTypes::Both)
        .client_auth(if with_client_cert {
            ClientAuth::Required
        } else {
            ClientAuth::Optional
        })
        .build()
        .unwrap();
    let (result, output) =
        our_server_with(server_tls, |port| gnutls_cli(port, &priority, &credentials));
    let expected_peer = if with_client_cert {
        PeerIdentity::Authenticated(client.public_key())
    } else {
        PeerIdentity::Anonymous
    };
    assert_ok_outcome(result, version, expected_peer, &output);
    // What gnutls-cli saw.
    assert_eq!(
        version_after(&output, "- Description: ("),
        version,
        "{output}"
    );
    let seen = if raw {
        assert!(
            output.contains("- Certificate type: Raw Public Key"),
            "{output}"
        );
        raw_public_key(&output)
    } else {
        assert!(output.contains("- Certificate type: X.509"), "{output}");
        certificate_key(&output)
    };
    assert_eq!(seen, server.public_key(), "{output}");
    assert!(output.contains("mosaic-server-got-p"), "{output}");
}

#[test]
#[ignore = "interop: needs gnutls-bin; run by .ci/run"]
fn gnutls_cli_raw_public_keys_tls13() {
    gnutls_cli_case(ProtocolVersion::TLSv1_3, true, false);
}

#[test]
#[ignore = "interop: needs gnutls-bin; run by .ci/run"]
fn gnutls_cli_raw_public_keys_tls13_with_client_key() {
    gnutls_cli_case(ProtocolVersion::TLSv1_3, true, true);
}

#[test]
#[ignore = "interop: needs gnutls-bin; run by .ci/run"]
fn gnutls_cli_x509_tls13_with_client_certificate() {
    gnutls_cli_case(ProtocolVersion::TLSv1_3, false, true);
}

#[test]
#[ignore = "interop: needs gnutls-bin; run by .ci/run"]
fn gnutls_cli_x509_tls12() {
    gnutls_cli_case(ProtocolVersion::TLSv1_2, false, false);
}

#[test]
#[ignore = "interop: needs gnutls-bin; run by .ci/run"]
fn gnutls_cli_x509_tls12_with_client_certificate() {
    gnutls_cli_case(ProtocolVersion::TLSv1_2, false, true);
}

fn gnutls_serv(port: u16, priority: &str, credentials: &[&str], extra: &[&str]) -> Program {
    let port = port.to_string();
    let mut args = vec!["--port", &port, "--echo", "--priority", priority];
    args.extend(credentials);
    args.extend(extra);
    Program::spawn(&gnutls_serv_program(), &args)
}

fn gnutls_serv_case(version: ProtocolVersion, raw: bool, with_client_cert: bool) {
    let dir = Workdir::new(&format!("gnutls-serv-{version:?}-{raw}-{with_client_cert}"));
    let server = server_identity();
    let client = client_identity();
    let (server_key, server_cert, server_pub) = dir.write_identity("server", &server);
    let credentials: Vec<&str> = if raw {
        vec!["--rawpkkeyfile", &server_key, "--rawpkfile", &server_pub]
    } else {
        vec!["--x509keyfile", &server_key, "--x509certfile", &server_cert]
    };
    let kind = if raw {
        CertType::RawPublicKey
    } else {
        CertType::X509
    };
    let mut builder = ClientTls::builder(server.public_key()).server_cert_type(kind);
    if with_client_cert {
        builder = builder.identity(client.clone(), kind);
    }
    let extra: &[&str] = if with_client_cert {
        &["--require-client-cert"]
    } else {
        &[]
    };
    let port = free_port();
    let priority = gnutls_priority(version, raw, raw);
    let (result, output) = our_client_with(
        builder.build().unwrap().config(),
        gnutls_serv(port, &priority, &credentials, extra),
        port,
        "listening on IPv4",
        "mosaic-client-says-hi\n",
        "mosaic-client-says-hi\n",
        true,
    );
    assert_ok_outcome(
        result,
        version,
        PeerIdentity::Authenticated(server.public_key()),
        &output,
    );
    // What gnutls-serv saw.
    assert_eq!(version_after(&output, "- Version:"), version, "{output}");
    if with_client_cert {
        let seen = if raw {
            assert!(
                output.contains("- Certificate type: Raw Public Key"),
                "{output}"
            );
            raw_public_key(&output)
        } else {
            certificate_key(&output)
        };
        assert_eq!(seen, client.public_key(), "{output}");
        assert!(
            output.contains("- Client Signature: EdDSA-Ed25519"),
            "{output}"
        );
    }
}

#[test]
#[ignore = "interop: needs gnutls-bin; run by .ci/run"]
fn gnutls_serv_raw_public_keys_tls13() {
    gnutls_serv_case(ProtocolVersion::TLSv1_3, true, false);
}

#[test]
#[ignore = "interop: needs gnutls-bin; run by .ci/run"]
fn gnutls_serv_raw_public_keys_tls13_with_client_key() {
    gnutls_serv_case(ProtocolVersion::TLSv1_3, true, true);
}

#[test]
#[ignore = "interop: needs gnutls-bin; run by .ci/run"]
fn gnutls_serv_x509_tls13_with_client_certificate() {
    gnutls_serv_case(ProtocolVersion::TLSv1_3, false, true);
}

#[test]
#[ignore = "interop: needs gnutls-bin; run by .ci/run"]
fn gnutls_serv_x509_tls12_with_client_certificate() {
    gnutls_serv_case(ProtocolVersion::TLSv1_2, false, true);
}

#[test]
#[ignore = "interop: needs gnutls-bin; run by .ci/run"]
fn gnutls_serv_bad_keys_refused() {
    let dir = Workdir::new("gnutls-serv-bad");
    let server = server_identity();
    // Another key, as a raw public key and as a certificate.
    let (key, cert, public) = dir.write_identity("other", &client_identity());
    for raw in [true, false] {
        let (credentials, kind) = if raw {
            (
                vec!["--rawpkkeyfile", &key, "--rawpkfile", &public],
                CertType::RawPublicKey,
            )
        } else {
            (
                vec!["--x509keyfile", &key, "--x509certfile", &cert],
                CertType::X509,
            )
        };
        let port = free_port();
        let client = ClientTls::builder(server.public_key())
            .server_cert_type(kind)
            .build()
            .unwrap();
        let (result, output) = our_client_with(
            client.config(),
            gnutls_serv(
                port,
                &gnutls_priority(ProtocolVersion::TLSv1_3, raw, raw),
                &credentials,
                &[],
            ),
            port,
            "listening on IPv4",
            "hi\n",
            "hi\n",
            true,
        );
        let failure = result.expect_err("wrong key must fail");
        assert!(
            matches!(
                failure.peer_cert_error(),
                Some(PeerCertError::WrongKey { .. })
            ),
            "{failure:?}\n{output}"
        );
    }
    // Raw public keys over TLS 1.2: our client never offers TLS 1.2 with
    // raw public keys, so a TLS 1.2-only GnuTLS server cannot serve one.
    let (key, _, public) = dir.write_identity("server", &server);
    let port = free_port();
    let client = ClientTls::builder(server.public_key())
        .server_cert_type(CertType::RawPublicKey)
        .build()
        .unwrap();
    let (result, output) = our_client_with(
        client.config(),
        gnutls_serv(
            port,
            &gnutls_priority(ProtocolVersion::TLSv1_2, true, true),
            &["--rawpkkeyfile", &key, "--rawpkfile", &public],
            &[],
        ),
        port,
        "listening on IPv4",
        "hi\n",
        "hi\n",
        true,
    );
    // GnuTLS answers with a TLS 1.2 ServerHello, which our client refuses.
    let failure = result.expect_err("raw public key over TLS 1.2 must fail");
    assert!(
        matches!(
            failure.tls(),
            Some(rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            ))
        ),
        "{failure:?}\n{output}"
    );
}
