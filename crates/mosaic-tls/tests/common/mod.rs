//! Loopback TCP plumbing shared by the integration tests: one server thread,
//! one client, std `TcpStream` on 127.0.0.1 with timeouts, rustls's blocking
//! `StreamOwned`.

#![allow(dead_code, unreachable_pub)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mosaic_tls::rustls::pki_types::ServerName;
use mosaic_tls::rustls::server::Acceptor;
use mosaic_tls::rustls::{
    self, ClientConfig, ClientConnection, ProtocolVersion, ServerConfig, ServerConnection,
    StreamOwned,
};
use mosaic_tls::{PeerCertError, PeerIdentity, ServerTls};

/// Every socket read and write gives up after this long.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// What one side saw of a successful connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub version: ProtocolVersion,
    pub peer: PeerIdentity,
    pub alpn: Option<Vec<u8>>,
}

/// Why one side failed.
#[derive(Debug)]
pub enum Failure {
    Tls(rustls::Error),
    Io(io::Error),
    Other(String),
}

impl Failure {
    /// The PeerCertError inside, if any.
    pub fn peer_cert_error(&self) -> Option<&PeerCertError> {
        match self {
            Failure::Tls(error) => PeerCertError::from_rustls(error),
            _ => None,
        }
    }

    pub fn tls(&self) -> Option<&rustls::Error> {
        match self {
            Failure::Tls(error) => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        match error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(inner) => Failure::Tls(inner.clone()),
            None => Failure::Io(error),
        }
    }
}

impl From<rustls::Error> for Failure {
    fn from(error: rustls::Error) -> Self {
        Failure::Tls(error)
    }
}

/// How the server side is configured.
#[derive(Clone)]
pub enum Server {
    /// A mosaic-tls server: rustls's `Acceptor`, then `config_for`.
    Mosaic(Box<ServerTls>),
    /// A fixed rustls configuration (a deviant peer built in the test).
    Plain(Arc<ServerConfig>),
}

impl From<ServerTls> for Server {
    fn from(server: ServerTls) -> Self {
        Server::Mosaic(Box::new(server))
    }
}

/// A TCP stream on loopback with timeouts set.
fn with_timeouts(tcp: TcpStream) -> io::Result<TcpStream> {
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// Accepts one connection, polling so that a client that never comes does
/// not hang the test.
pub fn accept_one(listener: &TcpListener) -> io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        match listener.accept() {
            Ok((tcp, _)) => {
                tcp.set_nonblocking(false)?;
                return with_timeouts(tcp);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "no client came"));
                }
                thread::sleep(Duration::from_millis(5));
            }
            Err(error) => return Err(error),
        }
    }
}

pub fn connect(port: u16) -> io::Result<TcpStream> {
    with_timeouts(TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        IO_TIMEOUT,
    )?)
}

fn finish_handshake<C, S>(tls: &mut StreamOwned<C, TcpStream>) -> Result<(), Failure>
where
    C: std::ops::DerefMut<Target = rustls::ConnectionCommon<S>>,
    S: rustls::SideData,
{
    // Bounded: each round trip either makes progress or times out.
    for _ in 0..32 {
        if !tls.conn.is_handshaking() {
            return Ok(());
        }
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Err(Failure::Other(
        "handshake did not finish in 32 rounds".into(),
    ))
}

/// Serves one connection: handshake, read one byte, answer `reply(byte)`.
pub fn serve_one(
    server: &Server,
    mut tcp: TcpStream,
    reply: fn(u8) -> Vec<u8>,
) -> Result<Outcome, Failure> {
    let connection = match server {
        Server::Plain(config) => ServerConnection::new(config.clone())?,
        Server::Mosaic(server) => {
            let mut acceptor = Acceptor::default();
            let accepted = loop {
                if acceptor.read_tls(&mut tcp)? == 0 {
                    return Err(Failure::Other("client closed before its hello".into()));
                }
                match acceptor.accept() {
                    Ok(Some(accepted)) => break accepted,
                    Ok(None) => {}
                    Err((error, mut alert)) => {
                        let _ = alert.write_all(&mut tcp);
                        return Err(error.into());
                    }
                }
            };
            let config = server.config_for(&accepted.client_hello());
            match accepted.into_connection(config) {
                Ok(connection) => connection,
                Err((error, mut alert)) => {
                    let _ = alert.write_all(&mut tcp);
                    return Err(error.into());
                }
            }
        }
    };
    let mut tls = StreamOwned::new(connection, tcp);
    finish_handshake(&mut tls)?;
    let peer = PeerIdentity::from_connection(&tls.conn)
        .map_err(|error| Failure::Other(error.to_string()))?;
    let mut byte = [0u8; 1];
    tls.read_exact(&mut byte)?;
    tls.write_all(&reply(byte[0]))?;
    tls.flush()?;
    let outcome = Outcome {
        version: tls
            .conn
            .protocol_version()
            .expect("version after handshake"),
        peer,
        alpn: tls.conn.alpn_protocol().map(<[u8]>::to_vec),
    };
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
    Ok(outcome)
}

/// The loopback tests' answer: the byte plus one.
pub fn next_byte(byte: u8) -> Vec<u8> {
    vec![byte.wrapping_add(1)]
}

/// Connects, sends `a`, expects `b` back.
pub fn talk(config: Arc<ClientConfig>, tcp: TcpStream) -> Result<Outcome, Failure> {
    talk_with(config, tcp, b"a", b"b", || {})
}

/// Connects, sends `send`, calls `between`, then reads until `expect` has
/// come (it must come at the end of what was read).
pub fn talk_with(
    config: Arc<ClientConfig>,
    tcp: TcpStream,
    send: &[u8],
    expect: &[u8],
    between: impl FnOnce(),
) -> Result<Outcome, Failure> {
    let name = ServerName::try_from("mosaic.test").expect("valid name");
    let connection = ClientConnection::new(config, name)?;
    let mut tls = StreamOwned::new(connection, tcp);
    finish_handshake(&mut tls)?;
    let peer = PeerIdentity::from_connection(&tls.conn)
        .map_err(|error| Failure::Other(error.to_string()))?;
    tls.write_all(send)?;
    tls.flush()?;
    between();
    let mut received = Vec::new();
    while !received.ends_with(expect) {
        let mut buffer = [0u8; 256];
        let read = tls.read(&mut buffer)?;
        if read == 0 || received.len() > 4096 {
            return Err(Failure::Other(format!(
                "expected {:?}, got {:?}",
                String::from_utf8_lossy(expect),
                String::from_utf8_lossy(&received)
            )));
        }
        received.extend_from_slice(&buffer[..read]);
    }
    let outcome = Outcome {
        version: tls
            .conn
            .protocol_version()
            .expect("version after handshake"),
        peer,
        alpn: tls.conn.alpn_protocol().map(<[u8]>::to_vec),
    };
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
    Ok(outcome)
}

/// One connection over loopback TCP: (server's result, client's result).
pub fn run(
    server: &Server,
    client: Arc<ClientConfig>,
) -> (Result<Outcome, Failure>, Result<Outcome, Failure>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("local address").port();
    let server = server.clone();
    let handle = thread::spawn(move || {
        let tcp = accept_one(&listener)?;
        serve_one(&server, tcp, next_byte)
    });
    let client_result = connect(port)
        .map_err(Failure::from)
        .and_then(|tcp| talk(client, tcp));
    let server_result = handle.join().expect("server thread panicked");
    (server_result, client_result)
}
