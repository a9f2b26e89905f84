//! Connects to a Mosaic server on tokio, then subscribes, submits, gets and queries.
//!
//! `cargo run -p mosaic-ws-tokio --example client -- --server-key mopub0…`

#[tokio::main]
async fn main() {
    let args = std::env::args().skip(1);
    mosaic_demo::programs::exit_on_error(
        mosaic_demo::programs::client(mosaic_ws_tokio::Tokio, args).await,
    );
}
