//! A small Mosaic server on an in-memory store, on tokio.
//!
//! `cargo run -p mosaic-ws-tokio --example server -- --help`

#[tokio::main]
async fn main() {
    let args = std::env::args().skip(1);
    mosaic_demo::programs::exit_on_error(
        mosaic_demo::programs::server(mosaic_ws_tokio::Tokio, args).await,
    );
}
