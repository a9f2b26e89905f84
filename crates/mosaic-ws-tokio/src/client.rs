//! Connecting to a Mosaic server: TCP, TLS with the pinned key, the upgrade
//! with the Mosaic headers, then the session.

use mosaic_handshake::{ClientHandshake, Host, MosaicUrl};
use mosaic_tls::PeerIdentity;
use mosaic_tls::rustls::pki_types::ServerName;
use mosaic_ws::{ClientConnection, ClientOptions, ConnectError, ConnectionInfo};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tungstenite::client::IntoClientRequest;

use crate::TokioRuntime;

/// Connects to the server at `url` (`wss://host[:port]/`), all within the
/// handshake timeout.
///
/// # Errors
/// [`ConnectError`] says which step failed: the URL, DNS, TCP, TLS (a server
/// key other than the pinned one fails here), the upgrade or its Mosaic
/// headers, or the timeout.
pub async fn connect(url: &str, options: &ClientOptions) -> Result<ClientConnection, ConnectError> {
    let url = MosaicUrl::parse(url)?;
    let limit = options.limits.handshake_timeout;
    tokio::time::timeout(limit, connect_to(&url, options))
        .await
        .map_err(|_| ConnectError::Timeout(limit))?
}

async fn connect_to(
    url: &MosaicUrl,
    options: &ClientOptions,
) -> Result<ClientConnection, ConnectError> {
    let server_name = server_name(url.host())?;
    let tcp = TcpStream::connect(url.authority())
        .await
        .map_err(|source| ConnectError::Connect {
            addr: url.authority(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    let remote_addr = tcp.peer_addr().ok();
    let tls = TlsConnector::from(options.tls.config())
        .connect(server_name, tcp)
        .await
        .map_err(ConnectError::Tls)?;
    let peer = PeerIdentity::from_connection(tls.get_ref().1)?;

    let handshake = ClientHandshake::new(options.extensions.clone());
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(ConnectError::Upgrade)?;
    handshake.apply(&mut request);
    let config = Some(options.limits.websocket_config());
    let (ws, response) = tokio_tungstenite::client_async_with_config(request, tls, config)
        .await
        .map_err(ConnectError::from_upgrade)?;
    let negotiated = handshake.check(&response)?;
    let info = ConnectionInfo::new(negotiated, peer, remote_addr);
    Ok(ClientConnection::start(ws, info, options, TokioRuntime))
}

/// The TLS server name for a host: SNI for a DNS name, none for an address.
fn server_name(host: &Host) -> Result<ServerName<'static>, ConnectError> {
    Ok(match host {
        Host::Ipv4(ip) => ServerName::IpAddress((*ip).into()),
        Host::Ipv6(ip) => ServerName::IpAddress((*ip).into()),
        Host::Domain(name) => {
            ServerName::try_from(name.clone()).map_err(|e| ConnectError::Resolve {
                host: name.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
            })?
        }
    })
}
