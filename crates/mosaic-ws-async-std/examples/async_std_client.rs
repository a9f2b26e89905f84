//! The `client` example of mosaic-ws-tokio, on async-std: same flags, same output.
//!
//! `cargo run -p mosaic-ws-async-std --example async_std_client -- --server-key mopub0…`

fn main() {
    let exchange = mosaic_demo::programs::client(
        mosaic_ws_async_std::AsyncStd::default(),
        std::env::args().skip(1),
    );
    mosaic_demo::programs::exit_on_error(async_std::task::block_on(exchange));
}
