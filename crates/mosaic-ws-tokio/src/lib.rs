#![doc = include_str!("../README.md")]

use std::time::Instant;

pub use mosaic_ws::*;

/// Mosaic on the current tokio runtime: tokio's sockets, timer and spawner,
/// tokio-rustls and tokio-tungstenite.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    type Sleep = tokio::time::Sleep;

    // Measured on tokio, where the skipped run is a saving in instructions
    // and in latency (benches/HISTORY.md, "Stop 16").
    const SKIP_SERVED_WAKEUPS: bool = true;

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        tokio::time::sleep_until(deadline.into())
    }

    fn spawn(&self, task: Task) {
        tokio::spawn(task);
    }
}

mosaic_ws::impl_transport!(Tokio, net: tokio::net, tls: tokio_rustls, ws: tokio_tungstenite,
    write: tokio::io::AsyncWriteExt, read: tokio::io::AsyncReadExt,
    // tokio-rustls's shutdown sends the close_notify, then the FIN.
    close: tokio::io::AsyncWriteExt::shutdown);

mosaic_ws::adapter_api!(Tokio, "tokio");
