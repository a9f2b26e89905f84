#![doc = include_str!("../README.md")]

use std::sync::Arc;
use std::time::Instant;

use async_io::Timer;
use futures_util::FutureExt as _;
use futures_util::future::Map;

pub use mosaic_ws::*;

/// Mosaic on a futures-io executor: async-std's by default, or any other
/// (smol's, for one) through [`AsyncStd::with_spawner`]. Sockets are
/// async-std's and timers async-io's, which run under any executor; TLS is
/// futures-rustls and WebSockets async-tungstenite.
#[derive(Clone)]
pub struct AsyncStd {
    spawner: Arc<dyn Fn(Task) + Send + Sync>,
}

impl std::fmt::Debug for AsyncStd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncStd").finish_non_exhaustive()
    }
}

impl Default for AsyncStd {
    fn default() -> Self {
        AsyncStd::with_spawner(|task| drop(async_std::task::spawn(task)))
    }
}

impl AsyncStd {
    /// Spawns connection drivers with `spawner`, for instance
    /// `|task| smol::spawn(task).detach()`, or a closure holding a handle to
    /// one particular executor.
    pub fn with_spawner(spawner: impl Fn(Task) + Send + Sync + 'static) -> AsyncStd {
        AsyncStd {
            spawner: Arc::new(spawner),
        }
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

mosaic_ws::impl_transport!(AsyncStd, net: async_std::net, tls: futures_rustls, ws: async_tungstenite,
    write: futures_util::io::AsyncWriteExt, read: futures_util::io::AsyncReadExt,
    close: close_sending);

/// Ends a server TLS stream's sending side: futures-rustls's close sends the
/// close_notify, but on async-io sockets closing only flushes, so the TCP
/// write half is shut down here.
async fn close_sending(
    tls: &mut futures_rustls::server::TlsStream<Counted<async_std::net::TcpStream>>,
) -> std::io::Result<()> {
    futures_util::io::AsyncWriteExt::close(tls).await?;
    tls.get_ref()
        .0
        .get_ref()
        .shutdown(std::net::Shutdown::Write)
}

mosaic_ws::adapter_api!(AsyncStd, "async-std");

#[cfg(test)]
mod tests {
    use super::*;

    /// A spawner may hold a handle to the executor it spawns on.
    #[test]
    fn a_spawner_may_capture_its_executor() {
        let executor = Arc::new(smol::Executor::new());
        let on_it = {
            let executor = executor.clone();
            AsyncStd::with_spawner(move |task| executor.spawn(task).detach())
        };
        let (done, finished) = smol::channel::bounded(1);
        on_it.spawn(Box::pin(async move {
            let _ = done.try_send(());
        }));
        assert!(finished.try_recv().is_err(), "not run yet");
        assert!(executor.try_tick(), "the task was on that executor");
        assert!(finished.try_recv().is_ok(), "and ran there");
    }
}
