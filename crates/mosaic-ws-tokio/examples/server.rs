//! A small Mosaic server on an in-memory store.
//!
//! `cargo run -p mosaic-ws-tokio --example server -- --help`

use std::sync::Arc;

use mosaic_demo::{MemoryStore, ServerArgs, args::load_or_generate, script::describe};
use mosaic_ws_tokio::Accepted;

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("{message}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let args = ServerArgs::parse(std::env::args().skip(1))?;
    let identity = load_or_generate(&args.key_file)?;
    let mopub = identity.mopub();
    let options = args.options(identity)?;
    let server = mosaic_ws_tokio::bind(&args.listen, options)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = server.local_addr().map_err(|e| e.to_string())?;
    println!("mosaic server {mopub} listening on wss://{addr}/");
    let store = MemoryStore::new(100_000, mosaic_demo::store::accept_structural());
    server
        .serve(
            move |accepted| {
                let store = store.clone();
                async move {
                    match accepted {
                        Accepted::Mosaic(connection) => {
                            let peer = describe(connection.info().peer_identity());
                            let remote = connection.info().remote_addr();
                            eprintln!("{remote:?}: connected as {peer}");
                            let sender = connection.sender().clone();
                            Arc::clone(&store).serve(connection).await;
                            eprintln!("{remote:?}: {}", sender.closed().await);
                        }
                        Accepted::Nostr(_, peer) => {
                            eprintln!(
                                "nostr connection from {} (not served here)",
                                describe(&peer)
                            );
                        }
                    }
                }
            },
            |remote, error| eprintln!("{remote}: {error}"),
        )
        .await
        .map_err(|e| e.to_string())
}
