//! Connects to a Mosaic server, then subscribes, submits, gets and queries.
//!
//! `cargo run -p mosaic-ws-tokio --example client -- --server-key mopub0…`

use mosaic_demo::{ClientArgs, script};
use mosaic_tls::Identity;

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("{message}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let args = ClientArgs::parse(std::env::args().skip(1))?;
    let identity = args.identity()?;
    let author = match &identity {
        Some(identity) => identity.clone(),
        None => Identity::generate().map_err(|e| e.to_string())?,
    };
    let options = args.options(identity)?;
    let client = mosaic_ws_tokio::connect(&args.url, &options)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", args.url))?;
    println!(
        "connected to {} ({})",
        args.url,
        script::describe(client.info().peer_identity())
    );
    println!("negotiated {}", script::describe_info(client.info()));
    script::run(&client, &author, &mut std::io::stdout())
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}
