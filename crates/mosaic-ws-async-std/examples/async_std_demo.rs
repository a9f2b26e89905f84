//! Server and client in one process on loopback, on smol's executor (the
//! adapter runs on any futures-io executor).
//!
//! `cargo run -p mosaic-ws-async-std --example async_std_demo`

fn main() {
    let on_smol = mosaic_ws_async_std::AsyncStd::with_spawner(|task| smol::spawn(task).detach());
    mosaic_demo::programs::exit_on_error(smol::block_on(mosaic_demo::programs::demo(on_smol)));
}
