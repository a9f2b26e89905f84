#![doc = include_str!("../README.md")]

use std::time::Instant;

use async_io::Timer;
use futures_util::FutureExt as _;
use futures_util::future::Map;

pub use mosaic_ws::*;

/// Mosaic on a futures-io executor: async-std's by default, or any other
/// (smol's, for one) through [`AsyncStd::with_spawner`]. Sockets are
/// async-std's and timers async-io's, which run under any executor; TLS is
/// futures-rustls and WebSockets async-tungstenite.
#[derive(Clone, Copy, Debug)]
pub struct AsyncStd {
    spawner: fn(Task),
}

impl Default for AsyncStd {
    fn default() -> Self {
        AsyncStd::with_spawner(|task| drop(async_std::task::spawn(task)))
    }
}

impl AsyncStd {
    /// Spawns connection drivers with `spawner`, for instance
    /// `|task| smol::spawn(task).detach()`.
    pub fn with_spawner(spawner: fn(Task)) -> AsyncStd {
        AsyncStd { spawner }
    }
}

/// Ends a timer with `()`, as [`Runtime::Sleep`] wants.
fn elapsed(_: Instant) {}

impl Runtime for AsyncStd {
    type Sleep = Map<Timer, fn(Instant)>;

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        Timer::at(deadline).map(elapsed as fn(Instant))
    }

    fn spawn(&self, task: Task) {
        (self.spawner)(task);
    }
}

mosaic_ws::impl_transport!(AsyncStd, net: async_std::net, tls: futures_rustls, ws: async_tungstenite);

mosaic_ws::adapter_api!(AsyncStd, "async-std");
