//! The `server` example of mosaic-ws-tokio, on async-std: same flags, same output.
//!
//! `cargo run -p mosaic-ws-async-std --example async_std_server -- --help`

fn main() {
    let served = async_std::task::block_on(mosaic_demo::programs::server(
        mosaic_ws_async_std::AsyncStd::default(),
        std::env::args().skip(1),
    ));
    mosaic_demo::programs::exit_on_error(served);
}
