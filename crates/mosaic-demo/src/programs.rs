//! The example programs, written once over any runtime's transport: each
//! adapter's server, client and demo examples call these (`server`,
//! `client`, `demo` on tokio; `async_std_server`, `async_std_client`,
//! `async_std_demo` on async-std).

use std::sync::Arc;
use std::time::Instant;

use mosaic_tls::{CertType, ClientTls, Identity, ServerTls, encode_mopub};
use mosaic_ws::{Accepted, ClientOptions, Server, ServerOptions, Transport};

use crate::script::{self, describe, describe_info};
use crate::{ClientArgs, MemoryStore, ServerArgs};

/// Prints `message` and exits with status 2 when `result` failed.
pub fn exit_on_error(result: Result<(), String>) {
    if let Err(message) = result {
        eprintln!("{message}");
        std::process::exit(2);
    }
}

/// Serves one accepted connection from `store`, logging it to stderr.
async fn serve_logged<N>(accepted: Accepted<N>, store: Arc<MemoryStore>) {
    match accepted {
        Accepted::Mosaic(connection) => {
            let remote = connection
                .info()
                .remote_addr()
                .map_or_else(|| "?".to_owned(), |addr| addr.to_string());
            let peer = describe(connection.info().peer_identity());
            eprintln!(
                "{remote}: connected as {peer} ({})",
                describe_info(connection.info())
            );
            let sender = connection.sender().clone();
            store.serve(connection).await;
            eprintln!("{remote}: {}", sender.closed().await);
        }
        Accepted::Nostr(nostr) => {
            let peer = *nostr.peer_identity();
            eprintln!(
                "nostr connection from {} (not served here)",
                describe(&peer)
            );
        }
    }
}

/// The `server` example: flags from `args`, then serve forever.
///
/// # Errors
/// A message for bad flags, an unusable key file or address.
pub async fn server<T: Transport>(
    transport: T,
    args: impl IntoIterator<Item = String>,
) -> Result<(), String> {
    let args = ServerArgs::parse(args)?;
    let identity = crate::args::load_or_generate(&args.key_file)?;
    let mopub = identity.mopub();
    let options = args.options(identity)?;
    let server = Server::bind_on(transport, &args.listen, options)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = server.local_addr().map_err(|e| e.to_string())?;
    println!("mosaic server {mopub} listening on wss://{addr}/");
    let store = MemoryStore::new(100_000, crate::store::full_validation());
    server
        .serve(
            move |accepted| serve_logged(accepted, store.clone()),
            |remote, error| eprintln!("{remote}: {error}"),
        )
        .await
        .map_err(|e| e.to_string())
}

/// The `client` example: flags from `args`, then the example exchange.
///
/// # Errors
/// A message for bad flags, a failed connection or request.
pub async fn client<T: Transport>(
    transport: T,
    args: impl IntoIterator<Item = String>,
) -> Result<(), String> {
    let args = ClientArgs::parse(args)?;
    let identity = args.identity()?;
    let author = match &identity {
        Some(identity) => identity.clone(),
        None => Identity::generate().map_err(|e| e.to_string())?,
    };
    let options = args.options(identity)?;
    let client = mosaic_ws::connect_on(transport, &args.url, &options)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", args.url))?;
    println!(
        "connected to {} ({})",
        args.url,
        describe(client.info().peer_identity())
    );
    println!("negotiated {}", describe_info(client.info()));
    script::run(&client, &author, &mut std::io::stdout())
        .await
        .map_err(|e| e.to_string())
}

/// The `demo` example: a server and a client in one process on loopback,
/// printing what they negotiate and every exchange with its timing.
///
/// # Errors
/// A message for whatever step failed.
pub async fn demo<T: Transport>(transport: T) -> Result<(), String> {
    let started = Instant::now();
    let server_identity = Identity::generate().map_err(|e| e.to_string())?;
    let client_identity = Identity::generate().map_err(|e| e.to_string())?;
    let server_key = server_identity.public_key();

    let tls = ServerTls::builder(server_identity)
        .build()
        .map_err(|e| e.to_string())?;
    let server = Server::bind_on(transport.clone(), "127.0.0.1:0", ServerOptions::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    let url = format!("wss://{}/", server.local_addr().map_err(|e| e.to_string())?);
    println!("server  {} listening on {url}", encode_mopub(&server_key));
    let store = MemoryStore::new(1_000, crate::store::full_validation());
    let serving = server.serve(
        move |accepted| serve_logged(accepted, store.clone()),
        |remote, error| eprintln!("server  refused {remote}: {error}"),
    );
    transport.spawn(Box::pin(async move {
        let _ = serving.await;
    }));

    let tls = ClientTls::builder(server_key)
        .identity(client_identity.clone(), CertType::X509)
        .build()
        .map_err(|e| e.to_string())?;
    let client = mosaic_ws::connect_on(transport, &url, &ClientOptions::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "client  connected in {:.1} ms: TCP, TLS 1.3 (ed25519, server key pinned), upgrade",
        started.elapsed().as_secs_f64() * 1000.0
    );
    println!(
        "client  server is {}",
        describe(client.info().peer_identity())
    );
    println!("client  I am {}", client_identity.mopub());
    println!("client  negotiated {}", describe_info(client.info()));
    script::run(&client, &client_identity, &mut std::io::stdout())
        .await
        .map_err(|e| e.to_string())?;
    client.close(mosaic_proto::CloseCode::NORMAL, "done");
    println!("client  {}", client.closed().await);
    Ok(())
}
