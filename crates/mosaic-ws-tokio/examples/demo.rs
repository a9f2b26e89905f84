//! A Mosaic server and client in one process on loopback, printing what they
//! negotiate and every exchange with its timing.
//!
//! `cargo run -p mosaic-ws-tokio --example demo`

use std::sync::Arc;
use std::time::Instant;

use mosaic_demo::script::{describe, describe_info};
use mosaic_demo::{MemoryStore, script};
use mosaic_tls::{CertType, ClientTls, Identity, ServerTls};
use mosaic_ws_tokio::{Accepted, ClientOptions, ServerOptions, connect};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let server_identity = Identity::generate()?;
    let client_identity = Identity::generate()?;
    let server_key = server_identity.public_key();

    let options = ServerOptions::new(ServerTls::builder(server_identity).build()?);
    let server = mosaic_ws_tokio::bind("127.0.0.1:0", options).await?;
    let url = format!("wss://{}/", server.local_addr()?);
    println!(
        "server  {} listening on {url}",
        mosaic_tls::encode_mopub(&server_key)
    );

    let store = MemoryStore::new(1_000, mosaic_demo::store::accept_structural());
    tokio::spawn(server.serve(
        move |accepted| {
            let store = store.clone();
            async move {
                if let Accepted::Mosaic(connection) = accepted {
                    println!(
                        "server  accepted {} ({})",
                        describe(connection.info().peer_identity()),
                        describe_info(connection.info())
                    );
                    Arc::clone(&store).serve(connection).await;
                }
            }
        },
        |remote, error| eprintln!("server  refused {remote}: {error}"),
    ));

    let tls = ClientTls::builder(server_key)
        .identity(client_identity.clone(), CertType::X509)
        .build()?;
    let client = connect(&url, &ClientOptions::new(tls)).await?;
    println!(
        "client  connected in {:.1} ms: TCP, TLS 1.3 (ed25519, key pinned), upgrade",
        started.elapsed().as_secs_f64() * 1000.0
    );
    println!(
        "client  server is {}",
        describe(client.info().peer_identity())
    );
    println!("client  I am {}", client_identity.mopub());
    println!("client  negotiated {}", describe_info(client.info()));

    script::run(&client, &client_identity, &mut std::io::stdout()).await?;

    client.close(mosaic_ws_tokio::mosaic_proto::CloseCode::NORMAL, "done");
    let closed = client.closed().await;
    println!("client  {closed}");
    Ok(())
}
