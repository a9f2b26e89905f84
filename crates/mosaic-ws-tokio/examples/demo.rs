//! A Mosaic server and client in one process on loopback, on tokio, printing
//! what they negotiate and every exchange with its timing.
//!
//! `cargo run -p mosaic-ws-tokio --example demo`

#[tokio::main]
async fn main() {
    mosaic_demo::programs::exit_on_error(mosaic_demo::programs::demo(mosaic_ws_tokio::Tokio).await);
}
